/* Object writes with the API server's rules: server-owned metadata, optimistic
 * concurrency, status subresources, allocations, namespace and owner cascades.
 * Every function here runs inside the caller's transaction (txn_begin). */
#ifndef TULLE_OBJECTS_H
#define TULLE_OBJECTS_H

#include <jansson.h>
#include "server.h"

enum write_mode {
	WRITE_CREATE, /* 409 when it exists */
	WRITE_UPDATE, /* 404 when it does not; resourceVersion, if given, must match */
	WRITE_APPLY,  /* create or update; reports unchanged */
};

enum write_part { PART_MAIN, PART_STATUS };

struct write_result {
	int code;           /* HTTP status */
	json_t *body;       /* the stored object, or a Status */
	const char *action; /* "created", "configured", "unchanged" */
};

/* The store key of a kind's objects: "services", "apps/deployments". Caller frees. */
char *objects_res(const struct skind *k);
/* The stored object or NULL. */
json_t *objects_get(struct apiserver *s, const struct skind *k, const char *ns,
		    const char *name);
/* obj must have passed api_validate; it is consumed. */
void objects_write(struct apiserver *s, const struct skind *k, json_t *obj,
		   enum write_mode mode, enum write_part part, struct write_result *r);
/* propagation: "Background"/"Foreground" delete dependents, "Orphan" keeps them. */
void objects_delete(struct apiserver *s, const struct skind *k, const char *ns,
		    const char *name, const char *propagation, struct write_result *r);
/* Rewrites apiVersion for a request made in another served version. */
void objects_present(json_t *obj, const struct skind *k, const char *version);
/* Creates the namespaces and Services every cluster starts with, if missing. */
int objects_bootstrap(struct apiserver *s);

#endif
