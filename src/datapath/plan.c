#define _GNU_SOURCE 1
#include "plan.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

#define J(o, k) json_object_get((o), (k))
#define S(o, k) json_string_value(json_object_get((o), (k)))

static uint8_t proto_num(const char *p)
{
	if (!p || !strcmp(p, "TCP"))
		return TL_PROTO_TCP;
	if (!strcmp(p, "UDP"))
		return TL_PROTO_UDP;
	if (!strcmp(p, "SCTP"))
		return TL_PROTO_SCTP;
	return 0;
}

static bool parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = a.s_addr;
	return true;
}

struct ep {
	uint32_t addr;
	uint16_t port; /* host order */
	const char *node;
};

/* The slices of each service: "namespace/service" -> [slice, ...] (borrowed), so a
 * service's endpoints are found without a pass over every slice. */
static json_t *index_slices(const json_t *slices)
{
	json_t *idx = json_object();
	size_t i;
	json_t *s;

	json_array_foreach(J(slices, "items"), i, s) {
		json_t *md = J(s, "metadata");
		const char *svc = S(J(md, "labels"), "kubernetes.io/service-name");
		if (!svc)
			continue;
		char *key = xasprintf("%s/%s", S(md, "namespace") ?: "", svc);
		json_t *list = json_object_get(idx, key);
		if (!list) {
			list = json_array();
			json_object_set_new(idx, key, list);
		}
		json_array_append(list, s);
		free(key);
	}
	return idx;
}

/* Ready endpoints of one service port, from every slice of the service. A missing
 * ready condition counts as ready, as the EndpointSlice API says. */
static size_t endpoints(const json_t *index, const char *ns, const char *svc, const char *port_name, uint8_t proto,
			struct ep **out)
{
	size_t i, n = 0, cap = 0;
	json_t *s;
	*out = NULL;
	char *key = xasprintf("%s/%s", ns, svc);
	const json_t *mine = json_object_get(index, key);
	free(key);
	json_array_foreach(mine, i, s) {
		json_int_t portnum = -1;
		size_t j;
		json_t *pt;
		json_array_foreach(J(s, "ports"), j, pt)
			if (!strcmp(S(pt, "name") ?: "", port_name) && proto_num(S(pt, "protocol")) == proto)
				portnum = json_integer_value(J(pt, "port"));
		if (portnum <= 0 || portnum > 65535)
			continue;
		json_t *e;
		json_array_foreach(J(s, "endpoints"), j, e) {
			json_t *ready = J(J(e, "conditions"), "ready");
			uint32_t a;
			if (json_is_false(ready) || !parse_ip(json_string_value(json_array_get(J(e, "addresses"), 0)), &a))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				*out = xrealloc(*out, cap * sizeof(**out));
			}
			(*out)[n++] = (struct ep){ a, (uint16_t)portnum, S(e, "nodeName") };
		}
	}
	return n;
}

static int ep_cmp(const void *a, const void *b)
{
	const struct ep *x = a, *y = b;
	if (x->addr != y->addr)
		return ntohl(x->addr) < ntohl(y->addr) ? -1 : 1;
	return (int)x->port - (int)y->port;
}

static void add(struct dp_plan *p, uint32_t addr, uint16_t port, uint8_t proto, uint16_t flags, uint32_t aff,
		const struct ep *eps, size_t neps, const char *only_node, const char *me)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->fe = xrealloc(p->fe, p->cap * sizeof(*p->fe));
	}
	struct dp_frontend *f = &p->fe[p->n++];
	memset(f, 0, sizeof(*f));
	f->key.addr = addr;
	f->key.port = htons(port);
	f->key.proto = proto;
	f->flags = flags;
	f->affinity_timeout = aff;
	f->backends = neps ? xcalloc(neps, sizeof(*f->backends)) : NULL;
	for (size_t i = 0; i < neps; i++) {
		if (only_node && strcmp(eps[i].node ?: "", only_node))
			continue;
		f->backends[f->nbackends++] = (struct tl_backend){
			.addr = eps[i].addr, .port = htons(eps[i].port),
			.flags = eps[i].node && !strcmp(eps[i].node, me) ? TL_BACKEND_F_LOCAL : 0,
		};
	}
}

struct node_addr {
	const char *name;
	uint32_t ip;
};

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node_addr *)a)->name, ((const struct node_addr *)b)->name);
}

