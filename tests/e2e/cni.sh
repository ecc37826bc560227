# tulle-cni driven by hand, as a runtime (or cnitool) would: every command, every error
# path, DEL twice, ADD twice, CHECK after ADD, STATUS, GC with valid attachments, and
# 200 parallel ADDs getting 200 distinct addresses. Everything runs inside network
# namespaces this test creates (a "node" and its pods) and removes.
. "$(dirname "$0")/../lib.sh"
CNI=${TULLE_CNI_BIN:-$(dirname "$TULLE")/tulle-cni}
[ "$(id -u)" = 0 ] || { echo "SKIP cni: needs root for network namespaces"; exit 0; }
ip netns add "tulle-probe-$$" 2>/dev/null || { echo "SKIP cni: cannot create network namespaces"; exit 0; }
ip netns del "tulle-probe-$$"
P=tcni$$
NODE=$P-node
NSES=("$NODE")
cleanup_ns() { for n in "${NSES[@]}"; do ip netns del "$n" 2>/dev/null; done; }
trap 'cleanup_ns; cleanup' EXIT INT TERM
ip netns add "$NODE"
ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=1
ip -n "$NODE" link set lo up
# The node's own address, as its uplink would carry one (on lo: this kernel may lack
# the dummy link type).
ip -n "$NODE" addr add 10.250.0.1/32 dev lo
DATA=$WORK/ipam
conf() { printf '{"cniVersion":"%s","name":"tulle-test","type":"tulle-cni","mtu":1450,"ipam":{"subnet":"10.244.9.0/24","dataDir":"%s"%s},"dns":{"nameservers":["10.96.0.10"]}%s}' \
  "${1:-1.1.0}" "$DATA" "${2:-}" "${3:-}"; }
# cni CMD ID NETNS IFNAME [CONF]: runs the plugin on the node; prints stdout, then "rc=N".
cni() {
  local out rc
  out=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS="$3" \
        CNI_IFNAME="$4" CNI_PATH=/opt/cni/bin "$CNI" <<<"${5:-$(conf)}")
  rc=$?
  printf '%s\nrc=%s\n' "$out" "$rc"
}
code() { sed '$d' <<<"$1" | jget '["code"]' 2>/dev/null; }
# pod NAME: creates a pod namespace (in this shell, so cleanup knows it); its path in NS.
pod() { ip netns add "$P-$1"; NSES+=("$P-$1"); NS="/var/run/netns/$P-$1"; }

out=$(cni VERSION "" "" "" '{"cniVersion":"1.1.0"}')
check "VERSION lists the supported versions" bash -c "grep -q '\"1.1.0\"' <<<'$out' && grep -q '\"0.4.0\"' <<<'$out' && grep -q 'rc=0' <<<'$out'"
out=$(cni VERSION "" "" "" '{"cniVersion":"0.2.0"}')
check "VERSION with an unknown version is error 1" test "$(code "$out")" = 1
out=$(ip netns exec "$NODE" env -i "$CNI" </dev/null)
check "no CNI_COMMAND is error 4" test "$(jget '["code"]' <<<"$out")" = 4
out=$(cni FROB id /x eth0)
check "an unknown command is error 4" test "$(code "$out")" = 4
out=$(ip netns exec "$NODE" env -i CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_PATH=/opt "$CNI" <<<"$(conf)")
check "ADD names every missing variable (error 4)" \
  test "$(jget '["code"]' <<<"$out") $(jget '["details"]' <<<"$out")" = "4 ADD: CNI_NETNS, CNI_IFNAME"
out=$(cni ADD "-bad/id" /x eth0)
check "a malformed container ID is error 4" test "$(code "$out")" = 4
out=$(cni ADD good /x "much-too-long-ifname")
check "an interface name over 15 characters is error 4" test "$(code "$out")" = 4
out=$(cni ADD good /x eth0 '{"cniVersion": ')
check "undecodable configuration is error 6" test "$(code "$out")" = 6
out=$(cni ADD good /x eth0 '{"cniVersion":"1.1.0","type":"tulle-cni"}')
check "a configuration without a name is error 7" test "$(code "$out")" = 7
out=$(cni ADD good /x eth0 "$(conf 0.2.0)")
check "an unsupported cniVersion is error 1" test "$(code "$out")" = 1
out=$(cni ADD good /x eth0 '{"cniVersion":"1.1.0","name":"n","ipam":{"subnet":"10.244.9.0/33"}}')
check "a bad subnet is error 7" test "$(code "$out")" = 7
out=$(cni ADD good /var/run/netns/nope-$$ eth0)
check "ADD into a missing namespace is error 3" test "$(code "$out")" = 3

pod a; N1=$NS
out=$(cni ADD c1 "$N1" eth0)
res=$(sed '$d' <<<"$out")
check "ADD succeeds" grep -q "rc=0" <<<"$out"
ip1=$(jget '["ips"][0]["address"]' <<<"$res")
check "the result carries interfaces, ips, routes and dns" \
  test "$(jget '["interfaces"][1]["sandbox"]+" "+d["routes"][0]["dst"]+" "+d["dns"]["nameservers"][0]' <<<"$res")" = "$N1 0.0.0.0/0 10.96.0.10"
