#define _GNU_SOURCE 1
#include "zone.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

#define J(o, k) json_object_get((o), (k))
#define S(o, k) json_string_value(json_object_get((o), (k)))

struct dns_zone {
	char *domain;
	uint32_t ttl;
	json_t *names; /* lower-case name -> [record...]; an empty array: the name exists, no data */
};

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static json_t *rrs(struct dns_zone *z, const char *name)
{
	char *n = xstrdup(name);
	lower(n);
	json_t *v = json_object_get(z->names, n);
	if (!v)
		json_object_set_new(z->names, n, v = json_array());
	free(n);
	return v;
}

static void add_a(struct dns_zone *z, const char *name, const char *ip)
{
	json_array_append_new(rrs(z, name), json_pack("{s:i,s:s}", "t", DNS_A, "v", ip));
}

static void add_target(struct dns_zone *z, const char *name, int type, const char *target)
{
	json_array_append_new(rrs(z, name), json_pack("{s:i,s:s}", "t", type, "v", target));
}

static void add_ptr(struct dns_zone *z, const char *ip, const char *target)
{
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return;
	const uint8_t *b = (const uint8_t *)&a.s_addr;
	char name[64];
	snprintf(name, sizeof(name), "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	add_target(z, name, DNS_PTR, target);
}

static void dashed(const char *ip, char out[64])
{
	snprintf(out, 64, "%s", ip);
	for (char *p = out; *p; p++)
		if (*p == '.' || *p == ':')
			*p = '-';
}

static const char *proto_label(const char *p)
{
	return !p || !strcmp(p, "TCP") ? "_tcp" : !strcmp(p, "UDP") ? "_udp" : "_sctp";
}

/* _PORT._PROTO.<service> -> target, for a named port. */
static void add_srv(struct dns_zone *z, const char *svc_fq, const json_t *port, const char *target)
{
	if (!S(port, "name"))
		return;
	char *srv = xasprintf("_%s.%s.%s", S(port, "name"), proto_label(S(port, "protocol")), svc_fq);
	json_array_append_new(rrs(z, srv), json_pack("{s:i,s:s,s:I}", "t", DNS_SRV, "v", target, "port",
						     json_integer_value(J(port, "port"))));
	free(srv);
}

static void add_service(struct dns_zone *z, const json_t *svc, const json_t *slices)
{
	json_t *md = J(svc, "metadata"), *spec = J(svc, "spec");
	const char *ns = S(md, "namespace"), *name = S(md, "name");
	if (!ns || !name)
		return;
	char *fq = xasprintf("%s.%s.svc.%s", name, ns, z->domain);
	char *nsn = xasprintf("%s.svc.%s", ns, z->domain);
	rrs(z, nsn);
	const char *type = S(spec, "type") ?: "ClusterIP";
	if (!strcmp(type, "ExternalName")) {
		if (S(spec, "externalName"))
			add_target(z, fq, DNS_CNAME, S(spec, "externalName"));
		goto out;
	}
	bool headless = !strcmp(S(spec, "clusterIP") ?: "", "None");
	rrs(z, fq);
	size_t i, j;
	json_t *v, *port;
	if (!headless) {
		json_t *ips = J(spec, "clusterIPs");
		if (!json_array_size(ips) && S(spec, "clusterIP"))
			ips = json_pack("[s]", S(spec, "clusterIP"));
		else
			json_incref(ips);
		json_array_foreach(ips, i, v) {
			if (!json_string_value(v) || strchr(json_string_value(v), ':'))
				continue;
			add_a(z, fq, json_string_value(v));
			add_ptr(z, json_string_value(v), fq);
		}
		json_decref(ips);
		json_array_foreach(J(spec, "ports"), i, port)
			add_srv(z, fq, port, fq);
		goto out;
	}
	/* Headless: the ready endpoints themselves, each with a name of its own. */
	json_t *s;
	json_array_foreach(J(slices, "items"), i, s) {
		json_t *smd = J(s, "metadata");
		if (strcmp(S(smd, "namespace") ?: "", ns) || strcmp(S(J(smd, "labels"), "kubernetes.io/service-name") ?: "", name))
			continue;
		json_t *e;
		json_array_foreach(J(s, "endpoints"), j, e) {
			const char *ip = json_string_value(json_array_get(J(e, "addresses"), 0));
			if (!ip || strchr(ip, ':') || json_is_false(J(J(e, "conditions"), "ready")))
				continue;
			char d[64];
			dashed(ip, d);
			char *epn = xasprintf("%s.%s", S(e, "hostname") ?: d, fq);
			add_a(z, fq, ip);
			add_a(z, epn, ip);
			add_ptr(z, ip, epn);
			size_t k;
			json_t *pt;
			json_array_foreach(J(s, "ports"), k, pt)
				add_srv(z, fq, pt, epn);
			free(epn);
		}
	}
out:
	free(fq);
	free(nsn);
}

struct dns_zone *dns_zone_build(const json_t *services, const json_t *slices, const char *domain, uint32_t ttl)
{
	struct dns_zone *z = xcalloc(1, sizeof(*z));
	z->domain = xstrdup(domain);
	lower(z->domain);
	z->ttl = ttl;
	z->names = json_object();
	/* The empty non-terminals exist (NODATA, not NXDOMAIN). */
	rrs(z, z->domain);
	char *svc = xasprintf("svc.%s", z->domain), *pod = xasprintf("pod.%s", z->domain);
	rrs(z, svc);
	rrs(z, pod);
	free(svc);
	free(pod);
	size_t i;
	json_t *o;
	json_array_foreach(J(services, "items"), i, o)
		add_service(z, o, slices);
	return z;
}

void dns_zone_free(struct dns_zone *z)
{
	if (!z)
		return;
	json_decref(z->names);
	free(z->domain);
	free(z);
}

static bool in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), l = strlen(zone);
	return n == l ? !strcmp(name, zone) : n > l && name[n - l - 1] == '.' && !strcmp(name + n - l, zone);
}

