#!/usr/bin/env bash
# Lab 2: a canary. api-v1 x3 and api-v2 x1 (hashicorp/http-echo), the Services the
# TrafficSplit names, and the chapter's 90/10 TrafficSplit.
. "$(dirname "$0")/../lab.sh"

lab_cluster lab2 --nodes 3
step tulle create deployment api-v1 --image=hashicorp/http-echo --replicas=3
step tulle set env deployment/api-v1 ECHO_TEXT="API v1"
step tulle expose deployment api-v1 --port=5678 --name=api-service
step tulle create deployment api-v2 --image=hashicorp/http-echo --replicas=1
step tulle set env deployment/api-v2 ECHO_TEXT="API v2 - New Feature"
# The chapter never creates the Services its TrafficSplit names as backends; without
# them a split has nothing to send to. Created here, one per version:
step tulle expose deployment api-v1 --port=5678 --name=api-v1
step tulle expose deployment api-v2 --port=5678 --name=api-v2
step tulle apply -f "$MANIFESTS/18-lab2-trafficsplit-api-rollout.yaml"
wait_rollout api-v1
wait_rollout api-v2
step tulle get deployments,services,trafficsplits
for i in $(seq 1 10); do
  step tulle run "curl-$i" --image=curlimages/curl --rm -it --restart=Never -- curl -s http://api-service:5678
done
echo
echo "Today every answer is \"API v1\": api-service selects api-v1's pods, and applying the"
echo "90/10 split to a client's requests is the mesh's job (issue 18). curl http://api-v2:5678"
echo "reaches the canary directly:"
step tulle run curl-v2 --image=curlimages/curl --rm -it --restart=Never -- curl -s http://api-v2:5678
