#include "doc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- position map: open addressing on (container pointer, key or index) ---- */

struct pos_ent {
	const json_t *parent;
	char *key; /* NULL for array elements */
	size_t index;
	int line, col;
};

struct posmap {
	struct pos_ent *v;
	size_t n, cap;
};

static uint64_t pos_hash(const json_t *parent, const char *key, size_t index)
{
	uint64_t h = (uint64_t)(uintptr_t)parent * 0x9E3779B97F4A7C15ull;

	if (key)
		for (const char *p = key; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001B3ull;
	else
		h ^= index * 0xC2B2AE3D27D4EB4Full;
	return h ^ (h >> 29);
}

static bool pos_match(const struct pos_ent *e, const json_t *parent, const char *key,
		      size_t index)
{
	if (e->parent != parent)
		return false;
	if (key)
		return e->key && strcmp(e->key, key) == 0;
	return !e->key && e->index == index;
}

static void pos_put(struct posmap *m, const json_t *parent, const char *key, size_t index,
		    int line, int col);

static void pos_grow(struct posmap *m)
{
	struct pos_ent *old = m->v;
	size_t oldcap = m->cap;

	m->cap = m->cap ? m->cap * 2 : 256;
	m->v = xcalloc(m->cap, sizeof(*m->v));
	m->n = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].parent)
			continue;
		pos_put(m, old[i].parent, old[i].key, old[i].index, old[i].line, old[i].col);
		free(old[i].key);
	}
	free(old);
}

static void pos_put(struct posmap *m, const json_t *parent, const char *key, size_t index,
		    int line, int col)
{
	if ((m->n + 1) * 2 > m->cap)
		pos_grow(m);
	size_t i = pos_hash(parent, key, index) & (m->cap - 1);
	while (m->v[i].parent) {
		if (pos_match(&m->v[i], parent, key, index)) {
			m->v[i].line = line;
			m->v[i].col = col;
			return;
		}
		i = (i + 1) & (m->cap - 1);
	}
	m->v[i] = (struct pos_ent){ parent, key ? xstrdup(key) : NULL, index, line, col };
	m->n++;
}

