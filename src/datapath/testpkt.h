/* Crafted packets for the datapath's tests (BPF_PROG_TEST_RUN): IPv4 TCP, UDP and
 * SCTP with valid checksums, a checksum verifier, and one program run. Each test
 * binary that includes this has one datapath, dp. */
#ifndef TULLE_DATAPATH_TESTPKT_H
#define TULLE_DATAPATH_TESTPKT_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <bpf/bpf.h>

#include "datapath.h"

static struct datapath *dp;
static char *load_err;

#define IP(a, b, c, d) htonl((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

struct packet {
	uint8_t b[128];
	uint32_t len;
};

static inline uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static inline uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

/* 0 when the packet's IP and transport checksums are right. */
static inline int bad_checksums(const struct packet *p)
{
	const uint8_t *ip = p->b + 14;
	if (fold(sum16(ip, 20, 0)) != 0xffff)
		return 1;
	uint16_t tot = (uint16_t)(ip[2] << 8 | ip[3]);
	uint8_t proto = ip[9];
	const uint8_t *l4 = ip + 20;
	size_t l4len = tot - 20u;
	if (proto == 17 && l4[6] == 0 && l4[7] == 0)
		return 0; /* UDP without checksum */
	uint32_t s = sum16(ip + 12, 8, 0) + proto + (uint32_t)l4len;
	return fold(sum16(l4, l4len, s)) != 0xffff ? 2 : 0;
}

static inline void fix_checksums(struct packet *p)
{
	uint8_t *ip = p->b + 14;
	ip[10] = ip[11] = 0;
	uint16_t c = (uint16_t)~fold(sum16(ip, 20, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	uint16_t tot = (uint16_t)(ip[2] << 8 | ip[3]);
	uint8_t *l4 = ip + 20;
	size_t l4len = tot - 20u, off = ip[9] == 6 ? 16 : 6;
	if (ip[9] == 132)
		return;
	l4[off] = l4[off + 1] = 0;
	c = (uint16_t)~fold(sum16(l4, l4len, sum16(ip + 12, 8, 0) + ip[9] + (uint32_t)l4len));
	if (ip[9] == 17 && c == 0)
		c = 0xffff;
	l4[off] = (uint8_t)(c >> 8);
	l4[off + 1] = (uint8_t)c;
}

static inline struct packet mk(uint8_t proto, uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport, uint8_t tcp_flags)
{
	struct packet p = { 0 };
	uint8_t *eth = p.b, *ip = p.b + 14, *l4 = ip + 20;
	memcpy(eth, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	size_t l4len = proto == 6 ? 20 : proto == 17 ? 8 + 6 : 12 + 16;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + l4len) >> 8);
	ip[3] = (uint8_t)(20 + l4len);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	uint16_t sp = htons(sport), dpt = htons(dport);
	memcpy(l4, &sp, 2);
	memcpy(l4 + 2, &dpt, 2);
	if (proto == 6) {
		l4[4] = 0x12; /* some sequence number */
		l4[12] = 5 << 4;
		l4[13] = tcp_flags;
		l4[14] = 0xff;
	} else if (proto == 17) {
		l4[5] = (uint8_t)l4len;
		memcpy(l4 + 8, "hello!", 6);
	}
	p.len = 14 + 20 + (uint32_t)l4len;
	fix_checksums(&p);
	return p;
}

static inline int run_prog(enum dp_hook h, struct packet *p, struct packet *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .data_out = out->b,
		    .data_size_out = sizeof(out->b));
	memset(out, 0, sizeof(*out));
	if (bpf_prog_test_run_opts(dp_prog_fd(dp, h), &o) < 0)
		return -errno;
	out->len = o.data_size_out;
	return (int)o.retval;
}

static inline uint32_t get32(const struct packet *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p->b + off, 4);
	return v;
}

static inline uint16_t get16(const struct packet *p, size_t off)
{
	uint16_t v;
	memcpy(&v, p->b + off, 2);
	return ntohs(v);
}

#define SADDR(p) get32(p, 26)
#define DADDR(p) get32(p, 30)
#define SPORT(p) get16(p, 34)
#define DPORT(p) get16(p, 36)

#endif
