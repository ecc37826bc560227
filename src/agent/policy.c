/* The agent's side of policy enforcement: informers on everything policy reads, the
 * policy engine compiled from them, its identities numbered stably (a restarted agent
 * gives a label set the number it had, so the pinned maps stay right while it syncs),
 * and the ipcache and policy maps kept equal to the result. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../api/schema.h"
#include "../datapath/datapath.h"
#include "../datapath/polplan.h"
#include "../lib/http.h"
#include "../lib/util.h"
#include "../policy/engine.h"
#include "agent_int.h"

/* What policy reads, and the kube-system ConfigMaps (tulle-config: policy-ipblock). */
static const char *const KINDS[POL_NINF] = {
	"namespaces", "pods", "serviceaccounts", "tiers", "networkpolicies.networking.k8s.io",
	"ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies", "globalnetworkpolicies", NULL,
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- stable numbers: identity keys and policies, kept in STATE/identities.json ---- */

static void ids_load(struct agent *a)
{
	struct agent_pol *p = &a->pol;
	char *path = xasprintf("%s/identities.json", a->state);
	json_t *j = json_load_file(path, 0, NULL);

	free(path);
	p->nums = json_is_object(json_object_get(j, "numbers")) ? json_incref(json_object_get(j, "numbers"))
								 : json_object();
	p->next_num = (uint32_t)json_integer_value(json_object_get(j, "next"));
	if (p->next_num < TL_ID_FIRST)
		p->next_num = TL_ID_FIRST;
	json_decref(j);
}

static uint32_t number(struct agent *a, const char *key, json_t *used)
{
	struct agent_pol *p = &a->pol;
	json_t *v = json_object_get(p->nums, key);
	uint32_t n;

	if (v) {
		n = (uint32_t)json_integer_value(v);
	} else {
		n = p->next_num++;
		json_object_set_new(p->nums, key, json_integer(n));
	}
	json_object_set_new(used, key, json_integer(n));
	return n;
}

/* Keeps only the numbers in use; never reuses one (next only grows). */
static void ids_save(struct agent *a, json_t *used)
{
	struct agent_pol *p = &a->pol;
	char *path = xasprintf("%s/identities.json", a->state);

	json_decref(p->nums);
	p->nums = json_incref(used);
	json_t *j = json_pack("{s:O,s:i}", "numbers", used, "next", (json_int_t)p->next_num);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	write_file_atomic(path, text, strlen(text), 0600);
	free(text);
	json_decref(j);
	free(path);
}

/* ---- the endpoints flows are named by ---- */

static json_t *label_list(const char *ns, const json_t *labels)
{
	json_t *out = json_array();
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)labels, k, v) {
		char *s = xasprintf("k8s:%s=%s", k, json_string_value(v) ?: "");
		json_array_append_new(out, json_string(s));
		free(s);
	}
	char *s = xasprintf("k8s:io.kubernetes.pod.namespace=%s", ns);
	json_array_append_new(out, json_string(s));
	free(s);
	return out;
}

static void index_endpoints(struct agent *a, const struct pm_cluster *c, const json_t *pods)
{
	json_t *eps = json_object();

	for (size_t i = 0; i < c->npods; i++) {
		const struct pm_pod *pod = &c->pods[i];
		char ip[64], *key = xasprintf("%s/%s", pod->ns, pod->name);
		if (!pod->has_ip) {
			free(key);
			continue;
		}
		ip_format(&pod->ip, ip, sizeof(ip));
		const char *node = json_string_value(
			json_object_get(json_object_get(json_object_get(pods, key), "spec"), "nodeName"));
		json_object_set_new(eps, ip, json_pack("{s:s,s:s,s:o,s:s}", "namespace", pod->ns, "pod_name", pod->name,
						       "labels", label_list(pod->ns, pod->labels), "node_name",
						       node ? node : ""));
		free(key);
	}
	json_decref(a->pol.endpoints);
	a->pol.endpoints = eps;
}

/* ---- compile and sync ---- */

static bool ipblock_cilium(struct agent *a)
{
	const json_t *cm = json_object_get(informer_items(a->pol.inf[POL_NINF - 1]), "kube-system/tulle-config");
	const char *v = json_string_value(json_object_get(json_object_get(cm, "data"), "policy-ipblock"));
	return v && !strcmp(v, "cilium");
}

static void policy_names(struct agent *a, const struct pm_cluster *c, uint32_t *num, json_t *used)
{
	json_t *names = json_object();

	for (size_t i = 0; i < c->npols; i++) {
		const struct pm_policy *p = &c->pols[i];
		char *key = xasprintf("policy\x1f%s\x1f%s\x1f%s", pm_kind_name(p->kind), p->ns ? p->ns : "", p->name);
		num[i] = number(a, key, used);
		char nk[16];
		snprintf(nk, sizeof(nk), "%u", num[i]);
		json_object_set_new(names, nk, json_pack("{s:s,s:s,s:s}", "kind", pm_kind_name(p->kind), "namespace",
							 p->ns ? p->ns : "", "name", p->name));
		free(key);
	}
	json_decref(a->pol.names);
	a->pol.names = names;
}

