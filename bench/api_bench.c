/* API benchmark: tulle's API server beside etcd (the store kube-apiserver writes
 * through), in one run, on the same machine and disk:
 *   - create throughput: N objects, one request each, over C connections;
 *   - tulle's batch apply (all-or-nothing, one transaction per batch);
 *   - listing all N objects;
 *   - watch fan-out: W watchers, E writes, delay from the start of a write to each
 *     watcher receiving its event (p50/p99).
 * Prints the figures and tulle/etcd ratios. Both stores fsync every commit. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../src/client/client.h"
#include "../src/lib/http.h"
#include "../src/lib/util.h"

static const char *tulle_url, *etcd_url;
static int nobjects = 10000, nconns = 4, nwatchers = 100, nevents = 200;
static bool fanout_only; /* for benches that load their own objects first */

static char *payload_ns(int i, const char *ns)
{
	struct strbuf sb;

	sb_init(&sb);
	sb_printf(&sb, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"o%d\","
		  "\"namespace\":\"%s\",\"labels\":{\"app\":\"bench\",\"shard\":\"s%d\"}},\"data\":{", i, ns, i % 16);
	for (int k = 0; k < 8; k++)
		sb_printf(&sb, "%s\"key%d\":\"value-%d-%d-abcdefghijklmnopqrstuvwxyz\"", k ? "," : "", k, i, k);
	sb_adds(&sb, "}}");
	return sb_detach(&sb);
}

static char *payload(int i)
{
	return payload_ns(i, "bench");
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64(const char *s, size_t n)
{
	char *o = xmalloc(n / 3 * 4 + 8), *p = o;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8 | (unsigned char)s[i + 2];
		*p++ = b64[v >> 18]; *p++ = b64[(v >> 12) & 63]; *p++ = b64[(v >> 6) & 63]; *p++ = b64[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned char)s[i] << 16 | (i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0);
		*p++ = b64[v >> 18];
		*p++ = b64[(v >> 12) & 63];
		*p++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*p++ = '=';
	}
	*p = 0;
	return o;
}

static char *unbase64(const char *s, size_t n)
{
	char *o = xmalloc(n + 1), *p = o;
	unsigned v = 0;
	int bits = 0;

	for (size_t i = 0; i < n && s[i] != '='; i++) {
		const char *c = strchr(b64, s[i]);
		if (!c)
			break;
		v = v << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*p++ = (char)(v >> bits);
		}
	}
	*p = 0;
	return o;
}

