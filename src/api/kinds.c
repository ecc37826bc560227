#include "kinds.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/cidr.h"
#include "../lib/selector.h"
#include "formats.h"

typedef void (*kind_check_fn)(struct vctx *c, json_t *obj);

static json_t *get(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---- Namespace ---- */

static void check_namespace(struct vctx *c, json_t *obj)
{
	json_t *md = get(obj, "metadata");
	json_t *labels = get(md, "labels");
	const char *name = str(md, "name");

	(void)c;
	/* Kubernetes labels every namespace with its own name (NamespaceDefaultLabelName). */
	if (name) {
		if (!labels) {
			labels = json_object();
			json_object_set_new(md, "labels", labels);
		}
		json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
	}
	json_t *spec = get(obj, "spec");
	if (!spec) {
		spec = json_object();
		json_object_set_new(obj, "spec", spec);
	}
	if (!get(spec, "finalizers"))
		json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
	json_t *status = get(obj, "status");
	if (!status) {
		status = json_object();
		json_object_set_new(obj, "status", status);
	}
	if (!get(status, "phase"))
		json_object_set_new(status, "phase", json_string("Active"));
}

/* ---- Service ---- */

static void check_selector_labels(struct vctx *c, json_t *spec, const char *path)
{
	const char *k;
	json_t *v;
	json_t *sel = get(spec, "selector");

	json_object_foreach(sel, k, v) {
		char *p = xasprintf("%s[%s]", path, k);
		char *msg = label_key_check(k);
		if (!msg)
			msg = label_value_check(json_string_value(v));
		if (msg)
			v_err(c, sel, k, 0, FERR_INVALID, p, v, "%s", msg);
		free(msg);
		free(p);
	}
}

static void check_service(struct vctx *c, json_t *obj)
{
	json_t *spec = get(obj, "spec");
	size_t i;
	json_t *port;

	if (!spec) {
		spec = json_pack("{s:s,s:s}", "type", "ClusterIP", "sessionAffinity", "None");
		json_object_set_new(obj, "spec", spec);
	}
	const char *type = str(spec, "type");
	const char *cip = str(spec, "clusterIP");
	json_t *ports = get(spec, "ports");
	bool external_name = !strcmp(type, "ExternalName");
	bool headless = cip && !strcmp(cip, "None");
	bool has_nodeports = !strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer");

	check_selector_labels(c, spec, "spec.selector");
	if (external_name) {
		const char *en = str(spec, "externalName");
		if (!en || !*en)
			v_err(c, obj, "spec", 0, FERR_REQUIRED, "spec.externalName", NULL, NULL);
		else if (!is_dns1123_subdomain(en))
			v_err(c, spec, "externalName", 0, FERR_INVALID, "spec.externalName",
			      get(spec, "externalName"),
			      "must be a lowercase RFC 1123 subdomain (a DNS name such as db.example.com)");
		if (cip && *cip)
			v_err(c, spec, "clusterIP", 0, FERR_FORBIDDEN, "spec.clusterIP", NULL,
			      "may not be set for ExternalName services");
	} else if (json_array_size(ports) == 0 && !headless) {
		v_err(c, obj, "spec", 0, FERR_REQUIRED, "spec.ports", NULL, NULL);
	}
	if (cip && *cip && !headless) {
		struct ipaddr ip;
		if (ip_parse(cip, &ip) < 0)
			v_err(c, spec, "clusterIP", 0, FERR_INVALID, "spec.clusterIP", get(spec, "clusterIP"),
			      "must be empty, 'None', or a valid IP address");
	}
	json_array_foreach(ports, i, port) {
		char path[256];
		json_t *name = get(port, "name");
		json_t *np = get(port, "nodePort");
		json_t *p = get(port, "port");
		if (json_array_size(ports) > 1 && (!name || !json_string_length(name))) {
			snprintf(path, sizeof(path), "spec.ports[%zu].name", i);
			v_err(c, ports, NULL, i, FERR_REQUIRED, path, NULL, NULL);
		}
		for (size_t j = 0; j < i; j++) {
			json_t *prev = json_array_get(ports, j);
			if (name && json_string_length(name) && json_equal(get(prev, "name"), name)) {
				snprintf(path, sizeof(path), "spec.ports[%zu].name", i);
				v_err(c, port, "name", 0, FERR_DUPLICATE, path, name, NULL);
			}
		}
		if (np && json_integer_value(np) != 0) {
			snprintf(path, sizeof(path), "spec.ports[%zu].nodePort", i);
			json_int_t n = json_integer_value(np);
			if (!has_nodeports)
				v_err(c, port, "nodePort", 0, FERR_FORBIDDEN, path, NULL,
				      "may not be used when `type` is '%s'", type);
			else if (n < NODEPORT_MIN || n > NODEPORT_MAX)
				v_err(c, port, "nodePort", 0, FERR_INVALID, path, np,
				      "provided port is not in the valid range. The range of valid ports is %d-%d",
				      NODEPORT_MIN, NODEPORT_MAX);
		}
		/* targetPort defaults to port, as in Kubernetes. */
		if (!get(port, "targetPort") && p)
			json_object_set(port, "targetPort", p);
	}
	const char *etp = str(spec, "externalTrafficPolicy");
	if (etp && !has_nodeports)
		v_err(c, spec, "externalTrafficPolicy", 0, FERR_INVALID, "spec.externalTrafficPolicy",
		      get(spec, "externalTrafficPolicy"),
		      "may only be set for externally-accessible services");
	else if (!etp && has_nodeports)
		json_object_set_new(spec, "externalTrafficPolicy", json_string("Cluster"));
	if (!external_name && !get(spec, "internalTrafficPolicy"))
		json_object_set_new(spec, "internalTrafficPolicy", json_string("Cluster"));
	if (!strcmp(str(spec, "sessionAffinity"), "ClientIP")) {
		if (!get(spec, "sessionAffinityConfig"))
			json_object_set_new(spec, "sessionAffinityConfig",
					    json_pack("{s:{s:i}}", "clientIP", "timeoutSeconds", 10800));
	} else if (get(spec, "sessionAffinityConfig")) {
		v_err(c, spec, "sessionAffinityConfig", 0, FERR_FORBIDDEN, "spec.sessionAffinityConfig",
		      NULL, "must not be set when `sessionAffinity` is None");
	}
	json_t *eips = get(spec, "externalIPs");
	json_t *e;
	json_array_foreach(eips, i, e) {
		struct ipaddr ip;
		char path[256];
		snprintf(path, sizeof(path), "spec.externalIPs[%zu]", i);
		if (!json_is_string(e) || ip_parse(json_string_value(e), &ip) < 0)
			v_err(c, eips, NULL, i, FERR_INVALID, path, e, "must be a valid IP address");
	}
	json_t *ranges = get(spec, "loadBalancerSourceRanges");
	json_array_foreach(ranges, i, e) {
		struct cidr cd;
		char path[256];
		snprintf(path, sizeof(path), "spec.loadBalancerSourceRanges[%zu]", i);
		if (!json_is_string(e) || cidr_parse(json_string_value(e), &cd, false) < 0)
			v_err(c, ranges, NULL, i, FERR_INVALID, path, e, "must be a valid CIDR");
	}
	if (!get(obj, "status"))
		json_object_set_new(obj, "status", json_pack("{s:{}}", "loadBalancer"));
}

/* ---- NetworkPolicy ---- */

static void check_np_peers(struct vctx *c, json_t *rule, const char *field, const char *base)
{
	size_t i;
	json_t *peer;
	json_t *peers = get(rule, field);

	json_array_foreach(peers, i, peer) {
		char path[256];
		int kinds = !!get(peer, "podSelector") + !!get(peer, "namespaceSelector");
		json_t *ipb = get(peer, "ipBlock");
		snprintf(path, sizeof(path), "%s.%s[%zu]", base, field, i);
		if (!kinds && !ipb)
			v_err(c, peers, NULL, i, FERR_REQUIRED, path, NULL, "must specify a peer");
		else if (kinds && ipb)
			v_err(c, peers, NULL, i, FERR_FORBIDDEN, path, NULL,
			      "may not specify both ipBlock and another peer");
		if (!ipb)
			continue;
		struct cidr outer, inner;
		if (cidr_parse(str(ipb, "cidr"), &outer, false) < 0)
			continue;
		size_t j;
		json_t *ex;
		json_t *excepts = get(ipb, "except");
		json_array_foreach(excepts, j, ex) {
			char ep[256];
			snprintf(ep, sizeof(ep), "%s.ipBlock.except[%zu]", path, j);
			if (!json_is_string(ex) || cidr_parse(json_string_value(ex), &inner, false) < 0)
				v_err(c, excepts, NULL, j, FERR_INVALID, ep, ex, "must be a valid CIDR");
			else if (!cidr_contains_cidr(&outer, &inner) || inner.prefix == outer.prefix)
				v_err(c, excepts, NULL, j, FERR_INVALID, ep, ex,
				      "must be a strict subset of `cidr`");
		}
	}
}

static void check_np_ports(struct vctx *c, json_t *rule, const char *base)
{
	size_t i;
	json_t *port;
	json_t *ports = get(rule, "ports");

	json_array_foreach(ports, i, port) {
		char path[256];
		json_t *p = get(port, "port"), *end = get(port, "endPort");
		if (!end)
			continue;
		snprintf(path, sizeof(path), "%s.ports[%zu].endPort", base, i);
		if (!p || !json_is_integer(p))
			v_err(c, port, "endPort", 0, FERR_INVALID, path, end,
			      "may not be specified when `port` is non-numeric");
		else if (json_integer_value(end) < json_integer_value(p))
			v_err(c, port, "endPort", 0, FERR_INVALID, path, end,
			      "must be greater than or equal to `port`");
	}
}

static void check_networkpolicy(struct vctx *c, json_t *obj)
{
	json_t *spec = get(obj, "spec");
	size_t i;
	json_t *rule;

	if (!spec) {
		v_err(c, obj, "kind", 0, FERR_REQUIRED, "spec.podSelector", NULL, NULL);
		return;
	}
	json_array_foreach(get(spec, "ingress"), i, rule) {
		char base[256];
		snprintf(base, sizeof(base), "spec.ingress[%zu]", i);
		check_np_peers(c, rule, "from", base);
		check_np_ports(c, rule, base);
	}
	json_array_foreach(get(spec, "egress"), i, rule) {
		char base[256];
		snprintf(base, sizeof(base), "spec.egress[%zu]", i);
		check_np_peers(c, rule, "to", base);
		check_np_ports(c, rule, base);
	}
	/* Upstream defaulting: Ingress always, Egress when egress rules are present. */
	if (!get(spec, "policyTypes")) {
		json_t *types = json_pack("[s]", "Ingress");
		if (json_array_size(get(spec, "egress")))
			json_array_append_new(types, json_string("Egress"));
		json_object_set_new(spec, "policyTypes", types);
	}
}

/* ---- Ingress ---- */

static void check_backend(struct vctx *c, json_t *parent, const char *key, json_t *b,
			  const char *path)
{
	json_t *svc = get(b, "service"), *res = get(b, "resource");

	if (!svc == !res) {
		v_err(c, parent, key, 0, FERR_INVALID, path, NULL,
		      "cannot set both service and resource backends, and one of them is required");
		return;
	}
	if (svc) {
		json_t *port = get(svc, "port");
		bool has_name = get(port, "name") != NULL, has_num = get(port, "number") != NULL;
		char *p = xasprintf("%s.service.port", path);
		if (has_name == has_num)
			v_err(c, svc, "port", 0, FERR_INVALID, p, NULL,
			      "exactly one of `name` or `number` must be set");
		free(p);
	}
}

static void check_ingress(struct vctx *c, json_t *obj)
{
	json_t *spec = get(obj, "spec");
	size_t i, j;
	json_t *rule, *path;

	if (get(spec, "defaultBackend"))
		check_backend(c, spec, "defaultBackend", get(spec, "defaultBackend"), "spec.defaultBackend");
	else if (spec && !json_array_size(get(spec, "rules")))
		v_err(c, obj, "spec", 0, FERR_INVALID, "spec", NULL,
		      "either `defaultBackend` or `rules` must be specified");
	json_array_foreach(get(spec, "rules"), i, rule) {
		json_t *paths = get(get(rule, "http"), "paths");
		json_array_foreach(paths, j, path) {
			char base[256];
			const char *pt = str(path, "pathType");
			const char *pv = str(path, "path");
			snprintf(base, sizeof(base), "spec.rules[%zu].http.paths[%zu]", i, j);
			if (pt && strcmp(pt, "ImplementationSpecific") != 0 && (!pv || pv[0] != '/')) {
				char *p = xasprintf("%s.path", base);
				v_err(c, path, "path", 0, FERR_INVALID, p, get(path, "path"),
				      "must be an absolute path");
				free(p);
			}
			char *bp = xasprintf("%s.backend", base);
			check_backend(c, path, "backend", get(path, "backend"), bp);
			free(bp);
		}
	}
}

/* ---- Deployment ---- */

static void check_deployment(struct vctx *c, json_t *obj)
{
	json_t *spec = get(obj, "spec");
	json_t *sel = get(spec, "selector");
	json_t *tmpl = get(spec, "template");
	json_t *tlabels = get(get(tmpl, "metadata"), "labels");
	struct selector s;

	if (!json_object_size(get(sel, "matchLabels")) && !json_array_size(get(sel, "matchExpressions"))) {
		v_err(c, spec, "selector", 0, FERR_INVALID, "spec.selector", NULL,
		      "empty selector is invalid for deployment");
		return;
	}
	selector_from_json(sel, &s);
	if (!selector_matches_json(&s, tlabels))
		v_err(c, tmpl, "metadata", 0, FERR_INVALID, "spec.template.metadata.labels", tlabels,
		      "`selector` does not match template `labels`");
	selector_free(&s);
	/* Labels on the Deployment are not its pods' labels: a Service or a policy that
	 * selects the label selects no pod (the trap in the chapter's lab 3). Say so. */
	const char *key;
	json_t *v;
	json_object_foreach(get(get(obj, "metadata"), "labels"), key, v) {
		const char *tv = json_string_value(get(tlabels, key));
		if (c->warnings && (!tv || strcmp(tv, json_string_value(v) ?: ""))) {
			char *path = xasprintf("metadata.labels.%s", key);
			ferrs_add(c->warnings, FERR_ADVICE, path, NULL, 0, 0,
				  "the Deployment has this label but its pods (spec.template.metadata.labels) %s; "
				  "Services and network policies select pods by their own labels",
				  tv ? "have another value" : "do not");
			free(path);
		}
	}
	if (!get(spec, "strategy"))
		json_object_set_new(spec, "strategy", json_pack("{s:s}", "type", "RollingUpdate"));
	json_t *st = get(spec, "strategy");
	if (!strcmp(str(st, "type"), "RollingUpdate") && !get(st, "rollingUpdate"))
		json_object_set_new(st, "rollingUpdate",
				    json_pack("{s:s,s:s}", "maxUnavailable", "25%", "maxSurge", "25%"));
}

/* ---- CiliumNetworkPolicy ---- */

static void check_cnp_ports(struct vctx *c, json_t *rule, const char *base)
{
	size_t i, j;
	json_t *pr, *pp;

	json_array_foreach(get(rule, "toPorts"), i, pr) {
		json_t *ports = get(pr, "ports");
		json_array_foreach(ports, j, pp) {
			const char *p = str(pp, "port");
			char path[256];
			snprintf(path, sizeof(path), "%s.toPorts[%zu].ports[%zu].port", base, i, j);
			if (!p)
				continue;
			char *end;
			long n = strtol(p, &end, 10);
			bool numeric = *p && !*end;
			if ((numeric && (n < 0 || n > 65535)) || (!numeric && !is_iana_svc_name(p)))
				v_err(c, pp, "port", 0, FERR_INVALID, path, get(pp, "port"),
				      "must be a port number from 0 to 65535 or a port name");
		}
	}
}

static void check_cnp_rule(struct vctx *c, json_t *rule, const char *base)
{
	static const char *const dirs[] = { "ingress", "ingressDeny", "egress", "egressDeny" };
	size_t i;
	json_t *r;

	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++)
		json_array_foreach(get(rule, dirs[d]), i, r) {
			char b[256];
			snprintf(b, sizeof(b), "%s.%s[%zu]", base, dirs[d], i);
			check_cnp_ports(c, r, b);
		}
	if (!get(rule, "endpointSelector") && !get(rule, "nodeSelector"))
		v_err(c, rule, NULL, 0, FERR_REQUIRED, base, NULL,
		      "one of endpointSelector or nodeSelector is required");
}

