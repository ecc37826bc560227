/* Where tulle keeps its state on this host, in one place:
 *
 *   $TULLE_HOME (default ~/.tulle)
 *     current                       the state directory commands talk to by default
 *     clusters/NAME/                a local cluster
 *       server/                     its API server's state (server.url, token, pki/)
 *       nodes/NODE/                 an agent's state (pods/UID records, cni/, metrics)
 *
 * Every function returns a new string. */
#ifndef TULLE_PATHS_H
#define TULLE_PATHS_H

char *paths_home(void);
char *paths_cluster(const char *cluster);
/* The agent's record of a pod in its state directory, and the pod's log beside it. */
char *paths_pod_record(const char *node_state, const char *uid);
char *paths_pod_log(const char *node_state, const char *uid);

#endif
