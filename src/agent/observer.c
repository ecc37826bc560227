/* The node's observer, as Hubble's per-node server: flow events from the datapath's
 * ring buffer, the last N kept in memory and served named (pods, labels, services,
 * policies) as Hubble's flow JSON, one per line: GET /flows (?follow=1 keeps
 * streaming). GET /metrics serves Prometheus text; GET /policy what the maps decide
 * for one connection (policy trace --live). All on STATE/observer.sock and on the
 * node's address, port 9962 (Cilium's agent metrics port). */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "../datapath/datapath.h"
#include "../lib/http.h"
#include "../lib/util.h"
#include "agent_int.h"

#define OBS_PORT 9962
#define SUB_MAX_BUF (4u << 20) /* a follower further behind than this loses events (counted) */

struct obs_conn {
	int fd;
	struct strbuf in, out;
	bool follow, closing;
	struct obs_conn *next;
};

/* An event as the datapath sent it, with references to what named its endpoints,
 * service and policy when it arrived (a pod deleted since keeps its name, as in
 * Hubble). The JSON is built when served: building it per event costs microseconds,
 * and the kernel can emit 150,000 events a second on a loaded machine. */
struct flow_rec {
	struct tl_flow f;
	json_t *src, *dst, *svc, *pol; /* borrowed references, NULL when unknown */
};

static void rec_clear(struct flow_rec *r)
{
	json_decref(r->src);
	json_decref(r->dst);
	json_decref(r->svc);
	json_decref(r->pol);
	memset(r, 0, sizeof(*r));
}

struct flowstore {
	struct flow_rec *ring;
	size_t cap, head, n;
	struct ring_buffer *rb;
	int listen_fd[2];
	struct obs_conn *conns;
	uint64_t received, sub_lost;
	json_t *verdicts; /* "POLICYNUM/DIR/DROPPED" (numbers) -> count; named when scraped */
	json_t *services; /* "ip:port/proto" -> {name, namespace}, rebuilt when Services move */
	unsigned long services_gen;
	int64_t mono_to_real_ns;
};

static const char *const TCP_FLAGS[] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR" };

static void conn_close(struct agent *a, struct obs_conn *c)
{
	struct flowstore *s = a->flows;
	loop_del(a->loop, c->fd);
	close(c->fd);
	sb_free(&c->in);
	sb_free(&c->out);
	for (struct obs_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c);
}

static void conn_flush(struct agent *a, struct obs_conn *c)
{
	while (c->out.len) {
		ssize_t w = write(c->fd, c->out.buf, c->out.len);
		if (w < 0 && errno == EAGAIN) {
			loop_mod(a->loop, c->fd, 1 /* EPOLLIN */ | 4 /* EPOLLOUT */);
			return;
		}
		if (w <= 0) {
			conn_close(a, c);
			return;
		}
		sb_consume(&c->out, (size_t)w);
	}
	if (c->closing) {
		conn_close(a, c);
		return;
	}
	loop_mod(a->loop, c->fd, 1);
}

/* ---- naming a flow ---- */

static void refresh_services(struct agent *a)
{
	struct flowstore *s = a->flows;
	if (!a->services || informer_generation(a->services) == s->services_gen)
		return;
	s->services_gen = informer_generation(a->services);
	json_decref(s->services);
	s->services = json_object();
	const char *k;
	json_t *svc;
	json_object_foreach((json_t *)informer_items(a->services), k, svc) {
		const json_t *md = json_object_get(svc, "metadata"), *spec = json_object_get(svc, "spec");
		const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
		size_t i;
		json_t *port;
		json_array_foreach(json_object_get(spec, "ports"), i, port) {
			char key[96];
			json_t *name = json_pack("{s:s,s:s}", "name", json_string_value(json_object_get(md, "name")) ?: "",
						 "namespace", json_string_value(json_object_get(md, "namespace")) ?: "");
			if (ip) {
				snprintf(key, sizeof(key), "%s:%lld", ip, json_integer_value(json_object_get(port, "port")));
				json_object_set(s->services, key, name);
			}
			json_int_t np = json_integer_value(json_object_get(port, "nodePort"));
			if (np) {
				snprintf(key, sizeof(key), "*:%lld", (long long)np);
				json_object_set(s->services, key, name);
			}
			json_decref(name);
		}
	}
}

