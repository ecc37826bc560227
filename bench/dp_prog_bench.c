/* The datapath's per-packet cost, measured in the kernel by BPF_PROG_TEST_RUN with
 * repeat (the kernel's own average per run), with 1 and 20,000 services in the map:
 *   - a packet of a tracked connection (conntrack hit; the test's backend is the
 *     frontend itself, so the packet stays the same run after run and the rewrite is
 *     a no-op: the kernel re-runs the program on one buffer),
 *   - a packet that is not for a service (conntrack miss, frontend miss),
 * beside the same runs of an empty tc program (the harness's own cost). */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "../src/datapath/datapath.h"

#define REPEAT 2000000

static uint8_t pkt[54];

static void mk(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport, uint8_t flags)
{
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	uint8_t *ip = pkt + 14, *tcp = ip + 20;
	ip[0] = 0x45;
	ip[3] = 40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	uint16_t a = htons(sport), b = htons(dport);
	memcpy(tcp, &a, 2);
	memcpy(tcp + 2, &b, 2);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
}

static double run(int fd)
{
	uint8_t out[128];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .data_out = out,
		    .data_size_out = sizeof(out), .repeat = REPEAT);
	if (bpf_prog_test_run_opts(fd, &o) < 0)
		return -1;
	return (double)o.duration; /* ns per run, averaged by the kernel */
}

static int empty_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "empty", "GPL", insns, 2, NULL);
}

int main(void)
{
	int counts[] = { 1, 20000 };
	int empty = empty_prog();
	if (empty < 0) {
		perror("loading a BPF program (root needed)");
		return 1;
	}
	mk(htonl(0x0af40003), 40000, htonl(0x0af40109), 80, 0x10);
	printf("empty tc program: %.1f ns/packet\n", run(empty));
	for (size_t c = 0; c < 2; c++) {
		struct datapath *dp;
		char *err;
		struct dp_opts o = { .node_ip = htonl(0xac1f000a), .svc_max = 65536 };
		if (dp_open(&dp, &o, &err) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		int n = counts[c];
		struct dp_frontend *fe = calloc((size_t)n, sizeof(*fe));
		struct tl_backend *b = calloc((size_t)n, sizeof(*b));
		for (int i = 0; i < n; i++) {
			fe[i].key.addr = htonl(0x0a600000u + (uint32_t)i + 1);
			fe[i].key.port = htons(80);
			fe[i].key.proto = 6;
			b[i] = (struct tl_backend){ .addr = fe[i].key.addr, .port = fe[i].key.port };
			fe[i].backends = &b[i];
			fe[i].nbackends = 1;
		}
		struct dp_sync_stats st;
		dp_sync(dp, fe, (size_t)n, &st);
		int fd = dp_prog_fd(dp, DP_FROM_POD);
		/* Open a connection to the middle service, then time its packets. */
		uint32_t vip = htonl(0x0a600000u + (uint32_t)(n + 1) / 2);
		mk(htonl(0x0af40003), 40000, vip, 80, 0x02);
		run(fd);
		mk(htonl(0x0af40003), 40000, vip, 80, 0x10);
		double hit = run(fd);
		mk(htonl(0x0af40003), 40001, htonl(0x0af40109), 80, 0x10);
		double miss = run(fd);
		printf("%5d services: tracked packet (conntrack hit) %.1f ns, other packet (two misses) %.1f ns\n",
		       n, hit, miss);
		free(fe);
		free(b);
		dp_close(dp);
	}
	return 0;
}
