/* tulle's tc programs, one per attach point; the work is in lib/lb.h (services) and
 * lib/policy.h (the pods' hooks: services, policy, flows). */
#include "lib/policy.h"

char LICENSE[] SEC("license") = "GPL";

/* Ingress of a pod's host-side veth: what the pod sends. */
SEC("tc")
int tl_from_pod(struct __sk_buff *skb)
{
	return from_pod(skb);
}

/* Egress of a pod's host-side veth: what reaches the pod (replies of services). */
SEC("tc")
int tl_to_pod(struct __sk_buff *skb)
{
	return to_pod(skb);
}

/* Ingress of the node's uplink and overlay device: NodePort, LoadBalancer and
 * external IPs from outside, and replies to translated connections. */
SEC("tc")
int tl_from_net(struct __sk_buff *skb)
{
	return lb(skb, HOOK_FROM_NET);
}

/* Egress of tulle_host, where the node's route to the service range points: the
 * node's own processes reaching ClusterIPs. */
SEC("tc")
int tl_from_host(struct __sk_buff *skb)
{
	return lb(skb, HOOK_FROM_HOST);
}
