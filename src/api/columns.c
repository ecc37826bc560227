#include "columns.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../lib/selector.h"
#include "../lib/util.h"

static const json_t *at(const json_t *o, const char *path)
{
	char *copy = xstrdup(path), *save = NULL;
	const json_t *v = o;

	for (char *t = strtok_r(copy, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
		v = json_object_get(v, t);
	free(copy);
	return v;
}

static char *text(const json_t *v, const char *dflt)
{
	if (!v || json_is_null(v))
		return xstrdup(dflt);
	if (json_is_string(v))
		return xstrdup(json_string_value(v)[0] ? json_string_value(v) : dflt);
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

char *human_age(const char *ts)
{
	struct tm tm = { 0 };

	if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
		return xstrdup("<unknown>");
	long long s = (long long)(time(NULL) - timegm(&tm));
	if (s < 0)
		s = 0;
	long long m = s / 60, h = s / 3600, d = h / 24, y = d / 365;
	if (s < 120)
		return xasprintf("%llds", s);
	if (m < 10)
		return s % 60 ? xasprintf("%lldm%llds", m, s % 60) : xasprintf("%lldm", m);
	if (h < 3)
		return xasprintf("%lldm", m);
	if (h < 8)
		return m % 60 ? xasprintf("%lldh%lldm", h, m % 60) : xasprintf("%lldh", h);
	if (h < 48)
		return xasprintf("%lldh", h);
	if (h < 24 * 8)
		return h % 24 ? xasprintf("%lldd%lldh", d, h % 24) : xasprintf("%lldd", d);
	if (d < 365 * 2)
		return xasprintf("%lldd", d);
	if (y < 8)
		return d % 365 ? xasprintf("%lldy%lldd", y, d % 365) : xasprintf("%lldy", y);
	return xasprintf("%lldy", y);
}

/* The buffer's text, or dflt when nothing was written. */
static char *text_or(struct strbuf *sb, const char *dflt)
{
	if (sb->len)
		return sb_detach(sb);
	sb_free(sb);
	return xstrdup(dflt);
}

#define PATH_COL(fn, path, dflt) \
	static char *fn(const json_t *o) { return text(at(o, path), dflt); }

PATH_COL(svc_type, "spec.type", "ClusterIP")
PATH_COL(svc_cluster_ip, "spec.clusterIP", "<none>")
PATH_COL(ns_status, "status.phase", "Active")
PATH_COL(pod_ip, "status.podIP", "<none>")
PATH_COL(pod_node, "spec.nodeName", "<none>")
PATH_COL(ing_class, "spec.ingressClassName", "<none>")
PATH_COL(secret_type, "type", "Opaque")
PATH_COL(eps_type, "addressType", "<unset>")
PATH_COL(gw_class, "spec.gatewayClassName", "<none>")
PATH_COL(gc_controller, "spec.controllerName", "<none>")
PATH_COL(ts_service, "spec.service", "<none>")
PATH_COL(dr_host, "spec.host", "<none>")
PATH_COL(cert_secret, "spec.secretName", "<none>")
PATH_COL(ic_controller, "spec.controller", "<none>")

static char *svc_external_ip(const json_t *o)
{
	const char *type = json_string_value(at(o, "spec.type"));
	const json_t *eips = at(o, "spec.externalIPs");
	const json_t *lb = at(o, "status.loadBalancer.ingress");
	struct strbuf sb;
	size_t i;
	json_t *v;

	if (type && !strcmp(type, "ExternalName"))
		return text(at(o, "spec.externalName"), "<none>");
	sb_init(&sb);
	json_array_foreach(lb, i, v) {
		const char *ip = json_string_value(json_object_get(v, "ip"));
		if (!ip)
			ip = json_string_value(json_object_get(v, "hostname"));
		if (ip)
			sb_printf(&sb, "%s%s", sb.len ? "," : "", ip);
	}
	json_array_foreach(eips, i, v)
		sb_printf(&sb, "%s%s", sb.len ? "," : "", json_string_value(v));
	return text_or(&sb, type && !strcmp(type, "LoadBalancer") ? "<pending>" : "<none>");
}

static char *svc_ports(const json_t *o)
{
	struct strbuf sb;
	size_t i;
	json_t *p;

	sb_init(&sb);
	json_array_foreach(at(o, "spec.ports"), i, p) {
		json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
		sb_printf(&sb, "%s%lld", i ? "," : "", (long long)json_integer_value(json_object_get(p, "port")));
		if (np)
			sb_printf(&sb, ":%lld", (long long)np);
		sb_printf(&sb, "/%s", json_string_value(json_object_get(p, "protocol")) ?: "TCP");
	}
	return text_or(&sb, "<none>");
}

static char *svc_selector(const json_t *o)
{
	struct strbuf sb;
	const char *k;
	json_t *v;

	sb_init(&sb);
	json_object_foreach((json_t *)at(o, "spec.selector"), k, v)
		sb_printf(&sb, "%s%s=%s", sb.len ? "," : "", k, json_string_value(v));
	return text_or(&sb, "<none>");
}

static char *pod_ready(const json_t *o)
{
	size_t total = json_array_size(at(o, "spec.containers")), ready = 0, i;
	json_t *cs;

	json_array_foreach(at(o, "status.containerStatuses"), i, cs)
		if (json_is_true(json_object_get(cs, "ready")))
			ready++;
	return xasprintf("%zu/%zu", ready, total);
}

/* STATUS as kubectl's printer words it: the pod's reason, else a container's waiting
 * or terminated reason (Completed, Error, CrashLoopBackOff...), else the phase;
 * Terminating while a deletion is pending. */
static char *pod_status(const json_t *o)
{
	const char *reason = json_string_value(at(o, "status.phase")) ?: "Pending";
	size_t i;
	json_t *cs;

	if (json_string_value(at(o, "status.reason")))
		reason = json_string_value(at(o, "status.reason"));
	json_array_foreach(at(o, "status.containerStatuses"), i, cs) {
		json_t *st = json_object_get(cs, "state");
		const char *w = json_string_value(json_object_get(json_object_get(st, "waiting"), "reason"));
		json_t *term = json_object_get(st, "terminated");
		if (w && *w)
			reason = w;
		else if (term && json_string_value(json_object_get(term, "reason")))
			reason = json_string_value(json_object_get(term, "reason"));
		else if (term)
			return xasprintf("ExitCode:%lld", (long long)json_integer_value(json_object_get(term, "exitCode")));
	}
	if (at(o, "metadata.deletionTimestamp"))
		reason = "Terminating";
	return xstrdup(reason);
}

static char *pod_restarts(const json_t *o)
{
	long long n = 0;
	size_t i;
	json_t *cs;

	json_array_foreach(at(o, "status.containerStatuses"), i, cs)
		n += json_integer_value(json_object_get(cs, "restartCount"));
	return xasprintf("%lld", n);
}

static char *deploy_ready(const json_t *o)
{
	return xasprintf("%lld/%lld", (long long)json_integer_value(at(o, "status.readyReplicas")),
			 (long long)json_integer_value(at(o, "spec.replicas")));
}

static char *deploy_updated(const json_t *o)
{
	return xasprintf("%lld", (long long)json_integer_value(at(o, "status.updatedReplicas")));
}

static char *deploy_available(const json_t *o)
{
	return xasprintf("%lld", (long long)json_integer_value(at(o, "status.availableReplicas")));
}

static char *selector_text(const json_t *sel)
{
	struct selector s;

	selector_from_json(sel, &s);
	char *t = s.n ? selector_format(&s) : xstrdup("<none>");
	selector_free(&s);
	return t;
}

static char *np_pod_selector(const json_t *o)
{
	return selector_text(at(o, "spec.podSelector"));
}

static char *ing_hosts(const json_t *o)
{
	struct strbuf sb;
	size_t i;
	json_t *r;

	sb_init(&sb);
	json_array_foreach(at(o, "spec.rules"), i, r) {
		const char *h = json_string_value(json_object_get(r, "host"));
		sb_printf(&sb, "%s%s", sb.len ? "," : "", h ? h : "*");
	}
	return text_or(&sb, "*");
}

static char *ing_address(const json_t *o)
{
	const json_t *ing = at(o, "status.loadBalancer.ingress");
	struct strbuf sb;
	size_t i;
	json_t *v;

	sb_init(&sb);
	json_array_foreach(ing, i, v) {
		const char *ip = json_string_value(json_object_get(v, "ip"));
		if (ip)
			sb_printf(&sb, "%s%s", sb.len ? "," : "", ip);
	}
	return text_or(&sb, "");
}

static char *ing_ports(const json_t *o)
{
	return xstrdup(json_array_size(at(o, "spec.tls")) ? "80, 443" : "80");
}

static char *data_count(const json_t *o)
{
	return xasprintf("%zu", json_object_size(at(o, "data")) + json_object_size(at(o, "binaryData")));
}

static char *eps_ports(const json_t *o)
{
	struct strbuf sb;
	size_t i;
	json_t *p;

	sb_init(&sb);
	json_array_foreach(at(o, "ports"), i, p)
		sb_printf(&sb, "%s%lld", i ? "," : "", (long long)json_integer_value(json_object_get(p, "port")));
	return text_or(&sb, "<unset>");
}

static char *eps_endpoints(const json_t *o)
{
	struct strbuf sb;
	size_t i, j, n = 0;
	json_t *e, *a;

	sb_init(&sb);
	json_array_foreach(at(o, "endpoints"), i, e)
		json_array_foreach(json_object_get(e, "addresses"), j, a) {
			if (n++ < 3)
				sb_printf(&sb, "%s%s", sb.len ? "," : "", json_string_value(a));
		}
	if (n > 3)
		sb_printf(&sb, " + %zu more...", n - 3);
	return text_or(&sb, "<none>");
}

static char *condition_ready(const json_t *o)
{
	size_t i;
	json_t *c;

	json_array_foreach(at(o, "status.conditions"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready"))
			return text(json_object_get(c, "status"), "Unknown");
	return xstrdup("");
}

static char *node_status(const json_t *o)
{
	char *r = condition_ready(o);
	char *s = xstrdup(!strcmp(r, "True") ? "Ready" : "NotReady");
	free(r);
	return s;
}

static char *node_roles(const json_t *o)
{
	struct strbuf sb;
	const char *k;
	json_t *v;

	sb_init(&sb);
	json_object_foreach((json_t *)at(o, "metadata.labels"), k, v)
		if (str_has_prefix(k, "node-role.kubernetes.io/"))
			sb_printf(&sb, "%s%s", sb.len ? "," : "", k + strlen("node-role.kubernetes.io/"));
	return text_or(&sb, "<none>");
}

static char *node_version(const json_t *o)
{
	return text(at(o, "status.nodeInfo.kubeletVersion"), "");
}

static char *route_hostnames(const json_t *o)
{
	char *t = json_dumps(at(o, "spec.hostnames") ?: json_null(), JSON_ENCODE_ANY | JSON_COMPACT);
	return t;
}

static char *vs_gateways(const json_t *o)
{
	return json_dumps(at(o, "spec.gateways") ?: json_null(), JSON_ENCODE_ANY | JSON_COMPACT);
}

static char *vs_hosts(const json_t *o)
{
	return json_dumps(at(o, "spec.hosts") ?: json_null(), JSON_ENCODE_ANY | JSON_COMPACT);
}

static char *gnp_order(const json_t *o)
{
	return text(at(o, "spec.order"), "<none>");
}

static const struct column svc_cols[] = {
	{ "TYPE", false, svc_type }, { "CLUSTER-IP", false, svc_cluster_ip },
	{ "EXTERNAL-IP", false, svc_external_ip }, { "PORT(S)", false, svc_ports },
	{ "SELECTOR", true, svc_selector },
};
static const struct column ns_cols[] = { { "STATUS", false, ns_status } };
static const struct column pod_cols[] = {
	{ "READY", false, pod_ready }, { "STATUS", false, pod_status },
	{ "RESTARTS", false, pod_restarts }, { "IP", true, pod_ip }, { "NODE", true, pod_node },
};
static const struct column deploy_cols[] = {
	{ "READY", false, deploy_ready }, { "UP-TO-DATE", false, deploy_updated },
	{ "AVAILABLE", false, deploy_available },
};
static const struct column np_cols[] = { { "POD-SELECTOR", false, np_pod_selector } };
static const struct column ing_cols[] = {
	{ "CLASS", false, ing_class }, { "HOSTS", false, ing_hosts },
	{ "ADDRESS", false, ing_address }, { "PORTS", false, ing_ports },
};
static const struct column cm_cols[] = { { "DATA", false, data_count } };
static const struct column secret_cols[] = { { "TYPE", false, secret_type }, { "DATA", false, data_count } };
static const struct column eps_cols[] = {
	{ "ADDRESSTYPE", false, eps_type }, { "PORTS", false, eps_ports },
	{ "ENDPOINTS", false, eps_endpoints },
};
static const struct column node_cols[] = {
	{ "STATUS", false, node_status }, { "ROLES", false, node_roles },
	{ "VERSION", false, node_version },
};
static const struct column gw_cols[] = { { "CLASS", false, gw_class } };
static const struct column gc_cols[] = { { "CONTROLLER", false, gc_controller } };
static const struct column route_cols[] = { { "HOSTNAMES", false, route_hostnames } };
static const struct column ts_cols[] = { { "SERVICE", false, ts_service } };
static const struct column vs_cols[] = { { "GATEWAYS", false, vs_gateways }, { "HOSTS", false, vs_hosts } };
static const struct column dr_cols[] = { { "HOST", false, dr_host } };
static const struct column cert_cols[] = { { "READY", false, condition_ready }, { "SECRET", false, cert_secret } };
static const struct column issuer_cols[] = { { "READY", false, condition_ready } };
static const struct column ic_cols[] = { { "CONTROLLER", false, ic_controller } };
static const struct column gnp_cols[] = { { "ORDER", false, gnp_order } };

#define KIND(k, cols) { k, cols, ARRAY_SIZE(cols) }
static const struct {
	const char *kind;
	const struct column *cols;
	size_t n;
} table[] = {
	KIND("Service", svc_cols), KIND("Namespace", ns_cols), KIND("Pod", pod_cols),
	KIND("Deployment", deploy_cols), KIND("NetworkPolicy", np_cols), KIND("Ingress", ing_cols),
	KIND("ConfigMap", cm_cols), KIND("Secret", secret_cols), KIND("EndpointSlice", eps_cols),
	KIND("Node", node_cols), KIND("Gateway", gw_cols), KIND("GatewayClass", gc_cols),
	KIND("HTTPRoute", route_cols), KIND("TrafficSplit", ts_cols), KIND("VirtualService", vs_cols),
	KIND("DestinationRule", dr_cols), KIND("Certificate", cert_cols),
	KIND("ClusterIssuer", issuer_cols), KIND("Issuer", issuer_cols), KIND("IngressClass", ic_cols),
	KIND("GlobalNetworkPolicy", gnp_cols),
};

const struct column *columns_for(const char *kind, size_t *n)
{
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (!strcmp(table[i].kind, kind)) {
			*n = table[i].n;
			return table[i].cols;
		}
	*n = 0;
	return NULL;
}
