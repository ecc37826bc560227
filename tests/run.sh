#!/usr/bin/env bash
# Runs every test: unit tests (ASan+UBSan builds beside their modules), short fuzz runs,
# and the end-to-end scripts in tests/e2e. Prints one closing line
# "N passed, N failed, N skipped" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export TULLE_BIN="$PWD/$BUILD/asan/bin/tulle"
export TULLE_MANIFESTS="${TULLE_MANIFESTS:-$PWD/examples/manifests}"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

passed=0 failed=0 skipped=0
failures=()
log=$(mktemp -d /tmp/tulle-test-logs.XXXXXX)

# Counts a test binary's PASS/FAIL/SKIP lines; a crash or non-zero exit without a FAIL
# line still counts as a failure.
run_counted() {
  local name=$1; shift
  local out="$log/$(echo "$name" | tr '/ ' '__').log"
  "$@" >"$out" 2>&1
  local rc=$?
  local p f s
  p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out"); s=$(grep -c '^SKIP ' "$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$f" -gt 0 ]; then
    failures+=("$name")
    echo "== $name: FAILED (exit $rc)"; grep -v '^PASS ' "$out" | tail -40
  else
    if [ "$s" -gt 0 ]; then echo "== $name: $p passed, $s skipped"; else echo "== $name: $p passed"; fi
    grep '^SKIP ' "$out" || true
  fi
}

echo "-- unit tests (ASan+UBSan)"
for t in $(find "$BUILD/asan/test" -type f -perm -u+x | sort); do
  run_counted "unit ${t#$BUILD/asan/test/}" "$t"
done

echo "-- fuzz (${FUZZ_SECONDS}s each)"
for f in $(find "$BUILD/fuzz" -maxdepth 1 -type f -perm -u+x 2>/dev/null | sort); do
  name=$(basename "$f")
  corpus=$(mktemp -d /tmp/tulle-fuzz.XXXXXX)
  seeds="tests/fuzz/corpus/$name"
  run_counted "fuzz $name" bash -c "
    '$f' -max_total_time=$FUZZ_SECONDS -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
      -artifact_prefix='$log/$name-' '$corpus' $( [ -d "$seeds" ] && echo "'$seeds'" ) >/dev/null 2>'$log/$name.fuzz.log' \
      && echo 'PASS $name' || { tail -50 '$log/$name.fuzz.log'; echo 'FAIL $name'; exit 1; }"
  rm -rf "$corpus"
done

echo "-- end-to-end"
for t in tests/e2e/*.sh; do
  run_counted "e2e $(basename "$t" .sh)" bash "$t"
done

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "failed: ${failures[*]} (logs in $log)"
else
  rm -rf "$log"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
