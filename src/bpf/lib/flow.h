/* Flow events and traffic counters. A flow event is written to the ring buffer on a
 * new connection, a TCP flag not seen before in a direction, and every drop (with
 * aggregation "none", on every packet); the agent names the endpoints. An event the
 * ring buffer has no room for is counted as lost, never dropped silently. */
#ifndef TL_BPF_FLOW_H
#define TL_BPF_FLOW_H

#include "common.h"

/* What a pod hook knows about the packet it decides on. */
struct flowctx {
	struct tl_ct_key t;  /* the real tuple: backend addresses, never a service's */
	__be32 svc_addr;     /* the frontend a balanced connection was sent to, or 0 */
	__be16 svc_port;
	__be16 pol_port;     /* the port policy sees */
	__u32 src_id, dst_id;
	__u32 policy;
	__s16 rule;
	__u8 tcp_flags;
	__u8 verdict, reason, type, dir, is_reply, why;
	__u8 related; /* an ICMP error: not a connection of its own */
};

TL_ALWAYS void traffic(struct __sk_buff *skb, __u8 reason, __u8 dir)
{
	__u32 i = (__u32)reason * 2 + (dir & 1);
	struct tl_traffic *t = bpf_map_lookup_elem(&tl_traffic, &i);
	if (t) {
		t->packets++;
		t->bytes += skb->len;
	}
}

TL_ALWAYS void emit(struct __sk_buff *skb, const struct flowctx *c)
{
	struct tl_flow *f = bpf_ringbuf_reserve(&tl_flows, sizeof(*f), 0);
	if (!f) {
		count(TL_M_FLOWS_LOST);
		return;
	}
	f->ts = bpf_ktime_get_ns();
	f->saddr = c->t.saddr;
	f->daddr = c->t.daddr;
	f->sport = c->t.sport;
	f->dport = c->t.dport;
	f->svc_addr = c->svc_addr;
	f->svc_port = c->svc_port;
	f->proto = c->t.proto;
	f->tcp_flags = c->tcp_flags;
	f->src_id = c->src_id;
	f->dst_id = c->dst_id;
	f->ifindex = skb->ifindex;
	f->policy = c->policy;
	f->rule = c->rule;
	f->verdict = c->verdict;
	f->reason = c->reason;
	f->type = c->type;
	f->dir = c->dir;
	f->is_reply = c->is_reply;
	f->why = c->why;
	f->len = skb->len;
	bpf_ringbuf_submit(f, 0);
	count(TL_M_FLOWS);
}

/* A drop outside policy (malformed, no backend, no NAT port): counted and reported. */
TL_ALWAYS void drop_event(struct __sk_buff *skb, const struct pkt *p, __u8 reason, __u8 dir)
{
	struct flowctx c = {};
	c.t = p->t;
	c.tcp_flags = p->tcp_flags;
	c.rule = -1;
	c.verdict = TL_V_DROPPED;
	c.reason = reason;
	c.type = TL_EV_DROP;
	c.dir = dir;
	traffic(skb, reason, dir);
	emit(skb, &c);
}

#endif
