/* Aggregated discovery (apidiscovery.k8s.io/v2), what kubectl asks /api and /apis for
 * first: every group, version and resource (scope, verbs, short names, categories,
 * subresources) in one document, instead of a request per group-version. */
#include <stdlib.h>
#include <string.h>

#include "../api/schema.h"
#include "../lib/util.h"
#include "discovery.h"
#include "routes.h"

#define AGG_TYPE "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

bool discovery_aggregated_wanted(const struct http_msg *req)
{
	const char *acc = http_get_header(req, "Accept");
	return acc && strstr(acc, "g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
}

static json_t *str_array(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *sub(const struct skind *k, const char *version, const struct api_subresource *sr)
{
	json_t *verbs = json_array();
	for (size_t i = 0; sr->verbs[i]; i++)
		json_array_append_new(verbs, json_string(sr->verbs[i]));
	json_t *e = json_pack("{s:s,s:o}", "subresource", sr->name, "verbs", verbs);
	/* Subresources that answer with an object say which (status: the resource's own). */
	if (strcmp(sr->name, "exec") && strcmp(sr->name, "attach") && strcmp(sr->name, "log"))
		json_object_set_new(e, "responseKind", json_pack("{s:s,s:s,s:s}", "group", sr->group ? sr->group : k->group,
								  "version", sr->version ? sr->version : version, "kind",
								  sr->kind ? sr->kind : k->kind));
	return e;
}

static json_t *resource(const struct skind *k, const char *version)
{
	json_t *r = json_pack("{s:s,s:{s:s,s:s,s:s},s:s,s:s,s:[s,s,s,s,s,s,s,s]}", "resource", k->plural,
			      "responseKind", "group", k->group, "version", version, "kind", k->kind, "scope",
			      k->namespaced ? "Namespaced" : "Cluster", "singularResource", k->singular, "verbs",
			      "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");
	if (k->nshorts)
		json_object_set_new(r, "shortNames", str_array(k->shorts, k->nshorts));
	if (k->ncategories)
		json_object_set_new(r, "categories", str_array(k->categories, k->ncategories));
	json_t *subs = json_array();
	for (size_t i = 0; i < api_nsubresources; i++)
		if (api_subresources[i].applies(k))
			json_array_append_new(subs, sub(k, version, &api_subresources[i]));
	if (json_array_size(subs))
		json_object_set_new(r, "subresources", subs);
	else
		json_decref(subs);
	return r;
}

/* core: only the "" group (for /api); otherwise every named group (for /apis). */
void discovery_aggregated(struct conn *c, const struct http_msg *req, bool core)
{
	const struct schema *sc = c->srv->schema;
	json_t *groups = json_array();
	for (size_t i = 0; i < sc->nkinds; i++) {
		const struct skind *k = sc->kinds[i];
		if (k->local || (core != !k->group[0]))
			continue;
		json_t *g = NULL;
		size_t j;
		json_t *e;
		json_array_foreach(groups, j, e)
			if (!strcmp(json_string_value(json_object_get(json_object_get(e, "metadata"), "name")), k->group))
				g = e;
		if (!g) {
			g = json_pack("{s:{s:s},s:[]}", "metadata", "name", k->group, "versions");
			json_array_append_new(groups, g);
		}
		json_t *vers = json_object_get(g, "versions");
		for (size_t v = 0; v < k->nversions; v++) {
			json_t *ver = NULL;
			json_array_foreach(vers, j, e)
				if (!strcmp(json_string_value(json_object_get(e, "version")), k->versions[v]))
					ver = e;
			if (!ver) {
				ver = json_pack("{s:s,s:[],s:s}", "version", k->versions[v], "resources", "freshness", "Current");
				/* The preferred (first) version leads, as Kubernetes orders them. */
				if (v == 0)
					json_array_insert_new(vers, 0, ver);
				else
					json_array_append_new(vers, ver);
			}
			json_array_append_new(json_object_get(ver, "resources"), resource(k, k->versions[v]));
		}
	}
	json_t *doc = json_pack("{s:s,s:s,s:{},s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
				"apidiscovery.k8s.io/v2", "metadata", "items", groups);
	char *s = json_dumps(doc, JSON_COMPACT);
	conn_respond(c, req, 200, AGG_TYPE, s, strlen(s));
	free(s);
	json_decref(doc);
}
