/* Policy enforcement in the kernel against the policy engine: every upstream scenario
 * compiled, written to the maps as the agent writes them, and every pod pair on every
 * probe sent through the pods' hooks (BPF_PROG_TEST_RUN); the kernel's verdict must be
 * the engine's, on both sides. Then conntrack (replies, established connections cut
 * by a new policy), fail-closed endpoints, flow events and the port prefixes. */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <linux/pkt_cls.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "../lib/testhelp.h"
#include "../lib/util.h"
#include "../policy/scenario.h"
#include "datapath_int.h"
#include "polplan.h"
#include "testpkt.h"

#define NEED_DP()                                            \
	do {                                                 \
		if (!dp)                                     \
			SKIP(load_err ? load_err : "no datapath"); \
	} while (0)

static uint16_t next_sport = 10000;

static uint32_t pod_ip(const struct pm_pod *p)
{
	uint32_t a;
	memcpy(&a, p->ip.b, 4);
	return a;
}

/* Compiles c and writes it to the maps as the agent does (all pods local). */
static void write_policy(const struct pm_cluster *c, struct pe_engine *e)
{
	char *err;
	pe_compile(e, c, &err);
	uint32_t *ident = xcalloc(e->nids + 1, sizeof(uint32_t)), *pols = xcalloc(c->npols + 1, sizeof(uint32_t));
	bool *local = xcalloc(c->npods + 1, sizeof(bool));
	for (size_t i = 1; i <= e->nids; i++)
		ident[i] = TL_ID_FIRST + (uint32_t)i - 1;
	for (size_t i = 0; i < c->npols; i++)
		pols[i] = (uint32_t)i + 1;
	for (size_t i = 0; i < c->npods; i++)
		local[i] = true;
	struct dp_polplan_in in = { e, ident, pols, local, NULL, 0 };
	struct dp_polplan plan;
	struct dp_policy_stats st;
	dp_polplan_build(&plan, &in);
	CHECK(dp_policy_sync(dp, plan.ips, plan.nips, plan.rules, plan.nrules, &st) == 0);
	dp_polplan_free(&plan);
	free(ident);
	free(pols);
	free(local);
}

/* The kernel's verdict for a new connection s -> d, at s's egress and d's ingress. */
static void kernel_verdict(const struct pm_pod *s, const struct pm_pod *d, uint8_t proto, uint16_t port,
			   bool *egress, bool *ingress)
{
	struct packet in = mk(proto, pod_ip(s), next_sport++, pod_ip(d), port, 0x02), out;
	*egress = run_prog(DP_FROM_POD, &in, &out) == TC_ACT_OK;
	*ingress = run_prog(DP_TO_POD, &in, &out) == TC_ACT_OK;
}

static int check_scenario(const char *path, const char *name)
{
	struct pm_cluster c;
	struct pe_engine e;
	json_t *expect;
	char *err;
	int bad = 0;
	size_t i;
	json_t *pj;

	if (scenario_load(path, &c, &expect, &err) < 0) {
		fprintf(stderr, "  %s\n", err);
		free(err);
		return 1;
	}
	write_policy(&c, &e);
	json_array_foreach(json_object_get(expect, "ports"), i, pj) {
		uint8_t proto;
		uint16_t port;
		if (scenario_probe(json_string_value(pj), &proto, &port) < 0 || proto == PROTO_ICMP)
			continue;
		for (size_t s = 0; s < c.npods; s++)
			for (size_t d = 0; d < c.npods; d++) {
				uint32_t si = pe_ident_of_pod(&e, (int)s), di = pe_ident_of_pod(&e, (int)d);
				bool self = pm_is_self((int)s, (int)d);
				bool we = self || pe_lookup(&e, si, DIR_EGRESS, di, proto, port).v == V_ALLOW;
				bool wi = self || pe_lookup(&e, di, DIR_INGRESS, si, proto, port).v == V_ALLOW;
				bool ke, ki;
				kernel_verdict(&c.pods[s], &c.pods[d], proto, port, &ke, &ki);
				if (ke != we || ki != wi) {
					fprintf(stderr, "  %s: %s/%s -> %s/%s %s: engine egress %d ingress %d, kernel %d %d\n",
						name, c.pods[s].ns, c.pods[s].name, c.pods[d].ns, c.pods[d].name,
						json_string_value(pj), we, wi, ke, ki);
					bad++;
				}
			}
	}
	pe_free(&e);
	pm_free(&c);
	json_decref(expect);
	return bad;
}

