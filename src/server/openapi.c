/* OpenAPI v3 from the schema, as kube-apiserver serves it: /openapi/v3 lists one
 * document per group-version; each holds a component schema per kind and struct
 * (with x-kubernetes-group-version-kind, merge keys for lists, int-or-string) and the
 * resource paths with their operations. kubectl reads it to learn that the server
 * validates fields itself (fieldValidation on PATCH), and `kubectl explain` reads the
 * schemas. Built once: the schema does not change while the server runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/schema.h"
#include "../lib/util.h"
#include "openapi.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

static json_t *docs; /* "api/v1", "apis/apps/v1" -> document */

static char *struct_name(const struct sstruct *st)
{
	return xasprintf("io.tulle.types.%s", st->name);
}

static char *kind_name(const struct skind *k, const char *version)
{
	return xasprintf("io.tulle.%s.%s.%s", k->group[0] ? k->group : "core", version, k->kind);
}

static json_t *ref(const char *name)
{
	char *r = xasprintf("#/components/schemas/%s", name);
	json_t *o = json_pack("{s:s}", "$ref", r);
	free(r);
	return o;
}

static json_t *type_schema(const struct stype *t)
{
	switch (t->base) {
	case ST_STRING: return json_pack("{s:s}", "type", "string");
	case ST_INT: return json_pack("{s:s,s:s}", "type", "integer", "format", "int64");
	case ST_NUMBER: return json_pack("{s:s,s:s}", "type", "number", "format", "double");
	case ST_BOOL: return json_pack("{s:s}", "type", "boolean");
	case ST_INTSTR: return json_pack("{s:s,s:b}", "format", "int-or-string", "x-kubernetes-int-or-string", 1);
	case ST_QUANTITY: return json_pack("{s:s,s:b}", "format", "quantity", "x-kubernetes-int-or-string", 1);
	case ST_ANY: return json_pack("{s:b}", "x-kubernetes-preserve-unknown-fields", 1);
	case ST_OBJECT: return json_pack("{s:s,s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
	case ST_LABELS:
	case ST_ANNOTATIONS: return json_pack("{s:s,s:{s:s}}", "type", "object", "additionalProperties", "type", "string");
	case ST_STRUCT: {
		if (!t->st)
			return json_object();
		char *n = struct_name(t->st);
		json_t *o = ref(n);
		free(n);
		return o;
	}
	case ST_LIST: return json_pack("{s:s,s:o}", "type", "array", "items", t->elem ? type_schema(t->elem) : json_object());
	case ST_MAP:
		return json_pack("{s:s,s:o}", "type", "object", "additionalProperties",
				 t->elem ? type_schema(t->elem) : json_object());
	}
	return json_object();
}

static json_t *field_schema(const struct sfield *f)
{
	json_t *s = type_schema(&f->type);
	if (json_object_get(s, "$ref")) {
		/* A reference cannot carry siblings in OpenAPI 3.0: wrap it, as Kubernetes does. */
		json_t *w = json_pack("{s:[o]}", "allOf", s);
		s = w;
	}
	if (f->desc)
		json_object_set_new(s, "description", json_string(f->desc));
	if (f->nenums) {
		json_t *e = json_array();
		for (size_t i = 0; i < f->nenums; i++)
			json_array_append_new(e, json_string(f->enums[i]));
		json_object_set_new(s, "enum", e);
	}
	if (f->has_min)
		json_object_set_new(s, "minimum", json_integer(f->min));
	if (f->has_max)
		json_object_set_new(s, "maximum", json_integer(f->max));
	if (f->dflt)
		json_object_set(s, "default", f->dflt);
	if (f->type.base == ST_LIST && f->nkeys) {
		/* Lists merged by key (containers by name, ports by port...): strategic merge. */
		json_object_set_new(s, "x-kubernetes-patch-strategy", json_string("merge"));
		json_object_set_new(s, "x-kubernetes-patch-merge-key", json_string(f->keys[0]));
		json_t *keys = json_array();
		for (size_t i = 0; i < f->nkeys; i++)
			json_array_append_new(keys, json_string(f->keys[i]));
		json_object_set_new(s, "x-kubernetes-list-type", json_string("map"));
		json_object_set_new(s, "x-kubernetes-list-map-keys", keys);
	}
	return s;
}

static json_t *struct_schema(const struct sstruct *st, const char *desc)
{
	json_t *props = json_object(), *req = json_array();
	for (size_t i = 0; i < st->nfields; i++) {
		json_object_set_new(props, st->fields[i].name, field_schema(&st->fields[i]));
		if (st->fields[i].required)
			json_array_append_new(req, json_string(st->fields[i].name));
	}
	json_t *s = json_pack("{s:s,s:o}", "type", "object", "properties", props);
	if (json_array_size(req))
		json_object_set_new(s, "required", req);
	else
		json_decref(req);
	if (desc)
		json_object_set_new(s, "description", json_string(desc));
	return s;
}

static json_t *object_meta(void)
{
	return json_pack("{s:s,s:s,s:{s:{s:s,s:s},s:{s:s},s:{s:s},s:{s:s,s:{s:s}},s:{s:s,s:{s:s}},s:{s:s},s:{s:s},"
			 "s:{s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:{s:s}},s:{s:s,s:{s:s}},s:{s:s,s:{s:s}}}}",
			 "type", "object", "description",
			 "ObjectMeta is metadata that all persisted resources must have.", "properties", "name", "type",
			 "string", "description", "Name must be unique within a namespace.", "generateName", "type", "string",
			 "namespace", "type", "string", "labels", "type", "object", "additionalProperties", "type", "string",
			 "annotations", "type", "object", "additionalProperties", "type", "string", "uid", "type", "string",
			 "resourceVersion", "type", "string", "selfLink", "type", "string", "generation", "type", "integer",
			 "format", "int64", "creationTimestamp", "type", "string", "format", "date-time", "finalizers",
			 "type", "array", "items", "type", "string", "ownerReferences", "type", "array", "items", "type",
			 "object", "managedFields", "type", "array", "items", "type", "object");
}

static json_t *param(const char *name, const char *in)
{
	return json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in", in, "required", !strcmp(in, "path"), "schema",
			 "type", "string");
}

