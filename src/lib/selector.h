/* Kubernetes label selectors: the LabelSelector object (matchLabels and
 * matchExpressions) and the string form of list/watch queries ("a=b,c in (x,y),!d"). */
#ifndef TULLE_SELECTOR_H
#define TULLE_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum sel_op { SEL_IN, SEL_NOT_IN, SEL_EXISTS, SEL_NOT_EXISTS, SEL_EQ, SEL_NEQ, SEL_GT, SEL_LT };

struct sel_req {
	char *key;
	enum sel_op op;
	char **values;
	size_t nvalues;
};

/* A conjunction of requirements. No requirements = matches everything ({}).
 * "nothing" is the selector that matches no object (a null selector in a peer). */
struct selector {
	struct sel_req *reqs;
	size_t n;
	bool nothing;
};

/* Looks up a label; returns NULL when the object does not carry it. */
typedef const char *(*label_get_fn)(const void *ctx, const char *key);

/* From a LabelSelector JSON object that has passed validation. NULL → nothing. */
void selector_from_json(const json_t *ls, struct selector *out);
/* From the string syntax; returns 0 or -EINVAL with *err set (caller frees). */
int selector_parse(const char *s, struct selector *out, char **err);
void selector_free(struct selector *s);
bool selector_matches(const struct selector *s, label_get_fn get, const void *ctx);
/* Against a JSON object of labels (may be NULL: no labels). */
bool selector_matches_json(const struct selector *s, const json_t *labels);
const char *label_get_json(const void *ctx, const char *key);
/* Back to the string syntax, as kubectl prints selectors. */
char *selector_format(const struct selector *s);

#endif
