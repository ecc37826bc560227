/* The policy model: Namespaces, Pods and the three policy kinds (Kubernetes
 * NetworkPolicy, CiliumNetworkPolicy, Calico GlobalNetworkPolicy) decoded from
 * validated API objects into one rule representation that both the naive evaluator
 * and the compiler read. */
#ifndef TULLE_POLICY_MODEL_H
#define TULLE_POLICY_MODEL_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "../lib/calico_sel.h"
#include "../lib/cidr.h"
#include "../lib/selector.h"

enum { DIR_INGRESS = 0, DIR_EGRESS = 1 };
enum { PROTO_ANY = 0, PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17, PROTO_SCTP = 132 };

struct pm_port {
	char *name;
	uint16_t port;
	uint8_t proto;
};

struct pm_ns {
	char *name;
	json_t *labels;
};

struct pm_pod {
	char *ns, *name;
	int nsi;
	json_t *labels;
	char *sa;           /* spec.serviceAccountName ("default" when absent) */
	json_t *sa_labels;  /* that ServiceAccount's labels (empty when unknown), set by pm_finish */
	struct ipaddr ip;
	bool has_ip;
	struct pm_port *ports;
	size_t nports;
};

/* An endpoint in a probe: a pod, or an address outside every pod. */
struct pm_ep {
	const struct pm_pod *pod;
	const struct pm_ns *ns;
	struct ipaddr ip;
	bool has_ip;
	/* For compiled identities: which policy prefixes hold the endpoint's address
	 * (bit i = prefix i), used instead of ip when set; prefix_id maps a CIDR to its i.
	 * The numbering belongs to the engine, not to the model. */
	const uint64_t *sig;
	int (*prefix_id)(const void *ctx, const struct cidr *c);
	const void *prefix_ctx;
};

enum pm_kind { PM_K8S, PM_CNP, PM_CCNP, PM_GNP };
enum pm_action { PA_ALLOW, PA_DENY, PA_PASS, PA_LOG };

struct pm_portspec {
	uint8_t proto; /* PROTO_ANY matches every protocol */
	uint16_t lo, hi;
	char *name;    /* named port: resolved on the destination pod */
};

enum pm_peer_type { PP_K8S, PP_CILIUM, PP_CIDR, PP_ENTITY, PP_CALICO };

enum { ENT_WORLD = 1, ENT_CLUSTER = 2, ENT_HOST = 4, ENT_REMOTE_NODE = 8, ENT_ALL = 16 };

struct pm_peer {
	enum pm_peer_type type;
	/* PP_K8S: pod and namespace selectors (has_* false = absent). */
	struct selector pod_sel, ns_sel;
	bool has_pod_sel, has_ns_sel;
	/* PP_CILIUM: endpoint selector over Cilium's labels; ns_scope when it does not
	 * name a namespace itself (the policy's namespace), NULL for all. */
	const char *ns_scope;
	/* PP_CIDR; outside_only for Cilium's CIDR rules, which never select a cluster
	 * endpoint (a pod) whatever its address; a Kubernetes ipBlock does. */
	bool outside_only;
	struct cidr cidr;
	struct cidr *except;
	size_t nexcept;
	/* PP_ENTITY */
	unsigned entities;
	/* PP_CALICO: every part given must hold. */
	struct csel *csel, *not_csel, *ns_csel;
	struct cidr *nets, *not_nets;
	size_t nnets, nnot_nets;
	bool has_nets, has_not_nets;
	/* serviceAccounts: pods running as one of the names (any when none) whose
	 * ServiceAccount's labels match sa_sel (any when NULL). */
	bool has_sa;
	char **sa_names;
	size_t nsa_names;
	struct csel *sa_sel;
	/* the rule's ipVersion, as the address family's whole range (0.0.0.0/0 or ::/0) */
	bool has_family;
	struct cidr family;
};

struct pm_http {
	regex_t method, path, host;
	bool has_method, has_path, has_host;
	char **headers; /* "Name" or "Name: value" */
	size_t nheaders;
	char *text;     /* for explanations */
};

