/* Controllers that run inside the server:
 * - Deployments: keep each Deployment's pods (owned directly by it, labelled
 *   pod-template-hash) at spec.replicas with the current template, and its status up to
 *   date; a changed template (an image, env, `rollout restart`) replaces the pods as a
 *   rolling update (maxSurge/maxUnavailable) or, with strategy Recreate, all at once.
 * - EndpointSlices: one slice per Service with a selector, listing the matching pods
 *   that have an address, ready or not (conditions say which), with the Service's
 *   ports resolved against the pods (named targetPorts included).
 * - LoadBalancer addresses: a LoadBalancer Service without an ingress address gets the
 *   first free one of --lb-pool in status.loadBalancer.ingress (as a cloud controller
 *   or MetalLB does); the nodes' agents announce and serve it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/validate.h"
#include "../lib/cidr.h"
#include "controllers.h"
#include "objects.h"

static int collect(void *ctx, const char *ns, const char *name, int64_t rev, const char *data)
{
	json_t *arr = ctx;
	json_t *o = json_loads(data, 0, NULL);

	(void)ns; (void)name; (void)rev;
	if (o)
		json_array_append_new(arr, o);
	return 0;
}

static void template_hash(const json_t *tmpl, char out[11])
{
	char *s = json_dumps(tmpl, JSON_SORT_KEYS | JSON_COMPACT);
	uint64_t h = 1469598103934665603ull;
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";

	for (const char *p = s ? s : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	for (int i = 0; i < 10; i++) {
		out[i] = alpha[h % (sizeof(alpha) - 1)];
		h /= sizeof(alpha) - 1;
	}
	out[10] = 0;
	free(s);
}

static bool owned_by(const json_t *pod, const char *uid)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(json_object_get(pod, "metadata"), "ownerReferences"), i, r)
		if (!strcmp(json_string_value(json_object_get(r, "uid")) ?: "", uid))
			return true;
	return false;
}

static bool pod_ready(const json_t *pod)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready"))
			return !strcmp(json_string_value(json_object_get(c, "status")) ?: "", "True");
	return false;
}

static void create_pod(struct apiserver *s, const json_t *d, const char *hash)
{
	const json_t *md = json_object_get(d, "metadata");
	const json_t *tmpl = json_object_get(json_object_get(d, "spec"), "template");
	const char *name = json_string_value(json_object_get(md, "name"));
	json_t *labels = json_deep_copy(json_object_get(json_object_get(tmpl, "metadata"), "labels"));
	json_t *ann = json_deep_copy(json_object_get(json_object_get(tmpl, "metadata"), "annotations"));
	char *gen = xasprintf("%s-%s-", name, hash);
	const struct skind *k;
	struct ferrs errs;
	struct write_result r;

	if (!labels)
		labels = json_object();
	json_object_set_new(labels, "pod-template-hash", json_string(hash));
	/* Each pod gets its own copy of the template's spec: the scheduler writes into it. */
	json_t *pod = json_pack("{s:s,s:s,s:{s:s,s:O,s:o,s:[{s:s,s:s,s:O,s:O,s:b,s:b}]},s:o}", "apiVersion", "v1",
				"kind", "Pod", "metadata", "generateName", gen, "namespace", json_object_get(md, "namespace"),
				"labels", labels, "ownerReferences", "apiVersion", "apps/v1", "kind", "Deployment", "name",
				json_object_get(md, "name"), "uid", json_object_get(md, "uid"), "controller", 1,
				"blockOwnerDeletion", 1, "spec", json_deep_copy(json_object_get(tmpl, "spec")));
	if (ann)
		json_object_set_new(json_object_get(pod, "metadata"), "annotations", ann);
	ferrs_init(&errs);
	if (api_validate(pod, NULL, UNKNOWN_IGNORE, &k, &errs, NULL) == 0) {
		objects_write(s, k, pod, WRITE_CREATE, PART_MAIN, &r);
		json_decref(r.body);
	} else {
		json_decref(pod);
	}
	ferrs_free(&errs);
	free(gen);
}

static void delete_pod(struct apiserver *s, const json_t *pod)
{
	const struct skind *k = schema_kind_lookup(s->schema, "pods");
	const json_t *md = json_object_get(pod, "metadata");
	struct write_result r;

	objects_delete(s, k, json_string_value(json_object_get(md, "namespace")),
		       json_string_value(json_object_get(md, "name")), "Background", &r);
	json_decref(r.body);
}

