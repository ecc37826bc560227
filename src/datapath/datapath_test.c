/* The tc programs run on crafted packets through BPF_PROG_TEST_RUN: service
 * translation both ways with valid checksums, rejects, affinity, hairpin, NodePort
 * SNAT, and the userspace map sync and conntrack GC they rely on. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "../lib/testhelp.h"
#include "../lib/util.h"
#include "datapath.h"
#include "datapath_int.h"
#include "testpkt.h"

static struct tl_backend be(uint32_t addr, uint16_t port, bool local)
{
	return (struct tl_backend){ .addr = addr, .port = htons(port), .flags = local ? TL_BACKEND_F_LOCAL : 0 };
}

static struct dp_frontend fe(uint32_t addr, uint16_t port, uint8_t proto, uint16_t flags, struct tl_backend *b, size_t n)
{
	return (struct dp_frontend){ .key = { .addr = addr, .port = htons(port), .proto = proto }, .flags = flags,
				     .affinity_timeout = 10800, .backends = b, .nbackends = n };
}

static size_t ct_count(void)
{
	struct dp_map_usage u[4];
	size_t n = dp_usage(dp, u, 4);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(u[i].name, "tl_ct"))
			return u[i].entries;
	return 0;
}

static void clear_ct(void)
{
	struct tl_ct_key k;
	while (bpf_map_get_next_key(dp->ct_fd, NULL, &k) == 0)
		bpf_map_delete_elem(dp->ct_fd, &k);
}

#define NEED_DP()                                    \
	do {                                         \
		if (!dp)                             \
			SKIP(load_err ? load_err : "no datapath"); \
	} while (0)

static void test_clusterip_both_ways(void)
{
	NEED_DP();
	struct tl_backend b[] = { be(IP(10, 244, 1, 7), 8080, false) };
	struct dp_frontend f[] = { fe(IP(10, 96, 0, 5), 80, 6, 0, b, 1) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, f, 1, &st) == 0);
	struct packet in = mk(6, IP(10, 244, 0, 3), 40000, IP(10, 96, 0, 5), 80, 0x02), out;
	CHECK(run_prog(DP_FROM_POD, &in, &out) == TC_ACT_OK);
	CHECK(DADDR(&out) == IP(10, 244, 1, 7) && DPORT(&out) == 8080);
	CHECK(SADDR(&out) == IP(10, 244, 0, 3) && SPORT(&out) == 40000);
	CHECK(bad_checksums(&out) == 0);
	CHECK(ct_count() == 2);
	/* A second packet of the connection takes the same path, through conntrack. */
	struct packet in2 = mk(6, IP(10, 244, 0, 3), 40000, IP(10, 96, 0, 5), 80, 0x10), out2;
	CHECK(run_prog(DP_FROM_POD, &in2, &out2) == TC_ACT_OK && DADDR(&out2) == IP(10, 244, 1, 7));
	/* The reply, on its way into the client pod, comes from the service. */
	struct packet rep = mk(6, IP(10, 244, 1, 7), 8080, IP(10, 244, 0, 3), 40000, 0x12);
	CHECK(run_prog(DP_TO_POD, &rep, &out) == TC_ACT_OK);
	CHECK(SADDR(&out) == IP(10, 96, 0, 5) && SPORT(&out) == 80);
	CHECK(DADDR(&out) == IP(10, 244, 0, 3) && DPORT(&out) == 40000);
	CHECK(bad_checksums(&out) == 0);
	/* Traffic that is not for a service is untouched. */
	struct packet other = mk(6, IP(10, 244, 0, 3), 40001, IP(10, 244, 1, 9), 80, 0x02);
	CHECK(run_prog(DP_FROM_POD, &other, &out) == TC_ACT_OK && !memcmp(out.b, other.b, other.len));
	/* ClusterIPs are not served to the outside. */
	struct packet outside = mk(6, IP(172, 31, 0, 254), 40000, IP(10, 96, 0, 5), 80, 0x02);
	CHECK(run_prog(DP_FROM_NET, &outside, &out) == TC_ACT_OK && DADDR(&out) == IP(10, 96, 0, 5));
}

