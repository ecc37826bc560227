/* PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch (Kubernetes: lists
 * with merge keys merged element by element, $patch / $setElementOrder /
 * $deleteFromPrimitiveList / $retainKeys directives) and JSON patch (RFC 6902). */
#ifndef TULLE_PATCH_H
#define TULLE_PATCH_H

#include <jansson.h>

#include "../api/schema.h"

/* Returns the patched document (a new reference); target is not modified. */
json_t *merge_patch(const json_t *target, const json_t *patch);

/* st: the schema of target (a kind's body), for the lists' merge keys; NULL merges
 * every list by replacement. Returns NULL with *err on a malformed patch. */
json_t *strategic_merge_patch(const json_t *target, const json_t *patch, const struct sstruct *st, char **err);

/* RFC 6902 operations (add, remove, replace, move, copy, test). NULL with *err when an
 * operation fails (a failed test, a missing path): nothing is applied. */
json_t *json_patch(const json_t *target, const json_t *ops, char **err);

#endif
