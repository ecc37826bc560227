# A local 3-node cluster: nodes Ready, pods scheduled across them and wired by
# tulle-cni, every pod reaches every pod (same node and across nodes) with no NAT (the
# peer sees the pod's own address, which is its status.podIP), every node reaches every
# pod, a killed pod process comes back with the same address, and `cluster delete`
# leaves no namespace, process or file behind.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP cluster: needs root for network namespaces"; exit 0; }
C=e$$
with_cluster "$C"
t() { "$TULLE" "$@"; }

check "cluster create brings up 3 Ready nodes" bash -c "timeout 90 '$TULLE' cluster create --name $C --nodes 3 >/dev/null"
check "three nodes are Ready" test "$(t get nodes --no-headers | grep -c ' Ready ')" = 3
check "the overlay is the default: each node has a VXLAN device" \
  bash -c "'$TULLE' cluster exec --name $C --node $C-worker -- ip -d link show tulle-vx | grep -q 'vxlan id 1'"
check "cluster list shows it" bash -c "'$TULLE' cluster list | grep -qx $C"
for i in 1 2 3 4 5 6; do t run "web$i" --image=nginx >/dev/null; done
podip() { t get pod "$1" -o json | jget '["status"].get("podIP","")'; }
for _ in $(seq 1 60); do
  [ "$(t get pods --no-headers | grep -c ' Running ')" = 6 ] && break
  sleep 0.5
done
check "six pods run" test "$(t get pods --no-headers | grep -c ' Running ')" = 6
check "the scheduler spreads them over the three nodes" \
  test "$(t get pods -o wide --no-headers | awk '{print $6}' | sort -u | wc -l)" = 3
declare -A IP
for i in 1 2 3 4 5 6; do IP[$i]=$(podip "web$i"); done
bad=0
for i in 1 2 3 4 5 6; do
  self=$(t exec "web$i" -- ip -4 -o addr show dev eth0 | awk '{print $4}')
  [ "$self" = "${IP[$i]}/32" ] || { echo "web$i sees $self, status.podIP ${IP[$i]}"; bad=$((bad + 1)); }
  for j in 1 2 3 4 5 6; do
    got=$(t exec "web$i" -- curl -s -m 3 "http://${IP[$j]}/")
    [ "$got" = "pod=web$j client=${IP[$i]} method=GET path=/" ] || { echo "web$i -> web$j: '$got'"; bad=$((bad + 1)); }
  done
done
check "every pod reaches every pod, itself included, seen from its own address (36 pairs)" test "$bad" = 0
bad=0
for i in 1 2 3 4 5 6; do
  for j in 1 2 3 4 5 6; do
    got=$(t exec "web$i" -- bash -c "exec 3<>/dev/udp/${IP[$j]}/80; printf probe >&3; timeout 2 head -n1 <&3")
    [ "$got" = "udp pod=web$j client=${IP[$i]}" ] || { echo "udp web$i -> web$j: '$got'"; bad=$((bad + 1)); }
  done
done
check "every pod reaches every pod over UDP too, seen from its own address (36 pairs)" test "$bad" = 0
check "overlay pods leave room for VXLAN (MTU 1450)" bash -c "'$TULLE' exec web1 -- ip link show eth0 | grep -q 'mtu 1450'"
check "each pod's own address is its status.podIP" test "$bad" = 0
bad=0
for n in $C-control-plane $C-worker $C-worker2; do
  for j in 1 2 3 4 5 6; do
    got=$(t cluster exec --name "$C" --node "$n" -- curl -s -m 3 "http://${IP[$j]}/")
    [[ "$got" == "pod=web$j client="* ]] || { echo "$n -> web$j: '$got'"; bad=$((bad + 1)); }
  done
done
check "every node reaches every pod" test "$bad" = 0

# The generic probe server: every declared port, TCP, UDP and SCTP.
printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"probe"},"spec":{"containers":[{"name":"c","image":"agnhost","ports":[{"containerPort":81},{"containerPort":5353,"protocol":"UDP"},{"containerPort":9999,"protocol":"SCTP"}]}]}}' | t apply -f - >/dev/null
for _ in $(seq 1 60); do [ "$(t get pod probe --no-headers | grep -c Running)" = 1 ] && break; sleep 0.25; done
pip=$(podip probe)
check "the probe server answers on a declared TCP port" test "$(t exec web1 -- curl -s -m 3 "http://$pip:81/")" = "pod=probe client=${IP[1]} method=GET path=/"
check "... on a declared UDP port" \
  test "$(t exec web1 -- bash -c "exec 3<>/dev/udp/$pip/5353; printf x >&3; timeout 2 head -n1 <&3")" = "udp pod=probe client=${IP[1]}"
if python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)' 2>/dev/null; then
  check "... and listens on its SCTP port" \
    bash -c "'$TULLE' exec probe -- cat /proc/net/sctp/eps | awk '{print \$6}' | grep -qx 9999"
else
  echo "SKIP probe server SCTP port: this kernel has no SCTP support (socket: Protocol not supported)"
  check "... and a port the kernel cannot serve does not take the pod down" \
    test "$(t get pod probe -o json | jget '["status"]["containerStatuses"][0]["restartCount"]')" = 0
fi

