# Services on a local 3-node cluster through the eBPF datapath, checked with curl,
# wrk and dig: lab 1 (spread over three backends), ClusterIP from pods and nodes,
# NodePort and LoadBalancer from outside the cluster, externalIPs,
# externalTrafficPolicy Local vs Cluster, ClientIP affinity, named and multiple
# ports, UDP, hairpin, rejects without endpoints, backends leaving, the seed's
# manifests 01-04, and an agent restart under load without a failed request.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP services: needs root for network namespaces and BPF"; exit 0; }
C=s$$
with_cluster "$C"
t() { "$TULLE" "$@"; }
outside() { "$TULLE" cluster exec --name "$C" --outside -- "$@"; }
onnode() { local n=$1; shift; "$TULLE" cluster exec --name "$C" --node "$n" -- "$@"; }
# The datapath follows EndpointSlices within a second.
settle() { sleep 1.5; }

check "cluster create (3 nodes, DNS)" bash -c "timeout 120 '$TULLE' cluster create --name $C --nodes 3 >/dev/null"
N0=$C-control-plane N1=$C-worker N2=$C-worker2

# Lab 1.
t create deployment web --image=nginx --replicas=3 >/dev/null
t expose deployment web --port=80 >/dev/null
wait_running default 3
settle
check "lab 1: run debug --image=curlimages/curl -- curl http://web succeeds" \
  bash -c "timeout 30 '$TULLE' run debug --image=curlimages/curl --rm -it --restart=Never -- curl -s -m 3 http://web | grep -q '^pod=web-'"
t run client --image=curlimages/curl >/dev/null
wait_running default 4
seen=$(for i in $(seq 1 30); do t exec client -- curl -s -m 3 http://web/; echo; done | awk '{print $1}' | sort -u | grep -c '^pod=web-')
check "lab 1: repeated calls spread over all three backends" test "$seen" = 3
CIP=$(t get svc web -o json | jget '["spec"]["clusterIP"]')
check "a ClusterIP answers from every node's own processes" \
  bash -c "for n in $N0 $N1 $N2; do '$TULLE' cluster exec --name $C --node \$n -- curl -s -m 3 http://$CIP/ | grep -q '^pod=web-' || exit 1; done"
check "the backend sees the client pod's own address (no SNAT inside the cluster)" \
  bash -c "'$TULLE' exec client -- curl -s -m 3 http://web/ | grep -q \"client=\$('$TULLE' get pod client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"][\"podIP\"])') \""

# Seed manifests 01-04 with workloads behind them, in a namespace of their own (lab 1's
# web pods carry app=web too, on another port).
t create namespace seed >/dev/null
cat <<'YAML' | t apply -n seed -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend}
spec:
  replicas: 2
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec: {containers: [{name: b, image: hashicorp/http-echo, ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: webapp}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: w, image: nginx, ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  replicas: 1
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: f, image: nginx, ports: [{containerPort: 8443}]}]}
YAML
for f in 01 02 03 04; do t apply -n seed -f "$MANIFESTS"/$f-*.yaml >/dev/null || echo "apply $f failed"; done
wait_running seed 5
settle
check "01 backend-service: ClusterIP by name on 8080" \
  bash -c "'$TULLE' exec client -- curl -s -m 3 http://backend-service.seed:8080/ | grep -q '^pod=backend-'"
bad=0
for ip in 172.31.0.10 172.31.0.11 172.31.0.12; do
  outside curl -s -m 3 "http://$ip:30080/" | grep -q '^pod=webapp-' || { echo "NodePort 30080 on $ip failed"; bad=1; }
done
check "02 web-service: NodePort 30080 answers from outside the cluster on every node" test "$bad" = 0
LB=$(t get svc -n seed frontend-service -o json | jget '["status"]["loadBalancer"]["ingress"][0]["ip"]')
check "03 frontend-service: a LoadBalancer address from the pool" bash -c "[[ '$LB' == 172.31.0.* ]]"
check "... shown as EXTERNAL-IP" bash -c "'$TULLE' get svc -n seed frontend-service --no-headers | grep -q ' $LB '"
check "... its provider annotation is kept and shown" \
  bash -c "'$TULLE' describe svc -n seed frontend-service | grep -q 'service.beta.kubernetes.io/aws-load-balancer-type: *nlb'"
