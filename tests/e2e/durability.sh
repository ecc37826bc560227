# A crash at any point loses no acknowledged write: kill -9 the server while clients
# write, restart it on the same state, and find every object whose create was answered
# 201.
. "$(dirname "$0")/../lib.sh"
S=$WORK/s
acked=$WORK/acked
: >"$acked"
lost=0 total=0
for round in 1 2 3; do
  start_server "$S" || exit 1
  pid=$SERVER_PID
  # Four writers, each recording what the server acknowledged.
  writers=()
  for w in 1 2 3 4; do
    ( i=0
      while :; do
        i=$((i + 1)); name="r$round-w$w-$i"
        c=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$S/api.sock" -X POST \
             -H 'Content-Type: application/json' \
             --data "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$name\"},\"data\":{\"i\":\"$i\"}}" \
             http://x/api/v1/namespaces/default/configmaps 2>/dev/null)
        [ "$c" = 201 ] && echo "$name" >>"$acked"
        [ "$c" = 000 ] && break
      done ) &
    writers+=($!)
  done
  sleep "0.$((RANDOM % 7 + 3))"
  kill -9 "$pid"
  wait "${writers[@]}" 2>/dev/null
  wait "$pid" 2>/dev/null
done
start_server "$S" || exit 1
while read -r name; do
  total=$((total + 1))
  c=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$S/api.sock" "http://x/api/v1/namespaces/default/configmaps/$name")
  [ "$c" = 200 ] || lost=$((lost + 1))
done <"$acked"
echo "acknowledged writes: $total, lost: $lost"
check "writes were acknowledged before each kill" test "$total" -gt 20
check "no acknowledged write is lost across three kill -9s" test "$lost" = 0
n=$(curl -s --unix-socket "$S/api.sock" http://x/api/v1/namespaces/default/configmaps | jget '["items"].__len__()')
check "the store holds no write that was never acknowledged twice over" test "$n" -ge "$total"
check "the server shuts down cleanly (no sanitizer report)" stop_server "$S"
