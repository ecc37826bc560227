# The README's first command (make demo runs scripts/demo.sh after setup and build):
# it must bring up a server, apply the seed, show the results and clean up after itself.
. "$(dirname "$0")/../lib.sh"
before=$(ls -d /tmp/tulle-demo.* 2>/dev/null | wc -l)
out=$(TULLE="$TULLE" DEMO_CLUSTER=d$$ bash "$(dirname "$0")/../../scripts/demo.sh" 2>&1); rc=$?
check "the demo exits 0" test "$rc" = 0
check "the demo applies the seed" grep -q "ciliumnetworkpolicy.cilium.io/api-l7-policy created" <<<"$out"
check "the demo shows allocated NodePorts" grep -q "web-service *NodePort .*80:30080/TCP" <<<"$out"
check "the demo shows a bad manifest refused with its position" grep -q "bad.yaml:9:15: Service \"broken\" is invalid" <<<"$out"
check "the demo brings up a 3-node cluster" grep -q "3 nodes Ready" <<<"$out"
check "the demo's client reaches all three web replicas across nodes" \
  test "$(grep -o '^pod=web-[^ ]* client=10\.244\.' <<<"$out" | cut -d' ' -f1 | sort -u | wc -l)" = 3
check "the demo's policy lets the labelled client in (a fourth answer)" test "$(grep -c '^pod=web-' <<<"$out")" = 4
check "... and blocks the unlabelled one (curl exit 28)" grep -q '^(blocked: curl exit 28)' <<<"$out"
check "the demo's observe shows the drop with its reason" \
  grep -qE 'default/stranger:[0-9]+ .*-> default/web-.*:80 .*POLICY_DENIED DROPPED' <<<"$out"
check "the demo removes its cluster" bash -c "! ip netns list | grep -q '^tl-d$$-'"
check "the demo leaves nothing behind in /tmp" test "$(ls -d /tmp/tulle-demo.* 2>/dev/null | wc -l)" = "$before"
