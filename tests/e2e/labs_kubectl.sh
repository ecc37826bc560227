# The seed's labs 1-3 with the stock kubectl (only KUBECONFIG set), command for command,
# minus what downloads from the internet or needs the linkerd CLI. Outcomes that need
# the datapath are asserted (services, DNS, policy enforcement); the mesh's traffic split
# is a later issue, so lab 2 checks the objects and that the commands run.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP labs_kubectl: needs root for network namespaces"; exit 0; }
command -v kubectl >/dev/null || { echo "SKIP labs_kubectl: no kubectl on this machine"; exit 0; }
C=l$$
with_cluster "$C"
k() { kubectl "$@"; }
wait_deploy() { # [-n NS] NAME: until its rollout is complete (every pod of the current template, ready)
  kubectl rollout status deployment "$@" --timeout=30s >/dev/null 2>&1
}

check "lab 1: a 3-node cluster (kind config, seed manifest 17)" \
  bash -c "timeout 120 '$TULLE' cluster create --name $C --config '$MANIFESTS/17-lab1-cluster-unnamed.yaml' >/dev/null && [ \$(kubectl get nodes --no-headers | grep -c ' Ready ') = 3 ]"
check "lab 1: kubectl create deployment web --image=nginx --replicas=3" \
  bash -c "kubectl create deployment web --image=nginx --replicas=3 | grep -qx 'deployment.apps/web created'"
check "lab 1: kubectl expose deployment web --port=80" bash -c "kubectl expose deployment web --port=80 | grep -qx 'service/web exposed'"
wait_deploy web
# Runs until all three pods have answered (each run picks one at random: 12 fixed runs
# would miss one in ~3% of test runs), at most 30.
: >"$WORK/seen"
for i in $(seq 1 30); do
  timeout 30 kubectl run -it --rm "debug-$i" --image=curlimages/curl --restart=Never -- curl -s -m 3 http://web </dev/null 2>/dev/null |
    grep -o '^pod=web-[a-z0-9-]*' >>"$WORK/seen"
  [ "$(sort -u "$WORK/seen" | wc -l)" = 3 ] && break
done
check "lab 1: kubectl run -it --rm debug --image=curlimages/curl -- curl http://web reaches all three pods (within 30 runs)" \
  test "$(sort -u "$WORK/seen" | wc -l)" = 3

# Lab 2 (the linkerd steps are left out).
k create deployment api-v1 --image=hashicorp/http-echo --replicas=3 >/dev/null
check "lab 2: kubectl set env deployment/api-v1 ECHO_TEXT=\"API v1\"" \
  bash -c "kubectl set env deployment/api-v1 ECHO_TEXT='API v1' | grep -q 'env updated'"
check "lab 2: kubectl expose deployment api-v1 --port=5678 --name=api-service" \
  bash -c "kubectl expose deployment api-v1 --port=5678 --name=api-service | grep -qx 'service/api-service exposed'"
k create deployment api-v2 --image=hashicorp/http-echo --replicas=1 >/dev/null
k set env deployment/api-v2 ECHO_TEXT="API v2 - New Feature" >/dev/null
# The lab runs this once the rollout is done; while the controller is still writing the
# status, the resourceVersion in the piped YAML can be stale (a 409, as in Kubernetes).
wait_deploy api-v2
check "lab 2: kubectl get deployment api-v2 -o yaml | kubectl apply -f - (what linkerd inject feeds)" \
  bash -c "kubectl get deployment api-v2 -o yaml | kubectl apply -f - 2>&1 | grep -q 'deployment.apps/api-v2 \\(configured\\|unchanged\\)'"
check "lab 2: the TrafficSplit applies from a here-document" \
  bash -c "kubectl apply -f - <<EOF | grep -qx 'trafficsplit.split.smi-spec.io/api-rollout created'