static const struct pos_ent *pos_get(const struct posmap *m, const json_t *parent,
				     const char *key, size_t index)
{
	if (!m || !m->cap)
		return NULL;
	size_t i = pos_hash(parent, key, index) & (m->cap - 1);
	while (m->v[i].parent) {
		if (pos_match(&m->v[i], parent, key, index))
			return &m->v[i];
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

static void posmap_free(struct posmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->v[i].key);
	free(m->v);
	free(m);
}

void doc_pos_key(const struct doc *d, const json_t *parent, const char *key, int *line,
		 int *col)
{
	const struct pos_ent *e = pos_get(d->pos, parent, key, 0);

	*line = e ? e->line : d->line;
	*col = e ? e->col : d->col;
}

void doc_pos_index(const struct doc *d, const json_t *parent, size_t index, int *line,
		   int *col)
{
	const struct pos_ent *e = pos_get(d->pos, parent, NULL, index);

	*line = e ? e->line : d->line;
	*col = e ? e->col : d->col;
}

/* ---- scalar resolution, as YAML 1.1 (go-yaml v2, which kubectl uses) does it ---- */

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

static const char *const null_words[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const true_words[] = { "y", "Y", "yes", "Yes", "YES", "true", "True",
					   "TRUE", "on", "On", "ON", NULL };
static const char *const false_words[] = { "n", "N", "no", "No", "NO", "false", "False",
					    "FALSE", "off", "Off", "OFF", NULL };

/* Parses an integer in the forms YAML 1.1 allows; false when s is not one. */
static bool parse_int(const char *s, json_int_t *out)
{
	const char *p = s;
	int base = 10, neg = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	else if (p[0] == '0' && p[1])
		base = 8, p += 1;
	if (!*p)
		return false;
	unsigned long long v = 0;
	for (; *p; p++) {
		int d;
		if (*p == '_')
			continue;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return false;
		if (d >= base)
			return false;
		if (v > (0x7fffffffffffffffull - (unsigned)d) / (unsigned)base + 1)
			return false; /* too large: keep it as a string-like float below */
		v = v * (unsigned)base + (unsigned)d;
	}
	if (v > 0x7fffffffffffffffull + (unsigned)neg)
		return false;
	*out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
	return true;
}

static bool parse_float(const char *s, double *out)
{
	const char *p = s;

	if (!strcmp(s, ".inf") || !strcmp(s, "+.inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF")) {
		*out = INFINITY;
		return true;
	}
	if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF")) {
		*out = -INFINITY;
		return true;
	}
	p = scan_decimal(p);
	if (!p)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return false;
	*out = strtod(s, NULL);
	return true;
}

bool doc_plain_is_string(const char *s)
{
	json_int_t iv;
	double dv;

	return !one_of(s, null_words) && !one_of(s, true_words) && !one_of(s, false_words) &&
	       !parse_int(s, &iv) && !parse_float(s, &dv);
}

static json_t *resolve_scalar(const yaml_event_t *e, struct ferrs *errs, const char *file)
{
	const char *s = (const char *)e->data.scalar.value;
	size_t len = e->data.scalar.length;
	const char *tag = (const char *)e->data.scalar.tag;
	json_int_t iv;
	double dv;

	if (strlen(s) != len) {
		ferrs_add(errs, FERR_SYNTAX, "", NULL, (int)e->start_mark.line + 1,
			  (int)e->start_mark.column + 1,
			  "%s:%zu:%zu: a string contains a NUL character", file,
			  e->start_mark.line + 1, e->start_mark.column + 1);
		return NULL;
	}
	if (tag && strcmp(tag, "tag:yaml.org,2002:str") == 0)
		return json_stringn(s, len);
	bool plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (!plain && !tag)
		return json_stringn(s, len);
	if (one_of(s, null_words))
		return json_null();
	if (one_of(s, true_words))
		return json_true();
	if (one_of(s, false_words))
		return json_false();
	if (parse_int(s, &iv))
		return json_integer(iv);
	if (parse_float(s, &dv) && isfinite(dv))
		return json_real(dv);
	return json_stringn(s, len);
}

/* ---- event-driven tree builder with an explicit stack (no recursion on input) ---- */

struct anchor {
	char *name;
	json_t *node;
};

struct frame {
	json_t *node;
	char *pending_key; /* mapping: key waiting for its value */
	int key_line, key_col;
	bool merge_key;    /* pending key is "<<" */
	yaml_mark_t start; /* where the container began */
};

struct builder {
	const char *file;
	struct ferrs *errs;
	struct ferrs *dups; /* duplicate keys go here (last one wins) instead of failing */
	struct posmap *pos;
	struct frame stack[DOC_MAX_DEPTH];
	int depth;
	struct anchor *anchors;
	size_t nanchors;
	size_t nodes;
	json_t *root;
	bool failed;
};

static void fail(struct builder *b, const yaml_mark_t *m, const char *what)
{
	if (b->failed)
		return;
	b->failed = true;
	ferrs_add(b->errs, FERR_SYNTAX, "", NULL, (int)m->line + 1, (int)m->column + 1,
		  "%s:%zu:%zu: %s", b->file, m->line + 1, m->column + 1, what);
}

static json_t *find_anchor(struct builder *b, const char *name)
{
	for (size_t i = b->nanchors; i-- > 0;)
		if (strcmp(b->anchors[i].name, name) == 0)
			return b->anchors[i].node;
	return NULL;
}

static void add_anchor(struct builder *b, const char *name, json_t *node)
{
	b->anchors = xrealloc(b->anchors, (b->nanchors + 1) * sizeof(*b->anchors));
	b->anchors[b->nanchors++] = (struct anchor){ xstrdup(name), json_incref(node) };
}

static size_t count_nodes(const json_t *j)
{
	size_t n = 1;
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j))
		json_object_foreach((json_t *)j, k, v) n += count_nodes(v);
	else if (json_is_array(j))
		json_array_foreach(j, i, v) n += count_nodes(v);
	return n;
}

/* Merge key "<<": copy members the mapping does not already have. */
static void merge_into(struct builder *b, json_t *dst, json_t *src, const yaml_mark_t *m)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_array(src)) {
		json_array_foreach(src, i, v) merge_into(b, dst, v, m);
		return;
	}
	if (!json_is_object(src)) {
		fail(b, m, "a merge key (<<) must refer to a mapping or a list of mappings");
		return;
	}
	json_object_foreach(src, k, v) {
		if (!json_object_get(dst, k))
			json_object_set_new(dst, k, json_deep_copy(v));
	}
}

