# The API server through curl: verbs, status codes, Status bodies, allocation, auth,
# bad input, watch ordering, resumption and 410 after compaction.
. "$(dirname "$0")/../lib.sh"
S=$WORK/s
start_server "$S" --listen "unix://$S/api.sock" --listen tcp://127.0.0.1:0 --history 50 || exit 1

r=$(api "$S" GET /api/v1/namespaces)
check "list namespaces has the four bootstrap namespaces" \
  test "$(body_of "$r" | jget '["items"].__len__()')" = 4
check "every namespace carries kubernetes.io/metadata.name" \
  test "$(body_of "$r" | jget '["items"][0]["metadata"]["labels"]["kubernetes.io/metadata.name"]')" = default

url=$(sed -n 2p "$S/server.url"); port=${url##*:}
c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/namespaces")
check "TCP without a token gets 401" test "$c" = 401
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "http://127.0.0.1:$port/api/v1/namespaces")
check "TCP with a wrong token gets 401" test "$c" = 401
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$S/token")" "http://127.0.0.1:$port/api/v1/namespaces")
check "TCP with the token gets 200" test "$c" = 200

svc='{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}}'
r=$(api "$S" POST /api/v1/namespaces/default/services "$svc")
check "create returns 201" test "$(code_of "$r")" = 201
b=$(body_of "$r")
check "defaults: type ClusterIP, protocol TCP, targetPort = port" \
  test "$(jget '["spec"]["type"]+"/"+d["spec"]["ports"][0]["protocol"]+"/"+str(d["spec"]["ports"][0]["targetPort"])' <<<"$b")" = "ClusterIP/TCP/80"
check "a ClusterIP is allocated from 10.96.0.0/12" bash -c "[[ '$(jget '["spec"]["clusterIP"]' <<<"$b")' == 10.9[6-9].* || '$(jget '["spec"]["clusterIP"]' <<<"$b")' == 10.1[01]* ]]"
rv=$(jget '["metadata"]["resourceVersion"]' <<<"$b")
r=$(api "$S" POST /api/v1/namespaces/default/services "$svc")
check "creating it again is 409 AlreadyExists" test "$(code_of "$r")/$(body_of "$r" | jget '["reason"]')" = "409/AlreadyExists"

bad='{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad"},"spec":{"ports":[{"port":70000}]}}'
r=$(api "$S" POST /api/v1/namespaces/default/services "$bad")
check "an out-of-range port is 422 Invalid" test "$(code_of "$r")/$(body_of "$r" | jget '["reason"]')" = "422/Invalid"
check "the Status names the field in details.causes" \
  test "$(body_of "$r" | jget '["details"]["causes"][0]["field"]')" = "spec.ports[0].port"
check "the message reads as kubectl prints it" \
  test "$(body_of "$r" | jget '["message"]')" = 'Service "bad" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive'

r=$(api "$S" POST /api/v1/namespaces/default/services '{"apiVersion": "v1", "kind": ')
check "malformed JSON is 400 with a Status" test "$(code_of "$r")/$(body_of "$r" | jget '["kind"]')" = "400/Status"
r=$(api "$S" POST /api/v1/namespaces/default/services "$svc" application/cbor)
check "an unsupported content type is 415" test "$(code_of "$r")" = 415
r=$(api "$S" POST /api/v1/namespaces/default/services "$svc" application/vnd.kubernetes.protobuf)
check "a body labelled protobuf that is not is 400 with a Status" test "$(code_of "$r")/$(body_of "$r" | jget '["kind"]')" = "400/Status"
head -c 4000000 /dev/zero | tr '\0' 'a' >"$WORK/big"
c=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$S/api.sock" -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/big" http://x/api/v1/namespaces/default/configmaps)
check "a 4 MB body is 413" test "$c" = 413
r=$(api "$S" GET /apis/example.com/v1/gadgets)
check "an unknown resource is 404" test "$(code_of "$r")" = 404
r=$(api "$S" POST /api/v1/namespaces/nowhere/services "$(sed 's/"web"}/"web2"}/' <<<"$svc")")
check "a missing namespace is 404 NotFound naming it" \
  test "$(code_of "$r")/$(body_of "$r" | jget '["message"]')" = '404/namespaces "nowhere" not found'

