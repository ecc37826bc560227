/* Policy enforcement at a pod's two hooks: egress where the pod sends (after service
 * translation, so policy sees the backend, as Kubernetes defines it), ingress where a
 * packet reaches the pod. Identities come from the ipcache, verdicts from the policy
 * trie; a connection's first packet is decided and tracked, its later packets and
 * replies pass on the tracked entry, until the agent bumps the policy revision: then
 * each tracked connection is decided again on its next packet, so a policy that now
 * denies it cuts it off. */
#ifndef TL_BPF_POLICY_H
#define TL_BPF_POLICY_H

#include "lb.h"

#define TL_WHY_RULE 1 /* pm_why's WHY_RULE: a deny rule decided, not the end of a tier */

TL_ALWAYS __u32 ipcache_id(__be32 addr, __u32 *flags)
{
	struct tl_ipcache_key k = { .prefixlen = 32, .addr = addr };
	struct tl_ipcache *v = bpf_map_lookup_elem(&tl_ipcache, &k);
	if (!v) {
		*flags = 0;
		return TL_ID_UNKNOWN;
	}
	*flags = v->flags;
	return v->id;
}

/* The verdict for local's side of a connection with peer: the peer's own entries,
 * else the entries for peers no rule names, else (no entry for local in this
 * direction) not isolated. */
TL_ALWAYS void decide(struct flowctx *c, __u32 local, __u32 peer, __u8 dir, int self)
{
	c->verdict = TL_V_FORWARDED;
	c->reason = TL_R_NONE;
	c->policy = 0;
	c->rule = -1;
	c->why = 0;
	/* The node reaches its own pods (probes, the hairpin source), as Cilium's
	 * allow-localhost does. */
	if (dir == TL_DIR_INGRESS && peer == TL_ID_HOST)
		return;
	/* Kubernetes: a pod cannot block access to itself (here: through a Service). */
	if (self)
		return;
	struct tl_pol_key k = { .prefixlen = TL_POL_PREFIX_FULL, .local = local, .peer = peer, .dir = dir,
				.proto = c->t.proto, .port = c->pol_port };
	struct tl_pol *v = bpf_map_lookup_elem(&tl_policy, &k);
	if (!v) {
		k.peer = 0;
		v = bpf_map_lookup_elem(&tl_policy, &k);
	}
	if (!v)
		return;
	c->why = v->why;
	c->rule = v->rule;
	c->policy = v->policy;
	if (v->verdict == TL_POL_ALLOW)
		return;
	c->verdict = TL_V_DROPPED;
	c->reason = v->verdict == TL_POL_REDIRECT ? TL_R_PROXY_UNAVAILABLE
		  : v->why == TL_WHY_RULE ? TL_R_POLICY_DENY : TL_R_POLICY_DENIED;
}

TL_ALWAYS int pct_put(const struct flowctx *c, __u8 hook, __u8 flags, __u32 rev, int swap)
{
	struct tl_pct_key k = { .proto = c->t.proto, .hook = hook };
	if (swap) {
		k.saddr = c->t.daddr;
		k.daddr = c->t.saddr;
		k.sport = c->t.dport;
		k.dport = c->t.sport;
	} else {
		k.saddr = c->t.saddr;
		k.daddr = c->t.daddr;
		k.sport = c->t.sport;
		k.dport = c->t.dport;
	}
	struct tl_pct v = {
		.last_seen = bpf_ktime_get_ns(), .rev = rev, .flags = flags, .dir = c->dir,
		.tcp_seen = swap ? 0 : c->tcp_flags, .svc_addr = c->svc_addr, .svc_port = c->svc_port,
	};
	return bpf_map_update_elem(&tl_pct, &k, &v, BPF_ANY);
}

TL_ALWAYS int deny(struct __sk_buff *skb, struct flowctx *c)
{
	c->type = TL_EV_DROP;
	traffic(skb, c->reason, c->dir);
	emit(skb, c);
	return TC_ACT_SHOT;
}

/* A service's reply reaches a client pod already translated back (the backend's node,
 * or the client's uplink, did it): policy and conntrack see the backend it came from.
 * The connection's forward translation names it. Returns 1 when c changed. */
TL_ALWAYS int untranslate(struct flowctx *c)
{
	struct tl_ct_key fk = { .saddr = c->t.daddr, .daddr = c->t.saddr, .sport = c->t.dport, .dport = c->t.sport,
				.proto = c->t.proto };
	struct tl_ct *f = bpf_map_lookup_elem(&tl_ct, &fk);
	if (!f || (f->flags & TL_CT_F_REPLY))
		return 0;
	c->svc_addr = c->t.saddr;
	c->svc_port = c->t.sport;
	c->t.saddr = f->daddr;
	c->t.sport = f->dport;
	c->t.daddr = f->saddr;
	c->t.dport = f->sport;
	return 1;
}

