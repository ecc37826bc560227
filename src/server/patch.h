/* PATCH bodies. JSON merge patch (RFC 7386) now; strategic merge and JSON patch come
 * with full kubectl support. */
#ifndef TULLE_PATCH_H
#define TULLE_PATCH_H

#include <jansson.h>

/* Returns the patched document (a new reference); target is not modified. */
json_t *merge_patch(const json_t *target, const json_t *patch);

#endif
