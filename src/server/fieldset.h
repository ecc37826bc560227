/* Field sets, the currency of server-side apply, in Kubernetes' FieldsV1 encoding: a
 * tree of JSON objects whose keys name a struct field ("f:replicas"), a keyed list item
 * ("k:{\"name\":\"nginx\"}"), or a set item ("v:\"x\""); "." marks the node itself as a
 * member where it also has children; an empty object is a member leaf. Lists with merge
 * keys are granular by item, lists marked `set` by value, other lists are atomic.
 *
 * The root of a set is never a member: an empty set is {}. Every function returns a new
 * reference and leaves its arguments alone. */
#ifndef TULLE_FIELDSET_H
#define TULLE_FIELDSET_H

#include <jansson.h>
#include <stdbool.h>

#include "../api/schema.h"
#include "../lib/util.h"

struct fs_ctx {
	const struct schema *sc;
	const struct skind *k;
};

/* Every field `obj` sets (apiVersion, kind, status and server-owned metadata aside). */
json_t *fs_of(const struct fs_ctx *c, const json_t *obj);
/* The fields of `after` that `before` lacks or holds with another value. */
json_t *fs_changed(const struct fs_ctx *c, const json_t *before, const json_t *after);

json_t *fs_union(const json_t *a, const json_t *b);
json_t *fs_minus(const json_t *a, const json_t *b);
json_t *fs_intersect(const json_t *a, const json_t *b);
bool fs_empty(const json_t *s);

/* `applied` merged into `live` as apply does: structs and maps field by field, keyed
 * lists item by item, sets by value, anything else replaced. Nulls in `applied` are
 * ignored. */
json_t *fs_merge(const struct fs_ctx *c, const json_t *live, const json_t *applied);
/* `obj` without the members of `set`; a keyed item or map whose "." is in `set` goes
 * when nothing but its key fields is left in it. */
json_t *fs_remove(const struct fs_ctx *c, const json_t *obj, const json_t *set);

/* Appends the member paths of `set` in the notation Kubernetes prints in conflicts
 * (".spec.ports[port=80,protocol=\"TCP\"].targetPort"), one per line. */
void fs_paths(const json_t *set, struct strbuf *out);

#endif