upd=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); d['metadata']['resourceVersion']='1'; d['spec']['ports'][0]['port']=81; print(json.dumps(d))" "$b")
r=$(api "$S" PUT /api/v1/namespaces/default/services/web "$upd")
check "an update with a stale resourceVersion is 409 Conflict" test "$(code_of "$r")/$(body_of "$r" | jget '["reason"]')" = "409/Conflict"
upd=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); d['spec']['ports'][0]['port']=81; print(json.dumps(d))" "$b")
r=$(api "$S" PUT /api/v1/namespaces/default/services/web "$upd")
check "an update with the current resourceVersion succeeds" test "$(code_of "$r")" = 200
check "the ClusterIP survives updates" test "$(body_of "$r" | jget '["spec"]["clusterIP"]')" = "$(jget '["spec"]["clusterIP"]' <<<"$b")"
r=$(api "$S" PATCH /api/v1/namespaces/default/services/web '{"metadata":{"labels":{"tier":"front"}}}' application/merge-patch+json)
check "a merge patch adds a label" test "$(code_of "$r")/$(body_of "$r" | jget '["metadata"]["labels"]["tier"]')" = "200/front"

# Allocation under load: 60 services at once get distinct ClusterIPs and NodePorts.
jobs_=()
for i in $(seq 1 60); do
  api "$S" POST /api/v1/namespaces/default/services "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"np$i\"},\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}}" >/dev/null &
  jobs_+=($!)
done
wait "${jobs_[@]}"
r=$(api "$S" GET /api/v1/namespaces/default/services)
ips=$(body_of "$r" | python3 -c "import json,sys; d=json.load(sys.stdin)['items']; print(len(d), len({s['spec']['clusterIP'] for s in d}), len([p['nodePort'] for s in d for p in s['spec']['ports'] if 'nodePort' in p]), len({p['nodePort'] for s in d for p in s['spec']['ports'] if 'nodePort' in p}))")
check "62 services, 62 distinct ClusterIPs, 60 distinct NodePorts" test "$ips" = "62 62 60 60"
r=$(api "$S" POST /api/v1/namespaces/default/services "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"clash\"},\"spec\":{\"clusterIP\":\"$(jget '["spec"]["clusterIP"]' <<<"$b")\",\"ports\":[{\"port\":80}]}}")
check "a taken static ClusterIP is refused" test "$(code_of "$r")" = 422
r=$(api "$S" GET "/api/v1/namespaces/default/services?limit=10")
cont=$(body_of "$r" | jget '["metadata"]["continue"]')
r2=$(api "$S" GET "/api/v1/namespaces/default/services?limit=100&continue=$cont")
check "limit/continue pages through every item once" \
  test "$(( $(body_of "$r" | jget '["items"].__len__()') + $(body_of "$r2" | jget '["items"].__len__()') ))" = 62
r=$(api "$S" GET "/api/v1/services?labelSelector=tier%3Dfront")
check "labelSelector filters a cluster-wide list" test "$(body_of "$r" | jget '["items"].__len__()')" = 1