/* "spec.containers[0].name": where the value being placed goes. */
static char *frame_path(const struct builder *b)
{
	struct strbuf sb;

	sb_init(&sb);
	for (int i = 0; i < b->depth; i++) {
		const struct frame *f = &b->stack[i];
		if (json_is_array(f->node))
			sb_printf(&sb, "[%zu]", json_array_size(f->node));
		else if (f->pending_key)
			sb_printf(&sb, "%s%s", sb.len ? "." : "", f->pending_key);
	}
	return sb.buf ? sb.buf : xstrdup("");
}

/* Places a finished node into its parent (or as the root). Takes the reference. */
static void attach(struct builder *b, json_t *node, const yaml_mark_t *m)
{
	if (b->depth == 0) {
		b->root = node;
		return;
	}
	struct frame *f = &b->stack[b->depth - 1];
	if (json_is_array(f->node)) {
		pos_put(b->pos, f->node, NULL, json_array_size(f->node), (int)m->line + 1,
			(int)m->column + 1);
		json_array_append_new(f->node, node);
		return;
	}
	if (!f->pending_key) {
		/* This node is a key. Keys must be scalars (Kubernetes has no complex keys). */
		if (json_is_string(node))
			f->pending_key = xstrdup(json_string_value(node));
		else if (json_is_integer(node))
			f->pending_key = xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(node));
		else if (json_is_boolean(node))
			f->pending_key = xstrdup(json_is_true(node) ? "true" : "false");
		else if (json_is_null(node))
			f->pending_key = xstrdup("null");
		else if (json_is_real(node))
			f->pending_key = xasprintf("%g", json_real_value(node));
		else
			fail(b, m, "a mapping key must be a scalar");
		f->merge_key = f->pending_key && strcmp(f->pending_key, "<<") == 0;
		f->key_line = (int)m->line + 1;
		f->key_col = (int)m->column + 1;
		json_decref(node);
		return;
	}
	if (f->merge_key) {
		merge_into(b, f->node, node, m);
		json_decref(node);
	} else if (json_object_get(f->node, f->pending_key) && !b->dups) {
		char *msg = xasprintf("duplicate key \"%s\" (first defined earlier in this mapping)",
				      f->pending_key);
		yaml_mark_t km = { 0, (size_t)f->key_line - 1, (size_t)f->key_col - 1 };
		fail(b, &km, msg);
		free(msg);
		json_decref(node);
	} else {
		if (json_object_get(f->node, f->pending_key)) { /* a duplicate, recorded: the last one wins */
			char *path = frame_path(b);
			ferrs_add(b->dups, FERR_DUPLICATE, path, NULL, f->key_line, f->key_col, "duplicate field \"%s\"", path);
			free(path);
		}
		pos_put(b->pos, f->node, f->pending_key, 0, (int)m->line + 1, (int)m->column + 1);
		json_object_set_new(f->node, f->pending_key, node);
	}
	free(f->pending_key);
	f->pending_key = NULL;
	f->merge_key = false;
}

static void push(struct builder *b, json_t *node, const yaml_event_t *e, const char *anchor)
{
	if (b->depth >= DOC_MAX_DEPTH) {
		fail(b, &e->start_mark, "nesting is deeper than 128 levels");
		json_decref(node);
		return;
	}
	if (anchor)
		add_anchor(b, anchor, node);
	b->stack[b->depth++] = (struct frame){ .node = node, .start = e->start_mark };
}

static void pop(struct builder *b, const yaml_event_t *e)
{
	struct frame *f = &b->stack[--b->depth];

	(void)e;
	if (f->pending_key) {
		free(f->pending_key);
		f->pending_key = NULL;
	}
	attach(b, f->node, &f->start);
}

static void builder_reset(struct builder *b)
{
	while (b->depth > 0) {
		struct frame *f = &b->stack[--b->depth];
		free(f->pending_key);
		json_decref(f->node);
	}
	for (size_t i = 0; i < b->nanchors; i++) {
		free(b->anchors[i].name);
		json_decref(b->anchors[i].node);
	}
	free(b->anchors);
	b->anchors = NULL;
	b->nanchors = 0;
	json_decref(b->root);
	b->root = NULL;
}

