#!/usr/bin/env bash
# Service load balancing: tulle's eBPF datapath against a kube-proxy-style iptables
# DNAT chain (KUBE-SERVICES -> KUBE-SVC -> KUBE-SEP, one rule per service), with the
# same 1, 1,000, 10,000 and 20,000 ClusterIP services, in one run on this host.
#   topology: client ns -- veth -- node ns (routing; the datapath or iptables here) -- veth -- server ns
#   server: nginx (2 workers, a fixed reply) in the server namespace;
#   new connections: wrk, one request per connection (Connection: close), to the
#     service in the middle of the chain (kube-proxy's average case);
#   throughput: iperf3 through a ClusterIP and straight to the server's address.
# Prints connections/s, latency p50/p99 (medians of ROUNDS alternating runs), and ratios.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
D=${D:-5}           # seconds per wrk run
T=${T:-5}           # seconds per iperf3 run
COUNTS=${COUNTS:-"1 1000 10000 20000"}
ROUNDS=${ROUNDS:-3} # alternating rounds per point; the median is reported
P=sb$$
PIN=/sys/fs/bpf/tulle-bench-$P
NS=()
W=$(mktemp -d /tmp/tulle-svcbench.XXXXXX)
cleanup() {
  local x
  for x in "${NS[@]}"; do ip netns pids "$x" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$x" 2>/dev/null; done
  rm -rf "$PIN" "$W"
}
trap cleanup EXIT INT TERM
ns() { ip netns add "$1"; NS+=("$1"); ip -n "$1" link set lo up; }
vip() { local i=$1; echo "10.$((96 + (i >> 16))).$(((i >> 8) & 255)).$((i & 255))"; }

build_topology() {
  NS=()
  ns $P-c; ns $P-n; ns $P-s
  ip link add $P-ch netns $P-n type veth peer name eth0 netns $P-c
  ip link add $P-sh netns $P-n type veth peer name eth0 netns $P-s
  ip -n $P-c addr add 10.1.0.2/24 dev eth0; ip -n $P-c link set eth0 up; ip -n $P-c route add default via 10.1.0.1
  ip -n $P-s addr add 10.2.0.2/24 dev eth0; ip -n $P-s link set eth0 up; ip -n $P-s route add default via 10.2.0.1
  ip -n $P-n addr add 10.1.0.1/24 dev $P-ch; ip -n $P-n link set $P-ch up
  ip -n $P-n addr add 10.2.0.1/24 dev $P-sh; ip -n $P-n link set $P-sh up
  ip netns exec $P-n sysctl -qw net.ipv4.ip_forward=1
  # Many short connections from one client address: reuse TIME_WAIT ports.
  ip netns exec $P-c sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
  # nginx serves (two workers, a fixed reply), the same server for both peers.
  cat >"$W/nginx.conf" <<NGINX
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 8192; }
http {
  access_log off;
  server { listen 80 reuseport backlog=8192; location / { return 200 "ok\n"; } }
}
NGINX
  ip netns exec $P-s nginx -c "$W/nginx.conf" -p "$W" || { echo "nginx did not start"; exit 1; }
  ip netns exec $P-c sysctl -qw net.core.somaxconn=8192
  ip netns exec $P-s sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192
  ip netns exec $P-s iperf3 -s -D >/dev/null 2>&1
  sleep 0.5
}

# iptables: kube-proxy's layout, written with one iptables-restore.
iptables_load() {
  local n=$1 i
  {
    echo "*nat"
    echo ":KUBE-SERVICES - [0:0]"
    for ((i = 1; i <= n; i++)); do echo ":KUBE-SVC-$i - [0:0]"; echo ":KUBE-SEP-$i - [0:0]"; done
    echo "-A PREROUTING -j KUBE-SERVICES"
    for ((i = 1; i <= n; i++)); do
      echo "-A KUBE-SERVICES -d $(vip "$i")/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-$i"
      echo "-A KUBE-SVC-$i -j KUBE-SEP-$i"
      echo "-A KUBE-SEP-$i -p tcp -m tcp -j DNAT --to-destination 10.2.0.2:80"
    done
    echo "COMMIT"
  } >"$W/rules"
  ip netns exec $P-n iptables-restore <"$W/rules"
}