# Watch: order, resumption, label transitions.
api "$S" POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"w"}}' >/dev/null
rv0=$(body_of "$(api "$S" GET /api/v1/namespaces/w/configmaps)" | jget '["metadata"]["resourceVersion"]')
curl -sN --unix-socket "$S/api.sock" "http://x/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=$rv0" >"$WORK/watch1" &
WPID=$!; PIDS+=("$WPID")
sleep 0.3
for i in 1 2 3; do api "$S" POST /api/v1/namespaces/w/configmaps "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c$i\"},\"data\":{\"k\":\"$i\"}}" >/dev/null; done
api "$S" PATCH /api/v1/namespaces/w/configmaps/c2 '{"data":{"k":"changed"}}' application/merge-patch+json >/dev/null
api "$S" DELETE /api/v1/namespaces/w/configmaps/c1 >/dev/null
sleep 0.5
kill "$WPID" 2>/dev/null
ev=$(python3 -c "
import json,sys
evs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rvs=[int(e['object']['metadata']['resourceVersion']) for e in evs]
print(' '.join(e['type']+':'+e['object']['metadata']['name'] for e in evs), rvs==sorted(rvs) and len(set(rvs))==len(rvs))" "$WORK/watch1")
check "watch delivers every change in order" test "$ev" = "ADDED:c1 ADDED:c2 ADDED:c3 MODIFIED:c2 DELETED:c1 True"
mid=$(python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if l.strip()][2]['object']['metadata']['resourceVersion'])" "$WORK/watch1")
timeout 2 curl -sN --unix-socket "$S/api.sock" "http://x/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=$mid&timeoutSeconds=1" >"$WORK/watch2"
ev=$(python3 -c "import json,sys; print(' '.join(json.loads(l)['type'] for l in open(sys.argv[1]) if l.strip()))" "$WORK/watch2")
check "watch resumes after a given resourceVersion" test "$ev" = "MODIFIED DELETED"
timeout 2 curl -sN --unix-socket "$S/api.sock" "http://x/api/v1/namespaces/w/configmaps?watch=1&timeoutSeconds=1" >"$WORK/watch3"
ev=$(python3 -c "import json,sys; print(' '.join(json.loads(l)['type']+':'+json.loads(l)['object']['metadata']['name'] for l in open(sys.argv[1]) if l.strip()))" "$WORK/watch3")
check "watch without a version starts with the current objects" test "$ev" = "ADDED:c2 ADDED:c3"
timeout 2 curl -sN --unix-socket "$S/api.sock" "http://x/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=$rv0&labelSelector=pick%3Dyes&timeoutSeconds=1" >"$WORK/watch4" &
W4=$!
sleep 0.3
api "$S" PATCH /api/v1/namespaces/w/configmaps/c3 '{"metadata":{"labels":{"pick":"yes"}}}' application/merge-patch+json >/dev/null
api "$S" PATCH /api/v1/namespaces/w/configmaps/c3 '{"metadata":{"labels":{"pick":"no"}}}' application/merge-patch+json >/dev/null
wait $W4
ev=$(python3 -c "import json,sys; print(' '.join(json.loads(l)['type'] for l in open(sys.argv[1]) if l.strip()))" "$WORK/watch4")
check "a filtered watch turns label changes into ADDED and DELETED" test "$ev" = "ADDED DELETED"
# The server keeps 50 events (--history 50); the first tick compacts the rest.
for i in $(seq 1 80); do api "$S" POST /api/v1/namespaces/w/configmaps "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"h$i\"}}" >/dev/null; done
sleep 1.5
timeout 2 curl -sN --unix-socket "$S/api.sock" "http://x/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=$rv0" >"$WORK/watch5"
ev=$(python3 -c "import json,sys; e=json.loads(open(sys.argv[1]).readline()); print(e['type'], e['object']['code'], e['object']['reason'])" "$WORK/watch5")
check "a compacted resourceVersion gets 410 Expired" test "$ev" = "ERROR 410 Expired"