static char *etcd_put_body(int i, const char *prefix)
{
	char key[64];
	char *val = payload(i);
	snprintf(key, sizeof(key), "%s%08d", prefix, i);
	char *k64 = base64(key, strlen(key)), *v64 = base64(val, strlen(val));
	char *body = xasprintf("{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64);
	free(val);
	free(k64);
	free(v64);
	return body;
}

/* ---- create throughput ---- */

struct writer {
	bool etcd;
	int from, to;
	int errors;
};

static void *write_range(void *arg)
{
	struct writer *w = arg;
	struct client c;
	char *err;

	if (client_init(&c, w->etcd ? etcd_url : tulle_url, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		w->errors = w->to - w->from;
		return NULL;
	}
	for (int i = w->from; i < w->to; i++) {
		struct http_msg resp;
		char *body = w->etcd ? etcd_put_body(i, "/bench/") : payload(i);
		const char *path = w->etcd ? "/v3/kv/put" : "/api/v1/namespaces/bench/configmaps";
		if (client_do(&c, "POST", path, "application/json", body, strlen(body), &resp, &err) < 0) {
			free(err);
			w->errors++;
		} else {
			if (resp.status != (w->etcd ? 200 : 201))
				w->errors++;
			http_msg_free(&resp);
		}
		free(body);
	}
	client_free(&c);
	return NULL;
}

static double create_rate(bool etcd, int *errors)
{
	pthread_t th[64];
	struct writer w[64];
	uint64_t t0 = now_ns();

	*errors = 0;
	for (int i = 0; i < nconns; i++) {
		w[i] = (struct writer){ etcd, nobjects * i / nconns, nobjects * (i + 1) / nconns, 0 };
		pthread_create(&th[i], NULL, write_range, &w[i]);
	}
	for (int i = 0; i < nconns; i++) {
		pthread_join(th[i], NULL);
		*errors += w[i].errors;
	}
	return nobjects / ((now_ns() - t0) / 1e9);
}

static double batch_rate(int *errors)
{
	struct client c;
	char *err;
	const int batch = 500;
	uint64_t t0 = now_ns();

	*errors = 0;
	if (client_init(&c, tulle_url, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 0;
	}
	for (int from = 0; from < nobjects; from += batch) {
		struct strbuf sb;
		struct http_msg resp;
		sb_init(&sb);
		sb_adds(&sb, "{\"items\":[");
		for (int i = from; i < from + batch && i < nobjects; i++) {
			char *p = payload(i + nobjects); /* new names: creates, not no-ops */
			sb_printf(&sb, "%s%s", i > from ? "," : "", p);
			free(p);
		}
		sb_adds(&sb, "]}");
		if (client_do(&c, "POST", "/tulle/v1/apply", "application/json", sb.buf, sb.len, &resp, &err) < 0) {
			free(err);
			(*errors)++;
		} else {
			if (resp.status != 200)
				(*errors)++;
			http_msg_free(&resp);
		}
		sb_free(&sb);
	}
	client_free(&c);
	return nobjects / ((now_ns() - t0) / 1e9);
}

static double list_ms(bool etcd, size_t *bytes)
{
	struct client c;
	struct http_msg resp;
	char *err;
	double best = 1e18;

	client_init(&c, etcd ? etcd_url : tulle_url, NULL, &err);
	for (int rep = 0; rep < 3; rep++) {
		uint64_t t0 = now_ns();
		int rc;
		if (etcd) {
			char *k = base64("/bench/", 7), *e = base64("/bench0", 7);
			char *body = xasprintf("{\"key\":\"%s\",\"range_end\":\"%s\"}", k, e);
			rc = client_do(&c, "POST", "/v3/kv/range", "application/json", body, strlen(body), &resp, &err);
			free(body);
			free(k);
			free(e);
		} else {
			rc = client_do(&c, "GET", "/api/v1/namespaces/bench/configmaps", NULL, NULL, 0, &resp, &err);
		}
		double ms = (now_ns() - t0) / 1e6;
		if (rc == 0) {
			*bytes = resp.body_len;
			http_msg_free(&resp);
			if (ms < best)
				best = ms;
		} else {
			free(err);
		}
	}
	client_free(&c);
	return best;
}

/* ---- watch fan-out ---- */

struct stream {
	int fd;
	struct strbuf in, body;
	bool head_done;
};

static int connect_url(const char *url)
{
	int fd;

	if (str_has_prefix(url, "unix://")) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", url + 7);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -1;
		return fd;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *colon = strrchr(url, ':');
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

static uint64_t *sent_at;
static double *delays;
static size_t ndelays;

/* Finds the sequence number of the object in an event line. */
static int event_seq(const char *line, bool etcd)
{
	if (!etcd) {
		const char *p = strstr(line, "\"name\":\"w");
		return p ? atoi(p + 9) : -1;
	}
	/* grpc-gateway: {"result":{"events":[{"kv":{"key":"<base64>",...}}]}} */
	const char *p = strstr(line, "\"key\":\"");
	if (!p)
		return -1;
	p += 7;
	const char *e = strchr(p, '"');
	char *k = unbase64(p, (size_t)(e - p));
	int seq = str_has_prefix(k, "/watch/") ? atoi(k + 7) : -1;
	free(k);
	return seq;
}

static void stream_read(struct stream *s, bool etcd)
{
	char buf[65536];
	ssize_t n = recv(s->fd, buf, sizeof(buf), 0);

	if (n <= 0)
		return;
	uint64_t now = now_ns();
	sb_add(&s->in, buf, (size_t)n);
	if (!s->head_done) {
		char *e = strstr(s->in.buf, "\r\n\r\n");
		if (!e)
			return;
		sb_consume(&s->in, (size_t)(e - s->in.buf) + 4);
		s->head_done = true;
	}
	const char *d;
	size_t dl;
	bool last;
	ssize_t c;
	while ((c = http_parse_chunk(s->in.buf ? s->in.buf : "", s->in.len, &d, &dl, &last)) > 0) {
		sb_add(&s->body, d ? d : "", dl);
		sb_consume(&s->in, (size_t)c);
	}
	char *nl;
	while (s->body.len && (nl = memchr(s->body.buf, '\n', s->body.len))) {
		*nl = 0;
		int seq = event_seq(s->body.buf, etcd);
		if (seq >= 0 && seq < nevents && sent_at[seq])
			delays[ndelays++] = (now - sent_at[seq]) / 1e6;
		sb_consume(&s->body, (size_t)(nl - s->body.buf) + 1);
	}
}

struct fan_writer {
	bool etcd;
};

static void *fan_write(void *arg)
{
	struct fan_writer *fw = arg;
	struct client c;
	char *err;

	client_init(&c, fw->etcd ? etcd_url : tulle_url, NULL, &err);
	for (int i = 0; i < nevents; i++) {
		struct http_msg resp;
		char *body;
		if (fw->etcd) {
			body = etcd_put_body(i, "/watch/");
		} else {
			char *p = payload_ns(i, "watch");
			/* Same payload, renamed into the watched set. */
			char *at = strstr(p, "\"name\":\"o");
			body = xasprintf("%.*s\"name\":\"w%d\"%s", (int)(at - p), p, i, strchr(at + 8, '"') + 1);
			free(p);
		}
		__atomic_store_n(&sent_at[i], now_ns(), __ATOMIC_SEQ_CST);
		if (client_do(&c, "POST", fw->etcd ? "/v3/kv/put" : "/api/v1/namespaces/watch/configmaps",
			      "application/json", body, strlen(body), &resp, &err) == 0) {
			if (resp.status >= 300)
				fprintf(stderr, "fan-out write %d failed: %d %.200s\n", i, resp.status, resp.body);
			http_msg_free(&resp);
		} else {
			free(err);
		}
		free(body);
		usleep(2000); /* a steady stream, not a burst */
	}
	client_free(&c);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void fanout(bool etcd, double *p50, double *p99, double *received)
{
	struct stream *st = xcalloc((size_t)nwatchers, sizeof(*st));
	int ep = epoll_create1(0);

	sent_at = xcalloc((size_t)nevents, sizeof(*sent_at));
	delays = xcalloc((size_t)nwatchers * (size_t)nevents, sizeof(*delays));
	ndelays = 0;
	for (int i = 0; i < nwatchers; i++) {
		st[i].fd = connect_url(etcd ? etcd_url : tulle_url);
		char *req;
		if (etcd) {
			char *k = base64("/watch/", 7), *e = base64("/watch0", 7);
			char *body = xasprintf("{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\"}}", k, e);
			req = xasprintf("POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
					strlen(body), body);
			free(body);
			free(k);
			free(e);
		} else {
			req = xasprintf("GET /api/v1/namespaces/watch/configmaps?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n");
		}
		send(st[i].fd, req, strlen(req), 0);
		free(req);
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, st[i].fd, &ev);
	}
	usleep(300000); /* let every watch establish */
	pthread_t th;
	struct fan_writer fw = { etcd };
	pthread_create(&th, NULL, fan_write, &fw);
	size_t want = (size_t)nwatchers * (size_t)nevents;
	uint64_t deadline = now_ns() + 60ull * 1000000000ull;
	while (ndelays < want && now_ns() < deadline) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 200);
		for (int i = 0; i < n; i++)
			stream_read(&st[evs[i].data.u32], etcd);
	}
	pthread_join(th, NULL);
	qsort(delays, ndelays, sizeof(double), cmp_double);
	*p50 = ndelays ? delays[ndelays / 2] : 0;
	*p99 = ndelays ? delays[ndelays * 99 / 100] : 0;
	*received = 100.0 * (double)ndelays / (double)want;
	for (int i = 0; i < nwatchers; i++) {
		close(st[i].fd);
		sb_free(&st[i].in);
		sb_free(&st[i].body);
	}
	close(ep);
	free(st);
	free(sent_at);
	free(delays);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tulle", required_argument, NULL, 't' }, { "etcd", required_argument, NULL, 'e' },
		{ "objects", required_argument, NULL, 'n' }, { "conns", required_argument, NULL, 'c' },
		{ "watchers", required_argument, NULL, 'w' }, { "events", required_argument, NULL, 'v' },
		{ "fanout-only", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 },
	};
	int c, e1 = 0, e2 = 0, e3 = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': tulle_url = optarg; break;
		case 'e': etcd_url = optarg; break;
		case 'n': nobjects = atoi(optarg); break;
		case 'c': nconns = atoi(optarg) > 64 ? 64 : atoi(optarg); break;
		case 'w': nwatchers = atoi(optarg); break;
		case 'v': nevents = atoi(optarg); break;
		case 'f': fanout_only = true; break;
		default: return 2;
		}
	}
	if (!tulle_url || !etcd_url) {
		fprintf(stderr, "usage: api_bench --tulle URL --etcd tcp://127.0.0.1:PORT [--objects N] [--conns C] [--watchers W] [--events E]\n");
		return 2;
	}
	if (fanout_only) {
		double tp50, tp99, tr, ep50, ep99, er;
		fanout(false, &tp50, &tp99, &tr);
		fanout(true, &ep50, &ep99, &er);
		printf("%-44s %12s %12s %8s\n", "measure", "tulle", "etcd", "ratio");
		printf("%-44s %12.2f %12.2f %7.2fx\n", "watch fan-out delay p50 (ms)", tp50, ep50, ep50 / (tp50 > 0 ? tp50 : 1e-9));
		printf("%-44s %12.2f %12.2f %7.2fx\n", "watch fan-out delay p99 (ms)", tp99, ep99, ep99 / (tp99 > 0 ? tp99 : 1e-9));
		printf("%-44s %11.1f%% %11.1f%%\n", "events received", tr, er);
		return tr < 100.0 || er < 100.0;
	}
	printf("objects=%d connections=%d watchers=%d events=%d (both stores fsync each commit)\n\n",
	       nobjects, nconns, nwatchers, nevents);
	double tc = create_rate(false, &e1), ec = create_rate(true, &e2);
	double tb = batch_rate(&e3);
	size_t tbytes = 0, ebytes = 0;
	double tl = list_ms(false, &tbytes), el = list_ms(true, &ebytes);
	double tp50, tp99, tr, ep50, ep99, er;
	fanout(false, &tp50, &tp99, &tr);
	fanout(true, &ep50, &ep99, &er);
	printf("%-44s %12s %12s %8s\n", "measure", "tulle", "etcd", "ratio");
	printf("%-44s %12.0f %12.0f %7.2fx\n", "create, one object per request (obj/s)", tc, ec, tc / ec);
	printf("%-44s %12.0f %12s %8s\n", "tulle apply batches of 500 (obj/s)", tb, "-", "-");
	printf("%-44s %12.1f %12.1f %7.2fx\n", "list all objects (ms, best of 3)", tl, el, el / tl);
	printf("%-44s %12.2f %12.2f %7.2fx\n", "watch fan-out delay p50 (ms)", tp50, ep50, ep50 / (tp50 > 0 ? tp50 : 1e-9));
	printf("%-44s %12.2f %12.2f %7.2fx\n", "watch fan-out delay p99 (ms)", tp99, ep99, ep99 / (tp99 > 0 ? tp99 : 1e-9));
	printf("%-44s %11.1f%% %11.1f%%\n", "events received", tr, er);
	printf("\nratios > 1 favour tulle. errors: tulle create %d, etcd put %d, tulle batch %d\n", e1, e2, e3);
	printf("list sizes: tulle %zu bytes (Kubernetes JSON), etcd %zu bytes (base64 in JSON)\n", tbytes, ebytes);
	return e1 || e2 || e3;
}
