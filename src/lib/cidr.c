#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ip_parse(const char *s, struct ipaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, out->b) != 1)
			return -EINVAL;
		out->family = 6;
		return 0;
	}
	/* inet_pton rejects leading zeros and short forms, like Go's strict parser. */
	if (inet_pton(AF_INET, s, out->b) != 1)
		return -EINVAL;
	out->family = 4;
	return 0;
}

static void mask_host_bits(struct ipaddr *ip, int prefix)
{
	int bytes = ip->family == 4 ? 4 : 16;

	for (int i = 0; i < bytes; i++) {
		int keep = prefix - i * 8;
		if (keep >= 8)
			continue;
		ip->b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
}

int cidr_parse(const char *s, struct cidr *out, bool bare_ip)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);

	memset(out, 0, sizeof(*out));
	if (len >= sizeof(buf) || (!slash && !bare_ip))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (ip_parse(buf, &out->ip) < 0)
		return -EINVAL;
	int max = out->ip.family == 4 ? 32 : 128;
	if (!slash) {
		out->prefix = max;
		return 0;
	}
	const char *p = slash + 1;
	if (!*p || strlen(p) > 3 || (p[0] == '0' && p[1]))
		return -EINVAL;
	int n = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		n = n * 10 + (*p - '0');
	}
	if (n > max)
		return -EINVAL;
	out->prefix = n;
	mask_host_bits(&out->ip, n);
	return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (a[full] & m) == (b[full] & m);
}

bool cidr_contains_ip(const struct cidr *c, const struct ipaddr *ip)
{
	return c->ip.family == ip->family && prefix_equal(c->ip.b, ip->b, c->prefix);
}

bool cidr_contains_cidr(const struct cidr *outer, const struct cidr *inner)
{
	return outer->ip.family == inner->ip.family && outer->prefix <= inner->prefix &&
	       prefix_equal(outer->ip.b, inner->ip.b, outer->prefix);
}

void ip_format(const struct ipaddr *ip, char *out, size_t len)
{
	if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->b, out, (socklen_t)len))
		snprintf(out, len, "?");
}

void cidr_format(const struct cidr *c, char *out, size_t len)
{
	char ip[64];

	ip_format(&c->ip, ip, sizeof(ip));
	snprintf(out, len, "%s/%d", ip, c->prefix);
}

uint64_t cidr_size(const struct cidr *c)
{
	int host = (c->ip.family == 4 ? 32 : 128) - c->prefix;

	return host >= 63 ? (1ull << 63) : (1ull << host);
}

int cidr_nth(const struct cidr *c, uint64_t n, struct ipaddr *out)
{
	int bytes = c->ip.family == 4 ? 4 : 16;

	if (n >= cidr_size(c))
		return -ERANGE;
	*out = c->ip;
	for (int i = bytes - 1; i >= 0 && n; i--) {
		uint64_t sum = out->b[i] + (n & 0xff);
		out->b[i] = (uint8_t)sum;
		n = (n >> 8) + (sum >> 8);
	}
	return 0;
}

int64_t cidr_offset(const struct cidr *c, const struct ipaddr *ip)
{
	int bytes = c->ip.family == 4 ? 4 : 16;
	int from = bytes > 8 ? bytes - 8 : 0;
	uint64_t addr = 0, base = 0;

	if (!cidr_contains_ip(c, ip))
		return -1;
	/* Offsets beyond 2^63 are never needed: allocators use at most a /12 or so. */
	for (int i = from; i < bytes; i++) {
		addr = (addr << 8) | ip->b[i];
		base = (base << 8) | c->ip.b[i];
	}
	uint64_t off = addr - base;
	return off >= (1ull << 63) ? -1 : (int64_t)off;
}
