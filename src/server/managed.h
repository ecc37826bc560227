/* metadata.managedFields: which field manager set which fields, kept on every write as
 * Kubernetes does, and server-side apply built on it (field ownership, conflicts,
 * removal of the fields an applier stops applying). */
#ifndef TULLE_MANAGED_H
#define TULLE_MANAGED_H

#include <jansson.h>
#include <stdbool.h>

#include "fieldset.h"

/* The manager a request writes as: ?fieldManager=, else the client's product name
 * from User-Agent ("kubectl/v1.32.0 (linux/amd64) ..." -> "kubectl"). Caller frees. */
char *managed_manager_of(const char *field_manager_param, const char *user_agent);

/* An Update by `manager` (main resource, not status): obj is about to replace old (NULL
 * on create). obj's managedFields become old's (or the ones the client sent, when it
 * changed them; [{}] clears them), each manager's fields cut to those obj still sets,
 * and the fields this write changes moved to `manager`. */
void managed_update(const struct fs_ctx *c, json_t *obj, const json_t *old, const char *manager);

/* Server-side apply of `applied` by `manager` onto `live` (NULL: create). Returns the
 * object to validate and store, its managedFields final; or NULL with a Status in
 * *status (409 listing the conflicting fields and their managers, unless force). */
json_t *managed_apply(const struct fs_ctx *c, const json_t *live, const json_t *applied,
		      const char *manager, bool force, json_t **status);

#endif
