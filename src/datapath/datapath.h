/* The userspace side of the eBPF datapath: loading the programs with their maps
 * pinned per node, attaching them to tc hooks, and keeping the service maps equal to
 * a desired state without ever flushing them. */
#ifndef TULLE_DATAPATH_H
#define TULLE_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/include/datapath-t.h"

struct datapath;

struct dp_opts {
	const char *pin_dir;   /* bpffs directory for this node's maps; NULL: not pinned (tests) */
	uint32_t svc_max, slots_max, ct_max, affinity_max; /* 0: the programs' defaults */
	uint32_t node_ip;      /* network order */
};

enum dp_hook {
	DP_FROM_POD,  /* ingress of a pod's host veth */
	DP_TO_POD,    /* egress of a pod's host veth */
	DP_FROM_NET,  /* ingress of the uplink and the overlay */
	DP_FROM_HOST, /* egress of tulle_host */
};

/* Mounts bpffs if it is missing, loads the programs (reusing maps already pinned in
 * pin_dir, so tracked connections survive), sets the node config. */
int dp_open(struct datapath **out, const struct dp_opts *o, char **err);
void dp_close(struct datapath *dp);
int dp_prog_fd(struct datapath *dp, enum dp_hook h);

/* Attaches (or atomically replaces) the hook's program on a device of the current
 * network namespace. */
int dp_attach(struct datapath *dp, const char *ifname, enum dp_hook h, char **err);

/* One frontend as the datapath should serve it. */
struct dp_frontend {
	struct tl_svc_key key;
	uint16_t flags;            /* TL_SVC_F_* */
	uint32_t affinity_timeout; /* seconds */
	struct tl_backend *backends;
	size_t nbackends;
};

struct dp_sync_stats {
	size_t added, changed, removed;  /* frontends */
	size_t ct_purged;                /* conntrack entries of backends that left */
};

/* Makes the service maps hold exactly these frontends. Existing frontends keep their
 * ids; slots are written before the count grows and trimmed after it shrinks, so a
 * concurrent lookup never sees a missing slot. Connections to backends that left a
 * frontend lose their conntrack entries (the next packet is balanced again and the
 * old connection is refused by the new backend: it ends, it does not hang). */
int dp_sync(struct datapath *dp, const struct dp_frontend *fe, size_t n, struct dp_sync_stats *st);

/* Removes expired conntrack entries (both directions) and returns how many. */
size_t dp_ct_gc(struct datapath *dp);

/* ---- policy (policy_sync.c) ---- */

struct dp_ip {
	struct tl_ipcache_key key;
	struct tl_ipcache val;
};

struct dp_rule {
	struct tl_pol_key key;
	struct tl_pol val;
};

struct dp_policy_stats {
	size_t ips_set, ips_deleted, rules_set, rules_deleted;
};

/* Makes the ipcache and policy tries hold exactly these entries (sorting the arrays):
 * new rules first, then addresses, then stale rules go; then the policy revision is
 * bumped so tracked connections are decided again on their next packet. */
int dp_policy_sync(struct datapath *dp, struct dp_ip *ips, size_t nip, struct dp_rule *rules, size_t nrules,
		   struct dp_policy_stats *st);
/* The prefixes of a port range: writes at most 32 into port/bits, returns how many. */
size_t dp_port_prefixes(uint16_t lo, uint16_t hi, uint16_t *port, uint8_t *bits);
/* What the maps hold for a new connection at one of a local pod's hooks, looked up
 * as the datapath's decide() does (policy trace --live). local_flags has
 * TL_IP_F_LOCAL when the pod is known here; found: an entry decided (else the pod is
 * not isolated in this direction; or the peer is this node, or the pod itself, both
 * always admitted). */
struct dp_policy_answer {
	uint32_t local_id, local_flags, peer_id, revision;
	bool found, host_peer, self;
	struct tl_pol pol;
};
/* Addresses in network order, port in host order (ICMP: type * 256 + code). */
int dp_policy_lookup(struct datapath *dp, uint32_t local_addr, uint32_t peer_addr, uint8_t dir, uint8_t proto,
		     uint16_t port, struct dp_policy_answer *out);
/* TL_AGG_* */
int dp_set_aggregation(struct datapath *dp, uint32_t level);
/* The flow events' ring buffer. */
int dp_flows_fd(struct datapath *dp);
/* Packets and bytes per (reason, direction), summed over CPUs: out[reason * 2 + dir]. */
int dp_traffic(struct datapath *dp, struct tl_traffic out[TL_R_MAX * 2]);
/* Hubble's names for drop reasons ("POLICY_DENIED", ...). */
const char *dp_reason_name(int r);

struct dp_map_usage {
	const char *name;
	size_t entries, max;
};

/* Entries and capacity of each map (map pressure), and the per-CPU counters summed. */
size_t dp_usage(struct datapath *dp, struct dp_map_usage *out, size_t max);
int dp_metrics(struct datapath *dp, uint64_t out[TL_M_MAX]);
const char *dp_metric_name(int i);

#endif