/* An intstr (25 or "25%") of `total`; percentages round up for maxSurge, down for
 * maxUnavailable, as Kubernetes does. */
static json_int_t scaled_intstr(const json_t *v, json_int_t total, bool round_up)
{
	if (json_is_integer(v))
		return json_integer_value(v);
	const char *str = json_string_value(v);
	char *end;
	long pct = str ? strtol(str, &end, 10) : 0;

	if (!str || *end != '%' || pct < 0)
		return round_up ? 1 : 0;
	return round_up ? (total * pct + 99) / 100 : total * pct / 100;
}

struct rollout {
	json_int_t want, total, updated, ready, min_available;
};

static void set_status(struct apiserver *s, const json_t *d, const struct rollout *ro)
{
	const struct skind *k = schema_kind_lookup(s->schema, "deployments.apps");
	json_t *copy = json_deep_copy(d);
	struct write_result r;
	json_t *old = json_object_get(json_object_get(d, "status"), "conditions");
	bool ok = ro->ready >= ro->min_available;
	const char *avail = ok ? "True" : "False";
	json_t *cond = json_pack("{s:s,s:s,s:s,s:s}", "type", "Available", "status", avail, "reason",
				 ok ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable", "message",
				 ok ? "Deployment has minimum availability." : "Deployment does not have minimum availability.");
	/* Keep the transition time while the condition holds, so an unchanged status writes nothing. */
	json_t *prev = json_array_get(old, 0);
	char ts[32];
	rfc3339_now(ts);
	json_object_set_new(cond, "lastTransitionTime",
			    json_string(prev && !strcmp(json_string_value(json_object_get(prev, "status")) ?: "", avail)
						? json_string_value(json_object_get(prev, "lastTransitionTime")) : ts));
	json_t *st = json_pack("{s:I,s:I,s:I,s:I,s:I,s:[o]}", "observedGeneration",
			       json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation")),
			       "replicas", ro->total, "updatedReplicas", ro->updated, "readyReplicas", ro->ready,
			       "availableReplicas", ro->ready, "conditions", cond);
	if (ro->total > ro->ready)
		json_object_set_new(st, "unavailableReplicas", json_integer(ro->total - ro->ready));
	json_object_set_new(copy, "status", st);
	objects_write(s, k, copy, WRITE_UPDATE, PART_STATUS, &r);
	json_decref(r.body);
}

/* Deletes up to `n` pods of `set`, unready ones first (they serve nobody); returns how
 * many went, and in *ready how many of those were ready. */
static json_int_t delete_some(struct apiserver *s, const json_t *set, json_int_t n, json_int_t *ready)
{
	json_int_t gone = 0;
	size_t i;
	json_t *p;

	*ready = 0;
	for (int pass = 0; pass < 2; pass++)
		json_array_foreach(set, i, p) {
			if (gone == n || pod_ready(p) != (pass == 1))
				continue;
			delete_pod(s, p);
			gone++;
			*ready += pass;
		}
	return gone;
}

/* One step of a rollout, as Kubernetes' deployment controller takes it: pods of the
 * current template ("new") are created while the total stays within replicas+maxSurge;
 * pods of older templates ("old") are deleted while the ready ones stay at or above
 * replicas-maxUnavailable. Recreate deletes every old pod before creating new ones.
 * Each pass is one step; the next store change (a pod turning ready) triggers the next. */
