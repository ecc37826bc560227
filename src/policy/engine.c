#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

/* ---- prefixes: every CIDR any policy mentions gets an id ---- */

static int prefix_id(struct pe_engine *e, const struct cidr *c, bool add)
{
	for (size_t i = 0; i < e->nprefixes; i++)
		if (!memcmp(&e->prefixes[i], c, sizeof(*c)))
			return (int)i;
	if (!add)
		return -1;
	e->prefixes = xrealloc(e->prefixes, (e->nprefixes + 1) * sizeof(*c));
	e->prefixes[e->nprefixes] = *c;
	return (int)e->nprefixes++;
}

/* Registers a peer's CIDRs; returns false when one is unknown and add is false. */
static bool number_peer(struct pe_engine *e, const struct pm_peer *p, bool add)
{
	bool ok = true;

	if (p->type == PP_CIDR) {
		ok &= prefix_id(e, &p->cidr, add) >= 0;
		for (size_t i = 0; i < p->nexcept; i++)
			ok &= prefix_id(e, &p->except[i], add) >= 0;
	} else if (p->type == PP_CALICO) {
		for (size_t i = 0; i < p->nnets; i++)
			ok &= prefix_id(e, &p->nets[i], add) >= 0;
		for (size_t i = 0; i < p->nnot_nets; i++)
			ok &= prefix_id(e, &p->not_nets[i], add) >= 0;
		if (p->has_family)
			ok &= prefix_id(e, &p->family, add) >= 0;
	}
	return ok;
}

static bool number_policy(struct pe_engine *e, const struct pm_policy *p, bool add)
{
	bool ok = true;

	for (int d = 0; d < 2; d++)
		for (size_t k = 0; k < p->nrules[d]; k++) {
			const struct pm_rule *r = &p->rules[d][k];
			for (size_t i = 0; i < r->npeers; i++)
				ok &= number_peer(e, &r->peers[i], add);
			if (r->local)
				ok &= number_peer(e, r->local, add);
		}
	return ok;
}

static int resolve_prefix(const void *ctx, const struct cidr *c)
{
	return prefix_id((struct pe_engine *)ctx, c, false);
}

/* ---- identities ---- */

static uint64_t *sig_of_ip(const struct pe_engine *e, const struct ipaddr *ip, bool has_ip)
{
	uint64_t *s = xcalloc(e->words ? e->words : 1, sizeof(uint64_t));

	for (size_t i = 0; has_ip && i < e->nprefixes; i++)
		if (cidr_contains_ip(&e->prefixes[i], ip))
			s[i / 64] |= 1ull << (i % 64);
	return s;
}

static void sig_text(struct strbuf *sb, const uint64_t *s, size_t words)
{
	for (size_t i = 0; i < words; i++)
		sb_printf(sb, "%016llx", (unsigned long long)s[i]);
}

/* Everything a policy can look at: namespace, labels, service account (name and
 * labels), named ports, prefixes. */
