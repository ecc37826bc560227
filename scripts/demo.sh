#!/usr/bin/env bash
# The README's first command. Part 1: a local 3-node cluster (network namespaces on
# this host), lab 1's `web` deployment with 3 replicas, a client pod curling every
# replica across nodes, then a NetworkPolicy the kernel enforces and its dropped flow. Part 2: every manifest of the chapter (examples/manifests) through the API, with the
# defaults and allocations it fills in, and a bad manifest refused. Everything is
# removed at the end unless DEMO_KEEP=1 (then: tulle cluster delete --name demo).
set -euo pipefail
cd "$(dirname "$0")/.."
TULLE=${TULLE:-build/bin/tulle}
SEED=${TULLE_MANIFESTS:-examples/manifests}
STATE=$(mktemp -d /tmp/tulle-demo.XXXXXX)
SERVER_PID=
CLUSTER=${DEMO_CLUSTER:-demo}
export TULLE_HOME=${TULLE_HOME:-$STATE/home}
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ "${DEMO_KEEP:-0}" = 1 ] || "$TULLE" cluster delete --name "$CLUSTER" >/dev/null 2>&1
  [ "${DEMO_KEEP:-0}" = 1 ] || rm -rf "$STATE" "$STATE.log"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

if [ "$(id -u)" = 0 ]; then
  echo "== Part 1: a local cluster"
  run "$TULLE" cluster create --name "$CLUSTER" --nodes 3
  run "$TULLE" get nodes -o wide
  run "$TULLE" create deployment web --image=nginx --replicas=3
  for _ in $(seq 1 60); do
    [ "$("$TULLE" get pods --no-headers | grep -c ' Running ')" = 3 ] && break
    sleep 0.25
  done
  run "$TULLE" get pods -o wide
  run "$TULLE" expose deployment web --port=80
  for ip in $("$TULLE" get pods -o json | python3 -c 'import json,sys; print(" ".join(p["status"]["podIP"] for p in json.load(sys.stdin)["items"]))'); do
    run "$TULLE" run "client-${ip//./-}" --image=curlimages/curl --rm -it -- curl -s "http://$ip/"
  done
  echo "(each answer names the replica that served it and the client's own pod address: no NAT, across nodes)"

  echo
  echo "== Network policy, enforced in each node's kernel (eBPF), and its flows"
  cat >"$STATE/web-policy.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-clients
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - podSelector:
        matchLabels: {role: client}
    ports:
    - {port: 80}
YAML
  run "$TULLE" apply -f "$STATE/web-policy.yaml"
  run "$TULLE" run allowed --image=curlimages/curl --labels=role=client --rm -it -- curl -s -m 2 http://web/
  run "$TULLE" run stranger --image=curlimages/curl --rm -it -- curl -s -m 2 http://web/ || echo "(blocked: curl exit $?)"
  run "$TULLE" observe --verdict DROPPED --last 2
else
  echo "== Part 1 (the local cluster) needs root for network namespaces; skipped"
fi

echo
echo "== Part 2: the chapter's manifests (examples/manifests) through the API"

"$TULLE" server --state "$STATE/api" 2>"$STATE.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -S "$STATE/api/api.sock" ] && break; sleep 0.05; done
export TULLE_SERVER="unix://$STATE/api/api.sock"
echo "a separate API server on $TULLE_SERVER (state in $STATE/api)"

cat >"$STATE/namespaces.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: production
---
apiVersion: v1
kind: Namespace
metadata:
  name: secure-app
YAML
run "$TULLE" apply -f "$STATE/namespaces.yaml"
files=()
for f in "$SEED"/*.yaml; do case $f in *17-lab1-cluster*) ;; *) files+=(-f "$f") ;; esac; done
say "$TULLE apply -f <every manifest in examples/manifests but 17, kind's cluster config>"
"$TULLE" apply "${files[@]}"
run "$TULLE" get services
run "$TULLE" get networkpolicies -A
run "$TULLE" get ingresses,gateways,httproutes,trafficsplits -A
run "$TULLE" get globalnetworkpolicies,ciliumnetworkpolicies,clusterissuers -A
run "$TULLE" get service web-service -o yaml

cat >"$STATE/bad.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: broken
spec:
  type: NodePort
  ports:
  - port: 80
    nodePort: 80
YAML
say "$TULLE apply -f bad.yaml   # a NodePort outside 30000-32767"
"$TULLE" apply -f "$STATE/bad.yaml" || echo "(refused as expected; nothing was written)"
echo
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  echo "Done. The cluster \"$CLUSTER\" keeps running (TULLE_HOME=$TULLE_HOME); remove it with:"
  echo "  TULLE_HOME=$TULLE_HOME $TULLE cluster delete --name $CLUSTER"
else
  echo "Done (cluster removed; DEMO_KEEP=1 keeps it). Run 'make test' for the test suite."
fi
