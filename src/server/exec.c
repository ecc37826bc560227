#define _GNU_SOURCE 1
#include "exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "../agent/agent.h"
#include "../api/schema.h"
#include "../lib/dial.h"
#include "../lib/paths.h"
#include "../lib/proc.h"
#include "../lib/util.h"
#include "../lib/ws.h"
#include "objects.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct exec_session {
	int upstream;              /* proxied to the pod's node: its connection, else -1 */
	bool plain;                /* a pods/log follow: chunked text, not WebSocket frames */
	pid_t pid;
	int in_fd, out_fd, err_fd; /* -1 when closed or not asked for */
	bool tty;
	struct strbuf rx;          /* undecoded frame bytes from the client */
};

static void channel_frame(struct conn *c, int channel, const char *data, size_t len)
{
	ws_frame(&c->out, WS_BINARY, false, channel, data, len);
}

static void fail(struct conn *c, const struct http_msg *req, int code, const char *reason, const char *msg)
{
	conn_respond_json(c, req, code, status_new(code, reason, msg));
}

static void finish(struct conn *c)
{
	struct exec_session *e = c->exec;
	int st = 0;
	if (e->pid > 0 && waitpid(e->pid, &st, 0) == e->pid)
		e->pid = 0;
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	json_t *status;
	if (code == 0) {
		status = json_pack("{s:{},s:s}", "metadata", "status", "Success");
	} else {
		char num[16], *msg = xasprintf("command terminated with non-zero exit code: exit status %d", code);
		snprintf(num, sizeof(num), "%d", code);
		status = json_pack("{s:{},s:s,s:s,s:s,s:{s:[{s:s,s:s}]}}", "metadata", "status", "Failure", "message", msg,
				   "reason", "NonZeroExitCode", "details", "causes", "reason", "ExitCode", "message", num);
		free(msg);
	}
	char *s = json_dumps(status, JSON_COMPACT);
	channel_frame(c, 3, s, strlen(s));
	free(s);
	json_decref(status);
	unsigned char close_code[2] = { 0x03, 0xe8 }; /* 1000: normal */
	ws_frame(&c->out, WS_CLOSE, false, -1, close_code, 2);
	c->close_after_flush = true;
	conn_flush(c);
}

static void out_event(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct conn *c = ctx;
	struct exec_session *e = c->exec;
	char buf[32768];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0 && e->plain) {
		conn_stream_chunk(c, buf, (size_t)n); /* flushes, and may close c */
		return;
	}
	if (n > 0) {
		channel_frame(c, fd == e->err_fd ? 2 : 1, buf, (size_t)n);
		conn_flush(c);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF (or EIO from a pty whose process ended). */
	loop_del(l, fd);
	close(fd);
	if (fd == e->out_fd) {
		if (e->tty && e->in_fd == fd)
			e->in_fd = -1;
		e->out_fd = -1;
	} else {
		e->err_fd = -1;
	}
	if (e->out_fd < 0 && e->err_fd < 0) {
		if (e->plain) {
			if (e->pid > 0 && waitpid(e->pid, NULL, 0) == e->pid)
				e->pid = 0;
			conn_stream_end(c);
			conn_flush(c);
		} else {
			finish(c);
		}
	}
}

/* The last n lines of text (all of it when n < 0). */
static const char *last_lines(const char *text, size_t len, long n)
{
	if (n < 0)
		return text;
	if (n == 0)
		return text + len;
	const char *p = text + len;
	if (p > text && p[-1] == '\n')
		p--;
	while (p > text) {
		if (p[-1] == '\n' && --n == 0)
			break;
		p--;
	}
	return p;
}

/* Node API: the pod's process (0 when not running) and log file, from the agent's
 * records in the node's state directory; false after answering 404. */
