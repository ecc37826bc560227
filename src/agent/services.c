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

static struct {
	struct agent_dp_conf c;
	struct datapath *dp;
	char *last_rv;    /* resourceVersions of the lists the maps were built from */
	json_t *announced; /* LoadBalancer IPs on our uplink: ip -> true */
} s;

static void set_sysctl(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "agent %s: cannot set %s: %s\n", s.c.node, path, strerror(errno));
		return;
	}
	fputs(v, f);
	fclose(f);
}

int agent_dp_init(const struct agent_dp_conf *c)
{
	char *err = NULL;
	s.c = *c;
	s.announced = json_object();
	/* Replies of translated connections arrive on other devices than the route back
	 * to their source would use: reverse-path filtering would drop them. */
	set_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0");
	set_sysctl("/proc/sys/net/ipv4/conf/default/rp_filter", "0");
	set_sysctl("/proc/sys/net/ipv4/conf/eth0/rp_filter", "0");

	/* The node's own processes reach ClusterIPs through tulle_host: the service range
	 * routes there, and its egress program translates and forwards. No ARP on it: the
	 * program sends every packet on with real next-hop addresses. */
	const char *add[] = { "ip", "link", "add", HOST_DEV, "type", "veth", "peer", "name", HOST_PEER, NULL };
	agent_run(add, NULL); /* exists after an agent restart */
	const char *up1[] = { "ip", "link", "set", HOST_DEV, "arp", "off", "up", NULL };
	const char *up2[] = { "ip", "link", "set", HOST_PEER, "up", NULL };
	const char *route[] = { "ip", "route", "replace", c->service_cidr, "dev", HOST_DEV, "src", c->node_ip, NULL };
	char *out = NULL;
	if (agent_run(up1, NULL) || agent_run(up2, NULL) || agent_run(route, &out)) {
		fprintf(stderr, "agent %s: cannot set up %s for the service range %s: %s\n", c->node, HOST_DEV,
			c->service_cidr, out ? out : "");
		free(out);
		return -1;
	}
	free(out);

	struct in_addr ip;
	inet_pton(AF_INET, c->node_ip, &ip);
	char *pins = xasprintf("/sys/fs/bpf/tulle/%s/%s", c->cluster, c->node);
	struct dp_opts o = { .pin_dir = pins, .node_ip = ip.s_addr, .ct_max = c->ct_max, .svc_max = c->svc_max };
	int rc = dp_open(&s.dp, &o, &err);
	free(pins);
	if (rc < 0) {
		fprintf(stderr, "agent %s: %s\n", c->node, err);
		free(err);
		return -1;
	}
	if (dp_attach(s.dp, "eth0", DP_FROM_NET, &err) < 0 || dp_attach(s.dp, HOST_DEV, DP_FROM_HOST, &err) < 0 ||
	    (c->vxlan && dp_attach(s.dp, VXLAN_DEV, DP_FROM_NET, &err) < 0)) {
		fprintf(stderr, "agent %s: %s\n", c->node, err);
		free(err);
		return -1;
	}
	return 0;
}

void agent_dp_pod(const char *uid)
{
	char host[16], *err = NULL;
	if (!s.dp)
		return;
	cni_host_ifname(uid, "eth0", host);
	if (dp_attach(s.dp, host, DP_FROM_POD, &err) < 0 || dp_attach(s.dp, host, DP_TO_POD, &err) < 0) {
		fprintf(stderr, "agent %s: %s\n", s.c.node, err);
		free(err);
	}
}

static const char *list_rv(const json_t *l)
{
	return json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion")) ?: "";
}

/* MetalLB's L2 mode: the chosen node owns the address on its uplink, so the fabric
 * resolves it to that node; the others let go. */