static void check_cnp(struct vctx *c, json_t *obj)
{
	json_t *spec = get(obj, "spec"), *specs = get(obj, "specs");
	size_t i;
	json_t *r;

	if (!spec && !json_array_size(specs)) {
		v_err(c, obj, "kind", 0, FERR_REQUIRED, "spec", NULL,
		      "a CiliumNetworkPolicy needs `spec` or `specs` (empty policy)");
		return;
	}
	if (spec)
		check_cnp_rule(c, spec, "spec");
	json_array_foreach(specs, i, r) {
		char b[256];
		snprintf(b, sizeof(b), "specs[%zu]", i);
		check_cnp_rule(c, r, b);
	}
}

/* ---- GlobalNetworkPolicy ---- */

static void check_gnp_nets(struct vctx *c, json_t *ent, const char *base)
{
	static const char *const keys[] = { "nets", "notNets" };
	size_t i;
	json_t *n;

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		json_t *nets = get(ent, keys[k]);
		json_array_foreach(nets, i, n) {
			struct cidr cd;
			char path[256];
			snprintf(path, sizeof(path), "%s.%s[%zu]", base, keys[k], i);
			if (!json_is_string(n) || cidr_parse(json_string_value(n), &cd, true) < 0)
				v_err(c, nets, NULL, i, FERR_INVALID, path, n, "must be a valid CIDR");
		}
	}
}