check "the address comes from the node's pod CIDR" bash -c "[[ '$ip1' == 10.244.9.*/32 ]]"
check "the pod's interface carries it" bash -c "ip -n $P-a -o addr show dev eth0 | grep -q '${ip1}'"
check "the pod's MTU is the configured one" bash -c "ip -n $P-a link show eth0 | grep -q 'mtu 1450'"
check "the node routes the address to the pod's veth" bash -c "ip -n $NODE route show ${ip1%/32} | grep -q 'dev tl'"
out=$(cni ADD c1 "$N1" eth0)
check "ADD twice fails: the interface exists (error 100)" test "$(code "$out")" = 100
out=$(cni CHECK c1 "$N1" eth0 "$(conf 1.1.0 '' ",\"prevResult\":$res")")
check "CHECK after ADD succeeds" grep -q "^rc=0" <<<"$out"
out=$(cni CHECK c1 "$N1" eth0 "$(conf 1.1.0 '' ',"prevResult":{"ips":[{"address":"10.244.9.200/32"}]}')")
check "CHECK against a different prevResult fails (error 101)" test "$(code "$out")" = 101
out=$(cni CHECK c1 "$N1" eth0 "$(conf)")
check "CHECK without prevResult is error 7" test "$(code "$out")" = 7

pod b; N2=$NS
res2=$(cni ADD c2 "$N2" eth0 | sed '$d')
ip2=$(jget '["ips"][0]["address"]' <<<"$res2")
check "a second pod gets another address" test "$ip1" != "$ip2"
check "pods on the node reach each other (ping)" ip netns exec "$P-a" ping -q -c1 -W2 "${ip2%/32}"
check "the node reaches each pod (ping)" ip netns exec "$NODE" ping -q -c1 -W2 "${ip1%/32}"
src=$(ip netns exec "$P-b" sh -c "ip -4 -o addr show dev eth0 | awk '{print \$4}'")
check "a pod's own address is the one the result reported" test "$src" = "$ip2"

out=$(cni STATUS "" "" "")
check "STATUS is ready while addresses are free" grep -q "^rc=0" <<<"$out"
out=$(cni DEL c1 "$N1" eth0)
check "DEL succeeds" grep -q "^rc=0" <<<"$out"
check "DEL removes the host veth and route" bash -c "! ip -n $NODE route show ${ip1%/32} | grep -q ."
check "DEL releases the address" test ! -e "$DATA/tulle-test/${ip1%/32}"
out=$(cni DEL c1 "$N1" eth0)
check "DEL twice succeeds" grep -q "^rc=0" <<<"$out"
out=$(cni DEL never-added /var/run/netns/gone-$$ eth0)
check "DEL of an unknown attachment with a missing namespace succeeds" grep -q "^rc=0" <<<"$out"

# GC: only c2 is still valid; c3 (added now) must go, with its host veth.
pod c; N3=$NS
res3=$(cni ADD c3 "$N3" eth0 | sed '$d')
ip3=$(jget '["ips"][0]["address"]' <<<"$res3")
out=$(cni GC "" "" "" "$(conf 1.1.0 '' ',"cni.dev/valid-attachments":[{"containerID":"c2","ifname":"eth0"}]')")
check "GC succeeds" grep -q "^rc=0" <<<"$out"
check "GC releases what no valid attachment holds" test ! -e "$DATA/tulle-test/${ip3%/32}"
check "GC keeps valid attachments" test -e "$DATA/tulle-test/${ip2%/32}"
check "GC removes the stale host veth" bash -c "! ip -n $NODE route show ${ip3%/32} | grep -q ."
out=$(cni GC "" "" "" "$(conf)")
check "GC without valid-attachments is refused (error 7), not a mass release" test "$(code "$out")" = 7

# STATUS when the range is exhausted: a one-address range, taken.
small=',"rangeStart":"10.244.9.250","rangeEnd":"10.244.9.250"'
pod d; N4=$NS
cni ADD c4 "$N4" eth0 "$(conf 1.1.0 "$small")" | sed '$d' >/dev/null
DATA_SAVE=$DATA
out=$(cni STATUS "" "" "" "$(conf 1.1.0 "$small")")
check "STATUS is error 50 when no address is left" test "$(code "$out")" = 50
pod e; N5=$NS
out=$(cni ADD c5 "$N5" eth0 "$(conf 1.1.0 "$small")")
check "ADD with no address left fails cleanly (error 102)" test "$(code "$out")" = 102
check "... and leaves no interface behind" bash -c "! ip -n $P-e link show eth0 >/dev/null 2>&1"
cni DEL c4 "$N4" eth0 "$(conf 1.1.0 "$small")" >/dev/null
cni DEL c2 "$N2" eth0 >/dev/null

# 200 containers at once: 200 distinct addresses, no interface lost.
for i in $(seq 1 200); do ip netns add "$P-p$i"; NSES+=("$P-p$i"); done
pids=()
for i in $(seq 1 200); do
  ( cni ADD "par$i" "/var/run/netns/$P-p$i" eth0 | sed '$d' >"$WORK/par$i.json" ) &
  pids+=($!)
done
wait "${pids[@]}"
n=$(cat "$WORK"/par*.json | python3 -c "
import sys,json
dec=json.JSONDecoder(); s=sys.stdin.read(); i=0; ips=[]
while i < len(s):
    s2=s[i:].lstrip()
    if not s2: break
    o,end=dec.raw_decode(s2); i=len(s)-len(s2)+end
    if 'ips' in o: ips.append(o['ips'][0]['address'])
print(len(ips), len(set(ips)))")
check "200 parallel ADDs get 200 distinct addresses" test "$n" = "200 200"
check "200 address records exist" test "$(ls "$DATA/tulle-test" | grep -c '^10\.')" = 200
for i in $(seq 1 200); do cni DEL "par$i" "/var/run/netns/$P-p$i" eth0 >/dev/null & done
wait
check "200 DELs release every address" test "$(ls "$DATA/tulle-test" | grep -c '^10\.')" = 0
check "and remove every host veth" test "$(ip -n "$NODE" -o link show | grep -c ' tl')" = 0
