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

#define TL_PROTO_ICMP 1
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
	__u32 policy_rev;  /* bumped after each policy sync: tracked connections re-check once */
	__u32 aggregation; /* TL_AGG_*: which packets of a connection make flow events */
};

/* Flow event aggregation, as Cilium's monitor-aggregation: every packet; new
 * connections, TCP flags not seen before in a direction and every drop (the default);
 * or new connections and drops only. */
enum { TL_AGG_NONE = 0, TL_AGG_MEDIUM = 1, TL_AGG_MAX = 2 };

/* ---- policy ---- */

/* Identities: numbers for sets of endpoints no policy can tell apart. The agent
 * numbers the policy engine's identities from TL_ID_FIRST; these are reserved. */
#define TL_ID_UNKNOWN 0 /* not in the ipcache (cannot happen once 0.0.0.0/0 is there) */
#define TL_ID_HOST 1    /* this node: its addresses and the hairpin source */
#define TL_ID_FIRST 256

/* ipcache: LPM trie from address (a pod's /32, a policy CIDR, 0.0.0.0/0) to identity. */
struct tl_ipcache_key {
	__u32 prefixlen;
	__be32 addr;
};

#define TL_IP_F_LOCAL 0x1 /* a pod on this node: its own policy is enforced here */

struct tl_ipcache {
	__u32 id;
	__u32 flags;
};

/* Policy: LPM trie keyed by local identity, peer identity (0 = peers no rule names),
 * direction, protocol and port (a port range is a few prefixes of the port's bits).
 * An entry covering local+peer+direction only (TL_POL_PREFIX_BASE bits) denies
 * protocols the tables do not paint. No entry for the local identity at all: it is not
 * isolated in that direction, everything is allowed. */
struct tl_pol_key {
	__u32 prefixlen;
	__u32 local;
	__u32 peer;
	__u8 dir;   /* TL_DIR_* */
	__u8 proto;
	__be16 port; /* ICMP: type * 256 + code */
};

#define TL_POL_PREFIX_BASE 72 /* local, peer, dir */
#define TL_POL_PREFIX_PROTO 80
#define TL_POL_PREFIX_FULL 96

enum { TL_DIR_INGRESS = 0, TL_DIR_EGRESS = 1 };
enum { TL_POL_ALLOW = 0, TL_POL_DENY = 1, TL_POL_REDIRECT = 2 };

struct tl_pol {
	__u8 verdict; /* TL_POL_* */
	__u8 why;     /* the engine's pm_why */
	__s16 rule;   /* index in the policy's rule list, -1 none */
	__u32 policy; /* the agent's stable number for the deciding policy, 0 none */
};

/* Policy conntrack: every connection a pod makes or receives, keyed by the tuple as
 * it is on the wire at the hook (backend addresses, never a service's) and the hook.
 * A new connection allowed at a pod's hook writes its own entry and the entry its
 * replies will meet at the same pod's other hook. */
enum { TL_HOOK_FROM_POD = 0, TL_HOOK_TO_POD = 1 };

struct tl_pct_key {
	__be32 saddr, daddr;
	__be16 sport, dport;
	__u8 proto;
	__u8 hook;
	__u8 pad[2];
};

#define TL_PCT_F_REPLY 0x1
#define TL_PCT_F_FIN 0x2

struct tl_pct {
	__u64 last_seen;  /* bpf_ktime_get_ns, to the second */
	__u32 rev;        /* policy_rev the verdict was taken under */
	__u8 flags;       /* TL_PCT_F_* */
	__u8 tcp_seen;    /* TCP flags seen in this direction (flow aggregation) */
	__u8 dir;         /* TL_DIR_* of the connection at the pod that wrote it */
	__u8 pad;
	__be32 svc_addr;  /* the service frontend the connection was balanced from, or 0 */
	__be16 svc_port;
	__u16 pad2;
};

/* ---- flows ---- */

enum tl_verdict { TL_V_FORWARDED = 1, TL_V_DROPPED = 2 };

/* Distinct reasons for every drop; they reach flows and metrics. 0 = forwarded. */
enum tl_reason {
	TL_R_NONE = 0,
	TL_R_POLICY_DENIED,      /* isolated, no rule allows it */
	TL_R_POLICY_DENY,        /* a deny rule matched */
	TL_R_PROXY_UNAVAILABLE,  /* an L7 rule wants the node's proxy, which is not running */
	TL_R_UNKNOWN_ENDPOINT,   /* a pod the agent has not written yet: fail closed */
	TL_R_NO_BACKEND,         /* a service frontend without endpoints (rejected) */
	TL_R_INVALID,            /* malformed packet */
	TL_R_NAT_NO_PORT,        /* no source port for NodePort SNAT */
	TL_R_CT_FULL,            /* a conntrack entry could not be written */
	TL_R_MAX,
};

enum tl_flow_type {
	TL_EV_NEW = 1,   /* first packet of a connection */
	TL_EV_STATE,     /* TCP flags not seen before in this direction */
	TL_EV_PACKET,    /* aggregation none: any other packet */
	TL_EV_DROP,
};

struct tl_flow {
	__u64 ts;              /* bpf_ktime_get_ns */
	__be32 saddr, daddr;
	__be16 sport, dport;
	__be32 svc_addr;       /* original destination of a balanced connection, or 0 */
	__be16 svc_port;
	__u8 proto;
	__u8 tcp_flags;
	__u32 src_id, dst_id;
	__u32 ifindex;
	__u32 policy;          /* deciding policy (stable number) or 0 */
	__s16 rule;
	__u8 verdict;          /* TL_V_* */
	__u8 reason;           /* TL_R_* */
	__u8 type;             /* TL_EV_* */
	__u8 dir;              /* TL_DIR_* at the pod's hook */
	__u8 is_reply;
	__u8 why;              /* pm_why of the policy decision */
	__u32 len;             /* packet bytes */
};

/* Packets and bytes per (reason, direction), per CPU: index reason * 2 + dir. */
struct tl_traffic {
	__u64 packets, bytes;
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
	TL_M_FLOWS,        /* flow events written to the ring buffer */
	TL_M_FLOWS_LOST,   /* flow events lost to a full ring buffer */
	TL_M_POLICY_RECHECK, /* tracked connections checked again after a policy change */
	TL_M_MAX,
};

#define TL_HAIRPIN_IP_HOST 0xa9fe2a01u /* 169.254.42.1 */

#endif
