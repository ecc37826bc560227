/* What the agent's files share (not for other modules). */
#ifndef TULLE_AGENT_INT_H
#define TULLE_AGENT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Runs argv, collecting stdout+stderr into *out when given; returns the exit code. */
int agent_run(const char *const *argv, char **out);
/* One API call; logs and returns NULL when the server cannot be reached. */
json_t *agent_api(const char *method, const char *path, json_t *body, const char *ctype, int *code);

/* The node's service datapath (services.c). */
struct agent_dp_conf {
	const char *cluster, *node, *node_ip, *service_cidr, *state;
	bool vxlan;
	uint32_t ct_max, svc_max;
};

int agent_dp_init(const struct agent_dp_conf *c);
/* Attaches the pod programs to the host side of a pod's veth. */
void agent_dp_pod(const char *uid);
/* Brings the service maps to what the API says (nodes: the node list just read). */
void agent_dp_sync(const json_t *nodes);
/* Conntrack GC and the metrics file (every few seconds). */
void agent_dp_housekeeping(void);
void agent_dp_close(void);

#endif
