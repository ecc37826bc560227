# Helpers for end-to-end tests: each test prints PASS/FAIL lines (counted by
# tests/run.sh), starts what it needs in a private temp dir and removes it on exit.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TULLE=${TULLE_BIN:-$ROOT/build/bin/tulle}
# The chapter's manifests, kept in the project (examples/manifests).
MANIFESTS=${TULLE_MANIFESTS:-$ROOT/examples/manifests}
WORK=$(mktemp -d /tmp/tulle-e2e.XXXXXX)
PIDS=()
export TULLE_HOME="$WORK/home"
# Clusters merge their kubectl context here, never into the user's ~/.kube/config.
export KUBECONFIG="$WORK/kubeconfig"
# ... and kubectl's discovery cache stays in the test's directory, not ~/.kube/cache.
export KUBECACHEDIR="$WORK/kubecache"
unset TULLE_SERVER TULLE_TOKEN

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
# check NAME COMMAND...: passes when the command succeeds.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }

# start_server DIR [ARGS...]: runs a server and waits until it answers.
start_server() {
  local dir=$1; shift
  "$TULLE" server --state "$dir" "$@" 2>>"$dir.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 100); do
    [ -S "$dir/api.sock" ] && curl -sf --unix-socket "$dir/api.sock" http://x/healthz >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server in $dir did not start:"; cat "$dir.log"
  return 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  local rc=$?
  # An ASan report on exit shows up as a non-zero status.
  [ "$rc" -eq 0 ] || { echo "server exited with $rc"; tail -30 "$1.log"; return 1; }
}

# api DIR METHOD PATH [BODY] [CONTENT-TYPE]: prints "CODE BODY" via the unix socket.
api() {
  local dir=$1 method=$2 path=$3 body=${4:-} ctype=${5:-application/json}
  if [ -n "$body" ]; then
    curl -s --unix-socket "$dir/api.sock" -X "$method" -H "Content-Type: $ctype" \
      --data-binary "$body" -w '\n%{http_code}' "http://x$path"
  else
    curl -s --unix-socket "$dir/api.sock" -X "$method" -w '\n%{http_code}' "http://x$path"
  fi
}
code_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

# wait_running NAMESPACE COUNT: until at least COUNT pods of the namespace run (20 s).
wait_running() {
  for _ in $(seq 1 80); do
    [ "$("$TULLE" get pods -n "$1" --no-headers 2>/dev/null | grep -c ' Running ')" -ge "$2" ] && return 0
    sleep 0.25
  done
  return 1
}

# with_cluster NAME: on exit (failure too), delete the local cluster NAME and anything
# left of it (namespaces, pinned maps), then the temp dir.
with_cluster() {
  CLUSTER_NAME=$1
  trap '"$TULLE" cluster delete --name "$CLUSTER_NAME" >/dev/null 2>&1
        for n in $(ip netns list | awk "{print \$1}" | grep "^tl-$CLUSTER_NAME-"); do ip netns del "$n"; done
        rm -rf "/sys/fs/bpf/tulle/$CLUSTER_NAME"; cleanup' EXIT INT TERM
}
