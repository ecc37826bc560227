# kubectl's verbs as the seed's labs use them, with `tulle` in kubectl's place, on a
# local 2-node cluster: create namespace/deployment, expose, scale, label, annotate,
# set env, rollout restart, patch, run --rm -it, exec deployment/NAME, logs.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP verbs: needs root for network namespaces"; exit 0; }
C=v$$
with_cluster "$C"
t() { "$TULLE" "$@"; }
running() { t get pods -n "${2:-default}" --no-headers 2>/dev/null | grep -c " Running "; }
# Waits until 4 pods run and none of them is among $old; leaves them in $new.
wait_replaced() {
  for _ in $(seq 1 80); do
    new=$(t get pods --no-headers | grep ' Running ' | awk '{print $1}' | sort | tr '\n' ' ')
    [ "$(wc -w <<<"$new")" = 4 ] && [ -z "$(comm -12 <(tr ' ' '\n' <<<"$old" | sort) <(tr ' ' '\n' <<<"$new" | sort) | grep .)" ] && return
    sleep 0.25
  done
}
wait_running() { for _ in $(seq 1 80); do [ "$(running "$1" "${2:-default}")" -ge "$1" ] && return 0; sleep 0.25; done; return 1; }

check "cluster create --config with lab 1's kind config" \
  bash -c "timeout 90 '$TULLE' cluster create --name $C --config '$MANIFESTS/17-lab1-cluster-unnamed.yaml' | grep -q '3 nodes Ready'"
check "create namespace" bash -c "'$TULLE' create namespace secure-app | grep -qx 'namespace/secure-app created'"
check "create deployment --replicas=3" bash -c "'$TULLE' create deployment web --image=nginx --replicas=3 | grep -qx 'deployment.apps/web created'"
check "the deployment's three pods run" wait_running 3
check "get deploy shows 3/3 READY" bash -c "for i in \$(seq 1 20); do '$TULLE' get deploy web --no-headers | grep -q '^web *3/3 *3 *3' && exit 0; sleep 0.25; done; exit 1"
check "pods are named after the deployment and template hash" \
  bash -c "'$TULLE' get pods --no-headers | awk '{print \$1}' | grep -Eq '^web-[a-z0-9]{10}-[a-z0-9]{5}$'"
check "expose deployment --port=80" bash -c "'$TULLE' expose deployment web --port=80 | grep -qx 'service/web exposed'"
check "the Service selects the deployment's pods" \
  test "$(t get svc web -o json | jget '["spec"]["selector"]["app"]')" = web
