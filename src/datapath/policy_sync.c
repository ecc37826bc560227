/* Keeping the ipcache and policy tries equal to the desired entries. New and changed
 * entries are written first, stale ones deleted after, and the policy revision bumped
 * last: a lookup during the sync sees the old state or the new one for each key, and
 * tracked connections are decided again once the new state is whole. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../lib/util.h"
#include "datapath_int.h"
#include "tl_datapath.skel.h"

static int ip_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct dp_ip *)a)->key, &((const struct dp_ip *)b)->key, sizeof(struct tl_ipcache_key));
}

static int rule_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct dp_rule *)a)->key, &((const struct dp_rule *)b)->key, sizeof(struct tl_pol_key));
}

/* The keys a map holds now, sorted (key_size bytes each). */
static void *map_keys(int fd, size_t key_size, size_t *n, int (*cmp)(const void *, const void *), size_t stride)
{
	char *v = NULL, prev[64], next[64];
	size_t cap = 0;
	void *pp = NULL;

	*n = 0;
	while (bpf_map_get_next_key(fd, pp, next) == 0) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * stride);
		}
		memset(v + *n * stride, 0, stride);
		memcpy(v + *n * stride, next, key_size);
		(*n)++;
		memcpy(prev, next, key_size);
		pp = prev;
	}
	if (*n)
		qsort(v, *n, stride, cmp);
	return v;
}

/* Writes want (sorted here) where the map differs. The entries are key then value,
 * stride bytes apart. */
static int write_wanted(int fd, void *want, size_t n, size_t key_size, size_t val_size, size_t stride,
			int (*cmp)(const void *, const void *), size_t *set)
{
	char cur[64];
	int rc = 0;

	if (n)
		qsort(want, n, stride, cmp);
	for (size_t i = 0; i < n; i++) {
		char *e = (char *)want + i * stride;
		if (bpf_map_lookup_elem(fd, e, cur) == 0 && !memcmp(cur, e + key_size, val_size))
			continue;
		if (bpf_map_update_elem(fd, e, e + key_size, BPF_ANY) < 0)
			rc = -errno;
		else
			(*set)++;
	}
	return rc;
}

/* Deletes the keys the map holds that want (sorted) lacks. */
static void delete_unwanted(int fd, const void *want, size_t n, size_t key_size, size_t stride,
			    int (*cmp)(const void *, const void *), size_t *del)
{
	size_t nhave;
	char *have = map_keys(fd, key_size, &nhave, cmp, stride);
	for (size_t i = 0, j = 0; i < nhave; i++) {
		char *k = have + i * stride;
		while (j < n && cmp((char *)want + j * stride, k) < 0)
			j++;
		if (j < n && !cmp((char *)want + j * stride, k))
			continue;
		if (bpf_map_delete_elem(fd, k) == 0)
			(*del)++;
	}
	free(have);
}

int dp_policy_sync(struct datapath *dp, struct dp_ip *ips, size_t nip, struct dp_rule *rules, size_t nrules,
		   struct dp_policy_stats *st)
{
	struct tl_datapath *s = dp->skel;
	int ip_fd = bpf_map__fd(s->maps.tl_ipcache), pol_fd = bpf_map__fd(s->maps.tl_policy);

	memset(st, 0, sizeof(*st));
	/* The new rules exist before any address points at a new identity; the old ones
	 * go only after no address points at theirs. */
	int rc = write_wanted(pol_fd, rules, nrules, sizeof(rules->key), sizeof(rules->val), sizeof(*rules), rule_cmp,
			      &st->rules_set);
	int rc2 = write_wanted(ip_fd, ips, nip, sizeof(ips->key), sizeof(ips->val), sizeof(*ips), ip_cmp, &st->ips_set);
	delete_unwanted(ip_fd, ips, nip, sizeof(ips->key), sizeof(*ips), ip_cmp, &st->ips_deleted);
	delete_unwanted(pol_fd, rules, nrules, sizeof(rules->key), sizeof(*rules), rule_cmp, &st->rules_deleted);
	uint32_t zero = 0;
	struct tl_config cfg;
	if (bpf_map_lookup_elem(bpf_map__fd(s->maps.tl_config), &zero, &cfg) == 0) {
		cfg.policy_rev++;
		bpf_map_update_elem(bpf_map__fd(s->maps.tl_config), &zero, &cfg, BPF_ANY);
	}
	return rc ? rc : rc2;
}

