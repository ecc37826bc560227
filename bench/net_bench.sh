#!/usr/bin/env bash
# Pod networking vs bare kernel baselines, in one run, on this host:
#   baselines: a veth pair between two namespaces; two namespaces on a Linux bridge;
#              VXLAN between two namespaces over a veth underlay;
#   tulle:     pod to pod on one node (veth, routing, veth) and across nodes (VXLAN
#              overlay by default; native routing over the fabric with NATIVE=1).
# Prints TCP throughput (iperf3, T seconds) and round-trip time (ping), and ratios.
set -uo pipefail
cd "$(dirname "$0")/.."
TULLE=${TULLE:-build/bin/tulle}
T=${T:-5}
P=tb$$
NS=()
export TULLE_HOME=$(mktemp -d /tmp/tulle-netbench.XXXXXX)
C=nb$$
cleanup() {
  "$TULLE" cluster delete --name "$C" >/dev/null 2>&1
  for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$TULLE_HOME"
}
trap cleanup EXIT INT TERM
ns() { ip netns add "$1"; NS+=("$1"); ip -n "$1" link set lo up; }

# iperf3 client in $1 to $2; prints Gbit/s.
tput() {
  ip netns exec "$1" iperf3 -c "$2" -t "$T" -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}
# ping from $1 to $2; prints the average RTT in ms.
rtt() { ip netns exec "$1" ping -q -c 50 -i 0.01 "$2" | awk -F/ '/rtt/{print $5}'; }
server() { ip netns exec "$1" iperf3 -s -D -1 >/dev/null 2>&1; sleep 0.3; }
measure() { server "$2"; local t; t=$(tput "$1" "$3"); echo "$t $(rtt "$1" "$3")"; }

# Baseline 1: veth pair.
ns $P-a; ns $P-b
ip link add $P-va netns $P-a type veth peer name $P-vb netns $P-b
ip -n $P-a addr add 192.0.2.1/24 dev $P-va; ip -n $P-a link set $P-va up
ip -n $P-b addr add 192.0.2.2/24 dev $P-vb; ip -n $P-b link set $P-vb up
read -r veth_t veth_r < <(measure $P-a $P-b 192.0.2.2)

# Baseline 2: Linux bridge.
ns $P-br; ns $P-c; ns $P-d
ip -n $P-br link add br0 type bridge; ip -n $P-br link set br0 up
for x in c d; do
  ip -n $P-br link add p$x type veth peer name eth0 netns $P-$x
  ip -n $P-br link set p$x master br0 up
  ip -n $P-$x link set eth0 up
done
ip -n $P-c addr add 198.51.100.1/24 dev eth0; ip -n $P-d addr add 198.51.100.2/24 dev eth0
read -r br_t br_r < <(measure $P-c $P-d 198.51.100.2)

# Baseline 3: VXLAN between two namespaces over a veth underlay.
ns $P-x; ns $P-y
ip link add $P-ux netns $P-x type veth peer name $P-uy netns $P-y
ip -n $P-x addr add 203.0.113.1/24 dev $P-ux; ip -n $P-x link set $P-ux up
ip -n $P-y addr add 203.0.113.2/24 dev $P-uy; ip -n $P-y link set $P-uy up
ip -n $P-x link add vx type vxlan id 7 dstport 4789 remote 203.0.113.2 local 203.0.113.1 dev $P-ux
ip -n $P-y link add vx type vxlan id 7 dstport 4789 remote 203.0.113.1 local 203.0.113.2 dev $P-uy
ip -n $P-x addr add 10.99.0.1/24 dev vx; ip -n $P-x link set vx up
ip -n $P-y addr add 10.99.0.2/24 dev vx; ip -n $P-y link set vx up
read -r vx_t vx_r < <(measure $P-x $P-y 10.99.0.2)

# tulle: two nodes; a server pod and a client on each node.
routing=vxlan; [ "${NATIVE:-0}" = 1 ] && routing=native
"$TULLE" cluster create --name "$C" --nodes 2 --routing $routing >/dev/null || { echo "cluster create failed"; exit 1; }
pod() { # name node
  printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s"},"spec":{"nodeName":"%s","containers":[{"name":"c","image":"busybox","command":["sleep","infinity"]}]}}' "$1" "$2" |
    "$TULLE" apply -f - >/dev/null
}
pod srv "$C-control-plane"; pod near "$C-control-plane"; pod far "$C-worker"
for _ in $(seq 1 80); do [ "$("$TULLE" get pods --no-headers | grep -c Running)" = 3 ] && break; sleep 0.25; done
pns() { echo "tl-$C-p$("$TULLE" get pod "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"][:8])')"; }
srv_ip=$("$TULLE" get pod srv -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["podIP"])')
read -r same_t same_r < <(measure "$(pns near)" "$(pns srv)" "$srv_ip")
read -r cross_t cross_r < <(measure "$(pns far)" "$(pns srv)" "$srv_ip")

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b if b else 0))" "$1" "$2"; }
printf '\n%-44s %10s %10s\n' "path ($T s iperf3, 50 pings)" "Gbit/s" "RTT ms"
printf '%-44s %10s %10s\n' "baseline: veth pair" "$veth_t" "$veth_r"
printf '%-44s %10s %10s\n' "baseline: Linux bridge" "$br_t" "$br_r"
printf '%-44s %10s %10s\n' "baseline: VXLAN over a veth underlay" "$vx_t" "$vx_r"
printf '%-44s %10s %10s\n' "tulle pod to pod, same node" "$same_t" "$same_r"
printf '%-44s %10s %10s\n' "tulle pod to pod, across nodes ($routing)" "$cross_t" "$cross_r"
echo
echo "same node vs bridge:   throughput $(ratio "$same_t" "$br_t")x, RTT $(ratio "$same_r" "$br_r")x"
echo "same node vs veth:     throughput $(ratio "$same_t" "$veth_t")x, RTT $(ratio "$same_r" "$veth_r")x"
if [ $routing = vxlan ]; then
  echo "across nodes vs VXLAN: throughput $(ratio "$cross_t" "$vx_t")x, RTT $(ratio "$cross_r" "$vx_r")x"
else
  echo "across nodes vs bridge: throughput $(ratio "$cross_t" "$br_t")x, RTT $(ratio "$cross_r" "$br_r")x"
fi
