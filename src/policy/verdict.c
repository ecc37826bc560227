#include "verdict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

const char *pm_v_name(enum pm_v v)
{
	return v == V_ALLOW ? "allow" : v == V_DENY ? "deny" : "redirect";
}

void pm_ep_pod(const struct pm_cluster *c, int pod, struct pm_ep *ep)
{
	const struct pm_pod *p = &c->pods[pod];

	memset(ep, 0, sizeof(*ep));
	ep->pod = p;
	ep->ns = p->nsi >= 0 ? &c->ns[p->nsi] : NULL;
	ep->ip = p->ip;
	ep->has_ip = p->has_ip;
}

void pm_ep_ip(const struct ipaddr *ip, struct pm_ep *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->ip = *ip;
	ep->has_ip = true;
}

bool pm_in_group(const struct pm_policy *p, const struct pm_ep *ep, int dir)
{
	return p->kind != PM_GNP && p->applies[dir] && pm_selects_local(p, ep);
}

/* Tiers by rank (see tier_before); within a tier by order, policies without an order
 * last, then by name (their index follows the name order the callers load). */
static int slot_cmp(const void *a, const void *b)
{
	const struct pm_slot *x = a, *y = b;

	if (x->tier_rank != y->tier_rank)
		return x->tier_rank < y->tier_rank ? -1 : 1;
	if (x->has_order != y->has_order)
		return x->has_order ? -1 : 1;
	if (x->has_order && x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->policy < y->policy ? -1 : x->policy > y->policy;
}

/* Calico's tier order: by the Tier's order (lower first; no order last), then name. */
static bool tier_before(const struct pm_cluster *c, const char *a, const char *b)
{
	double oa, ob;
	bool ha, hb, pass;

	if (!strcmp(a, b))
		return false;
	pm_tier_info(c, a, &oa, &ha, &pass);
	pm_tier_info(c, b, &ob, &hb, &pass);
	if (ha != hb)
		return ha;
	if (ha && oa != ob)
		return oa < ob;
	return strcmp(a, b) < 0;
}

struct pm_slot *pm_slots(const struct pm_cluster *c, const struct pm_ep *ep, int dir, size_t *n)
{
	return pm_slots_among(c, ep, dir, NULL, c->npols, n);
}

struct pm_slot *pm_slots_among(const struct pm_cluster *c, const struct pm_ep *ep, int dir,
			       const int *pols, size_t npols, size_t *n)
{
	struct pm_slot *v = NULL;
	bool group = false;

	*n = 0;
	for (size_t j = 0; j < npols; j++) {
		size_t i = pols ? (size_t)pols[j] : j;
		const struct pm_policy *p = &c->pols[i];
		if (p->kind != PM_GNP) {
			group |= pm_in_group(p, ep, dir);
			continue;
		}
		if (!p->applies[dir] || !pm_selects_local(p, ep))
			continue;
		v = xrealloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = (struct pm_slot){ (int)i, p->tier, p->order, p->has_order, 0, false };
	}
	if (group) {
		v = xrealloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = (struct pm_slot){ -1, "default", 1000, true, 0, false };
	}
	/* Rank tiers: a slot's rank is the number of distinct tiers that run before its own. */
	for (size_t i = 0; i < *n; i++) {
		int rank = 0;
		for (size_t j = 0; j < *n; j++) {
			bool first = true; /* count each tier once */
			for (size_t k = 0; k < j && first; k++)
				first = strcmp(v[k].tier, v[j].tier) != 0;
			if (first && tier_before(c, v[j].tier, v[i].tier))
				rank++;
		}
		double order;
		bool has_order;
		v[i].tier_rank = rank;
		pm_tier_info(c, v[i].tier, &order, &has_order, &v[i].tier_pass);
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), slot_cmp);
	return v;
}

static bool rule_hits(const struct pm_policy *p, const struct pm_rule *r, const struct pm_ep *local,
		      const struct pm_ep *peer, int dir, uint8_t proto, uint16_t port)
{
	const struct pm_ep *dst = dir == DIR_INGRESS ? local : peer;

	if (r->local && !pm_peer_matches(p, r->local, local))
		return false;
	return pm_rule_peer_matches(p, r, peer) && pm_rule_port_matches(r, dst, proto, port);
}

static struct pm_side side(enum pm_v v, enum pm_why why, int pol, const struct pm_rule *r, const char *tier)
{
	return (struct pm_side){ v, why, pol, r ? r->index : -1, r ? r->list : NULL, tier };
}

