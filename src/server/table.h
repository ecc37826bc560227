/* Server-side Table responses for kubectl. */
#ifndef TULLE_TABLE_H
#define TULLE_TABLE_H

#include <jansson.h>
#include <stdbool.h>

#include "../lib/http.h"
#include "../lib/util.h"

/* Whether the request asks for a meta.k8s.io Table. */
bool table_wanted(const struct http_msg *req);
/* A Table of a list ({"items": [...]}) or of one object. */
json_t *table_from(const char *kind, const json_t *list_or_obj, const char *include);

/* The same, streamed for long lists: the column definitions, then a row per object
 * appended as JSON text (include as above). */
json_t *table_columns(const char *kind);
void table_row_append(struct strbuf *out, const char *kind, const json_t *obj, const char *include);

#endif
