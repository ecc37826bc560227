/* `tulle dns`: the cluster DNS server (what CoreDNS is in a Kubernetes cluster). It
 * runs as the kube-dns Service's pods, watches Services and EndpointSlices in the API,
 * answers the cluster domain itself and forwards other names to an upstream server. */
#define _GNU_SOURCE 1
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../client/client.h"
#include "../client/informer.h"
#include "../lib/loop.h"
#include "../lib/util.h"
#include "msg.h"
#include "zone.h"

#define MAX_PENDING 4096
#define FORWARD_TIMEOUT_S 3
#define TCP_MAX_CONNS 256

struct pending {
	bool used;
	uint16_t client_id;
	int tcp_fd;                  /* -1: answer over UDP to addr */
	struct sockaddr_in addr;
	time_t sent;
};

struct tcp_conn {
	int fd;
	uint8_t buf[65537];
	size_t len;
	time_t last;
};

static struct {
	struct client cl;
	struct loop *loop;
	struct dns_zone *zone;
	struct informer *svcs, *slices; /* watched, not polled */
	const char *domain;
	uint32_t ttl;
	int udp, tcp, up;            /* sockets: queries, TCP listener, upstream */
	bool have_upstream;
	struct pending pend[MAX_PENDING];
	uint16_t next;
	struct tcp_conn *conns[TCP_MAX_CONNS];
	unsigned long queries, forwarded, formerr;
} d;

/* Rebuilds the zone from the informers' caches whenever either changed. */
static void rebuild(struct informer *inf, void *ctx)
{
	(void)inf;
	(void)ctx;
	if (!informer_synced(d.svcs) || !informer_synced(d.slices))
		return;
	json_t *svcs = informer_list(d.svcs), *slices = informer_list(d.slices);
	struct dns_zone *z = dns_zone_build(svcs, slices, d.domain, d.ttl);
	dns_zone_free(d.zone);
	d.zone = z;
	json_decref(svcs);
	json_decref(slices);
}

static void send_tcp(int fd, const uint8_t *msg, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec iov[2] = { { hdr, 2 }, { (void *)msg, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) { /* the client went away: nothing to do */ }
}

static void reply(int tcp_fd, const struct sockaddr_in *to, const uint8_t *msg, size_t len)
{
	if (!len)
		return;
	if (tcp_fd >= 0)
		send_tcp(tcp_fd, msg, len);
	else
		sendto(d.udp, msg, len, 0, (const struct sockaddr *)to, sizeof(*to));
}

/* Sends the query upstream under a fresh id; the answer goes back to the client with
 * its own id. */
static void forward(const uint8_t *msg, size_t len, int tcp_fd, const struct sockaddr_in *from, const struct dns_query *q)
{
	uint8_t out[512];
	if (!d.have_upstream) {
		reply(tcp_fd, from, out, dns_build_error(msg, len, DNS_SERVFAIL, out, sizeof(out)));
		return;
	}
	for (int tries = 0; tries < MAX_PENDING; tries++) {
		uint16_t id = d.next++ % MAX_PENDING;
		if (d.pend[id].used)
			continue;
		d.pend[id] = (struct pending){ .used = true, .client_id = q->id, .tcp_fd = tcp_fd, .sent = time(NULL) };
		if (from)
			d.pend[id].addr = *from;
		uint8_t *copy = xmalloc(len);
		memcpy(copy, msg, len);
		copy[0] = (uint8_t)(id >> 8);
		copy[1] = (uint8_t)id;
		if (send(d.up, copy, len, 0) < 0)
			d.pend[id].used = false;
		free(copy);
		d.forwarded++;
		return;
	}
	reply(tcp_fd, from, out, dns_build_error(msg, len, DNS_SERVFAIL, out, sizeof(out)));
}

static void handle(const uint8_t *msg, size_t len, int tcp_fd, const struct sockaddr_in *from)
{
	static uint8_t out[65535];
	struct dns_query q;
	d.queries++;
	switch (dns_parse_query(msg, len, &q)) {
	case DNS_PARSE_DROP: return;
	case DNS_PARSE_FORMERR:
		d.formerr++;
		reply(tcp_fd, from, out, dns_build_error(msg, len, DNS_FORMERR, out, 512));
		return;
	case DNS_PARSE_NOTIMP:
		reply(tcp_fd, from, out, dns_build_error(msg, len, DNS_NOTIMP, out, 512));
		return;
	case DNS_PARSE_OK: break;
	}
	struct dns_answer a;
	if (!d.zone || !dns_zone_answer(d.zone, &q, &a)) {
		forward(msg, len, tcp_fd, from, &q);
		return;
	}
	size_t max = tcp_fd >= 0 ? sizeof(out) : q.udp_size;
	reply(tcp_fd, from, out, dns_build(&q, &a, out, max));
	dns_answer_free(&a);
}

static void on_udp(struct loop *l, int fd, uint32_t ev, void *ctx)
{
	uint8_t buf[4096];
	struct sockaddr_in from;
	for (int i = 0; i < 64; i++) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		handle(buf, (size_t)n, -1, &from);
	}
}

