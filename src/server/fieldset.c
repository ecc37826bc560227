#define _GNU_SOURCE 1
#include "fieldset.h"

#include <stdlib.h>
#include <string.h>

/* ---- reading objects through the schema ---- */

struct shape {
	const struct stype *t;  /* NULL: unknown to the schema, shape deduced from the value */
	const struct sfield *f; /* the field holding this value (list keys, set) */
	bool root;
};

enum node_kind { N_LEAF, N_STRUCT, N_MAP, N_KEYED, N_SET };

struct walker {
	const struct fs_ctx *c;
	struct stype meta; /* ObjectMeta as a type */
};

static void walker_init(struct walker *w, const struct fs_ctx *c)
{
	memset(w, 0, sizeof(*w));
	w->c = c;
	w->meta.base = ST_STRUCT;
	w->meta.st = (struct sstruct *)schema_struct(c->sc, "ObjectMeta");
}

/* Metadata the server owns or that names the object: never part of anyone's fields. */
static bool excluded(struct shape parent, const struct walker *w, const char *name)
{
	static const char *const root_skip[] = { "apiVersion", "kind", "status" };
	static const char *const meta_skip[] = { "name", "namespace", "uid", "resourceVersion", "generation",
						 "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
						 "managedFields", "selfLink", "generateName" };
	if (parent.root) {
		for (size_t i = 0; i < ARRAY_SIZE(root_skip); i++)
			if (!strcmp(name, root_skip[i]))
				return true;
	} else if (parent.t == &w->meta) {
		for (size_t i = 0; i < ARRAY_SIZE(meta_skip); i++)
			if (!strcmp(name, meta_skip[i]))
				return true;
	}
	return false;
}

static enum node_kind kind_of(struct shape sh, const json_t *v)
{
	if (json_is_object(v)) {
		if (json_object_size(v) == 0)
			return N_LEAF;
		if (sh.root || !sh.t)
			return N_STRUCT;
		switch (sh.t->base) {
		case ST_STRUCT: case ST_OBJECT: case ST_ANY:
			return N_STRUCT;
		case ST_MAP: case ST_LABELS: case ST_ANNOTATIONS:
			return N_MAP;
		default:
			return N_LEAF;
		}
	}
	if (json_is_array(v) && json_array_size(v) && sh.t && sh.t->base == ST_LIST && sh.f) {
		if (sh.f->nkeys) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
				if (!json_is_object(e))
					return N_LEAF;
			return N_KEYED;
		}
		if (sh.f->set)
			return N_SET;
	}
	return N_LEAF;
}

