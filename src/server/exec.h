/* pods/exec and pods/attach over WebSocket (the v5.channel.k8s.io protocol kubectl
 * tries first): the connection upgrades, a process runs in the pod's namespaces, and
 * its stdin/stdout/stderr travel as channel-prefixed binary frames; the exit status
 * ends the stream as a Status on the error channel. */
#ifndef TULLE_EXEC_H
#define TULLE_EXEC_H

#include <sys/types.h>

#include "conn.h"

struct skind;
/* The pod's main process (0 when not running) from the agent's record, and its log
 * file (caller frees; may be NULL). Local cluster only: the records sit beside the
 * server's state directory. */
pid_t exec_pod_process(struct apiserver *s, const json_t *pod, char **log_path);
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