check "... and it answers from outside the cluster on port 443" \
  bash -c "'$TULLE' cluster exec --name $C --outside -- curl -s -m 3 http://$LB:443/ | grep -q '^pod=frontend-'"
check "04 external-db: ExternalName resolves as a CNAME to db.example.com" \
  bash -c "'$TULLE' exec client -- dig +short external-db.seed.svc.cluster.local CNAME | grep -qx 'db.example.com.'"

# externalTrafficPolicy: Local keeps the client's address and serves only local backends.
cat <<'YAML' | t apply -n seed -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: web-local}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30100}]
---
apiVersion: v1
kind: Service
metadata: {name: web-cluster}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30101}]
YAML
settle
with=$(t get pods -n seed -l app=web -o wide --no-headers | awk '{print $6}' | sort -u)
without=$(printf '%s\n' "$N0" "$N1" "$N2" | grep -vxF "$with" | head -1)
ok=1
for n in $with; do
  ip=$(t get node "$n" -o json | jget '["status"]["addresses"][0]["address"]')
  got=$(outside curl -s -m 3 "http://$ip:30100/")
  [[ "$got" == *"client=172.31.0.254 "* ]] || { echo "Local via $n: '$got'"; ok=0; }
  pod=$(echo "$got" | sed 's/^pod=\([^ ]*\).*/\1/')
  [ "$(t get pod -n seed "$pod" -o json | jget '["spec"]["nodeName"]')" = "$n" ] || { echo "Local via $n reached $pod elsewhere"; ok=0; }
done
check "Local: the client's own address reaches the backend, on the node it came to" test "$ok" = 1
if [ -n "$without" ]; then
  ip=$(t get node "$without" -o json | jget '["status"]["addresses"][0]["address"]')
  check "Local: a node without a local backend refuses at once" \
    bash -c "! timeout 2 '$TULLE' cluster exec --name $C --outside -- curl -s -m 1 http://$ip:30100/"
  got=$(outside curl -s -m 3 "http://$ip:30101/")
  check "Cluster: the same node forwards to another node's backend, which sees the node" \
    bash -c "[[ '$got' == 'pod=webapp-'*'client=$ip '* ]]"
fi

