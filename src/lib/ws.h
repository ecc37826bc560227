/* WebSocket frames (RFC 6455) as the exec/attach protocol uses them: whole frames,
 * binary ones carrying a channel byte before the data (v4/v5.channel.k8s.io). Both
 * ends use it: the node API (server frames, unmasked) and the exec client (masked). */
#ifndef TULLE_WS_H
#define TULLE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

enum { WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

/* Appends one final frame to out: the channel byte first when channel >= 0, then data;
 * masked with a random key when mask (a client's frames must be). */
void ws_frame(struct strbuf *out, int opcode, bool mask, int channel, const void *data, size_t len);
/* Reads one frame at buf: returns the bytes it takes (> 0) with its opcode and its
 * payload unmasked in *payload (caller frees), 0 when more bytes are needed, or -1
 * when the payload would exceed max. */
ssize_t ws_parse(const char *buf, size_t len, size_t max, int *opcode, char **payload, size_t *plen);

#endif
