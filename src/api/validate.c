#include "validate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "kinds.h"

char *v_value_text(const json_t *v)
{
	if (!v)
		return NULL;
	if (json_is_object(v))
		return xstrdup("object");
	if (json_is_array(v))
		return xstrdup("array");
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

void v_err(struct vctx *c, const json_t *parent, const char *key, size_t index,
	   enum ferr_type t, const char *path, const json_t *value, const char *fmt, ...)
{
	int line = 0, col = 0;
	char *vt = v_value_text(value);
	struct strbuf sb;
	va_list ap;

	if (c->doc && parent) {
		if (key)
			doc_pos_key(c->doc, parent, key, &line, &col);
		else
			doc_pos_index(c->doc, parent, index, &line, &col);
	}
	sb_init(&sb);
	if (fmt) {
		va_start(ap, fmt);
		sb_vprintf(&sb, fmt, ap);
		va_end(ap);
	}
	ferrs_add(c->errs, t, path, vt, line, col, sb.len ? "%s" : NULL, sb.buf);
	sb_free(&sb);
	free(vt);
}

static const char *type_name(enum st_base b)
{
	switch (b) {
	case ST_STRING: return "string";
	case ST_INT: return "integer";
	case ST_NUMBER: return "number";
	case ST_BOOL: return "boolean";
	case ST_INTSTR: return "integer or string";
	case ST_QUANTITY: return "quantity";
	case ST_LIST: return "array";
	default: return "object";
	}
}

/* Position context for the value being checked. */
struct at {
	json_t *parent;
	const char *key;
	size_t index;
};

static void err_at(struct vctx *c, const struct at *a, enum ferr_type t, const json_t *v,
		   const char *fmt, ...) PRINTF_LIKE(5, 6);

static void err_at(struct vctx *c, const struct at *a, enum ferr_type t, const json_t *v,
		   const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	if (fmt) {
		va_start(ap, fmt);
		sb_vprintf(&sb, fmt, ap);
		va_end(ap);
	}
	v_err(c, a->parent, a->key, a->index, t, c->path.buf ? c->path.buf : "", v,
	      sb.len ? "%s" : NULL, sb.buf);
	sb_free(&sb);
}

static void check_enum(struct vctx *c, const struct at *a, const struct sfield *f, json_t *v)
{
	char buf[32];
	const char *s = json_string_value(v);

	if (!f->nenums)
		return;
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		s = buf;
	}
	if (!s)
		return;
	for (size_t i = 0; i < f->nenums; i++)
		if (strcmp(f->enums[i], s) == 0)
			return;
	struct strbuf sb;
	sb_init(&sb);
	sb_adds(&sb, "supported values: ");
	for (size_t i = 0; i < f->nenums; i++)
		sb_printf(&sb, "%s\"%s\"", i ? ", " : "", f->enums[i]);
	err_at(c, a, FERR_NOT_SUPPORTED, v, "%s", sb.buf);
	sb_free(&sb);
}

static void check_range(struct vctx *c, const struct at *a, const struct sfield *f, json_t *v)
{
	json_int_t n = json_integer_value(v);

	if (f->has_min && f->has_max && (n < f->min || n > f->max))
		err_at(c, a, FERR_INVALID, v, "must be between %lld and %lld, inclusive",
		       (long long)f->min, (long long)f->max);
	else if (f->has_min && !f->has_max && n < f->min)
		err_at(c, a, FERR_INVALID, v, "must be greater than or equal to %lld", (long long)f->min);
	else if (f->has_max && !f->has_min && n > f->max)
		err_at(c, a, FERR_INVALID, v, "must be less than or equal to %lld", (long long)f->max);
}

static void check_format(struct vctx *c, const struct at *a, const struct sfield *f, json_t *v)
{
	char *msg;

	if (!f->format || !json_is_string(v))
		return;
	msg = format_check(f->format, json_string_value(v));
	if (msg) {
		err_at(c, a, FERR_INVALID, v, "%s", msg);
		free(msg);
	}
}

