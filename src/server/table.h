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

/* Rows of unchanged objects without parsing them again (lists without selectors). key
 * names the object, the request's include mode and version; rev its resourceVersion.
 * table_row_cached appends the row and returns true on a hit; otherwise render it with
 * table_row_render_cached, which appends it and remembers it. At most `limit` rows. */
struct row_cache;
struct row_cache *table_cache_new(size_t limit);
void table_cache_free(struct row_cache *rc);
bool table_row_cached(struct row_cache *rc, struct strbuf *out, const char *key, int64_t rev);
void table_row_render_cached(struct row_cache *rc, struct strbuf *out, const char *key, int64_t rev,
			     const char *kind, const json_t *obj, const char *include);

#endif
