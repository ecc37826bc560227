/* Aggregated discovery documents. */
#ifndef TULLE_DISCOVERY_H
#define TULLE_DISCOVERY_H

#include <stdbool.h>

#include "conn.h"

bool discovery_aggregated_wanted(const struct http_msg *req);
void discovery_aggregated(struct conn *c, const struct http_msg *req, bool core);

#endif