/* "k:{...}" for a keyed item: its key fields, sorted, defaults filled (protocol TCP). */
static char *item_key(const struct sfield *list, const json_t *item)
{
	const struct stype *et = list->type.elem;
	json_t *k = json_object();

	for (size_t i = 0; i < list->nkeys; i++) {
		json_t *v = json_object_get(item, list->keys[i]);
		if (!v && et && et->base == ST_STRUCT) {
			const struct sfield *kf = sstruct_field(et->st, list->keys[i]);
			v = kf ? kf->dflt : NULL;
		}
		if (v)
			json_object_set(k, list->keys[i], v);
	}
	char *s = json_dumps(k, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	char *out = xasprintf("k:%s", s);
	free(s);
	json_decref(k);
	return out;
}

static char *set_key(const json_t *item)
{
	char *s = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
	char *out = xasprintf("v:%s", s);
	free(s);
	return out;
}

/* A granular node's children by FieldsV1 key (values borrowed from v). */
static json_t *children(const struct walker *w, const json_t *v, struct shape sh, enum node_kind nk)
{
	json_t *out = json_object();
	const char *name;
	json_t *c;
	size_t i;

	if (nk == N_STRUCT || nk == N_MAP) {
		json_object_foreach((json_t *)v, name, c) {
			if (json_is_null(c) || (nk == N_STRUCT && excluded(sh, w, name)))
				continue;
			char *key = xasprintf("f:%s", name);
			json_object_set(out, key, c);
			free(key);
		}
	} else if (nk == N_KEYED || nk == N_SET) {
		json_array_foreach(v, i, c) {
			char *key = nk == N_KEYED ? item_key(sh.f, c) : set_key(c);
			json_object_set(out, key, c);
			free(key);
		}
	}
	return out;
}

static struct shape child_shape(const struct walker *w, struct shape sh, enum node_kind nk, const char *key)
{
	struct shape out = { 0 };

	if (nk == N_STRUCT && !strncmp(key, "f:", 2)) {
		const struct sstruct *st = NULL;
		if (sh.root && !strcmp(key + 2, "metadata")) {
			out.t = &w->meta;
			return out;
		}
		if (sh.root)
			st = &w->c->k->body;
		else if (sh.t && sh.t->base == ST_STRUCT)
			st = sh.t->st;
		const struct sfield *f = st ? sstruct_field(st, key + 2) : NULL;
		if (f) {
			out.t = &f->type;
			out.f = f;
		}
	} else if (nk == N_MAP || nk == N_KEYED || nk == N_SET) {
		out.t = sh.t ? sh.t->elem : NULL;
	}
	return out;
}

static bool member(const json_t *n)
{
	return n && (json_object_size(n) == 0 || json_object_get(n, "."));
}

/* A set node from its membership and children (consumed); NULL when it holds nothing. */
static json_t *node(bool is_member, json_t *kids)
{
	json_object_del(kids, ".");
	if (!is_member && json_object_size(kids) == 0) {
		json_decref(kids);
		return NULL;
	}
	if (is_member && json_object_size(kids))
		json_object_set_new(kids, ".", json_object());
	return kids;
}

static json_t *root_or_empty(json_t *n)
{
	return n ? n : json_object();
}

/* ---- the fields of an object ---- */

static json_t *set_of(const struct walker *w, const json_t *v, struct shape sh, bool is_member)
{
	enum node_kind nk = kind_of(sh, v);

	if (nk == N_LEAF)
		return json_object();
	json_t *kids = children(w, v, sh, nk), *out = json_object();
	const char *key;
	json_t *c;
	json_object_foreach(kids, key, c) {
		json_t *sub = set_of(w, c, child_shape(w, sh, nk, key), nk == N_KEYED);
		if (sub)
			json_object_set_new(out, key, sub);
	}
	json_decref(kids);
	/* A struct whose every field is excluded (metadata with a name only) is not set. */
	if (!json_object_size(out) && nk == N_STRUCT) {
		json_decref(out);
		return NULL;
	}
	return node(is_member || nk == N_MAP, out);
}

json_t *fs_of(const struct fs_ctx *c, const json_t *obj)
{
	struct walker w;
	struct shape root = { .root = true };

	walker_init(&w, c);
	return root_or_empty(set_of(&w, obj, root, false));
}

static json_t *changed(const struct walker *w, const json_t *b, const json_t *a, struct shape sh, bool is_member)
{
	enum node_kind nk = kind_of(sh, a);

	if (!b || json_is_null(b) || kind_of(sh, b) != nk)
		return set_of(w, a, sh, is_member);
	if (nk == N_LEAF)
		return json_equal(a, b) ? NULL : json_object();
	json_t *ka = children(w, a, sh, nk), *kb = children(w, b, sh, nk), *out = json_object();
	const char *key;
	json_t *c;
	json_object_foreach(ka, key, c) {
		json_t *sub = changed(w, json_object_get(kb, key), c, child_shape(w, sh, nk, key), nk == N_KEYED);
		if (sub)
			json_object_set_new(out, key, sub);
	}
	json_decref(ka);
	json_decref(kb);
	return node(false, out);
}

json_t *fs_changed(const struct fs_ctx *c, const json_t *before, const json_t *after)
{
	struct walker w;
	struct shape root = { .root = true };

	walker_init(&w, c);
	if (!before)
		return fs_of(c, after);
	return root_or_empty(changed(&w, before, after, root, false));
}

/* ---- set algebra (schema-free) ---- */

static json_t *set_union(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return json_deep_copy(a ? a : b);
	json_t *kids = json_object();
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)a, key, v)
		if (strcmp(key, ".") != 0)
			json_object_set_new(kids, key, set_union(v, json_object_get(b, key)));
	json_object_foreach((json_t *)b, key, v)
		if (strcmp(key, ".") != 0 && !json_object_get(a, key))
			json_object_set_new(kids, key, json_deep_copy(v));
	return node(member(a) || member(b), kids);
}

