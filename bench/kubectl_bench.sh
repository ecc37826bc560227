#!/usr/bin/env bash
# The stock kubectl against a loaded tulle API server (no agents), beside etcd holding
# the same objects (the store kube-apiserver reads through), in one run:
#   - 5,000 pods and 1,000 services in 50 namespaces, loaded through tulle's batch apply
#     and, as the same JSON, into etcd under /registry/...;
#   - `kubectl get pods -A` wall time (server-side Table), `-o json`, a raw list with curl,
#     and `etcdctl get --prefix /registry/pods/` of the same pods (medians of ROUNDS);
#   - p50/p99 from the start of a write to its event at 100 concurrent watchers, tulle
#     vs etcd (bench/api_bench.c --fanout-only) with everything above loaded;
#   - resident memory of both servers.
# Ratios > 1 favour tulle. Not a test: numbers drift with the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PODS=${PODS:-5000} SERVICES=${SERVICES:-1000} NAMESPACES=${NAMESPACES:-50} ROUNDS=${ROUNDS:-5}
bash scripts/setup.sh bench >/dev/null
make -s "$BUILD/bin/tulle" "$BUILD/bench/api_bench"

W=$(mktemp -d /tmp/tulle-kbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$BUILD/bin/tulle" server --state "$W/tulle" --listen "unix://$W/tulle/api.sock" --listen https://127.0.0.1:0 \
  2>"$W/tulle.log" & pids+=($!)
tpid=${pids[0]}
cp=$(port); pp=$(port)
etcd --data-dir "$W/etcd" --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
     --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
     --initial-cluster "default=http://127.0.0.1:$pp" --quota-backend-bytes=4294967296 >"$W/etcd.log" 2>&1 & pids+=($!)
epid=${pids[1]}
for _ in $(seq 1 100); do
  [ -s "$W/tulle/server.url" ] && curl -sf "http://127.0.0.1:$cp/health" >/dev/null 2>&1 && break
  sleep 0.1
done
https=$(grep '^https://' "$W/tulle/server.url")
cat >"$W/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: b, cluster: {server: "$https", certificate-authority: "$W/tulle/pki/ca.crt"}}]
users: [{name: b, user: {client-certificate: "$W/tulle/pki/admin.crt", client-key: "$W/tulle/pki/admin.key"}}]
contexts: [{name: b, context: {cluster: b, user: b}}]
current-context: b
EOF
export KUBECONFIG=$W/kubeconfig KUBECACHEDIR=$W/kubecache

# The objects: pods as a Deployment's would look, services selecting them.
python3 - "$W" "$PODS" "$SERVICES" "$NAMESPACES" "$cp" <<'PY'
import base64, http.client, json, socket, sys
w, npods, nsvcs, nns, etcd_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

class Unix(http.client.HTTPConnection):
    def __init__(self, path): super().__init__("x"); self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(self.path)

objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns%02d" % i}} for i in range(nns)]
objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "watch"}})
for i in range(npods):
    ns, app = "ns%02d" % (i % nns), "app%03d" % (i % (nsvcs // nns * nns) // nns if nsvcs else 0)
    objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "%s-7c9d8f6b5-%05d" % (app, i), "namespace": ns,
        "labels": {"app": app, "pod-template-hash": "7c9d8f6b5", "tier": "web"}},
        "spec": {"nodeName": "node-%d" % (i % 20), "containers": [{
            "name": "main", "image": "registry.example.com/%s:1.4.2" % app,
            "ports": [{"containerPort": 8080, "name": "http"}],
            "env": [{"name": "MODE", "value": "production"}, {"name": "REPLICA", "value": str(i)}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})
for i in range(nsvcs):
    ns, app = "ns%02d" % (i % nns), "app%03d" % (i // nns)
    objs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-%s" % app, "namespace": ns},
                 "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
c = Unix(w + "/tulle/api.sock")
for b in range(0, len(objs), 500):
    c.request("POST", "/tulle/v1/apply", json.dumps({"items": objs[b:b + 500]}), {"Content-Type": "application/json"})
    r = c.getresponse(); body = r.read()
    if r.status != 200: sys.exit("tulle batch apply: %d %s" % (r.status, body[:300]))
# etcd: the objects as tulle stored them, under kube-apiserver's key layout.
e = http.client.HTTPConnection("127.0.0.1", etcd_port)
for res, path in (("pods", "/api/v1/pods"), ("services", "/api/v1/services")):
    c.request("GET", path); items = json.loads(c.getresponse().read())["items"]
    for o in items:
        k = "/registry/%s/%s/%s" % (res, o["metadata"]["namespace"], o["metadata"]["name"])
        e.request("POST", "/v3/kv/put", json.dumps({"key": base64.b64encode(k.encode()).decode(),
                  "value": base64.b64encode(json.dumps(o).encode()).decode()}))
        r = e.getresponse(); r.read()
        if r.status != 200: sys.exit("etcd put: %d" % r.status)
print("loaded %d pods and %d services into both (%d namespaces)" % (npods, nsvcs, nns))
PY

ms() { local t0 t1; t0=$(date +%s%N); "$@" >"$W/out" 2>"$W/err" || { cat "$W/err" >&2; return 1; }; t1=$(date +%s%N); echo $(((t1 - t0) / 1000)); }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }
declare -A T
for what in kubectl_table kubectl_json curl_table curl_list etcdctl_get; do : >"$W/t.$what"; done
# The first list renders every row (the server then keeps rendered rows of unchanged
# objects); the rounds after it are what a user running kubectl get again sees.
cold=$(ms kubectl get pods -A | awk '{printf "%.1f", $1 / 1000}')
for _ in $(seq 1 "$ROUNDS"); do
  ms kubectl get pods -A >>"$W/t.kubectl_table"
  [ "$(wc -l <"$W/out")" = $((PODS + 1)) ] || { echo "kubectl get pods -A printed $(wc -l <"$W/out") lines, want $((PODS + 1))" >&2; exit 1; }
  ms kubectl get pods -A -o json >>"$W/t.kubectl_json"
  ms curl -sf --unix-socket "$W/tulle/api.sock" -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io' \
    http://x/api/v1/pods >>"$W/t.curl_table"
  ms curl -sf --unix-socket "$W/tulle/api.sock" http://x/api/v1/pods >>"$W/t.curl_list"
  tb=$(wc -c <"$W/out")
  ms etcdctl --endpoints "127.0.0.1:$cp" get --prefix /registry/pods/ >>"$W/t.etcdctl_get"
  [ "$(grep -c '^/registry/pods/' "$W/out")" = "$PODS" ] || { echo "etcdctl returned the wrong number of pods" >&2; exit 1; }
done
for what in kubectl_table kubectl_json curl_table curl_list etcdctl_get; do T[$what]=$(median <"$W/t.$what"); done

echo
printf '%-62s %10s\n' "measure ($PODS pods, $SERVICES services, median of $ROUNDS)" "ms"
printf '%-62s %10s\n' "kubectl get pods -A, first run (every row rendered)" "$cold"
printf '%-62s %10s\n' "kubectl get pods -A (server-side Table over HTTPS)" "${T[kubectl_table]}"
printf '%-62s %10s\n' "kubectl get pods -A -o json" "${T[kubectl_json]}"
printf '%-62s %10s\n' "curl, the Table of all pods (the server's part of the above)" "${T[curl_table]}"
printf '%-62s %10s\n' "curl, raw list of all pods ($((tb / 1024)) KiB JSON)" "${T[curl_list]}"
printf '%-62s %10s\n' "etcdctl get --prefix /registry/pods/ (same pods)" "${T[etcdctl_get]}"
awk -v a="${T[curl_list]}" -v b="${T[etcdctl_get]}" 'BEGIN {printf "%-62s %9.2fx\n", "raw list: etcdctl time / tulle time", b / a}'
echo
"$BUILD/bench/api_bench" --fanout-only --tulle "unix://$W/tulle/api.sock" --etcd "tcp://127.0.0.1:$cp" \
  --watchers "${WATCHERS:-100}" --events "${EVENTS:-200}"
echo
rss() { awk -v k="$2" '$1 == k":" {printf "%.0f", $2 / 1024}' /proc/"$1"/status; }
printf '%-40s %8s %8s\n' "memory (MiB)" "tulle" "etcd"
printf '%-40s %8s %8s\n' "resident now (VmRSS)" "$(rss "$tpid" VmRSS)" "$(rss "$epid" VmRSS)"
printf '%-40s %8s %8s\n' "peak (VmHWM)" "$(rss "$tpid" VmHWM)" "$(rss "$epid" VmHWM)"
