# Policy enforced in the kernel on a live cluster, as the chapter's lab 3 has it (with
# the pods labelled and the egress allows the lab leaves out), seen through real
# clients: curl, bash's /dev/tcp, nslookup; flows through `tulle observe` (compact and
# Hubble JSON); metrics through promtool; an established connection cut by a new
# policy; an agent killed and restarted while probes run.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP enforce: needs root (network namespaces, BPF)"; exit 0; }
C=enf$$
with_cluster "$C"
t() { "$TULLE" "$@"; }
t cluster create --name "$C" --nodes 3 >"$WORK/create.log" 2>&1 || { fail "cluster create" "$(tail -5 "$WORK/create.log")"; exit 0; }
t create namespace secure-app >/dev/null
for app in frontend:nginx:80 backend:nginx:80 database:postgres:5432; do
  IFS=: read -r name image port <<<"$app"
  t create deployment "$name" --image="$image" -n secure-app >/dev/null
  t patch deployment "$name" -n secure-app -p "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"tier\":\"$name\"}}}}}" >/dev/null
  t expose deployment "$name" --port="$port" -n secure-app >/dev/null
done
for f in 19 20 21 22; do t apply -f "$(ls "$MANIFESTS"/$f-*.yaml)" >/dev/null; done
t apply -f "$ROOT/examples/lab3-network-policy/egress-allows.yaml" >/dev/null
for d in frontend backend database; do t rollout status deployment "$d" -n secure-app --timeout=60s >/dev/null; done

