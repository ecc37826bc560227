#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "exec.h"
#include "watch.h"

struct listener {
	struct apiserver *srv;
	bool tcp, tls;
};

/* What an SSL_read/SSL_write result means as a recv/send result: EAGAIN when TLS must
 * wait for the socket (either direction); a clean TLS close reads as EOF. */
static ssize_t tls_result(struct conn *c, int n, bool reading)
{
	if (n > 0)
		return n;
	int e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	if (e == SSL_ERROR_ZERO_RETURN && reading)
		return 0;
	errno = EIO;
	return -1;
}

static ssize_t conn_recv(struct conn *c, void *buf, size_t len)
{
	if (!c->ssl)
		return recv(c->fd, buf, len, 0);
	return tls_result(c, SSL_read(c->ssl, buf, (int)len), true);
}

static ssize_t conn_send(struct conn *c, const void *buf, size_t len)
{
	if (!c->ssl)
		return send(c->fd, buf, len, MSG_NOSIGNAL);
	return tls_result(c, SSL_write(c->ssl, buf, (int)(len > (1 << 30) ? 1 << 30 : len)), false);
}

static void conn_event(struct loop *l, int fd, uint32_t events, void *ctx);

size_t conn_backlog(const struct conn *c)
{
	return c->out.len;
}

static void update_interest(struct conn *c)
{
	uint32_t ev = EPOLLIN | EPOLLRDHUP;

	if (c->out.len)
		ev |= EPOLLOUT;
	loop_mod(c->srv->loop, c->fd, ev);
}

void conn_close(struct conn *c)
{
	if (c->watch)
		watch_remove(c->srv, c->watch);
	if (c->exec) {
		exec_release(c);
		exec_free(c);
	}
	loop_del(c->srv->loop, c->fd);
	if (c->ssl) {
		if (c->tls_ready)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	close(c->fd);
	sb_free(&c->in);
	sb_free(&c->out);
	sb_free(&c->warnings);
	free(c);
}

bool conn_flush(struct conn *c)
{
	while (c->out.len) {
		ssize_t n = conn_send(c, c->out.buf, c->out.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_close(c);
			return false;
		}
		sb_consume(&c->out, (size_t)n);
	}
	if (!c->out.len && c->close_after_flush) {
		conn_close(c);
		return false;
	}
	update_interest(c);
	return true;
}

void conn_add_warning(struct conn *c, const char *text)
{
	/* RFC 7234 warn-text is a quoted string. */
	sb_adds(&c->warnings, "Warning: 299 - \"");
	for (const char *p = text; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_addc(&c->warnings, '\\');
		sb_addc(&c->warnings, *p == '\n' ? ' ' : *p);
	}
	sb_adds(&c->warnings, "\"\r\n");
}

void conn_respond(struct conn *c, const struct http_msg *req, int code, const char *ctype,
		  const char *body, size_t len)
{
	bool keep = req && req->keep_alive;

	sb_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		  "Cache-Control: no-cache, private\r\n%s%s\r\n",
		  code, http_reason(code), ctype, len, c->warnings.len ? c->warnings.buf : "",
		  keep ? "" : "Connection: close\r\n");
	sb_reset(&c->warnings);
	sb_add(&c->out, body, len);
	if (!keep)
		c->close_after_flush = true;
}

void conn_respond_json(struct conn *c, const struct http_msg *req, int code, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);

	conn_respond(c, req, code, "application/json", s, strlen(s));
	free(s);
	json_decref(body);
}

void conn_stream_start(struct conn *c, const char *ctype)
{
	sb_printf(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
		  "Cache-Control: no-cache, private\r\n\r\n", ctype);
	c->streaming = true;
}

void conn_stream_chunk(struct conn *c, const char *data, size_t len)
{
	sb_printf(&c->out, "%zx\r\n", len);
	sb_add(&c->out, data, len);
	sb_adds(&c->out, "\r\n");
	if (c->out.len == len + 16 || c->out.len < 65536)
		conn_flush(c);
	else
		update_interest(c);
}

void conn_stream_end(struct conn *c)
{
	sb_adds(&c->out, "0\r\n\r\n");
	c->streaming = false;
	c->close_after_flush = true;
}

