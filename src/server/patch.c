#define _GNU_SOURCE 1
#include "patch.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

json_t *merge_patch(const json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;

	if (!json_is_object(patch))
		return json_deep_copy(patch);
	json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
	json_object_foreach((json_t *)patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(out, k);
		} else {
			json_t *merged = merge_patch(json_object_get(out, k), v);
			json_object_set_new(out, k, merged);
		}
	}
	return out;
}

/* ---- strategic merge patch ---- */

/* The schema of a field's value (a struct, or a list's element struct). */
static const struct sstruct *sub_struct(const struct sfield *f)
{
	if (!f)
		return NULL;
	const struct stype *t = &f->type;
	if (t->base == ST_LIST || t->base == ST_MAP)
		t = t->elem;
	return t && t->base == ST_STRUCT ? t->st : NULL;
}

static bool same_key(const json_t *a, const json_t *b, const struct sfield *f)
{
	for (size_t i = 0; i < f->nkeys; i++) {
		json_t *x = json_object_get(a, f->keys[i]), *y = json_object_get(b, f->keys[i]);
		/* A missing key part matches a missing or default one (protocol TCP, say). */
		if (!x && !y)
			continue;
		if (!x || !y) {
			if (i > 0)
				continue;
			return false;
		}
		if (!json_equal(x, y))
			return false;
	}
	return true;
}

static json_t *smp(const json_t *target, const json_t *patch, const struct sstruct *st, char **err);

static json_t *merge_list(const json_t *target, const json_t *patch, const struct sfield *f, char **err)
{
	if (!json_is_array(patch)) {
		*err = xasprintf("%s: a list was expected in the patch", f->name);
		return NULL;
	}
	if (!f->nkeys || !json_is_array(target)) {
		/* Lists without merge keys are replaced whole (directives stripped). */
		json_t *out = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(patch, i, e)
			if (!(json_is_object(e) && json_object_get(e, "$patch")))
				json_array_append_new(out, json_is_object(e) ? smp(NULL, e, sub_struct(f), err) : json_deep_copy(e));
		return out;
	}
	json_t *out = json_deep_copy(target);
	size_t i;
	json_t *pe;
	json_array_foreach(patch, i, pe) {
		if (!json_is_object(pe)) {
			*err = xasprintf("%s: list elements of a merged list must be objects", f->name);
			json_decref(out);
			return NULL;
		}
		const char *dir = json_string_value(json_object_get(pe, "$patch"));
		if (dir && !strcmp(dir, "replace")) {
			json_decref(out);
			out = json_array();
			continue;
		}
		size_t j, at = (size_t)-1;
		json_t *te;
		json_array_foreach(out, j, te)
			if (same_key(te, pe, f)) {
				at = j;
				break;
			}
		if (dir && !strcmp(dir, "delete")) {
			if (at != (size_t)-1)
				json_array_remove(out, at);
			continue;
		}
		json_t *m = smp(at != (size_t)-1 ? json_array_get(out, at) : NULL, pe, sub_struct(f), err);
		if (!m) {
			json_decref(out);
			return NULL;
		}
		if (at != (size_t)-1)
			json_array_set_new(out, at, m);
		else
			json_array_append_new(out, m);
	}
	return out;
}

/* $setElementOrder/FIELD: the order the patch's author saw; elements it does not
 * name keep their place after those it does. */
static void set_order(json_t *out, const char *field, const json_t *order, const struct sfield *f)
{
	json_t *list = json_object_get(out, field);
	if (!json_is_array(list) || !json_is_array(order))
		return;
	json_t *sorted = json_array();
	json_t *rest = json_deep_copy(list);
	size_t i, j;
	json_t *o, *e;
	json_array_foreach(order, i, o) {
		json_array_foreach(rest, j, e) {
			bool match = f && f->nkeys && json_is_object(o) ? same_key(e, o, f) : json_equal(e, o);
			if (match) {
				json_array_append(sorted, e);
				json_array_remove(rest, j);
				break;
			}
		}
	}
	json_array_extend(sorted, rest);
	json_decref(rest);
	json_object_set_new(out, field, sorted);
}