static void upstream_scenarios_in_kernel(void)
{
	NEED_DP();
	const char *dir = getenv("TULLE_POLICY_DATA") ?: "tests/data/policy/k8s";
	DIR *d = opendir(dir);
	struct dirent *de;
	int scenarios = 0, failed = 0;

	if (!d)
		SKIP("tests/data/policy/k8s not found (run from the repository root)");
	while ((de = readdir(d))) {
		if (!str_has_suffix(de->d_name, ".yaml"))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		if (check_scenario(path, de->d_name))
			failed++;
		free(path);
		scenarios++;
	}
	closedir(d);
	printf("upstream scenarios in the kernel: %d, differing: %d\n", scenarios, failed);
	CHECK(scenarios >= 40);
	CHECK(failed == 0);
}

/* x/a accepts only x/b on TCP 80; everything else may talk. */
static void one_policy(struct pm_cluster *c, struct pe_engine *e, bool deny_all)
{
	char *err;
	scenario_upstream_cluster(c);
	json_t *np = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:{s:s}},s:[{s:[{s:{s:{s:s}}}],s:[{s:i,s:s}]}]}}",
			       "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name", "p",
			       "namespace", "x", "spec", "podSelector", "matchLabels", "pod", "a", "ingress", "from",
			       "podSelector", "matchLabels", "pod", deny_all ? "nobody" : "b", "ports", "port", 80,
			       "protocol", "TCP");
	CHECK(scenario_add(c, np, &err) == 0);
	pm_finish(c);
	write_policy(c, e);
}

static const struct pm_pod *pod(const struct pm_cluster *c, const char *ns, const char *name)
{
	return &c->pods[pm_find_pod(c, ns, name)];
}

static void replies_and_established_connections(void)
{
	NEED_DP();
	struct pm_cluster c;
	struct pe_engine e;
	one_policy(&c, &e, false);
	const struct pm_pod *a = pod(&c, "x", "a"), *b = pod(&c, "x", "b"), *cc = pod(&c, "x", "c");
	struct packet out;
	/* x/b -> x/a:80 is allowed; x/a's reply passes both of its hooks although nothing
	 * allows x/a to receive from x/b on port 40000. */
	struct packet syn = mk(6, pod_ip(b), 40000, pod_ip(a), 80, 0x02);
	CHECK(run_prog(DP_FROM_POD, &syn, &out) == TC_ACT_OK);
	CHECK(run_prog(DP_TO_POD, &syn, &out) == TC_ACT_OK);
	struct packet synack = mk(6, pod_ip(a), 80, pod_ip(b), 40000, 0x12);
	CHECK(run_prog(DP_FROM_POD, &synack, &out) == TC_ACT_OK);
	CHECK(run_prog(DP_TO_POD, &synack, &out) == TC_ACT_OK);
	/* x/c is denied at x/a. */
	struct packet bad = mk(6, pod_ip(cc), 40001, pod_ip(a), 80, 0x02);
	CHECK(run_prog(DP_TO_POD, &bad, &out) == TC_ACT_SHOT);
	/* A new policy that denies x/b: the established connection's next packet is cut. */
	pe_free(&e);
	pm_free(&c);
	one_policy(&c, &e, true);
	a = pod(&c, "x", "a");
	b = pod(&c, "x", "b");
	struct packet ack = mk(6, pod_ip(b), 40000, pod_ip(a), 80, 0x10);
	CHECK(run_prog(DP_TO_POD, &ack, &out) == TC_ACT_SHOT);
	/* And the old allow returns: a new connection passes again. */
	pe_free(&e);
	pm_free(&c);
	one_policy(&c, &e, false);
	a = pod(&c, "x", "a");
	b = pod(&c, "x", "b");
	struct packet syn2 = mk(6, pod_ip(b), 40002, pod_ip(a), 80, 0x02);
	CHECK(run_prog(DP_TO_POD, &syn2, &out) == TC_ACT_OK);
	pe_free(&e);
	pm_free(&c);
}