static void test_udp(void)
{
	NEED_DP();
	struct tl_backend b[] = { be(IP(10, 244, 2, 4), 5353, false) };
	struct dp_frontend f[] = { fe(IP(10, 96, 0, 10), 53, 17, 0, b, 1) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, f, 1, &st) == 0);
	struct packet in = mk(17, IP(10, 244, 0, 3), 33333, IP(10, 96, 0, 10), 53, 0), out;
	CHECK(run_prog(DP_FROM_POD, &in, &out) == TC_ACT_OK);
	CHECK(DADDR(&out) == IP(10, 244, 2, 4) && DPORT(&out) == 5353 && bad_checksums(&out) == 0);
	/* A UDP packet without checksum keeps none. */
	struct packet nock = mk(17, IP(10, 244, 0, 3), 33334, IP(10, 96, 0, 10), 53, 0);
	nock.b[40] = nock.b[41] = 0;
	CHECK(run_prog(DP_FROM_POD, &nock, &out) == TC_ACT_OK && out.b[40] == 0 && out.b[41] == 0);
	CHECK(DADDR(&out) == IP(10, 244, 2, 4));
	/* The TCP frontend of the same address is another frontend: none here. */
	struct packet tcp = mk(6, IP(10, 244, 0, 3), 33335, IP(10, 96, 0, 10), 53, 0x02);
	CHECK(run_prog(DP_FROM_POD, &tcp, &out) == TC_ACT_OK && DADDR(&out) == IP(10, 96, 0, 10));
}

static void test_sctp_address_only(void)
{
	NEED_DP();
	struct tl_backend b[] = { be(IP(10, 244, 2, 5), 81, false) };
	struct dp_frontend f[] = { fe(IP(10, 96, 0, 11), 81, 132, 0, b, 1) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, f, 1, &st) == 0);
	struct packet in = mk(132, IP(10, 244, 0, 3), 5000, IP(10, 96, 0, 11), 81, 0), out;
	CHECK(run_prog(DP_FROM_POD, &in, &out) == TC_ACT_OK);
	CHECK(DADDR(&out) == IP(10, 244, 2, 5) && DPORT(&out) == 81);
	/* SCTP's CRC32c does not cover addresses: the payload is byte for byte the same. */
	CHECK(!memcmp(out.b + 34, in.b + 34, in.len - 34));
}

static void test_reject_without_endpoints(void)
{
	NEED_DP();
	struct dp_frontend f[] = { fe(IP(10, 96, 0, 6), 80, 6, 0, NULL, 0) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, f, 1, &st) == 0);
	struct packet in = mk(6, IP(10, 244, 0, 3), 40000, IP(10, 96, 0, 6), 80, 0x02), out;
	CHECK(run_prog(DP_FROM_POD, &in, &out) == TC_ACT_REDIRECT);
	CHECK(out.len == 14 + 56);
	CHECK(out.b[14 + 9] == 1);                      /* ICMP */
	CHECK(out.b[34] == 3 && out.b[35] == 3);        /* port unreachable */
	CHECK(SADDR(&out) == IP(10, 96, 0, 6) && DADDR(&out) == IP(10, 244, 0, 3));
	CHECK(fold(sum16(out.b + 14, 20, 0)) == 0xffff);
	CHECK(fold(sum16(out.b + 34, 36, 0)) == 0xffff);
	/* The quoted header is the client's original packet, so its socket gets the error. */
	CHECK(!memcmp(out.b + 42, in.b + 14, 28));
	CHECK(!memcmp(out.b, in.b + 6, 6) && !memcmp(out.b + 6, in.b, 6)); /* back where it came from */
	CHECK(ct_count() == 0);
}

static void test_affinity(void)
{
	NEED_DP();
	struct tl_backend b[] = { be(IP(10, 244, 1, 1), 80, false), be(IP(10, 244, 1, 2), 80, false),
				  be(IP(10, 244, 1, 3), 80, false) };
	struct dp_frontend f[] = { fe(IP(10, 96, 0, 7), 80, 6, TL_SVC_F_AFFINITY, b, 3),
				   fe(IP(10, 96, 0, 8), 80, 6, 0, b, 3) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, f, 2, &st) == 0);
	uint32_t first = 0;
	bool same = true, spread = false;
	uint32_t seen0 = 0;
	for (int i = 0; i < 30; i++) {
		struct packet in = mk(6, IP(10, 244, 0, 3), (uint16_t)(41000 + i), IP(10, 96, 0, 7), 80, 0x02), out;
		run_prog(DP_FROM_POD, &in, &out);
		if (i == 0)
			first = DADDR(&out);
		same &= DADDR(&out) == first;
		struct packet in2 = mk(6, IP(10, 244, 0, 3), (uint16_t)(42000 + i), IP(10, 96, 0, 8), 80, 0x02);
		run_prog(DP_FROM_POD, &in2, &out);
		if (i == 0)
			seen0 = DADDR(&out);
		spread |= DADDR(&out) != seen0;
	}
	CHECK(same);   /* ClientIP: one backend per client */
	CHECK(spread); /* without: connections spread (1 in 3^29 to fail by chance) */
}

