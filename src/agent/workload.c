/* Built-in workloads that container images map to, run inside pod namespaces:
 *   http  an HTTP server answering every request with its text (or, by default, the
 *         pod's hostname and the client's address), as nginx/http-echo stand-ins;
 *   tcp   a listener that accepts and echoes (postgres and other TCP services);
 *   idle  sleeps, for `exec` (curlimages/curl). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/http.h"
#include "../lib/util.h"
#include "agent.h"

static void serve_stream(const char *kind, const char *text, int fd, int proto);

/* Forks a listener that dies with the workload's main process (a container's
 * processes end together). True in the child. */
static bool child_of(pid_t parent)
{
	pid_t pid = fork();
	if (pid != 0)
		return false;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0); /* the parent died before prctl took effect */
	return true;
}

static int listen_on(int port, int proto)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, proto), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		/* A port this kernel cannot serve (SCTP without its module) must not take the
		 * pod's other ports down with it. */
		fprintf(stderr, "workload: cannot listen on %s port %d: %s\n",
			proto == IPPROTO_SCTP ? "SCTP" : "TCP", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void serve_http(int c, const char *text)
{
	struct strbuf in;
	char buf[8192], host[256] = "", peer[64] = "";
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	gethostname(host, sizeof(host) - 1);
	if (getpeername(c, (struct sockaddr *)&sa, &sl) == 0)
		inet_ntop(AF_INET, &sa.sin_addr, peer, sizeof(peer));
	sb_init(&in);
	for (;;) {
		struct http_msg req;
		ssize_t n = http_parse_request(in.buf ? in.buf : "", in.len, 1 << 20, &req);
		if (n == HTTP_NEED_MORE) {
			ssize_t r = read(c, buf, sizeof(buf));
			if (r <= 0)
				break;
			sb_add(&in, buf, (size_t)r);
			continue;
		}
		if (n < 0)
			break;
		char *body = text ? xasprintf("%s\n", text)
				  : xasprintf("pod=%s client=%s method=%s path=%s\n", host, peer, req.method, req.path);
		char *resp = xasprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n%s",
				       strlen(body), req.keep_alive ? "" : "Connection: close\r\n", body);
		ssize_t w = write(c, resp, strlen(resp));
		(void)w;
		bool keep = req.keep_alive;
		free(resp);
		free(body);
		http_msg_free(&req);
		sb_consume(&in, (size_t)n);
		if (!keep)
			break;
	}
	sb_free(&in);
	close(c);
}

static void serve_echo(int c)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(c, buf, sizeof(buf))) > 0)
		if (write(c, buf, (size_t)n) != n)
			break;
	close(c);
}

/* UDP beside TCP on the same port: each datagram is answered with who answered and
 * whom it saw, so a probe can tell both ends' addresses. */
static void serve_udp(int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[2048], host[256] = "", peer[64], out[512];

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return;
	gethostname(host, sizeof(host) - 1);
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			continue;
		inet_ntop(AF_INET, &from.sin_addr, peer, sizeof(peer));
		int len = snprintf(out, sizeof(out), "udp pod=%s client=%s\n", host, peer);
		sendto(fd, out, (size_t)len, 0, (struct sockaddr *)&from, fl);
	}
}

int workload_main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "";
	const char *text = getenv("ECHO_TEXT");
	/* Ports to serve: "N" (TCP, plus UDP beside it), "N/udp", "N/sctp". */
	int ports[16], protos[16], nports = 0;

	for (int i = 2; i < argc; i++) {
		if (!strncmp(argv[i], "-listen=", 8) || !strncmp(argv[i], "--listen=", 9)) {
			/* http-echo's form: -listen=:5678 */
			const char *v = strrchr(argv[i], ':');
			ports[0] = atoi(v ? v + 1 : strchr(argv[i], '=') + 1);
			protos[0] = IPPROTO_TCP;
			nports = nports ? nports : 1;
		} else if (!strncmp(argv[i], "-text=", 6) || !strncmp(argv[i], "--text=", 7)) {
			text = strchr(argv[i], '=') + 1;
		} else if (!strcmp(argv[i], "--port") && i + 1 < argc && nports < 16) {
			const char *v = argv[++i], *slash = strchr(v, '/');
			ports[nports] = atoi(v);
			protos[nports++] = !slash ? IPPROTO_TCP : !strcasecmp(slash + 1, "udp") ? IPPROTO_UDP
					 : !strcasecmp(slash + 1, "sctp") ? IPPROTO_SCTP : IPPROTO_TCP;
		}
	}
	if (!nports) {
		ports[0] = 80;
		protos[0] = IPPROTO_TCP;
		nports = 1;
	}
	signal(SIGCHLD, SIG_IGN); /* connection children reap themselves */
	pid_t self = getpid();
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(kind, "idle")) {
		for (;;)
			pause();
	}
	if (strcmp(kind, "http") && strcmp(kind, "tcp")) {
		fprintf(stderr, "usage: tulle workload http|tcp|idle [--port N] [-text=TEXT]\n");
		return 2;
	}
	/* One process per listener; the last one runs here. */
	for (int i = 0; i < nports; i++) {
		bool last = i == nports - 1;
		if (protos[i] == IPPROTO_UDP) {
			if (last || child_of(self)) {
				serve_udp(ports[i]);
				_exit(0);
			}
			continue;
		}
		if (protos[i] == IPPROTO_TCP && child_of(self)) {
			serve_udp(ports[i]); /* UDP beside every TCP port, for probes */
			_exit(0);
		}
		if (!last && !child_of(self))
			continue;
		serve_stream(kind, text, listen_on(ports[i], protos[i]), protos[i]);
	}
	return 0;
}

static void serve_stream(const char *kind, const char *text, int fd, int proto)
{
	while (fd < 0)
		pause(); /* keep the pod (and its other listeners) alive */
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		pid_t pid = fork();
		if (pid == 0) {
			if (!strcmp(kind, "http") && proto == IPPROTO_TCP)
				serve_http(c, text);
			else
				serve_echo(c);
			_exit(0);
		}
		close(c);
	}
}
