#!/usr/bin/env bash
# The README's first command: starts an API server on a temporary state directory,
# applies every manifest of the seed, shows what the API made of them (allocated
# ClusterIPs and NodePorts, defaults), shows a bad manifest being refused, and stops.
# The local multi-node cluster joins this demo when `tulle cluster` lands.
set -euo pipefail
cd "$(dirname "$0")/.."
TULLE=${TULLE:-build/bin/tulle}
SEED=${TULLE_SEED:-../shared/seed/manifests}
STATE=$(mktemp -d /tmp/tulle-demo.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$STATE" "$STATE.log"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

"$TULLE" server --state "$STATE" 2>"$STATE.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -S "$STATE/api.sock" ] && break; sleep 0.05; done
export TULLE_SERVER="unix://$STATE/api.sock"
echo "tulle API server running on $TULLE_SERVER (state in $STATE)"

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
say "$TULLE apply -f <every seed manifest but 17, kind's cluster config>"
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
echo "Done. Run 'make test' for the test suite."
