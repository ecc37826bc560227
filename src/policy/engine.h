/* The compiled policy engine. Endpoints that no policy can tell apart share an
 * identity; for each (local identity, direction) a table maps the peer identity to
 * port intervals with their verdict, so a decision is one hash probe and one binary
 * search, never a walk over policies. The datapath issue loads these tables into eBPF
 * maps (identity by IP through an LPM ipcache, then the policy map). */
#ifndef TULLE_POLICY_ENGINE_H
#define TULLE_POLICY_ENGINE_H

#include "verdict.h"

struct pe_interval {
	uint16_t lo, hi;
	uint8_t proto;
	uint8_t v, why;
	int16_t rule;
	int32_t policy;
	const char *list, *tier;
};

struct pe_ivs {
	struct pe_interval *v;
	size_t n;
};

struct pe_entry {
	uint32_t peer; /* 0 = empty slot */
	const struct pe_ivs *ivs; /* shared: peers hit by the same rules share one vector */
};

struct pe_table {
	bool isolated;
	bool every_pod; /* has an entry per pod identity (named ports on any-peer egress) */
	struct pe_entry *slots;
	size_t cap, n;
	struct pe_ivs dflt; /* peers no rule names */
	struct pe_ivs **owned; /* the distinct vectors the entries point to */
	size_t nowned;
};

struct pe_ident {
	uint32_t id;   /* from 1 */
	int rep;       /* a pod with this identity, or -1 for addresses outside pods */
	uint64_t *sig; /* policy prefixes that hold its addresses */
	char *key;
	size_t members;
	bool dead; /* no pod has it any more; never evaluated again */
};

struct pe_sel {
	uint32_t *ids; /* sorted identities the rule's peers select */
	size_t n;
};

struct pe_engine {
	const struct pm_cluster *c;
	struct cidr *prefixes;
	size_t nprefixes, words;
	struct pe_ident *ids; /* ids[i].id == i + 1 */
	size_t nids;
	uint32_t *pod_ident;
	struct pe_table *tables; /* [2 * (id - 1) + dir] */
	struct pe_sel **sel;     /* sel[policy][2 * rule + dir] flattened per policy */
	size_t *nsel;
	size_t tables_built;     /* for incremental-compile accounting */
	/* Policies that can select a pod of namespace i: its own and the cluster-wide
	 * ones, ascending. */
	int **ns_pols;
	size_t *nns_pols, nns_cached;
};

int pe_compile(struct pe_engine *e, const struct pm_cluster *c, char **err);
void pe_free(struct pe_engine *e);
uint32_t pe_ident_of_pod(const struct pe_engine *e, int pod);
uint32_t pe_ident_of_ip(const struct pe_engine *e, const struct ipaddr *ip);
/* The identity of addresses whose longest policy prefix is prefixes[i] (i ==
 * nprefixes: addresses in no prefix). Prefixes nest or are disjoint, so an LPM
 * ipcache of the prefixes gives every outside address its identity. */
uint32_t pe_ident_of_prefix(const struct pe_engine *e, size_t i);
struct pm_side pe_lookup(const struct pe_engine *e, uint32_t local, int dir, uint32_t peer,
			 uint8_t proto, uint16_t port);
/* After the cluster's policy at index pol changed in place (or was appended), or a pod's
 * labels changed: recompiles only the tables that can differ. Returns the number of
 * tables rebuilt, or -1 when identities changed shape and a full compile ran. */
int pe_policy_changed(struct pe_engine *e, int pol, const struct pm_policy *old);
int pe_pods_changed(struct pe_engine *e);

#endif
