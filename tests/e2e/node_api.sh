# exec, attach and logs go through the node that runs the pod, as the kubelet serves
# them: each agent starts a node API (tulle server --node-api) and publishes it on its
# Node; the API server only relays. Stopping a node's API breaks exactly that node's
# pods' logs (with a message naming the node) until the agent restarts it.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP node_api: needs root for network namespaces"; exit 0; }
C=na$$
with_cluster "$C"
t() { "$TULLE" "$@"; }
check "a 2-node cluster" bash -c "timeout 90 '$TULLE' cluster create --name $C --nodes 2 >/dev/null"
check "every Node publishes its node API (annotation tulle.io/node-api)" \
  bash -c "[ \$('$TULLE' get nodes -o json | grep -c '\"tulle.io/node-api\": \"unix://') = 2 ]"
t apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  nodeName: $C-worker
  containers: [{name: c, image: busybox, command: [sh, -c, "echo one; echo two; sleep 600"]}]
YAML
for _ in $(seq 1 40); do t get pod talker --no-headers 2>/dev/null | grep -q Running && break; sleep 0.25; done
sock=$(t get node "$C-worker" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["annotations"]["tulle.io/node-api"][7:])')
api=$(head -1 "$TULLE_HOME/clusters/$C/server/server.url"); api=${api#unix://}
check "the node API answers pods/log itself (curl on its socket)" \
  bash -c "curl -sf --unix-socket '$sock' http://x/api/v1/namespaces/default/pods/talker/log | grep -qx two"
check "... and the API server relays it (curl; tailLines=1 is the last line)" \
  bash -c "[ \"\$(curl -sf --unix-socket '$api' 'http://x/api/v1/namespaces/default/pods/talker/log?tailLines=1')\" = two ]"
check "tulle logs goes through the API" bash -c "'$TULLE' logs talker | tr '\n' ' ' | grep -qx 'one two '"
check "tulle exec runs in the pod through the API (WebSocket)" bash -c "'$TULLE' exec talker -- hostname | grep -qx talker"
check "... returns the command's exit code and passes stdin with -i" \
  bash -c "'$TULLE' exec talker -- sh -c 'exit 4'; [ \$? = 4 ] && [ \"\$(echo hi | '$TULLE' exec -i talker -- cat)\" = hi ]"
# Stop the worker's node API: its pods' logs fail, naming the node; the agent restarts it.
napid=$(ps -eo pid,args | awk -v s="$sock" '$0 ~ "--node-api" && $0 ~ s {print $1}' | head -1)
kill "$napid" 2>/dev/null
out=$(curl -s --unix-socket "$api" http://x/api/v1/namespaces/default/pods/talker/log)
check "with that node's API down, the API server says which node cannot be reached (502)" \
  bash -c "grep -q 'node API of node $C-worker' <<<'$out' && grep -q '\"code\":502' <<<'$out'"
ok=1
for _ in $(seq 1 40); do curl -sf --unix-socket "$api" http://x/api/v1/namespaces/default/pods/talker/log | grep -qx two && { ok=0; break; }; sleep 0.25; done
check "the agent restarts its node API within seconds" test "$ok" = 0
if command -v kubectl >/dev/null; then
  check "kubectl logs and kubectl exec (WebSocket, exit code) through the relay" \
    bash -c "kubectl logs talker | grep -qx one && kubectl exec talker -- sh -c 'exit 7'; [ \$? = 7 ]"
fi
