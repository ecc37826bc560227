/* Verdicts and their explanations, and the evaluation order of policies (tiers,
 * `order`, and where Kubernetes and Cilium policies sit among Calico's). */
#ifndef TULLE_POLICY_VERDICT_H
#define TULLE_POLICY_VERDICT_H

#include "model.h"

enum pm_v { V_ALLOW = 0, V_DENY = 1, V_REDIRECT = 2 };

enum pm_why {
	WHY_NOT_ISOLATED,   /* no policy selects the endpoint for this direction */
	WHY_RULE,           /* a rule decided (policy, list, index) */
	WHY_END_OF_TIER,    /* policies applied, none matched: default deny */
	WHY_PASSED,         /* a Pass rule skipped the remaining tiers: allowed */
	WHY_TIER_PASS,      /* policies applied, none matched, the tier's defaultAction is Pass */
	WHY_SELF,           /* a pod to its own address: never blocked */
};

struct pm_side {
	enum pm_v v;
	enum pm_why why;
	int policy;        /* index into the cluster's policies, or -1 */
	int rule;          /* index within its list, or -1 */
	const char *list;  /* "ingress", "egressDeny", ... */
	const char *tier;  /* tier where the decision fell */
};

/* Kubernetes: "a pod cannot block access to itself". Traffic from a pod to its own
 * address passes at both sides whatever the policies say (it never leaves the pod's
 * network namespace; through a Service the datapath admits it as well). */
static inline bool pm_is_self(int src_pod, int dst_pod)
{
	return src_pod >= 0 && src_pod == dst_pod;
}
#define PM_SELF_SIDE ((struct pm_side){ V_ALLOW, WHY_SELF, -1, -1, NULL, NULL })

/* One evaluation slot: a Calico policy, or the group of Kubernetes and Cilium policies
 * that Calico places in the default tier at order 1000. */
struct pm_slot {
	int policy;      /* -1 for the Kubernetes group */
	const char *tier;
	double order;
	bool has_order;
	int tier_rank;
	bool tier_pass;  /* the tier's defaultAction is Pass */
};

/* The slots that apply to ep in dir, in evaluation order. Caller frees. */
struct pm_slot *pm_slots(const struct pm_cluster *c, const struct pm_ep *ep, int dir, size_t *n);
/* The same, considering only the policies listed (ascending indices): those that can
 * select ep at all. */
struct pm_slot *pm_slots_among(const struct pm_cluster *c, const struct pm_ep *ep, int dir,
			       const int *pols, size_t npols, size_t *n);
/* Whether a Kubernetes/Cilium policy takes part in the group for ep in dir. */
bool pm_in_group(const struct pm_policy *p, const struct pm_ep *ep, int dir);

/* The reference evaluator: the spec read literally, per probe. dst is the destination
 * endpoint (named ports resolve on it). */
struct pm_side pm_naive_side(const struct pm_cluster *c, const struct pm_ep *local,
			     const struct pm_ep *peer, int dir, uint8_t proto, uint16_t port);
/* An HTTP request as the L7 rules see it; headers are "Name: value". */
struct pm_request {
	const char *method, *path;
	const char **headers;
	size_t nheaders;
};

/* An L7 request on a redirected flow: allowed when an HTTP rule of a matching policy
 * admits it. */
bool pm_naive_http(const struct pm_cluster *c, const struct pm_ep *local, const struct pm_ep *peer,
		   int dir, uint8_t proto, uint16_t port, const struct pm_request *req, int *policy, int *rule);
void pm_ep_pod(const struct pm_cluster *c, int pod, struct pm_ep *ep);
void pm_ep_ip(const struct ipaddr *ip, struct pm_ep *ep);
const char *pm_v_name(enum pm_v v);
/* "allowed by NetworkPolicy x/allow-web ingress[0]" and the like. Caller frees. */
char *pm_side_text(const struct pm_cluster *c, const struct pm_side *s, int dir);

#endif
