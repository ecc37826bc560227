/* A list+watch cache of one resource (Kubernetes' informer): lists once, then follows
 * the watch stream from that resourceVersion on the caller's event loop, so readers
 * see every change within one round trip instead of polling full lists. A broken
 * stream is resumed from the last resourceVersion; a 410 (history compacted) or a
 * server restart re-lists. */
#ifndef TULLE_INFORMER_H
#define TULLE_INFORMER_H

#include <jansson.h>
#include <stdbool.h>

#include "../lib/loop.h"
#include "client.h"

struct informer;
/* Called on the loop after a batch of events changed the cache (and after each list). */
typedef void (*informer_fn)(struct informer *inf, void *ctx);

/* path: the collection, e.g. /api/v1/services; query: extra parameters such as
 * fieldSelector=spec.nodeName%3Dn1, or NULL. The client is borrowed for lists (its
 * server and token); the watch has a connection of its own. */
struct informer *informer_new(struct client *cl, const char *path, const char *query);
/* Lists (blocking, once) and starts watching on the loop. Returns 0, or -1 when the
 * first list failed (the informer retries on its own from then on). */
int informer_start(struct informer *inf, struct loop *l, informer_fn fn, void *ctx);
void informer_free(struct informer *inf);

/* Whether a list has succeeded (the cache reflects the server at some point). */
bool informer_synced(const struct informer *inf);
/* The cache: "namespace/name" (or "name") -> object. Borrowed; valid until the next
 * event is applied. */
const json_t *informer_items(const struct informer *inf);
/* The cache as a List object ({"items": [...], "metadata": {"resourceVersion"}}), as
 * a GET of the collection returns it. New reference. */
json_t *informer_list(const struct informer *inf);
/* Changes applied since creation (lists count one), to tell whether anything moved. */
unsigned long informer_generation(const struct informer *inf);
/* Lists done since creation (the first, and each re-list). */
unsigned long informer_lists(const struct informer *inf);

#endif
