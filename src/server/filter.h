/* List and watch filters: namespace, label selector, field selector. */
#ifndef TULLE_FILTER_H
#define TULLE_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include "../lib/selector.h"

struct field_req {
	char *path; /* "metadata.name", "spec.nodeName", ... */
	char *value;
	bool neq;
};

struct obj_filter {
	char *ns; /* NULL: every namespace */
	struct selector labels;
	struct field_req *fields;
	size_t nfields;
};

/* From the query string; returns 0 or -EINVAL with *err (caller frees). */
int filter_parse(struct obj_filter *f, const char *ns, const char *query, char **err);
void filter_free(struct obj_filter *f);
bool filter_match(const struct obj_filter *f, const json_t *obj);

#endif