/* The item path's operations for one kind (what the query-param check reads). */
static void add_paths(json_t *paths, const struct skind *k, const char *version, const char *schema)
{
	char *base = k->group[0] ? xasprintf("/apis/%s/%s", k->group, version) : xasprintf("/api/%s", version);
	char *item = k->namespaced ? xasprintf("%s/namespaces/{namespace}/%s/{name}", base, k->plural)
				   : xasprintf("%s/%s/{name}", base, k->plural);
	char *coll = k->namespaced ? xasprintf("%s/namespaces/{namespace}/%s", base, k->plural)
				   : xasprintf("%s/%s", base, k->plural);
	json_t *gvk = json_pack("{s:s,s:s,s:s}", "group", k->group, "version", version, "kind", k->kind);
	const char *item_ops[] = { "get", "put", "patch", "delete" };
	const char *item_actions[] = { "get", "put", "patch", "delete" };
	json_t *ip = json_object(), *cp = json_object();
	for (int i = 0; i < 4; i++) {
		json_t *params = json_array();
		json_array_append_new(params, param("name", "path"));
		if (k->namespaced)
			json_array_append_new(params, param("namespace", "path"));
		if (i == 1 || i == 2) {
			json_array_append_new(params, param("dryRun", "query"));
			json_array_append_new(params, param("fieldManager", "query"));
			json_array_append_new(params, param("fieldValidation", "query"));
		}
		if (i == 2)
			json_array_append_new(params, param("force", "query"));
		json_object_set_new(ip, item_ops[i],
				    json_pack("{s:s,s:O,s:o,s:{s:{s:s,s:{s:{s:o}}}}}", "x-kubernetes-action", item_actions[i],
					      "x-kubernetes-group-version-kind", gvk, "parameters", params, "responses", "200",
					      "description", "OK", "content", "application/json", "schema", ref(schema)));
	}
	json_t *pp = json_array();
	if (k->namespaced)
		json_array_append_new(pp, param("namespace", "path"));
	json_array_append_new(pp, param("dryRun", "query"));
	json_array_append_new(pp, param("fieldManager", "query"));
	json_array_append_new(pp, param("fieldValidation", "query"));
	json_object_set_new(cp, "post", json_pack("{s:s,s:O,s:o,s:{s:{s:s}}}", "x-kubernetes-action", "post",
						  "x-kubernetes-group-version-kind", gvk, "parameters", pp, "responses",
						  "201", "description", "Created"));
	json_object_set_new(paths, item, ip);
	json_object_set_new(paths, coll, cp);
	json_decref(gvk);
	free(base);
	free(item);
	free(coll);
}