static void check_gnp(struct vctx *c, json_t *obj)
{
	static const char *const dirs[] = { "ingress", "egress" };
	json_t *spec = get(obj, "spec");
	size_t i;
	json_t *r;

	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++)
		json_array_foreach(get(spec, dirs[d]), i, r) {
			char b[256];
			snprintf(b, sizeof(b), "spec.%s[%zu].source", dirs[d], i);
			check_gnp_nets(c, get(r, "source"), b);
			snprintf(b, sizeof(b), "spec.%s[%zu].destination", dirs[d], i);
			check_gnp_nets(c, get(r, "destination"), b);
		}
	/* Calico's defaulting of types: Ingress, plus Egress when egress rules exist. */
	if (spec && !get(spec, "types")) {
		json_t *types = json_array();
		if (json_array_size(get(spec, "ingress")) || !json_array_size(get(spec, "egress")))
			json_array_append_new(types, json_string("Ingress"));
		if (json_array_size(get(spec, "egress")))
			json_array_append_new(types, json_string("Egress"));
		json_object_set_new(spec, "types", types);
	}
}

/* ---- TrafficSplit ---- */

static void check_trafficsplit(struct vctx *c, json_t *obj)
{
	size_t i;
	json_t *b;
	json_t *backends = get(get(obj, "spec"), "backends");

	json_array_foreach(backends, i, b) {
		json_t *w = get(b, "weight");
		char path[256];
		snprintf(path, sizeof(path), "spec.backends[%zu].weight", i);
		if ((json_is_integer(w) && json_integer_value(w) < 0) ||
		    (json_is_string(w) && json_string_value(w)[0] == '-'))
			v_err(c, b, "weight", 0, FERR_INVALID, path, w, "must be greater than or equal to 0");
	}
}

