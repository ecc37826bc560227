#include "exec.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../lib/http.h"
#include "../lib/util.h"
#include "../lib/ws.h"

/* A client frame (masked, as RFC 6455 requires): channel byte, then data. */
static int send_frame(int fd, int channel, const char *data, size_t len)
{
	struct strbuf sb;
	size_t off = 0;
	int rc = 0;

	sb_init(&sb);
	ws_frame(&sb, WS_BINARY, true, channel, data, len);
	while (off < sb.len) {
		ssize_t w = send(fd, sb.buf + off, sb.len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = -1;
			break;
		}
		off += (size_t)w;
	}
	sb_free(&sb);
	return rc;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* The exit code a Status on the error channel carries (kubectl's reading). */
static int exit_code_of(const char *status, size_t len)
{
	json_t *st = json_loadb(status, len, 0, NULL);
	int code = 0;

	if (st && strcmp(json_string_value(json_object_get(st, "status")) ?: "", "Success")) {
		code = 1;
		size_t i;
		json_t *cause;
		json_array_foreach(json_object_get(json_object_get(st, "details"), "causes"), i, cause)
			if (!strcmp(json_string_value(json_object_get(cause, "reason")) ?: "", "ExitCode"))
				code = atoi(json_string_value(json_object_get(cause, "message")) ?: "1");
		if (code == 1 && json_string_value(json_object_get(st, "message")) &&
		    !strstr(json_string_value(json_object_get(st, "message")), "non-zero exit code"))
			fprintf(stderr, "error: %s\n", json_string_value(json_object_get(st, "message")));
	}
	json_decref(st);
	return code;
}

/* Server frames from buf: output to stdout/stderr, the status collected. Returns the
 * bytes used; *closed at a close frame. */
static size_t take_frames(const char *buf, size_t len, struct strbuf *status, bool *closed)
{
	size_t used = 0;
	int opcode;
	char *data;
	size_t pl;
	ssize_t n;

	while ((n = ws_parse(buf + used, len - used, 1u << 26, &opcode, &data, &pl)) > 0) {
		used += (size_t)n;
		if (opcode == WS_CLOSE) {
			*closed = true;
		} else if ((opcode == WS_TEXT || opcode == WS_BINARY) && pl >= 1) {
			int ch = (unsigned char)data[0];
			if (ch == 1)
				write_all(1, data + 1, pl - 1);
			else if (ch == 2)
				write_all(2, data + 1, pl - 1);
			else if (ch == 3)
				sb_add(status, data + 1, pl - 1);
		}
		free(data);
	}
	if (n < 0)
		*closed = true; /* a frame larger than any the server sends: give up */
	return used;
}

static void add_query(struct strbuf *q, const char *name, const char *value)
{
	sb_printf(q, "%s%s=", q->len ? "&" : "", name);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p))
			sb_addc(q, (char)*p);
		else
			sb_printf(q, "%%%02X", *p);
	}
}

int client_exec(struct client *c, const char *ns, const char *name, char *const *argv, bool in, bool tty,
		char **err)
{
	struct strbuf q;
	sb_init(&q);
	for (size_t i = 0; argv[i]; i++)
		add_query(&q, "command", argv[i]);
	add_query(&q, "stdin", in ? "true" : "false");
	add_query(&q, "stdout", "true");
	add_query(&q, "stderr", tty ? "false" : "true");
	add_query(&q, "tty", tty ? "true" : "false");
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s/exec?%s", ns, name, q.buf);
	sb_free(&q);
	unsigned char rnd[16];
	char key[32];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0x42, sizeof(rnd));
	EVP_EncodeBlock((unsigned char *)key, rnd, sizeof(rnd));
	char *hdr = xasprintf("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
			      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n", key);
	int fd = client_open_stream(c, path, hdr, err);
	free(hdr);
	free(path);
	if (fd < 0)
		return -1;

	/* The answer: 101, or a Status to report. */
	struct strbuf rx;
	sb_init(&rx);
	char buf[65536];
	struct http_msg resp;
	bool v5 = false;
	for (;;) {
		ssize_t p = http_parse_response(rx.buf ? rx.buf : "", rx.len, 1 << 20, false, true, &resp);
		if (p > 0) {
			sb_consume(&rx, (size_t)p);
			break;
		}
		if (p < 0) {
			*err = xstrdup("malformed answer to the exec request");
			goto fail;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = xstrdup("the server closed the connection before answering the exec request");
			goto fail;
		}
		sb_add(&rx, buf, (size_t)n);
	}
	if (resp.status != 101) {
		/* Not upgraded: the body (a Status) follows. */
		size_t want = (size_t)atol(http_get_header(&resp, "Content-Length") ?: "0");
		while (rx.len < want) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			sb_add(&rx, buf, (size_t)n);
		}
		json_t *st = json_loadb(rx.buf ? rx.buf : "", rx.len, 0, NULL);
		*err = st ? client_status_text(st, resp.status)
			  : xasprintf("the server answered %d to the exec request", resp.status);
		json_decref(st);
		http_msg_free(&resp);
		goto fail;
	}
	v5 = strstr(http_get_header(&resp, "Sec-WebSocket-Protocol") ?: "", "v5.channel.k8s.io") != NULL;
	http_msg_free(&resp);

	struct termios saved;
	bool raw = tty && in && isatty(0) && tcgetattr(0, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(0, TCSANOW, &t);
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
			char *sz = xasprintf("{\"Width\":%u,\"Height\":%u}", ws.ws_col, ws.ws_row);
			send_frame(fd, 4, sz, strlen(sz));
			free(sz);
		}
	}
	struct strbuf status;
	sb_init(&status);
	bool closed = false, in_open = in;
	size_t used = take_frames(rx.buf ? rx.buf : "", rx.len, &status, &closed);
	sb_consume(&rx, used);
	while (!closed) {
		struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
		if (poll(pf, in_open ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			sb_add(&rx, buf, (size_t)n);
			used = take_frames(rx.buf, rx.len, &status, &closed);
			sb_consume(&rx, used);
		}
		if (in_open && pf[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n > 0) {
				send_frame(fd, 0, buf, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				/* End of our input: v5 says so on channel 255; v4 cannot. */
				in_open = false;
				if (v5)
					send_frame(fd, 255, "\0", 1);
			}
		}
	}
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	int code = status.len ? exit_code_of(status.buf, status.len) : 0;
	sb_free(&status);
	sb_free(&rx);
	close(fd);
	return code;
fail:
	sb_free(&rx);
	close(fd);
	return -1;
}
