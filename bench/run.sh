#!/usr/bin/env bash
# Benchmarks, each against a real peer in the same run. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bash scripts/setup.sh bench
make -s "$BUILD/bench/api_bench" "$BUILD/bench/policy_bench" "$BUILD/bench/svc_maps" "$BUILD/bin/tulle"

W=$(mktemp -d /tmp/tulle-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== API server vs etcd (${OBJECTS:-10000} objects)"
"$BUILD/bin/tulle" server --state "$W/tulle" 2>"$W/tulle.log" & pids+=($!)
cp=$(port); pp=$(port)
etcd --data-dir "$W/etcd" --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
     --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
     --initial-cluster "default=http://127.0.0.1:$pp" --quota-backend-bytes=4294967296 >"$W/etcd.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do
  [ -S "$W/tulle/api.sock" ] && curl -sf "http://127.0.0.1:$cp/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -s --unix-socket "$W/tulle/api.sock" -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}}' http://x/api/v1/namespaces >/dev/null
curl -s --unix-socket "$W/tulle/api.sock" -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"watch"}}' http://x/api/v1/namespaces >/dev/null
"$BUILD/bench/api_bench" --tulle "unix://$W/tulle/api.sock" --etcd "tcp://127.0.0.1:$cp" \
  --objects "${OBJECTS:-10000}" --watchers "${WATCHERS:-100}" --events "${EVENTS:-200}"
rss=$(awk '/VmHWM/{print $2}' /proc/"${pids[0]}"/status)
echo "tulle server peak RSS: $((rss / 1024)) MiB"

echo
echo "== policy engine: 10,000 policies over 5,000 pods in 200 namespaces"
"$BUILD/bench/policy_bench" 10000 5000 200

echo
echo "== pod networking vs bare veth, bridge and VXLAN"
TULLE="$BUILD/bin/tulle" bash bench/net_bench.sh

echo
echo "== service load balancing vs a kube-proxy iptables chain (1 to 20,000 services)"
BUILD="$BUILD" bash bench/svc_bench.sh

echo
echo "== kubectl against 5,000 pods and 1,000 services, beside etcd"
BUILD="$BUILD" bash bench/kubectl_bench.sh

echo
echo "== event-to-map latency of the service datapath (informers), beside etcd's write->watch"
BUILD="$BUILD" bash bench/svc_latency.sh

echo
echo "== policy in the datapath: 0, 1 and 1,000 policies beside an iptables filter; flow events; apply latency"
TULLE="$PWD/$BUILD/bin/tulle" bash bench/policy_dp_bench.sh