static char *pod_key(const struct pe_engine *e, const struct pm_pod *p, const uint64_t *sig)
{
	struct strbuf sb;
	char *labels = json_dumps(p->labels, JSON_SORT_KEYS | JSON_COMPACT);

	sb_init(&sb);
	char *sa_labels = p->sa_labels ? json_dumps(p->sa_labels, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	sb_printf(&sb, "pod\x1f%s\x1f%s\x1f%s\x1f%s\x1f", p->ns, labels, p->sa ? p->sa : "", sa_labels ? sa_labels : "");
	free(sa_labels);
	for (size_t i = 0; i < p->nports; i++)
		if (p->ports[i].name)
			sb_printf(&sb, "%s=%u/%u,", p->ports[i].name, p->ports[i].port, p->ports[i].proto);
	sb_addc(&sb, '\x1f');
	sig_text(&sb, sig, e->words);
	free(labels);
	return sb_detach(&sb);
}

static uint32_t find_key(const struct pe_engine *e, const char *key)
{
	/* Identities are few next to pods and policies; a scan of the keys is bounded by
	 * a hash of the key's first bytes in a real datapath. */
	for (size_t i = 0; i < e->nids; i++)
		if (!strcmp(e->ids[i].key, key))
			return e->ids[i].id;
	return 0;
}

static uint32_t add_ident(struct pe_engine *e, char *key, int rep, uint64_t *sig)
{
	e->ids = xrealloc(e->ids, (e->nids + 1) * sizeof(*e->ids));
	e->ids[e->nids] = (struct pe_ident){ (uint32_t)e->nids + 1, rep, sig, key, 0, false };
	e->tables = xrealloc(e->tables, (e->nids + 1) * 2 * sizeof(*e->tables));
	memset(&e->tables[2 * e->nids], 0, 2 * sizeof(*e->tables));
	return (uint32_t)++e->nids;
}

static void ident_ep(const struct pe_engine *e, uint32_t id, struct pm_ep *ep)
{
	const struct pe_ident *d = &e->ids[id - 1];

	memset(ep, 0, sizeof(*ep));
	if (d->rep >= 0)
		pm_ep_pod(e->c, d->rep, ep);
	ep->has_ip = false;
	ep->sig = d->sig;
	ep->prefix_id = resolve_prefix;
	ep->prefix_ctx = e;
}

static uint32_t pod_identity(struct pe_engine *e, int i)
{
	const struct pm_pod *p = &e->c->pods[i];
	uint64_t *sig = sig_of_ip(e, &p->ip, p->has_ip);
	char *key = pod_key(e, p, sig);
	uint32_t id = find_key(e, key);

	if (id) {
		free(key);
		free(sig);
	} else {
		id = add_ident(e, key, i, sig);
	}
	e->ids[id - 1].members++;
	return id;
}

static void build_identities(struct pe_engine *e)
{
	e->words = (e->nprefixes + 63) / 64;
	e->pod_ident = xcalloc(e->c->npods + 1, sizeof(uint32_t));
	for (size_t i = 0; i < e->c->npods; i++)
		e->pod_ident[i] = pod_identity(e, (int)i);
	/* Addresses outside pods: one identity per chain of prefixes an address can sit
	 * in (the prefix and all that contain it), and one for none. */
	for (size_t i = 0; i <= e->nprefixes; i++) {
		uint64_t *sig = xcalloc(e->words ? e->words : 1, sizeof(uint64_t));
		for (size_t j = 0; i < e->nprefixes && j < e->nprefixes; j++)
			if (cidr_contains_cidr(&e->prefixes[j], &e->prefixes[i]))
				sig[j / 64] |= 1ull << (j % 64);
		struct strbuf sb;
		sb_init(&sb);
		sb_adds(&sb, "world\x1f");
		sig_text(&sb, sig, e->words);
		char *key = sb_detach(&sb);
		if (find_key(e, key)) {
			free(key);
			free(sig);
		} else {
			add_ident(e, key, -1, sig);
		}
	}
}

uint32_t pe_ident_of_pod(const struct pe_engine *e, int pod)
{
	return e->pod_ident[pod];
}

uint32_t pe_ident_of_ip(const struct pe_engine *e, const struct ipaddr *ip)
{
	uint64_t *sig = sig_of_ip(e, ip, true);
	struct strbuf sb;

	sb_init(&sb);
	sb_adds(&sb, "world\x1f");
	sig_text(&sb, sig, e->words);
	uint32_t id = find_key(e, sb.buf);
	sb_free(&sb);
	free(sig);
	return id;
}

uint32_t pe_ident_of_prefix(const struct pe_engine *e, size_t i)
{
	uint64_t *sig = xcalloc(e->words ? e->words : 1, sizeof(uint64_t));
	struct strbuf sb;

	for (size_t j = 0; i < e->nprefixes && j < e->nprefixes; j++)
		if (cidr_contains_cidr(&e->prefixes[j], &e->prefixes[i]))
			sig[j / 64] |= 1ull << (j % 64);
	sb_init(&sb);
	sb_adds(&sb, "world\x1f");
	sig_text(&sb, sig, e->words);
	uint32_t id = find_key(e, sb.buf);
	sb_free(&sb);
	free(sig);
	return id;
}

/* ---- selector cache: which identities each rule's peers select ---- */

static void sel_add(struct pe_sel *s, uint32_t id)
{
	s->ids = xrealloc(s->ids, (s->n + 1) * sizeof(uint32_t));
	s->ids[s->n++] = id;
}

/* The namespace a rule's peers are confined to, when all are (the common case). */
static const char *rule_ns_scope(const struct pm_policy *p, const struct pm_rule *r)
{
	const char *scope = NULL;

	for (size_t i = 0; i < r->npeers; i++) {
		const struct pm_peer *pp = &r->peers[i];
		const char *s = pp->type == PP_K8S && !pp->has_ns_sel ? p->ns
			      : pp->type == PP_CILIUM ? pp->ns_scope : NULL;
		if (!s || (scope && strcmp(scope, s)))
			return NULL;
		scope = s;
	}
	return scope;
}

static void select_rule(struct pe_engine *e, const struct pm_policy *p, const struct pm_rule *r,
			struct pe_sel *s, uint32_t from)
{
	const char *scope = rule_ns_scope(p, r);

	if (r->any_peer)
		return;
	for (uint32_t id = from; id <= e->nids; id++) {
		const struct pe_ident *d = &e->ids[id - 1];
		if (d->dead)
			continue;
		if (scope && (d->rep < 0 || strcmp(e->c->pods[d->rep].ns, scope)))
			continue;
		struct pm_ep ep;
		ident_ep(e, id, &ep);
		if (pm_rule_peer_matches(p, r, &ep))
			sel_add(s, id);
	}
}

static void free_sel(struct pe_engine *e, size_t pol)
{
	for (size_t k = 0; k < e->nsel[pol]; k++)
		free(e->sel[pol][k].ids);
	free(e->sel[pol]);
	e->sel[pol] = NULL;
	e->nsel[pol] = 0;
}

static void select_policy(struct pe_engine *e, size_t pol)
{
	const struct pm_policy *p = &e->c->pols[pol];
	size_t n = p->nrules[0] > p->nrules[1] ? p->nrules[0] : p->nrules[1];

	free_sel(e, pol);
	e->nsel[pol] = 2 * n;
	e->sel[pol] = xcalloc(2 * n + 1, sizeof(struct pe_sel));
	for (int d = 0; d < 2; d++)
		for (size_t k = 0; k < p->nrules[d]; k++)
			select_rule(e, p, &p->rules[d][k], &e->sel[pol][2 * k + (size_t)d], 1);
}

/* ---- tables ---- */

struct flat {
	int slot, policy;
	const struct pm_rule *r;
	const struct pe_sel *sel;
};

static const struct pe_ivs **table_slot(struct pe_table *t, uint32_t peer, bool add)
{
	if (add && (t->n + 1) * 2 > t->cap) {
		struct pe_entry *old = t->slots;
		size_t oldcap = t->cap;
		t->cap = t->cap ? t->cap * 2 : 8;
		t->slots = xcalloc(t->cap, sizeof(*t->slots));
		t->n = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].peer)
				*table_slot(t, old[i].peer, true) = old[i].ivs;
		free(old);
	}
	if (!t->cap)
		return NULL;
	size_t i = (peer * 2654435761u) & (t->cap - 1);
	while (t->slots[i].peer) {
		if (t->slots[i].peer == peer)
			return &t->slots[i].ivs;
		i = (i + 1) & (t->cap - 1);
	}
	if (!add)
		return NULL;
	t->slots[i].peer = peer;
	t->n++;
	return &t->slots[i].ivs;
}

