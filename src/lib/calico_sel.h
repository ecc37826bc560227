/* Calico's selector expression language (GlobalNetworkPolicy `selector`, rule
 * `selector`, `namespaceSelector`): ==, !=, in {...}, not in {...}, has(k), !, &&, ||,
 * parentheses, all(), global(), contains, starts with, ends with. */
#ifndef TULLE_CALICO_SEL_H
#define TULLE_CALICO_SEL_H

#include <stdbool.h>
#include <stddef.h>
#include "selector.h"

enum csel_op {
	CS_ALL, CS_GLOBAL, CS_HAS, CS_EQ, CS_NEQ, CS_IN, CS_NOT_IN, CS_CONTAINS, CS_STARTS,
	CS_ENDS, CS_NOT, CS_AND, CS_OR,
};

struct csel {
	enum csel_op op;
	char *key;
	char **values;
	size_t nvalues;
	struct csel *a, *b;
};

/* An empty string is all(). Returns 0 or -EINVAL with *err (caller frees). */
int csel_parse(const char *s, struct csel **out, char **err);
void csel_free(struct csel *e);
bool csel_matches(const struct csel *e, label_get_fn get, const void *ctx);

#endif