static void test_hairpin(void)
{
	NEED_DP();
	struct tl_backend b[] = { be(IP(10, 244, 0, 3), 8080, true) };
	struct dp_frontend f[] = { fe(IP(10, 96, 0, 9), 80, 6, 0, b, 1) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, f, 1, &st) == 0);
	struct packet in = mk(6, IP(10, 244, 0, 3), 40000, IP(10, 96, 0, 9), 80, 0x02), out;
	CHECK(run_prog(DP_FROM_POD, &in, &out) == TC_ACT_REDIRECT);
	CHECK(SADDR(&out) == htonl(TL_HAIRPIN_IP_HOST) && DADDR(&out) == IP(10, 244, 0, 3) && DPORT(&out) == 8080);
	CHECK(bad_checksums(&out) == 0);
	struct packet rep = mk(6, IP(10, 244, 0, 3), 8080, htonl(TL_HAIRPIN_IP_HOST), 40000, 0x12);
	CHECK(run_prog(DP_FROM_POD, &rep, &out) == TC_ACT_REDIRECT);
	CHECK(SADDR(&out) == IP(10, 96, 0, 9) && SPORT(&out) == 80 && DADDR(&out) == IP(10, 244, 0, 3));
	CHECK(DPORT(&out) == 40000 && bad_checksums(&out) == 0);
}

static void test_nodeport_snat(void)
{
	NEED_DP();
	struct tl_backend remote[] = { be(IP(10, 244, 1, 7), 8080, false) };
	struct tl_backend local[] = { be(IP(10, 244, 0, 8), 8080, true) };
	struct dp_frontend f[] = { fe(IP(172, 31, 0, 10), 30080, 6, TL_SVC_F_EXTERNAL | TL_SVC_F_SNAT, remote, 1),
				   fe(IP(172, 31, 0, 10), 30081, 6, TL_SVC_F_EXTERNAL, local, 1) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, f, 2, &st) == 0);
	/* Cluster policy, backend elsewhere: the node's address becomes the source. */
	struct packet in = mk(6, IP(172, 31, 0, 254), 50000, IP(172, 31, 0, 10), 30080, 0x02), out;
	run_prog(DP_FROM_NET, &in, &out);
	CHECK(SADDR(&out) == IP(172, 31, 0, 10) && DADDR(&out) == IP(10, 244, 1, 7) && DPORT(&out) == 8080);
	CHECK(bad_checksums(&out) == 0);
	uint16_t sport = SPORT(&out);
	struct packet rep = mk(6, IP(10, 244, 1, 7), 8080, IP(172, 31, 0, 10), sport, 0x12);
	run_prog(DP_FROM_NET, &rep, &out);
	CHECK(SADDR(&out) == IP(172, 31, 0, 10) && SPORT(&out) == 30080);
	CHECK(DADDR(&out) == IP(172, 31, 0, 254) && DPORT(&out) == 50000 && bad_checksums(&out) == 0);
	/* Local policy (no SNAT flag): the client's address reaches the backend. */
	struct packet in2 = mk(6, IP(172, 31, 0, 254), 50001, IP(172, 31, 0, 10), 30081, 0x02);
	run_prog(DP_FROM_NET, &in2, &out);
	CHECK(SADDR(&out) == IP(172, 31, 0, 254) && DADDR(&out) == IP(10, 244, 0, 8));
}

static void test_sync_and_purge(void)
{
	NEED_DP();
	struct tl_backend b[] = { be(IP(10, 244, 1, 1), 80, false), be(IP(10, 244, 1, 2), 80, false) };
	struct dp_frontend f[] = { fe(IP(10, 96, 1, 1), 80, 6, 0, b, 2) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, NULL, 0, &st) == 0);
	CHECK(dp_sync(dp, f, 1, &st) == 0 && st.added == 1);
	CHECK(dp_sync(dp, f, 1, &st) == 0 && st.added == 0 && st.changed == 0 && st.removed == 0);
	/* Connections to both backends. */
	int to1 = 0, to2 = 0;
	for (int i = 0; i < 40; i++) {
		struct packet in = mk(6, IP(10, 244, 0, 3), (uint16_t)(43000 + i), IP(10, 96, 1, 1), 80, 0x02), out;
		run_prog(DP_FROM_POD, &in, &out);
		to1 += DADDR(&out) == IP(10, 244, 1, 1);
		to2 += DADDR(&out) == IP(10, 244, 1, 2);
	}
	CHECK(to1 + to2 == 40 && to1 > 0 && to2 > 0);
	CHECK(ct_count() == 80);
	/* Backend 1 leaves: its connections' entries go, the others stay. */
	f[0].backends = &b[1];
	f[0].nbackends = 1;
	CHECK(dp_sync(dp, f, 1, &st) == 0 && st.changed == 1);
	CHECK(st.ct_purged == (size_t)to1 * 2);
	CHECK(ct_count() == (size_t)to2 * 2);
	struct tl_slot_key sk = { .slot = 2 };
	struct tl_svc_key k = f[0].key;
	struct tl_svc v;
	CHECK(bpf_map_lookup_elem(dp->svc_fd, &k, &v) == 0 && v.count == 1);
	sk.id = v.id;
	struct tl_backend got;
	CHECK(bpf_map_lookup_elem(dp->slots_fd, &sk, &got) < 0); /* trimmed */
	/* The frontend goes: entry and slots. */
	CHECK(dp_sync(dp, NULL, 0, &st) == 0 && st.removed == 1);
	CHECK(bpf_map_lookup_elem(dp->svc_fd, &k, &v) < 0);
	sk.slot = 1;
	CHECK(bpf_map_lookup_elem(dp->slots_fd, &sk, &got) < 0);
}

