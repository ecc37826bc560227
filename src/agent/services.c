/* The agent's side of the service datapath: the node's devices and hooks, the
 * service maps kept equal to the API's Services and EndpointSlices, LoadBalancer IPs
 * announced on the fabric, conntrack GC and datapath metrics. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../datapath/datapath.h"
#include "../datapath/plan.h"
#include "../lib/util.h"
#include "agent_int.h"

#define HOST_DEV "tulle_host"
#define HOST_PEER "tulle_net"
#define VXLAN_DEV "tulle-vx"

static void set_sysctl(struct agent *a, const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "agent %s: cannot set %s: %s\n", a->node, path, strerror(errno));
		return;
	}
	fputs(v, f);
	fclose(f);
}

int svc_init(struct agent *a)
{
	char *err = NULL;
	struct agent_svc *s = &a->svc;
	s->announced = json_object();
	/* Replies of translated connections arrive on other devices than the route back
	 * to their source would use: reverse-path filtering would drop them. */
	set_sysctl(a, "/proc/sys/net/ipv4/conf/all/rp_filter", "0");
	set_sysctl(a, "/proc/sys/net/ipv4/conf/default/rp_filter", "0");
	set_sysctl(a, "/proc/sys/net/ipv4/conf/eth0/rp_filter", "0");

	/* The node's own processes reach ClusterIPs through tulle_host: the service range
	 * routes there, and its egress program translates and forwards. No ARP on it: the
	 * program sends every packet on with real next-hop addresses. */
	const char *add[] = { "ip", "link", "add", HOST_DEV, "type", "veth", "peer", "name", HOST_PEER, NULL };
	agent_run(add, NULL); /* exists after an agent restart */
	const char *up1[] = { "ip", "link", "set", HOST_DEV, "arp", "off", "up", NULL };
	const char *up2[] = { "ip", "link", "set", HOST_PEER, "up", NULL };
	const char *route[] = { "ip", "route", "replace", a->service_cidr, "dev", HOST_DEV, "src", a->node_ip, NULL };
	char *out = NULL;
	if (agent_run(up1, NULL) || agent_run(up2, NULL) || agent_run(route, &out)) {
		fprintf(stderr, "agent %s: cannot set up %s for the service range %s: %s\n", a->node, HOST_DEV,
			a->service_cidr, out ? out : "");
		free(out);
		return -1;
	}
	free(out);

	struct in_addr ip;
	inet_pton(AF_INET, a->node_ip, &ip);
	char *pins = xasprintf("/sys/fs/bpf/tulle/%s/%s", a->cluster, a->node);
	struct dp_opts o = { .pin_dir = pins, .node_ip = ip.s_addr, .ct_max = a->ct_max, .svc_max = a->svc_max };
	int rc = dp_open(&s->dp, &o, &err);
	free(pins);
	if (rc < 0) {
		fprintf(stderr, "agent %s: %s\n", a->node, err);
		free(err);
		return -1;
	}
	if (dp_attach(a->svc.dp, "eth0", DP_FROM_NET, &err) < 0 || dp_attach(a->svc.dp, HOST_DEV, DP_FROM_HOST, &err) < 0 ||
	    (a->vxlan && dp_attach(a->svc.dp, VXLAN_DEV, DP_FROM_NET, &err) < 0)) {
		fprintf(stderr, "agent %s: %s\n", a->node, err);
		free(err);
		return -1;
	}
	return 0;
}

void svc_pod(struct agent *a, const char *uid)
{
	char host[16], *err = NULL;
	if (!a->svc.dp)
		return;
	cni_host_ifname(uid, "eth0", host);
	if (dp_attach(a->svc.dp, host, DP_FROM_POD, &err) < 0 || dp_attach(a->svc.dp, host, DP_TO_POD, &err) < 0) {
		fprintf(stderr, "agent %s: %s\n", a->node, err);
		free(err);
	}
}

/* MetalLB's L2 mode: the chosen node owns the address on its uplink, so the fabric
 * resolves it to that node; the others let go. */
static void announce(struct agent *a, const struct dp_plan *p)
{
	json_t *want = json_object();
	for (size_t i = 0; i < p->nannounce; i++)
		json_object_set_new(want, p->announce[i], json_true());
	const char *ip;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(a->svc.announced, tmp, ip, v) {
		if (json_object_get(want, ip))
			continue;
		char *addr = xasprintf("%s/32", ip);
		const char *del[] = { "ip", "addr", "del", addr, "dev", "eth0", NULL };
		agent_run(del, NULL);
		free(addr);
		json_object_del(a->svc.announced, ip);
	}
	json_object_foreach(want, ip, v) {
		if (json_object_get(a->svc.announced, ip))
			continue;
		char *addr = xasprintf("%s/32", ip);
		const char *add[] = { "ip", "addr", "replace", addr, "dev", "eth0", NULL };
		if (agent_run(add, NULL) == 0)
			json_object_set_new(a->svc.announced, ip, json_true());
		free(addr);
	}
	json_decref(want);
}

void svc_sync(struct agent *a)
{
	struct informer *inf[3] = { a->services, a->slices, a->nodes };
	unsigned long gen[3];

	if (!a->svc.dp)
		return;
	for (int i = 0; i < 3; i++) {
		if (!inf[i] || !informer_synced(inf[i]))
			return;
		gen[i] = informer_generation(inf[i]);
	}
	/* Only a change costs a pass over the maps. */
	if (a->svc.built_ok && !memcmp(gen, a->svc.built, sizeof(gen)))
		return;
	json_t *svcs = informer_list(a->services), *slices = informer_list(a->slices), *nodes = informer_list(a->nodes);
	struct dp_plan p;
	struct dp_sync_stats st;
	dp_plan_build(&p, svcs, slices, nodes, a->node);
	/* A failed write is tried again on the next change or tick. */
	a->svc.built_ok = dp_sync(a->svc.dp, p.fe, p.n, &st) == 0;
	if (!a->svc.built_ok)
		fprintf(stderr, "agent %s: service maps not fully written (map full? see --svc-max)\n", a->node);
	memcpy(a->svc.built, gen, sizeof(gen));
	announce(a, &p);
	dp_plan_free(&p);
	json_decref(svcs);
	json_decref(slices);
	json_decref(nodes);
}

/* Prometheus text, also in the agent's state directory (STATE/metrics.prom), for
 * readers without a socket. */
static void write_metrics(struct agent *a)
{
	struct strbuf sb;
	sb_init(&sb);
	obs_metrics_text(a, &sb);
	char *path = xasprintf("%s/metrics.prom", a->state);
	write_file_atomic(path, sb.buf ? sb.buf : "", sb.len, 0644);
	free(path);
	sb_free(&sb);
}

void svc_housekeeping(struct agent *a)
{
	if (!a->svc.dp)
		return;
	a->svc.gc_deleted += dp_ct_gc(a->svc.dp);
	write_metrics(a);
}

void svc_close(struct agent *a)
{
	/* The programs stay attached and the maps pinned: traffic goes on without us. */
	dp_close(a->svc.dp);
	a->svc.dp = NULL;
	json_decref(a->svc.announced);
}
