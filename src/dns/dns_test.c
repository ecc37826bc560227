/* The DNS codec and zone: queries parsed strictly, answers built as RFC 1035 says
 * (checked by decoding the bytes back), the zone's names as CoreDNS serves them. */
#include <arpa/inet.h>
#include <jansson.h>

#include "../lib/testhelp.h"
#include "msg.h"
#include "zone.h"

static size_t query(uint8_t *b, const char *name, uint16_t qtype, bool edns, uint16_t flags)
{
	size_t o = 12;
	memset(b, 0, 12);
	b[0] = 0xab; b[1] = 0xcd;
	b[2] = (uint8_t)(flags >> 8); b[3] = (uint8_t)flags;
	b[5] = 1;
	b[11] = edns ? 1 : 0;
	const char *p = name;
	while (*p) {
		size_t l = strcspn(p, ".");
		b[o++] = (uint8_t)l;
		memcpy(b + o, p, l);
		o += l;
		p += l;
		if (*p == '.')
			p++;
	}
	b[o++] = 0;
	b[o++] = (uint8_t)(qtype >> 8); b[o++] = (uint8_t)qtype;
	b[o++] = 0; b[o++] = 1;
	if (edns) {
		uint8_t opt[11] = { 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 };
		memcpy(b + o, opt, 11);
		o += 11;
	}
	return o;
}

static struct dns_zone *zone(void)
{
	json_t *s = json_loads("{\"items\":["
		"{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.5\","
		"\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}},"
		"{\"metadata\":{\"name\":\"external-db\",\"namespace\":\"default\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\"}},"
		"{\"metadata\":{\"name\":\"h\",\"namespace\":\"x\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"name\":\"p\",\"port\":81}]}}]}", 0, NULL);
	json_t *e = json_loads("{\"items\":[{\"metadata\":{\"namespace\":\"x\",\"labels\":{\"kubernetes.io/service-name\":\"h\"}},"
		"\"ports\":[{\"name\":\"p\",\"port\":81,\"protocol\":\"TCP\"}],"
		"\"endpoints\":[{\"addresses\":[\"10.244.0.7\"],\"hostname\":\"h-0\",\"conditions\":{\"ready\":true}},"
		"{\"addresses\":[\"10.244.1.7\"],\"conditions\":{\"ready\":true}},"
		"{\"addresses\":[\"10.244.2.7\"],\"conditions\":{\"ready\":false}}]}]}", 0, NULL);
	struct dns_zone *z = dns_zone_build(s, e, "cluster.local", 5);
	json_decref(s);
	json_decref(e);
	return z;
}

/* Answers a query against the zone and returns the response bytes' length. */
static size_t ask(struct dns_zone *z, const char *name, uint16_t qtype, uint8_t *out, size_t max, bool *authoritative)
{
	uint8_t q[512];
	struct dns_query dq;
	size_t n = query(q, name, qtype, false, 0x0100);
	if (dns_parse_query(q, n, &dq) != DNS_PARSE_OK)
		return 0;
	struct dns_answer a;
	*authoritative = dns_zone_answer(z, &dq, &a);
	if (!*authoritative)
		return 0;
	size_t len = dns_build(&dq, &a, out, max);
	dns_answer_free(&a);
	return len;
}

#define RCODE(b) ((b)[3] & 0xf)
#define ANCOUNT(b) ((b)[6] << 8 | (b)[7])
#define NSCOUNT(b) ((b)[8] << 8 | (b)[9])
#define ARCOUNT(b) ((b)[10] << 8 | (b)[11])

/* Skips the question; returns the offset of the first record. */
static size_t first_rr(const uint8_t *b, size_t len)
{
	size_t off = 12;
	char nm[DNS_MAX_NAME + 1];
	if (dns_read_name(b, len, &off, nm, false) < 0)
		return 0;
	return off + 4;
}

