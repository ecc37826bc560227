/* Types shared by the eBPF datapath (src/bpf) and its userspace side (src/datapath).
 * Every address and port is kept in network byte order, as it is on the wire, so the
 * datapath compares and rewrites without swapping. */
#ifndef TULLE_DATAPATH_T_H
#define TULLE_DATAPATH_T_H

#ifdef __BPF__
#include <linux/types.h>
#else
#include <linux/types.h>
#endif

#define TL_PROTO_TCP 6
#define TL_PROTO_UDP 17
#define TL_PROTO_SCTP 132

/* A service frontend: a ClusterIP, node IP + NodePort, LoadBalancer IP or external
 * IP, with its port and protocol. One hash lookup, whatever the number of services. */
struct tl_svc_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

#define TL_SVC_F_AFFINITY 0x1 /* sessionAffinity: ClientIP */
#define TL_SVC_F_SNAT 0x2     /* external frontend, externalTrafficPolicy Cluster: remote backends see the node */
#define TL_SVC_F_EXTERNAL 0x4 /* NodePort, LoadBalancer or external IP (not a ClusterIP) */

struct tl_svc {
	__u32 id;       /* names this frontend's backend slots */
	__u16 count;    /* backend slots 1..count; 0 = no endpoints: reject */
	__u16 flags;
	__u32 affinity_timeout; /* seconds */
	__u32 pad;
};

struct tl_slot_key {
	__u32 id;
	__u32 slot;
};

#define TL_BACKEND_F_LOCAL 0x1 /* on this node */

struct tl_backend {
	__be32 addr;
	__be16 port;
	__u16 flags;
};

/* Conntrack: one entry per direction of a translated connection, keyed by the tuple as
 * it is on the wire where it is looked up; the value is the tuple to rewrite it to. */
struct tl_ct_key {
	__be32 saddr, daddr;
	__be16 sport, dport;
	__u8 proto;
	__u8 pad[3];
};

#define TL_CT_F_REPLY 0x1   /* the reply direction (reverse NAT) */
#define TL_CT_F_FIB 0x2     /* after rewriting, forward by FIB lookup (the source became ours) */
#define TL_CT_F_HAIRPIN 0x4 /* a pod reaching itself: send it back out the same device */
#define TL_CT_F_FIN 0x8     /* a FIN or RST was seen: short timeout */
#define TL_CT_F_SEEN_REPLY 0x10

struct tl_ct {
	__be32 saddr, daddr;
	__be16 sport, dport;
	__u32 flags;
	__u64 last_seen; /* bpf_ktime_get_ns, to the second */
	__u32 svc_id;
	__u32 pad;
};

struct tl_affinity_key {
	__u32 svc_id;
	__be32 client;
};

struct tl_affinity {
	struct tl_backend backend;
	__u64 last_used; /* bpf_ktime_get_ns */
};

/* Node-wide settings, index 0 of an array map. */
struct tl_config {
	__be32 node_ip;
	__be32 hairpin_ip; /* source a pod sees when it reaches itself through a service */
};

/* Counters (per CPU), indexed by these; each drop reason is distinct. */
enum tl_metric {
	TL_M_PACKETS = 0,
	TL_M_SVC_NEW,      /* new connection to a service frontend */
	TL_M_CT_HIT,       /* packet of a tracked translated connection */
	TL_M_REJECT_NO_ENDPOINTS,
	TL_M_SNAT_NO_PORT, /* no free source port for NodePort SNAT */
	TL_M_DROP_MALFORMED,
	TL_M_FIB_FAIL,
	TL_M_MAX,
};

#define TL_HAIRPIN_IP_HOST 0xa9fe2a01u /* 169.254.42.1 */

#endif
