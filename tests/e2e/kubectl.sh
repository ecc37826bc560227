# The stock kubectl against a local cluster, with only KUBECONFIG set: cluster create
# serves the API over HTTPS with the cluster CA and merges a tulle-NAME context (client
# certificate) into the kubeconfig; kubectl reads nodes, pods and services as server-side
# Tables with its usual columns; requests without credentials get 401 and a Status;
# cluster delete takes the context out again. (What kubectl does beyond this is #11.)
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP kubectl: needs root for network namespaces"; exit 0; }
command -v kubectl >/dev/null || { echo "SKIP kubectl: no kubectl on this machine"; exit 0; }
C=k$$
trap '"$TULLE" cluster delete --name "$C" >/dev/null 2>&1; for n in $(ip netns list | awk "{print \$1}" | grep "^tl-$C-"); do ip netns del "$n"; done; rm -rf /sys/fs/bpf/tulle/$C; cleanup' EXIT INT TERM
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
url=$(grep '^https://' "$TULLE_HOME/clusters/$C/server/server.url")
check "no credentials: 401 with a Status, never data" \
  bash -c "curl -sk $url/api/v1/pods | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"kind\"]==\"Status\" and d[\"code\"]==401'"
check "cluster kubeconfig prints a standalone kubeconfig that works" \
  bash -c "'$TULLE' cluster kubeconfig --name $C >'$WORK/standalone' && KUBECONFIG='$WORK/standalone' kubectl get ns default -o name | grep -qx namespace/default"
check "cluster delete removes the context and leaves the others" \
  bash -c "'$TULLE' cluster delete --name $C >/dev/null && ! kubectl config get-contexts -o name | grep -q tulle-$C && kubectl config get-contexts -o name | grep -qx other"
