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

/* Appends one element to a growing array. */
static void push(void *arrp, size_t *n, size_t *cap, size_t size, const void *item)
{
	void **arr = arrp;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*arr = xrealloc(*arr, *cap * size);
	}
	memcpy((char *)*arr + *n * size, item, size);
	(*n)++;
}

typedef bool (*entry_pred)(const void *key, const void *val, void *ctx);

/* Deletes every entry of a hash map the predicate picks. The keys are collected first
 * and deleted after the walk, which deleting under get_next_key would cut short. */
static size_t delete_where(int fd, size_t ksize, size_t vsize, entry_pred pick, void *ctx)
{
	uint8_t k[64], nk[64], v[128];
	void *prev = NULL;
	uint8_t *del = NULL;
	size_t ndel = 0, cap = 0, n = 0;
	if (ksize > sizeof(k) || vsize > sizeof(v))
		return 0;
	while (bpf_map_get_next_key(fd, prev, nk) == 0) {
		memcpy(k, nk, ksize);
		prev = k;
		if (bpf_map_lookup_elem(fd, k, v) == 0 && pick(k, v, ctx))
			push(&del, &ndel, &cap, ksize, k);
	}
	for (size_t i = 0; i < ndel; i++)
		if (bpf_map_delete_elem(fd, del + i * ksize) == 0)
			n++;
	free(del);
	return n;
}

struct gone_set {
	struct gone *g;
	size_t n;
};

static bool in_gone(const struct gone_set *gs, uint32_t id, uint32_t addr, uint16_t port)
{
	struct gone q = { .id = id, .addr = addr, .port = port };
	return bsearch(&q, gs->g, gs->n, sizeof(*gs->g), gone_cmp) != NULL;
}

/* Forward entries rewrite to the backend; reply entries come from it. */
static bool ct_to_gone(const void *key, const void *val, void *ctx)
{
	const struct tl_ct_key *k = key;
	const struct tl_ct *v = val;
	return v->flags & TL_CT_F_REPLY ? in_gone(ctx, v->svc_id, k->saddr, k->sport)
					: in_gone(ctx, v->svc_id, v->daddr, v->dport);
}

static bool affinity_to_gone(const void *key, const void *val, void *ctx)
{
	const struct tl_affinity_key *k = key;
	const struct tl_affinity *v = val;
	return in_gone(ctx, k->svc_id, v->backend.addr, v->backend.port);
}

/* Deletes the conntrack and affinity entries of backends that left their frontend. */
static size_t purge(struct datapath *dp, struct gone *g, size_t ng)
{
	if (!ng)
		return 0;
	qsort(g, ng, sizeof(*g), gone_cmp);
	struct gone_set gs = { g, ng };
	size_t n = delete_where(dp->ct_fd, sizeof(struct tl_ct_key), sizeof(struct tl_ct), ct_to_gone, &gs);
	delete_where(dp->aff_fd, sizeof(struct tl_affinity_key), sizeof(struct tl_affinity), affinity_to_gone, &gs);
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
			if (have && exists && s <= old.count && !backend_in(&b, f))
				push(&gone, &ngone, &gcap, sizeof(*gone), &(struct gone){ nv.id, b.addr, b.port });
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
			if (bpf_map_lookup_elem(dp->slots_fd, &sk, &b) == 0 && !backend_in(&b, f))
				push(&gone, &ngone, &gcap, sizeof(*gone), &(struct gone){ nv.id, b.addr, b.port });
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

struct gc_ctx {
	int fd;
	uint64_t now;
};

/* An entry goes with its partner (the other direction: the key its rewritten tuple,
 * reversed, names) once both are idle past their timeout. The test is symmetric, so
 * the walk picks both. */
static bool ct_expired(const void *key, const void *val, void *ctx)
{
	const struct tl_ct_key *k = key;
	const struct tl_ct *v = val;
	const struct gc_ctx *c = ctx;
	struct tl_ct pv;
	struct tl_ct_key pk = { .saddr = v->daddr, .daddr = v->saddr, .sport = v->dport, .dport = v->sport, .proto = k->proto };
	uint64_t last = v->last_seen, to = timeout_ns(k, v);
	if (bpf_map_lookup_elem(c->fd, &pk, &pv) == 0) {
		if (pv.last_seen > last)
			last = pv.last_seen;
		uint64_t pto = timeout_ns(&pk, &pv);
		if (pto < to)
			to = pto;
	}
	return c->now > last && c->now - last > to;
}

/* Policy conntrack: an entry goes with its partner (the reversed tuple at the pod's
 * other hook) once both are idle, with the same timeouts. */
static bool pct_expired(const void *key, const void *val, void *ctx)
{
	const struct tl_pct_key *k = key;
	const struct tl_pct *v = val;
	const struct gc_ctx *c = ctx;
	struct tl_pct pv;
	struct tl_pct_key pk = { .saddr = k->daddr, .daddr = k->saddr, .sport = k->dport, .dport = k->sport,
				 .proto = k->proto, .hook = k->hook ^ 1 };
	uint64_t last = v->last_seen;
	bool fin = v->flags & TL_PCT_F_FIN;
	if (bpf_map_lookup_elem(c->fd, &pk, &pv) == 0) {
		if (pv.last_seen > last)
			last = pv.last_seen;
		fin |= pv.flags & TL_PCT_F_FIN;
	}
	uint64_t to = fin ? 10 * SEC_NS : k->proto == TL_PROTO_TCP ? 6 * 3600 * SEC_NS : 120 * SEC_NS;
	return c->now > last && c->now - last > to;
}

size_t dp_ct_gc(struct datapath *dp)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	struct gc_ctx c = { dp->ct_fd, (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec };
	size_t n = delete_where(dp->ct_fd, sizeof(struct tl_ct_key), sizeof(struct tl_ct), ct_expired, &c);
	c.fd = dp->pct_fd;
	return n + delete_where(dp->pct_fd, sizeof(struct tl_pct_key), sizeof(struct tl_pct), pct_expired, &c);
}
