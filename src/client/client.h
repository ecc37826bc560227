/* The API client every part of tulle uses (CLI, agent, DNS, next the proxy): finds the
 * server, sends requests, reads responses and watch streams. informer.h builds a
 * list+watch cache on it. */
#ifndef TULLE_CLIENT_H
#define TULLE_CLIENT_H

#include <jansson.h>
#include "../lib/http.h"

struct client {
	char *url;   /* unix:///path or tcp://host:port */
	char *token;
	int fd;
	bool print_warnings; /* the server's Warning headers to stderr, as kubectl prints them */
};

/* Picks the server: --server, then $TULLE_SERVER, then the current local cluster
 * ($TULLE_HOME/current, default ~/.tulle/current, naming a state directory).
 * Returns 0 or -1 with a message in *err. */
int client_init(struct client *c, const char *server, const char *token, char **err);
void client_free(struct client *c);
/* One request; *resp gets the parsed response. Returns 0 or -1 with *err. */
int client_do(struct client *c, const char *method, const char *path, const char *ctype,
	      const char *body, size_t len, struct http_msg *resp, char **err);
/* Convenience: JSON in, JSON out (NULL body allowed); *code gets the status. */
json_t *client_json(struct client *c, const char *method, const char *path, json_t *body,
		    const char *ctype, int *code, char **err);
/* Streams a chunked response, calling fn for each complete line. Returns when the
 * stream ends or fn returns non-zero. */
int client_stream(struct client *c, const char *path, int (*fn)(void *ctx, const char *line),
		  void *ctx, char **err);
/* Sends GET path (with extra header lines, "Name: value\r\n" each, or NULL) on a
 * connection of its own and hands that connection over: returns its fd (the response
 * is for the caller to read) or -1 with *err. */
int client_open_stream(struct client *c, const char *path, const char *headers, char **err);
/* "Error from server (NotFound): ..." as kubectl prints a Status. Caller frees. */
char *client_status_text(const json_t *status, int code);

#endif