static uint32_t fnv(const char *a, const char *b)
{
	uint32_t h = 2166136261u;
	for (const char *s = a; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *s = b; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

void dp_plan_build(struct dp_plan *p, const json_t *services, const json_t *slices, const json_t *nodes, const char *me)
{
	size_t i, nn = 0;
	json_t *o;
	memset(p, 0, sizeof(*p));
	struct node_addr *na = xcalloc(json_array_size(J(nodes, "items")) + 1, sizeof(*na));
	json_array_foreach(J(nodes, "items"), i, o) {
		size_t j;
		json_t *a;
		json_array_foreach(J(J(o, "status"), "addresses"), j, a)
			if (!strcmp(S(a, "type") ?: "", "InternalIP") && parse_ip(S(a, "address"), &na[nn].ip)) {
				na[nn++].name = S(J(o, "metadata"), "name") ?: "";
				break;
			}
	}
	qsort(na, nn, sizeof(*na), node_cmp);

	json_t *index = index_slices(slices);
	json_array_foreach(J(services, "items"), i, o) {
		json_t *md = J(o, "metadata"), *spec = J(o, "spec");
		const char *ns = S(md, "namespace") ?: "", *name = S(md, "name") ?: "";
		const char *type = S(spec, "type") ?: "ClusterIP";
		if (!strcmp(type, "ExternalName"))
			continue;
		bool local = !strcmp(S(spec, "externalTrafficPolicy") ?: "", "Local");
		bool lb = !strcmp(type, "LoadBalancer");
		uint16_t aff_flag = !strcmp(S(spec, "sessionAffinity") ?: "", "ClientIP") ? TL_SVC_F_AFFINITY : 0;
		json_t *tos = J(J(J(spec, "sessionAffinityConfig"), "clientIP"), "timeoutSeconds");
		uint32_t aff = tos ? (uint32_t)json_integer_value(tos) : 10800;
		uint16_t ext = TL_SVC_F_EXTERNAL | (local ? 0 : TL_SVC_F_SNAT) | aff_flag;
		struct ep *all_eps = NULL;
		size_t nall = 0;

		size_t j;
		json_t *port;
		json_array_foreach(J(spec, "ports"), j, port) {
			uint8_t proto = proto_num(S(port, "protocol"));
			json_int_t pnum = json_integer_value(J(port, "port"));
			if (!proto || pnum <= 0 || pnum > 65535)
				continue;
			struct ep *eps;
			size_t ne = endpoints(index, ns, name, S(port, "name") ?: "", proto, &eps);
			if (ne)
				qsort(eps, ne, sizeof(*eps), ep_cmp);
			/* ClusterIPs (none for a headless service). */
			size_t c;
			json_t *cip;
			json_t *cips = J(spec, "clusterIPs");
			if (!json_array_size(cips) && S(spec, "clusterIP")) {
				uint32_t a;
				if (parse_ip(S(spec, "clusterIP"), &a))
					add(p, a, (uint16_t)pnum, proto, aff_flag, aff, eps, ne, NULL, me);
			}
			json_array_foreach(cips, c, cip) {
				uint32_t a;
				if (parse_ip(json_string_value(cip), &a))
					add(p, a, (uint16_t)pnum, proto, aff_flag, aff, eps, ne, NULL, me);
			}
			/* NodePorts on every node's address; under Local, each node's own backends. */
			json_int_t np = json_integer_value(J(port, "nodePort"));
			if (np > 0 && np <= 65535 && (lb || !strcmp(type, "NodePort")))
				for (size_t k = 0; k < nn; k++)
					add(p, na[k].ip, (uint16_t)np, proto, ext, aff, eps, ne, local ? na[k].name : NULL, me);
			/* LoadBalancer ingress and external IPs: whoever receives them serves them. */
			json_t *ing;
			json_array_foreach(J(J(J(o, "status"), "loadBalancer"), "ingress"), c, ing) {
				uint32_t a;
				if (lb && parse_ip(S(ing, "ip"), &a))
					add(p, a, (uint16_t)pnum, proto, ext, aff, eps, ne, local ? me : NULL, me);
			}
			json_array_foreach(J(spec, "externalIPs"), c, cip) {
				uint32_t a;
				if (parse_ip(json_string_value(cip), &a))
					add(p, a, (uint16_t)pnum, proto, ext, aff, eps, ne, local ? me : NULL, me);
			}
			if (!all_eps && ne) {
				all_eps = eps;
				nall = ne;
			} else {
				free(eps);
			}
		}
		/* Who announces a LoadBalancer IP: one node, picked by a hash of the service
		 * among the nodes that can serve it (under Local, those with a ready endpoint). */
		if (lb) {
			const char *cand[256];
			size_t nc = 0;
			for (size_t k = 0; k < nn && nc < 256; k++) {
				bool ok = !local;
				for (size_t e = 0; e < nall && !ok; e++)
					ok = all_eps[e].node && !strcmp(all_eps[e].node, na[k].name);
				if (ok)
					cand[nc++] = na[k].name;
			}
			if (nc && !strcmp(cand[fnv(ns, name) % nc], me)) {
				size_t c;
				json_t *ing;
				json_array_foreach(J(J(J(o, "status"), "loadBalancer"), "ingress"), c, ing)
					if (S(ing, "ip")) {
						p->announce = xrealloc(p->announce, (p->nannounce + 1) * sizeof(char *));
						p->announce[p->nannounce++] = xstrdup(S(ing, "ip"));
					}
			}
		}
		free(all_eps);
	}
	json_decref(index);
	free(na);
}

void dp_plan_free(struct dp_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->fe[i].backends);
	free(p->fe);
	for (size_t i = 0; i < p->nannounce; i++)
		free(p->announce[i]);
	free(p->announce);
	memset(p, 0, sizeof(*p));
}