static bool find_pod_process(struct conn *c, const struct http_msg *req, const char *ns, const char *name,
			     pid_t *pid, char **log_path)
{
	char *dir = xasprintf("%s/pods", c->srv->cfg.state_dir);
	DIR *d = opendir(dir);
	struct dirent *de;

	*log_path = NULL;
	*pid = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
			continue; /* UID files only, not UID.log or UID.resolv.conf */
		char *rec = paths_pod_record(c->srv->cfg.state_dir, de->d_name);
		struct pod_record r;
		bool mine = agent_read_record(rec, &r) == 0 && !strcmp(r.ns, ns) && !strcmp(r.name, name);
		free(rec);
		if (!mine)
			continue;
		*pid = r.pid > 1 && kill(r.pid, 0) == 0 ? r.pid : 0;
		*log_path = paths_pod_log(c->srv->cfg.state_dir, de->d_name);
		break;
	}
	if (d)
		closedir(d);
	free(dir);
	if (!*log_path) {
		const struct skind *pk = schema_kind_lookup(c->srv->schema, "pods");
		conn_respond_json(c, req, 404, status_not_found(pk, name));
		return false;
	}
	return true;
}

/* ---- the API server's side: the request goes to the node that runs the pod ---- */

static void upstream_event(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct conn *c = ctx;
	char buf[32768];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)events;
	if (n > 0) {
		sb_add(&c->out, buf, (size_t)n);
		conn_flush(c);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* The node ended its answer: so does this connection, once it is written. */
	loop_del(l, fd);
	close(fd);
	c->exec->upstream = -1;
	c->close_after_flush = true;
	conn_flush(c);
}

/* Sends the request on to the node API of the pod's node (the Node's
 * tulle.io/node-api annotation) and relays bytes both ways from then on: a WebSocket
 * upgrade, a log stream or a plain answer, whatever the node says. */