static json_t *smp(const json_t *target, const json_t *patch, const struct sstruct *st, char **err)
{
	if (!json_is_object(patch))
		return json_deep_copy(patch);
	const char *dir = json_string_value(json_object_get(patch, "$patch"));
	if (dir && !strcmp(dir, "replace")) {
		json_t *out = json_deep_copy(patch);
		json_object_del(out, "$patch");
		return out;
	}
	json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
	/* $retainKeys: the keys the object keeps (a union's other members go). */
	json_t *retain = json_object_get(patch, "$retainKeys");
	if (json_is_array(retain)) {
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(out, tmp, k, v) {
			bool keep = json_object_get(patch, k) != NULL;
			size_t i;
			json_t *r;
			json_array_foreach(retain, i, r)
				keep |= !strcmp(json_string_value(r) ?: "", k);
			if (!keep)
				json_object_del(out, k);
		}
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v) {
		if (k[0] == '$')
			continue;
		const struct sfield *f = st ? sstruct_field(st, k) : NULL;
		if (json_is_null(v)) {
			json_object_del(out, k);
			continue;
		}
		json_t *m;
		if (json_is_array(v))
			m = f && f->type.base == ST_LIST ? merge_list(json_object_get(out, k), v, f, err) : json_deep_copy(v);
		else if (json_is_object(v) && f && f->type.base == ST_MAP)
			m = merge_patch(json_object_get(out, k), v);
		else if (json_is_object(v))
			m = smp(json_object_get(out, k), v, sub_struct(f), err);
		else
			m = json_deep_copy(v);
		if (!m) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, k, m);
	}
	/* Directives on lists, after the merge. */
	json_object_foreach((json_t *)patch, k, v) {
		if (str_has_prefix(k, "$setElementOrder/")) {
			set_order(out, k + 17, v, st ? sstruct_field(st, k + 17) : NULL);
		} else if (str_has_prefix(k, "$deleteFromPrimitiveList/")) {
			json_t *list = json_object_get(out, k + 25);
			size_t i;
			json_t *d;
			json_array_foreach(v, i, d)
				for (size_t j = 0; j < json_array_size(list);)
					if (json_equal(json_array_get(list, j), d))
						json_array_remove(list, j);
					else
						j++;
		}
	}
	return out;
}

json_t *strategic_merge_patch(const json_t *target, const json_t *patch, const struct sstruct *st, char **err)
{
	*err = NULL;
	if (!json_is_object(patch)) {
		*err = xstrdup("a strategic merge patch must be a JSON object");
		return NULL;
	}
	/* metadata is not in the kinds' schema: its maps merge, its lists replace. */
	json_t *out = smp(target, patch, st, err);
	return out;
}

/* ---- JSON patch ---- */

/* Resolves a JSON pointer to (parent, last token); the token is unescaped. */
static json_t *pointer_parent(json_t *doc, const char *ptr, char **last)
{
	if (ptr[0] != '/')
		return NULL;
	json_t *cur = doc;
	char *copy = xstrdup(ptr + 1), *save = copy;
	char *tok;
	char *next = copy;
	for (;;) {
		tok = next;
		char *slash = strchr(tok, '/');
		if (!slash)
			break;
		*slash = 0;
		next = slash + 1;
		/* ~1 is '/', ~0 is '~' */
		char *u = tok, *w = tok;
		for (; *u; u++, w++) {
			if (u[0] == '~' && u[1] == '1') { *w = '/'; u++; }
			else if (u[0] == '~' && u[1] == '0') { *w = '~'; u++; }
			else *w = *u;
		}
		*w = 0;
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			char *end;
			long idx = strtol(tok, &end, 10);
			cur = *tok && !*end && idx >= 0 ? json_array_get(cur, (size_t)idx) : NULL;
		} else {
			cur = NULL;
		}
		if (!cur) {
			free(save);
			return NULL;
		}
	}
	char *u = tok, *w = tok;
	for (; *u; u++, w++) {
		if (u[0] == '~' && u[1] == '1') { *w = '/'; u++; }
		else if (u[0] == '~' && u[1] == '0') { *w = '~'; u++; }
		else *w = *u;
	}
	*w = 0;
	*last = xstrdup(tok);
	free(save);
	return cur;
}