static void test_parse(void)
{
	uint8_t b[512];
	struct dns_query q;
	size_t n = query(b, "Web.Default.svc.cluster.local", DNS_A, true, 0x0100);
	CHECK(dns_parse_query(b, n, &q) == DNS_PARSE_OK);
	CHECK_STR(q.name, "web.default.svc.cluster.local");
	CHECK_STR(q.name_orig, "Web.Default.svc.cluster.local");
	CHECK(q.qtype == DNS_A && q.edns && q.udp_size == 4096 && q.id == 0xabcd);
	CHECK(dns_parse_query(b, 11, &q) == DNS_PARSE_DROP);
	n = query(b, "a.b", DNS_A, false, 0x8100);
	CHECK(dns_parse_query(b, n, &q) == DNS_PARSE_DROP); /* a response */
	n = query(b, "a.b", DNS_A, false, 0x2100);
	CHECK(dns_parse_query(b, n, &q) == DNS_PARSE_NOTIMP); /* UPDATE */
	n = query(b, "a.b", DNS_A, false, 0x0100);
	b[5] = 2;
	CHECK(dns_parse_query(b, n, &q) == DNS_PARSE_FORMERR); /* two questions */
	b[5] = 1;
	CHECK(dns_parse_query(b, n - 3, &q) == DNS_PARSE_FORMERR); /* cut question */
	/* A compression pointer to itself, forward or past the end. */
	uint8_t loop[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	CHECK(dns_parse_query(loop, sizeof(loop), &q) == DNS_PARSE_FORMERR);
	uint8_t fwd[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 40, 0, 1, 0, 1 };
	CHECK(dns_parse_query(fwd, sizeof(fwd), &q) == DNS_PARSE_FORMERR);
	/* A label holding a dot would change the name. */
	uint8_t dot[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', 'b', 0, 0, 1, 0, 1 };
	CHECK(dns_parse_query(dot, sizeof(dot), &q) == DNS_PARSE_FORMERR);
	/* The error answer echoes id and question. */
	uint8_t out[512];
	size_t e = dns_build_error(b, n, DNS_FORMERR, out, sizeof(out));
	CHECK(e == n && out[0] == 0xab && out[1] == 0xcd && (out[2] & 0x80) && RCODE(out) == DNS_FORMERR);
}

static void test_zone_answers(void)
{
	struct dns_zone *z = zone();
	uint8_t b[4096];
	bool auth;
	size_t n = ask(z, "web.default.svc.cluster.local", DNS_A, b, 512, &auth);
	CHECK(auth && n && RCODE(b) == 0 && ANCOUNT(b) == 1 && (b[2] & 0x04) /* AA */);
	size_t o = first_rr(b, n);
	CHECK(o && b[o] == 0xc0 && b[o + 1] == 12); /* owner: the question's name */
	CHECK(b[o + 3] == DNS_A && b[o + 11] == 4 && !memcmp(b + o + 12, "\x0a\x60\x00\x05", 4));
	/* AAAA of an IPv4 service: NODATA (NOERROR, no answer, SOA for negative caching). */
	n = ask(z, "web.default.svc.cluster.local", DNS_AAAA, b, 512, &auth);
	CHECK(auth && RCODE(b) == 0 && ANCOUNT(b) == 0 && NSCOUNT(b) == 1);
	n = ask(z, "nope.default.svc.cluster.local", DNS_A, b, 512, &auth);
	CHECK(auth && RCODE(b) == DNS_NXDOMAIN && NSCOUNT(b) == 1);
	/* Empty non-terminals exist. */
	n = ask(z, "default.svc.cluster.local", DNS_A, b, 512, &auth);
	CHECK(auth && RCODE(b) == 0 && ANCOUNT(b) == 0);
	/* ExternalName: a CNAME, whatever the type asked. */
	n = ask(z, "external-db.default.svc.cluster.local", DNS_A, b, 512, &auth);
	o = first_rr(b, n);
	CHECK(auth && ANCOUNT(b) == 1 && b[o + 3] == DNS_CNAME);
	size_t t = o + 12;
	char target[DNS_MAX_NAME + 1];
	CHECK(dns_read_name(b, n, &t, target, false) == 0);
	CHECK_STR(target, "db.example.com");
	/* SRV for a named port, with the target's address as additional data. */
	n = ask(z, "_http._tcp.web.default.svc.cluster.local", DNS_SRV, b, 512, &auth);
	o = first_rr(b, n);
	CHECK(auth && ANCOUNT(b) == 1 && ARCOUNT(b) == 1 && b[o + 3] == DNS_SRV);
	CHECK((b[o + 16] << 8 | b[o + 17]) == 80);
	/* PTR of the ClusterIP. */
	n = ask(z, "5.0.96.10.in-addr.arpa", DNS_PTR, b, 512, &auth);
	o = first_rr(b, n);
	t = o + 12;
	CHECK(auth && ANCOUNT(b) == 1 && dns_read_name(b, n, &t, target, false) == 0);
	CHECK_STR(target, "web.default.svc.cluster.local");
	/* Reverse names the zone does not know go upstream. */
	ask(z, "9.9.9.9.in-addr.arpa", DNS_PTR, b, 512, &auth);
	CHECK(!auth);
	ask(z, "example.com", DNS_A, b, 512, &auth);
	CHECK(!auth);
	/* Headless: the ready endpoints (not the unready one), each with its own name. */
	n = ask(z, "h.x.svc.cluster.local", DNS_A, b, 512, &auth);
	CHECK(auth && ANCOUNT(b) == 2);
	n = ask(z, "h-0.h.x.svc.cluster.local", DNS_A, b, 512, &auth);
	CHECK(auth && ANCOUNT(b) == 1);
	n = ask(z, "10-244-1-7.h.x.svc.cluster.local", DNS_A, b, 512, &auth);
	CHECK(auth && ANCOUNT(b) == 1);
	n = ask(z, "_p._tcp.h.x.svc.cluster.local", DNS_SRV, b, 512, &auth);
	CHECK(auth && ANCOUNT(b) == 2 && ARCOUNT(b) == 2);
	/* Pods by dashed address. */
	n = ask(z, "10-244-0-3.default.pod.cluster.local", DNS_A, b, 512, &auth);
	o = first_rr(b, n);
	CHECK(auth && ANCOUNT(b) == 1 && !memcmp(b + o + 12, "\x0a\xf4\x00\x03", 4));
	/* The zone's SOA. */
	n = ask(z, "cluster.local", DNS_SOA, b, 512, &auth);
	CHECK(auth && ANCOUNT(b) == 1);
	dns_zone_free(z);
}

static void test_truncation(void)
{
	/* 60 endpoints behind a headless service do not fit 512 bytes: TC over UDP, all over TCP. */
	json_t *eps = json_array();
	for (int i = 0; i < 60; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.244.3.%d", i + 1);
		json_array_append_new(eps, json_pack("{s:[s]}", "addresses", ip));
	}
	json_t *s = json_loads("{\"items\":[{\"metadata\":{\"name\":\"big\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":\"None\"}}]}", 0, NULL);
	json_t *e = json_pack("{s:[{s:{s:s,s:{s:s}},s:o}]}", "items", "metadata", "namespace", "n", "labels",
			      "kubernetes.io/service-name", "big", "endpoints", eps);
	struct dns_zone *z = dns_zone_build(s, e, "cluster.local", 5);
	uint8_t b[65535];
	bool auth;
	size_t n = ask(z, "big.n.svc.cluster.local", DNS_A, b, 512, &auth);
	CHECK(n <= 512 && (b[2] & 0x02) && ANCOUNT(b) < 60);
	n = ask(z, "big.n.svc.cluster.local", DNS_A, b, sizeof(b), &auth);
	CHECK(!(b[2] & 0x02) && ANCOUNT(b) == 60);
	dns_zone_free(z);
	json_decref(s);
	json_decref(e);
}

int main(void)
{
	RUN(test_parse);
	RUN(test_zone_answers);
	RUN(test_truncation);
	return testhelp_done();
}
