/* Server-side Tables (meta.k8s.io/v1 Table), what kubectl asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`: the same columns `tulle get`
 * prints (src/api/columns.c), -o wide ones at priority 1, and each row's object as
 * PartialObjectMetadata (or the whole object with includeObject=Object). */
#include <stdlib.h>
#include <string.h>

#include "../api/columns.h"
#include "../lib/util.h"
#include "table.h"

bool table_wanted(const struct http_msg *req)
{
	const char *acc = http_get_header(req, "Accept");
	return acc && strstr(acc, "as=Table") && strstr(acc, "g=meta.k8s.io");
}

static json_t *coldef(const char *name, const char *type, const char *format, int priority)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", name, "type", type, "format", format, "description", "",
			 "priority", priority);
}

/* Where Age goes, as Kubernetes' printers place it: after the columns every view shows
 * and before the -o wide ones; a Node's VERSION comes after it. */
static size_t age_at(const char *kind, const struct column *cols, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cols[i].wide || (!strcmp(kind, "Node") && !strcmp(cols[i].name, "VERSION")))
			return i;
	return n;
}

static void age_cell(json_t *cells, const json_t *md)
{
	char *age = human_age(json_string_value(json_object_get(md, "creationTimestamp")));
	json_array_append_new(cells, json_string(age));
	free(age);
}

/* One row. include: "Metadata" (default), "Object" or "None". */
static json_t *row(const json_t *obj, const struct column *cols, size_t n, size_t age, const char *include)
{
	json_t *md = json_object_get(obj, "metadata");
	json_t *cells = json_array();
	json_array_append_new(cells, json_string(json_string_value(json_object_get(md, "name")) ?: ""));
	for (size_t i = 0; i < n; i++) {
		if (i == age)
			age_cell(cells, md);
		char *v = cols[i].value(obj);
		/* kubectl right-aligns nothing and prints integers as they come: numbers stay numbers. */
		char *end;
		long long num = v && *v ? strtoll(v, &end, 10) : 0;
		if (v && *v && !*end && (!strcmp(cols[i].name, "RESTARTS") || !strcmp(cols[i].name, "REPLICAS")))
			json_array_append_new(cells, json_integer(num));
		else
			json_array_append_new(cells, json_string(v ? v : ""));
		free(v);
	}
	if (age == n)
		age_cell(cells, md);
	json_t *r = json_pack("{s:o}", "cells", cells);
	if (!strcmp(include, "Object"))
		json_object_set(r, "object", (json_t *)obj);
	else if (strcmp(include, "None"))
		json_object_set_new(r, "object", json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata", "apiVersion",
							   "meta.k8s.io/v1", "metadata", md));
	return r;
}

json_t *table_columns(const char *kind)
{
	size_t n = 0;
	const struct column *cols = columns_for(kind, &n);
	size_t age = age_at(kind, cols, n);
	json_t *defs = json_array();
	json_array_append_new(defs, coldef("Name", "string", "name", 0));
	for (size_t i = 0; i < n; i++) {
		if (i == age)
			json_array_append_new(defs, coldef("Age", "string", "", 0));
		bool num = !strcmp(cols[i].name, "RESTARTS") || !strcmp(cols[i].name, "REPLICAS");
		json_array_append_new(defs, coldef(cols[i].name, num ? "integer" : "string", "", cols[i].wide ? 1 : 0));
	}
	if (age == n)
		json_array_append_new(defs, coldef("Age", "string", "", 0));
	return defs;
}

void table_row_append(struct strbuf *out, const char *kind, const json_t *obj, const char *include)
{
	size_t n = 0;
	const struct column *cols = columns_for(kind, &n);
	json_t *r = row(obj, cols, n, age_at(kind, cols, n), include ? include : "Metadata");
	char *text = json_dumps(r, JSON_COMPACT);

	sb_adds(out, text);
	free(text);
	json_decref(r);
}

/* Rendered rows by object, resourceVersion and include mode. A row's text is stored
 * split around its Age cell, the one part that changes without a write; a list of
 * unchanged objects then costs no JSON parsing at all. */
