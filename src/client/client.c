#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/dial.h"
#include "../lib/paths.h"
#include "../lib/util.h"

#define CLIENT_MAX_BODY (1u << 30)

static char *first_line(const char *path)
{
	char *data;
	size_t len;

	if (read_file(path, &data, &len) < 0)
		return NULL;
	char *nl = strchr(data, '\n');
	if (nl)
		*nl = 0;
	return data;
}


int client_init(struct client *c, const char *server, const char *token, char **err)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	*err = NULL;
	if (!server || !*server)
		server = getenv("TULLE_SERVER");
	if (!token || !*token)
		token = getenv("TULLE_TOKEN");
	if (server && *server) {
		c->url = xstrdup(server);
	} else {
		char *home = paths_home();
		char *cur = xasprintf("%s/current", home);
		char *dir = first_line(cur);
		if (!dir) {
			*err = xasprintf("no server to talk to: pass --server URL, set TULLE_SERVER, or "
					 "create a local cluster (tulle cluster create); %s does not exist", cur);
			free(cur);
			free(home);
			return -1;
		}
		/* A server's state directory, or a local cluster's (its server under server/). */
		char *urlfile = xasprintf("%s/server.url", dir);
		c->url = first_line(urlfile);
		if (!c->url) {
			char *sub = xasprintf("%s/server", dir);
			free(urlfile);
			urlfile = xasprintf("%s/server.url", sub);
			c->url = first_line(urlfile);
			if (c->url) {
				free(dir);
				dir = sub;
			} else {
				free(sub);
			}
		}
		if (!c->url) {
			*err = xasprintf("the current cluster (%s) has no running server: %s is missing", dir, urlfile);
		} else if (!token) {
			char *tf = xasprintf("%s/token", dir);
			c->token = first_line(tf);
			free(tf);
		}
		free(urlfile);
		free(dir);
		free(cur);
		free(home);
		if (!c->url)
			return -1;
	}
	if (token && *token)
		c->token = xstrdup(token);
	if (!str_has_prefix(c->url, "unix://") && !str_has_prefix(c->url, "tcp://")) {
		*err = xasprintf("bad server URL %s: expected unix:///PATH or tcp://HOST:PORT", c->url);
		return -1;
	}
	return 0;
}

