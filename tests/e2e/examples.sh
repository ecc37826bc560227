# The labs in examples/ run as a user runs them (each creates and deletes its own
# cluster), and say what the chapter says they show.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP examples: needs root for network namespaces"; exit 0; }
lab() { # DIR: runs the lab with a unique cluster name, output in $WORK/DIR.out
  LAB_NAME=x$$ TULLE="$TULLE" timeout 300 bash "$ROOT/examples/$1/run.sh" >"$WORK/$1.out" 2>&1
}
has() { grep -q -- "$2" "$WORK/$1.out"; }

check "examples/lab1-cluster/run.sh succeeds" lab lab1-cluster
check "lab 1: debug pods reach web's replicas by name (pod=web-... client=10.244...)" \
  has lab1-cluster '^pod=web-[a-z0-9]*-[a-z0-9]* client=10\.244\.'
check "lab 1: tulle observe shows the curls' flows to web, forwarded" \
  has lab1-cluster '^.*default/debug-[0-9]:[0-9]* (ID:[0-9]*) -> default/web-[a-z0-9-]*:80 .*service default/web'
check "lab 1: the cluster is gone afterwards" bash -c "! '$TULLE' cluster list 2>/dev/null | grep -q '^x$$ '"
check "examples/lab2-canary/run.sh succeeds" lab lab2-canary
check "lab 2: api-service answers API v1, api-v2 answers the canary's text" \
  bash -c "grep -qx 'API v1' '$WORK/lab2-canary.out' && grep -qx 'API v2 - New Feature' '$WORK/lab2-canary.out'"
check "examples/lab3-network-policy/run.sh succeeds" lab lab3-network-policy
check "lab 3: frontend reaches backend through its Service" has lab3-network-policy '^pod=backend-'
check "lab 3: with the egress allows: frontend->backend:80 ALLOWED, frontend->database DENIED, backend->database ALLOWED" \
  bash -c "[ \"\$(grep '^verdict' '$WORK/lab3-network-policy.out' | head -3 | tr '\n' ' ')\" = 'verdict: ALLOWED verdict: DENIED verdict: ALLOWED ' ]"
check "lab 3: policy trace --live: every node's maps agree with the engine on the three traces" \
  bash -c "[ \"\$(grep -c '^live: the datapath.s maps agree with the engine' '$WORK/lab3-network-policy.out')\" = 3 ]"
check "lab 3: the kernel blocks frontend -> database (curl times out)" has lab3-network-policy '^(blocked: curl exit 28)'
check "lab 3: backend connects to database:5432" has lab3-network-policy '^connected to database:5432'
check "lab 3: tulle observe shows the drop with its reason and pods" \
  has lab3-network-policy 'secure-app/frontend-.* -> secure-app/database-.*:5432 .*POLICY_DENIED DROPPED'
check "lab 3: without the egress allows the kernel blocks frontend -> backend too" \
  bash -c "[ \"\$(grep -c '^(blocked: curl exit 28)' '$WORK/lab3-network-policy.out')\" = 2 ]"
check "lab 3: with the chapter's four policies only, frontend->backend is DENIED at the source" \
  bash -c "[ \"\$(grep '^verdict' '$WORK/lab3-network-policy.out' | sed -n 4p)\" = 'verdict: DENIED' ]"
check "examples/lab4-tls-ingress/run.sh succeeds" lab lab4-tls-ingress
check "lab 4: the issuer and the Ingress are stored as the chapter writes them" \
  bash -c "grep -q 'letsencrypt-prod' '$WORK/lab4-tls-ingress.out' && grep -q 'myapp.example.com' '$WORK/lab4-tls-ingress.out'"