/* a ∩ b (common) or a − b: the members of a that b does (or does not) hold. */
static json_t *set_filter(const json_t *a, const json_t *b, bool common)
{
	if (!a)
		return NULL;
	if (!b)
		return common ? NULL : json_deep_copy(a);
	json_t *kids = json_object();
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)a, key, v) {
		if (!strcmp(key, "."))
			continue;
		json_t *sub = set_filter(v, json_object_get(b, key), common);
		if (sub)
			json_object_set_new(kids, key, sub);
	}
	return node(member(a) && member(b) == common, kids);
}

static json_t *set_intersect(const json_t *a, const json_t *b) { return set_filter(a, b, true); }
static json_t *set_minus(const json_t *a, const json_t *b) { return set_filter(a, b, false); }

/* At the root membership means nothing (an empty root is the empty set, not a leaf):
 * combine child by child. */
static json_t *root_op(json_t *(*op)(const json_t *, const json_t *), const json_t *a, const json_t *b,
		       bool keys_of_b)
{
	json_t *out = json_object();
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)(a ? a : out), key, v) {
		json_t *r = op(v, b ? json_object_get(b, key) : NULL);
		if (r)
			json_object_set_new(out, key, r);
	}
	if (keys_of_b && b)
		json_object_foreach((json_t *)b, key, v)
			if (!a || !json_object_get(a, key))
				json_object_set_new(out, key, json_deep_copy(v));
	return out;
}

json_t *fs_union(const json_t *a, const json_t *b) { return root_op(set_union, a, b, true); }
json_t *fs_intersect(const json_t *a, const json_t *b) { return root_op(set_intersect, a, b, false); }
json_t *fs_minus(const json_t *a, const json_t *b) { return root_op(set_minus, a, b, false); }

bool fs_empty(const json_t *s)
{
	return !s || json_object_size(s) == 0;
}

/* ---- merging and removing ---- */

static json_t *strip_nulls(const json_t *v)
{
	if (json_is_object(v)) {
		json_t *out = json_object();
		const char *key;
		json_t *c;
		json_object_foreach((json_t *)v, key, c)
			if (!json_is_null(c))
				json_object_set_new(out, key, strip_nulls(c));
		return out;
	}
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *c;
		json_array_foreach(v, i, c)
			json_array_append_new(out, strip_nulls(c));
		return out;
	}
	return json_deep_copy(v);
}

static json_t *merge(const struct walker *w, const json_t *live, const json_t *app, struct shape sh)
{
	enum node_kind nk = kind_of(sh, app);

	if (!live || json_is_null(live) || nk == N_LEAF || kind_of(sh, live) != nk)
		return strip_nulls(app);
	if (nk == N_STRUCT || nk == N_MAP) {
		json_t *out = json_deep_copy(live);
		const char *name;
		json_t *v;
		json_object_foreach((json_t *)app, name, v) {
			if (json_is_null(v) || (sh.root && !strcmp(name, "status")))
				continue;
			char *key = xasprintf("f:%s", name);
			json_object_set_new(out, name, merge(w, json_object_get(live, name), v, child_shape(w, sh, nk, key)));
			free(key);
		}
		return out;
	}
	json_t *lk = children(w, live, sh, nk), *ak = children(w, app, sh, nk), *out = json_array();
	const char *key;
	json_t *v;
	size_t i;
	json_t *item;
	if (nk == N_KEYED) {
		/* The applier's items in its order, then the items others keep. */
		json_array_foreach(app, i, item) {
			char *ik = item_key(sh.f, item);
			json_array_append_new(out, merge(w, json_object_get(lk, ik), item, child_shape(w, sh, nk, ik)));
			free(ik);
		}
		json_object_foreach(lk, key, v)
			if (!json_object_get(ak, key))
				json_array_append_new(out, json_deep_copy(v));
	} else {
		json_array_foreach(live, i, item)
			json_array_append_new(out, json_deep_copy(item));
		json_object_foreach(ak, key, v)
			if (!json_object_get(lk, key))
				json_array_append_new(out, strip_nulls(v));
	}
	json_decref(lk);
	json_decref(ak);
	return out;
}

