/* CIDR logic against a bit-by-bit reference on random IPv4 and IPv6 prefixes. */
#include "testhelp.h"

#include "cidr.h"
#include "util.h"

#define rnd th_rand

static int bit(const uint8_t *b, int i)
{
	return (b[i / 8] >> (7 - i % 8)) & 1;
}

static bool naive_contains(const struct cidr *c, const struct ipaddr *ip)
{
	if (c->ip.family != ip->family)
		return false;
	for (int i = 0; i < c->prefix; i++)
		if (bit(c->ip.b, i) != bit(ip->b, i))
			return false;
	return true;
}

static void random_addr(struct ipaddr *a, int family, const struct ipaddr *near)
{
	a->family = family;
	memset(a->b, 0, sizeof(a->b));
	for (int i = 0; i < (family == 4 ? 4 : 16); i++)
		a->b[i] = near && rnd(4) ? near->b[i] : (uint8_t)rnd(256);
}

static void contains_matches_reference(void)
{
	int mismatches = 0;

	for (int i = 0; i < 20000; i++) {
		int fam = rnd(2) ? 4 : 6;
		struct ipaddr base, probe;
		char text[80], ipt[64];
		random_addr(&base, fam, NULL);
		ip_format(&base, ipt, sizeof(ipt));
		snprintf(text, sizeof(text), "%s/%u", ipt, rnd(fam == 4 ? 33 : 129));
		struct cidr c;
		if (cidr_parse(text, &c, false) < 0) {
			mismatches++;
			continue;
		}
		random_addr(&probe, rnd(10) ? fam : (fam == 4 ? 6 : 4), &base);
		if (cidr_contains_ip(&c, &probe) != naive_contains(&c, &probe))
			mismatches++;
		/* Round trip through text. */
		char back[80];
		struct cidr c2;
		cidr_format(&c, back, sizeof(back));
		if (cidr_parse(back, &c2, false) < 0 || memcmp(&c, &c2, sizeof(c)) != 0)
			mismatches++;
	}
	CHECK(mismatches == 0);
}

static void parse_rules(void)
{
	struct cidr c;
	struct ipaddr ip;

	CHECK(cidr_parse("10.0.0.1/8", &c, false) == 0 && c.prefix == 8 && c.ip.b[3] == 0);
	CHECK(cidr_parse("10.0.0.0", &c, false) < 0);
	CHECK(cidr_parse("10.0.0.0", &c, true) == 0 && c.prefix == 32);
	CHECK(cidr_parse("10.0.0.0/33", &c, false) < 0);
	CHECK(cidr_parse("10.0.0.0/08", &c, false) < 0);
	CHECK(cidr_parse("10.0.0/8", &c, false) < 0);
	CHECK(cidr_parse("fd00::/8", &c, false) == 0 && c.ip.family == 6);
	CHECK(cidr_parse("::/0", &c, false) == 0);
	CHECK(cidr_parse("fd00::/129", &c, false) < 0);
	CHECK(ip_parse("010.1.1.1", &ip) < 0);
	CHECK(ip_parse("1.2.3.4 ", &ip) < 0);
}

static void subset_and_arithmetic(void)
{
	struct cidr a, b;
	struct ipaddr ip;
	char buf[64];

	cidr_parse("10.0.0.0/8", &a, false);
	cidr_parse("10.1.0.0/16", &b, false);
	CHECK(cidr_contains_cidr(&a, &b) && !cidr_contains_cidr(&b, &a));
	cidr_parse("10.96.0.0/12", &a, false);
	CHECK(cidr_size(&a) == 1u << 20);
	CHECK(cidr_nth(&a, 10, &ip) == 0);
	ip_format(&ip, buf, sizeof(buf));
	CHECK_STR(buf, "10.96.0.10");
	CHECK(cidr_nth(&a, 256 + 5, &ip) == 0);
	ip_format(&ip, buf, sizeof(buf));
	CHECK_STR(buf, "10.96.1.5");
	CHECK(cidr_offset(&a, &ip) == 261);
	ip_parse("10.112.0.0", &ip);
	CHECK(cidr_offset(&a, &ip) == -1);
	CHECK(cidr_nth(&a, 1u << 20, &ip) < 0);
}

int main(void)
{
	RUN(contains_matches_reference);
	RUN(parse_rules);
	RUN(subset_and_arithmetic);
	return testhelp_done();
}
