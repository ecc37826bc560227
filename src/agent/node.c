/* The node's own object and its links to the other nodes: registration and the Ready
 * heartbeat, the VXLAN device and its published MAC, routes to other nodes' pod CIDRs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cidr.h"
#include "../lib/util.h"
#include "agent_int.h"

void node_register(struct agent *a)
{
	char ts[32];
	int code;

	rfc3339_now(ts);
	char *path = xasprintf("/api/v1/nodes/%s", a->node);
	json_t *cur = agent_api(a, "GET", path, NULL, NULL, &code);
	if (code == 404) {
		json_decref(cur);
		json_t *n = json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s}},s:{s:s}}", "apiVersion", "v1", "kind", "Node",
				      "metadata", "name", a->node, "labels", "kubernetes.io/hostname", a->node,
				      "tulle.io/cluster", a->cluster, "spec", "podCIDR", a->pod_cidr);
		cur = agent_api(a, "POST", "/api/v1/nodes", n, NULL, &code);
		json_decref(n);
	}
	json_t *st = json_pack("{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:s,s:s,s:s,s:s}],s:{s:s,s:s,s:s}}}",
			       "apiVersion", "v1", "kind", "Node", "metadata", "name", a->node, "status",
			       "addresses", "type", "InternalIP", "address", a->node_ip, "type", "Hostname", "address", a->node,
			       "conditions", "type", "Ready", "status", "True", "reason", "KubeletReady",
			       "message", "tulle agent is posting ready status", "lastHeartbeatTime", ts,
			       "nodeInfo", "kubeletVersion", "v1.32.0-tulle.0", "containerRuntimeVersion", "tulle://0.1",
			       "operatingSystem", "linux");
	/* The heartbeat goes through a merge patch of the status so it never races the spec. */
	char *spath = xasprintf("/api/v1/nodes/%s/status", a->node);
	if (cur && code < 300) {
		json_object_set(cur, "status", json_object_get(st, "status"));
		json_decref(agent_api(a, "PUT", spath, cur, NULL, &code));
	}
	json_decref(cur);
	json_decref(st);
	free(spath);
	free(path);
}

#define VXLAN_DEV "tulle-vx"

/* The overlay device: VNI 1 over the fabric, no learning (the agents program the
 * forwarding entries), addressed with the first address of the node's pod CIDR, as
 * flannel does, so other nodes can route to it. */
int node_setup_vxlan(struct agent *a)
{
	struct cidr c;
	char *out = NULL;

	if (cidr_parse(a->pod_cidr, &c, false) < 0)
		return -1;
	ip_format(&c.ip, a->vtep, sizeof(a->vtep));
	char addr[80];
	snprintf(addr, sizeof(addr), "%s/32", a->vtep);
	const char *add[] = { "ip", "link", "add", VXLAN_DEV, "type", "vxlan", "id", "1", "dstport", "4789", "local",
			      a->node_ip, "dev", "eth0", "nolearning", NULL };
	agent_run(add, NULL); /* exists already after an agent restart */
	const char *up[] = { "ip", "link", "set", VXLAN_DEV, "mtu", "1450", "up", NULL };
	const char *ad[] = { "ip", "addr", "replace", addr, "dev", VXLAN_DEV, NULL };
	const char *show[] = { "ip", "-o", "link", "show", VXLAN_DEV, NULL };
	if (agent_run(up, NULL) || agent_run(ad, NULL) || agent_run(show, &out)) {
		free(out);
		return -1;
	}
	char *m = strstr(out, "link/ether ");
	if (m)
		snprintf(a->vtep_mac, sizeof(a->vtep_mac), "%.17s", m + 11);
	free(out);
	return m ? 0 : -1;
}

void node_publish(struct agent *a)
{
	int code;
	char *path = xasprintf("/api/v1/nodes/%s", a->node);
	json_t *ann = json_object();
	if (a->vxlan)
		json_object_set_new(ann, "tulle.io/vtep-mac", json_string(a->vtep_mac));
	if (a->node_api_url)
		json_object_set_new(ann, "tulle.io/node-api", json_string(a->node_api_url));
	if (a->observer_url)
		json_object_set_new(ann, "tulle.io/observer", json_string(a->observer_url));
	json_t *patch = json_pack("{s:{s:o}}", "metadata", "annotations", ann);
	json_decref(agent_api(a, "PATCH", path, patch, "application/merge-patch+json", &code));
	json_decref(patch);
	free(path);
}

/* Routes to the other nodes' pod CIDRs: over the overlay (neighbour + forwarding entry
 * for their VTEP, then the route), or straight through their fabric addresses. */
void node_sync_routes(struct agent *a)
{
	const char *key;
	json_t *n;

	json_object_foreach((json_t *)informer_items(a->nodes), key, n) {
		const char *name = json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
		const char *cidr = json_string_value(json_object_get(json_object_get(n, "spec"), "podCIDR"));
		const char *ip = NULL;
		size_t j;
		json_t *ad;
		json_array_foreach(json_object_get(json_object_get(n, "status"), "addresses"), j, ad)
			if (!strcmp(json_string_value(json_object_get(ad, "type")) ?: "", "InternalIP"))
				ip = json_string_value(json_object_get(ad, "address"));
		if (!name || !cidr || !ip || !strcmp(name, a->node))
			continue;
		const char *mac = json_string_value(json_object_get(json_object_get(json_object_get(n, "metadata"),
										       "annotations"), "tulle.io/vtep-mac"));
		if (a->vxlan && !mac)
			continue; /* that node has not published its VTEP yet */
		char *how = a->vxlan ? xasprintf("%s|%s", ip, mac) : xstrdup(ip);
		/* Only a new or moved route costs processes. */
		if (!strcmp(json_string_value(json_object_get(a->routes, cidr)) ?: "", how)) {
			free(how);
			continue;
		}
		int rc;
		if (a->vxlan) {
			struct cidr c;
			char vtep[64];
			cidr_parse(cidr, &c, false);
			ip_format(&c.ip, vtep, sizeof(vtep));
			const char *neigh[] = { "ip", "neigh", "replace", vtep, "lladdr", mac, "dev", VXLAN_DEV, "nud", "permanent", NULL };
			const char *fdb[] = { "bridge", "fdb", "replace", mac, "dev", VXLAN_DEV, "dst", ip, "self", "permanent", NULL };
			const char *route[] = { "ip", "route", "replace", cidr, "via", vtep, "dev", VXLAN_DEV, "onlink", NULL };
			rc = agent_run(neigh, NULL) | agent_run(fdb, NULL) | agent_run(route, NULL);
		} else {
			const char *argv[] = { "ip", "route", "replace", cidr, "via", ip, NULL };
			rc = agent_run(argv, NULL);
		}
		if (rc == 0)
			json_object_set_new(a->routes, cidr, json_string(how));
		free(how);
	}
}
