# Cluster DNS on a local cluster, asked with dig from inside pods: A for services by
# full and short names (search path, ndots:5), AAAA NODATA, NXDOMAIN, SRV for named
# ports, PTR, headless services, ExternalName, TCP, forwarding to an upstream server,
# and malformed queries answered FORMERR without hurting the server.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP dns: needs root for network namespaces and BPF"; exit 0; }
command -v dig >/dev/null || { echo "FAIL dns: dig is not installed (scripts/setup.sh installs bind9-dnsutils)"; exit 1; }
C=d$$
with_cluster "$C"
t() { "$TULLE" "$@"; }
q() { t exec client -- dig +time=2 +tries=1 "$@"; }

check "cluster create (2 nodes, DNS)" bash -c "timeout 120 '$TULLE' cluster create --name $C --nodes 2 >/dev/null"
t create deployment web --image=nginx --replicas=2 >/dev/null
t expose deployment web --port=80 --name web >/dev/null
t create namespace secure-app >/dev/null
t create deployment backend --image=nginx -n secure-app >/dev/null
t expose deployment backend --port=80 -n secure-app >/dev/null
cat <<'YAML' | t apply -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: peers}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: external-db}
spec: {type: ExternalName, externalName: db.example.com}
YAML
t run client --image=curlimages/curl >/dev/null
wait_running default 3
wait_running secure-app 1
sleep 1.5
CIP=$(t get svc web -o json | jget '["spec"]["clusterIP"]')

check "the pod's resolv.conf: cluster DNS, search path, ndots:5" \
  bash -c "'$TULLE' exec client -- cat /etc/resolv.conf | tr '\n' '|' | grep -qx 'nameserver 10.96.0.10|search default.svc.cluster.local svc.cluster.local cluster.local|options ndots:5|'"
check "A for a service's full name is its ClusterIP" test "$(q +short web.default.svc.cluster.local)" = "$CIP"
check "a short name through the search path" test "$(q +short +search web)" = "$CIP"
check "curl http://backend.secure-app from another namespace" \
  bash -c "'$TULLE' exec client -- curl -s -m 3 http://backend.secure-app/ | grep -q '^pod=backend-'"
check "AAAA of an IPv4-only service: NOERROR with no answer (NODATA)" \
  bash -c "'$TULLE' exec client -- dig web.default.svc.cluster.local AAAA | grep -q 'status: NOERROR.*' && [ -z \"\$('$TULLE' exec client -- dig +short web.default.svc.cluster.local AAAA)\" ]"
check "a missing service: NXDOMAIN" bash -c "'$TULLE' exec client -- dig nope.default.svc.cluster.local | grep -q 'status: NXDOMAIN'"
check "SRV for a named port" test "$(q +short SRV _http._tcp.peers.default.svc.cluster.local | awk '{print $3}' | sort -u)" = 80
check "PTR of a ClusterIP" test "$(q +short -x "$CIP")" = "web.default.svc.cluster.local."
ips=$(t get pods -l app=web -o json | jget '["items"]' | python3 -c "import sys,ast; print(' '.join(sorted(p['status']['podIP'] for p in ast.literal_eval(sys.stdin.read()))))")
check "a headless service answers with its ready pods' addresses" \
  test "$(q +short peers.default.svc.cluster.local | sort | tr '\n' ' ' | sed 's/ $//')" = "$ips"
check "ExternalName: a CNAME" test "$(q +short external-db.default.svc.cluster.local)" = "db.example.com."
check "queries over TCP" test "$(q +tcp +short web.default.svc.cluster.local)" = "$CIP"
check "without an upstream, other names get SERVFAIL (not a hang)" \
  bash -c "'$TULLE' exec client -- dig +time=3 +tries=1 example.com | grep -q 'status: SERVFAIL'"

# Malformed queries: two questions -> FORMERR; garbage -> dropped; the server lives on.
formerr=$(t exec client -- python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
q = b"\x01web\x07default\x03svc\x07cluster\x05local\x00" + struct.pack(">HH", 1, 1)
s.sendto(struct.pack(">HHHHHH", 0x4242, 0x0100, 2, 0, 0, 0) + q + q, ("10.96.0.10", 53))
r = s.recv(512); print(r[0] << 8 | r[1], r[3] & 15)
for junk in (b"\xff" * 3, b"\x00" * 12, bytes(range(256)) * 2, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c"):
    s.sendto(junk, ("10.96.0.10", 53))
')
check "a query with two questions gets FORMERR with its id" test "$formerr" = "16962 1"
check "after malformed queries the server still answers" test "$(q +short web.default.svc.cluster.local)" = "$CIP"
check "... and its pods never restarted" \
  test "$(t get pods -n kube-system -o json | jget '["items"]' | python3 -c "import sys,ast; print(sum(c['restartCount'] for p in ast.literal_eval(sys.stdin.read()) for c in p['status']['containerStatuses']))")" = 0

# Forwarding: an upstream server on a node (a few lines of Python answering every A
# query with 203.0.113.7), and the DNS deployment pointed at it.
N0=$C-control-plane
"$TULLE" cluster exec --name "$C" --node "$N0" -- python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("172.31.0.10", 5300))
while True:
    q, a = s.recvfrom(512)
    end = q.index(b"\0", 12) + 5
    s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:end] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([203, 0, 113, 7]), a)
' &
PIDS+=($!)
t patch deployment coredns -n kube-system --type merge -p '{"spec":{"template":{"spec":{"containers":[{"name":"coredns","image":"tulle/dns:builtin","args":["--upstream","172.31.0.10:5300"],"ports":[{"name":"dns","containerPort":53,"protocol":"UDP"},{"name":"dns-tcp","containerPort":53,"protocol":"TCP"}]}]}}}}' >/dev/null
got=
for _ in $(seq 1 40); do got=$(q +short example.com 2>/dev/null); [ "$got" = 203.0.113.7 ] && break; sleep 0.5; done
check "names outside the cluster are forwarded to the configured upstream" test "$got" = 203.0.113.7
check "... while the cluster's names are still answered locally" test "$(q +short web.default.svc.cluster.local)" = "$CIP"