static void table_clear(struct pe_table *t)
{
	for (size_t i = 0; i < t->nowned; i++) {
		free(t->owned[i]->v);
		free(t->owned[i]);
	}
	free(t->owned);
	free(t->slots);
	free(t->dflt.v);
	memset(t, 0, sizeof(*t));
}

static struct pe_ivs *table_own(struct pe_table *t)
{
	t->owned = xrealloc(t->owned, (t->nowned + 1) * sizeof(*t->owned));
	return t->owned[t->nowned++] = xcalloc(1, sizeof(struct pe_ivs));
}

/* Painting memo for one table: the same rule list paints the same intervals (for
 * egress with named ports, only for the same peer). */
struct memo_ent {
	uint64_t hash;
	const int *list;
	size_t n;
	uint32_t peer;
	const struct pe_ivs *ivs;
};

struct memo {
	struct memo_ent *v;
	size_t cap, n;
};

static uint64_t list_hash(const int *l, size_t n, uint32_t peer)
{
	uint64_t h = 1469598103934665603ull ^ peer;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint64_t)(unsigned)l[i]) * 1099511628211ull;
	return h ^ (h >> 31);
}

static const struct pe_ivs **memo_find(struct memo *m, const int *l, size_t n, uint32_t peer, uint64_t h)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct memo_ent *old = m->v;
		size_t oldcap = m->cap;
		m->cap = m->cap ? m->cap * 2 : 16;
		m->v = xcalloc(m->cap, sizeof(*m->v));
		m->n = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].list) {
				const struct pe_ivs **slot = memo_find(m, old[i].list, old[i].n, old[i].peer, old[i].hash);
				*slot = old[i].ivs;
			}
		free(old);
	}
	size_t i = h & (m->cap - 1);
	while (m->v[i].list) {
		struct memo_ent *x = &m->v[i];
		if (x->hash == h && x->n == n && x->peer == peer && !memcmp(x->list, l, n * sizeof(int)))
			return &x->ivs;
		i = (i + 1) & (m->cap - 1);
	}
	m->v[i] = (struct memo_ent){ h, l, n, peer, NULL };
	m->n++;
	return &m->v[i].ivs;
}