static void on_upstream(struct loop *l, int fd, uint32_t ev, void *ctx)
{
	uint8_t buf[65535];
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return;
		if (n < 12)
			continue;
		uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
		if (id >= MAX_PENDING || !d.pend[id].used)
			continue; /* late or forged */
		struct pending *p = &d.pend[id];
		p->used = false;
		buf[0] = (uint8_t)(p->client_id >> 8);
		buf[1] = (uint8_t)p->client_id;
		reply(p->tcp_fd, &p->addr, buf, (size_t)n);
	}
}

static void close_conn(int slot)
{
	struct tcp_conn *c = d.conns[slot];
	/* Pending forwards for this connection answer nobody. */
	for (int i = 0; i < MAX_PENDING; i++)
		if (d.pend[i].used && d.pend[i].tcp_fd == c->fd)
			d.pend[i].used = false;
	loop_del(d.loop, c->fd);
	close(c->fd);
	free(c);
	d.conns[slot] = NULL;
}

static void on_conn(struct loop *l, int fd, uint32_t ev, void *ctx)
{
	int slot = (int)(intptr_t)ctx;
	struct tcp_conn *c = d.conns[slot];
	ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n <= 0) {
		close_conn(slot);
		return;
	}
	c->len += (size_t)n;
	c->last = time(NULL);
	while (c->len >= 2) {
		size_t ml = (size_t)(c->buf[0] << 8 | c->buf[1]);
		if (c->len < 2 + ml)
			break;
		handle(c->buf + 2, ml, fd, NULL);
		memmove(c->buf, c->buf + 2 + ml, c->len - 2 - ml);
		c->len -= 2 + ml;
	}
}

static void on_accept(struct loop *l, int fd, uint32_t ev, void *ctx)
{
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	for (int i = 0; i < TCP_MAX_CONNS; i++)
		if (!d.conns[i]) {
			d.conns[i] = xcalloc(1, sizeof(struct tcp_conn));
			d.conns[i]->fd = cfd;
			d.conns[i]->last = time(NULL);
			loop_add(l, cfd, 1 /* EPOLLIN */, on_conn, (void *)(intptr_t)i);
			return;
		}
	close(cfd); /* full: the client retries */
}

static void housekeeping(struct loop *l, void *ctx)
{
	time_t now = time(NULL);
	uint8_t out[512];
	for (int i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &d.pend[i];
		if (!p->used || now - p->sent < FORWARD_TIMEOUT_S)
			continue;
		/* The upstream did not answer: SERVFAIL rather than silence. */
		uint8_t h[12] = { (uint8_t)(p->client_id >> 8), (uint8_t)p->client_id, 0x01, 0, 0, 0 };
		p->used = false;
		reply(p->tcp_fd, &p->addr, out, dns_build_error(h, sizeof(h), DNS_SERVFAIL, out, sizeof(out)));
	}
	for (int i = 0; i < TCP_MAX_CONNS; i++)
		if (d.conns[i] && now - d.conns[i]->last > 10)
			close_conn(i);
}