fails() { ! "$@"; }
x() { t exec -n secure-app "deployment/$1" -- "${@:2}"; }
# tcp FROM HOST PORT: 0 when a TCP connection opens within 1 s.
tcp() { x "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
http_ok() { x "$1" curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$2" 2>/dev/null | grep -q 200; }
# Policies reach every node's maps within milliseconds; the first check waits a little.
for _ in $(seq 1 20); do http_ok frontend backend && break; sleep 0.25; done
check "lab 3: frontend -> backend:80 succeeds" http_ok frontend backend
check "lab 3: frontend -> database:5432 is blocked" fails tcp frontend database 5432
check "lab 3: backend -> database:5432 succeeds" tcp backend database 5432
check "lab 3: database -> backend:80 is blocked (only the allows open paths)" fails tcp database backend 80
for d in frontend backend database; do
  check "lab 3: DNS works from $d" grep -q 'Address: 10\.96\.' <<<"$(x "$d" nslookup backend.secure-app.svc.cluster.local 2>&1)"
done

out=$(t observe --namespace secure-app --verdict DROPPED --last 50)
check "observe --verdict DROPPED shows the blocked attempt with its reason and pods" \
  grep -qE 'secure-app/frontend-[a-z0-9-]+:[0-9]+ \(ID:[0-9]+\) -> secure-app/database-[a-z0-9-]+:5432 \(ID:[0-9]+\).* POLICY_DENIED DROPPED \(TCP Flags: SYN\)' <<<"$out"
check "... and no allowed path is in it" fails grep -q 'backend-.*-> secure-app/database' <<<"$out"
json=$(t observe --namespace secure-app --verdict DROPPED --last 50 -o json)
check "observe -o json carries Hubble's field names (jq-style paths work)" python3 -c "
import json,sys
rows=[json.loads(l) for l in sys.stdin if l.strip()]
ok=[r for r in rows if r['flow']['verdict']=='DROPPED' and r['flow']['drop_reason_desc']=='POLICY_DENIED'
    and r['flow']['source']['pod_name'].startswith('frontend-') and r['flow']['destination']['namespace']=='secure-app'
    and r['flow']['l4']['TCP']['destination_port']==5432 and r['flow']['traffic_direction']=='EGRESS'
    and r['flow']['destination_service']['name']=='database' and 'k8s:tier=frontend' in r['flow']['source']['labels']
    and r['node_name'] and r['time']]
sys.exit(0 if ok else 1)" <<<"$json"
fwd=$(t observe --from-pod secure-app/backend --to-namespace secure-app --verdict FORWARDED --protocol tcp --port 5432 -o json --last 100)
check "observe names the allowing policy of a new connection (egress_allowed_by)" \
  grep -q '"egress_allowed_by":\[{"kind":"NetworkPolicy","namespace":"secure-app","name":"allow-backend-egress-to-db"}\]' <<<"$fwd"
check "observe --type drop and --label filter" bash -c "'$TULLE' observe --type drop --label tier=frontend --last 5 | grep -q 'POLICY_DENIED DROPPED'"

# Lab 1's view: flows of a curl in the default namespace.
t create deployment web --image=nginx >/dev/null
t expose deployment web --port=80 >/dev/null
t run client --image=busybox -- sleep 3600 >/dev/null
t rollout status deployment web --timeout=60s >/dev/null; wait_running default 2
for _ in $(seq 1 20); do t exec client -- curl -s -m 2 http://web >/dev/null 2>&1 && break; sleep 0.25; done
out=$(t observe --namespace default --verdict FORWARDED --last 100)
check "lab 1: observe --namespace default --verdict FORWARDED shows the curl's flows" \
  grep -qE 'default/client:[0-9]+ \(ID:[0-9]+\) -> default/web-[a-z0-9-]+:80 .*service default/web' <<<"$out"

# Metrics: each agent serves Prometheus text that promtool accepts.
node=$(t get pods -n secure-app -l app=frontend -o json | jget '["items"][0]["spec"]["nodeName"]')
sock=$TULLE_HOME/clusters/$C/nodes/$node/observer.sock
metrics=$(curl -s --unix-socket "$sock" http://x/metrics)
check "metrics pass promtool check metrics" promtool check metrics <<<"$metrics"
check "metrics count policy drops by reason and direction" \
  grep -qE '^tulle_drop_count_total\{node="[^"]+",reason="POLICY_DENIED",direction="EGRESS"\} [1-9]' <<<"$metrics"
check "metrics count verdicts by policy" grep -q 'tulle_policy_verdicts_total{node=".*",policy="NetworkPolicy/secure-app/allow-dns",direction="EGRESS",verdict="FORWARDED"}' <<<"$metrics"
check "metrics report flow events emitted" grep -q '^tulle_datapath_flow_events_total' <<<"$metrics"
check "metrics report flow events lost" grep -q '^tulle_datapath_flow_events_lost_total' <<<"$metrics"
check "metrics report the policy map's pressure" grep -q '^tulle_datapath_map_pressure{.*map="tl_policy"' <<<"$metrics"
nodeip=$(t get node "$node" -o json | jget '["status"]["addresses"][0]["address"]')
other=$(t get nodes -o name | cut -d/ -f2 | grep -v "^$node\$" | head -1)
check "metrics are served on the node's address, port 9962 (scraped from another node)" \
  bash -c "'$TULLE' cluster exec --name $C --node $other -- curl -s -m 2 http://$nodeip:9962/metrics | grep -q '^tulle_policy_entries'"

# policy trace --live: each side's node is asked what its maps decide.
podname() { t get pods -n secure-app -l "app=$1" -o name | head -1 | cut -d/ -f2; }
FE=$(podname frontend) BE=$(podname backend) DB=$(podname database)
trace_live() { t policy trace --live --from "secure-app/$1" --to "secure-app/$2" --port "$3" >"$WORK/live" 2>&1; echo $? >"$WORK/live.rc"; }
trace_live "$FE" "$BE" 80/TCP
check "policy trace --live: frontend -> backend:80 is allowed and both nodes' maps agree with the engine" \
  bash -c "[ \$(cat '$WORK/live.rc') = 0 ] && grep -q '^verdict: ALLOWED' '$WORK/live' && [ \$(grep -c 'datapath: agrees on node .*: allowed by NetworkPolicy secure-app/' '$WORK/live') = 2 ] && grep -q '^live: the datapath.s maps agree with the engine' '$WORK/live'" ||
  cat "$WORK/live"
trace_live "$FE" "$DB" 5432/TCP
check "policy trace --live: frontend -> database:5432 is denied and the maps agree" \
  bash -c "[ \$(cat '$WORK/live.rc') = 0 ] && grep -q '^verdict: DENIED' '$WORK/live' && grep -q 'datapath: agrees on node .*: denied' '$WORK/live'" ||
  cat "$WORK/live"
# A map entry the agent did not write: --live must see the drift.
t policy trace --live --from "secure-app/$FE" --to "secure-app/$BE" --port 80/TCP -o json >"$WORK/live.json"
read -r enode lid pid < <(python3 -c 'import json,sys; e=json.load(sys.stdin)["live"]["egress"]; print(e["node"], e["local"]["identity"], e["peer"]["identity"])' <"$WORK/live.json")
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# key: prefix 96, local, peer, egress, TCP, port 80; value: deny, by a rule, rule 0, policy 0
bpftool map update pinned "/sys/fs/bpf/tulle/$C/$enode/tl_policy" \
  key hex 60 00 00 00 $(le32 "$lid") $(le32 "$pid") 01 06 00 50 value hex 01 01 00 00 00 00 00 00
trace_live "$FE" "$BE" 80/TCP
check "policy trace --live reports a map entry that disagrees with the engine (exit 1)" \
  bash -c "[ \$(cat '$WORK/live.rc') = 1 ] && grep -q 'datapath: DISAGREES on node $enode: denied' '$WORK/live' && grep -q '^live: the datapath.s maps DISAGREE' '$WORK/live'" ||
  cat "$WORK/live"
check "... and the datapath does deny it (the maps are what the kernel uses)" fails http_ok frontend backend
# The agent's next sync (any policy change) rewrites the maps to what it compiled.
t label namespace secure-app tulle-test=resync >/dev/null
for _ in $(seq 1 20); do trace_live "$FE" "$BE" 80/TCP; [ "$(cat "$WORK/live.rc")" = 0 ] && break; sleep 0.25; done
check "... until the agent's next sync puts back what it compiled" test "$(cat "$WORK/live.rc")" = 0
for _ in $(seq 1 20); do http_ok frontend backend && break; sleep 0.25; done

# An established connection that a new policy denies is cut on its next packet.
held() { # prints the status line of a request sent 2 s after its connection opened
  timeout 15 "$TULLE" exec -n secure-app deployment/frontend -- bash -c 'exec 3<>/dev/tcp/backend/80 || exit 1; sleep 2; printf "GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n" >&3; timeout 3 head -1 <&3' 2>/dev/null
}
check "a held connection answers when policy does not change" grep -q 200 <<<"$(held)"
( held >"$WORK/held.out" ) & hp=$!
sleep 0.8
t delete networkpolicy allow-frontend-to-backend -n secure-app >/dev/null
wait $hp
check "a held connection is cut once a new policy denies it" fails grep -q 200 "$WORK/held.out"
check "... and new connections are refused too" fails http_ok frontend backend
t apply -f "$MANIFESTS/20-lab3-networkpolicy-allow-frontend-to-backend.yaml" >/dev/null
for _ in $(seq 1 20); do http_ok frontend backend && break; sleep 0.25; done
check "... until the allow returns" http_ok frontend backend

# Agents killed and restarted while probes run: no allowed flow fails, no denied one passes.
probe_loop() {
  local end=$((SECONDS + 14))
  while [ $SECONDS -lt $end ]; do
    if http_ok frontend backend; then echo allow-ok; else echo allow-FAILED; fi
    if tcp frontend database 5432; then echo deny-PASSED; else echo deny-ok; fi
  done
}
( probe_loop >"$WORK/probes.out" ) & pp=$!
sleep 2
# Every agent killed (SIGKILL, as a crash) and left down for 4 s, then started again
# one by one; the kernel keeps enforcing from the pinned maps meanwhile.
for n in $(t get nodes -o name | cut -d/ -f2); do kill -9 "$(cat "$TULLE_HOME/clusters/$C/agent-$n.pid")"; done
sleep 4
for n in $(t get nodes -o name | cut -d/ -f2); do t cluster restart-agent --name "$C" --node "$n" >/dev/null; sleep 1; done
wait $pp
check "agents killed and restarted mid-test: allowed flows kept passing ($(grep -c allow-ok "$WORK/probes.out") probes)" \
  bash -c "grep -q allow-ok '$WORK/probes.out' && ! grep -q allow-FAILED '$WORK/probes.out'"
check "... and denied flows kept failing ($(grep -c deny-ok "$WORK/probes.out") probes)" \
  bash -c "grep -q deny-ok '$WORK/probes.out' && ! grep -q deny-PASSED '$WORK/probes.out'"
sleep 1
check "... and the restarted agents serve flows again" bash -c "'$TULLE' observe --last 5 | grep -q ."
