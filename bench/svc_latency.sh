#!/usr/bin/env bash
# Event-to-map latency of the service datapath at SERVICES (1,000) services: a local
# 1-node cluster, SERVICES Services loaded, then ROUNDS (200) Services created and
# deleted one at a time, each timed from the API write to its frontend appearing in
# (and leaving) the node's eBPF map (bench/svc_latency.c). The peer in the same run:
# etcd's own write->watch-event latency (bench/api_bench.c --fanout-only), the floor
# any Kubernetes control plane's watch sits on. Goal: p99 < 50 ms. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SERVICES=${SERVICES:-1000} ROUNDS=${ROUNDS:-200}
[ "$(id -u)" = 0 ] || { echo "svc_latency: needs root (a local cluster)"; exit 1; }
bash scripts/setup.sh bench >/dev/null
make -s "$BUILD/bin/tulle" "$BUILD/bin/tulle-cni" "$BUILD/bench/svc_latency" "$BUILD/bench/api_bench"
W=$(mktemp -d /tmp/tulle-lat.XXXXXX)
C=lat$$
export TULLE_HOME=$W/home
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$BUILD/bin/tulle" cluster delete --name "$C" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT INT TERM
"$BUILD/bin/tulle" cluster create --name "$C" --nodes 1 >/dev/null
python3 - "$SERVICES" >"$W/svcs.yaml" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec:\n  selector: {{app: s{i}}}\n  ports: [{{port: 80}}]")
PY
"$BUILD/bin/tulle" apply -f "$W/svcs.yaml" >/dev/null
node=$("$BUILD/bin/tulle" get nodes -o name | head -1 | cut -d/ -f2)
map=/sys/fs/bpf/tulle/$C/$node/tl_svc
for _ in $(seq 1 100); do [ "$(bpftool map dump pinned "$map" 2>/dev/null | grep -c '"key"' || true)" -ge "$SERVICES" ] && break; sleep 0.1; done
echo "== event-to-map latency, $SERVICES services loaded, $ROUNDS creates and deletes"
"$BUILD/bench/svc_latency" "$map" "$ROUNDS"

echo "== peer: etcd write->watch event, and tulle's write->watch event (100 watchers)"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cp=$(port); pp=$(port)
etcd --data-dir "$W/etcd" --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
     --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
     --initial-cluster "default=http://127.0.0.1:$pp" >"$W/etcd.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$cp/health" >/dev/null 2>&1 && break; sleep 0.1; done
"$BUILD/bin/tulle" server --state "$W/api" 2>"$W/api.log" & pids+=($!)
for _ in $(seq 1 100); do [ -S "$W/api/api.sock" ] && break; sleep 0.05; done
curl -s --unix-socket "$W/api/api.sock" -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"watch"}}' http://x/api/v1/namespaces >/dev/null
"$BUILD/bench/api_bench" --tulle "unix://$W/api/api.sock" --etcd "tcp://127.0.0.1:$cp" --fanout-only --watchers 100 --events 200
