/* The scale subresource. */
#ifndef TULLE_SCALE_H
#define TULLE_SCALE_H

#include <stdbool.h>

#include "conn.h"

struct skind;
bool scale_supported(const struct skind *k);
void scale_handle(struct conn *c, const struct http_msg *req, const struct skind *k, const char *ns,
		  const char *name);

#endif
