#!/usr/bin/env bash
# Policy in the datapath, in one run on this host:
#   pod-to-pod throughput (iperf3) and new connections/s (wrk, one request per
#   connection) between two pods on one node with no policy, with 1 policy and with
#   1,000 policies selecting the pair, alternating ROUNDS times (medians reported);
#   flow events/s the datapath emitted and the agent received during the heaviest load,
#   with the events lost;
#   the same two loads through a kube-router/Calico-style iptables filter (FORWARD,
#   conntrack first, then one ACCEPT rule per policy port) with 0, 1 and 1,000 rules,
#   between two namespaces behind a router namespace, as the peer;
#   policy apply latency: from `tulle apply` of a deny policy to the first refused
#   connection, in a cluster with no other policy and with 10,000 policies.
set -uo pipefail
cd "$(dirname "$0")/.."
TULLE=${TULLE:-$PWD/build/bin/tulle}
D=${D:-5}           # seconds per wrk run
T=${T:-5}           # seconds per iperf3 run
ROUNDS=${ROUNDS:-3}
MANY=${MANY:-1000}
HUGE=${HUGE:-10000}
P=pb$$
C=pb$$
NS=()
export TULLE_HOME=$(mktemp -d /tmp/tulle-polbench.XXXXXX)
W=$TULLE_HOME
cleanup() {
  local x
  for x in "${NS[@]}"; do ip netns pids "$x" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$x" 2>/dev/null; done
  [ -n "${SRVNS:-}" ] && ip netns pids "$SRVNS" 2>/dev/null | xargs -r kill 2>/dev/null
  "$TULLE" cluster delete --name "$C" >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT INT TERM
t() { "$TULLE" "$@"; }
med() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.3f' % (a/b if b else 0))" "$1" "$2"; }

nginx_conf() { # DIR
  cat >"$1/nginx.conf" <<NGINX
worker_processes 1;
pid $1/nginx.pid;
error_log $1/nginx.err;
events { worker_connections 8192; }
http {
  access_log off;
  server { listen 80 reuseport backlog=8192; location / { return 200 "ok\n"; } }
}
NGINX
}
serve_in() { # NETNS DIR: nginx and iperf3 in a namespace
  mkdir -p "$2"; nginx_conf "$2"
  ip netns exec "$1" sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192
  ip netns exec "$1" nginx -c "$2/nginx.conf" -p "$2" || { echo "nginx did not start in $1"; exit 1; }
  ip netns exec "$1" iperf3 -s -D >/dev/null 2>&1
  sleep 0.3
}
client_tune() { ip netns exec "$1" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"; }
# conns NETNS IP: connections/s (wrk, Connection: close)
conns() {
  ip netns exec "$1" wrk -t1 -c32 -d"${D}s" -H 'Connection: close' "http://$2/" 2>/dev/null |
    awk '/Requests\/sec/ {printf "%d\n", $2}'
}
# gbps NETNS IP
gbps() {
  ip netns exec "$1" iperf3 -c "$2" -t "$T" -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}

# ---- tulle: one node, a server pod and a client pod ----
t cluster create --name "$C" --nodes 1 >"$W/create.log" 2>&1 || { echo "cluster create failed"; cat "$W/create.log"; exit 1; }
NODE=$C-control-plane
SOCK=$TULLE_HOME/clusters/$C/nodes/$NODE/observer.sock
for p in srv cli; do
  printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","labels":{"app":"%s"}},"spec":{"nodeName":"%s","containers":[{"name":"c","image":"busybox","command":["sleep","infinity"]}]}}' "$p" "$p" "$NODE" |
    t apply -f - >/dev/null
done
for _ in $(seq 1 80); do [ "$(t get pods --no-headers | grep -c Running)" = 2 ] && break; sleep 0.25; done
pns() { echo "tl-$C-p$(t get pod "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"][:8])')"; }
SRVNS=$(pns srv) CLINS=$(pns cli)
SRV=$(t get pod srv -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["podIP"])')
serve_in "$SRVNS" "$W/srv"
client_tune "$CLINS"

metric() { curl -s --unix-socket "$SOCK" http://x/metrics | awk -v m="$1" '$1 ~ "^"m"({|$)" {s += $2} END {printf "%d\n", s}'; }
# After a change: until the agent has compiled it (its sync count moved, or 3 s passed
# for a change that moves nothing) and then stays still for 0.6 s.
settle() {
  local before=$1 prev="" cur
  for _ in $(seq 1 30); do [ "$(metric tulle_policy_syncs_total)" != "$before" ] && break; sleep 0.1; done
  for _ in $(seq 1 600); do
    cur="$(metric tulle_policy_syncs_total) $(metric tulle_policy_entries)"
    [ "$cur" = "$prev" ] && return 0
    prev=$cur; sleep 0.3
  done
}
policies() { # N [START]: N NetworkPolicies selecting srv, each admitting cli on 80, 5201 and a port of its own
  local n=$1 i
  for ((i = ${2:-0}; i < n; i++)); do
    printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: "bench-%d", namespace: default}\nspec:\n  podSelector: {matchLabels: {app: srv}}\n  policyTypes: [Ingress]\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: cli}}}]\n    ports: [{port: 80}, {port: 5201}, {port: %d}]\n---\n' "$i" $((10000 + i))
  done
}
policies 1 >"$W/one.yaml"
policies "$MANY" >"$W/many.yaml"
set_policies() { # none|one|many
  local before; before=$(metric tulle_policy_syncs_total)
  case $1 in
    none) t delete networkpolicies --all >/dev/null 2>&1 ;;
    one) t delete networkpolicies --all >/dev/null 2>&1; t apply -f "$W/one.yaml" >/dev/null ;;
    many) t apply -f "$W/many.yaml" >/dev/null ;;
  esac
  settle "$before"
}

