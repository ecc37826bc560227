/* DNS messages (RFC 1035, EDNS0 from RFC 6891): parsing a query strictly and building
 * answers. No allocation on the parse path; every length is checked before use. */
#ifndef TULLE_DNS_MSG_H
#define TULLE_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_MAX_NAME 255 /* presentation form, without the final dot */

enum {
	DNS_A = 1, DNS_NS = 2, DNS_CNAME = 5, DNS_SOA = 6, DNS_PTR = 12, DNS_TXT = 16,
	DNS_AAAA = 28, DNS_SRV = 33, DNS_OPT = 41, DNS_ANY = 255,
};

enum {
	DNS_NOERROR = 0, DNS_FORMERR = 1, DNS_SERVFAIL = 2, DNS_NXDOMAIN = 3, DNS_NOTIMP = 4, DNS_REFUSED = 5,
};

struct dns_query {
	uint16_t id, flags;
	char name[DNS_MAX_NAME + 1]; /* lower case, no final dot; "" is the root */
	char name_orig[DNS_MAX_NAME + 1]; /* as asked (case kept) */
	uint16_t qtype, qclass;
	size_t question_end;      /* offset just past the question */
	bool edns;
	uint16_t udp_size;        /* what the client can take over UDP */
};

/* What a malformed message gets: nothing (not even a header to answer to), or an
 * error response with this rcode. */
enum dns_parse {
	DNS_PARSE_OK = 0,
	DNS_PARSE_DROP,     /* too short for a header, or a response: never answered */
	DNS_PARSE_FORMERR,
	DNS_PARSE_NOTIMP,   /* an opcode other than QUERY */
};

enum dns_parse dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/* Reads a (possibly compressed) name at *off into out (presentation form, lower case
 * when lower is set); advances *off past it in the message. -1 on any malformation
 * (loops, overlong, out of bounds). */
int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char out[DNS_MAX_NAME + 1], bool lower);

/* A response under construction. */
struct dns_rr {
	char name[DNS_MAX_NAME + 1];
	uint16_t type;
	uint32_t ttl;
	/* by type */
	uint8_t addr[16];         /* A (4 bytes) / AAAA */
	char target[DNS_MAX_NAME + 1]; /* CNAME, PTR, SRV, NS target; SOA mname */
	uint16_t prio, weight, port;  /* SRV */
};

struct dns_answer {
	int rcode;
	bool aa;
	struct dns_rr *an, *ns, *ar; /* answer, authority, additional */
	size_t nan, nns, nar;
};

void dns_answer_add(struct dns_rr **v, size_t *n, const struct dns_rr *rr);
void dns_answer_free(struct dns_answer *a);

/* Builds the response to q into out (at most max bytes: the UDP limit or 65535 for
 * TCP). Records that do not fit set TC and are left out, as RFC 2181 says.
 * Returns the length. */
size_t dns_build(const struct dns_query *q, const struct dns_answer *a, uint8_t *out, size_t max);

/* An error response (FORMERR, NOTIMP, SERVFAIL...) echoing what of the query was read. */
size_t dns_build_error(const uint8_t *msg, size_t len, int rcode, uint8_t *out, size_t max);

#endif