static void reconcile(struct apiserver *s, const json_t *d)
{
	const json_t *md = json_object_get(d, "metadata");
	const json_t *spec = json_object_get(d, "spec");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *uid = json_string_value(json_object_get(md, "uid"));
	const json_t *strategy = json_object_get(spec, "strategy");
	const json_t *rolling = json_object_get(strategy, "rollingUpdate");
	bool recreate = !strcmp(json_string_value(json_object_get(strategy, "type")) ?: "", "Recreate");
	struct rollout ro = { .want = json_integer_value(json_object_get(spec, "replicas")) };
	char hash[11];
	json_t *pods = json_array(), *fresh = json_array(), *older = json_array();
	json_int_t fresh_ready = 0, older_ready = 0;
	size_t i;
	json_t *p;

	template_hash(json_object_get(spec, "template"), hash);
	store_list(s->store, "pods", ns, NULL, NULL, 0, collect, pods);
	json_array_foreach(pods, i, p) {
		if (!owned_by(p, uid))
			continue;
		const char *h = json_string_value(json_object_get(json_object_get(json_object_get(p, "metadata"), "labels"),
								  "pod-template-hash"));
		bool current = h && !strcmp(h, hash);
		json_array_append(current ? fresh : older, p);
		*(current ? &fresh_ready : &older_ready) += pod_ready(p);
	}
	json_int_t surge = recreate ? 0 : scaled_intstr(json_object_get(rolling, "maxSurge"), ro.want, true);
	json_int_t unavailable = recreate ? ro.want
					  : scaled_intstr(json_object_get(rolling, "maxUnavailable"), ro.want, false);
	if (surge <= 0 && unavailable <= 0)
		unavailable = 1; /* both zero could never progress; Kubernetes uses 1 */
	ro.min_available = ro.want - unavailable;
	json_int_t n_fresh = (json_int_t)json_array_size(fresh), n_older = (json_int_t)json_array_size(older);

	json_int_t gone_ready;
	/* Too many current pods (scaled down): the surplus goes, unready first. */
	if (n_fresh > ro.want) {
		n_fresh -= delete_some(s, fresh, n_fresh - ro.want, &gone_ready);
		fresh_ready -= gone_ready;
	}
	/* Old pods: the unready ones go at once; ready ones only down to minAvailable. */
	if (n_older > 0) {
		json_int_t spare = fresh_ready + older_ready - ro.min_available;
		n_older -= delete_some(s, older, (n_older - older_ready) + (spare > 0 ? spare : 0), &gone_ready);
		older_ready -= gone_ready;
	}
	/* New pods, within the surge (Recreate: only once the old ones are gone). */
	json_int_t room = recreate && n_older ? 0 : ro.want + surge - n_fresh - n_older;
	json_int_t add = ro.want - n_fresh < room ? ro.want - n_fresh : room;
	for (json_int_t n = 0; n < add; n++)
		create_pod(s, d, hash);
	n_fresh += add > 0 ? add : 0;
	ro.total = n_fresh + n_older;
	ro.updated = n_fresh;
	ro.ready = fresh_ready + older_ready;
	set_status(s, d, &ro);
	json_decref(fresh);
	json_decref(older);
	json_decref(pods);
}

static const char *label(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"), k));
}

static bool selects(const json_t *sel, const json_t *pod)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)sel, k, v) {
		const char *have = label(pod, k);
		if (!have || strcmp(have, json_string_value(v) ?: ""))
			return false;
	}
	return true;
}

/* A Service port's targetPort on one pod: a number, or a container port's name. */
static json_int_t target_port(const json_t *port, const json_t *pod)
{
	const json_t *tp = json_object_get(port, "targetPort");
	size_t i, j;
	json_t *c, *cp;

	if (json_is_integer(tp))
		return json_integer_value(tp);
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
		json_array_foreach(json_object_get(c, "ports"), j, cp)
			if (!strcmp(json_string_value(json_object_get(cp, "name")) ?: "", json_string_value(tp) ?: ""))
				return json_integer_value(json_object_get(cp, "containerPort"));
	return 0;
}

