# Shared by the labs' run.sh: the tulle binary, a cluster named after the lab that is
# deleted on exit (KEEP=1 keeps it), and `step`, which prints a command before running it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TULLE=${TULLE:-$ROOT/build/bin/tulle}
MANIFESTS=$ROOT/examples/manifests
[ -x "$TULLE" ] || { echo "lab: $TULLE is missing; run 'make' in $ROOT first (or set TULLE)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "lab: the local cluster needs root (network namespaces); run with sudo" >&2; exit 1; }
tulle() { "$TULLE" "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
lab_cluster() { # NAME [create args...]: a cluster for this lab, removed on exit (LAB_NAME overrides NAME)
  LAB_CLUSTER=${LAB_NAME:-$1}; shift
  trap 'lab_cleanup' EXIT INT TERM
  step tulle cluster create --name "$LAB_CLUSTER" "$@"
}
lab_cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo; echo "The cluster \"$LAB_CLUSTER\" keeps running; remove it with: $TULLE cluster delete --name $LAB_CLUSTER"
  else
    "$TULLE" cluster delete --name "$LAB_CLUSTER" >/dev/null 2>&1 || true
  fi
}
wait_rollout() { # [-n NS] NAME
  tulle rollout status deployment "$@" --timeout=60s >/dev/null
}
step_retry() { # like step, but retries for up to 5 s (a new Service reaches every node's maps within a second)
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  for _ in $(seq 1 20); do "$@" 2>/dev/null && return 0; sleep 0.25; done
  "$@"
}
