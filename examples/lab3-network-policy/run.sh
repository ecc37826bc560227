#!/usr/bin/env bash
# Lab 3: a three-tier app (frontend, backend, database on 5432) in secure-app, a default
# deny, and allow rules frontend->backend:80, backend->database:5432 and DNS for all.
. "$(dirname "$0")/../lab.sh"

lab_cluster lab3 --nodes 3
step tulle create namespace secure-app
for app in frontend:nginx:80 backend:nginx:80 database:postgres:5432; do
  IFS=: read -r name image port <<<"$app"
  step tulle create deployment "$name" --image="$image" -n secure-app
  # The chapter's command: it labels the Deployment object, not its pods ...
  step tulle label deployment "$name" app="$name" tier="$name" -n secure-app --overwrite
  # ... so the policies' `tier:` selectors would match no pod (as on Kubernetes). The
  # label belongs in the pod template:
  step tulle patch deployment "$name" -n secure-app -p "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"tier\":\"$name\"}}}}}"
  step tulle expose deployment "$name" --port="$port" -n secure-app
done
for f in 19 20 21 22; do step tulle apply -f "$(ls "$MANIFESTS"/$f-*.yaml)"; done
# The chapter's default-deny isolates egress too and it allows only DNS egress, so with
# its four policies alone frontend -> backend is denied at the frontend (trace it below).
# The two egress allows the lab leaves out:
step tulle apply -f "$(dirname "$0")/egress-allows.yaml"
for app in frontend backend database; do wait_rollout "$app" -n secure-app; done
step tulle get pods,services,networkpolicies -n secure-app -o wide

pod() { tulle get pods -n secure-app -l "app=$1" -o name | head -1 | cut -d/ -f2; }
FRONTEND=$(pod frontend) BACKEND=$(pod backend) DATABASE=$(pod database)
# The chapter's test: frontend -> backend succeeds, frontend -> database is blocked.
step_retry tulle exec -n secure-app deployment/frontend -- curl -s -m 3 http://backend
step tulle exec -n secure-app deployment/frontend -- curl -s -m 3 http://database:5432 || echo "(blocked: curl exit $?)"
step tulle exec -n secure-app deployment/backend -- timeout 3 bash -c 'exec 3<>/dev/tcp/database/5432 && echo "connected to database:5432"'
step tulle exec -n secure-app deployment/database -- nslookup backend.secure-app.svc.cluster.local
step tulle observe --namespace secure-app --verdict DROPPED --last 5
# --live: each side's node also says what its eBPF maps decide, and whether that agrees.
step tulle policy trace --live --from "secure-app/$FRONTEND" --to "secure-app/$BACKEND" --port 80/TCP
step tulle policy trace --live --from "secure-app/$FRONTEND" --to "secure-app/$DATABASE" --port 5432/TCP
step tulle policy trace --live --from "secure-app/$BACKEND" --to "secure-app/$DATABASE" --port 5432/TCP
step tulle policy matrix -n secure-app --port 80/TCP --port 5432/TCP
# Without the egress allows, as the chapter has it:
step tulle delete -f "$(dirname "$0")/egress-allows.yaml"
step tulle policy trace --from "secure-app/$FRONTEND" --to "secure-app/$BACKEND" --port 80/TCP
sleep 0.5
step tulle exec -n secure-app deployment/frontend -- curl -s -m 3 http://backend || echo "(blocked: curl exit $?)"
step tulle observe --namespace secure-app --verdict DROPPED --to-pod secure-app/backend --last 3