static void proxy_to_node(struct conn *c, const struct http_msg *req, const char *ns, const char *name)
{
	const struct skind *pk = schema_kind_lookup(c->srv->schema, "pods");
	const struct skind *nk = schema_kind_lookup(c->srv->schema, "nodes");
	json_t *pod = objects_get(c->srv, pk, ns, name), *node = NULL;
	const char *node_name = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));

	if (!pod) {
		conn_respond_json(c, req, 404, status_not_found(pk, name));
		return;
	}
	if (!node_name) {
		json_decref(pod);
		fail(c, req, 400, "BadRequest", "the pod is not scheduled to a node yet");
		return;
	}
	node = objects_get(c->srv, nk, "", node_name);
	const char *url = json_string_value(json_object_get(json_object_get(json_object_get(node, "metadata"),
									      "annotations"), "tulle.io/node-api"));
	char *why = NULL;
	int fd = url ? dial_url(url, &why) : -1;
	if (fd < 0) {
		char *msg = url ? xasprintf("cannot reach the node API of node %s: %s (is its agent running?)", node_name, why)
				: xasprintf("node %s publishes no node API (annotation tulle.io/node-api; is its agent running?)",
					    node_name);
		fail(c, req, 502, "ServiceUnavailable", msg);
		free(msg);
		free(why);
		json_decref(pod);
		json_decref(node);
		return;
	}
	json_decref(pod);
	json_decref(node);
	/* The request as it came, but one request per node connection. */
	struct strbuf sb;
	bool upgrade = http_get_header(req, "Upgrade") != NULL;
	sb_init(&sb);
	sb_printf(&sb, "%s %s HTTP/1.1\r\n", req->method, req->target);
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, "Connection") && strcasecmp(req->headers[i].name, "Authorization"))
			sb_printf(&sb, "%s: %s\r\n", req->headers[i].name, req->headers[i].value);
	sb_printf(&sb, "Connection: %s\r\n\r\n", upgrade ? "Upgrade" : "close");
	if (req->body_len)
		sb_add(&sb, req->body, req->body_len);
	size_t off = 0;
	while (off < sb.len) {
		ssize_t w = send(fd, sb.buf + off, sb.len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	sb_free(&sb);
	struct exec_session *e = xcalloc(1, sizeof(*e));
	e->upstream = fd;
	e->in_fd = e->out_fd = e->err_fd = -1;
	sb_init(&e->rx);
	c->exec = e;
	c->streaming = true;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	loop_add(c->srv->loop, fd, EPOLLIN, upstream_event, c);
}

void exec_log(struct conn *c, const struct http_msg *req, const char *ns, const char *name)
{
	char *log_path;
	pid_t pid;
	if (!c->srv->cfg.node_api) {
		proxy_to_node(c, req, ns, name);
		return;
	}
	if (!find_pod_process(c, req, ns, name, &pid, &log_path))
		return;
	char *f = http_query_param(req->query, "follow"), *tl = http_query_param(req->query, "tailLines");
	bool follow = f && !strcmp(f, "true");
	long tail = tl ? strtol(tl, NULL, 10) : -1;
	free(f);
	free(tl);
	char *data = NULL;
	size_t len = 0;
	if (!log_path || read_file(log_path, &data, &len) < 0) {
		free(log_path);
		fail(c, req, 400, "BadRequest", "the pod has no log yet (has it started?)");
		return;
	}
	if (!follow || !pid) {
		const char *from = last_lines(data, len, tail);
		conn_respond(c, req, 200, "text/plain", from, len - (size_t)(from - data));
		free(data);
		free(log_path);
		return;
	}
	free(data);
	/* Following: tail(1) prints what is there and what comes, and ends with the process. */
	int outp[2];
	if (pipe2(outp, O_CLOEXEC) < 0) {
		free(log_path);
		fail(c, req, 500, "InternalError", "cannot make a pipe");
		return;
	}
	char pidarg[32], lines[32];
	snprintf(pidarg, sizeof(pidarg), "--pid=%d", (int)pid);
	if (tail >= 0)
		snprintf(lines, sizeof(lines), "%ld", tail);
	else
		snprintf(lines, sizeof(lines), "+1");
	pid_t child = fork();
	if (child == 0) {
		proc_child_reset();
		dup2(outp[1], 1);
		execlp("tail", "tail", "-n", lines, "-f", pidarg, log_path, (char *)NULL);
		_exit(127);
	}
	free(log_path);
	close(outp[1]);
	struct exec_session *e = xcalloc(1, sizeof(*e));
	e->upstream = -1;
	e->plain = true;
	e->pid = child;
	e->in_fd = e->err_fd = -1;
	e->out_fd = outp[0];
	sb_init(&e->rx);
	c->exec = e;
	conn_stream_start(c, "text/plain");
	fcntl(e->out_fd, F_SETFL, O_NONBLOCK);
	loop_add(c->srv->loop, e->out_fd, EPOLLIN, out_event, c);
	conn_flush(c);
}

/* exec: the request's command (command=... repeated) under nsenter in the pod's
 * network, UTS and mount namespaces; NULL when there is no command. */
static char **exec_argv(const struct http_msg *req, pid_t target, size_t *n)
{
	char **argv = xcalloc(72, sizeof(char *));
	*n = 0;
	argv[(*n)++] = xstrdup("nsenter");
	argv[(*n)++] = xstrdup("-t");
	argv[(*n)++] = xasprintf("%d", (int)target);
	const char *flags[] = { "-n", "-u", "-m", "--" };
	for (size_t i = 0; i < 4; i++)
		argv[(*n)++] = xstrdup(flags[i]);
	size_t before = *n;
	const char *q = req->query ? req->query : "";
	while (*q && *n < 70) {
		size_t l = strcspn(q, "&");
		if (l > 8 && !strncmp(q, "command=", 8)) {
			char *part = xstrndup(q, l);
			argv[(*n)++] = http_query_param(part, "command");
			free(part);
		}
		q += l;
		if (*q == '&')
			q++;
	}
	if (*n == before) {
		for (size_t i = 0; i < *n; i++)
			free(argv[i]);
		free(argv);
		return NULL;
	}
	return argv;
}

/* attach: the pod's output as it is written (from its start) until its process ends;
 * its stdin is not connected (pods run with /dev/null). */
static char **attach_argv(pid_t target, const char *log_path)
{
	char **argv = xcalloc(8, sizeof(char *));
	argv[0] = xstrdup("tail");
	argv[1] = xstrdup("-c");
	argv[2] = xstrdup("+1");
	argv[3] = xstrdup("-f");
	argv[4] = xasprintf("--pid=%d", (int)target);
	argv[5] = xstrdup(log_path ? log_path : "/dev/null");
	return argv;
}

void exec_start(struct conn *c, const struct http_msg *req, const char *ns, const char *name, bool attach)
{
	if (!c->srv->cfg.node_api) {
		proxy_to_node(c, req, ns, name);
		return;
	}
	const char *key = http_get_header(req, "Sec-WebSocket-Key");
	const char *protos = http_get_header(req, "Sec-WebSocket-Protocol");
	if (!key || !protos) {
		fail(c, req, 400, "BadRequest", "exec and attach are served over WebSocket (v5.channel.k8s.io, "
			"v4.channel.k8s.io); this request asked for no WebSocket upgrade");
		return;
	}
	const char *proto = strstr(protos, "v5.channel.k8s.io") ? "v5.channel.k8s.io"
			  : strstr(protos, "v4.channel.k8s.io") ? "v4.channel.k8s.io" : NULL;
	if (!proto) {
		fail(c, req, 400, "BadRequest", "no supported WebSocket subprotocol (v5.channel.k8s.io, v4.channel.k8s.io)");
		return;
	}
	char *log_path;
	pid_t target;
	if (!find_pod_process(c, req, ns, name, &target, &log_path))
		return;
	if (!target) {
		free(log_path);
		fail(c, req, 400, "BadRequest", "the pod's process is not running (is the pod Running?)");
		return;
	}
	char *t = http_query_param(req->query, "tty"), *in = http_query_param(req->query, "stdin");
	char *er = http_query_param(req->query, "stderr");
	bool tty = t && !strcmp(t, "true"), want_in = in && !strcmp(in, "true"), want_err = !er || !strcmp(er, "true");
	free(t);
	free(in);
	free(er);
	size_t n;
	char **argv = attach ? attach_argv(target, log_path) : exec_argv(req, target, &n);
	free(log_path);
	if (!argv) {
		fail(c, req, 400, "BadRequest", "you must specify at least one command for the container");
		return;
	}
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, master = -1;
	pid_t pid;
	if (tty) {
		pid = forkpty(&master, NULL, NULL, NULL);
	} else {
		if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
			fail(c, req, 500, "InternalError", "cannot make pipes");
			return;
		}
		pid = fork();
		if (pid == 0) {
			dup2(inp[0], 0);
			dup2(outp[1], 1);
			/* stderr=false: Kubernetes discards the stream. */
			int nul = want_err ? -1 : open("/dev/null", O_WRONLY);
			dup2(nul >= 0 ? nul : errp[1], 2);
		}
	}
	if (pid == 0) {
		/* The node API blocks SIGTERM for its signalfd: without this, `timeout` in an
		 * exec'd command could not stop what it runs. */
		proc_child_reset();
		setsid();
		/* A session ends with the node API that runs it (cluster delete, a crash). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	struct exec_session *e = xcalloc(1, sizeof(*e));
	e->upstream = -1;
	e->pid = pid;
	e->tty = tty;
	sb_init(&e->rx);
	if (tty) {
		e->in_fd = e->out_fd = master;
		e->err_fd = -1;
	} else {
		close(inp[0]);
		close(outp[1]);
		close(errp[1]);
		e->in_fd = inp[1];
		e->out_fd = outp[0];
		e->err_fd = errp[0];
		if (!want_in) {
			close(e->in_fd);
			e->in_fd = -1;
		}
	}
	c->exec = e;
	/* The upgrade. */
	unsigned char sha[SHA_DIGEST_LENGTH];
	char *cat = xasprintf("%s%s", key, WS_GUID), accept[64];
	SHA1((const unsigned char *)cat, strlen(cat), sha);
	EVP_EncodeBlock((unsigned char *)accept, sha, SHA_DIGEST_LENGTH);
	free(cat);
	sb_printf(&c->out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n", accept, proto);
	c->streaming = true;
	fcntl(e->out_fd, F_SETFL, O_NONBLOCK);
	loop_add(c->srv->loop, e->out_fd, EPOLLIN, out_event, c);
	if (e->err_fd >= 0) {
		fcntl(e->err_fd, F_SETFL, O_NONBLOCK);
		loop_add(c->srv->loop, e->err_fd, EPOLLIN, out_event, c);
	}
}

/* Client frames: masked, maybe fragmented only by size (kubectl sends whole ones). */
void exec_feed(struct conn *c, const char *buf, size_t len)
{
	struct exec_session *e = c->exec;
	if (e->upstream >= 0) {
		/* Proxied: the node decodes the frames. */
		while (len) {
			ssize_t w = send(e->upstream, buf, len, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN) {
				/* A short stall: wait for room (the client's input is small: keys, resizes). */
				struct pollfd p = { .fd = e->upstream, .events = POLLOUT };
				poll(&p, 1, 1000);
				continue;
			}
			if (w <= 0)
				break;
			buf += w;
			len -= (size_t)w;
		}
		return;
	}
	sb_add(&e->rx, buf, len);
	for (;;) {
		int opcode;
		char *payload;
		size_t pl;
		ssize_t used = ws_parse(e->rx.buf, e->rx.len, 1u << 24, &opcode, &payload, &pl);
		if (used < 0) {
			c->close_after_flush = true; /* no frame here is that large */
			return;
		}
		if (used == 0)
			return;
		unsigned char *data = (unsigned char *)payload;
		sb_consume(&e->rx, (size_t)used);
		if (opcode == WS_CLOSE) {
			free(data);
			exec_release(c);
			c->close_after_flush = true;
			return;
		}
		if (opcode == WS_PING)
			ws_frame(&c->out, WS_PONG, false, -1, data, pl);
		if ((opcode == WS_TEXT || opcode == WS_BINARY) && pl >= 1) {
			int ch = data[0];
			if (ch == 0 && e->in_fd >= 0 && pl > 1) {
				ssize_t w = write(e->in_fd, data + 1, pl - 1);
				(void)w;
			} else if (ch == 4 && e->tty && e->in_fd >= 0) {
				json_t *sz = json_loadb((const char *)data + 1, pl - 1, 0, NULL);
				struct winsize ws = { .ws_col = (unsigned short)json_integer_value(json_object_get(sz, "Width")),
						      .ws_row = (unsigned short)json_integer_value(json_object_get(sz, "Height")) };
				ioctl(e->in_fd, TIOCSWINSZ, &ws);
				json_decref(sz);
			} else if (ch == 255 && pl >= 2 && data[1] == 0 && e->in_fd >= 0) {
				/* v5: the client closed stdin. */
				if (e->tty) {
					char eot = 4;
					ssize_t w = write(e->in_fd, &eot, 1);
					(void)w;
				} else {
					close(e->in_fd);
					e->in_fd = -1;
				}
			}
		}
		free(data);
	}
}

void exec_release(struct conn *c)
{
	struct exec_session *e = c->exec;
	if (!e)
		return;
	if (e->upstream >= 0) {
		loop_del(c->srv->loop, e->upstream);
		close(e->upstream);
		e->upstream = -1;
	}
	if (e->pid > 0) {
		kill(-e->pid, SIGKILL);
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
	int fds[3] = { e->in_fd, e->out_fd, e->err_fd };
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0 || (i == 0 && e->tty))
			continue;
		if (i > 0)
			loop_del(c->srv->loop, fds[i]);
		close(fds[i]);
	}
	e->in_fd = e->out_fd = e->err_fd = -1;
}

void exec_free(struct conn *c)
{
	if (!c->exec)
		return;
	sb_free(&c->exec->rx);
	free(c->exec);
	c->exec = NULL;
}