static void announce(const struct dp_plan *p)
{
	json_t *want = json_object();
	for (size_t i = 0; i < p->nannounce; i++)
		json_object_set_new(want, p->announce[i], json_true());
	const char *ip;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(s.announced, tmp, ip, v) {
		if (json_object_get(want, ip))
			continue;
		char *a = xasprintf("%s/32", ip);
		const char *del[] = { "ip", "addr", "del", a, "dev", "eth0", NULL };
		agent_run(del, NULL);
		free(a);
		json_object_del(s.announced, ip);
	}
	json_object_foreach(want, ip, v) {
		if (json_object_get(s.announced, ip))
			continue;
		char *a = xasprintf("%s/32", ip);
		const char *add[] = { "ip", "addr", "replace", a, "dev", "eth0", NULL };
		if (agent_run(add, NULL) == 0)
			json_object_set_new(s.announced, ip, json_true());
		free(a);
	}
	json_decref(want);
}

void agent_dp_sync(const json_t *nodes)
{
	int c1 = 0, c2 = 0;
	if (!s.dp || !nodes)
		return;
	json_t *svcs = agent_api("GET", "/api/v1/services", NULL, NULL, &c1);
	json_t *slices = agent_api("GET", "/apis/discovery.k8s.io/v1/endpointslices", NULL, NULL, &c2);
	if (!svcs || !slices || c1 != 200 || c2 != 200)
		goto out;
	/* Only a change costs a pass over the maps. */
	char *rv = xasprintf("%s/%s/%s", list_rv(svcs), list_rv(slices), list_rv(nodes));
	if (s.last_rv && !strcmp(rv, s.last_rv)) {
		free(rv);
		goto out;
	}
	struct dp_plan p;
	struct dp_sync_stats st;
	dp_plan_build(&p, svcs, slices, nodes, s.c.node);
	if (dp_sync(s.dp, p.fe, p.n, &st) < 0) {
		fprintf(stderr, "agent %s: service maps not fully written (map full? see --svc-max)\n", s.c.node);
		free(rv);
		rv = NULL; /* try again next time */
	}
	announce(&p);
	dp_plan_free(&p);
	free(s.last_rv);
	s.last_rv = rv;
out:
	json_decref(svcs);
	json_decref(slices);
}

/* Prometheus text, in the agent's state directory (STATE/metrics.prom): counters and
 * map pressure (entries against capacity). */
static void write_metrics(size_t gc)
{
	struct strbuf sb;
	uint64_t m[TL_M_MAX];
	struct dp_map_usage u[8];
	sb_init(&sb);
	if (dp_metrics(s.dp, m) == 0)
		for (int i = 0; i < TL_M_MAX; i++)
			sb_printf(&sb, "tulle_datapath_%s_total{node=\"%s\"} %llu\n", dp_metric_name(i), s.c.node,
				  (unsigned long long)m[i]);
	size_t n = dp_usage(s.dp, u, 8);
	for (size_t i = 0; i < n; i++) {
		sb_printf(&sb, "tulle_datapath_map_entries{node=\"%s\",map=\"%s\"} %zu\n", s.c.node, u[i].name, u[i].entries);
		sb_printf(&sb, "tulle_datapath_map_capacity{node=\"%s\",map=\"%s\"} %zu\n", s.c.node, u[i].name, u[i].max);
		sb_printf(&sb, "tulle_datapath_map_pressure{node=\"%s\",map=\"%s\"} %.4f\n", s.c.node, u[i].name,
			  u[i].max ? (double)u[i].entries / (double)u[i].max : 0.0);
	}
	sb_printf(&sb, "tulle_datapath_conntrack_gc_deleted{node=\"%s\"} %zu\n", s.c.node, gc);
	char *path = xasprintf("%s/metrics.prom", s.c.state);
	write_file_atomic(path, sb.buf ? sb.buf : "", sb.len, 0644);
	free(path);
	sb_free(&sb);
}

void agent_dp_housekeeping(void)
{
	if (!s.dp)
		return;
	write_metrics(dp_ct_gc(s.dp));
}

void agent_dp_close(void)
{
	/* The programs stay attached and the maps pinned: traffic goes on without us. */
	dp_close(s.dp);
	s.dp = NULL;
	free(s.last_rv);
	json_decref(s.announced);
}