#define AGE_MARK "\x01" "age" "\x01" /* split: "\x01a" would read as one escape */

struct row_cache {
	json_t *rows; /* key -> [rev, before-age text, after-age text, creationTimestamp] */
	size_t limit;
};

struct row_cache *table_cache_new(size_t limit)
{
	struct row_cache *rc = xcalloc(1, sizeof(*rc));
	rc->rows = json_object();
	rc->limit = limit;
	return rc;
}

void table_cache_free(struct row_cache *rc)
{
	if (!rc)
		return;
	json_decref(rc->rows);
	free(rc);
}

static void append_age(struct strbuf *out, const char *created)
{
	char *age = human_age(created);
	sb_printf(out, "\"%s\"", age);
	free(age);
}

bool table_row_cached(struct row_cache *rc, struct strbuf *out, const char *key, int64_t rev)
{
	json_t *e = json_object_get(rc->rows, key);

	if (!e || json_integer_value(json_array_get(e, 0)) != rev)
		return false;
	sb_adds(out, json_string_value(json_array_get(e, 1)));
	append_age(out, json_string_value(json_array_get(e, 3)));
	sb_adds(out, json_string_value(json_array_get(e, 2)));
	return true;
}

void table_row_render_cached(struct row_cache *rc, struct strbuf *out, const char *key, int64_t rev,
			     const char *kind, const json_t *obj, const char *include)
{
	size_t n = 0;
	const struct column *cols = columns_for(kind, &n);
	size_t age = age_at(kind, cols, n);
	json_t *r = row(obj, cols, n, age, include ? include : "Metadata");
	/* The Age cell is the (1 + age)th cell: swap it for a mark and split there. */
	json_array_set_new(json_object_get(r, "cells"), 1 + age, json_string(AGE_MARK));
	char *text = json_dumps(r, JSON_COMPACT);
	/* jansson writes the mark's control characters as \u0001 */
	static const char dumped_mark[] = "\"\\u0001age\\u0001\"";
	char *mark = strstr(text, dumped_mark);
	const char *created = json_string_value(json_object_get(json_object_get(obj, "metadata"), "creationTimestamp"));

	json_decref(r);
	if (!mark) { /* cannot happen; render uncached */
		free(text);
		table_row_append(out, kind, obj, include);
		return;
	}
	*mark = 0;
	const char *after = mark + strlen(dumped_mark);
	sb_adds(out, text);
	append_age(out, created);
	sb_adds(out, after);
	if (json_object_size(rc->rows) >= rc->limit)
		json_object_clear(rc->rows); /* crude, but bounded: deleted objects' rows go too */
	json_object_set_new(rc->rows, key, json_pack("[I,s,s,s]", (json_int_t)rev, text, after, created ? created : ""));
	free(text);
}

json_t *table_from(const char *kind, const json_t *list_or_obj, const char *include)
{
	size_t n = 0;
	const struct column *cols = columns_for(kind, &n);
	size_t age = age_at(kind, cols, n);
	json_t *defs = table_columns(kind);
	json_t *rows = json_array();
	json_t *items = json_object_get(list_or_obj, "items");
	const char *rv;
	if (json_is_array(items)) {
		size_t i;
		json_t *o;
		json_array_foreach(items, i, o)
			json_array_append_new(rows, row(o, cols, n, age, include ? include : "Metadata"));
		rv = json_string_value(json_object_get(json_object_get(list_or_obj, "metadata"), "resourceVersion"));
	} else {
		json_array_append_new(rows, row(list_or_obj, cols, n, age, include ? include : "Metadata"));
		rv = json_string_value(json_object_get(json_object_get(list_or_obj, "metadata"), "resourceVersion"));
	}
	json_t *meta = json_pack("{s:s}", "resourceVersion", rv ? rv : "");
	const char *cont = json_string_value(json_object_get(json_object_get(list_or_obj, "metadata"), "continue"));
	if (cont && json_is_array(items))
		json_object_set_new(meta, "continue", json_string(cont));
	return json_pack("{s:s,s:s,s:o,s:o,s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata", meta,
			 "columnDefinitions", defs, "rows", rows);
}