# externalIPs, ClientIP affinity, several ports, UDP, a named targetPort.
cat <<'YAML' | t apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: named, labels: {app: named}}
spec: {containers: [{name: c, image: agnhost, ports: [{name: http, containerPort: 9376}, {name: echo, containerPort: 5353, protocol: UDP}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: multi}
spec:
  selector: {app: named}
  externalIPs: [192.0.2.50]
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: alt, port: 8080, targetPort: 9376}
  - {name: echo, port: 53, protocol: UDP, targetPort: echo}
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports: [{port: 80}]
YAML
wait_running default 10
settle
check "a named targetPort resolves to the pod's port" \
  bash -c "'$TULLE' exec client -- curl -s -m 3 http://multi/ | grep -q '^pod=named '"
check "a second port of the same service" \
  bash -c "'$TULLE' exec client -- curl -s -m 3 http://multi:8080/ | grep -q '^pod=named '"
MIP=$(t get svc multi -o json | jget '["spec"]["clusterIP"]')
check "UDP through a ClusterIP, the reply from the service address" \
  bash -c "'$TULLE' exec client -- bash -c 'exec 3<>/dev/udp/$MIP/53; printf x >&3; timeout 2 head -n1 <&3' | grep -q '^udp pod=named '"
ip -n "tl-$C-outside" route add 192.0.2.50/32 via 172.31.0.11
check "externalIPs answer traffic routed to a node" \
  bash -c "'$TULLE' cluster exec --name $C --outside -- curl -s -m 3 http://192.0.2.50/ | grep -q '^pod=named '"
sticky=$(for i in $(seq 1 12); do t exec client -- curl -s -m 3 http://sticky/; done | grep '^pod=' | awk '{print $1}' | sort -u | wc -l)
check "sessionAffinity ClientIP: one backend for one client" test "$sticky" = 1

# No endpoints: a clean reject, not a hang.
printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"empty"},"spec":{"selector":{"app":"none"},"ports":[{"port":80}]}}' | t apply -f - >/dev/null
settle
start=$(date +%s%N)
t exec client -- curl -s -m 5 http://empty/ >/dev/null; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a service without endpoints refuses the connection (curl exit 7) at once (${ms} ms)" \
  bash -c "[ $rc = 7 ] && [ $ms -lt 2000 ]"

# Hairpin: the only backend calls its own service.
t create deployment solo --image=nginx >/dev/null
t expose deployment solo --port=80 >/dev/null
for _ in $(seq 1 40); do SOLO=$(t get pods -l app=solo --no-headers 2>/dev/null | awk '$3 == "Running" {print $1}'); [ -n "$SOLO" ] && break; sleep 0.25; done
settle
check "hairpin: a pod reaches itself through its service" \
  bash -c "'$TULLE' exec $SOLO -- curl -s -m 3 http://solo/ | grep -q '^pod=$SOLO '"

# A backend deleted under an open keep-alive connection: the connection ends (reset or
# closed), it does not hang.
ended=$(t exec client -- python3 -c '
import socket, time, sys
s = socket.create_connection(("solo", 80), timeout=15)
s.sendall(b"GET / HTTP/1.1\r\nHost: solo\r\n\r\n"); first = s.recv(4096)
s.sendall(b"GET / HTTP/1.1\r\nHost: solo\r\n\r\n"); second = s.recv(4096)
print("keepalive" if first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200") else "no-keepalive", end=" ")
time.sleep(4)
start = time.time()
try:
    s.sendall(b"GET / HTTP/1.1\r\nHost: solo\r\n\r\n")
    r = s.recv(4096)
    print("closed" if not r else "answered", round(time.time() - start))
except (ConnectionResetError, BrokenPipeError): print("reset", round(time.time() - start))
except socket.timeout: print("hung")
' 2>"$WORK/ka.err" & sleep 1.5; t delete pod "$SOLO" >/dev/null; wait)
check "a backend deleted under an open connection ends it (reset or closed: '$ended'), no hang" \
  bash -c "[[ '$ended' == 'keepalive reset'* || '$ended' == 'keepalive closed'* ]]"

# A backend that goes away leaves at once.
victim=$(t get pods -l app=web -o name | head -1); victim=${victim#pod/}
t delete pod "$victim" >/dev/null
settle
hits=$(for i in $(seq 1 20); do t exec client -- curl -s -m 3 http://web/; echo; done)
check "a deleted pod receives no more requests, and none fails" \
  bash -c "! grep -q 'pod=$victim ' <<<'$hits' && [ \$(grep -c '^pod=web-' <<<'$hits') = 20 ]"

# Agent restarts under load: established keep-alive connections and new ones.
t exec client -- wrk -t1 -c4 -d6s "http://$CIP/" >"$WORK/wrk1" 2>&1 &
w1=$!
t exec client -- wrk -t1 -c4 -d6s -H 'Connection: close' "http://$CIP/" >"$WORK/wrk2" 2>&1 &
w2=$!
sleep 2
for n in $N0 $N1 $N2; do t cluster restart-agent --name "$C" --node "$n" >/dev/null; done
wait $w1 $w2
for f in wrk1 wrk2; do grep -E 'requests in|Socket errors|Non-2xx' "$WORK/$f"; done
check "agent restarts during wrk through a ClusterIP: zero failed requests" \
  bash -c "grep -q 'requests in' '$WORK/wrk1' && grep -q 'requests in' '$WORK/wrk2' && ! grep -qE 'Socket errors|Non-2xx' '$WORK/wrk1' '$WORK/wrk2'"
check "after the restart, the service still answers" \
  bash -c "'$TULLE' exec client -- curl -s -m 3 http://web/ | grep -q '^pod=web-'"

m="$TULLE_HOME/clusters/$C/nodes/$N0/metrics.prom"
for _ in $(seq 1 20); do [ -s "$m" ] && break; sleep 0.5; done
check "map pressure and datapath counters are exported" \
  bash -c "grep -q 'tulle_datapath_map_pressure{node=\"$N0\",map=\"tl_ct\"}' '$m' && grep -q 'tulle_datapath_service_connections_total' '$m'"
check "cluster delete removes the pinned maps" \
  bash -c "'$TULLE' cluster delete --name $C >/dev/null && [ ! -e /sys/fs/bpf/tulle/$C ]"
