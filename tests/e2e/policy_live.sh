# Upstream's network policy scenarios on a live cluster: namespaces x, y, z, pods a, b,
# c serving 80 and 81 on TCP and UDP, spread over three nodes. For each scenario the
# policies are applied, every pod probes every pod on every port for real (TCP
# connect, UDP echo), and the live matrix must equal `tulle policy matrix` for the same
# cluster. POLICY_LIVE_ALL=1 runs every scenario (make test-long), else the first 20.
# SCTP is probed where the kernel has it (skipped, and said so, where it does not).
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP policy_live: needs root (network namespaces, BPF)"; exit 0; }
DATA=$ROOT/tests/data/policy/k8s
C=pl$$
with_cluster "$C"
t() { "$TULLE" "$@"; }
t cluster create --name "$C" --nodes 3 >"$WORK/create.log" 2>&1 || { fail "cluster create" "$(tail -5 "$WORK/create.log")"; exit 0; }
PORTS=(80/TCP 81/TCP 80/UDP 81/UDP)
if python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)' 2>/dev/null; then
  PORTS+=(80/SCTP 81/SCTP)
else
  echo "SKIP live SCTP probes: this kernel has no SCTP (the datapath's SCTP handling is tested through BPF_PROG_TEST_RUN)"
fi
{
  for ns in x y z; do
    printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: \"%s\", labels: {ns: \"%s\"}}\n---\n' "$ns" "$ns"
    for p in a b c; do
      printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: \"%s\", namespace: \"%s\", labels: {pod: \"%s\"}}\nspec:\n  containers:\n  - name: c\n    image: agnhost\n    ports:\n' "$p" "$ns" "$p"
      for pp in "${PORTS[@]}"; do
        port=${pp%/*} proto=${pp#*/}
        printf '    - {name: serve-%s-%s, containerPort: %s, protocol: %s}\n' "$port" "${proto,,}" "$port" "$proto"
      done
      echo ---
    done
  done
} >"$WORK/cluster.yaml"
t apply -f "$WORK/cluster.yaml" >/dev/null
for ns in x y z; do wait_running "$ns" 3 || { fail "pods of $ns running"; exit 0; }; done
declare -A IP
for ns in x y z; do for p in a b c; do IP[$ns/$p]=$(t get pod "$p" -n "$ns" -o json | jget '["status"]["podIP"]'); done; done
TARGETS=$(for k in "${!IP[@]}"; do echo "$k=${IP[$k]}"; done | sort | tr '\n' ' ')

# Runs in each source pod: probes every target on every port at once.
PROBER='
import socket, sys, threading
out = []
def probe(name, ip, port, proto):
    try:
        if proto in ("TCP", "SCTP"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                              socket.IPPROTO_SCTP if proto == "SCTP" else socket.IPPROTO_TCP)
            s.settimeout(0.6); s.connect((ip, port)); s.close(); ok = True
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.6)
            s.sendto(b"probe", (ip, port)); s.recvfrom(512); s.close(); ok = True
    except Exception:
        ok = False
    out.append("%s %d/%s %s" % (name, port, proto, "." if ok else "X"))
ts = []
for t in sys.argv[2].split():
    name, ip = t.split("=")
    for pp in sys.argv[1].split():
        port, proto = pp.split("/")
        ts.append(threading.Thread(target=probe, args=(name, ip, int(port), proto)))
for th in ts: th.start()
for th in ts: th.join()
print("\n".join(out))
'

# Every node has compiled what the API holds once its sync count stops moving.
syncs() { for n in $(t get nodes -o name | cut -d/ -f2); do
  curl -s --unix-socket "$TULLE_HOME/clusters/$C/nodes/$n/observer.sock" http://x/metrics | awk '/^tulle_policy_syncs_total/ {print $2}'; done | tr '\n' ' '; }
settle() {
  local before=$1 prev cur
  for _ in $(seq 1 40); do
    cur=$(syncs)
    if [ "$cur" != "$before" ] && [ "$cur" = "${prev:-}" ]; then return 0; fi
    prev=$cur; sleep 0.15
  done
}

live_matrix() {
  for ns in x y z; do for p in a b c; do
    ( t exec -n "$ns" "$p" -- python3 -c "$PROBER" "${PORTS[*]}" "$TARGETS" | sed "s|^|$ns/$p |" ) &
  done; done | sort
  wait
}

engine_matrix() {
  local args=()
  for pp in "${PORTS[@]}"; do args+=(--port "$pp"); done
  t policy matrix "${args[@]}" -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
keep = lambda s: s.split("/")[0] in ("x", "y", "z")
rows = ["%s %s %d/%s %s" % (p["from"], p["to"], p["port"], p["protocol"], "." if p["allowed"] else "X")
        for p in d["probes"] if keep(p["from"]) and keep(p["to"])]
print("\n".join(sorted(rows)))'
}

files=$(ls "$DATA"/*.yaml | sort)
[ "${POLICY_LIVE_ALL:-0}" = 1 ] || files=$(head -"${POLICY_LIVE_COUNT:-20}" <<<"$files")
n=0
for f in $files; do
  name=$(basename "$f" .yaml)
  # The scenario's policies: every document after the expectations.
  python3 -c 'import sys; d=open(sys.argv[1]).read().split("\n---\n"); print("\n---\n".join(d[1:]))' "$f" >"$WORK/pol.yaml"
  before=$(syncs)
  t apply -f "$WORK/pol.yaml" >/dev/null || { fail "scenario $name applies"; continue; }
  settle "$before"
  want=$(engine_matrix) got=$(live_matrix)
  if [ -n "$want" ] && [ "$want" = "$got" ]; then
    pass "live scenario $name: $(grep -c ' \.$' <<<"$got") allowed, $(grep -c ' X$' <<<"$got") denied, as policy matrix says"
  else
    fail "live scenario $name" "$(diff <(echo "$want") <(echo "$got") | head -8 | tr '\n' ';')"
  fi
  before=$(syncs)
  t delete -f "$WORK/pol.yaml" >/dev/null
  settle "$before"
  n=$((n + 1))
done
check "at least ${POLICY_LIVE_COUNT:-20} scenarios ran live ($n)" test "$n" -ge "${POLICY_LIVE_COUNT:-20}"
