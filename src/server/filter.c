#include "filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/http.h"
#include "../lib/util.h"

static int parse_fields(struct obj_filter *f, const char *s, char **err)
{
	const char *p = s;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char *term = xstrndup(p, len);
		char *op = strstr(term, "!=");
		bool neq = op != NULL;
		if (!op)
			op = strchr(term, '=');
		if (!op || op == term) {
			*err = xasprintf("invalid field selector \"%s\": expected field=value or field!=value", s);
			free(term);
			return -EINVAL;
		}
		*op = 0;
		const char *val = op + (neq ? 2 : 1);
		if (*val == '=')
			val++;
		f->fields = xrealloc(f->fields, (f->nfields + 1) * sizeof(*f->fields));
		f->fields[f->nfields++] = (struct field_req){ xstrdup(term), xstrdup(val), neq };
		free(term);
		p += len + (comma ? 1 : 0);
	}
	return 0;
}

int filter_parse(struct obj_filter *f, const char *ns, const char *query, char **err)
{
	char *ls = http_query_param(query, "labelSelector");
	char *fs = http_query_param(query, "fieldSelector");
	int rc = 0;

	memset(f, 0, sizeof(*f));
	*err = NULL;
	f->ns = ns ? xstrdup(ns) : NULL;
	if (ls)
		rc = selector_parse(ls, &f->labels, err);
	if (!rc && fs)
		rc = parse_fields(f, fs, err);
	free(ls);
	free(fs);
	if (rc)
		filter_free(f);
	return rc;
}

void filter_free(struct obj_filter *f)
{
	selector_free(&f->labels);
	for (size_t i = 0; i < f->nfields; i++) {
		free(f->fields[i].path);
		free(f->fields[i].value);
	}
	free(f->fields);
	free(f->ns);
	memset(f, 0, sizeof(*f));
}

/* A dotted path's value as text ("" when absent), as field selectors compare them. */
static char *field_text(const json_t *obj, const char *path)
{
	const json_t *v = obj;
	char *copy = xstrdup(path), *save = NULL;

	for (char *t = strtok_r(copy, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
		v = json_object_get(v, t);
	free(copy);
	if (!v || json_is_null(v))
		return xstrdup("");
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

bool filter_match(const struct obj_filter *f, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");

	if (f->ns && strcmp(f->ns, json_string_value(json_object_get(md, "namespace")) ?: "") != 0)
		return false;
	if (!selector_matches_json(&f->labels, json_object_get(md, "labels")))
		return false;
	for (size_t i = 0; i < f->nfields; i++) {
		char *v = field_text(obj, f->fields[i].path);
		bool eq = strcmp(v, f->fields[i].value) == 0;
		free(v);
		if (eq == f->fields[i].neq)
			return false;
	}
	return true;
}
