/* Rewriting a packet's tuple with checksum fixes, and the ways a rewritten packet
 * leaves: back out the device it came from, or to the next hop by FIB lookup. */
#ifndef TL_BPF_NAT_H
#define TL_BPF_NAT_H

#include "flow.h"

#define IP_SRC_OFF (ETH_HLEN + 12)
#define IP_DST_OFF (ETH_HLEN + 16)
#define IP_CSUM_OFF (ETH_HLEN + 10)

TL_ALWAYS int rewrite_addr(struct __sk_buff *skb, struct pkt *p, __u32 off, __be32 from, __be32 to)
{
	if (from == to)
		return 0;
	if (p->csum_off) {
		__u64 f = BPF_F_PSEUDO_HDR | sizeof(to);
		if (p->t.proto == TL_PROTO_UDP)
			f |= BPF_F_MARK_MANGLED_0;
		if (bpf_l4_csum_replace(skb, p->csum_off, from, to, f) < 0)
			return -1;
	}
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, from, to, sizeof(to)) < 0)
		return -1;
	return bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0);
}

TL_ALWAYS int rewrite_port(struct __sk_buff *skb, struct pkt *p, __u32 off, __be16 from, __be16 to)
{
	if (from == to)
		return 0;
	if (p->csum_off) {
		__u64 f = sizeof(to);
		if (p->t.proto == TL_PROTO_UDP)
			f |= BPF_F_MARK_MANGLED_0;
		if (bpf_l4_csum_replace(skb, p->csum_off, from, to, f) < 0)
			return -1;
	}
	return bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0);
}

/* Rewrites the packet from tuple p->t to (saddr, sport) -> (daddr, dport). */
TL_ALWAYS int nat(struct __sk_buff *skb, struct pkt *p, __be32 saddr, __be16 sport, __be32 daddr, __be16 dport)
{
	if (rewrite_addr(skb, p, IP_SRC_OFF, p->t.saddr, saddr) < 0 ||
	    rewrite_addr(skb, p, IP_DST_OFF, p->t.daddr, daddr) < 0 ||
	    rewrite_port(skb, p, p->l4off, p->t.sport, sport) < 0 ||
	    rewrite_port(skb, p, p->l4off + 2, p->t.dport, dport) < 0)
		return -1;
	return 0;
}

TL_ALWAYS int swap_macs(struct __sk_buff *skb)
{
	__u8 m[12], s[12];
	if (bpf_skb_load_bytes(skb, 0, m, sizeof(m)) < 0)
		return -1;
	__builtin_memcpy(s, m + 6, 6);
	__builtin_memcpy(s + 6, m, 6);
	return bpf_skb_store_bytes(skb, 0, s, sizeof(s), 0);
}

/* Sends the packet back out of the device it arrived on (a pod reaching itself,
 * a reject): the peer sees it as coming from us. */
TL_ALWAYS int bounce(struct __sk_buff *skb)
{
	if (swap_macs(skb) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

#define AF_INET 2

/* Forwards a rewritten packet whose source is now one of this node's addresses (the
 * stack would drop it as a martian if it came in that way): route it ourselves and
 * let the neighbour table fill in the MACs. */
TL_ALWAYS int fib_forward(struct __sk_buff *skb, struct pkt *p, __be32 saddr, __be32 daddr)
{
	struct bpf_fib_lookup fib = {};
	fib.family = AF_INET;
	fib.l4_protocol = p->t.proto;
	/* tot_len 0: the kernel checks the skb itself against the MTU (GSO aware). */
	fib.ipv4_src = saddr;
	fib.ipv4_dst = daddr;
	fib.ifindex = skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	count(TL_M_FIB_FAIL);
	return TC_ACT_OK; /* let the stack try (local delivery, say) */
}

/* ICMP destination unreachable (port) back to the sender, as kube-proxy's REJECT does
 * for a service without endpoints: a TCP client gets ECONNREFUSED at once, a UDP
 * client an error on its next call, never a hang. */
TL_ALWAYS int reject(struct __sk_buff *skb, struct pkt *p, int ingress_to_stack)
{
	struct {
		struct iphdr ip;
		__u8 icmp[8];
		__u8 orig[28];
	} r = {}; /* 56 bytes, no padding: every member is 4-byte aligned */

	count(TL_M_REJECT_NO_ENDPOINTS);
	if (p->l4off != ETH_HLEN + 20)
		return TC_ACT_SHOT; /* IP options: just drop */
	if (bpf_skb_load_bytes(skb, ETH_HLEN, r.orig, sizeof(r.orig)) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(r), 0) < 0)
		return TC_ACT_SHOT;
	r.ip.version = 4;
	r.ip.ihl = 5;
	r.ip.tot_len = bpf_htons(sizeof(r));
	r.ip.ttl = 64;
	r.ip.protocol = IPPROTO_ICMP;
	r.ip.saddr = p->t.daddr;
	r.ip.daddr = p->t.saddr;
	r.icmp[0] = 3; /* destination unreachable */
	r.icmp[1] = 3; /* port unreachable */
	__s64 c = bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0);
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	r.ip.check = ~c & 0xffff;
	c = bpf_csum_diff(NULL, 0, (__be32 *)r.icmp, sizeof(r.icmp) + sizeof(r.orig), 0);
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	__u16 ck = ~c & 0xffff;
	__builtin_memcpy(&r.icmp[2], &ck, 2);
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &r, sizeof(r), 0) < 0)
		return TC_ACT_SHOT;
	if (ingress_to_stack)
		return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
	return bounce(skb);
}

#endif
