/* From API objects to what one node's datapath serves: every Service port becomes
 * frontends (ClusterIPs, NodePorts on every node's address, LoadBalancer ingress IPs,
 * external IPs) with backends taken from the EndpointSlices' ready endpoints. */
#ifndef TULLE_DATAPATH_PLAN_H
#define TULLE_DATAPATH_PLAN_H

#include <jansson.h>

#include "datapath.h"

struct dp_plan {
	struct dp_frontend *fe;
	size_t n, cap;
	char **announce; /* LoadBalancer IPs this node answers for on the fabric (L2, as MetalLB) */
	size_t nannounce;
};

/* services, slices, nodes: list responses ({"items": [...]}). */
void dp_plan_build(struct dp_plan *p, const json_t *services, const json_t *slices, const json_t *nodes,
		   const char *node);
void dp_plan_free(struct dp_plan *p);

#endif