static void reconcile_service(struct apiserver *s, const json_t *svc, const json_t *pods)
{
	const json_t *md = json_object_get(svc, "metadata"), *spec = json_object_get(svc, "spec");
	const json_t *sel = json_object_get(spec, "selector");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *uid = json_string_value(json_object_get(md, "uid")) ?: "";
	json_t *eps = json_array(), *ports = json_array();
	const json_t *first = NULL;
	size_t i;
	json_t *p;

	if (!json_object_size(sel) || !strcmp(json_string_value(json_object_get(spec, "type")) ?: "", "ExternalName"))
		goto out;
	json_array_foreach(pods, i, p) {
		const char *ip = json_string_value(json_object_get(json_object_get(p, "status"), "podIP"));
		if (!ip || !selects(sel, p))
			continue;
		bool ready = pod_ready(p);
		const json_t *pm = json_object_get(p, "metadata");
		json_array_append_new(eps, json_pack("{s:[s],s:{s:b,s:b,s:b},s:O,s:{s:s,s:O,s:O,s:O}}", "addresses", ip,
			"conditions", "ready", ready, "serving", ready, "terminating", 0,
			"nodeName", json_object_get(json_object_get(p, "spec"), "nodeName") ?: json_null(),
			"targetRef", "kind", "Pod", "namespace", json_object_get(pm, "namespace"), "name",
			json_object_get(pm, "name"), "uid", json_object_get(pm, "uid")));
		if (!first)
			first = p;
	}
	json_array_foreach(json_object_get(spec, "ports"), i, p) {
		json_int_t tp = first ? target_port(p, first) : 0;
		if (!tp && first)
			continue; /* a named targetPort the pods do not declare */
		json_t *ep = json_pack("{s:O,s:I}", "protocol", json_object_get(p, "protocol"), "port",
				       tp ? tp : json_integer_value(json_object_get(p, "port")));
		if (json_object_get(p, "name"))
			json_object_set(ep, "name", json_object_get(p, "name"));
		json_array_append_new(ports, ep);
	}
	char slice[300];
	snprintf(slice, sizeof(slice), "%s-%.5s", name, uid);
	json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:O,s:{s:s,s:s},s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:s,s:O,s:O}",
				"apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "name", slice,
				"namespace", json_object_get(md, "namespace"), "labels", "kubernetes.io/service-name", name,
				"endpointslice.kubernetes.io/managed-by", "tulle", "ownerReferences", "apiVersion", "v1",
				"kind", "Service", "name", name, "uid", uid, "controller", 1, "blockOwnerDeletion", 1,
				"addressType", "IPv4", "endpoints", eps, "ports", ports);
	const struct skind *k;
	struct ferrs errs;
	struct write_result r;
	ferrs_init(&errs);
	if (api_validate(obj, NULL, UNKNOWN_IGNORE, &k, &errs, NULL) == 0) {
		objects_write(s, k, obj, WRITE_APPLY, PART_MAIN, &r); /* unchanged: no write */
		json_decref(r.body);
	} else {
		json_decref(obj);
	}
	ferrs_free(&errs);
out:
	json_decref(eps);
	json_decref(ports);
}

static bool has_ingress_ip(const json_t *svc)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(svc,
		"status"), "loadBalancer"), "ingress"), 0), "ip")) != NULL;
}

static void assign_lb_ips(struct apiserver *s, const json_t *svcs)
{
	size_t i;
	json_t *d;
	json_t *used = json_object();
	json_array_foreach(svcs, i, d)
		if (has_ingress_ip(d))
			json_object_set_new(used, json_string_value(json_object_get(json_array_get(json_object_get(
				json_object_get(json_object_get(d, "status"), "loadBalancer"), "ingress"), 0), "ip")),
				json_true());
	const struct skind *k = schema_kind_lookup(s->schema, "services");
	uint64_t size = cidr_size(&s->cfg.lb_pool);
	json_array_foreach(svcs, i, d) {
		if (strcmp(json_string_value(json_object_get(json_object_get(d, "spec"), "type")) ?: "", "LoadBalancer") ||
		    has_ingress_ip(d))
			continue;
		/* The network and broadcast addresses of the pool are never handed out. */
		for (uint64_t n = 1; n + 1 < size; n++) {
			struct ipaddr ip;
			char txt[64];
			cidr_nth(&s->cfg.lb_pool, n, &ip);
			ip_format(&ip, txt, sizeof(txt));
			if (json_object_get(used, txt))
				continue;
			json_t *copy = json_deep_copy(d);
			json_t *st = json_object_get(copy, "status");
			if (!json_is_object(st))
				json_object_set_new(copy, "status", st = json_object());
			json_object_set_new(st, "loadBalancer", json_pack("{s:[{s:s,s:s}]}", "ingress", "ip", txt, "ipMode", "VIP"));
			struct write_result r;
			if (txn_begin(s) < 0)
				break;
			objects_write(s, k, copy, WRITE_UPDATE, PART_STATUS, &r);
			json_decref(r.body);
			txn_commit(s);
			json_object_set_new(used, txt, json_true());
			break;
		}
	}
	json_decref(used);
}

void controllers_note(struct apiserver *s, const struct pending_event *ev)
{
	const char *kind = ev->kind->kind;

	if (strcmp(kind, "Pod") && strcmp(kind, "Service") && strcmp(kind, "Deployment") && strcmp(kind, "EndpointSlice"))
		return;
	if (s->ctl_dirty && (!strcmp(kind, "Pod") || !strcmp(kind, "Deployment"))) {
		json_object_set_new(s->ctl_dirty, ev->ns, json_true());
	} else if (s->ctl_dirty) {
		/* A Service, or one of its slices: only that service's slice can change. */
		const char *svc = ev->name;
		if (!strcmp(kind, "EndpointSlice")) {
			const json_t *o = ev->obj ? ev->obj : ev->prev;
			svc = json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"),
								"kubernetes.io/service-name"));
		}
		if (svc) {
			char *key = xasprintf("%s/%s", ev->ns, svc);
			json_object_set_new(s->ctl_dirty_svcs, key, json_true());
			free(key);
		}
	}
	if (!strcmp(kind, "Service") && ev->obj && ev->type != STORE_DELETED &&
	    !strcmp(json_string_value(json_object_get(json_object_get(ev->obj, "spec"), "type")) ?: "", "LoadBalancer") &&
	    !has_ingress_ip(ev->obj))
		s->ctl_lb_wanted = true;
}

