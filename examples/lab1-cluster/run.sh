#!/usr/bin/env bash
# Lab 1: a 3-node cluster from kind's config (the default CNI disabled: tulle's own CNI
# and datapath are the cluster's network), `web` x3, exposed, curled from a debug pod.
. "$(dirname "$0")/../lab.sh"

lab_cluster lab1 --config "$MANIFESTS/17-lab1-cluster-unnamed.yaml"
step tulle get nodes -o wide
step tulle create deployment web --image=nginx --replicas=3
step tulle expose deployment web --port=80
wait_rollout web
step tulle get pods -o wide
step tulle get service web
# `kubectl run -it --rm debug --image=curlimages/curl -- sh` then `curl http://web`,
# run as one command; each run reaches one replica through the service's ClusterIP.
for i in 1 2 3 4 5 6; do
  step tulle run "debug-$i" --image=curlimages/curl --rm -it --restart=Never -- curl -s http://web
done
# Hubble's view of those curls: `hubble observe --namespace default --verdict FORWARDED`.
step tulle observe --namespace default --verdict FORWARDED --protocol tcp --port 80 --last 12
echo
echo "Each answer names the replica that served it (pod=...) and the client's own pod address"
echo "(client=...): no NAT between pods, across nodes, through the ClusterIP."