static bool token_ok(struct conn *c, const struct http_msg *req)
{
	const char *auth = http_get_header(req, "Authorization");
	const char *tok = c->srv->cfg.token;

	if (!c->needs_auth || c->cert_auth)
		return true;
	if (!auth || !tok || strncmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	size_t a = strlen(auth), b = strlen(tok);
	unsigned diff = (unsigned)(a ^ b);
	/* Constant time over the expected token's length. */
	for (size_t i = 0; i < b; i++)
		diff |= (unsigned)(tok[i] ^ (i < a ? auth[i] : 0));
	return diff == 0;
}

static void reject(struct conn *c, int code, const char *reason, const char *msg)
{
	struct http_msg none = { 0 };
	conn_respond_json(c, &none, code, status_new(code, reason, msg));
}

static void handle_input(struct conn *c)
{
	while (c->in.len && !c->close_after_flush && !c->streaming) {
		struct http_msg req;
		ssize_t n = http_parse_request(c->in.buf, c->in.len, API_MAX_BODY, &req);
		if (n == HTTP_NEED_MORE)
			return;
		if (n < 0) {
			if (n == HTTP_TOO_LARGE)
				reject(c, 413, "RequestEntityTooLarge", "the request body is larger than 3 MiB");
			else if (n == HTTP_HEAD_TOO_LARGE)
				reject(c, 431, "BadRequest", "the request head is larger than 64 KiB");
			else if (n == HTTP_NOT_IMPL)
				reject(c, 501, "BadRequest", "only the chunked transfer coding is supported");
			else
				reject(c, 400, "BadRequest", "malformed HTTP request");
			sb_reset(&c->in);
			return;
		}
		sb_consume(&c->in, (size_t)n);
		if (!token_ok(c, &req)) {
			conn_respond_json(c, &req, 401, status_new(401, "Unauthorized", "Unauthorized"));
		} else {
			api_handle(c, &req);
		}
		http_msg_free(&req);
	}
}

static void conn_event(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct conn *c = ctx;
	char buf[65536];

	(void)l;
	(void)fd;
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c);
		return;
	}
	if (c->ssl && !c->tls_ready) {
		int r = SSL_accept(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				loop_mod(c->srv->loop, c->fd, EPOLLIN | EPOLLRDHUP | (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0));
				return;
			}
			conn_close(c); /* a failed handshake (a certificate our CA did not sign, say) */
			return;
		}
		c->tls_ready = true;
		X509 *peer = SSL_get1_peer_certificate(c->ssl);
		c->cert_auth = peer && SSL_get_verify_result(c->ssl) == X509_V_OK;
		X509_free(peer);
		events |= EPOLLIN; /* the request may have come with the handshake */
	}
	if (events & EPOLLIN) {
		for (;;) {
			ssize_t n = conn_recv(c, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				conn_close(c);
				return;
			}
			if (c->exec) {
				exec_feed(c, buf, (size_t)n);
				continue;
			}
			/* A watch stream takes no more requests; a client pipelining past the
			 * limit is cut off rather than buffered without bound. */
			if (c->streaming)
				continue;
			sb_add(&c->in, buf, (size_t)n);
			if (c->in.len > API_MAX_BODY + HTTP_MAX_HEAD * 2)
				break;
		}
		handle_input(c);
	}
	conn_flush(c);
}

static void accept_event(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct listener *li = ctx;

	(void)events;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		if (li->tcp) {
			int one = 1;
			setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		struct conn *c = xcalloc(1, sizeof(*c));
		c->fd = cfd;
		c->srv = li->srv;
		c->needs_auth = li->tcp;
		if (li->tls) {
			c->ssl = SSL_new(li->srv->tls);
			if (!c->ssl || !SSL_set_fd(c->ssl, cfd)) {
				SSL_free(c->ssl);
				close(cfd);
				free(c);
				continue;
			}
		}
		if (loop_add(l, cfd, EPOLLIN | EPOLLRDHUP, conn_event, c) < 0) {
			close(cfd);
			free(c);
		}
	}
}

int conn_listen(struct apiserver *s, const char *url, char **bound, char **err)
{
	struct listener *li = xcalloc(1, sizeof(*li));
	int fd = -1;

	li->srv = s;
	if (str_has_prefix(url, "unix://")) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		const char *path = url + 7;
		if (strlen(path) >= sizeof(sa.sun_path)) {
			*err = xasprintf("unix socket path is too long (%zu bytes, at most %zu): %s",
					 strlen(path), sizeof(sa.sun_path) - 1, path);
			goto fail;
		}
		memcpy(sa.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		unlink(path); /* a stale socket from a previous run */
		mode_t old = umask(0077);
		int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
		if (rc < 0) {
			*err = xasprintf("cannot bind %s: %s", path, strerror(errno));
			goto fail;
		}
		*bound = xstrdup(url);
	} else if (str_has_prefix(url, "tcp://") || str_has_prefix(url, "https://")) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		char host[64];
		int port;
		bool tls = str_has_prefix(url, "https://");
		size_t skip = tls ? 8 : 6;
		const char *colon = strrchr(url + skip, ':');
		if (!colon || (size_t)(colon - url - skip) >= sizeof(host) ||
		    sscanf(colon + 1, "%d", &port) != 1 || port < 0 || port > 65535) {
			*err = xasprintf("bad listen address %s: expected %s://HOST:PORT", url, tls ? "https" : "tcp");
			goto fail;
		}
		if (tls && !s->tls) {
			*err = xasprintf("%s: no TLS context (certificates not loaded)", url);
			goto fail;
		}
		memcpy(host, url + skip, (size_t)(colon - url - skip));
		host[colon - url - skip] = 0;
		li->tls = tls;
		if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
			*err = xasprintf("bad listen address %s: HOST must be an IPv4 address", url);
			goto fail;
		}
		sa.sin_port = htons((uint16_t)port);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			*err = xasprintf("cannot bind %s: %s", url, strerror(errno));
			goto fail;
		}
		socklen_t sl = sizeof(sa);
		getsockname(fd, (struct sockaddr *)&sa, &sl);
		*bound = xasprintf("%s://%s:%d", tls ? "https" : "tcp", host, ntohs(sa.sin_port));
		li->tcp = true;
	} else {
		*err = xasprintf("bad listen address %s: expected unix:///PATH, tcp://HOST:PORT or https://HOST:PORT", url);
		goto fail;
	}
	if (listen(fd, 512) < 0 || loop_add(s->loop, fd, EPOLLIN, accept_event, li) < 0) {
		*err = xasprintf("cannot listen on %s: %s", url, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(li);
	return -1;
}