/* Deployments, then Services' EndpointSlices, of one namespace (NULL: all). */
static void reconcile_namespace(struct apiserver *s, const char *only_ns)
{
	json_t *deps = json_array(), *svcs = json_array(), *pods = json_array();
	size_t i;
	json_t *d;

	store_list(s->store, "apps/deployments", only_ns, NULL, NULL, 0, collect, deps);
	json_array_foreach(deps, i, d) {
		if (txn_begin(s) < 0)
			break;
		reconcile(s, d);
		txn_commit(s); /* on failure it has rolled back and given allocations back */
	}
	store_list(s->store, "services", only_ns, NULL, NULL, 0, collect, svcs);
	json_array_foreach(svcs, i, d) {
		const char *ns = json_string_value(json_object_get(json_object_get(d, "metadata"), "namespace"));
		/* Pods are read once per namespace (services come sorted by namespace). */
		const json_t *p0 = json_array_get(pods, 0);
		if (!p0 || strcmp(json_string_value(json_object_get(json_object_get(p0, "metadata"), "namespace")) ?: "", ns)) {
			json_array_clear(pods);
			store_list(s->store, "pods", ns, NULL, NULL, 0, collect, pods);
		}
		if (txn_begin(s) < 0)
			break;
		reconcile_service(s, d, pods);
		txn_commit(s);
	}
	json_decref(deps);
	json_decref(svcs);
	json_decref(pods);
}

/* The Services named in dirty ("ns/name"), each against its namespace's pods, except
 * in namespaces a full pass covers. */
static void reconcile_services(struct apiserver *s, const json_t *dirty, const json_t *full)
{
	json_t *pods = json_array();
	char *pods_ns = NULL;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)dirty, key, v) {
		const char *slash = strchr(key, '/');
		if (!slash)
			continue;
		char *ns = xstrndup(key, (size_t)(slash - key));
		const struct skind *k = schema_kind_lookup(s->schema, "services");
		json_t *svc = full && json_object_get(full, ns) ? NULL : objects_get(s, k, ns, slash + 1);
		if (svc) {
			if (!pods_ns || strcmp(pods_ns, ns)) {
				json_array_clear(pods);
				store_list(s->store, "pods", ns, NULL, NULL, 0, collect, pods);
				free(pods_ns);
				pods_ns = xstrdup(ns);
			}
			if (txn_begin(s) == 0) {
				reconcile_service(s, svc, pods);
				txn_commit(s);
			}
		}
		json_decref(svc);
		free(ns);
	}
	free(pods_ns);
	json_decref(pods);
}

void controllers_tick(struct apiserver *s)
{
	/* The first pass covers everything; later ones only the namespaces whose pods,
	 * services, deployments or slices changed since (our own writes included, until
	 * they change nothing). A write elsewhere in a large cluster costs nothing here. */
	bool all = !s->ctl_dirty;
	json_t *dirty = s->ctl_dirty, *dirty_svcs = s->ctl_dirty_svcs;
	const char *ns;
	json_t *v;

	if (!all && !json_object_size(dirty) && !json_object_size(dirty_svcs) && !s->ctl_lb_wanted)
		return;
	s->ctl_dirty = json_object();
	s->ctl_dirty_svcs = json_object();
	if (s->cfg.has_lb_pool && (all || s->ctl_lb_wanted)) {
		json_t *svcs = json_array();
		s->ctl_lb_wanted = false;
		store_list(s->store, "services", NULL, NULL, NULL, 0, collect, svcs);
		assign_lb_ips(s, svcs);
		json_decref(svcs);
	}
	if (all) {
		reconcile_namespace(s, NULL);
	} else {
		json_object_foreach(dirty, ns, v)
			reconcile_namespace(s, ns);
		reconcile_services(s, dirty_svcs, dirty);
	}
	json_decref(dirty);
	json_decref(dirty_svcs);
}