static int parse_int(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 1 << 30)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_hostport(const char *s, int def_port, struct sockaddr_in *out)
{
	char host[64];
	int port = def_port;
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	if (colon && (parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535))
		return -1;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void on_term(int sig)
{
	loop_stop(d.loop);
}

int dns_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' }, { "listen", required_argument, NULL, 'l' },
		{ "upstream", required_argument, NULL, 'u' }, { "domain", required_argument, NULL, 'd' },
		{ "ttl", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	const char *server = NULL, *listen_at = "0.0.0.0:53", *upstream = NULL;
	int c, ttl = 5;
	char *err = NULL;
	d.domain = "cluster.local";
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'l': listen_at = optarg; break;
		case 'u': upstream = optarg; break;
		case 'd': d.domain = optarg; break;
		case 't':
			if (parse_int(optarg, &ttl) < 0 || ttl < 0) {
				fprintf(stderr, "dns: --ttl takes seconds, not %s\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: tulle dns [--server URL] [--listen IP:PORT] [--upstream IP[:PORT]] [--domain D] [--ttl S]\n");
			return 2;
		}
	}
	d.ttl = (uint32_t)ttl;
	struct sockaddr_in la, ua;
	if (parse_hostport(listen_at, 53, &la) < 0) {
		fprintf(stderr, "dns: --listen %s: expected IP:PORT\n", listen_at);
		return 2;
	}
	if (upstream && parse_hostport(upstream, 53, &ua) < 0) {
		fprintf(stderr, "dns: --upstream %s: expected IP[:PORT]\n", upstream);
		return 2;
	}
	if (client_init(&d.cl, server, NULL, &err) < 0) {
		fprintf(stderr, "dns: %s\n", err);
		return 1;
	}
	int one = 1;
	d.udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	d.tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(d.tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (d.udp < 0 || d.tcp < 0 || bind(d.udp, (struct sockaddr *)&la, sizeof(la)) < 0 ||
	    bind(d.tcp, (struct sockaddr *)&la, sizeof(la)) < 0 || listen(d.tcp, 128) < 0) {
		fprintf(stderr, "dns: cannot listen on %s: %s\n", listen_at, strerror(errno));
		return 1;
	}
	d.up = -1;
	if (upstream) {
		d.up = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (d.up < 0 || connect(d.up, (struct sockaddr *)&ua, sizeof(ua)) < 0) {
			fprintf(stderr, "dns: upstream %s: %s\n", upstream, strerror(errno));
			return 1;
		}
		d.have_upstream = true;
	}
	d.loop = loop_new();
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	d.svcs = informer_new(&d.cl, "/api/v1/services", NULL);
	d.slices = informer_new(&d.cl, "/apis/discovery.k8s.io/v1/endpointslices", NULL);
	informer_start(d.svcs, d.loop, rebuild, NULL);
	informer_start(d.slices, d.loop, rebuild, NULL);
	loop_add(d.loop, d.udp, 1, on_udp, NULL);
	loop_add(d.loop, d.tcp, 1, on_accept, NULL);
	if (d.up >= 0)
		loop_add(d.loop, d.up, 1, on_upstream, NULL);
	loop_every(d.loop, 1000, housekeeping, NULL);
	printf("dns: serving %s on %s (udp+tcp)%s%s\n", d.domain, listen_at, upstream ? ", forwarding to " : "",
	       upstream ? upstream : "");
	fflush(stdout);
	int rc = loop_run(d.loop);
	for (int i = 0; i < TCP_MAX_CONNS; i++)
		if (d.conns[i])
			close_conn(i);
	dns_zone_free(d.zone);
	informer_free(d.svcs);
	informer_free(d.slices);
	loop_free(d.loop);
	client_free(&d.cl);
	return rc < 0 ? 1 : 0;
}
