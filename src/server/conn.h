/* API connections: HTTP/1.1 keep-alive, buffered non-blocking writes, and chunked
 * streams for watches. */
#ifndef TULLE_CONN_H
#define TULLE_CONN_H

#include <jansson.h>
#include "../lib/http.h"
#include "server.h"

typedef struct ssl_st SSL;

struct conn {
	int fd;
	struct apiserver *srv;
	bool needs_auth;
	SSL *ssl;        /* HTTPS listener: the TLS session */
	bool tls_ready;  /* handshake done */
	bool cert_auth;  /* the client showed a certificate our CA signed */
	struct exec_session *exec; /* an upgraded exec/attach stream (exec.c) */
	struct strbuf in, out;
	bool close_after_flush;
	bool streaming;
	struct watcher *watch;
	struct strbuf warnings; /* "Warning:" header lines for the current response */
};

/* Binds a listener for url ("unix:///path", "tcp://127.0.0.1:PORT" or
 * "https://127.0.0.1:PORT", the last with the server's TLS context); the bound URL
 * (with the real port) is returned in *bound. */
int conn_listen(struct apiserver *s, const char *url, char **bound, char **err);
void conn_respond(struct conn *c, const struct http_msg *req, int code, const char *ctype,
		  const char *body, size_t len);
/* Sends a JSON body and releases it. */
void conn_respond_json(struct conn *c, const struct http_msg *req, int code, json_t *body);
void conn_add_warning(struct conn *c, const char *text);
void conn_stream_start(struct conn *c, const char *ctype);
void conn_stream_chunk(struct conn *c, const char *data, size_t len);
void conn_stream_end(struct conn *c);
void conn_close(struct conn *c);
/* Writes what it can; returns false if the connection was closed. */
bool conn_flush(struct conn *c);
/* Bytes waiting to be written; a watcher that falls too far behind is cut off. */
size_t conn_backlog(const struct conn *c);

/* api.c: handles one parsed request. */
void api_handle(struct conn *c, struct http_msg *req);

#endif