static void test_ct_gc(void)
{
	NEED_DP();
	struct tl_backend b[] = { be(IP(10, 244, 1, 1), 80, false) };
	struct dp_frontend f[] = { fe(IP(10, 96, 1, 2), 80, 17, 0, b, 1) };
	struct dp_sync_stats st;
	clear_ct();
	CHECK(dp_sync(dp, f, 1, &st) == 0);
	struct packet in = mk(17, IP(10, 244, 0, 3), 44000, IP(10, 96, 1, 2), 80, 0), out;
	run_prog(DP_FROM_POD, &in, &out);
	CHECK(ct_count() == 2);
	CHECK(dp_ct_gc(dp) == 0); /* fresh */
	/* Age both directions past the UDP timeout. */
	struct tl_ct_key k, *prev = NULL, nk;
	struct tl_ct v;
	while (bpf_map_get_next_key(dp->ct_fd, prev, &nk) == 0) {
		k = nk;
		prev = &k;
		bpf_map_lookup_elem(dp->ct_fd, &k, &v);
		v.last_seen -= 200ull * 1000000000ull;
		bpf_map_update_elem(dp->ct_fd, &k, &v, BPF_EXIST);
	}
	CHECK(dp_ct_gc(dp) == 2);
	CHECK(ct_count() == 0);
}

static void test_metrics(void)
{
	NEED_DP();
	uint64_t m[TL_M_MAX];
	CHECK(dp_metrics(dp, m) == 0);
	CHECK(m[TL_M_PACKETS] > 0 && m[TL_M_SVC_NEW] > 0 && m[TL_M_REJECT_NO_ENDPOINTS] >= 1);
	CHECK_STR(dp_metric_name(TL_M_REJECT_NO_ENDPOINTS), "rejected_no_endpoints");
}

static void test_malformed(void)
{
	NEED_DP();
	/* Truncated transport headers and runts are dropped, never read past the end. */
	struct packet in = mk(6, IP(10, 244, 0, 3), 40000, IP(10, 96, 0, 5), 80, 0x02), out;
	for (uint32_t len = 14; len < in.len; len++) {
		struct packet t = in;
		t.len = len;
		int rc = run_prog(DP_FROM_POD, &t, &out);
		/* -EINVAL: the kernel builds no skb that short (below an IP header). */
		CHECK(rc == TC_ACT_OK || rc == TC_ACT_SHOT || (rc == -EINVAL && len < 34));
	}
	for (int i = 0; i < 2000; i++) {
		struct packet t = in;
		for (int j = 0; j < 8; j++)
			t.b[14 + th_rand(40)] = (uint8_t)th_rand(256);
		int rc = run_prog(i & 1 ? DP_FROM_NET : DP_FROM_POD, &t, &out);
		CHECK(rc == TC_ACT_OK || rc == TC_ACT_SHOT || rc == TC_ACT_REDIRECT);
	}
}

int main(void)
{
	struct dp_opts o = { .node_ip = IP(172, 31, 0, 10), .ct_max = 4096 };
	if (geteuid() != 0)
		load_err = xstrdup("needs root to load BPF programs");
	else if (dp_open(&dp, &o, &load_err) < 0)
		dp = NULL;
	if (dp) {
		/* The service tests run without policy: every address is a local endpoint of
		 * one identity that no policy isolates. */
		struct dp_ip any = { .key = { 0, 0 }, .val = { TL_ID_FIRST, TL_IP_F_LOCAL } };
		struct dp_policy_stats ps;
		if (dp_policy_sync(dp, &any, 1, NULL, 0, &ps) < 0)
			fprintf(stderr, "cannot write the ipcache\n");
	}
	RUN(test_clusterip_both_ways);
	RUN(test_udp);
	RUN(test_sctp_address_only);
	RUN(test_reject_without_endpoints);
	RUN(test_affinity);
	RUN(test_hairpin);
	RUN(test_nodeport_snat);
	RUN(test_sync_and_purge);
	RUN(test_ct_gc);
	RUN(test_metrics);
	RUN(test_malformed);
	dp_close(dp);
	free(load_err);
	return testhelp_done();
}