\$(cat '$MANIFESTS/18-lab2-trafficsplit-api-rollout.yaml')
EOF"
wait_deploy api-v1
sleep 1.5
v1=$(for i in 1 2 3; do timeout 30 kubectl run -it --rm "curl-$i" --image=curlimages/curl --restart=Never -- curl -s -m 3 http://api-service:5678 </dev/null 2>/dev/null; done | grep -c '^API v1$')
check "lab 2: curl http://api-service:5678 from kubectl run answers API v1 (the split itself is the mesh's, #8)" test "$v1" = 3

# Lab 3.
check "lab 3: kubectl create namespace secure-app" bash -c "kubectl create namespace secure-app | grep -qx 'namespace/secure-app created'"
ok=1
for app in frontend:nginx:80 backend:nginx:80 database:postgres:5432; do
  IFS=: read -r name image port <<<"$app"
  k create deployment "$name" --image="$image" -n secure-app >/dev/null || ok=0
  k label deployment "$name" app="$name" tier="$name" -n secure-app --overwrite >/dev/null 2>&1 || ok=0
  k expose deployment "$name" --port="$port" -n secure-app >/dev/null || ok=0
done
check "lab 3: create, label and expose frontend, backend and database" test "$ok" = 1
check "lab 3: ... and kubectl prints the server's warning that the pods lack the label" \
  bash -c "kubectl label deployment frontend tier=frontend -n secure-app --overwrite 2>&1 >/dev/null | grep -q '^Warning: metadata.labels.tier: the Deployment has this label but its pods'"
check "lab 3: kubectl label deployment labels the Deployment, not its pods (as in Kubernetes)" \
  bash -c "[ \"\$(kubectl get deployment frontend -n secure-app -o jsonpath='{.metadata.labels.tier}')\" = frontend ] && [ -z \"\$(kubectl get pods -n secure-app -l tier=frontend -o name)\" ]"
ok=1
for f in 19 20 21 22; do k apply -f - <"$(ls "$MANIFESTS"/$f-*.yaml)" >/dev/null || ok=0; done
check "lab 3: the four NetworkPolicies apply" bash -c "[ $ok = 1 ] && [ \$(kubectl get networkpolicies -n secure-app --no-headers | wc -l) = 4 ]"
wait_deploy frontend -n secure-app
wait_deploy backend -n secure-app
# The chapter's four policies enforced: its default-deny isolates egress too, and the
# pods lack the tier labels (the Deployment got them), so frontend -> backend is denied.
check "lab 3: kubectl exec -it -n secure-app deployment/frontend -- curl http://backend is blocked by the chapter's policies (curl exit 28)" \
  bash -c "kubectl exec -it -n secure-app deployment/frontend -- curl -s -m 2 http://backend </dev/null >/dev/null 2>&1; [ \$? = 28 ]"
# The labels where the policies look for them, and the egress allows the lab leaves out.
for name in frontend backend database; do
  k patch deployment "$name" -n secure-app -p "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"tier\":\"$name\"}}}}}" >/dev/null
done
k apply -f "$ROOT/examples/lab3-network-policy/egress-allows.yaml" >/dev/null
wait_deploy frontend -n secure-app
wait_deploy backend -n secure-app
# The backend Service and the new pods reach the nodes' maps within the agents' next sync.
for _ in $(seq 1 20); do kubectl exec -n secure-app deployment/frontend -- curl -s -m 2 -o /dev/null http://backend 2>/dev/null && break; sleep 0.5; done
check "lab 3: with the pods labelled and the egress allows, kubectl exec -it deployment/frontend -- curl http://backend answers" \
  bash -c "kubectl exec -it -n secure-app deployment/frontend -- curl -s -m 3 http://backend </dev/null 2>/dev/null | grep -q '^pod=backend-'"
check "lab 3: ... and frontend -> database:5432 stays blocked" \
  bash -c "kubectl exec -n secure-app deployment/frontend -- curl -s -m 2 http://database:5432 >/dev/null 2>&1; [ \$? = 28 ]"