static void soa(const struct dns_zone *z, struct dns_answer *a)
{
	struct dns_rr rr = { .type = DNS_SOA, .ttl = z->ttl };
	snprintf(rr.name, sizeof(rr.name), "%s", z->domain);
	snprintf(rr.target, sizeof(rr.target), "ns.dns.%s", z->domain);
	dns_answer_add(&a->ns, &a->nns, &rr);
}

static void to_rr(const struct dns_zone *z, const char *owner, const json_t *r, struct dns_rr *rr)
{
	memset(rr, 0, sizeof(*rr));
	snprintf(rr->name, sizeof(rr->name), "%s", owner);
	rr->type = (uint16_t)json_integer_value(J(r, "t"));
	rr->ttl = z->ttl;
	const char *v = S(r, "v") ?: "";
	if (rr->type == DNS_A)
		inet_pton(AF_INET, v, rr->addr);
	else
		snprintf(rr->target, sizeof(rr->target), "%s", v);
	if (rr->type == DNS_SRV) {
		rr->port = (uint16_t)json_integer_value(J(r, "port"));
		rr->weight = 100;
	}
}

/* a-b-c-d.<ns>.pod.<domain>: answered from the name, as CoreDNS's "pods insecure". */
static bool pod_name(const struct dns_zone *z, const char *name, struct dns_rr *rr)
{
	char ip[64];
	size_t l = strcspn(name, ".");
	if (l >= sizeof(ip))
		return false;
	memcpy(ip, name, l);
	ip[l] = 0;
	const char *rest = name + l;
	if (*rest != '.')
		return false;
	const char *ns_end = strchr(rest + 1, '.');
	if (!ns_end || strncmp(ns_end + 1, "pod.", 4) || strcmp(ns_end + 5, z->domain))
		return false;
	for (char *p = ip; *p; p++)
		if (*p == '-')
			*p = '.';
	memset(rr, 0, sizeof(*rr));
	if (inet_pton(AF_INET, ip, rr->addr) != 1)
		return false;
	snprintf(rr->name, sizeof(rr->name), "%s", name);
	rr->type = DNS_A;
	rr->ttl = z->ttl;
	return true;
}

bool dns_zone_answer(const struct dns_zone *z, const struct dns_query *q, struct dns_answer *a)
{
	memset(a, 0, sizeof(*a));
	bool ours = in_zone(q->name, z->domain);
	json_t *set = json_object_get(z->names, q->name);
	if (!ours && !(set && in_zone(q->name, "in-addr.arpa")))
		return false;
	a->aa = true;
	struct dns_rr rr;
	if (!set && pod_name(z, q->name, &rr)) {
		if (q->qtype == DNS_A || q->qtype == DNS_ANY)
			dns_answer_add(&a->an, &a->nan, &rr);
		else
			soa(z, a);
		return true;
	}
	if (!set) {
		a->rcode = DNS_NXDOMAIN;
		soa(z, a);
		return true;
	}
	if (q->qtype == DNS_SOA && !strcmp(q->name, z->domain)) {
		soa(z, a);
		a->an = a->ns;
		a->nan = a->nns;
		a->ns = NULL;
		a->nns = 0;
		return true;
	}
	size_t i;
	json_t *r;
	json_array_foreach(set, i, r) {
		int t = (int)json_integer_value(J(r, "t"));
		/* A CNAME answers every type (RFC 1034 3.6.2). */
		if (t != q->qtype && q->qtype != DNS_ANY && t != DNS_CNAME)
			continue;
		to_rr(z, q->name, r, &rr);
		dns_answer_add(&a->an, &a->nan, &rr);
		if (t == DNS_SRV) {
			/* The targets' addresses, so a client needs no second query. */
			size_t k;
			json_t *x;
			json_array_foreach(json_object_get(z->names, rr.target), k, x)
				if (json_integer_value(J(x, "t")) == DNS_A) {
					struct dns_rr ad;
					to_rr(z, rr.target, x, &ad);
					dns_answer_add(&a->ar, &a->nar, &ad);
				}
		}
	}
	if (!a->nan)
		soa(z, a); /* NODATA */
	return true;
}
