/* The columns `get` prints for each kind, as kubectl shows them; shared by the CLI and
 * (later) server-side Table responses. */
#ifndef TULLE_COLUMNS_H
#define TULLE_COLUMNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct column {
	const char *name;
	bool wide; /* only with -o wide */
	char *(*value)(const json_t *obj); /* caller frees */
};

/* Columns after NAME and before AGE for a kind (possibly none). */
const struct column *columns_for(const char *kind, size_t *n);
/* kubectl's HumanDuration of the time since an RFC 3339 timestamp. */
char *human_age(const char *rfc3339);

#endif
