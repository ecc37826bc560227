/* The API server's route table: fixed paths, the verbs on collections and objects,
 * and the subresources, each with its handler (api.c). Discovery (the classic
 * APIResourceList and the aggregated documents) reads the same table, so what the
 * server answers and what it advertises cannot drift apart. */
#ifndef TULLE_ROUTES_H
#define TULLE_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "../api/schema.h"

struct conn;
struct http_msg;
struct route;

typedef void (*api_fn)(struct conn *c, struct http_msg *req, struct route *r);

struct api_subresource {
	const char *name;
	const char *methods;        /* the HTTP methods it answers, comma-separated */
	const char *verbs[4];       /* what discovery lists, NULL-ended */
	const char *group, *version, *kind; /* its response kind; NULL: the resource's own */
	bool (*applies)(const struct skind *k);
	api_fn fn;
	bool on_node; /* served by a node API (it runs in the pod), not from the store */
};

extern const struct api_subresource api_subresources[];
extern const size_t api_nsubresources;

#endif