struct pm_rule {
	enum pm_action action;
	uint8_t not_proto;   /* Calico notProtocol: never matches this protocol (0 = none) */
	bool deny;           /* a CiliumNetworkPolicy ingressDeny/egressDeny rule */
	bool any_peer;
	struct pm_peer *peers;
	size_t npeers;
	bool any_port;
	struct pm_portspec *ports;
	size_t nports;
	struct pm_portspec *not_ports;
	size_t nnot_ports;
	struct pm_peer *local; /* Calico: constraint on the local endpoint, or NULL */
	struct pm_http *http;  /* L7 rules: the L4 verdict becomes "redirect to proxy" */
	size_t nhttp;
	int index;             /* position in the policy's list, for explanations */
	const char *list;      /* "ingress", "egressDeny", ... */
};

struct pm_policy {
	enum pm_kind kind;
	char *ns, *name;
	struct selector pod_sel;  /* K8s podSelector, Cilium endpointSelector */
	bool cilium_all_ns;       /* CCNP */
	struct csel *sel, *ns_sel, *sa_sel; /* Calico (sa_sel: serviceAccountSelector) */
	bool applies[2];
	struct pm_rule *rules[2];
	size_t nrules[2];
	double order;
	bool has_order;
	char *tier;
};

/* A Calico Tier object. Tiers run by order (lower first; without an order last), then
 * name; the default tier has order 1,000,000 unless a Tier object says otherwise.
 * A tier whose policies apply but do not decide ends with its defaultAction. */
struct pm_tier {
	char *name;
	double order;
	bool has_order;
	bool pass; /* defaultAction: Pass (else Deny) */
};

struct pm_sa {
	char *ns, *name;
	json_t *labels;
};

struct pm_cluster {
	/* How a Kubernetes NetworkPolicy ipBlock treats pods: by address (false: what the
	 * upstream e2e suite expects, as Calico does) or never (true: as Cilium evaluates
	 * it, like its own CIDR rules). Set before adding policies. */
	bool ipblock_outside_only;
	struct pm_tier *tiers;
	size_t ntiers;
	struct pm_sa *sas;
	size_t nsas;
	struct pm_ns *ns;
	size_t nns;
	struct pm_pod *pods;
	size_t npods;
	struct pm_policy *pols;
	size_t npols;
};

/* Adds a validated object (Namespace, Pod, ServiceAccount, Tier or a policy kind;
 * others are ignored).
 * Returns 0 or -EINVAL with *err. */
int pm_add(struct pm_cluster *c, const json_t *obj, char **err);
void pm_free(struct pm_cluster *c);
const struct pm_ns *pm_find_ns(const struct pm_cluster *c, const char *name);
int pm_find_pod(const struct pm_cluster *c, const char *ns, const char *name);
/* Pods may name namespaces that were never declared; those get an empty label set
 * with kubernetes.io/metadata.name, as the API server would give them. Call after
 * adding everything. */
void pm_finish(struct pm_cluster *c);

/* Predicates shared by the evaluator and the compiler. */
bool pm_selects_local(const struct pm_policy *p, const struct pm_ep *ep);
bool pm_peer_matches(const struct pm_policy *p, const struct pm_peer *peer,
		     const struct pm_ep *ep);
bool pm_rule_peer_matches(const struct pm_policy *p, const struct pm_rule *r,
			  const struct pm_ep *ep);
/* Does a rule's port set admit (proto, port) to the destination dst? */
bool pm_rule_port_matches(const struct pm_rule *r, const struct pm_ep *dst, uint8_t proto,
			  uint16_t port);
const char *pm_proto_name(uint8_t proto);
int pm_proto_parse(const char *s, uint8_t *out);
/* An HTTP request against one rule. */
bool pm_http_matches(const struct pm_http *h, const char *method, const char *path,
		     const char **headers, size_t nheaders);
const char *pm_kind_name(enum pm_kind k);
/* A tier's rank key: its order (1,000,000 for an undeclared "default", none for other
 * undeclared tiers) and whether its defaultAction is Pass. */
void pm_tier_info(const struct pm_cluster *c, const char *name, double *order, bool *has_order, bool *pass);
/* ICMP probes carry type and code where TCP/UDP carry a port: type * 256 + code. */
#define PM_ICMP_PORT(type, code) ((uint16_t)((type) * 256 + (code)))

#endif
