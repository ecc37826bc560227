/* Shared pieces of every tulle program: includes, maps, counters and the packet
 * tuple. Maps are pinned by name, so a restarted agent reuses them (and the
 * connections they track) instead of starting empty. */
#ifndef TL_BPF_COMMON_H
#define TL_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../include/datapath-t.h"

#define TL_ALWAYS static __always_inline

/* Default sizes; the agent sets the real ones (--map-* options) before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tl_svc_key);
	__type(value, struct tl_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct tl_slot_key);
	__type(value, struct tl_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct tl_ct_key);
	__type(value, struct tl_ct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tl_affinity_key);
	__type(value, struct tl_affinity);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TL_M_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_metrics SEC(".maps");

/* ipcache and policy (lib/policy.h); tries are never preallocated. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct tl_ipcache_key);
	__type(value, struct tl_ipcache);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1048576);
	__type(key, struct tl_pol_key);
	__type(value, struct tl_pol);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct tl_pct_key);
	__type(value, struct tl_pct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_pct SEC(".maps");

/* Flow events for the agent (lib/flow.h). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* 16 MB: 200,000 events, about a second of the heaviest load one core of the
	 * agent may be kept from reading (bench/policy_dp_bench.sh). */
	__uint(max_entries, 1 << 24);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TL_R_MAX * 2);
	__type(key, __u32);
	__type(value, struct tl_traffic);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_traffic SEC(".maps");

TL_ALWAYS void count(__u32 what)
{
	__u64 *v = bpf_map_lookup_elem(&tl_metrics, &what);
	if (v)
		*v += 1;
}

TL_ALWAYS struct tl_config *config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&tl_config, &zero);
}

/* Where the parts of an IPv4 packet are, and its tuple. */
struct pkt {
	struct tl_ct_key t;
	__u32 l4off;     /* offset of the transport header */
	__u32 csum_off;  /* offset of the transport checksum, 0 if none to fix */
	__u8 tcp_flags;
	__u8 icmp_error; /* an ICMP error about another packet: it follows that packet */
	__be16 pol_port; /* the port policy sees: the destination port, ICMP type and code */
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Returns 1 for an IPv4 TCP/UDP/SCTP first fragment with its ports, 2 for ICMP (the
 * echo identifier as both ports, so a reply meets its request's entry), 0 for anything
 * else the datapath passes untouched (other protocols: PARSE_OTHER, policy only),
 * -1 for a packet too short for its own headers. */
#define PARSE_PORTS 1
#define PARSE_ICMP 2
#define PARSE_OTHER 3
TL_ALWAYS int parse(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__builtin_memset(p, 0, sizeof(*p));
	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return -1;
	if (ip->ihl < 5)
		return -1;
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0; /* a later fragment has no ports */
	p->t.saddr = ip->saddr;
	p->t.daddr = ip->daddr;
	p->t.proto = ip->protocol;
	if (ip->protocol != TL_PROTO_TCP && ip->protocol != TL_PROTO_UDP && ip->protocol != TL_PROTO_SCTP &&
	    ip->protocol != TL_PROTO_ICMP)
		return PARSE_OTHER;
	__u32 l4off = sizeof(*eth) + ip->ihl * 4;
	__u8 *l4 = data + l4off;
	if ((void *)(l4 + 4) > end)
		return -1;
	p->l4off = l4off;
	if (ip->protocol == TL_PROTO_ICMP) {
		if ((void *)(l4 + 8) > end)
			return -1;
		__u8 type = l4[0];
		p->pol_port = *(__be16 *)l4; /* type, code */
		p->icmp_error = type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
		if (type == 0 || type == 8)
			p->t.sport = p->t.dport = *(__be16 *)(l4 + 4);
		return PARSE_ICMP;
	}
	p->t.sport = *(__be16 *)l4;
	p->t.dport = *(__be16 *)(l4 + 2);
	p->pol_port = p->t.dport;
	if (ip->protocol == TL_PROTO_TCP) {
		if ((void *)(l4 + 20) > end)
			return -1;
		p->tcp_flags = l4[13];
		p->csum_off = l4off + 16;
	} else if (ip->protocol == TL_PROTO_UDP) {
		if ((void *)(l4 + 8) > end)
			return -1;
		p->csum_off = l4off + 6;
	}
	/* SCTP's CRC32c covers no IP pseudo-header: rewriting addresses needs no fix. */
	return PARSE_PORTS;
}

#endif
