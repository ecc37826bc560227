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

struct dp_map_usage {
	const char *name;
	size_t entries, max;
};

/* Entries and capacity of each map (map pressure), and the per-CPU counters summed. */
size_t dp_usage(struct datapath *dp, struct dp_map_usage *out, size_t max);
int dp_metrics(struct datapath *dp, uint64_t out[TL_M_MAX]);
const char *dp_metric_name(int i);

#endif