/* Evaluates the flattened rules that select this peer, for one protocol and port. */
static struct pm_side eval_flat(const struct pm_slot *slots, size_t nslots,
				const struct flat *f, const int *list, size_t n, const struct pm_ep *dst,
				uint8_t proto, uint16_t port)
{
	size_t li = 0;
	struct pm_side out = { V_ALLOW, WHY_NOT_ISOLATED, -1, -1, NULL, NULL };
	size_t s = 0;

	while (s < nslots) {
		const char *tier = slots[s].tier;
		size_t end = s;
		while (end < nslots && !strcmp(slots[end].tier, tier))
			end++;
		for (; s < end; s++) {
			const struct flat *allow = NULL, *l4 = NULL;
			while (li < n && f[list[li]].slot < (int)s)
				li++;
			for (; li < n && f[list[li]].slot == (int)s; li++) {
				const struct flat *x = &f[list[li]];
				if (!pm_rule_port_matches(x->r, dst, proto, port))
					continue;
				if (slots[s].policy >= 0) {
					if (x->r->action == PA_LOG)
						continue;
					if (x->r->action == PA_PASS)
						goto next_tier;
					return (struct pm_side){ x->r->action == PA_ALLOW ? V_ALLOW : V_DENY, WHY_RULE,
								 x->policy, x->r->index, x->r->list, tier };
				}
				if (x->r->deny)
					return (struct pm_side){ V_DENY, WHY_RULE, x->policy, x->r->index, x->r->list, tier };
				if (!allow)
					allow = x;
				if (!x->r->nhttp && !l4)
					l4 = x;
			}
			if (l4)
				return (struct pm_side){ V_ALLOW, WHY_RULE, l4->policy, l4->r->index, l4->r->list, tier };
			if (allow)
				return (struct pm_side){ V_REDIRECT, WHY_RULE, allow->policy, allow->r->index, allow->r->list, tier };
		}
		if (slots[end - 1].tier_pass) {
			out = (struct pm_side){ V_ALLOW, WHY_TIER_PASS, -1, -1, NULL, tier };
			continue;
		}
		return (struct pm_side){ V_DENY, WHY_END_OF_TIER, -1, -1, NULL, tier };
next_tier:
		s = end;
		out = (struct pm_side){ V_ALLOW, WHY_PASSED, -1, -1, NULL, tier };
	}
	return out;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint32_t *)a - (int)*(const uint32_t *)b;
}

