/* pods/exec, pods/attach and pods/log, as the kubelet serves them. The API server
 * sends each such request on to the node API of the pod's node (`tulle server
 * --node-api`, started by the agent, published on the Node as tulle.io/node-api) and
 * relays the bytes. The node API runs the process in the pod's namespaces: over
 * WebSocket (the v5.channel.k8s.io protocol kubectl tries first, and v4) the
 * connection upgrades, stdin/stdout/stderr travel as channel-prefixed binary frames,
 * and the exit status ends the stream as a Status on the error channel. */
#ifndef TULLE_EXEC_H
#define TULLE_EXEC_H

#include <sys/types.h>

#include "conn.h"

struct skind;
/* Answers the upgrade request (or an error Status) for pod ns/name. */
void exec_start(struct conn *c, const struct http_msg *req, const char *ns, const char *name, bool attach);
/* pods/log: the pod's output (tailLines=N), following it (follow=true) as a chunked
 * stream until the process ends. */
void exec_log(struct conn *c, const struct http_msg *req, const char *ns, const char *name);
/* Bytes read from an upgraded connection. */
void exec_feed(struct conn *c, const char *buf, size_t len);
/* The connection is going away: stop the process. */
void exec_release(struct conn *c);
/* Frees the session (after exec_release). */
void exec_free(struct conn *c);

#endif