conns "$CLINS" "$SRV" >/dev/null # warm-up, not counted
declare -A TC TG
FLOW_RATE=0 FLOW_LOST=0 FLOW_RECV=0
for r in $(seq 1 "$ROUNDS"); do
  for cfg in none one many; do
    set_policies $cfg
    e0=$(metric tulle_datapath_flow_events_total) l0=$(metric tulle_datapath_flow_events_lost_total) v0=$(metric tulle_flows_received_total)
    s0=$(date +%s.%N)
    c=$(conns "$CLINS" "$SRV")
    s1=$(date +%s.%N)
    e1=$(metric tulle_datapath_flow_events_total) l1=$(metric tulle_datapath_flow_events_lost_total) v1=$(metric tulle_flows_received_total)
    rate=$(python3 -c "print(int(($e1 - $e0) / ($s1 - $s0)))")
    if [ "$rate" -gt "$FLOW_RATE" ]; then FLOW_RATE=$rate FLOW_LOST=$((l1 - l0)) FLOW_RECV=$((v1 - v0)) FLOW_EMIT=$((e1 - e0)); fi
    TC[$cfg]+="$c "
    TG[$cfg]+="$(gbps "$CLINS" "$SRV") "
    echo "round $r, $cfg: $c conn/s, $(echo ${TG[$cfg]} | awk '{print $NF}') Gbit/s" >&2
  done
done
ENTRIES_MANY=$(metric tulle_policy_entries)

# ---- policy apply latency ----
# A prober in the client pod: a connection every ~2 ms (10 ms timeout); prints the
# start time of the first of three failed attempts in a row (a slow answer under load
# is not a policy).
PROBER='
import socket, sys, time
ip = sys.argv[1]
print("ready", flush=True)
fails = 0
while True:
    t = time.time()
    s = socket.socket(); s.settimeout(0.01)
    try:
        s.connect((ip, 80)); fails = 0; time.sleep(0.002)
    except Exception:
        if fails == 0: first = t
        fails += 1
        if fails == 3:
            print("%.6f" % first, flush=True); break
    finally:
        s.close()
