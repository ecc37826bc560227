#include "msg.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char out[DNS_MAX_NAME + 1], bool lower)
{
	size_t o = *off, n = 0, end = 0;
	int jumps = 0;
	bool jumped = false;

	for (;;) {
		if (o >= len)
			return -1;
		uint8_t l = msg[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 1 >= len || ++jumps > 16)
				return -1;
			size_t to = (size_t)(l & 0x3f) << 8 | msg[o + 1];
			if (!jumped)
				end = o + 2;
			jumped = true;
			if (to >= o)
				return -1; /* pointers only go backwards: no loops */
			o = to;
			continue;
		}
		if (l & 0xc0)
			return -1; /* extended label types: not supported */
		o++;
		if (l == 0)
			break;
		if (o + l > len || n + l + (n ? 1 : 0) > DNS_MAX_NAME)
			return -1;
		if (n)
			out[n++] = '.';
		for (size_t i = 0; i < l; i++) {
			char c = (char)msg[o + i];
			if (c == '.' || c == 0)
				return -1; /* would change the name's meaning in presentation form */
			out[n++] = lower ? (char)tolower((unsigned char)c) : c;
		}
		o += l;
	}
	out[n] = 0;
	*off = jumped ? end : o;
	return 0;
}

enum dns_parse dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	memset(q, 0, sizeof(*q));
	if (len < 12)
		return DNS_PARSE_DROP;
	q->id = rd16(msg);
	q->flags = rd16(msg + 2);
	if (q->flags & 0x8000)
		return DNS_PARSE_DROP; /* a response: answering it could loop */
	if (((q->flags >> 11) & 0xf) != 0)
		return DNS_PARSE_NOTIMP;
	uint16_t qd = rd16(msg + 4), an = rd16(msg + 6), ns = rd16(msg + 8), ar = rd16(msg + 10);
	if (qd != 1 || an != 0 || ns != 0)
		return DNS_PARSE_FORMERR;
	size_t off = 12;
	if (dns_read_name(msg, len, &off, q->name, true) < 0)
		return DNS_PARSE_FORMERR;
	size_t o2 = 12;
	dns_read_name(msg, len, &o2, q->name_orig, false);
	if (off + 4 > len)
		return DNS_PARSE_FORMERR;
	q->qtype = rd16(msg + off);
	q->qclass = rd16(msg + off + 2);
	off += 4;
	q->question_end = off;
	q->udp_size = 512;
	/* Additional records: at most one OPT (EDNS0), anything else is ignored. */
	for (uint16_t i = 0; i < ar; i++) {
		char nm[DNS_MAX_NAME + 1];
		if (dns_read_name(msg, len, &off, nm, true) < 0 || off + 10 > len)
			return DNS_PARSE_FORMERR;
		uint16_t type = rd16(msg + off), cls = rd16(msg + off + 2), rdlen = rd16(msg + off + 8);
		off += 10;
		if (off + rdlen > len)
			return DNS_PARSE_FORMERR;
		if (type == DNS_OPT) {
			if (q->edns || nm[0])
				return DNS_PARSE_FORMERR; /* two OPTs, or one not at the root */
			q->edns = true;
			q->udp_size = cls < 512 ? 512 : cls > 4096 ? 4096 : cls;
		}
		off += rdlen;
	}
	if (q->qclass != 1 && q->qclass != 255)
		return DNS_PARSE_FORMERR;
	return DNS_PARSE_OK;
}

void dns_answer_add(struct dns_rr **v, size_t *n, const struct dns_rr *rr)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = *rr;
}

void dns_answer_free(struct dns_answer *a)
{
	free(a->an);
	free(a->ns);
	free(a->ar);
	memset(a, 0, sizeof(*a));
}

/* Writes a name uncompressed; returns bytes written or 0 if it does not fit. */
static size_t put_name(uint8_t *out, size_t max, const char *name)
{
	size_t o = 0;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || o + 1 + l > max)
			return 0;
		out[o++] = (uint8_t)l;
		memcpy(out + o, p, l);
		o += l;
		p += l;
		if (*p == '.')
			p++;
	}
	if (o + 1 > max)
		return 0;
	out[o++] = 0;
	return o;
}

