/* The policy engine's tables as LPM entries. For each protocol the verdict that
 * covers the most ports becomes one entry for the whole protocol, and only the other
 * intervals get port prefixes: a rule for port 80 costs a handful of entries, not one
 * per aligned block of the 65,535 others. */
#define _GNU_SOURCE 1
#include "polplan.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

static void add_ip(struct dp_polplan *p, uint32_t addr, uint32_t bits, uint32_t id, uint32_t flags)
{
	if (p->nips == p->capips) {
		p->capips = p->capips ? p->capips * 2 : 64;
		p->ips = xrealloc(p->ips, p->capips * sizeof(*p->ips));
	}
	struct dp_ip *x = &p->ips[p->nips++];
	memset(x, 0, sizeof(*x));
	x->key.prefixlen = bits;
	x->key.addr = addr;
	x->val.id = id;
	x->val.flags = flags;
}

static void add_rule(struct dp_polplan *p, const struct tl_pol_key *k, const struct tl_pol *v)
{
	if (p->nrules == p->caprules) {
		p->caprules = p->caprules ? p->caprules * 2 : 256;
		p->rules = xrealloc(p->rules, p->caprules * sizeof(*p->rules));
	}
	struct dp_rule *x = &p->rules[p->nrules++];
	memset(x, 0, sizeof(*x));
	x->key = *k;
	x->val = *v;
}

static struct tl_pol pol_value(const struct dp_polplan_in *in, const struct pe_interval *iv)
{
	struct tl_pol v = { .verdict = iv->v, .why = iv->why, .rule = iv->rule,
			    .policy = iv->policy >= 0 ? in->policy_num[iv->policy] : 0 };
	return v;
}

static bool same_value(const struct pe_interval *a, const struct pe_interval *b)
{
	return a->v == b->v && a->why == b->why && a->rule == b->rule && a->policy == b->policy;
}

/* One (local, peer, direction) vector: a deny for protocols the vector does not
 * paint, a background entry per protocol, prefixes for the rest. */
static void add_vector(struct dp_polplan *p, const struct dp_polplan_in *in, uint32_t local, uint32_t peer,
		       int dir, const struct pe_ivs *ivs)
{
	struct tl_pol_key k = { .prefixlen = TL_POL_PREFIX_BASE, .local = local, .peer = peer, .dir = (uint8_t)dir };
	struct tl_pol deny = { .verdict = TL_POL_DENY, .why = 2 /* WHY_END_OF_TIER */, .rule = -1 };

	add_rule(p, &k, &deny);
	for (size_t s = 0; s < ivs->n;) {
		uint8_t proto = ivs->v[s].proto;
		size_t e = s;
		while (e < ivs->n && ivs->v[e].proto == proto)
			e++;
		/* The background: the value covering the most ports. */
		size_t best = s;
		uint32_t best_cover = 0;
		for (size_t i = s; i < e; i++) {
			uint32_t cover = 0;
			for (size_t j = s; j < e; j++)
				if (same_value(&ivs->v[i], &ivs->v[j]))
					cover += (uint32_t)ivs->v[j].hi - ivs->v[j].lo + 1;
			if (cover > best_cover) {
				best_cover = cover;
				best = i;
			}
		}
		struct tl_pol bg = pol_value(in, &ivs->v[best]);
		k.prefixlen = TL_POL_PREFIX_PROTO;
		k.proto = proto;
		k.port = 0;
		add_rule(p, &k, &bg);
		for (size_t i = s; i < e; i++) {
			if (same_value(&ivs->v[i], &ivs->v[best]))
				continue;
			uint16_t port[32];
			uint8_t bits[32];
			size_t n = dp_port_prefixes(ivs->v[i].lo, ivs->v[i].hi, port, bits);
			struct tl_pol v = pol_value(in, &ivs->v[i]);
			for (size_t j = 0; j < n; j++) {
				k.prefixlen = TL_POL_PREFIX_PROTO + bits[j];
				k.port = htons(port[j]);
				add_rule(p, &k, &v);
			}
		}
		s = e;
	}
}

static bool is_pod_or_host(const struct dp_polplan_in *in, uint32_t addr)
{
	const struct pm_cluster *c = in->e->c;
	for (size_t i = 0; i < in->nhost; i++)
		if (in->host_addrs[i] == addr)
			return true;
	for (size_t i = 0; i < c->npods; i++)
		if (c->pods[i].has_ip && c->pods[i].ip.family == 4 && !memcmp(c->pods[i].ip.b, &addr, 4))
			return true;
	return false;
}

void dp_polplan_build(struct dp_polplan *p, const struct dp_polplan_in *in)
{
	const struct pe_engine *e = in->e;
	const struct pm_cluster *c = e->c;

	memset(p, 0, sizeof(*p));
	/* Addresses: the world, the policy CIDRs, the pods, this node. */
	add_ip(p, 0, 0, in->ident_num[pe_ident_of_prefix(e, e->nprefixes)], 0);
	for (size_t i = 0; i < e->nprefixes; i++) {
		const struct cidr *cd = &e->prefixes[i];
		uint32_t addr;
		if (cd->ip.family != 4)
			continue;
		memcpy(&addr, cd->ip.b, 4);
		if (cd->prefix == 32 && is_pod_or_host(in, addr))
			continue; /* the pod's or node's own entry says more */
		add_ip(p, addr, (uint32_t)cd->prefix, in->ident_num[pe_ident_of_prefix(e, i)], 0);
	}
	bool *local_id = xcalloc(e->nids + 1, sizeof(bool));
	for (size_t i = 0; i < c->npods; i++) {
		const struct pm_pod *pod = &c->pods[i];
		uint32_t id = pe_ident_of_pod(e, (int)i), addr;
		if (in->local[i])
			local_id[id] = true;
		if (!pod->has_ip || pod->ip.family != 4)
			continue;
		memcpy(&addr, pod->ip.b, 4);
		add_ip(p, addr, 32, in->ident_num[id], in->local[i] ? TL_IP_F_LOCAL : 0);
	}
	for (size_t i = 0; i < in->nhost; i++)
		add_ip(p, in->host_addrs[i], 32, TL_ID_HOST, 0);
	add_ip(p, htonl(TL_HAIRPIN_IP_HOST), 32, TL_ID_HOST, 0);

	/* Rules: the tables of the identities with pods here. */
	for (uint32_t id = 1; id <= e->nids; id++) {
		if (!local_id[id])
			continue;
		for (int dir = 0; dir < 2; dir++) {
			const struct pe_table *t = &e->tables[2 * (id - 1) + (size_t)dir];
			if (!t->isolated)
				continue;
			add_vector(p, in, in->ident_num[id], 0, dir, &t->dflt);
			for (size_t s = 0; s < t->cap; s++)
				if (t->slots[s].peer)
					add_vector(p, in, in->ident_num[id], in->ident_num[t->slots[s].peer], dir,
						   t->slots[s].ivs);
		}
	}
	free(local_id);
}

void dp_polplan_free(struct dp_polplan *p)
{
	free(p->ips);
	free(p->rules);
	memset(p, 0, sizeof(*p));
}