'
latency() { # FILE: ms from the start of `tulle apply -f FILE` to the first refused connection, and ms the apply took
  local out=$W/probe.$RANDOM
  timeout 30 ip netns exec "$CLINS" python3 -c "$PROBER" "$SRV" >"$out" 2>/dev/null & local pp=$!
  for _ in $(seq 1 50); do grep -q ready "$out" && break; sleep 0.05; done
  local t0; t0=$(date +%s.%N)
  t apply -f "$1" >/dev/null
  local t1; t1=$(date +%s.%N)
  wait $pp
  python3 -c "
w = open('$out').read().split()
print('%.0f %.0f' % ((float(w[1]) - $t0) * 1000, ($t1 - $t0) * 1000) if len(w) > 1 else 'never')"
}
printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-srv, namespace: default}\nspec:\n  podSelector: {matchLabels: {app: srv}}\n  policyTypes: [Ingress]\n' >"$W/deny.yaml"
LAT1=() LATH=()
for _ in 1 2 3; do
  set_policies none
  read -r l _ < <(latency "$W/deny.yaml"); LAT1+=("$l")
done
t delete networkpolicies --all >/dev/null 2>&1
# 10,000 policies over 100 namespaces of 10 pods' worth of selectors (the pods need not run).
{
  for ((n = 0; n < 100; n++)); do printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: "bench-ns-%d", labels: {team: "t%d"}}\n---\n' $n $((n % 10)); done
  for ((i = 0; i < HUGE; i++)); do
    printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: "p-%d", namespace: "bench-ns-%d"}\nspec:\n  podSelector: {matchLabels: {app: "a%d"}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: "t%d"}}, podSelector: {matchLabels: {app: "a%d"}}}]\n    ports: [{port: %d}]\n---\n' \
      "$i" $((i % 100)) $((i % 50)) $((i % 10)) $(((i + 1) % 50)) $((1000 + i % 3000))
  done
  cat "$W/deny.yaml" # the last object: when it refuses connections, all before it are in
} >"$W/huge.yaml"
before=$(metric tulle_policy_syncs_total)
read -r HUGE_TOTAL HUGE_APPLY < <(latency "$W/huge.yaml")
settle "$before"
SYNC_HUGE=$(curl -s --unix-socket "$SOCK" http://x/metrics | awk '/^tulle_policy_sync_seconds/ {print $2}')
for _ in 1 2 3; do
  before=$(metric tulle_policy_syncs_total); t delete networkpolicy deny-srv >/dev/null 2>&1; settle "$before"
  read -r l _ < <(latency "$W/deny.yaml"); LATH+=("$l")
done

# ---- the peer: an iptables filter between two namespaces ----
ns() { ip netns add "$1"; NS+=("$1"); ip -n "$1" link set lo up; }
ns $P-c; ns $P-r; ns $P-s
ip link add $P-cr netns $P-r type veth peer name eth0 netns $P-c
ip link add $P-sr netns $P-r type veth peer name eth0 netns $P-s
ip -n $P-c addr add 10.1.0.2/24 dev eth0; ip -n $P-c link set eth0 up; ip -n $P-c route add default via 10.1.0.1
ip -n $P-s addr add 10.2.0.2/24 dev eth0; ip -n $P-s link set eth0 up; ip -n $P-s route add default via 10.2.0.1
ip -n $P-r addr add 10.1.0.1/24 dev $P-cr; ip -n $P-r link set $P-cr up
ip -n $P-r addr add 10.2.0.1/24 dev $P-sr; ip -n $P-r link set $P-sr up
ip netns exec $P-r sysctl -qw net.ipv4.ip_forward=1
serve_in $P-s "$W/peer"
client_tune $P-c
ipt_rules() { # N: the filter as kube-router/Calico's iptables mode writes one: conntrack, then per-policy rules
  ip netns exec $P-r iptables -F FORWARD
  [ "$1" = 0 ] && return
  {
    echo '*filter'
    echo '-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'
    for ((i = $1 - 1; i >= 0; i--)); do
      echo "-A FORWARD -s 10.1.0.2/32 -d 10.2.0.2/32 -p tcp -m multiport --dports 80,5201,$((10000 + i)) -j ACCEPT"
    done
    echo '-A FORWARD -d 10.2.0.2/32 -j DROP'
    echo 'COMMIT'
  } | ip netns exec $P-r iptables-restore --noflush
}
declare -A IC IG
for r in $(seq 1 "$ROUNDS"); do
  for cfg in none one many; do
    case $cfg in none) ipt_rules 0 ;; one) ipt_rules 1 ;; many) ipt_rules "$MANY" ;; esac
    IC[$cfg]+="$(conns $P-c 10.2.0.2) "
    IG[$cfg]+="$(gbps $P-c 10.2.0.2) "
  done