/* Kubernetes: a pod cannot block access to itself. Through a Service it is hairpinned
 * back out its own veth; with x/a admitting nobody, x/a still reaches itself, and
 * x/b through the same Service is still denied. */
static void a_pod_reaches_itself_through_a_service(void)
{
	NEED_DP();
	struct pm_cluster c;
	struct pe_engine e;
	one_policy(&c, &e, true);
	const struct pm_pod *a = pod(&c, "x", "a"), *b = pod(&c, "x", "b");
	struct tl_backend be = { .addr = pod_ip(a), .port = htons(80), .flags = TL_BACKEND_F_LOCAL };
	struct dp_frontend f = { .key = { .addr = IP(10, 96, 0, 77), .port = htons(80), .proto = 6 },
				 .affinity_timeout = 10800, .backends = &be, .nbackends = 1 };
	struct dp_sync_stats st;
	CHECK(dp_sync(dp, &f, 1, &st) == 0);
	struct packet self = mk(6, pod_ip(a), 41000, IP(10, 96, 0, 77), 80, 0x02), out, out2;
	CHECK(run_prog(DP_FROM_POD, &self, &out) == TC_ACT_REDIRECT);
	CHECK(DADDR(&out) == pod_ip(a));
	struct packet other = mk(6, pod_ip(b), 41001, IP(10, 96, 0, 77), 80, 0x02);
	int rc = run_prog(DP_FROM_POD, &other, &out);
	CHECK(rc == TC_ACT_SHOT || run_prog(DP_TO_POD, &out, &out2) == TC_ACT_SHOT);
	CHECK(dp_sync(dp, NULL, 0, &st) == 0);
	pe_free(&e);
	pm_free(&c);
}

static void unknown_endpoint_fails_closed(void)
{
	NEED_DP();
	struct pm_cluster c;
	struct pe_engine e;
	one_policy(&c, &e, false);
	struct packet out, p = mk(6, htonl(0x0a630001), 40000, pod_ip(pod(&c, "y", "a")), 80, 0x02);
	/* 10.99.0.1 is in no pod: as a sender on a pod's hook it is a pod the agent has
	 * not written, dropped; as a peer it is the world, allowed where nothing isolates. */
	CHECK(run_prog(DP_FROM_POD, &p, &out) == TC_ACT_SHOT);
	CHECK(run_prog(DP_TO_POD, &p, &out) == TC_ACT_OK);
	pe_free(&e);
	pm_free(&c);
}

struct seen {
	struct tl_flow last;
	int n;
};

static int on_flow(void *ctx, void *data, size_t len)
{
	struct seen *s = ctx;
	if (len >= sizeof(struct tl_flow)) {
		memcpy(&s->last, data, sizeof(s->last));
		s->n++;
	}
	return 0;
}