static json_t *endpoint_ref(struct agent *a, uint32_t addr)
{
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	return json_incref(json_object_get(a->pol.endpoints, ip));
}

static json_t *endpoint(const json_t *known, uint32_t id)
{
	json_t *ep = known ? json_deep_copy(known) : json_object();
	json_object_set_new(ep, "identity", json_integer(id));
	if (!known)
		json_object_set_new(ep, "labels", json_pack("[s]", id == TL_ID_HOST ? "reserved:host" : "reserved:world"));
	return ep;
}

/* {kind, namespace, name} of the agent's policy number num (borrowed), or NULL. */
static json_t *policy_name(struct agent *a, uint32_t num)
{
	char k[16];
	snprintf(k, sizeof(k), "%u", num);
	return json_object_get(a->pol.names, k);
}

static json_t *service_ref(struct agent *a, const struct tl_flow *f)
{
	struct flowstore *s = a->flows;
	char key[96], sip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &f->svc_addr, sip, sizeof(sip));
	refresh_services(a);
	snprintf(key, sizeof(key), "%s:%u", sip, ntohs(f->svc_port));
	json_t *svc = json_object_get(s->services, key);
	if (!svc) {
		snprintf(key, sizeof(key), "*:%u", ntohs(f->svc_port));
		svc = json_object_get(s->services, key);
	}
	return json_incref(svc);
}

/* Connections decided by policy, by deciding policy number, direction and verdict. */
static void count_verdict(struct flowstore *s, const struct tl_flow *f)
{
	char key[48];
	snprintf(key, sizeof(key), "%u/%u/%u", f->policy, f->dir, f->verdict == TL_V_DROPPED);
	json_t *v = json_object_get(s->verdicts, key);
	if (v)
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(s->verdicts, key, json_integer(1));
}

