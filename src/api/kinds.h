/* Cross-field rules and defaults of individual kinds, beyond what the schema says:
 * one function per kind, looked up in one table. */
#ifndef TULLE_KINDS_H
#define TULLE_KINDS_H

#include <jansson.h>
#include "validate.h"

/* NodePort range the API accepts (the allocator uses the same). */
#define NODEPORT_MIN 30000
#define NODEPORT_MAX 32767

void kinds_check(struct vctx *c, json_t *obj, const struct skind *k);

#endif
