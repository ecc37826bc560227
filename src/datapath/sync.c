/* Keeping the service maps equal to the desired frontends, and conntrack garbage
 * collection. Nothing here flushes a map: a restarted agent diffs against what the
 * kernel holds, so traffic never sees an empty table. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "../lib/util.h"
#include "datapath_int.h"

static uint64_t key64(const struct tl_svc_key *k)
{
	uint64_t v;
	memcpy(&v, k, sizeof(v));
	return v;
}

/* Open addressing, keys are frontend keys packed into 64 bits (never 0: a frontend
 * has a port). */
struct fe_table {
	uint64_t *keys;
	struct tl_svc *vals;
	size_t cap;
};

static void ft_init(struct fe_table *t, size_t n)
{
	t->cap = 16;
	while (t->cap < n * 2)
		t->cap <<= 1;
	t->keys = xcalloc(t->cap, sizeof(*t->keys));
	t->vals = xcalloc(t->cap, sizeof(*t->vals));
}

static size_t ft_slot(const struct fe_table *t, uint64_t k)
{
	size_t i = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & (t->cap - 1);
	while (t->keys[i] && t->keys[i] != k)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void ft_free(struct fe_table *t)
{
	free(t->keys);
	free(t->vals);
}

struct gone {
	uint32_t id;
	uint32_t addr;
	uint16_t port;
};

static int gone_cmp(const void *a, const void *b)
{
	const struct gone *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (int)x->port - (int)y->port;
}

static bool backend_in(const struct tl_backend *b, const struct dp_frontend *f)
{
	for (size_t i = 0; i < f->nbackends; i++)
		if (f->backends[i].addr == b->addr && f->backends[i].port == b->port)
			return true;
	return false;
}

/* Deletes the conntrack and affinity entries of backends that left their frontend. */
static size_t purge(struct datapath *dp, struct gone *g, size_t ng)
{
	if (!ng)
		return 0;
	qsort(g, ng, sizeof(*g), gone_cmp);
	size_t n = 0;
	struct tl_ct_key k, nk, *prev = NULL;
	struct tl_ct v;
	struct tl_ct_key *del = NULL;
	size_t ndel = 0, cap = 0;
	while (bpf_map_get_next_key(dp->ct_fd, prev, &nk) == 0) {
		k = nk;
		prev = &k;
		if (bpf_map_lookup_elem(dp->ct_fd, &k, &v) < 0)
			continue;
		/* Forward entries rewrite to the backend; reply entries come from it. */
		struct gone q = { .id = v.svc_id };
		if (v.flags & TL_CT_F_REPLY) {
			q.addr = k.saddr;
			q.port = k.sport;
		} else {
			q.addr = v.daddr;
			q.port = v.dport;
		}
		if (bsearch(&q, g, ng, sizeof(*g), gone_cmp)) {
			if (ndel == cap) {
				cap = cap ? cap * 2 : 64;
				del = xrealloc(del, cap * sizeof(*del));
			}
			del[ndel++] = k;
		}
	}
	for (size_t i = 0; i < ndel; i++)
		if (bpf_map_delete_elem(dp->ct_fd, &del[i]) == 0)
			n++;
	free(del);
	/* Affinity entries pointing at a gone backend. */
	struct tl_affinity_key ak, nak, *ap = NULL;
	struct tl_affinity av;
	struct tl_affinity_key *adel = NULL;
	size_t nadel = 0, acap = 0;
	while (bpf_map_get_next_key(dp->aff_fd, ap, &nak) == 0) {
		ak = nak;
		ap = &ak;
		if (bpf_map_lookup_elem(dp->aff_fd, &ak, &av) < 0)
			continue;
		struct gone q = { .id = ak.svc_id, .addr = av.backend.addr, .port = av.backend.port };
		if (bsearch(&q, g, ng, sizeof(*g), gone_cmp)) {
			if (nadel == acap) {
				acap = acap ? acap * 2 : 64;
				adel = xrealloc(adel, acap * sizeof(*adel));
			}
			adel[nadel++] = ak;
		}
	}
	for (size_t i = 0; i < nadel; i++)
		bpf_map_delete_elem(dp->aff_fd, &adel[i]);
	free(adel);
	return n;
}

int dp_sync(struct datapath *dp, const struct dp_frontend *fe, size_t n, struct dp_sync_stats *st)
{
	struct fe_table cur;
	struct tl_svc_key k, nk, *prev = NULL;
	struct tl_svc v;
	size_t ncur = 0;
	int rc = 0;
	struct gone *gone = NULL;
	size_t ngone = 0, gcap = 0;

	memset(st, 0, sizeof(*st));
	/* What the kernel holds now (after a restart, an earlier agent's work). */
	ft_init(&cur, 1024);
	while (bpf_map_get_next_key(dp->svc_fd, prev, &nk) == 0) {
		k = nk;
		prev = &k;
		if (bpf_map_lookup_elem(dp->svc_fd, &k, &v) < 0)
			continue;
		if (ncur * 2 >= cur.cap) {
			struct fe_table bigger;
			ft_init(&bigger, cur.cap);
			for (size_t i = 0; i < cur.cap; i++)
				if (cur.keys[i]) {
					size_t j = ft_slot(&bigger, cur.keys[i]);
					bigger.keys[j] = cur.keys[i];
					bigger.vals[j] = cur.vals[i];
				}
			ft_free(&cur);
			cur = bigger;
		}
		size_t s = ft_slot(&cur, key64(&k));
		cur.keys[s] = key64(&k);
		cur.vals[s] = v;
		ncur++;
		if (v.id >= dp->next_id)
			dp->next_id = v.id + 1;
	}
	if (!dp->next_id)
		dp->next_id = 1;

	struct fe_table want;
	ft_init(&want, n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct dp_frontend *f = &fe[i];
		size_t ws = ft_slot(&want, key64(&f->key));
		want.keys[ws] = key64(&f->key);
		size_t cs = ft_slot(&cur, key64(&f->key));
		bool exists = cur.keys[cs] != 0;
		struct tl_svc old = exists ? cur.vals[cs] : (struct tl_svc){ 0 };
		struct tl_svc nv = {
			.id = exists ? old.id : dp->next_id++,
			.count = (uint16_t)(f->nbackends > 65535 ? 65535 : f->nbackends),
			.flags = f->flags,
			.affinity_timeout = f->affinity_timeout,
		};
		/* Slots first: a lookup that sees the new count finds every slot filled. */
		for (uint32_t s = 1; s <= nv.count; s++) {
			struct tl_slot_key sk = { .id = nv.id, .slot = s };
			struct tl_backend b;
			bool have = bpf_map_lookup_elem(dp->slots_fd, &sk, &b) == 0;
			if (have && !memcmp(&b, &f->backends[s - 1], sizeof(b)))
				continue;
			if (have && exists && s <= old.count && !backend_in(&b, f)) {
				if (ngone == gcap) {
					gcap = gcap ? gcap * 2 : 64;
					gone = xrealloc(gone, gcap * sizeof(*gone));
				}
				gone[ngone++] = (struct gone){ nv.id, b.addr, b.port };
			}
			if (bpf_map_update_elem(dp->slots_fd, &sk, &f->backends[s - 1], BPF_ANY) < 0)
				rc = -errno;
		}
		if (!exists || memcmp(&old, &nv, sizeof(nv))) {
			if (bpf_map_update_elem(dp->svc_fd, &f->key, &nv, BPF_ANY) < 0)
				rc = -errno;
			if (exists)
				st->changed++;
			else
				st->added++;
		}
		/* Then the slots past the new count. */
		for (uint32_t s = nv.count + 1; exists && s <= old.count; s++) {
			struct tl_slot_key sk = { .id = nv.id, .slot = s };
			struct tl_backend b;
			if (bpf_map_lookup_elem(dp->slots_fd, &sk, &b) == 0 && !backend_in(&b, f)) {
				if (ngone == gcap) {
					gcap = gcap ? gcap * 2 : 64;
					gone = xrealloc(gone, gcap * sizeof(*gone));
				}
				gone[ngone++] = (struct gone){ nv.id, b.addr, b.port };
			}
			bpf_map_delete_elem(dp->slots_fd, &sk);
		}
	}
	/* Frontends no longer wanted: the entry first, then its slots. */
	for (size_t i = 0; i < cur.cap; i++) {
		if (!cur.keys[i] || want.keys[ft_slot(&want, cur.keys[i])])
			continue;
		struct tl_svc_key dk;
		memcpy(&dk, &cur.keys[i], sizeof(dk));
		bpf_map_delete_elem(dp->svc_fd, &dk);
		for (uint32_t s = 1; s <= cur.vals[i].count; s++) {
			struct tl_slot_key sk = { .id = cur.vals[i].id, .slot = s };
			bpf_map_delete_elem(dp->slots_fd, &sk);
		}
		st->removed++;
	}
	st->ct_purged = purge(dp, gone, ngone);
	free(gone);
	ft_free(&cur);
	ft_free(&want);
	return rc;
}

#define SEC_NS 1000000000ull

static uint64_t timeout_ns(const struct tl_ct_key *k, const struct tl_ct *v)
{
	if (v->flags & TL_CT_F_FIN)
		return 10 * SEC_NS;
	if (k->proto == TL_PROTO_TCP)
		return 6 * 3600 * SEC_NS;
	return 120 * SEC_NS;
}

/* An entry goes with its partner (the other direction: the key its rewritten tuple,
 * reversed, names), once both are idle past their timeout. */
size_t dp_ct_gc(struct datapath *dp)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec;
	struct tl_ct_key k, nk, *prev = NULL;
	struct tl_ct v, pv;
	struct tl_ct_key *del = NULL;
	size_t ndel = 0, cap = 0;

	while (bpf_map_get_next_key(dp->ct_fd, prev, &nk) == 0) {
		k = nk;
		prev = &k;
		if (bpf_map_lookup_elem(dp->ct_fd, &k, &v) < 0)
			continue;
		struct tl_ct_key pk = { .saddr = v.daddr, .daddr = v.saddr, .sport = v.dport, .dport = v.sport, .proto = k.proto };
		uint64_t last = v.last_seen, to = timeout_ns(&k, &v);
		if (bpf_map_lookup_elem(dp->ct_fd, &pk, &pv) == 0) {
			if (pv.last_seen > last)
				last = pv.last_seen;
			uint64_t pto = timeout_ns(&pk, &pv);
			if (pto < to)
				to = pto;
		}
		if (now > last && now - last > to) {
			if (ndel + 2 > cap) {
				cap = cap ? cap * 2 : 256;
				del = xrealloc(del, cap * sizeof(*del));
			}
			del[ndel++] = k;
			del[ndel++] = pk;
		}
	}
	size_t n = 0;
	for (size_t i = 0; i < ndel; i++)
		if (bpf_map_delete_elem(dp->ct_fd, &del[i]) == 0)
			n++;
	free(del);
	return n;
}