void pol_sync(struct agent *a)
{
	struct agent_pol *p = &a->pol;
	unsigned long gen[POL_NINF];

	if (!a->svc.dp)
		return;
	for (int i = 0; i < POL_NINF; i++) {
		if (!p->inf[i] || !informer_synced(p->inf[i]))
			return;
		gen[i] = informer_generation(p->inf[i]);
	}
	if (p->built_ok && !memcmp(gen, p->built, sizeof(gen)))
		return;
	double t0 = now_ms();
	struct pm_cluster c;
	char *err = NULL;
	memset(&c, 0, sizeof(c));
	c.ipblock_outside_only = ipblock_cilium(a);
	for (int i = 0; i < POL_NINF - 1; i++) {
		const char *k;
		json_t *obj;
		json_object_foreach((json_t *)informer_items(p->inf[i]), k, obj) {
			const char *ip = i == 1 ? json_string_value(json_object_get(p->local_ips, k)) : NULL;
			json_t *withip = NULL;
			if (ip && !json_object_get(json_object_get(obj, "status"), "podIP")) {
				withip = json_deep_copy(obj);
				json_t *st = json_object_get(withip, "status");
				if (!json_is_object(st))
					json_object_set_new(withip, "status", st = json_object());
				json_object_set_new(st, "podIP", json_string(ip));
				obj = withip;
			}
			int rc = pm_add(&c, obj, &err);
			json_decref(withip);
			if (rc < 0) {
				fprintf(stderr, "agent %s: policy: %s: %s (left out)\n", a->node, k, err);
				free(err);
			}
		}
	}
	pm_finish(&c);
	struct pe_engine e;
	pe_compile(&e, &c, &err);
	json_t *used = json_object();
	uint32_t *ident = xcalloc(e.nids + 1, sizeof(uint32_t));
	for (size_t i = 0; i < e.nids; i++)
		ident[i + 1] = number(a, e.ids[i].key, used);
	uint32_t *pols = xcalloc(c.npols + 1, sizeof(uint32_t));
	policy_names(a, &c, pols, used);
	bool *local = xcalloc(c.npods + 1, sizeof(bool));
	const json_t *pods = informer_items(p->inf[1]);
	for (size_t i = 0; i < c.npods; i++) {
		char *key = xasprintf("%s/%s", c.pods[i].ns, c.pods[i].name);
		const char *nn = json_string_value(json_object_get(json_object_get(json_object_get(pods, key), "spec"),
								   "nodeName"));
		local[i] = nn && !strcmp(nn, a->node);
		free(key);
	}
	uint32_t host[2];
	size_t nhost = 0;
	struct in_addr in;
	if (inet_pton(AF_INET, a->node_ip, &in) == 1)
		host[nhost++] = in.s_addr;
	if (a->vtep[0] && inet_pton(AF_INET, a->vtep, &in) == 1)
		host[nhost++] = in.s_addr;
	struct dp_polplan_in pin = { &e, ident, pols, local, host, nhost };
	struct dp_polplan plan;
	struct dp_policy_stats st;
	dp_polplan_build(&plan, &pin);
	int rc = dp_policy_sync(a->svc.dp, plan.ips, plan.nips, plan.rules, plan.nrules, &st);
	p->built_ok = rc == 0;
	if (rc < 0)
		fprintf(stderr, "agent %s: policy maps not fully written (%s); trying again on the next change\n", a->node,
			strerror(-rc));
	memcpy(p->built, gen, sizeof(gen));
	ids_save(a, used);
	index_endpoints(a, &c, pods);
	p->syncs++;
	p->last_sync_ms = now_ms() - t0;
	p->rules = plan.nrules;
	p->identities = e.nids;
	fprintf(stderr, "agent %s: policy: %zu policies, %zu identities, %zu entries (+%zu -%zu), %zu addresses in %.1f ms\n",
		a->node, c.npols, e.nids, plan.nrules, st.rules_set, st.rules_deleted, plan.nips, p->last_sync_ms);
	dp_polplan_free(&plan);
	free(local);
	free(pols);
	free(ident);
	json_decref(used);
	pe_free(&e);
	pm_free(&c);
}

void pol_pod_address(struct agent *a, const char *ns, const char *name, const char *ip)
{
	struct agent_pol *p = &a->pol;
	char *key = xasprintf("%s/%s", ns, name);
	const json_t *obj = p->inf[1] ? json_object_get(informer_items(p->inf[1]), key) : NULL;

	/* Forget the ones the API reports now (or that are gone). */
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(p->local_ips, tmp, k, v) {
		const json_t *o = json_object_get(informer_items(p->inf[1]), k);
		if (!o || json_object_get(json_object_get(o, "status"), "podIP"))
			json_object_del(p->local_ips, k);
	}
	if (obj && !json_object_get(json_object_get(obj, "status"), "podIP")) {
		json_object_set_new(p->local_ips, key, json_string(ip));
		p->built_ok = false; /* compile now, whatever the informers say */
		pol_sync(a);
	}
	free(key);
}