static json_t *flow_json(struct agent *a, const struct flow_rec *r)
{
	struct flowstore *s = a->flows;
	const struct tl_flow *f = &r->f;
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], ts[64];
	inet_ntop(AF_INET, &f->saddr, src, sizeof(src));
	inet_ntop(AF_INET, &f->daddr, dst, sizeof(dst));
	int64_t real = (int64_t)f->ts + s->mono_to_real_ns;
	time_t sec = (time_t)(real / 1000000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%09lldZ", (long long)(real % 1000000000));

	const char *dir = f->dir == TL_DIR_EGRESS ? "EGRESS" : "INGRESS";
	const char *verdict = f->verdict == TL_V_DROPPED ? "DROPPED" : "FORWARDED";
	json_t *l4 = json_object(), *flags = json_object(), *fl = json_object();
	struct strbuf summary;
	sb_init(&summary);
	uint16_t sp = ntohs(f->sport), dp = ntohs(f->dport);
	switch (f->proto) {
	case TL_PROTO_TCP:
		for (int i = 0; i < 8; i++)
			if (f->tcp_flags & (1 << i)) {
				json_object_set_new(flags, TCP_FLAGS[i], json_true());
				sb_printf(&summary, "%s%s", summary.len ? ", " : "TCP Flags: ", TCP_FLAGS[i]);
			}
		json_object_set_new(l4, "TCP", json_pack("{s:i,s:i,s:O}", "source_port", sp, "destination_port", dp,
							 "flags", flags));
		break;
	case TL_PROTO_UDP:
		json_object_set_new(l4, "UDP", json_pack("{s:i,s:i}", "source_port", sp, "destination_port", dp));
		sb_adds(&summary, "UDP");
		break;
	case TL_PROTO_SCTP:
		json_object_set_new(l4, "SCTP", json_pack("{s:i,s:i}", "source_port", sp, "destination_port", dp));
		sb_adds(&summary, "SCTP");
		break;
	case TL_PROTO_ICMP:
		/* The datapath carries the echo identifier in the ports; type and code are not
		 * kept past the policy decision. */
		json_object_set_new(l4, "ICMPv4", json_pack("{s:i}", "type", f->is_reply ? 0 : 8));
		sb_adds(&summary, "ICMPv4");
		break;
	}
	json_decref(flags);
	json_object_set_new(fl, "time", json_string(ts));
	json_object_set_new(fl, "verdict", json_string(verdict));
	if (f->verdict == TL_V_DROPPED) {
		json_object_set_new(fl, "drop_reason_desc", json_string(dp_reason_name(f->reason)));
		json_object_set_new(fl, "event_type", json_pack("{s:i}", "type", 1));
	} else {
		json_object_set_new(fl, "event_type", json_pack("{s:i}", "type", f->type == TL_EV_NEW ? 5 : 4));
	}
	json_object_set_new(fl, "IP", json_pack("{s:s,s:s,s:s}", "source", src, "destination", dst, "ipVersion", "IPv4"));
	json_object_set_new(fl, "l4", l4);
	json_object_set_new(fl, "source", endpoint(r->src, f->src_id));
	json_object_set_new(fl, "destination", endpoint(r->dst, f->dst_id));
	json_object_set_new(fl, "Type", json_string("L3_L4"));
	json_object_set_new(fl, "node_name", json_string(a->node));
	json_object_set_new(fl, "traffic_direction", json_string(dir));
	json_object_set_new(fl, "is_reply", json_boolean(f->is_reply));
	json_object_set_new(fl, "trace_observation_point", json_string(f->dir == TL_DIR_EGRESS ? "FROM_ENDPOINT"
												   : "TO_ENDPOINT"));
	json_object_set_new(fl, "Summary", json_string(summary.buf ? summary.buf : ""));
	sb_free(&summary);
	if (f->svc_addr) {
		char sip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &f->svc_addr, sip, sizeof(sip));
		if (r->svc)
			json_object_set(fl, "destination_service", r->svc);
		json_object_set_new(fl, "original_destination", json_pack("{s:s,s:i}", "ip", sip, "port", ntohs(f->svc_port)));
	}
	if (f->type == TL_EV_NEW || f->type == TL_EV_DROP) {
		bool drop = f->verdict == TL_V_DROPPED;
		if (r->pol) {
			char field[32];
			snprintf(field, sizeof(field), "%s_%s_by", f->dir == TL_DIR_EGRESS ? "egress" : "ingress",
				 drop ? "denied" : "allowed");
			json_object_set_new(fl, field, json_pack("[O]", r->pol));
		}
	}
	return json_pack("{s:o,s:s,s:s}", "flow", fl, "node_name", a->node, "time", ts);
}

/* ---- the store and its followers ---- */

static void publish(struct agent *a, const struct tl_flow *f)
{
	struct flow_rec r = { .f = *f, .src = endpoint_ref(a, f->saddr), .dst = endpoint_ref(a, f->daddr) };
	if (f->svc_addr)
		r.svc = service_ref(a, f);
	if (f->policy && (f->type == TL_EV_NEW || f->type == TL_EV_DROP))
		r.pol = json_incref(policy_name(a, f->policy));
	struct flowstore *s = a->flows;
	char *line = NULL;

	for (struct obs_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (!c->follow)
			continue;
		if (c->out.len > SUB_MAX_BUF) {
			s->sub_lost++;
			continue;
		}
		if (!line) {
			json_t *j = flow_json(a, &r);
			line = json_dumps(j, JSON_COMPACT);
			json_decref(j);
		}
		sb_adds(&c->out, line);
		sb_addc(&c->out, '\n');
		conn_flush(a, c);
	}
	free(line);
	if (s->n == s->cap) {
		rec_clear(&s->ring[s->head]);
		s->ring[s->head] = r;
		s->head = (s->head + 1) % s->cap;
	} else {
		s->ring[(s->head + s->n++) % s->cap] = r;
	}
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct agent *a = ctx;
	const struct tl_flow *f = data;
	if (len < sizeof(struct tl_flow))
		return 0;
	a->flows->received++;
	if ((f->type == TL_EV_NEW || f->type == TL_EV_DROP) && f->reason <= TL_R_PROXY_UNAVAILABLE)
		count_verdict(a->flows, f);
	publish(a, f);
	return 0;
}