static void build(void)
{
	const struct schema *s = schema_get();
	docs = json_object();
	for (size_t i = 0; i < s->nkinds; i++) {
		const struct skind *k = s->kinds[i];
		if (k->local)
			continue;
		for (size_t v = 0; v < k->nversions; v++) {
			char *gv = k->group[0] ? xasprintf("apis/%s/%s", k->group, k->versions[v])
					       : xasprintf("api/%s", k->versions[v]);
			json_t *doc = json_object_get(docs, gv);
			if (!doc) {
				doc = json_pack("{s:s,s:{s:s,s:s},s:{},s:{s:{s:o}}}", "openapi", "3.0.0", "info", "title",
						"Kubernetes", "version", "v1.32.0", "paths", "components", "schemas", META,
						object_meta());
				json_object_set_new(docs, gv, doc);
			}
			json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
			/* Every struct, so references resolve inside the document. */
			for (size_t j = 0; j < s->nstructs; j++) {
				char *n = struct_name(s->structs[j]);
				if (!json_object_get(schemas, n))
					json_object_set_new(schemas, n, struct_schema(s->structs[j], NULL));
				free(n);
			}
			char *kn = kind_name(k, k->versions[v]);
			char *desc = xasprintf("%s (%s/%s).", k->kind, k->group[0] ? k->group : "core", k->versions[v]);
			json_t *ks = struct_schema(&k->body, desc);
			free(desc);
			json_t *props = json_object_get(ks, "properties");
			json_object_set_new(props, "apiVersion", json_pack("{s:s,s:s}", "type", "string", "description",
				"APIVersion defines the versioned schema of this representation of an object."));
			json_object_set_new(props, "kind", json_pack("{s:s,s:s}", "type", "string", "description",
				"Kind is a string value representing the REST resource this object represents."));
			json_object_set_new(props, "metadata", json_pack("{s:[o],s:s}", "allOf", ref(META), "description",
				"Standard object's metadata."));
			json_object_set_new(ks, "x-kubernetes-group-version-kind",
					    json_pack("[{s:s,s:s,s:s}]", "group", k->group, "kind", k->kind, "version",
						      k->versions[v]));
			json_object_set_new(schemas, kn, ks);
			add_paths(json_object_get(doc, "paths"), k, k->versions[v], kn);
			free(kn);
			free(gv);
		}
	}
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

json_t *openapi_v3_index(void)
{
	if (!docs)
		build();
	json_t *paths = json_object();
	const char *gv;
	json_t *d;
	json_object_foreach(docs, gv, d) {
		char *txt = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
		char *url = xasprintf("/openapi/v3/%s?hash=%016llX", gv, (unsigned long long)fnv(txt));
		json_object_set_new(paths, gv, json_pack("{s:s}", "serverRelativeURL", url));
		free(url);
		free(txt);
	}
	return json_pack("{s:o}", "paths", paths);
}

json_t *openapi_v3_doc(const char *gv)
{
	if (!docs)
		build();
	json_t *d = json_object_get(docs, gv);
	return d ? json_incref(d) : NULL;
}
