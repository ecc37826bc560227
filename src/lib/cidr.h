/* IPv4/IPv6 addresses and prefixes: parsing, containment, formatting. */
#ifndef TULLE_CIDR_H
#define TULLE_CIDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct ipaddr {
	int family;       /* 4 or 6 */
	uint8_t b[16];    /* IPv4 in the first 4 bytes */
};

struct cidr {
	struct ipaddr ip; /* with host bits cleared */
	int prefix;
};

int ip_parse(const char *s, struct ipaddr *out);
/* Accepts "a.b.c.d/n" and IPv6 forms; host bits set are allowed (as net.ParseCIDR
 * does) and cleared. With bare_ip, an address alone is a full-length prefix. */
int cidr_parse(const char *s, struct cidr *out, bool bare_ip);
bool cidr_contains_ip(const struct cidr *c, const struct ipaddr *ip);
/* True when inner lies within outer (equal counts). */
bool cidr_contains_cidr(const struct cidr *outer, const struct cidr *inner);
void ip_format(const struct ipaddr *ip, char *out, size_t len);
void cidr_format(const struct cidr *c, char *out, size_t len);
/* Address arithmetic over the host part, for allocators: ip = base + offset. */
int cidr_nth(const struct cidr *c, uint64_t n, struct ipaddr *out);
/* Offset of ip within c, or -1. */
int64_t cidr_offset(const struct cidr *c, const struct ipaddr *ip);
uint64_t cidr_size(const struct cidr *c); /* capped at 2^63 */

#endif