# Deletion: owner references and namespaces cascade.
r=$(api "$S" POST /api/v1/namespaces/w/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner"}}')
uid=$(body_of "$r" | jget '["metadata"]["uid"]')
api "$S" POST /api/v1/namespaces/w/configmaps "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"owned\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"$uid\"}]}}" >/dev/null
api "$S" DELETE /api/v1/namespaces/w/configmaps/owner >/dev/null
check "deleting an owner deletes what it owns" test "$(code_of "$(api "$S" GET /api/v1/namespaces/w/configmaps/owned)")" = 404
api "$S" DELETE /api/v1/namespaces/w >/dev/null
check "deleting a namespace deletes its contents" \
  test "$(body_of "$(api "$S" GET /api/v1/configmaps)" | jget '["items"].__len__()')" = 0

# Server-side apply through the raw API: creates (201), needs a field manager (422),
# refuses a body of another kind (400) or malformed YAML (400), never writing.
cm='apiVersion: v1
kind: ConfigMap
metadata: {name: applied}
data: {a: "1"}'
r=$(api "$S" PATCH "/api/v1/namespaces/default/configmaps/applied?fieldManager=me" "$cm" application/apply-patch+yaml)
check "apply creates a missing object (201) with an Apply entry for its manager" \
  test "$(code_of "$r")/$(body_of "$r" | jget '["metadata"]["managedFields"][0]["manager"]+d["metadata"]["managedFields"][0]["operation"]')" = 201/meApply
r=$(api "$S" PATCH "/api/v1/namespaces/default/configmaps/applied" "$cm" application/apply-patch+yaml)
check "apply without fieldManager is 422" test "$(code_of "$r")/$(body_of "$r" | jget '["kind"]')" = 422/Status
r=$(api "$S" PATCH "/api/v1/namespaces/default/configmaps/applied?fieldManager=me" "${cm/ConfigMap/Secret}" application/apply-patch+yaml)
check "apply of another kind at this URL is 400" test "$(code_of "$r")" = 400
r=$(api "$S" PATCH "/api/v1/namespaces/default/configmaps/applied?fieldManager=me" "data: [unclosed" application/apply-patch+yaml)
check "apply of malformed YAML is 400" test "$(code_of "$r")" = 400
r=$(api "$S" PUT /api/v1/namespaces/default/configmaps/applied '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"a":"2"}}')
check "a plain update records an Update entry (manager from User-Agent) and takes the field" \
  test "$(body_of "$r" | jget '["metadata"]["managedFields"][1]["manager"]+d["metadata"]["managedFields"][1]["operation"]+str("f:a" in d["metadata"]["managedFields"][0]["fieldsV1"]["f:data"])')" = curlUpdateFalse
r=$(api "$S" PATCH "/api/v1/namespaces/default/configmaps/applied?fieldManager=me" "$cm" application/apply-patch+yaml)
check "re-applying the old value is 409 Conflict with a cause per field" \
  test "$(code_of "$r")/$(body_of "$r" | jget '["details"]["causes"][0]["field"]+" "+d["details"]["causes"][0]["reason"]')" = "409/.data.a FieldManagerConflict"
check "... and changed nothing" \
  test "$(body_of "$(api "$S" GET /api/v1/namespaces/default/configmaps/applied)" | jget '["data"]["a"]')" = 2

# Table rows of unchanged objects come from a cache: a changed object's row must change.
table() { curl -s --unix-socket "$S/api.sock" -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io' \
  http://x/api/v1/namespaces/default/configmaps | python3 -c 'import json,sys; print(" ".join("%s=%s" % (r["cells"][0], r["cells"][1]) for r in json.load(sys.stdin)["rows"]))'; }
t1=$(table); t2=$(table)
api "$S" PUT /api/v1/namespaces/default/configmaps/applied '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"a":"2","b":"3"}}' >/dev/null
t3=$(table)
check "a Table list served twice is the same, and shows a change made in between" \
  bash -c "[ '$t1' = '$t2' ] && grep -q 'applied=1' <<<'$t2' && grep -q 'applied=2' <<<'$t3'"

# Duplicate fields follow fieldValidation: Strict refuses, Warn (the default) warns
# with the path and keeps the last value, Ignore keeps it silently.
dup() { curl -s -i --unix-socket "$S/api.sock" -X POST -H 'Content-Type: application/json' \
  --data "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"dup$1\"},\"data\":{\"a\":\"1\",\"a\":\"2\"}}" \
  "http://x/api/v1/namespaces/default/configmaps${2:+?fieldValidation=$2}"; }
dup 1 Strict >"$WORK/dup1"; dup 2 >"$WORK/dup2"; dup 3 Ignore >"$WORK/dup3"
check "a duplicate field with fieldValidation=Strict is 400 naming it" \
  bash -c "grep -q '^HTTP/1.1 400' '$WORK/dup1' && grep -qF 'duplicate field \\\"data.a\\\"' '$WORK/dup1'"
check "... by default (Warn) it is created, the last value kept, with a Warning header" \
  bash -c "grep -q '^HTTP/1.1 201' '$WORK/dup2' && grep -qiF 'Warning: 299 - \"duplicate field \\\"data.a\\\"\"' '$WORK/dup2' && grep -qF '\"a\":\"2\"' '$WORK/dup2'"
check "... and with Ignore, no warning" \
  bash -c "grep -q '^HTTP/1.1 201' '$WORK/dup3' && ! grep -qi '^Warning' '$WORK/dup3'"

# Raw garbage on the socket is answered 400 and the server keeps serving.
printf 'GARBAGE\r\n\r\n' | timeout 2 curl -s --unix-socket "$S/api.sock" telnet://x >/dev/null 2>&1
python3 - "$S/api.sock" <<'PY'
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"); s.recv(100); s.close()
PY
check "the server survives bad input" test "$(code_of "$(api "$S" GET /healthz)")" = 200
check "the server shuts down cleanly (no sanitizer report)" stop_server "$S"
