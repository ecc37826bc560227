# The stock kubectl against a local cluster, with only KUBECONFIG set: cluster create
# serves the API over HTTPS with the cluster CA and merges a tulle-NAME context (client
# certificate) into the kubeconfig; kubectl reads nodes, pods and services as server-side
# Tables with its usual columns; requests without credentials get 401 and a Status;
# cluster delete takes the context out again. (What kubectl does beyond this is #11.)
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP kubectl: needs root for network namespaces"; exit 0; }
command -v kubectl >/dev/null || { echo "SKIP kubectl: no kubectl on this machine"; exit 0; }
C=k$$
with_cluster "$C"
printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: "https://192.0.2.1:6443"}\ncontexts:\n- name: other\n  context: {cluster: other, user: other}\nusers:\n- name: other\n  user: {token: x}\ncurrent-context: other\n' >"$KUBECONFIG"

check "cluster create" bash -c "timeout 120 '$TULLE' cluster create --name $C --nodes 2 >/dev/null"
check "the context is merged into KUBECONFIG and made current, other entries kept" \
  bash -c "[ \"\$(kubectl config current-context)\" = tulle-$C ] && kubectl config get-contexts -o name | grep -qx other"
check "kubectl version reaches the server over HTTPS (the CA verifies it)" \
  bash -c "kubectl version 2>&1 | grep -q 'Server Version: v1.32'"
check "kubectl get nodes: both nodes Ready with kubectl's columns" \
  bash -c "out=\$(kubectl get nodes); head -1 <<<\"\$out\" | grep -q '^NAME *STATUS *ROLES *AGE *VERSION' && [ \$(grep -c ' Ready ' <<<\"\$out\") = 2 ]"
"$TULLE" create deployment web --image=nginx --replicas=2 >/dev/null
wait_running default 2
check "kubectl get pods -o wide: READY STATUS RESTARTS AGE IP NODE" \
  bash -c "kubectl get pods -o wide | head -1 | grep -q '^NAME *READY *STATUS *RESTARTS *AGE *IP *NODE'"
check "... without -o wide the wide columns stay out" \
  bash -c "kubectl get pods | head -1 | grep -q '^NAME *READY *STATUS *RESTARTS *AGE *\$'"
check "kubectl get svc -A: TYPE CLUSTER-IP EXTERNAL-IP PORT(S), kube-dns at 10.96.0.10" \
  bash -c "kubectl get svc -A | grep -q '^kube-system *kube-dns *ClusterIP *10.96.0.10 *<none> *53/UDP,53/TCP'"
check "kubectl get pod NAME -o yaml returns the object" \
  bash -c "kubectl get \$(kubectl get pods -o name | head -1) -o yaml | grep -q '^kind: Pod'"