static json_t *get_at(json_t *parent, const char *tok)
{
	if (json_is_object(parent))
		return json_object_get(parent, tok);
	char *end;
	long idx = strtol(tok, &end, 10);
	return json_is_array(parent) && *tok && !*end && idx >= 0 ? json_array_get(parent, (size_t)idx) : NULL;
}

static int remove_at(json_t *parent, const char *tok)
{
	if (json_is_object(parent))
		return json_object_del(parent, tok);
	char *end;
	long idx = strtol(tok, &end, 10);
	return json_is_array(parent) && *tok && !*end && idx >= 0 ? json_array_remove(parent, (size_t)idx) : -1;
}

static int add_at(json_t *parent, const char *tok, json_t *val)
{
	if (json_is_object(parent))
		return json_object_set_new(parent, tok, val);
	if (!json_is_array(parent)) {
		json_decref(val);
		return -1;
	}
	if (!strcmp(tok, "-"))
		return json_array_append_new(parent, val);
	char *end;
	long idx = strtol(tok, &end, 10);
	if (!*tok || *end || idx < 0 || (size_t)idx > json_array_size(parent)) {
		json_decref(val);
		return -1;
	}
	return json_array_insert_new(parent, (size_t)idx, val);
}

json_t *json_patch(const json_t *target, const json_t *ops, char **err)
{
	*err = NULL;
	if (!json_is_array(ops)) {
		*err = xstrdup("a JSON patch must be an array of operations");
		return NULL;
	}
	json_t *doc = json_deep_copy(target);
	size_t i;
	json_t *op;
	json_array_foreach(ops, i, op) {
		const char *o = json_string_value(json_object_get(op, "op")) ?: "";
		const char *path = json_string_value(json_object_get(op, "path"));
		const char *from = json_string_value(json_object_get(op, "from"));
		json_t *value = json_object_get(op, "value");
		char *last = NULL, *flast = NULL;
		json_t *parent = path ? pointer_parent(doc, path, &last) : NULL;
		int rc = -1;
		if (!path || !parent) {
			*err = xasprintf("operation %zu (%s): path %s does not exist", i, o, path ? path : "(none)");
		} else if (!strcmp(o, "add") && value) {
			rc = add_at(parent, last, json_deep_copy(value));
		} else if (!strcmp(o, "remove")) {
			rc = remove_at(parent, last);
		} else if (!strcmp(o, "replace") && value) {
			rc = get_at(parent, last) ? (remove_at(parent, last) == 0 ? add_at(parent, last, json_deep_copy(value)) : -1) : -1;
		} else if (!strcmp(o, "test") && value) {
			rc = json_equal(get_at(parent, last), value) ? 0 : -1;
			if (rc)
				*err = xasprintf("operation %zu (test): %s does not hold the value tested", i, path);
		} else if ((!strcmp(o, "move") || !strcmp(o, "copy")) && from) {
			json_t *fparent = pointer_parent(doc, from, &flast);
			json_t *v = fparent ? get_at(fparent, flast) : NULL;
			if (v) {
				json_t *copy = json_deep_copy(v);
				rc = !strcmp(o, "move") ? remove_at(fparent, flast) : 0;
				if (rc == 0) {
					char *l2 = NULL;
					json_t *p2 = pointer_parent(doc, path, &l2); /* the move may have shifted it */
					rc = p2 ? add_at(p2, l2, copy) : (json_decref(copy), -1);
					free(l2);
				} else {
					json_decref(copy);
				}
			}
		} else {
			*err = xasprintf("operation %zu: unknown op \"%s\" or missing value/from", i, o);
		}
		if (rc && !*err)
			*err = xasprintf("operation %zu (%s) on %s failed", i, o, path);
		free(last);
		free(flast);
		if (rc) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}