/* The identities of both ends, from the ipcache, into c as source and destination. */
TL_ALWAYS void identities(struct flowctx *c, __u8 hook, __be32 local_addr, __be32 peer_addr, __u32 *local,
			  __u32 *peer, __u32 *lflags, __u32 *pflags)
{
	*local = ipcache_id(local_addr, lflags);
	*peer = ipcache_id(peer_addr, pflags);
	c->src_id = hook == TL_HOOK_FROM_POD ? *local : *peer;
	c->dst_id = hook == TL_HOOK_FROM_POD ? *peer : *local;
}

/* hook: TL_HOOK_FROM_POD or TL_HOOK_TO_POD; local: the pod's address. Also writes the
 * other hook's entries when both sides are decided here (a hairpin). Returns a TC
 * action: TC_ACT_OK to go on, TC_ACT_SHOT dropped (and reported). */
TL_ALWAYS int enforce(struct __sk_buff *skb, struct flowctx *c, __u8 hook, __be32 local_addr, int both_sides)
{
	struct tl_config *cfg = config();
	__u32 rev = cfg ? cfg->policy_rev : 0, agg = cfg ? cfg->aggregation : TL_AGG_MEDIUM;
	__u32 lflags = 0, pflags = 0, local = 0, peer = 0;
	__be32 peer_addr = hook == TL_HOOK_FROM_POD ? c->t.daddr : c->t.saddr;

	c->dir = hook == TL_HOOK_FROM_POD ? TL_DIR_EGRESS : TL_DIR_INGRESS;
	c->rule = -1;
	/* The tracked connection first: its packets need the identities (two trie
	 * lookups) only to be decided again or reported. */
	struct tl_pct_key k = { .saddr = c->t.saddr, .daddr = c->t.daddr, .sport = c->t.sport, .dport = c->t.dport,
				.proto = c->t.proto, .hook = hook };
	struct tl_pct *e = bpf_map_lookup_elem(&tl_pct, &k);
	if (!e && hook == TL_HOOK_TO_POD && c->t.proto != TL_PROTO_ICMP && untranslate(c)) {
		k.saddr = c->t.saddr;
		k.daddr = c->t.daddr;
		k.sport = c->t.sport;
		k.dport = c->t.dport;
		peer_addr = c->t.saddr;
		e = bpf_map_lookup_elem(&tl_pct, &k);
	}
	if (e && c->t.proto == TL_PROTO_TCP && (c->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
	    (e->flags & TL_PCT_F_FIN)) {
		/* A SYN on a closed connection's tuple (a TIME_WAIT port reused): a new
		 * connection, decided and reported as one. */
		bpf_map_delete_elem(&tl_pct, &k);
		e = NULL;
	}
	if (e) {
		c->is_reply = e->flags & TL_PCT_F_REPLY;
		c->svc_addr = e->svc_addr;
		c->svc_port = e->svc_port;
		if (e->rev != rev) {
			/* Decide the connection again, as its first packet was. */
			identities(c, hook, local_addr, peer_addr, &local, &peer, &lflags, &pflags);
			count(TL_M_POLICY_RECHECK);
			__u8 odir = e->dir;
			if (c->is_reply)
				c->pol_port = c->t.proto == TL_PROTO_ICMP ? bpf_htons(8 << 8) : c->t.sport;
			decide(c, local, peer, odir, peer_addr == local_addr);
			c->dir = hook == TL_HOOK_FROM_POD ? TL_DIR_EGRESS : TL_DIR_INGRESS;
			if (c->verdict == TL_V_DROPPED) {
				bpf_map_delete_elem(&tl_pct, &k);
				return deny(skb, c);
			}
			e->rev = rev;
		}
		__u64 now = bpf_ktime_get_ns();
		if (now - e->last_seen > NSEC)
			e->last_seen = now;
		if ((c->tcp_flags & (TCP_FIN | TCP_RST)) && !(e->flags & TL_PCT_F_FIN))
			e->flags |= TL_PCT_F_FIN;
		c->verdict = TL_V_FORWARDED;
		traffic(skb, TL_R_NONE, c->dir);
		/* A connection's state changes are its SYN, FIN and RST; ACK and PSH ride on
		 * nearly every packet and would make an event of each. */
		__u8 fresh = c->tcp_flags & ~e->tcp_seen & (TCP_SYN | TCP_FIN | TCP_RST);
		if (fresh) {
			e->tcp_seen |= fresh;
			if (agg <= TL_AGG_MEDIUM) {
				if (!local)
					identities(c, hook, local_addr, peer_addr, &local, &peer, &lflags, &pflags);
				c->type = TL_EV_STATE;
				emit(skb, c);
			}
		} else if (agg == TL_AGG_NONE) {
			if (!local)
				identities(c, hook, local_addr, peer_addr, &local, &peer, &lflags, &pflags);
			c->type = TL_EV_PACKET;
			emit(skb, c);
		}
		return TC_ACT_OK;
	}
	identities(c, hook, local_addr, peer_addr, &local, &peer, &lflags, &pflags);
	if (!(lflags & TL_IP_F_LOCAL)) {
		/* The agent writes a pod's identity before the pod runs: a pod without one
		 * was made while the agent was away. Fail closed until it returns. */
		c->verdict = TL_V_DROPPED;
		c->reason = TL_R_UNKNOWN_ENDPOINT;
		return deny(skb, c);
	}
	/* ICMP errors belong to the connection they are about. */
	if (c->related) {
		traffic(skb, TL_R_NONE, c->dir);
		return TC_ACT_OK;
	}
	decide(c, local, peer, c->dir, peer_addr == local_addr);
	if (c->verdict == TL_V_DROPPED)
		return deny(skb, c);
	__u8 other = hook == TL_HOOK_FROM_POD ? TL_HOOK_TO_POD : TL_HOOK_FROM_POD;
	if (pct_put(c, hook, 0, rev, 0) < 0 || pct_put(c, other, TL_PCT_F_REPLY, rev, 1) < 0) {
		c->verdict = TL_V_DROPPED;
		c->reason = TL_R_CT_FULL;
		return deny(skb, c);
	}
	if (both_sides) {
		pct_put(c, other, 0, rev, 0);
		pct_put(c, hook, TL_PCT_F_REPLY, rev, 1);
	}
	c->type = TL_EV_NEW;
	traffic(skb, TL_R_NONE, c->dir);
	emit(skb, c);
	return TC_ACT_OK;
}

TL_ALWAYS void flowctx_init(struct flowctx *c, const struct pkt *p)
{
	__builtin_memset(c, 0, sizeof(*c));
	c->t = p->t;
	c->tcp_flags = p->tcp_flags;
	c->pol_port = p->pol_port;
	c->related = p->icmp_error;
}

/* Ingress of a pod's host veth: what the pod sends. Services first (policy sees the
 * backend), then the pod's egress policy. */
TL_ALWAYS int from_pod(struct __sk_buff *skb)
{
	struct pkt p;
	struct lb_result res = {};
	struct flowctx c;
	int v = TL_VERDICT_PASS, rc = parse(skb, &p);

	count(TL_M_PACKETS);
	if (rc < 0)
		return drop_malformed(skb, &p, TL_DIR_EGRESS);
	if (rc == 0)
		return TC_ACT_OK;
	flowctx_init(&c, &p);
	if (rc == PARSE_PORTS) {
		v = lb_translate(skb, &p, HOOK_FROM_POD, &res);
		if (v == TL_VERDICT_DROP) {
			drop_event(skb, &p, res.drop_reason, TL_DIR_EGRESS);
			return TC_ACT_SHOT;
		}
		if (v == TL_VERDICT_REJECT) {
			drop_event(skb, &p, TL_R_NO_BACKEND, TL_DIR_EGRESS);
			return reject(skb, &p, 0);
		}
		if (v == TL_VERDICT_DONE && !(res.flags & TL_CT_F_REPLY)) {
			/* A balanced connection: policy decides on the backend. */
			c.svc_addr = p.t.daddr;
			c.svc_port = p.t.dport;
			c.t.saddr = res.saddr;
			c.t.sport = res.sport;
			c.t.daddr = res.daddr;
			c.t.dport = res.dport;
			c.pol_port = res.dport;
		}
	}
	if (enforce(skb, &c, TL_HOOK_FROM_POD, p.t.saddr, v == TL_VERDICT_DONE && (res.flags & TL_CT_F_HAIRPIN)) !=
	    TC_ACT_OK)
		return TC_ACT_SHOT;
	if (v != TL_VERDICT_DONE)
		return TC_ACT_OK;
	return lb_forward(skb, &p, &res);
}

/* Egress of a pod's host veth: what reaches the pod. Policy on the tuple as it
 * arrives (a service's reply still has the backend as source), then reverse
 * translation. */
TL_ALWAYS int to_pod(struct __sk_buff *skb)
{
	struct pkt p;
	struct lb_result res = {};
	struct flowctx c;
	int rc = parse(skb, &p);

	count(TL_M_PACKETS);
	if (rc < 0)
		return drop_malformed(skb, &p, TL_DIR_INGRESS);
	if (rc == 0)
		return TC_ACT_OK;
	flowctx_init(&c, &p);
	if (enforce(skb, &c, TL_HOOK_TO_POD, p.t.daddr, 0) != TC_ACT_OK)
		return TC_ACT_SHOT;
	if (rc == PARSE_PORTS && lb_translate(skb, &p, HOOK_TO_POD, &res) == TL_VERDICT_DROP) {
		drop_event(skb, &p, res.drop_reason, TL_DIR_INGRESS);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

#endif