static void add_bounds(uint32_t **b, size_t *n, const struct pm_portspec *v, size_t nv,
		       const struct pm_ep *dst, uint8_t proto)
{
	for (size_t i = 0; i < nv; i++) {
		if (v[i].proto != PROTO_ANY && v[i].proto != proto)
			continue;
		if (v[i].name) {
			for (size_t k = 0; dst->pod && k < dst->pod->nports; k++) {
				const struct pm_port *pp = &dst->pod->ports[k];
				if (pp->name && !strcmp(pp->name, v[i].name) && pp->proto == proto) {
					*b = xrealloc(*b, (*n + 2) * sizeof(uint32_t));
					(*b)[(*n)++] = pp->port;
					(*b)[(*n)++] = (uint32_t)pp->port + 1;
				}
			}
			continue;
		}
		*b = xrealloc(*b, (*n + 2) * sizeof(uint32_t));
		(*b)[(*n)++] = v[i].lo;
		(*b)[(*n)++] = (uint32_t)v[i].hi + 1;
	}
}

static void paint(const struct pm_slot *slots, size_t nslots,
		  const struct flat *f, const int *list, size_t n, const struct pm_ep *dst,
		  struct pe_ivs *out)
{
	static const uint8_t protos[] = { PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_SCTP };

	out->v = NULL;
	out->n = 0;
	for (size_t pi = 0; pi < ARRAY_SIZE(protos); pi++) {
		uint8_t proto = protos[pi];
		uint32_t *b = xmalloc(2 * sizeof(uint32_t));
		size_t nb = 0;
		b[nb++] = 0;
		b[nb++] = 65536;
		for (size_t i = 0; i < n; i++) {
			const struct pm_rule *r = f[list[i]].r;
			add_bounds(&b, &nb, r->ports, r->nports, dst, proto);
			add_bounds(&b, &nb, r->not_ports, r->nnot_ports, dst, proto);
		}
		qsort(b, nb, sizeof(uint32_t), cmp_u16);
		for (size_t i = 0; i + 1 < nb; i++) {
			if (b[i] == b[i + 1])
				continue;
			struct pm_side s = eval_flat(slots, nslots, f, list, n, dst, proto, (uint16_t)b[i]);
			struct pe_interval *last = out->n ? &out->v[out->n - 1] : NULL;
			if (last && last->proto == proto && last->v == s.v && last->why == s.why &&
			    last->policy == s.policy && last->rule == s.rule && last->list == s.list &&
			    last->tier == s.tier && last->hi + 1u == b[i]) {
				last->hi = (uint16_t)(b[i + 1] - 1);
				continue;
			}
			out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
			out->v[out->n++] = (struct pe_interval){ (uint16_t)b[i], (uint16_t)(b[i + 1] - 1), proto,
								 (uint8_t)s.v, (uint8_t)s.why, (int16_t)s.rule,
								 s.policy, s.list, s.tier };
		}
		free(b);
	}
}

/* Merges two ascending index lists. */
static int *merge(const int *a, size_t na, const int *b, size_t nb, size_t *n)
{
	int *o = xmalloc((na + nb + 1) * sizeof(int));
	size_t i = 0, j = 0;

	*n = 0;
	while (i < na || j < nb)
		o[(*n)++] = j >= nb || (i < na && a[i] < b[j]) ? a[i++] : b[j++];
	return o;
}

struct peer_list {
	uint32_t peer;
	int *v;
	size_t n;
};

/* Which policies can select pods of each namespace (namespaced ones only there). */
static void index_policies(struct pe_engine *e)
{
	const struct pm_cluster *c = e->c;

	for (size_t i = 0; e->ns_pols && i < e->nns_cached; i++)
		free(e->ns_pols[i]);
	free(e->ns_pols);
	free(e->nns_pols);
	e->nns_cached = c->nns;
	e->ns_pols = xcalloc(c->nns + 1, sizeof(int *));
	e->nns_pols = xcalloc(c->nns + 1, sizeof(size_t));
	for (size_t n = 0; n < c->nns; n++)
		for (size_t i = 0; i < c->npols; i++) {
			const char *pns = c->pols[i].ns;
			if (pns && strcmp(pns, c->ns[n].name))
				continue;
			e->ns_pols[n] = xrealloc(e->ns_pols[n], (e->nns_pols[n] + 1) * sizeof(int));
			e->ns_pols[n][e->nns_pols[n]++] = (int)i;
		}
}

