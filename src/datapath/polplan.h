/* From the compiled policy engine to what one node's policy maps hold: the ipcache
 * (every pod's address, every policy CIDR, the rest of the world, this node) and the
 * policy entries of the identities that have pods on this node. */
#ifndef TULLE_DATAPATH_POLPLAN_H
#define TULLE_DATAPATH_POLPLAN_H

#include <stdbool.h>

#include "../policy/engine.h"
#include "datapath.h"

struct dp_polplan_in {
	const struct pe_engine *e;
	const uint32_t *ident_num;  /* [engine identity] -> datapath identity (>= TL_ID_FIRST) */
	const uint32_t *policy_num; /* [policy index] -> the agent's stable number for it */
	const bool *local;          /* [pod index]: the pod runs on this node */
	const uint32_t *host_addrs; /* this node's addresses, network order */
	size_t nhost;
};

struct dp_polplan {
	struct dp_ip *ips;
	size_t nips, capips;
	struct dp_rule *rules;
	size_t nrules, caprules;
};

void dp_polplan_build(struct dp_polplan *p, const struct dp_polplan_in *in);
void dp_polplan_free(struct dp_polplan *p);

#endif
