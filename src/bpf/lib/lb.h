/* Service load balancing: conntrack first (a tracked connection keeps its backend),
 * then the frontend lookup, backend choice (random slot, or the client's previous
 * backend under ClientIP affinity) and the two conntrack entries that make the
 * reply look as if the service answered. */
#ifndef TL_BPF_LB_H
#define TL_BPF_LB_H

#include "nat.h"

#define NSEC 1000000000ull

enum {
	TL_VERDICT_PASS = 0, /* not ours: let it through untouched */
	TL_VERDICT_DONE,     /* rewritten: continue as the flags say */
	TL_VERDICT_REJECT,   /* a frontend without endpoints */
	TL_VERDICT_DROP,
};

struct lb_result {
	__u32 flags; /* TL_CT_F_* of the entry that applied */
	__be32 saddr, daddr;
	__be16 sport, dport;
	__u8 drop_reason; /* TL_R_* when the verdict is DROP */
};

/* Where this node's hooks are: which side of the world the packet comes from. */
enum tl_hook {
	HOOK_FROM_POD,  /* ingress of a pod's host veth: the pod sent it */
	HOOK_TO_POD,    /* egress of a pod's host veth: only reverse translation */
	HOOK_FROM_NET,  /* ingress of the uplink or the overlay: NodePort, LB, replies */
	HOOK_FROM_HOST, /* egress of tulle_host: the node's own processes */
};

TL_ALWAYS int ct_apply(struct __sk_buff *skb, struct pkt *p, struct lb_result *res)
{
	struct tl_ct *ct = bpf_map_lookup_elem(&tl_ct, &p->t);
	if (!ct)
		return TL_VERDICT_PASS;
	count(TL_M_CT_HIT);
	/* Entries are shared by every CPU the connection's packets hit: write them as
	 * rarely as GC allows (last_seen to the second), never per packet. */
	__u64 now = bpf_ktime_get_ns();
	if (now - ct->last_seen > NSEC)
		ct->last_seen = now;
	if ((p->tcp_flags & (TCP_FIN | TCP_RST)) && !(ct->flags & TL_CT_F_FIN))
		ct->flags |= TL_CT_F_FIN;
	res->flags = ct->flags;
	res->saddr = ct->saddr;
	res->daddr = ct->daddr;
	res->sport = ct->sport;
	res->dport = ct->dport;
	if (nat(skb, p, ct->saddr, ct->sport, ct->daddr, ct->dport) < 0) {
		res->drop_reason = TL_R_INVALID;
		return TL_VERDICT_DROP;
	}
	return TL_VERDICT_DONE;
}

TL_ALWAYS struct tl_backend *pick_backend(struct tl_svc *svc, struct pkt *p, struct tl_backend *out)
{
	struct tl_affinity_key ak = { .svc_id = svc->id, .client = p->t.saddr };
	__u64 now = bpf_ktime_get_ns();

	if (svc->flags & TL_SVC_F_AFFINITY) {
		struct tl_affinity *a = bpf_map_lookup_elem(&tl_affinity, &ak);
		if (a && now - a->last_used < (__u64)svc->affinity_timeout * NSEC) {
			a->last_used = now;
			*out = a->backend;
			return out;
		}
	}
	struct tl_slot_key sk = { .id = svc->id, .slot = bpf_get_prandom_u32() % svc->count + 1 };
	struct tl_backend *b = bpf_map_lookup_elem(&tl_slots, &sk);
	if (!b)
		return NULL;
	*out = *b;
	if (svc->flags & TL_SVC_F_AFFINITY) {
		struct tl_affinity a = { .backend = *b, .last_used = now };
		bpf_map_update_elem(&tl_affinity, &ak, &a, BPF_ANY);
	}
	return out;
}

TL_ALWAYS int ct_put(struct tl_ct_key *k, __be32 saddr, __be16 sport, __be32 daddr, __be16 dport, __u32 flags,
		     __u32 svc_id, __u64 flag)
{
	struct tl_ct v = {
		.saddr = saddr, .daddr = daddr, .sport = sport, .dport = dport,
		.flags = flags, .last_seen = bpf_ktime_get_ns(), .svc_id = svc_id,
	};
	return bpf_map_update_elem(&tl_ct, k, &v, flag);
}

/* A source port for a NodePort connection sent to another node's backend with the
 * node's address as source: the client's own port if it is free, else a few random
 * ones. The reply entry's key is what must be unique. */
TL_ALWAYS int snat_port(struct tl_ct_key *rev, __be16 want)
{
	rev->dport = want;
	if (!bpf_map_lookup_elem(&tl_ct, rev))
		return 0;
#pragma unroll
	for (int i = 0; i < 8; i++) {
		rev->dport = bpf_htons(32768 + bpf_get_prandom_u32() % 28232);
		if (!bpf_map_lookup_elem(&tl_ct, rev))
			return 0;
	}
	return -1;
}