# kubectl apply with default validation: every seed manifest but 17 (kind's config).
for ns in production secure-app; do printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' $ns | kubectl apply -f - >/dev/null; done
bad=0 unchanged=0 n=0
for f in "$MANIFESTS"/*.yaml; do
  case $(basename "$f") in 17-*) continue ;; esac
  n=$((n + 1))
  kubectl apply -f "$f" >"$WORK/a1" 2>&1 || { echo "apply $(basename "$f"): $(cat "$WORK/a1")"; bad=$((bad + 1)); continue; }
  kubectl apply -f "$f" >"$WORK/a2" 2>&1
  [ "$(grep -c ' unchanged$' "$WORK/a2")" = "$(wc -l <"$WORK/a2")" ] && unchanged=$((unchanged + 1)) || echo "re-apply $(basename "$f"): $(cat "$WORK/a2")"
done
check "kubectl apply -f of all $n seed manifests succeeds with default validation" test "$bad" = 0
check "... and applying each again prints unchanged" test "$unchanged" = "$n"
kubectl get svc backend-service -o json >"$WORK/before"
sed 's/port: 8080        #/port: 8081        #/' "$MANIFESTS"/01-*.yaml | kubectl apply -f - >"$WORK/a3"
kubectl get svc backend-service -o json >"$WORK/after"
check "changing one field prints configured" grep -q 'service/backend-service configured' "$WORK/a3"
check "... and changes only that field" python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for o in (a, b):
    for k in ("resourceVersion", "generation", "managedFields", "annotations"): o["metadata"].pop(k, None)
assert b["spec"]["ports"][0]["port"] == 8081, b["spec"]["ports"]
b["spec"]["ports"][0]["port"] = 8080
assert a == b, (a, b)' "$WORK/before" "$WORK/after"
check "kubectl explain networkpolicy.spec.ingress prints the schema" \
  bash -c "kubectl explain networkpolicy.spec.ingress | grep -q '^FIELD: *ingress <\[\]NetworkPolicyIngressRule>' && kubectl explain networkpolicy.spec.ingress | grep -q '^  from'"
check "an unknown field is refused by the server's strict validation, with its path" \
  bash -c "printf 'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: 80}], bogus: 1}\n' | kubectl apply -f - 2>&1 | grep -q 'bogus'"
check "kubectl label / annotate" \
  bash -c "kubectl label svc backend-service tier=be >/dev/null && kubectl annotate svc backend-service note=hi >/dev/null && [ \"\$(kubectl get svc backend-service -o jsonpath='{.metadata.labels.tier}/{.metadata.annotations.note}')\" = be/hi ]"
check "kubectl patch --type json (and a failed test op changes nothing)" \
  bash -c "kubectl patch svc web-service --type json -p '[{\"op\":\"replace\",\"path\":\"/spec/ports/0/port\",\"value\":81}]' >/dev/null && ! kubectl patch svc web-service --type json -p '[{\"op\":\"test\",\"path\":\"/spec/ports/0/port\",\"value\":99}]' 2>/dev/null && [ \"\$(kubectl get svc web-service -o jsonpath='{.spec.ports[0].port}/{.spec.ports[0].nodePort}')\" = 81/30080 ]"
check "kubectl set env and a strategic merge patch merge containers by name" \
  bash -c "kubectl set env deployment/web FOO=bar >/dev/null && kubectl patch deployment web -p '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\",\"env\":[{\"name\":\"BAZ\",\"value\":\"1\"}]}]}}}}' >/dev/null && [ \"\$(kubectl get deploy web -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[*].name}')\" = 'nginx FOO BAZ' ]"
check "kubectl scale through the scale subresource" \
  bash -c "kubectl scale deployment web --replicas=3 >/dev/null && [ \"\$(kubectl get deploy web -o jsonpath='{.spec.replicas}')\" = 3 ]"
for _ in $(seq 1 80); do [ "$(kubectl get deploy web -o jsonpath='{.status.readyReplicas}')" = 3 ] && break; sleep 0.25; done
# Ready replicas sampled all through the rollout: a rolling update never drops below
# replicas - maxUnavailable (25% of 3 rounds down to 0). A sample kubectl failed to take
# is an empty line, left out (it says nothing about readiness).
( while :; do kubectl get deploy web -o jsonpath='{.status.readyReplicas}{"\n"}'; sleep 0.1; done ) >"$WORK/ready" 2>/dev/null &
poll=$!
check "kubectl rollout restart" bash -c "kubectl rollout restart deployment web | grep -q restarted"
check "kubectl rollout status waits for the rolling update to finish" \
  bash -c "kubectl rollout status deployment web --timeout=90s | grep -q 'successfully rolled out'"
kill $poll; wait $poll 2>/dev/null
check "... which kept 3 pods ready throughout and ends with 3 pods of the new template" \
  bash -c "[ \$(grep -c . '$WORK/ready') -gt 3 ] && [ \$(grep . '$WORK/ready' | sort -n | head -1) -ge 3 ] && [ \$(kubectl get pods -l app=web -o jsonpath='{.items[*].metadata.labels.pod-template-hash}' | tr ' ' '\n' | sort | uniq -c | awk '{print \$1}') = 3 ]"
[ "$(grep . "$WORK/ready" | sort -n | head -1)" -ge 3 ] 2>/dev/null ||
  echo "  readyReplicas sampled: $(tr '\n' ' ' <"$WORK/ready"); pods: $(kubectl get pods -l app=web --no-headers 2>&1 | tr '\n' ';')" >&2

# kubectl's typed clients send protobuf (create, expose, run).
check "kubectl create namespace (protobuf body)" bash -c "kubectl create namespace lab | grep -qx 'namespace/lab created'"
check "kubectl create deployment --replicas --port" \
  bash -c "kubectl create deployment api -n lab --image=nginx --replicas=2 --port=8080 | grep -qx 'deployment.apps/api created' && [ \"\$(kubectl get deploy api -n lab -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.selector.matchLabels.app}')\" = '2 8080 api' ]"
check "kubectl expose deployment" \
  bash -c "kubectl expose deployment api -n lab --port=80 --target-port=8080 | grep -qx 'service/api exposed' && [ \"\$(kubectl get svc api -n lab -o jsonpath='{.spec.ports[0].port}/{.spec.ports[0].targetPort} {.spec.selector.app}')\" = '80/8080 api' ]"
check "kubectl create configmap and secret" \
  bash -c "kubectl create configmap cfg -n lab --from-literal=a=b >/dev/null && kubectl create secret generic sec -n lab --from-literal=p=s3cret >/dev/null && [ \"\$(kubectl get cm cfg -n lab -o jsonpath='{.data.a}')\" = b ] && [ \"\$(kubectl get secret sec -n lab -o jsonpath='{.data.p}' | base64 -d)\" = s3cret ]"
check "kubectl run creates a pod that runs" \
  bash -c "kubectl run solo -n lab --image=nginx | grep -qx 'pod/solo created' && for i in \$(seq 1 40); do [ \"\$(kubectl get pod solo -n lab -o jsonpath='{.status.phase}')\" = Running ] && exit 0; sleep 0.25; done; exit 1"

check "kubectl api-resources (aggregated discovery) lists every kind tulle serves" \
  bash -c "[ \$(kubectl api-resources --no-headers | wc -l) = \$('$TULLE' api-resources | tail -n +2 | wc -l) ] && kubectl api-resources | grep -q '^networkpolicies *netpol '"
timeout 8 kubectl get deployments -w >"$WORK/watch" 2>&1 &
wpid=$!
sleep 1.5
kubectl create deployment watched --image=nginx >/dev/null
sleep 3
kubectl delete deployment watched >/dev/null
wait $wpid
check "kubectl get -w prints a line per change as it happens (header once)" \
  bash -c "[ \$(grep -c '^NAME ' '$WORK/watch') = 1 ] && [ \$(grep -c '^watched ' '$WORK/watch') -ge 2 ]"

# Streams: exec over WebSocket (v5.channel.k8s.io), run -it --rm (attach), logs.
kubectl expose deployment web --port=80 >/dev/null
kubectl run client --image=curlimages/curl >/dev/null
for _ in $(seq 1 40); do [ "$(kubectl get pod client -o jsonpath='{.status.phase}')" = Running ] && break; sleep 0.25; done
# The new Service reaches the nodes' maps within the agents' next sync (they poll the
# API every 500 ms; slower under ASan): wait for it, as for kube-proxy's sync, before
# testing exec itself. A Service that never works still fails the check below.
for _ in $(seq 1 20); do kubectl exec client -- curl -s -m 2 -o /dev/null http://web 2>/dev/null && break; sleep 0.5; done
check "kubectl exec returns the command's output from inside the pod" \
  bash -c "kubectl exec client -- curl -sS -m 3 http://web | grep -q '^pod=web-'" ||
  { kubectl get pods,svc,endpointslices -o wide; kubectl exec client -- curl -sS -m 3 -v http://web 2>&1 | tail -5; }
check "kubectl exec returns the command's exit code and its stderr" \
  bash -c "out=\$(kubectl exec client -- sh -c 'echo out; echo err >&2; exit 3' 2>&1); rc=\$?; [ \$rc = 3 ] && grep -qx out <<<\"\$out\" && grep -qx err <<<\"\$out\""
# (Signals 32 and 33 are glibc's own and may stay ignored: no program can use them.)
check "kubectl exec runs the command with no signal blocked and no standard signal ignored (timeout inside a pod can stop what it runs)" \
  bash -c "read -r blk ign < <(kubectl exec client -- sh -c 'grep -E \"^Sig(Blk|Ign):\" /proc/\$\$/status' | awk '{printf \"%s \", \$2}'); [ -n \"\$ign\" ] && (( 16#\$blk == 0 && (16#\$ign & 16#7fffffff) == 0 ))"
check "kubectl exec -i passes stdin" bash -c "[ \"\$(echo hello | kubectl exec -i client -- cat)\" = hello ]"
check "kubectl exec deployment/web runs in one of its pods" \
  bash -c "kubectl exec deployment/web -- hostname | grep -q '^web-'"
check "kubectl run -it --rm --restart=Never -- curl http://web prints the answer and removes the pod" \
  bash -c "timeout 30 kubectl run tmp --image=curlimages/curl -it --rm --restart=Never -- curl -s -m 3 http://web </dev/null 2>/dev/null | grep -q '^pod=web-' && ! kubectl get pod tmp >/dev/null 2>&1"
kubectl run once --image=curlimages/curl --restart=Never -- curl -s -m 3 http://web >/dev/null
for _ in $(seq 1 40); do [ "$(kubectl get pod once -o jsonpath='{.status.phase}')" = Succeeded ] && break; sleep 0.25; done
check "a restartPolicy Never pod ends Succeeded (STATUS Completed, as kubectl words it), and kubectl logs shows its output" \
  bash -c "[ \"\$(kubectl get pod once -o jsonpath='{.status.phase}')\" = Succeeded ] && [ \"\$(kubectl get pod once --no-headers | awk '{print \$3}')\" = Completed ] && kubectl logs once | grep -q '^pod=web-' && timeout 5 kubectl logs -f once | grep -q '^pod=web-'"

# Server-side apply: the seed manifests again, as a field manager's intent, after
# deleting what client-side apply made of them.
for f in "$MANIFESTS"/*.yaml; do case $(basename "$f") in 17-*) ;; *) kubectl delete -f "$f" --ignore-not-found >/dev/null 2>&1 ;; esac; done
rvs() { kubectl get svc,ing,netpol,cnp,gnp,ts,certificates -A -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}'; }
bad=0 same=0
for f in "$MANIFESTS"/*.yaml; do
  case $(basename "$f") in 17-*) continue ;; esac
  kubectl apply --server-side -f "$f" >"$WORK/s1" 2>&1 && [ "$(grep -c ' serverside-applied$' "$WORK/s1")" = "$(wc -l <"$WORK/s1")" ] ||
    { echo "ssa $(basename "$f"): $(cat "$WORK/s1")"; bad=$((bad + 1)); }
  # Applied again at once (05 and 24 both define web-ingress, so not after the others),
  # once the controllers are done with the objects (a LoadBalancer gets its address).
  rvs >"$WORK/rv1"
  for _ in $(seq 1 20); do sleep 0.3; rvs >"$WORK/rv0"; cmp -s "$WORK/rv0" "$WORK/rv1" && break; mv "$WORK/rv0" "$WORK/rv1"; done
  kubectl apply --server-side -f "$f" >/dev/null 2>&1; rvs >"$WORK/rv2"
  [ -s "$WORK/rv1" ] && cmp -s "$WORK/rv1" "$WORK/rv2" && same=$((same + 1)) || echo "re-ssa $(basename "$f") wrote: $(diff "$WORK/rv1" "$WORK/rv2")"
done
check "kubectl apply --server-side of all $n seed manifests (field manager kubectl)" test "$bad" = 0
check "... applying each again writes nothing (every resourceVersion unchanged)" test "$same" = "$n"
check "... and the objects record kubectl as their Apply manager" \
  bash -c "kubectl get svc backend-service -o json --show-managed-fields | python3 -c 'import json,sys; m=json.load(sys.stdin)[\"metadata\"][\"managedFields\"]; assert [(e[\"manager\"],e[\"operation\"]) for e in m]==[(\"kubectl\",\"Apply\")], m'"
printf '%s\n' 'apiVersion: apps/v1' 'kind: Deployment' 'metadata: {name: owned, labels: {team: a}}' 'spec:' '  replicas: 2' \
  '  selector: {matchLabels: {app: owned}}' '  template:' '    metadata: {labels: {app: owned}}' '    spec:' '      containers:' \
  '      - {name: web, image: nginx, env: [{name: A, value: "1"}]}' >"$WORK/ssa.yaml"
kubectl apply --server-side -f "$WORK/ssa.yaml" >/dev/null
kubectl patch deployment owned -p '{"spec":{"replicas":3}}' >/dev/null
check "a field another manager changed is a conflict, named with its manager" \
  bash -c "! kubectl apply --server-side -f '$WORK/ssa.yaml' >'$WORK/c' 2>&1 && grep -q 'conflict with \"kubectl-patch\"' '$WORK/c' && grep -q '\.spec\.replicas' '$WORK/c' && [ \$(kubectl get deploy owned -o jsonpath='{.spec.replicas}') = 3 ]"
check "--force-conflicts takes the field over" \
  bash -c "kubectl apply --server-side --force-conflicts -f '$WORK/ssa.yaml' >/dev/null && [ \$(kubectl get deploy owned -o jsonpath='{.spec.replicas}') = 2 ] && ! kubectl get deploy owned -o yaml --show-managed-fields | grep -q 'manager: kubectl-patch'"
check "a second manager's field coexists with the first's (--field-manager)" \
  bash -c "printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: owned, labels: {extra: b}}\n' | kubectl apply --server-side --field-manager=other -f - >/dev/null && [ \"\$(kubectl get deploy owned -o jsonpath='{.metadata.labels.team}/{.metadata.labels.extra}')\" = a/b ]"
check "fields the manager stops applying are removed (replicas back to its default, env and the label gone)" \
  bash -c "sed '/replicas/d; s/, env: \[{name: A, value: \"1\"}\]//; s/, labels: {team: a}//' '$WORK/ssa.yaml' | kubectl apply --server-side -f - >/dev/null && [ \"\$(kubectl get deploy owned -o jsonpath='{.spec.replicas}|{.spec.template.spec.containers[0].env}|{.metadata.labels.team}|{.metadata.labels.extra}')\" = '1|||b' ]"

url=$(grep '^https://' "$TULLE_HOME/clusters/$C/server/server.url")
check "no credentials: 401 with a Status, never data" \
  bash -c "curl -sk $url/api/v1/pods | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"kind\"]==\"Status\" and d[\"code\"]==401'"
check "cluster kubeconfig prints a standalone kubeconfig that works" \
  bash -c "'$TULLE' cluster kubeconfig --name $C >'$WORK/standalone' && KUBECONFIG='$WORK/standalone' kubectl get ns default -o name | grep -qx namespace/default"
check "cluster delete removes the context and leaves the others" \
  bash -c "'$TULLE' cluster delete --name $C >/dev/null && ! kubectl config get-contexts -o name | grep -q tulle-$C && kubectl config get-contexts -o name | grep -qx other"
