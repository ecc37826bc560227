#include "kind_hooks.h"

#include <string.h>

#include "../lib/util.h"
#include "objects.h"

/* ---- Pod: the scheduler ---- */

struct sched {
	json_t *nodes; /* name -> pod count, Ready nodes only */
};

static int sched_node(void *ctx, const char *ns, const char *name, int64_t rev, const char *data)
{
	struct sched *sc = ctx;
	json_t *n = json_loads(data, 0, NULL);
	size_t i;
	json_t *c;

	(void)ns; (void)rev;
	json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready") &&
		    !strcmp(json_string_value(json_object_get(c, "status")) ?: "", "True") &&
		    !json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable")))
			json_object_set_new(sc->nodes, name, json_integer(0));
	json_decref(n);
	return 0;
}

static int sched_pod(void *ctx, const char *ns, const char *name, int64_t rev, const char *data)
{
	struct sched *sc = ctx;
	json_t *p = json_loads(data, 0, NULL);
	const char *node = json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));

	(void)ns; (void)name; (void)rev;
	json_t *cnt = node ? json_object_get(sc->nodes, node) : NULL;
	if (cnt)
		json_integer_set(cnt, json_integer_value(cnt) + 1);
	json_decref(p);
	return 0;
}

/* The scheduler: a pod without a node goes to the Ready node running the fewest pods
 * (ties by name). Without Ready nodes it stays Pending. */
static void schedule(struct apiserver *s, json_t *pod)
{
	json_t *spec = json_object_get(pod, "spec");
	struct sched sc = { json_object() };
	const char *best = NULL, *k;
	json_int_t least = 0;
	json_t *v;

	if (!spec || json_object_get(spec, "nodeName"))
		goto out;
	store_list(s->store, "nodes", NULL, NULL, NULL, 0, sched_node, &sc);
	if (!json_object_size(sc.nodes))
		goto out;
	store_list(s->store, "pods", NULL, NULL, NULL, 0, sched_pod, &sc);
	json_object_foreach(sc.nodes, k, v)
		if (!best || json_integer_value(v) < least || (json_integer_value(v) == least && strcmp(k, best) < 0)) {
			best = k;
			least = json_integer_value(v);
		}
	if (best)
		json_object_set_new(spec, "nodeName", json_string(best));
out:
	json_decref(sc.nodes);
}

static const struct kind_hooks hooks[] = {
	{ .kind = "Namespace", .initial_status = "{\"phase\":\"Active\"}", .holds_namespace = true },
	{ .kind = "Pod", .initial_status = "{\"phase\":\"Pending\"}", .on_create = schedule },
	/* Services: addresses and ports from the allocators (alloc.c). */
	{ .kind = "Service", .initial_status = "{\"loadBalancer\":{}}", .on_write = alloc_service,
	  .on_delete = alloc_service_release },
};

const struct kind_hooks *kind_hooks_of(const struct skind *k)
{
	/* Only the core group's kinds have hooks; a CRD of the same kind name does not. */
	if (k->group[0])
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(hooks); i++)
		if (!strcmp(hooks[i].kind, k->kind))
			return &hooks[i];
	return NULL;
}