/* One record; the owner is a pointer to the question when it is the question's name. */
static size_t put_rr(uint8_t *out, size_t max, const struct dns_query *q, const struct dns_rr *rr)
{
	size_t o;
	if (!strcasecmp(rr->name, q->name)) {
		if (max < 2)
			return 0;
		wr16(out, 0xc00c);
		o = 2;
	} else if (!(o = put_name(out, max, rr->name))) {
		return 0;
	}
	if (o + 10 > max)
		return 0;
	wr16(out + o, rr->type);
	wr16(out + o + 2, 1);
	out[o + 4] = (uint8_t)(rr->ttl >> 24);
	out[o + 5] = (uint8_t)(rr->ttl >> 16);
	out[o + 6] = (uint8_t)(rr->ttl >> 8);
	out[o + 7] = (uint8_t)rr->ttl;
	size_t rd = o + 10, l = 0;
	switch (rr->type) {
	case DNS_A:
		if (rd + 4 > max)
			return 0;
		memcpy(out + rd, rr->addr, 4);
		l = 4;
		break;
	case DNS_AAAA:
		if (rd + 16 > max)
			return 0;
		memcpy(out + rd, rr->addr, 16);
		l = 16;
		break;
	case DNS_CNAME:
	case DNS_PTR:
	case DNS_NS:
		if (!(l = put_name(out + rd, max - rd, rr->target)))
			return 0;
		break;
	case DNS_SRV:
		if (rd + 6 > max)
			return 0;
		wr16(out + rd, rr->prio);
		wr16(out + rd + 2, rr->weight);
		wr16(out + rd + 4, rr->port);
		if (!(l = put_name(out + rd + 6, max - rd - 6, rr->target)))
			return 0;
		l += 6;
		break;
	case DNS_SOA: {
		/* mname = target, rname = hostmaster.<zone>, then five counters. */
		size_t a = put_name(out + rd, max - rd, rr->target);
		if (!a)
			return 0;
		char rname[DNS_MAX_NAME + 1];
		const char *zone = strchr(rr->target, '.');
		snprintf(rname, sizeof(rname), "hostmaster%s", zone ? zone : "");
		size_t b = put_name(out + rd + a, max - rd - a, rname);
		if (!b || rd + a + b + 20 > max)
			return 0;
		uint32_t v[5] = { 1, 7200, 1800, 86400, rr->ttl };
		for (int i = 0; i < 5; i++) {
			uint8_t *p = out + rd + a + b + i * 4;
			p[0] = (uint8_t)(v[i] >> 24);
			p[1] = (uint8_t)(v[i] >> 16);
			p[2] = (uint8_t)(v[i] >> 8);
			p[3] = (uint8_t)v[i];
		}
		l = a + b + 20;
		break;
	}
	default:
		return 0;
	}
	wr16(out + o + 8, (uint16_t)l);
	return rd + l;
}

size_t dns_build(const struct dns_query *q, const struct dns_answer *a, uint8_t *out, size_t max)
{
	/* Header and question, with the question's name as it was asked. */
	if (max < 12)
		return 0;
	memset(out, 0, 12);
	wr16(out, q->id);
	uint16_t flags = 0x8000 | (q->flags & 0x0100) /* RD */ | 0x0080 /* RA */ | (a->aa ? 0x0400 : 0) |
			 (uint16_t)(a->rcode & 0xf);
	size_t o = 12, l = put_name(out + o, max - o, q->name_orig);
	if (!l || o + l + 4 > max)
		return 0;
	o += l;
	wr16(out + o, q->qtype);
	wr16(out + o + 2, q->qclass);
	o += 4;
	wr16(out + 4, 1);
	/* Room for the OPT record at the end, if the client sent one. */
	size_t limit = q->edns ? max - 11 : max;
	bool tc = false;
	uint16_t counts[3] = { 0 };
	const struct dns_rr *sets[3] = { a->an, a->ns, a->ar };
	size_t ns[3] = { a->nan, a->nns, a->nar };
	for (int s = 0; s < 3 && !tc; s++)
		for (size_t i = 0; i < ns[s]; i++) {
			size_t w = put_rr(out + o, limit - o, q, &sets[s][i]);
			if (!w) {
				if (s < 2) /* a missing answer or authority record: the client must retry over TCP */
					tc = true;
				break;
			}
			o += w;
			counts[s]++;
		}
	wr16(out + 6, counts[0]);
	wr16(out + 8, counts[1]);
	wr16(out + 10, counts[2]);
	if (q->edns) {
		memset(out + o, 0, 11);
		out[o + 2] = DNS_OPT;
		wr16(out + o + 3, 4096);
		o += 11;
		wr16(out + 10, counts[2] + 1);
	}
	if (tc)
		flags |= 0x0200;
	wr16(out + 2, flags);
	return o;
}

size_t dns_build_error(const uint8_t *msg, size_t len, int rcode, uint8_t *out, size_t max)
{
	if (len < 12 || max < 12)
		return 0;
	memset(out, 0, 12);
	out[0] = msg[0];
	out[1] = msg[1];
	uint16_t flags = (uint16_t)(0x8000 | (rd16(msg + 2) & 0x7900) | (rcode & 0xf)); /* QR, opcode, RD */
	wr16(out + 2, flags);
	/* Echo the question when it can be read, as most servers do. */
	size_t off = 12;
	char nm[DNS_MAX_NAME + 1];
	if (rd16(msg + 4) == 1 && dns_read_name(msg, len, &off, nm, false) == 0 && off + 4 <= len) {
		size_t l = put_name(out + 12, max - 12, nm);
		if (l && 12 + l + 4 <= max) {
			memcpy(out + 12 + l, msg + off, 4);
			wr16(out + 4, 1);
			return 12 + l + 4;
		}
	}
	return 12;
}
