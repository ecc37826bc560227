/* policy trace --live: one side of a traced connection as the node's maps decide it. */
#ifndef TULLE_CLI_TRACE_LIVE_H
#define TULLE_CLI_TRACE_LIVE_H

#include "../policy/verdict.h"
#include "cli.h"

/* Asks the agent of pod's node what its maps decide for a new connection between the
 * pod and peer in dir, and compares that with the engine's side. Returns 1 when they
 * agree, 0 when not, -1 when it cannot be checked; *text says which and why, *out
 * holds the agent's answer (with "agrees") when there is one. */
int trace_live_side(struct client *cl, const struct pm_cluster *c, int pod, const struct ipaddr *peer, int dir,
		    uint8_t proto, uint16_t port, const struct pm_side *engine, json_t **out, char **text);

#endif