json_t *fs_merge(const struct fs_ctx *c, const json_t *live, const json_t *applied)
{
	struct walker w;
	struct shape root = { .root = true };

	walker_init(&w, c);
	return merge(&w, live, applied, root);
}

/* True when a keyed item holds nothing but its key fields (or a map nothing at all). */
static bool only_keys(const json_t *v, const struct sfield *keyed_by)
{
	const char *name;
	json_t *c;

	json_object_foreach((json_t *)v, name, c) {
		bool is_key = false;
		for (size_t i = 0; keyed_by && i < keyed_by->nkeys; i++)
			is_key |= !strcmp(name, keyed_by->keys[i]);
		if (!is_key)
			return false;
	}
	return true;
}

static json_t *remove_fields(const struct walker *w, const json_t *v, const json_t *set, struct shape sh,
			     const struct sfield *keyed_by)
{
	enum node_kind nk = kind_of(sh, v);

	if (!set)
		return json_deep_copy(v);
	if (nk == N_LEAF)
		return member(set) ? NULL : json_deep_copy(v);
	json_t *out;
	const char *key;
	json_t *s;
	if (nk == N_STRUCT || nk == N_MAP) {
		out = json_deep_copy(v);
		json_object_foreach((json_t *)set, key, s) {
			if (strncmp(key, "f:", 2) != 0)
				continue;
			json_t *c = json_object_get(v, key + 2);
			if (!c)
				continue;
			json_t *r = remove_fields(w, c, s, child_shape(w, sh, nk, key), NULL);
			if (r)
				json_object_set_new(out, key + 2, r);
			else
				json_object_del(out, key + 2);
		}
		if (member(set) && (keyed_by || nk == N_MAP) && only_keys(out, keyed_by)) {
			json_decref(out);
			return NULL;
		}
		return out;
	}
	out = json_array();
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item) {
		char *ik = nk == N_KEYED ? item_key(sh.f, item) : set_key(item);
		json_t *is = json_object_get(set, ik);
		if (nk == N_SET) {
			if (!member(is))
				json_array_append_new(out, json_deep_copy(item));
		} else {
			json_t *r = remove_fields(w, item, is, child_shape(w, sh, nk, ik), sh.f);
			if (r)
				json_array_append_new(out, r);
		}
		free(ik);
	}
	/* A list emptied by the removal goes (as the field it was), rather than staying []. */
	if (json_array_size(out) == 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *fs_remove(const struct fs_ctx *c, const json_t *obj, const json_t *set)
{
	struct walker w;
	struct shape root = { .root = true };

	walker_init(&w, c);
	json_t *r = remove_fields(&w, obj, set, root, NULL);
	return r ? r : json_object();
}

/* ---- printing ---- */

static void path_step(struct strbuf *p, const char *key)
{
	if (!strncmp(key, "f:", 2)) {
		sb_printf(p, ".%s", key + 2);
	} else if (!strncmp(key, "k:", 2)) {
		json_t *k = json_loads(key + 2, 0, NULL);
		const char *name;
		json_t *v;
		bool first = true;
		sb_addc(p, '[');
		json_object_foreach(k, name, v) {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			sb_printf(p, "%s%s=%s", first ? "" : ",", name, s);
			free(s);
			first = false;
		}
		sb_addc(p, ']');
		json_decref(k);
	} else if (!strncmp(key, "v:", 2)) {
		sb_printf(p, "[=%s]", key + 2);
	} else {
		sb_printf(p, "[%s]", key);
	}
}

static void paths(const json_t *n, const char *prefix, bool is_root, struct strbuf *out)
{
	const char *key;
	json_t *c;

	if (!is_root && member(n))
		sb_printf(out, "%s\n", prefix);
	json_object_foreach((json_t *)n, key, c) {
		if (!strcmp(key, "."))
			continue;
		struct strbuf p;
		sb_init(&p);
		sb_adds(&p, prefix);
		path_step(&p, key);
		paths(c, p.buf, false, out);
		sb_free(&p);
	}
}

void fs_paths(const json_t *set, struct strbuf *out)
{
	paths(set ? set : json_object(), "", true, out);
}