static void on_ring(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;
	(void)l;
	(void)fd;
	(void)events;
	ring_buffer__consume(a->flows->rb);
}

/* ---- metrics ---- */

static void family(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void obs_metrics_text(struct agent *a, struct strbuf *sb)
{
	struct datapath *dp = a->svc.dp;
	uint64_t m[TL_M_MAX];
	struct tl_traffic t[TL_R_MAX * 2];
	struct dp_map_usage u[8];
	const char *dirs[2] = { "INGRESS", "EGRESS" };

	if (dp && dp_metrics(dp, m) == 0)
		for (int i = 0; i < TL_M_MAX; i++) {
			char *name = xasprintf("tulle_datapath_%s_total", dp_metric_name(i));
			family(sb, name, "counter", "datapath event counter (per-CPU counters summed)");
			sb_printf(sb, "%s{node=\"%s\"} %llu\n", name, a->node, (unsigned long long)m[i]);
			free(name);
		}
	if (dp && dp_traffic(dp, t) == 0) {
		family(sb, "tulle_forward_count_total", "counter", "packets forwarded at pods' hooks");
		for (int d = 0; d < 2; d++)
			sb_printf(sb, "tulle_forward_count_total{node=\"%s\",direction=\"%s\"} %llu\n", a->node, dirs[d],
				  (unsigned long long)t[d].packets);
		family(sb, "tulle_forward_bytes_total", "counter", "bytes forwarded at pods' hooks");
		for (int d = 0; d < 2; d++)
			sb_printf(sb, "tulle_forward_bytes_total{node=\"%s\",direction=\"%s\"} %llu\n", a->node, dirs[d],
				  (unsigned long long)t[d].bytes);
		family(sb, "tulle_drop_count_total", "counter", "packets dropped, by reason");
		for (int r = 1; r < TL_R_MAX; r++)
			for (int d = 0; d < 2; d++)
				sb_printf(sb, "tulle_drop_count_total{node=\"%s\",reason=\"%s\",direction=\"%s\"} %llu\n",
					  a->node, dp_reason_name(r), dirs[d], (unsigned long long)t[r * 2 + d].packets);
		family(sb, "tulle_drop_bytes_total", "counter", "bytes dropped, by reason");
		for (int r = 1; r < TL_R_MAX; r++)
			for (int d = 0; d < 2; d++)
				sb_printf(sb, "tulle_drop_bytes_total{node=\"%s\",reason=\"%s\",direction=\"%s\"} %llu\n",
					  a->node, dp_reason_name(r), dirs[d], (unsigned long long)t[r * 2 + d].bytes);
	}
	if (a->flows) {
		struct flowstore *s = a->flows;
		family(sb, "tulle_policy_verdicts_total", "counter",
		       "connections decided by policy, by deciding policy (empty: no policy or the default deny)");
		const char *k;
		json_t *v;
		json_object_foreach(s->verdicts, k, v) {
			unsigned num, dir, drop;
			if (sscanf(k, "%u/%u/%u", &num, &dir, &drop) != 3)
				continue;
			const json_t *p = num ? policy_name(a, num) : NULL;
			char *pol = p ? xasprintf("%s/%s/%s", json_string_value(json_object_get(p, "kind")),
						  json_string_value(json_object_get(p, "namespace")),
						  json_string_value(json_object_get(p, "name")))
				      : xstrdup("");
			sb_printf(sb, "tulle_policy_verdicts_total{node=\"%s\",policy=\"%s\",direction=\"%s\",verdict=\"%s\"} %lld\n",
				  a->node, pol, dir == TL_DIR_EGRESS ? "EGRESS" : "INGRESS", drop ? "DROPPED" : "FORWARDED",
				  (long long)json_integer_value(v));
			free(pol);
		}
		family(sb, "tulle_flows_received_total", "counter", "flow events the agent read from the datapath");
		sb_printf(sb, "tulle_flows_received_total{node=\"%s\"} %llu\n", a->node, (unsigned long long)s->received);
		family(sb, "tulle_flows_follower_lost_total", "counter", "flow events a slow follower did not get");
		sb_printf(sb, "tulle_flows_follower_lost_total{node=\"%s\"} %llu\n", a->node, (unsigned long long)s->sub_lost);
	}
	size_t n = dp ? dp_usage(dp, u, 8) : 0;
	family(sb, "tulle_datapath_map_entries", "gauge", "entries in a datapath map");
	for (size_t i = 0; i < n; i++)
		sb_printf(sb, "tulle_datapath_map_entries{node=\"%s\",map=\"%s\"} %zu\n", a->node, u[i].name, u[i].entries);
	family(sb, "tulle_datapath_map_capacity", "gauge", "capacity of a datapath map");
	for (size_t i = 0; i < n; i++)
		sb_printf(sb, "tulle_datapath_map_capacity{node=\"%s\",map=\"%s\"} %zu\n", a->node, u[i].name, u[i].max);
	family(sb, "tulle_datapath_map_pressure", "gauge", "entries over capacity");
	for (size_t i = 0; i < n; i++)
		sb_printf(sb, "tulle_datapath_map_pressure{node=\"%s\",map=\"%s\"} %.4f\n", a->node, u[i].name,
			  u[i].max ? (double)u[i].entries / (double)u[i].max : 0.0);
	family(sb, "tulle_datapath_conntrack_gc_deleted_total", "counter", "conntrack entries removed by GC");
	sb_printf(sb, "tulle_datapath_conntrack_gc_deleted_total{node=\"%s\"} %lu\n", a->node, a->svc.gc_deleted);
	family(sb, "tulle_policy_syncs_total", "counter", "policy map syncs");
	sb_printf(sb, "tulle_policy_syncs_total{node=\"%s\"} %lu\n", a->node, a->pol.syncs);
	family(sb, "tulle_policy_sync_seconds", "gauge", "duration of the last policy compile and sync");
	sb_printf(sb, "tulle_policy_sync_seconds{node=\"%s\"} %.6f\n", a->node, a->pol.last_sync_ms / 1e3);
	family(sb, "tulle_policy_entries", "gauge", "entries in the policy map");
	sb_printf(sb, "tulle_policy_entries{node=\"%s\"} %zu\n", a->node, a->pol.rules);
	family(sb, "tulle_identities", "gauge", "identities the policy engine distinguishes");
	sb_printf(sb, "tulle_identities{node=\"%s\"} %zu\n", a->node, a->pol.identities);
}

/* ---- the HTTP side ---- */

static void respond(struct agent *a, struct obs_conn *c, int status, const char *ctype, const char *body)
{
	sb_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		  status, http_reason(status), ctype, strlen(body), body);
	c->closing = true;
	conn_flush(a, c);
}