static void drops_make_flow_events(void)
{
	NEED_DP();
	struct pm_cluster c;
	struct pe_engine e;
	struct seen s = { 0 };
	struct ring_buffer *rb = ring_buffer__new(dp_flows_fd(dp), on_flow, &s, NULL);
	CHECK(rb != NULL);
	if (!rb)
		return;
	ring_buffer__consume(rb);
	s.n = 0;
	one_policy(&c, &e, false);
	const struct pm_pod *a = pod(&c, "x", "a"), *cc = pod(&c, "x", "c");
	struct packet out, p = mk(6, pod_ip(cc), 40100, pod_ip(a), 80, 0x02);
	CHECK(run_prog(DP_TO_POD, &p, &out) == TC_ACT_SHOT);
	ring_buffer__consume(rb);
	CHECK(s.n == 1);
	CHECK(s.last.verdict == TL_V_DROPPED && s.last.reason == TL_R_POLICY_DENIED);
	CHECK(s.last.type == TL_EV_DROP && s.last.dir == TL_DIR_INGRESS);
	CHECK(s.last.saddr == pod_ip(cc) && s.last.daddr == pod_ip(a) && ntohs(s.last.dport) == 80);
	CHECK(s.last.src_id == TL_ID_FIRST - 1 + pe_ident_of_pod(&e, pm_find_pod(&c, "x", "c")));
	CHECK(s.last.dst_id == TL_ID_FIRST - 1 + pe_ident_of_pod(&e, pm_find_pod(&c, "x", "a")));
	CHECK(s.last.tcp_flags == 0x02);
	/* An allowed connection: one event for its first packet, none for a repeat of the
	 * same flags or for ACK and PSH (medium aggregation), one for FIN. */
	struct packet syn = mk(6, pod_ip(pod(&c, "x", "b")), 40101, pod_ip(a), 80, 0x02);
	struct packet syn_again = syn, ack = mk(6, pod_ip(pod(&c, "x", "b")), 40101, pod_ip(a), 80, 0x18);
	s.n = 0;
	run_prog(DP_TO_POD, &syn, &out);
	run_prog(DP_TO_POD, &syn_again, &out);
	ring_buffer__consume(rb);
	CHECK(s.n == 1 && s.last.type == TL_EV_NEW && s.last.verdict == TL_V_FORWARDED && s.last.policy == 1);
	run_prog(DP_TO_POD, &ack, &out);
	ring_buffer__consume(rb);
	CHECK(s.n == 1);
	/* The connection ends; a new one on the same tuple (a TIME_WAIT port reused) is a
	 * new connection: decided again and reported as new. */
	struct packet fin = mk(6, pod_ip(pod(&c, "x", "b")), 40101, pod_ip(a), 80, 0x11);
	run_prog(DP_TO_POD, &fin, &out);
	ring_buffer__consume(rb);
	CHECK(s.n == 2 && s.last.type == TL_EV_STATE && (s.last.tcp_flags & 0x01));
	s.n = 0;
	run_prog(DP_TO_POD, &syn, &out);
	ring_buffer__consume(rb);
	CHECK(s.n == 1 && s.last.type == TL_EV_NEW && s.last.tcp_flags == 0x02);
	ring_buffer__free(rb);
	pe_free(&e);
	pm_free(&c);
}

static void port_prefixes_cover_exactly(void)
{
	uint16_t port[32];
	uint8_t bits[32];
	srand(7);
	for (int t = 0; t < 2000; t++) {
		uint32_t lo = (uint32_t)rand() % 65536, hi = lo + (uint32_t)rand() % (65536 - lo);
		if (t == 0)
			lo = 0, hi = 65535;
		size_t n = dp_port_prefixes((uint16_t)lo, (uint16_t)hi, port, bits);
		CHECK(n <= 32);
		uint32_t covered = 0, at = lo;
		for (size_t i = 0; i < n; i++) {
			uint32_t size = 1u << (16 - bits[i]);
			CHECK(port[i] == at && (port[i] & (size - 1)) == 0);
			covered += size;
			at += size;
		}
		CHECK(covered == hi - lo + 1);
	}
}

int main(void)
{
	struct dp_opts o = { .node_ip = IP(172, 31, 0, 10), .ct_max = 65536 };
	if (geteuid() != 0)
		load_err = xstrdup("needs root to load BPF programs");
	else if (dp_open(&dp, &o, &load_err) < 0)
		dp = NULL;
	RUN(upstream_scenarios_in_kernel);
	RUN(replies_and_established_connections);
	RUN(a_pod_reaches_itself_through_a_service);
	RUN(unknown_endpoint_fails_closed);
	RUN(drops_make_flow_events);
	RUN(port_prefixes_cover_exactly);
	dp_close(dp);
	free(load_err);
	return testhelp_done();
}