eps() { t get endpointslices -l kubernetes.io/service-name=web -o json | jget '["items"][0]["endpoints"].__len__()' 2>/dev/null; }
for _ in $(seq 1 40); do [ "$(eps)" = 3 ] && break; sleep 0.25; done
check "the Service gets an EndpointSlice with the three pods" test "$(eps)" = 3
slice_view=$(t get endpointslices -l kubernetes.io/service-name=web -o json | python3 -c '
import json,sys; s=json.load(sys.stdin)["items"][0]
print(s["ports"][0]["port"], sorted(e["addresses"][0] for e in s["endpoints"]))')
pods_view=$(t get pods -l app=web -o json | python3 -c '
import json,sys; print(80, sorted(p["status"]["podIP"] for p in json.load(sys.stdin)["items"]))')
check "... whose addresses are the pods' and port is 80" test "$slice_view" = "$pods_view"
check "scale --replicas=4" bash -c "'$TULLE' scale deployment web --replicas=4 | grep -qx 'deployment.apps/web scaled'"
check "a fourth pod runs" wait_running 4
for _ in $(seq 1 40); do [ "$(eps)" = 4 ] && break; sleep 0.25; done
check "... and joins the EndpointSlice" test "$(eps)" = 4
check "label" bash -c "'$TULLE' label deployment web app.kubernetes.io/part-of=lab1 | grep -qx 'deployment.apps/web labeled'"
check "annotate" bash -c "'$TULLE' annotate deployment web owner=team-a | grep -qx 'deployment.apps/web annotated'"
check "label without --overwrite refuses to change a value" bash -c "! '$TULLE' label deployment web app=other 2>/dev/null"
out=$(t get deploy web -o json)
check "labels and annotations are set" \
  test "$(jget '["metadata"]["labels"]["app.kubernetes.io/part-of"]+"/"+d["metadata"]["annotations"]["owner"]' <<<"$out")" = lab1/team-a
old=$(t get pods --no-headers | awk '{print $1}' | sort | tr '\n' ' ')
check "set env replaces the pods with the new template" bash -c "'$TULLE' set env deployment/web GREETING=hello | grep -q 'env updated'"
wait_replaced
check "... four new pods run" test "$(wc -w <<<"$new")" = 4
pod=$(t get pods -o json | jget '["items"][0]')
uid=$(python3 -c "import ast,sys; print(ast.literal_eval(sys.argv[1])['metadata']['uid'])" "$pod")
node=$(python3 -c "import ast,sys; print(ast.literal_eval(sys.argv[1])['spec']['nodeName'])" "$pod")
pid=$(sed -n 5p "$TULLE_HOME/clusters/$C/nodes/$node/pods/$uid" 2>/dev/null)
check "... whose process carries the variable" bash -c "tr '\0' '\n' </proc/$pid/environ | grep -qx GREETING=hello"
old=$new
check "rollout restart" bash -c "'$TULLE' rollout restart deployment web | grep -qx 'deployment.apps/web restarted'"
wait_replaced
check "... replaces every pod" test "$(wc -w <<<"$new")" = 4
check "patch (merge) sets replicas" bash -c "'$TULLE' patch deployment web -p '{\"spec\":{\"replicas\":2}}' | grep -qx 'deployment.apps/web patched'"
for _ in $(seq 1 40); do [ "$(t get pods --no-headers | wc -l)" = 2 ] && break; sleep 0.25; done
check "... and the controller scales down" test "$(t get pods --no-headers | wc -l)" = 2
ip=$(t get pods -o json | jget '["items"][0]["status"]["podIP"]')
name=$(t get pods -o json | jget '["items"][0]["metadata"]["name"]')
out=$(t run debug --image=curlimages/curl --rm -it -- curl -s -m 3 "http://$ip/"); rc=$?
check "run --rm -it runs the command in a pod and prints its output" grep -q "pod=$name client=" <<<"$out"
check "... returns the command's exit code" test "$rc" = 0
check "... and removes the pod" bash -c "! '$TULLE' get pod debug >/dev/null 2>&1"
t run debug2 --image=curlimages/curl --rm -it -- sh -c 'exit 3' >/dev/null; rc=$?
check "run --rm -it passes a failing exit code through" test "$rc" = 3
check "exec runs with the pod's own hostname" test "$(t exec "$name" -- hostname)" = "$name"
check "exec deployment/NAME runs in one of its pods" bash -c "'$TULLE' exec deployment/web -- ip -4 -o addr show eth0 | grep -q 'inet 10.244.'"
t run hello --image=busybox -- sh -c 'echo hello from the pod; sleep 3600' >/dev/null
for _ in $(seq 1 40); do t logs hello 2>/dev/null | grep -q 'hello from the pod' && break; sleep 0.25; done
check "logs prints a pod's output" bash -c "'$TULLE' logs hello | grep -qx 'hello from the pod'"
check "a deployment in another namespace" bash -c "'$TULLE' create deployment api -n secure-app --image=nginx --replicas=1 >/dev/null"
check "... runs there" wait_running 1 secure-app
check "rollout restart without a name restarts every deployment of the namespace" \
  bash -c "'$TULLE' rollout restart deployment -n secure-app | grep -qx 'deployment.apps/api restarted'"
check "annotate and label a namespace, as the mesh labs do" \
  bash -c "'$TULLE' annotate namespace secure-app linkerd.io/inject=enabled >/dev/null && '$TULLE' label namespace secure-app istio.io/dataplane-mode=ambient >/dev/null && '$TULLE' get ns secure-app -o json | grep -q dataplane-mode"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s, labels: {gone: "%s"}}\n---\n' \
  keep-a secure-app no drop-b secure-app yes other default no | "$TULLE" apply -f - >/dev/null
check "delete -l deletes only what the selector matches" \
  bash -c "'$TULLE' delete configmap -l gone=yes -n secure-app | grep -qx 'configmap \"drop-b\" deleted' && '$TULLE' get configmap keep-a -n secure-app >/dev/null"
check "delete --all deletes every object of the kind in the namespace, and only there" \
  bash -c "'$TULLE' delete configmaps --all -n secure-app >/dev/null && [ -z \"\$('$TULLE' get configmaps -n secure-app --no-headers 2>/dev/null)\" ] && '$TULLE' get configmap other -n default >/dev/null"
check "deleting the deployment deletes its pods" bash -c "'$TULLE' delete deployment web >/dev/null && for i in \$(seq 1 40); do [ \"\$('$TULLE' get pods -l app=web --no-headers 2>/dev/null | wc -l)\" = 0 ] && exit 0; sleep 0.25; done; exit 1"
check "cluster delete leaves nothing" bash -c "'$TULLE' cluster delete --name $C >/dev/null && ! ip netns list | grep -q '^tl-$C-'"