static void serve(struct agent *a, struct obs_conn *c, const struct http_msg *m)
{
	struct flowstore *s = a->flows;

	if (strcmp(m->method, "GET")) {
		respond(a, c, 405, "text/plain", "only GET is served here\n");
		return;
	}
	if (!strcmp(m->path, "/metrics")) {
		struct strbuf sb;
		sb_init(&sb);
		obs_metrics_text(a, &sb);
		respond(a, c, 200, "text/plain; version=0.0.4", sb.buf ? sb.buf : "");
		sb_free(&sb);
		return;
	}
	if (!strcmp(m->path, "/policy")) {
		int status;
		char *body = pol_lookup_json(a, m->query, &status);
		respond(a, c, status, "application/json", body);
		free(body);
		return;
	}
	if (strcmp(m->path, "/flows")) {
		respond(a, c, 404, "text/plain", "not found: GET /flows, /metrics or /policy\n");
		return;
	}
	char *follow = http_query_param(m->query, "follow");
	c->follow = follow && !strcmp(follow, "1");
	free(follow);
	/* A stream: no length, the end of the connection ends it. */
	sb_adds(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n");
	for (size_t i = 0; i < s->n; i++) {
		json_t *j = flow_json(a, &s->ring[(s->head + i) % s->cap]);
		char *line = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		sb_adds(&c->out, line);
		sb_addc(&c->out, '\n');
		free(line);
	}
	c->closing = !c->follow;
	conn_flush(a, c);
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;
	struct obs_conn *c = NULL;

	(void)l;
	for (c = a->flows->conns; c && c->fd != fd; c = c->next)
		;
	if (!c)
		return;
	if (events & 4 /* EPOLLOUT */) {
		conn_flush(a, c);
		return;
	}
	char buf[4096];
	ssize_t r = read(fd, buf, sizeof(buf));
	if (r <= 0) {
		if (r < 0 && errno == EAGAIN)
			return;
		conn_close(a, c);
		return;
	}
	if (c->follow || c->closing)
		return; /* the request was served; ignore anything else */
	sb_add(&c->in, buf, (size_t)r);
	struct http_msg m;
	ssize_t used = http_parse_request(c->in.buf, c->in.len, 0, &m);
	if (used == HTTP_NEED_MORE)
		return;
	if (used < 0) {
		respond(a, c, 400, "text/plain", "bad request\n");
		return;
	}
	serve(a, c, &m);
	http_msg_free(&m);
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;
	(void)events;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	struct obs_conn *c = xcalloc(1, sizeof(*c));
	c->fd = cfd;
	sb_init(&c->in);
	sb_init(&c->out);
	c->next = a->flows->conns;
	a->flows->conns = c;
	loop_add(l, cfd, 1, on_conn, a);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_tcp(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int obs_start(struct agent *a)
{
	struct flowstore *s = xcalloc(1, sizeof(*s));
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	s->mono_to_real_ns = ((int64_t)real.tv_sec - mono.tv_sec) * 1000000000 + (real.tv_nsec - mono.tv_nsec);
	s->cap = a->flows_max ? a->flows_max : 8192;
	s->ring = xcalloc(s->cap, sizeof(*s->ring));
	s->verdicts = json_object();
	s->services = json_object();
	s->listen_fd[0] = s->listen_fd[1] = -1;
	a->flows = s;
	if (!a->svc.dp)
		return 0;
	s->rb = ring_buffer__new(dp_flows_fd(a->svc.dp), on_event, a, NULL);
	if (!s->rb) {
		fprintf(stderr, "agent %s: cannot read flow events: %s\n", a->node, strerror(errno));
		return -1;
	}
	loop_add(a->loop, ring_buffer__epoll_fd(s->rb), 1, on_ring, a);
	char *path = xasprintf("%s/observer.sock", a->state);
	s->listen_fd[0] = listen_unix(path);
	s->listen_fd[1] = listen_tcp(a->node_ip, OBS_PORT);
	if (s->listen_fd[0] < 0)
		fprintf(stderr, "agent %s: cannot listen on %s: %s\n", a->node, path, strerror(errno));
	free(a->observer_url);
	a->observer_url = xasprintf("unix://%s", path);
	free(path);
	for (int i = 0; i < 2; i++)
		if (s->listen_fd[i] >= 0)
			loop_add(a->loop, s->listen_fd[i], 1, on_accept, a);
	return 0;
}

void obs_stop(struct agent *a)
{
	struct flowstore *s = a->flows;
	if (!s)
		return;
	while (s->conns)
		conn_close(a, s->conns);
	for (int i = 0; i < 2; i++)
		if (s->listen_fd[i] >= 0) {
			loop_del(a->loop, s->listen_fd[i]);
			close(s->listen_fd[i]);
		}
	if (s->rb) {
		loop_del(a->loop, ring_buffer__epoll_fd(s->rb));
		ring_buffer__free(s->rb);
	}
	for (size_t i = 0; i < s->n; i++)
		rec_clear(&s->ring[(s->head + i) % s->cap]);
	free(s->ring);
	json_decref(s->verdicts);
	json_decref(s->services);
	free(s);
	a->flows = NULL;
	free(a->observer_url);
	a->observer_url = NULL;
}