/* ---- EndpointSlice ---- */

static void check_endpointslice(struct vctx *c, json_t *obj)
{
	const char *type = str(obj, "addressType");
	size_t i, j;
	json_t *ep, *a;

	if (!type || !strcmp(type, "FQDN"))
		return;
	json_array_foreach(get(obj, "endpoints"), i, ep) {
		json_t *addrs = get(ep, "addresses");
		json_array_foreach(addrs, j, a) {
			struct ipaddr ip;
			char path[256];
			snprintf(path, sizeof(path), "endpoints[%zu].addresses[%zu]", i, j);
			if (!json_is_string(a) || ip_parse(json_string_value(a), &ip) < 0 ||
			    (ip.family == 4) != !strcmp(type, "IPv4"))
				v_err(c, addrs, NULL, j, FERR_INVALID, path, a, "must be a valid %s address", type);
		}
	}
}

/* ---- Pod ---- */

static void check_pod(struct vctx *c, json_t *obj)
{
	json_t *containers = get(get(obj, "spec"), "containers");
	size_t i, j;
	json_t *ct, *port;

	/* Port names must be unique across the pod's containers. */
	json_array_foreach(containers, i, ct) {
		json_array_foreach(get(ct, "ports"), j, port) {
			json_t *name = get(port, "name");
			if (!name)
				continue;
			for (size_t i2 = 0; i2 <= i; i2++) {
				json_t *ct2 = json_array_get(containers, i2);
				size_t lim = i2 == i ? j : json_array_size(get(ct2, "ports"));
				for (size_t j2 = 0; j2 < lim; j2++)
					if (json_equal(get(json_array_get(get(ct2, "ports"), j2), "name"), name)) {
						char path[256];
						snprintf(path, sizeof(path), "spec.containers[%zu].ports[%zu].name", i, j);
						v_err(c, port, "name", 0, FERR_DUPLICATE, path, name, NULL);
					}
			}
		}
	}
	if (!get(obj, "status"))
		json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
}

static const struct {
	const char *kind;
	kind_check_fn fn;
} checks[] = {
	{ "Namespace", check_namespace },
	{ "Service", check_service },
	{ "NetworkPolicy", check_networkpolicy },
	{ "Ingress", check_ingress },
	{ "Deployment", check_deployment },
	{ "CiliumNetworkPolicy", check_cnp },
	{ "CiliumClusterwideNetworkPolicy", check_cnp },
	{ "GlobalNetworkPolicy", check_gnp },
	{ "TrafficSplit", check_trafficsplit },
	{ "EndpointSlice", check_endpointslice },
	{ "Pod", check_pod },
};

void kinds_check(struct vctx *c, json_t *obj, const struct skind *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
		if (strcmp(checks[i].kind, k->kind) == 0) {
			checks[i].fn(c, obj);
			return;
		}
}
