/* What the API server does for particular kinds beyond storing them, in one table:
 * the status an object starts with, scheduling a new Pod, allocating a Service's
 * ClusterIP and NodePorts (and releasing them), a Namespace owning what is in it.
 * objects.c calls these and knows no kind by name. */
#ifndef TULLE_KIND_HOOKS_H
#define TULLE_KIND_HOOKS_H

#include <jansson.h>
#include <stdbool.h>

#include "server.h"

struct kind_hooks {
	const char *kind;
	const char *initial_status; /* JSON the status starts as on create (status subresource kinds) */
	/* A new object, before it is stored (the Pod scheduler). */
	void (*on_create)(struct apiserver *s, json_t *obj);
	/* Every write of the main resource or status (old NULL on create): fills in or
	 * checks; returns -1 with a Status in *status to refuse the write. */
	int (*on_write)(struct apiserver *s, json_t *obj, const json_t *old, json_t **status);
	/* After the object is deleted. */
	void (*on_delete)(struct apiserver *s, const json_t *obj);
	bool holds_namespace; /* deleting it deletes every object in the namespace */
};

/* The hooks of a kind, or NULL when it has none. */
const struct kind_hooks *kind_hooks_of(const struct skind *k);

#endif