# A pod's process dies: the agent restarts it in the same namespace, same address.
node=$(t get pod web2 -o json | jget '["spec"]["nodeName"]')
uid=$(t get pod web2 -o json | jget '["metadata"]["uid"]')
rec="$TULLE_HOME/clusters/$C/nodes/$node/pods/$uid"
pid=$(sed -n 5p "$rec")
kill -9 "$pid"
for _ in $(seq 1 40); do
  [ "$(sed -n 5p "$rec")" != "$pid" ] && [ "$(t get pod web2 -o json | jget '["status"]["containerStatuses"][0]["restartCount"]')" = 1 ] && break
  sleep 0.25
done
check "a killed pod process is restarted (restartCount 1)" \
  test "$(t get pod web2 -o json | jget '["status"]["containerStatuses"][0]["restartCount"]')" = 1
check "... with the same address, still serving" \
  test "$(t exec web1 -- curl -s -m 3 "http://${IP[2]}/")" = "pod=web2 client=${IP[1]} method=GET path=/"

# The agent dies and comes back: its pods keep running, with the same addresses.
n0=$(t get pod web1 -o json | jget '["spec"]["nodeName"]')
before=$(t get pods -o wide --no-headers | awk -v n="$n0" '$6 == n {print $1, $5}' | sort)
check "an agent is killed and restarted" bash -c "'$TULLE' cluster restart-agent --name $C --node $n0 | grep -q restarted"
sleep 2
after=$(t get pods -o wide --no-headers | awk -v n="$n0" '$6 == n {print $1, $5}' | sort)
check "... its pods keep their addresses" test "$before" = "$after"
check "... and keep serving" test "$(t exec web2 -- curl -s -m 3 "http://${IP[1]}/")" = "pod=web1 client=${IP[2]} method=GET path=/"
# A new pod pinned to that node proves the restarted agent itself runs pods.
printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"late"},"spec":{"nodeName":"%s","containers":[{"name":"c","image":"nginx"}]}}' "$n0" | t apply -f - >/dev/null
for _ in $(seq 1 60); do [ "$(t get pod late --no-headers | grep -c Running)" = 1 ] && break; sleep 0.25; done
check "... and the restarted agent runs a new pod on its node" test "$(t get pod late --no-headers | grep -c Running)" = 1
lip=$(podip late)
check "... which is reachable" test "$(t exec web2 -- curl -s -m 3 "http://$lip/")" = "pod=late client=${IP[2]} method=GET path=/"

t delete pod web3 >/dev/null
for _ in $(seq 1 40); do ip netns list | grep -q "^tl-$C-p${uid:0:8}" || break; sleep 0.25; done
# Records are the files named by a pod's uid alone (logs and resolv.conf have suffixes);
# the DNS add-on's pods live in kube-system.
left=$(find "$TULLE_HOME/clusters/$C/nodes" -path '*/pods/*' -type f ! -name '*.*' -exec head -qn1 {} + | grep -cx default)
check "deleting a pod removes its namespace and record" test "$left" = 7

podpids=$(for f in $(find "$TULLE_HOME/clusters/$C/nodes" -path '*/pods/*' -type f ! -name '*.*'); do sed -n 5p "$f"; done)
# Every process in a pod or node namespace of the cluster, found by namespace inode.
nsinodes=$(for n in $(ip netns list | awk '{print $1}' | grep "^tl-$C-"); do stat -L -c %i "/var/run/netns/$n"; done | sort -u)
ns_procs() {
  local n=0 p ino
  for p in /proc/[0-9]*; do
    ino=$(stat -L -c %i "$p/ns/net" 2>/dev/null) || continue
    grep -qx "$ino" <<<"$nsinodes" && { echo "left: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")"; n=$((n + 1)); }
  done
  return "$n"
}
check "cluster delete succeeds" bash -c "'$TULLE' cluster delete --name $C | grep -q 'Deleted cluster'"
check "no namespace of the cluster is left" test "$(ip netns list | grep -c "^tl-$C-")" = 0
for _ in $(seq 1 20); do
  ps -eo args | grep -q -- "[-]-cluster $C " || break
  sleep 0.1
done
ps -eo pid,args | grep -- "[-]-cluster $C " || true
check "no agent is left" bash -c "! ps -eo args | grep -q -- '[-]-cluster $C '"
# A killed process whose parent (the agent) died first is a zombie until init reaps
# it: it holds nothing, so only running processes count.
for _ in $(seq 1 20); do ns_procs >/dev/null && break; sleep 0.1; done
check "no process is left in any of the cluster's namespaces (pods' children included)" ns_procs
alive=0
for p in $podpids; do
  st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ] && { echo "pod process $p still runs ($st)"; alive=$((alive + 1)); }
done
check "no pod process is left" test "$alive" = 0
check "no state is left" test ! -e "$TULLE_HOME/clusters/$C"

# Native routing over the fabric instead of the overlay: two nodes, pods across them.
check "cluster create --routing native" bash -c "timeout 90 '$TULLE' cluster create --name $C --nodes 2 --routing native >/dev/null"
t run n1 --image=nginx >/dev/null
t run n2 --image=nginx >/dev/null
for _ in $(seq 1 60); do [ "$(t get pods --no-headers | grep -c ' Running ')" = 2 ] && break; sleep 0.5; done
a=$(podip n1); b=$(podip n2)
check "native routing: pods on two nodes reach each other without NAT" \
  test "$(t exec n1 -- curl -s -m 3 "http://$b/")" = "pod=n2 client=$a method=GET path=/"
check "native routing: pods get the fabric's full MTU" bash -c "'$TULLE' exec n1 -- ip link show eth0 | grep -q 'mtu 1500'"
check "native routing: cluster delete leaves nothing" bash -c "'$TULLE' cluster delete --name $C >/dev/null && ! ip netns list | grep -q '^tl-$C-'"
