/* Validation and defaulting of API objects against the schema, as the Kubernetes API
 * server does it: types, formats, ranges, enums, required fields, unknown fields, then
 * each kind's cross-field rules (kinds.c). Defaults are filled in place. */
#ifndef TULLE_VALIDATE_H
#define TULLE_VALIDATE_H

#include <jansson.h>
#include "../lib/doc.h"
#include "../lib/ferr.h"
#include "schema.h"

/* How unknown fields are treated (kubectl's --validate / fieldValidation). */
enum unknown_mode { UNKNOWN_STRICT, UNKNOWN_WARN, UNKNOWN_IGNORE };

struct vctx {
	const struct schema *schema;
	const struct doc *doc; /* for positions; may be NULL */
	struct ferrs *errs;
	struct ferrs *warnings; /* unknown fields in UNKNOWN_WARN mode; may be NULL */
	enum unknown_mode unknown;
	struct strbuf path;
	const struct skind *kind;
	/* Inside an element of a list without merge keys: defaults are not written there.
	 * Such a list is replaced whole by apply, so defaults stored in it would make every
	 * re-apply of the same manifest a change; its readers apply them instead. */
	int atomic_depth;
};

/* Validates obj (a whole object with apiVersion, kind, metadata). On success returns 0
 * and *kind; otherwise -EINVAL with errs filled. obj is defaulted in place.
 * doc (optional) supplies positions; obj must then be doc->root or inside it. */
int api_validate(json_t *obj, const struct doc *doc, enum unknown_mode unknown,
		 const struct skind **kind, struct ferrs *errs, struct ferrs *warnings);

/* For kind hooks: report an error on parent[key] (key NULL: parent[index]). */
void v_err(struct vctx *c, const json_t *parent, const char *key, size_t index,
	   enum ferr_type t, const char *path, const json_t *value, const char *fmt, ...)
	PRINTF_LIKE(8, 9);
/* A JSON value as kubectl quotes it in messages: 70000, "Foo". Caller frees. */
char *v_value_text(const json_t *v);
/* Validates a LabelSelector object's semantic rules (operators and values). */
void v_label_selector(struct vctx *c, const json_t *sel, const char *path);

/* Formats an object's errors, one per line:
 * FILE:LINE:COL: KIND "NS/NAME" is invalid: PATH: TYPE: VALUE: DETAIL */
void api_format_errors(struct strbuf *sb, const char *file, const json_t *obj,
		       const struct ferrs *errs);

#endif