/* A new connection to a frontend: choose, record both directions, rewrite. */
TL_ALWAYS int lb_new(struct __sk_buff *skb, struct pkt *p, enum tl_hook hook, struct lb_result *res)
{
	struct tl_svc_key sk = { .addr = p->t.daddr, .port = p->t.dport, .proto = p->t.proto };
	struct tl_svc *svc = bpf_map_lookup_elem(&tl_svc, &sk);
	if (!svc)
		return TL_VERDICT_PASS;
	if (hook == HOOK_FROM_NET && !(svc->flags & TL_SVC_F_EXTERNAL))
		return TL_VERDICT_PASS; /* ClusterIPs are for pods and nodes */
	if (svc->count == 0)
		return TL_VERDICT_REJECT;
	struct tl_backend b;
	if (!pick_backend(svc, p, &b))
		return TL_VERDICT_REJECT;
	count(TL_M_SVC_NEW);

	struct tl_config *cfg = config();
	__be32 saddr = p->t.saddr;
	__be16 sport = p->t.sport;
	__u32 fwd_flags = 0, rev_flags = TL_CT_F_REPLY;

	if (hook == HOOK_FROM_POD && b.addr == p->t.saddr) {
		/* The pod picked itself: it must see another source, or its stack takes
		 * the packet for its own. */
		saddr = cfg ? cfg->hairpin_ip : bpf_htonl(TL_HAIRPIN_IP_HOST);
		fwd_flags |= TL_CT_F_HAIRPIN;
		rev_flags |= TL_CT_F_HAIRPIN;
	}
	struct tl_ct_key rev = { .saddr = b.addr, .daddr = saddr, .sport = b.port, .dport = sport, .proto = p->t.proto };
	if (hook == HOOK_FROM_NET) {
		/* The reply goes out with the frontend, one of our addresses, as source. */
		rev_flags |= TL_CT_F_FIB;
		if ((svc->flags & TL_SVC_F_SNAT) && !(b.flags & TL_BACKEND_F_LOCAL) && cfg) {
			/* Another node's backend: it must answer through us. */
			saddr = cfg->node_ip;
			rev.daddr = saddr;
			if (snat_port(&rev, sport) < 0) {
				count(TL_M_SNAT_NO_PORT);
				res->drop_reason = TL_R_NAT_NO_PORT;
				return TL_VERDICT_DROP;
			}
			sport = rev.dport;
			fwd_flags |= TL_CT_F_FIB;
		}
	}
	if (hook == HOOK_FROM_HOST)
		fwd_flags |= TL_CT_F_FIB;
	if (ct_put(&rev, p->t.daddr, p->t.dport, p->t.saddr, p->t.sport, rev_flags, svc->id, BPF_ANY) < 0 ||
	    ct_put(&p->t, saddr, sport, b.addr, b.port, fwd_flags, svc->id, BPF_ANY) < 0) {
		res->drop_reason = TL_R_CT_FULL;
		return TL_VERDICT_DROP;
	}
	res->flags = fwd_flags;
	res->saddr = saddr;
	res->daddr = b.addr;
	res->sport = sport;
	res->dport = b.port;
	if (nat(skb, p, saddr, sport, b.addr, b.port) < 0) {
		res->drop_reason = TL_R_INVALID;
		return TL_VERDICT_DROP;
	}
	return TL_VERDICT_DONE;
}

/* Service translation of a parsed packet (PARSE_PORTS): the tracked connection's
 * rewrite, or a new connection balanced; returns a TL_VERDICT_*. */
TL_ALWAYS int lb_translate(struct __sk_buff *skb, struct pkt *p, enum tl_hook hook, struct lb_result *res)
{
	int v = ct_apply(skb, p, res);
	if (v == TL_VERDICT_PASS && hook != HOOK_TO_POD)
		v = lb_new(skb, p, hook, res);
	return v;
}

/* How a translated packet leaves (after policy, at a pod's hook). */
TL_ALWAYS int lb_forward(struct __sk_buff *skb, struct pkt *p, const struct lb_result *res)
{
	if (res->flags & TL_CT_F_HAIRPIN)
		return bounce(skb);
	if (res->flags & TL_CT_F_FIB)
		return fib_forward(skb, p, res->saddr, res->daddr);
	return TC_ACT_OK;
}

/* A parse failure: counted, reported, dropped. */
TL_ALWAYS int drop_malformed(struct __sk_buff *skb, struct pkt *p, __u8 dir)
{
	count(TL_M_DROP_MALFORMED);
	drop_event(skb, p, TL_R_INVALID, dir);
	return TC_ACT_SHOT;
}

/* The whole of service handling at a node hook (uplink, overlay, tulle_host); returns
 * a TC action. */
TL_ALWAYS int lb(struct __sk_buff *skb, enum tl_hook hook)
{
	struct pkt p;
	struct lb_result res = {};
	int v, rc = parse(skb, &p);
	__u8 dir = hook == HOOK_FROM_NET ? TL_DIR_INGRESS : TL_DIR_EGRESS;

	count(TL_M_PACKETS);
	if (rc < 0)
		return drop_malformed(skb, &p, dir);
	if (rc != PARSE_PORTS)
		return TC_ACT_OK;
	v = lb_translate(skb, &p, hook, &res);
	switch (v) {
	case TL_VERDICT_PASS: return TC_ACT_OK;
	case TL_VERDICT_DROP: drop_event(skb, &p, res.drop_reason, dir); return TC_ACT_SHOT;
	case TL_VERDICT_REJECT: drop_event(skb, &p, TL_R_NO_BACKEND, dir); return reject(skb, &p, hook == HOOK_FROM_HOST);
	}
	return lb_forward(skb, &p, &res);
}

#endif