static uint32_t ipcache_id(int fd, uint32_t addr, uint32_t *flags)
{
	struct tl_ipcache_key k = { .prefixlen = 32, .addr = addr };
	struct tl_ipcache v;

	/* A lookup from userspace on an LPM trie is a longest-prefix match, as in BPF. */
	if (bpf_map_lookup_elem(fd, &k, &v) < 0) {
		*flags = 0;
		return TL_ID_UNKNOWN;
	}
	*flags = v.flags;
	return v.id;
}

int dp_policy_lookup(struct datapath *dp, uint32_t local_addr, uint32_t peer_addr, uint8_t dir, uint8_t proto,
		     uint16_t port, struct dp_policy_answer *out)
{
	struct tl_datapath *s = dp->skel;
	int ip_fd = bpf_map__fd(s->maps.tl_ipcache), pol_fd = bpf_map__fd(s->maps.tl_policy);
	uint32_t zero = 0, peer_flags;
	struct tl_config cfg;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(bpf_map__fd(s->maps.tl_config), &zero, &cfg) == 0)
		out->revision = cfg.policy_rev;
	out->local_id = ipcache_id(ip_fd, local_addr, &out->local_flags);
	out->peer_id = ipcache_id(ip_fd, peer_addr, &peer_flags);
	/* The same order as decide() in bpf/lib/policy.h. */
	if (dir == TL_DIR_INGRESS && out->peer_id == TL_ID_HOST) {
		out->host_peer = true;
		return 0;
	}
	if (local_addr == peer_addr) {
		out->self = true;
		return 0;
	}
	struct tl_pol_key k = { .prefixlen = TL_POL_PREFIX_FULL, .local = out->local_id, .peer = out->peer_id,
				.dir = dir, .proto = proto, .port = htons(port) };
	if (bpf_map_lookup_elem(pol_fd, &k, &out->pol) == 0) {
		out->found = true;
		return 0;
	}
	k.peer = 0;
	if (bpf_map_lookup_elem(pol_fd, &k, &out->pol) == 0)
		out->found = true;
	else if (errno != ENOENT)
		return -errno;
	return 0;
}

int dp_set_aggregation(struct datapath *dp, uint32_t level)
{
	uint32_t zero = 0;
	struct tl_config cfg;
	int fd = bpf_map__fd(dp->skel->maps.tl_config);

	if (level > TL_AGG_MAX || bpf_map_lookup_elem(fd, &zero, &cfg) < 0)
		return -EINVAL;
	cfg.aggregation = level;
	return bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY) < 0 ? -errno : 0;
}

int dp_flows_fd(struct datapath *dp)
{
	return bpf_map__fd(dp->skel->maps.tl_flows);
}

/* Appends the prefixes of the port bits that cover [lo, hi]: at most 30. */
size_t dp_port_prefixes(uint16_t lo, uint16_t hi, uint16_t *port, uint8_t *bits)
{
	size_t n = 0;
	uint32_t at = lo;

	while (at <= hi) {
		uint32_t size = 1, b = 16;
		/* The largest aligned block starting at `at` that stays within hi. */
		while (b > 0 && (at & (size * 2 - 1)) == 0 && at + size * 2 - 1 <= hi) {
			size *= 2;
			b--;
		}
		port[n] = (uint16_t)at;
		bits[n] = (uint8_t)b;
		n++;
		at += size;
	}
	return n;
}