struct pm_side pm_naive_side(const struct pm_cluster *c, const struct pm_ep *local,
			     const struct pm_ep *peer, int dir, uint8_t proto, uint16_t port)
{
	size_t n;
	struct pm_slot *slots = pm_slots(c, local, dir, &n);
	struct pm_side out = side(V_ALLOW, WHY_NOT_ISOLATED, -1, NULL, NULL);
	size_t i = 0;

	if (!n)
		goto done;
	while (i < n) {
		const char *tier = slots[i].tier;
		size_t end = i;
		while (end < n && !strcmp(slots[end].tier, tier))
			end++;
		for (size_t s = i; s < end; s++) {
			if (slots[s].policy >= 0) {
				const struct pm_policy *p = &c->pols[slots[s].policy];
				for (size_t k = 0; k < p->nrules[dir]; k++) {
					const struct pm_rule *r = &p->rules[dir][k];
					if (!rule_hits(p, r, local, peer, dir, proto, port))
						continue;
					if (r->action == PA_LOG)
						continue;
					if (r->action == PA_PASS)
						goto next_tier;
					out = side(r->action == PA_ALLOW ? V_ALLOW : V_DENY, WHY_RULE, slots[s].policy, r, tier);
					goto done;
				}
				continue;
			}
			/* The Kubernetes group: a deny anywhere wins; otherwise any allow. */
			const struct pm_rule *allow = NULL, *l4 = NULL;
			int allow_pol = -1, l4_pol = -1;
			for (size_t pi = 0; pi < c->npols; pi++) {
				const struct pm_policy *p = &c->pols[pi];
				if (!pm_in_group(p, local, dir))
					continue;
				for (size_t k = 0; k < p->nrules[dir]; k++) {
					const struct pm_rule *r = &p->rules[dir][k];
					if (!rule_hits(p, r, local, peer, dir, proto, port))
						continue;
					if (r->deny) {
						out = side(V_DENY, WHY_RULE, (int)pi, r, tier);
						goto done;
					}
					if (!allow)
						allow = r, allow_pol = (int)pi;
					if (!r->nhttp && !l4)
						l4 = r, l4_pol = (int)pi;
				}
			}
			if (l4) {
				out = side(V_ALLOW, WHY_RULE, l4_pol, l4, tier);
				goto done;
			}
			if (allow) {
				out = side(V_REDIRECT, WHY_RULE, allow_pol, allow, tier);
				goto done;
			}
		}
		if (slots[i].tier_pass) {
			i = end;
			out = side(V_ALLOW, WHY_TIER_PASS, -1, NULL, tier);
			continue;
		}
		out = side(V_DENY, WHY_END_OF_TIER, -1, NULL, tier);
		goto done;
next_tier:
		i = end;
		out = side(V_ALLOW, WHY_PASSED, -1, NULL, tier);
	}
done:
	free(slots);
	return out;
}

bool pm_naive_http(const struct pm_cluster *c, const struct pm_ep *local, const struct pm_ep *peer,
		   int dir, uint8_t proto, uint16_t port, const struct pm_request *req, int *policy, int *rule)
{
	for (size_t pi = 0; pi < c->npols; pi++) {
		const struct pm_policy *p = &c->pols[pi];
		if (!pm_in_group(p, local, dir))
			continue;
		for (size_t k = 0; k < p->nrules[dir]; k++) {
			const struct pm_rule *r = &p->rules[dir][k];
			if (r->deny || !rule_hits(p, r, local, peer, dir, proto, port))
				continue;
			for (size_t h = 0; h < r->nhttp; h++)
				if (pm_http_matches(&r->http[h], req->method, req->path, req->headers, req->nheaders)) {
					*policy = (int)pi;
					*rule = r->index;
					return true;
				}
		}
	}
	return false;
}

char *pm_side_text(const struct pm_cluster *c, const struct pm_side *s, int dir)
{
	const char *d = dir == DIR_INGRESS ? "ingress" : "egress";

	switch (s->why) {
	case WHY_NOT_ISOLATED:
		return xasprintf("allowed: no policy selects the pod for %s", d);
	case WHY_SELF:
		return xstrdup("allowed: a pod cannot block access to itself");
	case WHY_PASSED:
		return xasprintf("allowed: a Pass rule in tier %s skipped the rest of it and no later tier applies",
				 s->tier ? s->tier : "default");
	case WHY_TIER_PASS:
		return xasprintf("allowed: policies of tier %s select the pod for %s, none matched, the tier's "
				 "defaultAction is Pass and no later tier applies", s->tier ? s->tier : "default", d);
	case WHY_END_OF_TIER:
		return xasprintf("denied: policies select the pod for %s in tier %s but no rule matches", d,
				 s->tier ? s->tier : "default");
	case WHY_RULE: {
		const struct pm_policy *p = &c->pols[s->policy];
		return xasprintf("%s by %s %s%s%s %s[%d]", s->v == V_DENY ? "denied" : s->v == V_REDIRECT ? "redirected to the L7 proxy" : "allowed",
				 pm_kind_name(p->kind), p->ns ? p->ns : "", p->ns ? "/" : "", p->name, s->list, s->rule);
	}
	}
	return xstrdup("?");
}
