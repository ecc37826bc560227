/* The cluster zone (<svc>.<ns>.svc.DOMAIN and friends) built from Services and
 * EndpointSlices, as CoreDNS's kubernetes plugin serves it, and the answer to a query
 * against it. */
#ifndef TULLE_DNS_ZONE_H
#define TULLE_DNS_ZONE_H

#include <jansson.h>

#include "msg.h"

struct dns_zone;

struct dns_zone *dns_zone_build(const json_t *services, const json_t *slices, const char *domain, uint32_t ttl);
void dns_zone_free(struct dns_zone *z);

/* Fills a and returns true when the zone is authoritative for the name (the cluster
 * domain, or a reverse name it knows); false: forward it upstream. */
bool dns_zone_answer(const struct dns_zone *z, const struct dns_query *q, struct dns_answer *a);

#endif