static void build_table(struct pe_engine *e, uint32_t local, int dir)
{
	struct pe_table *t = &e->tables[2 * (local - 1) + (size_t)dir];
	struct pm_ep lep;
	size_t nslots;

	table_clear(t);
	e->tables_built++;
	if (e->ids[local - 1].rep < 0 || e->ids[local - 1].dead)
		return; /* addresses outside pods have no policy of their own */
	ident_ep(e, local, &lep);
	int nsi = e->c->pods[e->ids[local - 1].rep].nsi;
	const int *cand = e->ns_pols[nsi];
	size_t ncand = e->nns_pols[nsi];
	struct pm_slot *slots = pm_slots_among(e->c, &lep, dir, cand, ncand, &nslots);
	if (!nslots) {
		free(slots);
		return;
	}
	t->isolated = true;
	struct flat *f = NULL;
	size_t nf = 0;
	for (size_t s = 0; s < nslots; s++) {
		for (size_t ci = 0; ci < ncand; ci++) {
			size_t pi = (size_t)cand[ci];
			const struct pm_policy *p = &e->c->pols[pi];
			if (slots[s].policy >= 0 ? (int)pi != slots[s].policy : !pm_in_group(p, &lep, dir))
				continue;
			for (size_t k = 0; k < p->nrules[dir]; k++) {
				const struct pm_rule *r = &p->rules[dir][k];
				if (r->local && !pm_peer_matches(p, r->local, &lep))
					continue;
				f = xrealloc(f, (nf + 1) * sizeof(*f));
				f[nf++] = (struct flat){ (int)s, (int)pi, r, &e->sel[pi][2 * k + (size_t)dir] };
			}
		}
	}
	/* Rules for any peer, and per named peer the rules that select it. */
	int *any = xmalloc((nf + 1) * sizeof(int));
	size_t nany = 0;
	struct peer_list *pl = NULL;
	size_t npl = 0;
	/* peer -> index of its list, through a scratch table of the same shape. */
	struct pe_table idx = { 0 };
	for (size_t i = 0; i < nf; i++) {
		if (f[i].r->any_peer) {
			any[nany++] = (int)i;
			continue;
		}
		for (size_t k = 0; k < f[i].sel->n; k++) {
			uint32_t peer = f[i].sel->ids[k];
			const struct pe_ivs **slot = table_slot(&idx, peer, true);
			if (!*slot) {
				pl = xrealloc(pl, (npl + 1) * sizeof(*pl));
				pl[npl] = (struct peer_list){ peer, NULL, 0 };
				*slot = (const struct pe_ivs *)(uintptr_t)(npl + 1); /* index + 1 */
				npl++;
			}
			struct peer_list *x = &pl[(uintptr_t)*slot - 1];
			x->v = xrealloc(x->v, (x->n + 1) * sizeof(int));
			x->v[x->n++] = (int)i;
		}
	}
	free(idx.slots);
	bool named_any = false;
	for (size_t i = 0; i < nf; i++) {
		for (size_t k = 0; k < f[i].r->nports; k++)
			named_any |= f[i].r->ports[k].name != NULL;
		for (size_t k = 0; k < f[i].r->nnot_ports; k++)
			named_any |= f[i].r->not_ports[k].name != NULL;
	}
	struct memo memo = { 0 };
	int **merged = xcalloc(npl + 1, sizeof(int *));
	for (size_t i = 0; i < npl; i++) {
		size_t n;
		merged[i] = merge(pl[i].v, pl[i].n, any, nany, &n);
		/* Egress named ports resolve on the peer: only the same peer may share. */
		uint32_t key_peer = dir == DIR_EGRESS && named_any ? pl[i].peer : 0;
		const struct pe_ivs **shared = memo_find(&memo, merged[i], n, key_peer,
							 list_hash(merged[i], n, key_peer));
		if (!*shared) {
			struct pm_ep pep;
			struct pe_ivs *own = table_own(t);
			ident_ep(e, pl[i].peer, &pep);
			paint(slots, nslots, f, merged[i], n, dir == DIR_INGRESS ? &lep : &pep, own);
			*shared = own;
		}
		*table_slot(t, pl[i].peer, true) = *shared;
		free(pl[i].v);
	}
	for (size_t i = 0; i < npl; i++)
		free(merged[i]);
	free(merged);
	free(memo.v);
	/* Peers no rule names: only the any-peer rules apply. Named ports on egress then
	 * depend on the peer; such peers have no pod (world) or were named above. */
	struct pm_ep none;
	memset(&none, 0, sizeof(none));
	paint(slots, nslots, f, any, nany, dir == DIR_INGRESS ? &lep : &none, &t->dflt);
	/* An egress any-peer rule with a named port must resolve on each pod peer: give
	 * every pod identity its own entry then. */
	bool named = false;
	for (size_t i = 0; i < nany; i++) {
		const struct pm_rule *r = f[any[i]].r;
		for (size_t k = 0; k < r->nports; k++)
			named |= r->ports[k].name != NULL;
		for (size_t k = 0; k < r->nnot_ports; k++)
			named |= r->not_ports[k].name != NULL;
	}
	t->every_pod = dir == DIR_EGRESS && named;
	if (t->every_pod)
		for (uint32_t id = 1; id <= e->nids; id++) {
			if (e->ids[id - 1].rep < 0 || e->ids[id - 1].dead || table_slot(t, id, false))
				continue;
			struct pm_ep pep;
			struct pe_ivs *own = table_own(t);
			ident_ep(e, id, &pep);
			paint(slots, nslots, f, any, nany, &pep, own);
			*table_slot(t, id, true) = own;
		}
	free(pl);
	free(any);
	free(f);
	free(slots);
}

