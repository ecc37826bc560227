/* Field errors: what is wrong with which field of which object, in Kubernetes' terms.
 * The same list feeds CLI messages (with file:line:col) and API Status causes. */
#ifndef TULLE_FERR_H
#define TULLE_FERR_H

#include <stddef.h>
#include "util.h"

/* Kubernetes' field.ErrorType values, so API causes carry the same reasons. */
enum ferr_type {
	FERR_REQUIRED,      /* "Required value" */
	FERR_INVALID,       /* "Invalid value" */
	FERR_NOT_SUPPORTED, /* "Unsupported value" */
	FERR_DUPLICATE,     /* "Duplicate value" */
	FERR_FORBIDDEN,     /* "Forbidden" */
	FERR_TOO_LONG,      /* "Too long" */
	FERR_UNKNOWN,       /* "Unknown field" (strict decoding) */
	FERR_SYNTAX,        /* the document itself does not parse */
	FERR_ADVICE,        /* not an error: a warning about a likely mistake ("path: detail") */
};

struct ferr {
	enum ferr_type type;
	char *path;   /* "spec.ports[0].port" */
	char *value;  /* the offending value as text, or NULL */
	char *detail; /* what is expected */
	int line, col; /* 1-based source position, 0 when unknown */
};

struct ferrs {
	struct ferr *v;
	size_t n, cap;
};

void ferrs_init(struct ferrs *e);
void ferrs_free(struct ferrs *e);
void ferrs_add(struct ferrs *e, enum ferr_type type, const char *path, const char *value,
	       int line, int col, const char *fmt, ...) PRINTF_LIKE(7, 8);
void ferrs_append(struct ferrs *dst, const struct ferrs *src);
const char *ferr_type_text(enum ferr_type t);
const char *ferr_type_reason(enum ferr_type t);
/* "spec.ports[0].port: Invalid value: 70000: must be ..." as kubectl prints it. */
void ferr_format(struct strbuf *sb, const struct ferr *f);

#endif
