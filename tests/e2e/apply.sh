# `tulle apply/get/delete` with the seed's manifests: every one applies unchanged (17,
# kind's config, is refused as not an API object), comes back with its fields and the
# API's defaults, re-applies as unchanged, and bad manifests write nothing.
. "$(dirname "$0")/../lib.sh"
S=$WORK/s
start_server "$S" || exit 1
export TULLE_SERVER="unix://$S/api.sock"
t() { "$TULLE" "$@"; }
rev() { curl -s --unix-socket "$S/api.sock" http://x/api/v1/namespaces | jget '["metadata"]["resourceVersion"]'; }
# The server's controllers write on their own (EndpointSlices); wait until they are done
# before taking a revision to compare against.
settle() { local a b; a=$(rev); for _ in $(seq 1 20); do sleep 0.4; b=$(rev); [ "$a" = "$b" ] && return; a=$b; done; }

files=()
for f in "$MANIFESTS"/*.yaml; do case $f in *17-lab1-cluster*) ;; *) files+=(-f "$f");; esac; done

settle; before=$(rev)
out=$(t apply "${files[@]}" 2>&1); rc=$?
check "seed manifests need their namespaces first (NotFound, as kubectl)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'Error from server (NotFound): namespaces \"production\" not found' <<<'$out'"
check "a failed apply writes nothing" test "$(rev)" = "$before"

printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: production\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: secure-app\n' >"$WORK/ns.yaml"
check "namespaces apply" bash -c "'$TULLE' apply -f '$WORK/ns.yaml' >/dev/null"
out=$(t apply "${files[@]}" 2>&1); rc=$?
check "every seed manifest but 17 applies" test "$rc" = 0
# 23 files, two of them with two objects; 24 reuses 05's name, so it reconfigures it.
check "apply reports each object as created" test "$(grep -c ' created$' <<<"$out")" = 24
check "the web-ingress of 05 is reconfigured by 24 (same name)" grep -q "ingress.networking.k8s.io/web-ingress configured" <<<"$out"
out=$(t apply "${files[@]}" 2>&1)
# Only web-ingress changes: 05 and 24 define it differently, so it flips twice.
check "applying again changes nothing else" test "$(grep -v ' unchanged$' <<<"$out" | sort -u)" = "ingress.networking.k8s.io/web-ingress configured"

y=$(t get svc web-service -o json)
check "NodePort 30080 kept as written" test "$(jget '["spec"]["ports"][0]["nodePort"]' <<<"$y")" = 30080
check "targetPort 8080 kept" test "$(jget '["spec"]["ports"][0]["targetPort"]' <<<"$y")" = 8080
check "externalTrafficPolicy defaults to Cluster" test "$(jget '["spec"]["externalTrafficPolicy"]' <<<"$y")" = Cluster
y=$(t get svc frontend-service -o json)
check "the AWS NLB annotation is kept" \
  test "$(jget '["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"]' <<<"$y")" = nlb
check "a LoadBalancer gets a NodePort" bash -c "[ $(jget '["spec"]["ports"][0]["nodePort"]' <<<"$y") -ge 30000 ]"
y=$(t get svc external-db -o json)
check "ExternalName keeps externalName and gets no ClusterIP" \
  test "$(jget '["spec"]["externalName"]+"/"+str(d["spec"].get("clusterIP"))' <<<"$y")" = "db.example.com/None"
y=$(t get netpol allow-dns-and-api -o json)
check "NetworkPolicy fields are intact" test "$(jget '["spec"]["egress"][0]["ports"][0]["port"]' <<<"$y")" = 53
y=$(t get netpol namespace-isolation -o json)
check "NetworkPolicy policyTypes as written" test "$(jget '["spec"]["policyTypes"]' <<<"$y")" = "['Ingress']"
y=$(t get cnp api-l7-policy -o json)
check "CiliumNetworkPolicy L7 rules intact" test "$(jget '["spec"]["ingress"][0]["toPorts"][0]["rules"]["http"][1]["path"]' <<<"$y")" = /api/v1/orders
y=$(t get gnp deny-egress-to-external -o json)
check "GlobalNetworkPolicy is cluster-scoped and keeps its selector" \
  test "$(jget '["spec"]["selector"]+"/"+str("namespace" in d["metadata"])' <<<"$y")" = 'tier == "production"/False'
y=$(t get ts api-rollout -n production -o json)
check "TrafficSplit weights intact" test "$(jget '["spec"]["backends"][1]["weight"]' <<<"$y")" = 10
y=$(t get vs api-vs -o json)
check "VirtualService header match intact" test "$(jget '["spec"]["http"][0]["match"][0]["headers"]["user-type"]["exact"]' <<<"$y")" = premium
y=$(t get clusterissuer letsencrypt-prod -o json)
check "ClusterIssuer ACME server intact" test "$(jget '["spec"]["acme"]["server"]' <<<"$y")" = https://acme-v02.api.letsencrypt.org/directory
check "every kind lists" bash -c "for k in gateway httproute dr bgpconfiguration ingress; do '$TULLE' get \$k -A | grep -q AGE || exit 1; done"
out=$(t get svc)
check "get svc prints kubectl's columns" bash -c "grep -q '^NAME *TYPE *CLUSTER-IP *EXTERNAL-IP *PORT(S) *AGE' <<<'$out' && grep -q 'web-service *NodePort .* 80:30080/TCP' <<<'$out'"
out=$(t get svc web-service -o yaml)
check "-o yaml reads back as the same object" bash -c "printf '%s\n' '$out' | '$TULLE' apply -f - | grep -q 'service/web-service unchanged'"

# Bad manifests: each is refused with file:line:col and the field, and nothing changes.
settle; before=$(rev)
printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports: [{port: 80}\n' >"$WORK/syntax.yaml"
out=$(t apply -f "$WORK/syntax.yaml" 2>&1)
check "a syntax error names file:line:col" grep -q "syntax.yaml:7:1: YAML syntax error" <<<"$out"
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: "3"\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n' >"$WORK/type.yaml"
out=$(t apply -f "$WORK/type.yaml" 2>&1)
check "a wrong type names file:line:col and the field" grep -q 'type.yaml:5:13: Deployment "d" is invalid: spec.replicas: Invalid value: "3": must be of type integer' <<<"$out"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: port\nspec:\n  ports:\n  - port: 0\n' >"$WORK/port.yaml"
out=$(t apply -f "$WORK/port.yaml" 2>&1)
check "an out-of-range port is refused with its path" grep -q 'port.yaml:11:11: Service "port" is invalid: spec.ports\[0\].port: Invalid value: 0: must be between 1 and 65535, inclusive' <<<"$out"
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {"app": "no spaces allowed"}\nspec: {containers: [{name: c}]}\n' >"$WORK/label.yaml"
out=$(t apply -f "$WORK/label.yaml" 2>&1)
check "a bad label value is refused with its path" grep -q 'label.yaml:5:19: Pod "p" is invalid: metadata.labels\[app\]: Invalid value: "no spaces allowed"' <<<"$out"
out=$(t apply -f "$MANIFESTS/17-lab1-cluster-unnamed.yaml" 2>&1)
check "kind's cluster config is refused as not an API object" grep -q "is not an API object" <<<"$out"
check "none of the bad manifests changed the store" test "$(rev)" = "$before"
check "nor did the valid ConfigMap beside a bad Service" bash -c "! '$TULLE' get cm ok 2>/dev/null"

printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ncolour: blue\ndata: {a: b}\n' >"$WORK/unknown.yaml"
out=$(t apply -f "$WORK/unknown.yaml" 2>&1)
check "an unknown field is refused by default" grep -q 'unknown.yaml:4:9: ConfigMap "extra" is invalid: unknown field "colour"' <<<"$out"
out=$(t apply --validate=warn -f "$WORK/unknown.yaml" 2>&1)
check "--validate=warn applies it, warning about the dropped field" \
  bash -c "grep -q 'warning: unknown field \"colour\" (dropped)' <<<'$out' && grep -q 'configmap/extra created' <<<'$out'"
check "delete by name" bash -c "'$TULLE' delete svc backend-service | grep -q 'service \"backend-service\" deleted'"
check "delete -f removes the file's objects" bash -c "'$TULLE' delete -f '$MANIFESTS/13-virtualservice-destinationrule-api-vs.yaml' | grep -c deleted | grep -q 2"
out=$(t get svc nope 2>&1)
check "a missing object is NotFound as kubectl says it" grep -q 'Error from server (NotFound): services "nope" not found' <<<"$out"
mkdir -p "$TULLE_HOME"; echo "$S" >"$TULLE_HOME/current"
check "without --server or TULLE_SERVER the current cluster's server is used" \
  bash -c "unset TULLE_SERVER; '$TULLE' get svc web-service -o name | grep -q service/web-service"
check "with neither and no current cluster, the error says what to do" \
  bash -c "unset TULLE_SERVER; TULLE_HOME=/nonexistent '$TULLE' get svc 2>&1 | grep -q 'pass --server URL, set TULLE_SERVER'"
check "the server shuts down cleanly (no sanitizer report)" stop_server "$S"
