# `tulle policy matrix` and `tulle policy trace` as a user scripts them: from files with
# no server, and from a live server; the JSON shape the issue fixes; lab 3's outcomes.
. "$(dirname "$0")/../lib.sh"
DATA=$(cd "$(dirname "$0")/../data/policy" && pwd)
LAB3=(-f "$DATA/lab3-pods.yaml" -f "$MANIFESTS/19-lab3-networkpolicy-default-deny.yaml"
      -f "$MANIFESTS/20-lab3-networkpolicy-allow-frontend-to-backend.yaml"
      -f "$MANIFESTS/21-lab3-networkpolicy-allow-backend-to-db.yaml" -f "$MANIFESTS/22-lab3-networkpolicy-allow-dns.yaml")

out=$("$TULLE" policy matrix "${LAB3[@]}" -f "$ROOT/examples/lab3-network-policy/egress-allows.yaml" --port 80/TCP --port 5432/TCP --port 53/UDP -o json)
check "matrix -o json has one probe per ordered pair and port" \
  test "$(jget '["probes"].__len__()' <<<"$out")" = 48
check "probes carry from/to/port/protocol/allowed/egress/ingress" \
  test "$(jget '["probes"][0].keys().__len__()' <<<"$out")" = 7
probe() { python3 -c "
import json,sys
d=json.load(sys.stdin)
m=[p for p in d['probes'] if p['from']==sys.argv[1] and p['to']==sys.argv[2] and p['port']==int(sys.argv[3]) and p['protocol']==sys.argv[4]]
print(m[0]['allowed'] if m else 'missing')" "$@"; }
check "lab 3: frontend -> backend:80 allowed" test "$(probe secure-app/frontend secure-app/backend 80 TCP <<<"$out")" = True
check "lab 3: frontend -> database:5432 denied" test "$(probe secure-app/frontend secure-app/database 5432 TCP <<<"$out")" = False
check "lab 3: backend -> database:5432 allowed" test "$(probe secure-app/backend secure-app/database 5432 TCP <<<"$out")" = True
check "lab 3: DNS to kube-system allowed for all" bash -c "
  for p in frontend backend database; do [ \"\$(python3 -c \"
import json,sys
d=json.load(open('/dev/stdin'))
print([x for x in d['probes'] if x['from']=='secure-app/'+sys.argv[1] and x['to']=='kube-system/coredns' and x['port']==53][0]['allowed'])\" \$p <<<'$out')\" = True ] || exit 1; done"

out=$("$TULLE" policy matrix "${LAB3[@]}")
check "the table form prints one grid per port with . and X" \
  bash -c "grep -q '^TCP/80:' <<<'$out' && grep -q '^UDP/53:' <<<'$out' && grep -q '^secure-app/frontend	\\.' <<<'$out' && grep -q '^secure-app/frontend	.*X' <<<'$out'"

out=$("$TULLE" policy trace --from secure-app/frontend --to secure-app/backend --port 80/TCP "${LAB3[@]}")
check "trace names the side that denies and why (the seed's lab 3 as written)" \
  bash -c "grep -q 'egress  at secure-app/frontend: denied: policies select the pod for egress' <<<'$out' && grep -q 'verdict: DENIED' <<<'$out'"
check "trace names the allowing rule" grep -q "allowed by NetworkPolicy secure-app/allow-frontend-to-backend ingress\[0\]" <<<"$out"
check "trace lists the policies that select each pod" grep -q "selected by: NetworkPolicy secure-app/default-deny, NetworkPolicy secure-app/allow-dns" <<<"$out"

out=$("$TULLE" policy trace --from default/frontend --to default/api --port 8080/TCP --http GET /api/v1/users \
      -f "$DATA/seed-pods.yaml" -f "$MANIFESTS/14-ciliumnetworkpolicy-api-l7-policy.yaml")
check "an L7 rule admits GET /api/v1/users" bash -c "grep -q 'redirected to the L7 proxy' <<<'$out' && grep -q 'verdict: ALLOWED (L7)' <<<'$out'"
out=$("$TULLE" policy trace --from default/frontend --to default/api --port 8080/TCP --http DELETE /api/v1/users \
      -f "$DATA/seed-pods.yaml" -f "$MANIFESTS/14-ciliumnetworkpolicy-api-l7-policy.yaml" -o json)
check "... and refuses DELETE (JSON form)" test "$(jget '["allowed"]' <<<"$out")" = False
out=$("$TULLE" policy trace --from production/backend --to 8.8.8.8/32 --port 443/TCP \
      -f "$DATA/seed-pods.yaml" -f "$MANIFESTS/15-globalnetworkpolicy-deny-egress-to-external.yaml")
check "a CIDR destination is traced (GlobalNetworkPolicy denies external egress)" \
  bash -c "grep -q 'denied by GlobalNetworkPolicy deny-egress-to-external egress\[1\]' <<<'$out'"
HDR=(--from production/frontend --to production/backend --port 8080/TCP --http GET /premium/a
     -f "$DATA/seed-pods.yaml" -f "$DATA/cilium-headers.yaml")
check "trace --http-header: a header an HTTP rule requires admits the request" \
  bash -c "'$TULLE' policy trace ${HDR[*]@Q} --http-header X-User:premium | grep -qx 'verdict: ALLOWED (L7)'"
check "... without it, or with another value, the proxy would answer 403" \
  bash -c "'$TULLE' policy trace ${HDR[*]@Q} | grep -qx 'verdict: DENIED' && '$TULLE' policy trace ${HDR[*]@Q} --http-header 'X-User: basic' | grep -qx 'verdict: DENIED'"
check "Calico tiers, ICMP, notProtocol, serviceAccounts from the CLI: a Tier with defaultAction Pass" \
  bash -c "'$TULLE' policy trace --from default/client --to default/frontend --port 80/TCP -f '$DATA/seed-pods.yaml' -f '$DATA/calico-tiers.yaml' | grep -q \"tier audit .* defaultAction is Pass\""
check "... and an ICMP probe (TYPE.CODE/ICMP) against an icmp rule" \
  bash -c "'$TULLE' policy trace --from default/client --to default/web --port 8.0/ICMP -f '$DATA/seed-pods.yaml' -f '$DATA/calico-rules.yaml' | grep -q '^default/client -> default/web ICMP/8.0' && '$TULLE' policy trace --from default/client --to default/web --port 8.1/ICMP -f '$DATA/seed-pods.yaml' -f '$DATA/calico-rules.yaml' | grep -qx 'verdict: DENIED'"
IPB=(--from production/frontend --to production/database --port 5432/TCP -f "$DATA/seed-pods.yaml" -f "$DATA/cidr-scope.yaml")
check "an ipBlock matches pods by address (Kubernetes), and not with --ipblock cilium" \
  bash -c "'$TULLE' policy trace ${IPB[*]@Q} | grep -qx 'verdict: ALLOWED' && '$TULLE' policy trace ${IPB[*]@Q} --ipblock cilium | grep -qx 'verdict: DENIED'"
check "Cilium's fromCIDR never selects a pod" \
  bash -c "'$TULLE' policy trace --from production/frontend --to production/backend --port 8080/TCP -f '$DATA/seed-pods.yaml' -f '$DATA/cidr-scope.yaml' | grep -qx 'verdict: DENIED'"
out=$("$TULLE" policy trace --from nope/x --to secure-app/backend --port 80/TCP "${LAB3[@]}" 2>&1)
check "an unknown pod is a clear error" grep -q "pod nope/x not found" <<<"$out"

# Live cluster state: the same objects through the API server.
S=$WORK/s
start_server "$S" || exit 1
export TULLE_SERVER="unix://$S/api.sock"
"$TULLE" apply -f "$DATA/lab3-pods.yaml" >/dev/null
"$TULLE" apply "${LAB3[@]:2}" >/dev/null
out=$("$TULLE" policy matrix --port 80/TCP -o json)
check "without -f the matrix reads the live cluster" \
  test "$(probe secure-app/frontend secure-app/backend 80 TCP <<<"$out")" = False
"$TULLE" apply -f "$DATA/seed-pods.yaml" -f "$DATA/calico-rules.yaml" -f "$DATA/calico-tiers.yaml" >/dev/null
check "live: Tier objects and ServiceAccounts are read from the server (defaultAction Pass, a pod's service account)" \
  bash -c "'$TULLE' policy trace --from default/client --to default/frontend --port 80/TCP | grep -q 'defaultAction is Pass' &&
           '$TULLE' policy trace --from default/bot --to default/web --port 80/TCP | grep -qx 'verdict: ALLOWED'"
"$TULLE" apply -f "$DATA/ipblock-live.yaml" >/dev/null
# Addresses are status (what an agent reports), written through the status subresource.
for p in src:10.250.0.1 dst:10.250.0.2; do
  curl -s --unix-socket "$S/api.sock" -X PATCH -H 'Content-Type: application/merge-patch+json' \
    -d "{\"status\":{\"podIP\":\"${p#*:}\"}}" "http://x/api/v1/namespaces/ipb/pods/${p%%:*}/status" >/dev/null
done
"$TULLE" create namespace kube-system >/dev/null 2>&1
LIVE=(--from ipb/src --to ipb/dst --port 80/TCP)
before=$("$TULLE" policy trace "${LIVE[@]}" | tail -1)
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tulle-config, namespace: kube-system}\ndata: {policy-ipblock: cilium}\n' |
  "$TULLE" apply -f - >/dev/null
after=$("$TULLE" policy trace "${LIVE[@]}" | tail -1)
check "live: ConfigMap kube-system/tulle-config policy-ipblock=cilium switches the ipBlock meaning" \
  bash -c "[ '$before' = 'verdict: ALLOWED' ] && [ '$after' = 'verdict: DENIED' ]"
check "the server shuts down cleanly (no sanitizer report)" stop_server "$S"