tulle_load() {
  "$BUILD/bench/svc_maps" "/var/run/netns/$P-n" "$PIN" "$1" 10.2.0.2 $P-ch $P-sh 80 5201 >/dev/null
}

# wrk, a new connection per request; prints "conn/s p50_ms p99_ms errors".
conn_rate() {
  ip netns exec $P-c wrk -t2 -c32 -d"${D}s" --latency -H 'Connection: close' "http://$1/" 2>&1 | python3 -c '
import sys, re
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", t); p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
errs = sum(int(x) for x in err.groups()) if err else 0
print("%.0f %.3f %.3f %d" % (rps, ms(*p50.groups()), ms(*p99.groups()), errs))'
}
tput() {
  ip netns exec $P-c iperf3 -c "$1" -t "$T" -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}

teardown() {
  local x
  for x in "${NS[@]}"; do ip netns pids "$x" 2>/dev/null | xargs -r kill 2>/dev/null; done
  sleep 0.2
  for x in "${NS[@]}"; do ip netns del "$x" 2>/dev/null; done
  NS=()
  rm -rf "$PIN"
}

# Every measurement gets fresh namespaces: no TIME_WAIT or conntrack state carries
# over from the previous run (it would slow whichever peer runs second).
measure_conn() { # PEER N
  build_topology
  if [ "$1" = tulle ]; then tulle_load "$2"; else iptables_load "$2"; fi
  conn_rate "$(vip $(( ($2 + 1) / 2 )))" >"$W/res"
  teardown
}

make -s "$BUILD/bench/svc_maps" "$BUILD/bench/dp_prog_bench" "$BUILD/bin/tulle" || exit 1
printf '%-9s %-8s %10s %9s %9s %7s\n' services peer conn/s p50_ms p99_ms errors  # errors: both peers, all rounds
declare -A R
median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
for n in $COUNTS; do
  for peer in tulle iptables; do declare -a "C_$peer=()" "A_$peer=()" "B_$peer=()"; done
  errs=0
  for ((round = 1; round <= ROUNDS; round++)); do
    for peer in tulle iptables; do
      measure_conn "$peer" "$n"; read -r r a b e <"$W/res"
      eval "C_$peer+=($r); A_$peer+=($a); B_$peer+=($b)"; errs=$((errs + e))
    done
  done
  for peer in tulle iptables; do
    eval "r=\$(median \${C_$peer[@]}); a=\$(median \${A_$peer[@]}); b=\$(median \${B_$peer[@]})"
    R[${peer:0:1}$n]=$r
    printf '%-9s %-8s %10.0f %9.3f %9.3f %7s\n' "$n" "$peer" "$r" "$a" "$b" "$errs"
  done
done
echo
first=${COUNTS%% *}
last=${COUNTS##* }
python3 - "${R[t$first]}" "${R[t$last]}" "${R[i$first]}" "${R[i$last]}" "$first" "$last" <<'PY'
import sys
t1, tn, i1, iN, a, b = map(float, sys.argv[1:7])
print("tulle at %d services / tulle at %d: %.3f (goal >= 0.95)" % (b, a, tn / t1))
print("tulle at %d services / iptables at %d: %.3f (goal >= 1.00)" % (a, a, t1 / i1))
print("tulle / iptables at %d services: %.2fx" % (b, tn / iN))
PY
echo
build_topology
tulle_load 1
D1=(); V1=()
for ((round = 1; round <= ROUNDS; round++)); do D1+=("$(tput 10.2.0.2)"); V1+=("$(tput "$(vip 1)")"); done
direct=$(median "${D1[@]}"); via=$(median "${V1[@]}")
teardown
python3 -c "import sys; d, v = float(sys.argv[1]), float(sys.argv[2]); print('throughput: straight to the pod %.2f Gbit/s, through a ClusterIP %.2f Gbit/s: %.3f (goal >= 0.95)' % (d, v, v / d))" "$direct" "$via"

echo
echo "per-packet cost in the kernel (BPF_PROG_TEST_RUN, 2,000,000 runs each):"
make -s "$BUILD/bench/dp_prog_bench" && "$BUILD/bench/dp_prog_bench"