struct pm_side pe_lookup(const struct pe_engine *e, uint32_t local, int dir, uint32_t peer,
			 uint8_t proto, uint16_t port)
{
	const struct pe_table *t = &e->tables[2 * (local - 1) + (size_t)dir];
	struct pm_side out = { V_ALLOW, WHY_NOT_ISOLATED, -1, -1, NULL, NULL };

	if (!t->isolated)
		return out;
	const struct pe_ivs **slot = table_slot((struct pe_table *)t, peer, false);
	const struct pe_ivs *iv = slot ? *slot : &t->dflt;
	size_t lo = 0, hi = iv->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct pe_interval *x = &iv->v[mid];
		if (x->proto < proto || (x->proto == proto && x->hi < port))
			lo = mid + 1;
		else if (x->proto > proto || x->lo > port)
			hi = mid;
		else
			return (struct pm_side){ (enum pm_v)x->v, (enum pm_why)x->why, x->policy, x->rule, x->list, x->tier };
	}
	/* Protocols without ports (ICMP) are outside the tables: denied when isolated. */
	return (struct pm_side){ V_DENY, WHY_END_OF_TIER, -1, -1, NULL, "default" };
}

int pe_compile(struct pe_engine *e, const struct pm_cluster *c, char **err)
{
	memset(e, 0, sizeof(*e));
	*err = NULL;
	e->c = c;
	for (size_t i = 0; i < c->npols; i++)
		number_policy(e, &c->pols[i], true);
	build_identities(e);
	e->sel = xcalloc(c->npols + 1, sizeof(*e->sel));
	e->nsel = xcalloc(c->npols + 1, sizeof(size_t));
	index_policies(e);
	for (size_t i = 0; i < c->npols; i++)
		select_policy(e, i);
	for (uint32_t id = 1; id <= e->nids; id++)
		for (int d = 0; d < 2; d++)
			build_table(e, id, d);
	return 0;
}

void pe_free(struct pe_engine *e)
{
	for (size_t i = 0; i < e->nids; i++) {
		free(e->ids[i].sig);
		free(e->ids[i].key);
		table_clear(&e->tables[2 * i]);
		table_clear(&e->tables[2 * i + 1]);
	}
	for (size_t i = 0; e->sel && i < e->c->npols; i++)
		free_sel(e, i);
	free(e->sel);
	free(e->nsel);
	for (size_t i = 0; e->ns_pols && i < e->nns_cached; i++)
		free(e->ns_pols[i]);
	free(e->ns_pols);
	free(e->nns_pols);
	free(e->ids);
	free(e->tables);
	free(e->pod_ident);
	free(e->prefixes);
	memset(e, 0, sizeof(*e));
}

/* ---- incremental ---- */