done

# ---- report ----
m() { echo $1 | tr ' ' '\n' | med; }
echo
printf '%-46s %12s %10s\n' "pod to pod, one node (medians of $ROUNDS)" "conn/s" "Gbit/s"
for cfg in none one many; do
  label=$([ $cfg = none ] && echo "no policy" || { [ $cfg = one ] && echo "1 policy" || echo "$MANY policies"; })
  printf '%-46s %12s %10s\n' "tulle, $label" "$(m "${TC[$cfg]}")" "$(m "${TG[$cfg]}")"
done
for cfg in none one many; do
  label=$([ $cfg = none ] && echo "no rules" || { [ $cfg = one ] && echo "1 policy's rules" || echo "$MANY policies' rules"; })
  printf '%-46s %12s %10s\n' "iptables filter, $label" "$(m "${IC[$cfg]}")" "$(m "${IG[$cfg]}")"
done
echo
echo "tulle with 1 policy vs none:          conn/s $(ratio "$(m "${TC[one]}")" "$(m "${TC[none]}")")x, throughput $(ratio "$(m "${TG[one]}")" "$(m "${TG[none]}")")x"
echo "tulle with $MANY policies vs none:       conn/s $(ratio "$(m "${TC[many]}")" "$(m "${TC[none]}")")x, throughput $(ratio "$(m "${TG[many]}")" "$(m "${TG[none]}")")x  ($ENTRIES_MANY policy map entries)"
echo "iptables with 1 policy vs none:       conn/s $(ratio "$(m "${IC[one]}")" "$(m "${IC[none]}")")x, throughput $(ratio "$(m "${IG[one]}")" "$(m "${IG[none]}")")x"
echo "iptables with $MANY policies vs none:    conn/s $(ratio "$(m "${IC[many]}")" "$(m "${IC[none]}")")x, throughput $(ratio "$(m "${IG[many]}")" "$(m "${IG[none]}")")x"
echo "tulle vs iptables, $MANY policies:       conn/s $(ratio "$(m "${TC[many]}")" "$(m "${IC[many]}")")x, throughput $(ratio "$(m "${TG[many]}")" "$(m "${IG[many]}")")x"
echo
echo "flow events at the heaviest load: $FLOW_RATE/s emitted by the datapath ($FLOW_EMIT in the run), $FLOW_RECV received by the agent, $FLOW_LOST lost"
echo "policy apply -> first refused connection, no other policy:  $(printf '%s ' "${LAT1[@]}")ms (median $(printf '%s\n' "${LAT1[@]}" | med) ms)"
echo "policy apply -> first refused connection, $HUGE policies: $(printf '%s ' "${LATH[@]}")ms (median $(printf '%s\n' "${LATH[@]}" | med) ms)"
echo "$HUGE policies and a deny in one tulle apply: the apply took $HUGE_APPLY ms, the deny (its last object) refused connections $((HUGE_TOTAL - HUGE_APPLY)) ms after the apply returned ($HUGE_TOTAL ms from its start); the agent's compile and sync of all of them: ${SYNC_HUGE} s"
