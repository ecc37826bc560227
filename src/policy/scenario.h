/* Policy scenario files (tests/data/policy/k8s): upstream's network policy e2e
 * cluster (namespaces x, y, z labelled ns=NAME; pods a, b, c labelled pod=NAME, serving
 * 80 and 81 on TCP, UDP and SCTP), a first document with the expected truth table and
 * then the policies. Shared by the engine's tests, the datapath's and the live e2e. */
#ifndef TULLE_POLICY_SCENARIO_H
#define TULLE_POLICY_SCENARIO_H

#include "model.h"

/* Validates (with defaults) and adds obj; takes the reference. */
int scenario_add(struct pm_cluster *c, json_t *obj, char **err);
/* The upstream cluster: pod NS/P has address 10.0.(n+1).(10+p). */
void scenario_upstream_cluster(struct pm_cluster *c);
/* The cluster, the file's policies (finished), and its "expect" object. */
int scenario_load(const char *path, struct pm_cluster *c, json_t **expect, char **err);
/* "80/TCP" or "TYPE[.CODE]/ICMP". */
int scenario_probe(const char *s, uint8_t *proto, uint16_t *port);
/* What the expectations say of from -> to on the probe. */
bool scenario_expected(const json_t *expect, const struct pm_pod *from, const struct pm_pod *to, uint8_t proto,
		       uint16_t port);

#endif