static void handle(struct builder *b, const yaml_event_t *e)
{
	json_t *n;

	switch (e->type) {
	case YAML_SCALAR_EVENT:
		n = resolve_scalar(e, b->errs, b->file);
		if (!n) {
			b->failed = true;
			return;
		}
		if (++b->nodes > DOC_MAX_NODES) {
			fail(b, &e->start_mark, "document has too many nodes");
			json_decref(n);
			return;
		}
		if (e->data.scalar.anchor)
			add_anchor(b, (const char *)e->data.scalar.anchor, n);
		attach(b, n, &e->start_mark);
		break;
	case YAML_SEQUENCE_START_EVENT:
		push(b, json_array(), e, (const char *)e->data.sequence_start.anchor);
		break;
	case YAML_MAPPING_START_EVENT:
		push(b, json_object(), e, (const char *)e->data.mapping_start.anchor);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		pop(b, e);
		break;
	case YAML_ALIAS_EVENT: {
		json_t *a = find_anchor(b, (const char *)e->data.alias.anchor);
		if (!a) {
			fail(b, &e->start_mark, "alias refers to an unknown anchor");
			return;
		}
		/* Copies (not shared references) so later defaulting cannot alter two places;
		 * the node budget stops "billion laughs" expansion. */
		b->nodes += count_nodes(a);
		if (b->nodes > DOC_MAX_NODES) {
			fail(b, &e->start_mark, "aliases expand to too many nodes");
			return;
		}
		attach(b, json_deep_copy(a), &e->start_mark);
		break;
	}
	default:
		break;
	}
}

int doc_load_all(const char *buf, size_t len, const char *file, struct doc ***docs,
		 size_t *ndocs, struct ferrs *errs)
{
	return doc_load_all_dups(buf, len, file, docs, ndocs, errs, NULL);
}

int doc_load_all_dups(const char *buf, size_t len, const char *file, struct doc ***docs,
		      size_t *ndocs, struct ferrs *errs, struct ferrs *dups)
{
	yaml_parser_t p;
	yaml_event_t e;
	struct builder b = { .file = file, .errs = errs, .dups = dups };
	struct doc **out = NULL;
	size_t n = 0;
	int doc_line = 1, doc_col = 1;
	bool done = false;

	*docs = NULL;
	*ndocs = 0;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	b.pos = xcalloc(1, sizeof(*b.pos));
	while (!done && !b.failed) {
		if (!yaml_parser_parse(&p, &e)) {
			char *msg = xasprintf("YAML syntax error: %s%s%s", p.problem ? p.problem : "invalid input",
					      p.context ? " " : "", p.context ? p.context : "");
			fail(&b, &p.problem_mark, msg);
			free(msg);
			break;
		}
		if (e.type == YAML_DOCUMENT_START_EVENT) {
			doc_line = (int)e.start_mark.line + 1;
			doc_col = (int)e.start_mark.column + 1;
		} else if (e.type == YAML_DOCUMENT_END_EVENT) {
			if (b.root && !json_is_null(b.root)) {
				struct doc *d = xcalloc(1, sizeof(*d));
				d->root = b.root;
				d->file = xstrdup(file);
				d->pos = b.pos;
				d->line = doc_line;
				d->col = doc_col;
				b.root = NULL;
				b.pos = xcalloc(1, sizeof(*b.pos));
				out = xrealloc(out, (n + 1) * sizeof(*out));
				out[n++] = d;
			}
			builder_reset(&b);
		} else if (e.type == YAML_STREAM_END_EVENT) {
			done = true;
		} else {
			handle(&b, &e);
		}
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	builder_reset(&b);
	posmap_free(b.pos);
	if (b.failed) {
		docs_free(out, n);
		return -EINVAL;
	}
	*docs = out;
	*ndocs = n;
	return 0;
}

void doc_free(struct doc *d)
{
	if (!d)
		return;
	json_decref(d->root);
	posmap_free(d->pos);
	free(d->file);
	free(d);
}

void docs_free(struct doc **docs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		doc_free(docs[i]);
	free(docs);
}