/* ---- what the maps hold, for `policy trace --live` ---- */

/* The labels of the endpoint at ip, as flows name them. */
static json_t *endpoint_labels(struct agent *a, const char *ip, uint32_t id)
{
	const json_t *ep = json_object_get(a->pol.endpoints, ip);

	if (ep)
		return json_incref(json_object_get(ep, "labels"));
	return json_pack("[s]", id == TL_ID_HOST ? "reserved:host" : "reserved:world");
}

static const char *pol_verdict_name(const struct dp_policy_answer *r)
{
	if (r->host_peer)
		return "allow-host";
	if (r->self)
		return "allow-self";
	if (!r->found)
		return "not-isolated";
	return r->pol.verdict == TL_POL_ALLOW ? "allow" : r->pol.verdict == TL_POL_REDIRECT ? "redirect" : "deny";
}

char *pol_lookup_json(struct agent *a, const char *query, int *status)
{
	char *local = http_query_param(query, "local"), *peer = http_query_param(query, "peer");
	char *dir = http_query_param(query, "direction"), *proto = http_query_param(query, "protocol");
	char *port = http_query_param(query, "port");
	struct in_addr la, pa;
	char *body = NULL;

	*status = 400;
	if (!local || !peer || !dir || !proto || !port || inet_pton(AF_INET, local, &la) != 1 ||
	    inet_pton(AF_INET, peer, &pa) != 1 || (strcmp(dir, "ingress") && strcmp(dir, "egress"))) {
		body = xstrdup("{\"error\":\"give local=IPv4, peer=IPv4, direction=ingress|egress, protocol=NUMBER, "
			       "port=NUMBER\"}\n");
		goto out;
	}
	struct dp_policy_answer r;
	int rc = a->svc.dp ? dp_policy_lookup(a->svc.dp, la.s_addr, pa.s_addr,
					      !strcmp(dir, "egress") ? TL_DIR_EGRESS : TL_DIR_INGRESS,
					      (uint8_t)atoi(proto), (uint16_t)atoi(port), &r)
			   : -1;
	if (rc < 0) {
		*status = 503;
		body = xstrdup("{\"error\":\"the datapath's maps cannot be read\"}\n");
		goto out;
	}
	json_t *pol = json_null();
	if (r.found && r.pol.policy) {
		char nk[16];
		snprintf(nk, sizeof(nk), "%u", r.pol.policy);
		pol = json_incref(json_object_get(a->pol.names, nk)) ?: json_pack("{s:i}", "number", (json_int_t)r.pol.policy);
	}
	json_t *j = json_pack("{s:s,s:I,s:{s:s,s:I,s:o,s:b},s:{s:s,s:I,s:o},s:s,s:o,s:i,s:i}", "node", a->node,
			      "revision", (json_int_t)r.revision, "local", "ip", local, "identity",
			      (json_int_t)r.local_id, "labels", endpoint_labels(a, local, r.local_id), "known",
			      (r.local_flags & TL_IP_F_LOCAL) != 0, "peer", "ip", peer, "identity", (json_int_t)r.peer_id,
			      "labels", endpoint_labels(a, peer, r.peer_id), "verdict", pol_verdict_name(&r), "policy", pol, "rule",
			      r.found ? r.pol.rule : -1, "why", r.found ? r.pol.why : -1);
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	*status = 200;
out:
	free(local);
	free(peer);
	free(dir);
	free(proto);
	free(port);
	return body;
}

static void sync_when_idle(struct loop *l, void *ctx)
{
	(void)l;
	pol_sync(ctx);
}

/* A burst of changes (10,000 policies in one apply) compiles once when the watch
 * streams are drained, not once per batch read; 100 ms at most behind a stream that
 * never pauses. */
static void on_change(struct informer *inf, void *ctx)
{
	struct agent *a = ctx;
	(void)inf;
	loop_idle(a->loop, 100, sync_when_idle, a);
}

void pol_start(struct agent *a)
{
	struct agent_pol *p = &a->pol;

	ids_load(a);
	p->endpoints = json_object();
	p->names = json_object();
	p->local_ips = json_object();
	for (int i = 0; i < POL_NINF; i++) {
		char *path;
		if (KINDS[i]) {
			const struct skind *k = schema_kind_lookup(schema_get(), KINDS[i]);
			path = api_path(k, NULL, NULL);
		} else {
			path = xstrdup("/api/v1/namespaces/kube-system/configmaps");
		}
		p->inf[i] = informer_new(&a->cl, path, NULL);
		free(path);
	}
	for (int i = 0; i < POL_NINF; i++)
		informer_start(p->inf[i], a->loop, on_change, a);
}

void pol_stop(struct agent *a)
{
	struct agent_pol *p = &a->pol;

	for (int i = 0; i < POL_NINF; i++)
		informer_free(p->inf[i]);
	json_decref(p->nums);
	json_decref(p->endpoints);
	json_decref(p->names);
	json_decref(p->local_ips);
	memset(p, 0, sizeof(*p));
}