static bool is_quantity(const char *s)
{
	/* Kubernetes resource.Quantity: signed decimal or exponent, optional suffix. */
	static const char *const suffixes[] = { "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m",
						"k", "M", "G", "T", "P", "E", "" };
	const char *p = scan_decimal(s);

	if (!p)
		return false;
	if ((*p == 'e' || *p == 'E') && p[1]) {
		const char *q = p + 1;
		if (*q == '+' || *q == '-')
			q++;
		if (*q >= '0' && *q <= '9') {
			while (*q >= '0' && *q <= '9')
				q++;
			return *q == 0;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (strcmp(p, suffixes[i]) == 0)
			return true;
	return false;
}

static void walk_value(struct vctx *c, const struct at *a, json_t *v, const struct sfield *f,
		       const struct stype *t);
static void walk_struct(struct vctx *c, json_t *obj, const struct sstruct *st,
			const struct at *self);

static void path_push_key(struct vctx *c, const char *key)
{
	if (c->path.len)
		sb_addc(&c->path, '.');
	sb_adds(&c->path, key);
}

static void path_truncate(struct vctx *c, size_t len)
{
	c->path.len = len;
	if (c->path.buf)
		c->path.buf[len] = 0;
}

static void walk_string_map(struct vctx *c, const struct at *a, json_t *v, bool labels,
			    bool annotations)
{
	const char *k;
	json_t *val;
	size_t total = 0;

	if (!json_is_object(v)) {
		err_at(c, a, FERR_INVALID, v, "must be of type object");
		return;
	}
	json_object_foreach(v, k, val) {
		size_t base = c->path.len;
		sb_printf(&c->path, "[%s]", k);
		struct at ka = { v, k, 0 };
		if (!json_is_string(val)) {
			err_at(c, &ka, FERR_INVALID, val, "must be of type string");
		} else if (labels || annotations) {
			char *msg = label_key_check(k);
			if (msg) {
				json_t *kj = json_string(k);
				err_at(c, &ka, FERR_INVALID, kj, "%s", msg);
				json_decref(kj);
				free(msg);
			}
			if (labels && (msg = label_value_check(json_string_value(val)))) {
				err_at(c, &ka, FERR_INVALID, val, "%s", msg);
				free(msg);
			}
			total += strlen(k) + json_string_length(val);
		}
		path_truncate(c, base);
	}
	if (annotations && total > 256 * 1024)
		err_at(c, a, FERR_TOO_LONG, NULL, "may not be more than 262144 bytes");
}

static bool same_key(const json_t *x, const json_t *y, const struct sfield *f)
{
	for (size_t i = 0; i < f->nkeys; i++) {
		json_t *a = json_object_get(x, f->keys[i]), *b = json_object_get(y, f->keys[i]);
		if (!a || !b || !json_equal(a, b))
			return false;
	}
	return true;
}

static void walk_list(struct vctx *c, const struct at *a, json_t *v, const struct sfield *f,
		      const struct stype *t)
{
	size_t i;
	json_t *el;

	if (!json_is_array(v)) {
		err_at(c, a, FERR_INVALID, v, "must be of type array");
		return;
	}
	json_array_foreach(v, i, el) {
		size_t base = c->path.len;
		sb_printf(&c->path, "[%zu]", i);
		struct at ea = { v, NULL, i };
		if (json_is_null(el))
			err_at(c, &ea, FERR_INVALID, el, "list items may not be null");
		else {
			c->atomic_depth += !f->nkeys;
			walk_value(c, &ea, el, f, t->elem);
			c->atomic_depth -= !f->nkeys;
		}
		/* Uniqueness: scalar sets and merge keys (Kubernetes reports the later one). */
		for (size_t j = 0; j < i; j++) {
			json_t *prev = json_array_get(v, j);
			bool dup = (f->set && json_equal(prev, el)) ||
				   (f->nkeys && json_is_object(el) && same_key(prev, el, f));
			if (dup) {
				json_t *shown = f->nkeys ? json_object_get(el, f->keys[0]) : el;
				err_at(c, &ea, FERR_DUPLICATE, shown, NULL);
				break;
			}
		}
		path_truncate(c, base);
	}
}

static void walk_map(struct vctx *c, const struct at *a, json_t *v, const struct sfield *f,
		     const struct stype *t)
{
	const char *k;
	json_t *val;

	if (!json_is_object(v)) {
		err_at(c, a, FERR_INVALID, v, "must be of type object");
		return;
	}
	json_object_foreach(v, k, val) {
		size_t base = c->path.len;
		sb_printf(&c->path, "[%s]", k);
		struct at ka = { v, k, 0 };
		walk_value(c, &ka, val, f, t->elem);
		path_truncate(c, base);
	}
}

static void walk_value(struct vctx *c, const struct at *a, json_t *v, const struct sfield *f,
		       const struct stype *t)
{
	bool ok = true;

	switch (t->base) {
	case ST_STRING:
		ok = json_is_string(v);
		break;
	case ST_INT:
		ok = json_is_integer(v);
		break;
	case ST_NUMBER:
		ok = json_is_number(v);
		break;
	case ST_BOOL:
		ok = json_is_boolean(v);
		break;
	case ST_INTSTR:
		ok = json_is_integer(v) || json_is_string(v);
		break;
	case ST_QUANTITY:
		ok = json_is_number(v) || (json_is_string(v) && is_quantity(json_string_value(v)));
		if (!ok) {
			err_at(c, a, FERR_INVALID, v, "must be a quantity (a number such as 10, 0.5 or 900m)");
			return;
		}
		break;
	case ST_ANY:
		return;
	case ST_OBJECT:
		ok = json_is_object(v);
		break;
	case ST_LABELS:
	case ST_ANNOTATIONS:
		walk_string_map(c, a, v, t->base == ST_LABELS, t->base == ST_ANNOTATIONS);
		return;
	case ST_STRUCT:
		if (!json_is_object(v)) {
			ok = false;
			break;
		}
		walk_struct(c, v, t->st, a);
		if (!strcmp(t->st->name, "LabelSelector") || !strcmp(t->st->name, "CiliumLabelSelector"))
			v_label_selector(c, v, c->path.buf);
		return;
	case ST_LIST:
		walk_list(c, a, v, f, t);
		return;
	case ST_MAP:
		walk_map(c, a, v, f, t);
		return;
	}
	if (!ok) {
		err_at(c, a, FERR_INVALID, v, "must be of type %s", type_name(t->base));
		return;
	}
	if (json_is_string(v) && f->maxlen && json_string_length(v) > f->maxlen)
		err_at(c, a, FERR_TOO_LONG, v, "may not be longer than %zu", f->maxlen);
	check_enum(c, a, f, v);
	if (json_is_integer(v)) {
		if (t->base == ST_INTSTR && f->format == FMT_PORT_OR_NAME) {
			json_int_t n = json_integer_value(v);
			if (n < 1 || n > 65535)
				err_at(c, a, FERR_INVALID, v, "must be between 1 and 65535, inclusive");
		} else {
			check_range(c, a, f, v);
		}
	}
	check_format(c, a, f, v);
}

static void walk_struct(struct vctx *c, json_t *obj, const struct sstruct *st,
			const struct at *self)
{
	const char *k;
	json_t *v, *tmp;
	size_t base = c->path.len;

	json_object_foreach_safe(obj, tmp, k, v) {
		const struct sfield *f = sstruct_field(st, k);
		struct at a = { obj, k, 0 };
		path_push_key(c, k);
		if (!f) {
			if (c->unknown == UNKNOWN_STRICT) {
				v_err(c, obj, k, 0, FERR_UNKNOWN, c->path.buf, NULL, NULL);
			} else {
				if (c->unknown == UNKNOWN_WARN && c->warnings)
					ferrs_add(c->warnings, FERR_UNKNOWN, c->path.buf, NULL, 0, 0, NULL);
				json_object_del(obj, k);
			}
		} else if (json_is_null(v)) {
			/* Kubernetes treats an explicit null as an absent optional field. */
			json_object_del(obj, k);
		} else {
			walk_value(c, &a, v, f, &f->type);
		}
		path_truncate(c, base);
	}
	for (size_t i = 0; i < st->nfields; i++) {
		const struct sfield *f = &st->fields[i];
		if (json_object_get(obj, f->name))
			continue;
		if (f->required) {
			path_push_key(c, f->name);
			/* Points at the enclosing object, which is where the field is missing. */
			v_err(c, self ? self->parent : NULL, self ? self->key : NULL,
			      self ? self->index : 0, FERR_REQUIRED, c->path.buf, NULL, NULL);
			path_truncate(c, base);
		} else if (f->dflt && !c->atomic_depth) {
			json_object_set(obj, f->name, f->dflt);
		}
	}
}

void v_label_selector(struct vctx *c, const json_t *sel, const char *path)
{
	size_t i;
	json_t *req;

	json_array_foreach(json_object_get(sel, "matchExpressions"), i, req) {
		const char *op = json_string_value(json_object_get(req, "operator"));
		json_t *vals = json_object_get(req, "values");
		size_t n = json_array_size(vals);
		char *p = xasprintf("%s.matchExpressions[%zu].values", path ? path : "", i);
		if (op && (!strcmp(op, "In") || !strcmp(op, "NotIn")) && n == 0)
			v_err(c, req, "operator", 0, FERR_REQUIRED, p, NULL,
			      "must be specified when `operator` is 'In' or 'NotIn'");
		else if (op && (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) && n > 0)
			v_err(c, req, "values", 0, FERR_FORBIDDEN, p, NULL,
			      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
		size_t j;
		json_t *val;
		json_array_foreach(vals, j, val) {
			char *msg = json_is_string(val) ? label_value_check(json_string_value(val)) : NULL;
			if (msg) {
				char *pj = xasprintf("%s[%zu]", p, j);
				v_err(c, vals, NULL, j, FERR_INVALID, pj, val, "%s", msg);
				free(pj);
				free(msg);
			}
		}
		free(p);
	}
}

static void check_metadata(struct vctx *c, json_t *obj, const struct skind *k)
{
	json_t *md = json_object_get(obj, "metadata");
	const struct sstruct *meta = schema_struct(c->schema, "ObjectMeta");

	if (!md || json_is_null(md)) {
		if (k->local)
			return;
		md = json_object();
		json_object_set_new(obj, "metadata", md);
	}
	if (!json_is_object(md)) {
		v_err(c, obj, "metadata", 0, FERR_INVALID, "metadata", md, "must be of type object");
		return;
	}
	sb_reset(&c->path);
	sb_adds(&c->path, "metadata");
	struct at self = { obj, "metadata", 0 };
	walk_struct(c, md, meta, &self);
	sb_reset(&c->path);
	if (k->local)
		return;
	json_t *name = json_object_get(md, "name");
	const char *gen = json_string_value(json_object_get(md, "generateName"));
	if (!name && !gen) {
		ferrs_add(c->errs, FERR_REQUIRED, "metadata.name", NULL, 0, 0,
			  "name or generateName is required");
	} else if (json_is_string(name)) {
		char *msg = format_check(k->name_format, json_string_value(name));
		if (msg) {
			v_err(c, md, "name", 0, FERR_INVALID, "metadata.name", name, "%s", msg);
			free(msg);
		}
	}
	/* As the API server's BeforeCreate: cluster-scoped objects have no namespace. */
	if (!k->namespaced)
		json_object_del(md, "namespace");
}

int api_validate(json_t *obj, const struct doc *doc, enum unknown_mode unknown,
		 const struct skind **kind, struct ferrs *errs, struct ferrs *warnings)
{
	struct vctx c = { .schema = schema_get(), .doc = doc, .errs = errs,
			  .warnings = warnings, .unknown = unknown };
	size_t before = errs->n;
	const char *k;
	json_t *v, *tmp;

	*kind = NULL;
	if (!json_is_object(obj)) {
		ferrs_add(errs, FERR_INVALID, "", NULL, doc ? doc->line : 0, doc ? doc->col : 0,
			  "an object must be a mapping with apiVersion, kind and metadata");
		return -EINVAL;
	}
	json_t *av = json_object_get(obj, "apiVersion"), *kd = json_object_get(obj, "kind");
	if (!json_is_string(kd) || !json_string_length(kd)) {
		v_err(&c, obj, "kind", 0, FERR_REQUIRED, "kind", NULL, "Object 'Kind' is missing");
		return -EINVAL;
	}
	if (!json_is_string(av) || !json_string_length(av)) {
		v_err(&c, obj, "apiVersion", 0, FERR_REQUIRED, "apiVersion", NULL,
		      "Object 'apiVersion' is missing");
		return -EINVAL;
	}
	const struct skind *sk = schema_kind_gvk(c.schema, json_string_value(av), json_string_value(kd));
	if (!sk) {
		v_err(&c, obj, "kind", 0, FERR_NOT_SUPPORTED, "kind", kd,
		      "no matches for kind \"%s\" in version \"%s\"", json_string_value(kd),
		      json_string_value(av));
		return -EINVAL;
	}
	c.kind = sk;
	check_metadata(&c, obj, sk);
	json_object_foreach_safe(obj, tmp, k, v) {
		if (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "metadata"))
			continue;
		const struct sfield *f = sstruct_field(&sk->body, k);
		struct at a = { obj, k, 0 };
		sb_reset(&c.path);
		sb_adds(&c.path, k);
		if (!f) {
			if (unknown == UNKNOWN_STRICT) {
				v_err(&c, obj, k, 0, FERR_UNKNOWN, k, NULL, NULL);
			} else {
				if (unknown == UNKNOWN_WARN && warnings)
					ferrs_add(warnings, FERR_UNKNOWN, k, NULL, 0, 0, NULL);
				json_object_del(obj, k);
			}
		} else if (json_is_null(v)) {
			json_object_del(obj, k);
		} else {
			walk_value(&c, &a, v, f, &f->type);
		}
	}
	sb_reset(&c.path);
	for (size_t i = 0; i < sk->body.nfields; i++) {
		const struct sfield *f = &sk->body.fields[i];
		if (json_object_get(obj, f->name))
			continue;
		if (f->required)
			ferrs_add(errs, FERR_REQUIRED, f->name, NULL, doc ? doc->line : 0,
				  doc ? doc->col : 0, NULL);
		else if (f->dflt)
			json_object_set(obj, f->name, f->dflt);
	}
	if (errs->n == before)
		kinds_check(&c, obj, sk);
	sb_free(&c.path);
	if (errs->n != before)
		return -EINVAL;
	*kind = sk;
	return 0;
}

void api_format_errors(struct strbuf *sb, const char *file, const json_t *obj,
		       const struct ferrs *errs)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));

	for (size_t i = 0; i < errs->n; i++) {
		const struct ferr *f = &errs->v[i];
		if (f->type == FERR_SYNTAX) {
			sb_printf(sb, "%s\n", f->detail ? f->detail : "syntax error");
			continue;
		}
		if (file)
			sb_printf(sb, "%s:%d:%d: ", file, f->line ? f->line : 1, f->col ? f->col : 1);
		if (kind)
			sb_printf(sb, "%s \"%s%s%s\" is invalid: ", kind, ns ? ns : "", ns ? "/" : "",
				  name ? name : "");
		ferr_format(sb, f);
		sb_addc(sb, '\n');
	}
}
