#include "ferr.h"

#include <stdlib.h>
#include <string.h>

void ferrs_init(struct ferrs *e)
{
	e->v = NULL;
	e->n = e->cap = 0;
}

void ferrs_free(struct ferrs *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].path);
		free(e->v[i].value);
		free(e->v[i].detail);
	}
	free(e->v);
	ferrs_init(e);
}

static struct ferr *push(struct ferrs *e)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	return &e->v[e->n++];
}

void ferrs_add(struct ferrs *e, enum ferr_type type, const char *path, const char *value,
	       int line, int col, const char *fmt, ...)
{
	struct ferr *f = push(e);
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	if (fmt) {
		va_start(ap, fmt);
		sb_vprintf(&sb, fmt, ap);
		va_end(ap);
	}
	f->type = type;
	f->path = xstrdup(path ? path : "");
	f->value = value ? xstrdup(value) : NULL;
	f->detail = sb.len ? sb_detach(&sb) : NULL;
	sb_free(&sb);
	f->line = line;
	f->col = col;
}

void ferrs_append(struct ferrs *dst, const struct ferrs *src)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct ferr *s = &src->v[i];
		ferrs_add(dst, s->type, s->path, s->value, s->line, s->col, "%s",
			  s->detail ? s->detail : "");
		if (!s->detail) {
			free(dst->v[dst->n - 1].detail);
			dst->v[dst->n - 1].detail = NULL;
		}
	}
}

const char *ferr_type_text(enum ferr_type t)
{
	switch (t) {
	case FERR_REQUIRED: return "Required value";
	case FERR_INVALID: return "Invalid value";
	case FERR_NOT_SUPPORTED: return "Unsupported value";
	case FERR_DUPLICATE: return "Duplicate value";
	case FERR_FORBIDDEN: return "Forbidden";
	case FERR_TOO_LONG: return "Too long";
	case FERR_UNKNOWN: return "Unknown field";
	case FERR_SYNTAX: return "Syntax error";
	case FERR_ADVICE: return "Note";
	}
	return "Invalid value";
}

const char *ferr_type_reason(enum ferr_type t)
{
	switch (t) {
	case FERR_REQUIRED: return "FieldValueRequired";
	case FERR_INVALID: return "FieldValueInvalid";
	case FERR_NOT_SUPPORTED: return "FieldValueNotSupported";
	case FERR_DUPLICATE: return "FieldValueDuplicate";
	case FERR_FORBIDDEN: return "FieldValueForbidden";
	case FERR_TOO_LONG: return "FieldValueTooLong";
	case FERR_UNKNOWN: return "FieldValueInvalid";
	case FERR_SYNTAX: return "FieldValueInvalid";
	case FERR_ADVICE: return "FieldValueInvalid";
	}
	return "FieldValueInvalid";
}

void ferr_format(struct strbuf *sb, const struct ferr *f)
{
	if (f->type == FERR_UNKNOWN) {
		sb_printf(sb, "unknown field \"%s\"", f->path);
		if (f->detail)
			sb_printf(sb, " (%s)", f->detail);
		return;
	}
	if (f->type == FERR_SYNTAX) {
		sb_printf(sb, "%s", f->detail ? f->detail : "syntax error");
		return;
	}
	if (f->type == FERR_ADVICE) {
		sb_printf(sb, "%s: %s", f->path, f->detail ? f->detail : "");
		return;
	}
	if (f->path[0])
		sb_printf(sb, "%s: ", f->path);
	sb_adds(sb, ferr_type_text(f->type));
	if (f->value)
		sb_printf(sb, ": %s", f->value);
	if (f->detail)
		sb_printf(sb, ": %s", f->detail);
}