void client_free(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->url);
	free(c->token);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int connect_server(struct client *c, char **err)
{
	char *why = NULL;

	if (c->fd >= 0)
		return 0;
	c->fd = dial_url(c->url, &why);
	if (c->fd < 0) {
		*err = xasprintf("%s (is the tulle server running?)", why);
		free(why);
		return -1;
	}
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_request_h(struct client *c, const char *method, const char *path, const char *headers,
			  const char *ctype, const char *body, size_t len, char **err)
{
	struct strbuf sb;

	sb_init(&sb);
	sb_printf(&sb, "%s %s HTTP/1.1\r\nHost: tulle\r\nUser-Agent: tulle\r\nAccept: application/json\r\n%s",
		  method, path, headers ? headers : "");
	if (c->token)
		sb_printf(&sb, "Authorization: Bearer %s\r\n", c->token);
	if (body)
		sb_printf(&sb, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype ? ctype : "application/json", len);
	sb_adds(&sb, "\r\n");
	if (body)
		sb_add(&sb, body, len);
	int rc = send_all(c->fd, sb.buf, sb.len);
	sb_free(&sb);
	if (rc < 0)
		*err = xasprintf("cannot send to %s: %s", c->url, strerror(errno));
	return rc;
}

static int send_request(struct client *c, const char *method, const char *path,
			const char *ctype, const char *body, size_t len, char **err)
{
	return send_request_h(c, method, path, NULL, ctype, body, len, err);
}

/* `299 - "text"` -> `Warning: text`. */
static void print_warning(const char *v)
{
	const char *q = strchr(v, '"');
	size_t n = q ? strlen(q + 1) : strlen(v);

	if (q && n && q[n] == '"')
		n--;
	fprintf(stderr, "Warning: %.*s\n", (int)n, q ? q + 1 : v);
}

int client_do(struct client *c, const char *method, const char *path, const char *ctype,
	      const char *body, size_t len, struct http_msg *resp, char **err)
{
	struct strbuf in;
	char buf[65536];

	*err = NULL;
	/* One retry on a fresh connection: the server may have closed an idle one. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (connect_server(c, err) < 0)
			return -1;
		if (send_request(c, method, path, ctype, body, len, err) < 0) {
			close(c->fd);
			c->fd = -1;
			if (attempt)
				return -1;
			free(*err);
			*err = NULL;
			continue;
		}
		sb_init(&in);
		for (;;) {
			ssize_t p = http_parse_response(in.buf ? in.buf : "", in.len, CLIENT_MAX_BODY,
							!strcmp(method, "HEAD"), false, resp);
			if (p > 0) {
				for (size_t i = 0; c->print_warnings && i < resp->nheaders; i++)
					if (!strcasecmp(resp->headers[i].name, "Warning"))
						print_warning(resp->headers[i].value);
				if (!resp->keep_alive) {
					close(c->fd);
					c->fd = -1;
				}
				sb_free(&in);
				return 0;
			}
			if (p < 0) {
				*err = xasprintf("malformed response from %s", c->url);
				sb_free(&in);
				return -1;
			}
			ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(c->fd);
				c->fd = -1;
				break;
			}
			sb_add(&in, buf, (size_t)n);
		}
		bool nothing = in.len == 0;
		sb_free(&in);
		if (!nothing || attempt) {
			*err = xasprintf("the server at %s closed the connection", c->url);
			return -1;
		}
	}
	return -1;
}

json_t *client_json(struct client *c, const char *method, const char *path, json_t *body,
		    const char *ctype, int *code, char **err)
{
	struct http_msg resp;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_error_t jerr;

	int rc = client_do(c, method, path, ctype, text, text ? strlen(text) : 0, &resp, err);
	free(text);
	if (rc < 0)
		return NULL;
	*code = resp.status;
	json_t *out = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, &jerr);
	if (!out)
		*err = xasprintf("the server answered %d with a body that is not JSON: %.200s", resp.status,
				 resp.body ? resp.body : "");
	http_msg_free(&resp);
	return out;
}

int client_stream(struct client *c, const char *path, int (*fn)(void *ctx, const char *line),
		  void *ctx, char **err)
{
	struct http_msg resp;
	struct strbuf in, body;
	char buf[65536];
	int rc = 0;
	bool got_head = false;

	*err = NULL;
	if (connect_server(c, err) < 0 || send_request(c, "GET", path, NULL, NULL, 0, err) < 0)
		return -1;
	sb_init(&in);
	sb_init(&body);
	for (;;) {
		if (!got_head) {
			ssize_t p = http_parse_response(in.buf ? in.buf : "", in.len, 0, false, true, &resp);
			if (p < 0) {
				*err = xasprintf("malformed response from %s", c->url);
				rc = -1;
				break;
			}
			if (p > 0) {
				got_head = true;
				sb_consume(&in, (size_t)p);
				if (resp.status != 200 || !resp.chunked) {
					*err = xasprintf("the server answered %d to a watch", resp.status);
					http_msg_free(&resp);
					rc = -1;
					break;
				}
				http_msg_free(&resp);
			}
		}
		if (got_head) {
			const char *d;
			size_t dl;
			bool last = false;
			ssize_t n;
			while ((n = http_parse_chunk(in.buf ? in.buf : "", in.len, &d, &dl, &last)) > 0) {
				sb_add(&body, d ? d : "", dl);
				sb_consume(&in, (size_t)n);
				char *nl;
				while (body.len && (nl = memchr(body.buf, '\n', body.len))) {
					*nl = 0;
					rc = fn(ctx, body.buf);
					sb_consume(&body, (size_t)(nl - body.buf) + 1);
					if (rc)
						goto out;
				}
				if (last)
					goto out;
			}
			if (n < 0) {
				*err = xasprintf("malformed chunked stream from %s", c->url);
				rc = -1;
				break;
			}
		}
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sb_add(&in, buf, (size_t)n);
	}
out:
	close(c->fd);
	c->fd = -1;
	sb_free(&in);
	sb_free(&body);
	return rc;
}

int client_open_stream(struct client *c, const char *path, const char *headers, char **err)
{
	int saved = c->fd;

	/* A connection of its own: the caller's request connection stays as it was. */
	c->fd = -1;
	*err = NULL;
	if (connect_server(c, err) < 0 || send_request_h(c, "GET", path, headers, NULL, NULL, 0, err) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = saved;
		return -1;
	}
	int fd = c->fd;
	c->fd = saved;
	return fd;
}

char *client_status_text(const json_t *status, int code)
{
	const char *reason = json_string_value(json_object_get(status, "reason"));
	const char *msg = json_string_value(json_object_get(status, "message"));

	return xasprintf("Error from server (%s): %s", reason ? reason : http_reason(code),
			 msg ? msg : "(no message)");
}
