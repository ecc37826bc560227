/* kubectl exec's protocol from the client side: pods/exec upgraded to WebSocket
 * (v5.channel.k8s.io, else v4), stdin/stdout/stderr as channel-prefixed binary frames,
 * the command's exit status as a Status on the error channel. */
#ifndef TULLE_CLIENT_EXEC_H
#define TULLE_CLIENT_EXEC_H

#include <stdbool.h>

#include "client.h"

/* Runs argv in pod ns/name (its first container): stdout and stderr go to ours, our
 * stdin goes to it when in; with tty the local terminal is put in raw mode and its size
 * sent. Returns the command's exit code (0-255), or -1 with *err when it could not be
 * run at all. */
int client_exec(struct client *c, const char *ns, const char *name, char *const *argv, bool in, bool tty,
		char **err);

#endif