static bool selects_any_dir(const struct pm_policy *p, const struct pm_ep *ep)
{
	return (p->applies[0] || p->applies[1]) && pm_selects_local(p, ep);
}

int pe_policy_changed(struct pe_engine *e, int pol, const struct pm_policy *old)
{
	const struct pm_cluster *c = e->c;
	const struct pm_policy *p = &c->pols[pol];

	if ((size_t)pol >= c->npols)
		return -1;
	/* A prefix no identity was split by forces new identities: compile afresh. */
	if (!number_policy(e, p, false)) {
		char *err;
		pe_free(e);
		pe_compile(e, c, &err);
		return -1;
	}
	e->sel = xrealloc(e->sel, (c->npols + 1) * sizeof(*e->sel));
	e->nsel = xrealloc(e->nsel, (c->npols + 1) * sizeof(size_t));
	if ((size_t)pol == c->npols - 1 && !old) {
		e->sel[pol] = NULL;
		e->nsel[pol] = 0;
	}
	select_policy(e, (size_t)pol);
	index_policies(e);
	size_t before = e->tables_built;
	for (uint32_t id = 1; id <= e->nids; id++) {
		struct pm_ep ep;
		if (e->ids[id - 1].rep < 0 || e->ids[id - 1].dead)
			continue;
		ident_ep(e, id, &ep);
		if (selects_any_dir(p, &ep) || (old && selects_any_dir(old, &ep)))
			for (int d = 0; d < 2; d++)
				build_table(e, id, d);
	}
	return (int)(e->tables_built - before);
}

int pe_pods_changed(struct pe_engine *e)
{
	const struct pm_cluster *c = e->c;
	size_t old_nids = e->nids;
	size_t before = e->tables_built;

	for (size_t i = 0; i < e->nids; i++)
		e->ids[i].members = 0;
	free(e->pod_ident);
	e->pod_ident = xcalloc(c->npods + 1, sizeof(uint32_t));
	for (size_t i = 0; i < c->npods; i++)
		e->pod_ident[i] = pod_identity(e, (int)i);
	/* A representative that changed identity no longer stands for its old one: elect
	 * another member, or retire the identity when none is left. */
	for (uint32_t id = 1; id <= old_nids; id++) {
		struct pe_ident *d = &e->ids[id - 1];
		if (d->rep < 0 || d->dead || e->pod_ident[d->rep] == id)
			continue;
		d->dead = true;
		for (size_t i = 0; i < c->npods; i++)
			if (e->pod_ident[i] == id) {
				d->rep = (int)i;
				d->dead = false;
				break;
			}
	}
	if (e->nids == old_nids)
		return 0;
	/* New identities: add them to the rules that select them, then rebuild the tables
	 * of every local identity those rules belong to, and the new ones' own. */
	bool *dirty = xcalloc(e->nids + 1, sizeof(bool));
	for (size_t pi = 0; pi < c->npols; pi++) {
		const struct pm_policy *p = &c->pols[pi];
		bool touched = false;
		for (int d = 0; d < 2; d++)
			for (size_t k = 0; k < p->nrules[d]; k++) {
				struct pe_sel *s = &e->sel[pi][2 * k + (size_t)d];
				size_t n0 = s->n;
				select_rule(e, p, &p->rules[d][k], s, (uint32_t)old_nids + 1);
				touched |= s->n != n0;
			}
		if (!touched)
			continue;
		for (uint32_t id = 1; id <= e->nids; id++) {
			struct pm_ep ep;
			if (e->ids[id - 1].rep < 0 || e->ids[id - 1].dead)
				continue;
			ident_ep(e, id, &ep);
			if (selects_any_dir(p, &ep))
				dirty[id] = true;
		}
	}
	for (uint32_t id = (uint32_t)old_nids + 1; id <= e->nids; id++)
		dirty[id] = true;
	for (uint32_t id = 1; id <= old_nids; id++)
		if (e->tables[2 * (id - 1) + DIR_EGRESS].every_pod)
			dirty[id] = true;
	for (uint32_t id = 1; id <= e->nids; id++)
		if (dirty[id])
			for (int d = 0; d < 2; d++)
				build_table(e, id, d);
	free(dirty);
	return (int)(e->tables_built - before);
}
