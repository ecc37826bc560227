/* `tulle observe`: Hubble's observe over every node's observer. The nodes are found
 * through the API (annotation tulle.io/observer), each is asked for its flows (and,
 * with --follow, kept open), and the flows are merged by time, filtered with Hubble's
 * flags and printed as Hubble prints them (compact, json, table). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/dial.h"
#include "cli.h"
#include "table.h"

struct filter {
	const char *ns, *pod, *from_pod, *to_pod, *from_ns, *to_ns, *verdict, *protocol, *type, *node;
	char **labels;
	size_t nlabels;
	long port;
	char since[40]; /* RFC 3339 lower bound, "" none */
};

struct source {
	int fd;
	char *node;
	struct strbuf buf;
	bool headers_done, done;
};

static const char *str_at(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);
	return json_string_value(b ? json_object_get(v, b) : v);
}

/* "[NS/]NAME" against an endpoint: the pod name starts with NAME, as Hubble's --pod. */
static bool pod_match(const json_t *ep, const char *want)
{
	const char *slash = strchr(want, '/'), *ns = str_at(ep, "namespace", NULL), *pod = str_at(ep, "pod_name", NULL);
	if (!pod)
		return false;
	if (slash) {
		if (!ns || strncmp(ns, want, (size_t)(slash - want)) || ns[slash - want])
			return false;
		want = slash + 1;
	}
	return !strncmp(pod, want, strlen(want));
}

static bool ns_match(const json_t *ep, const char *ns)
{
	const char *v = str_at(ep, "namespace", NULL);
	return v && !strcmp(v, ns);
}

static bool label_match(const json_t *ep, const char *want)
{
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(ep, "labels"), i, l) {
		const char *s = json_string_value(l), *colon = s ? strchr(s, ':') : NULL;
		if (s && (!strcmp(s, want) || (colon && !strcmp(colon + 1, want))))
			return true;
	}
	return false;
}

static long flow_port(const json_t *f, const char *side)
{
	const json_t *l4 = json_object_get(f, "l4");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)l4, k, v)
		return (long)json_integer_value(json_object_get(v, side));
	return -1;
}

static const char *flow_proto(const json_t *f)
{
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(f, "l4"), k, v)
		return k;
	return "";
}

static const char *flow_type(const json_t *f)
{
	json_int_t t = json_integer_value(json_object_get(json_object_get(f, "event_type"), "type"));
	return t == 1 ? "drop" : t == 5 ? "policy-verdict" : "trace";
}

static bool keep(const struct filter *fl, const json_t *resp)
{
	const json_t *f = json_object_get(resp, "flow"), *src = json_object_get(f, "source"),
		     *dst = json_object_get(f, "destination");
	if (!f)
		return false;
	if (fl->ns && !ns_match(src, fl->ns) && !ns_match(dst, fl->ns))
		return false;
	if (fl->from_ns && !ns_match(src, fl->from_ns))
		return false;
	if (fl->to_ns && !ns_match(dst, fl->to_ns))
		return false;
	if (fl->pod && !pod_match(src, fl->pod) && !pod_match(dst, fl->pod))
		return false;
	if (fl->from_pod && !pod_match(src, fl->from_pod))
		return false;
	if (fl->to_pod && !pod_match(dst, fl->to_pod))
		return false;
	for (size_t i = 0; i < fl->nlabels; i++)
		if (!label_match(src, fl->labels[i]) && !label_match(dst, fl->labels[i]))
			return false;
	if (fl->verdict && strcasecmp(fl->verdict, str_at(f, "verdict", NULL) ?: ""))
		return false;
	if (fl->type && strcasecmp(fl->type, flow_type(f)) &&
	    !(!strcasecmp(fl->type, "trace") && strcmp(flow_type(f), "drop")))
		return false;
	if (fl->node && strcmp(fl->node, str_at(resp, "node_name", NULL) ?: ""))
		return false;
	if (fl->port >= 0 && flow_port(f, "source_port") != fl->port && flow_port(f, "destination_port") != fl->port)
		return false;
	if (fl->protocol) {
		const char *p = flow_proto(f);
		if (!strcasecmp(fl->protocol, "dns")) {
			if ((strcmp(p, "UDP") && strcmp(p, "TCP")) ||
			    (flow_port(f, "source_port") != 53 && flow_port(f, "destination_port") != 53))
				return false;
		} else if (!strcasecmp(fl->protocol, "icmp")) {
			if (strncmp(p, "ICMP", 4))
				return false;
		} else if (strcasecmp(fl->protocol, p)) {
			return false; /* http: L7 flows come with the proxy */
		}
	}
	if (fl->since[0] && strcmp(str_at(resp, "time", NULL) ?: "", fl->since) < 0)
		return false;
	return true;
}

/* ---- printing ---- */

static char *endpoint_text(const json_t *f, const char *side, const char *port_key)
{
	const json_t *ep = json_object_get(f, side);
	const char *ns = str_at(ep, "namespace", NULL), *pod = str_at(ep, "pod_name", NULL);
	long port = flow_port(f, port_key);
	struct strbuf sb;
	sb_init(&sb);
	if (pod)
		sb_printf(&sb, "%s/%s", ns ? ns : "", pod);
	else
		sb_adds(&sb, str_at(f, "IP", !strcmp(side, "source") ? "source" : "destination") ?: "?");
	if (port > 0 && strncmp(flow_proto(f), "ICMP", 4))
		sb_printf(&sb, ":%ld", port);
	json_int_t id = json_integer_value(json_object_get(ep, "identity"));
	if (!pod) {
		const char *l = json_string_value(json_array_get(json_object_get(ep, "labels"), 0));
		sb_printf(&sb, " (%s)", l && !strncmp(l, "reserved:", 9) ? l + 9 : "world");
	} else {
		sb_printf(&sb, " (ID:%lld)", (long long)id);
	}
	return sb_detach(&sb);
}

/* Hubble's compact time: "Dec  4 19:03:39.431". */
static void short_time(const char *rfc, char out[32])
{
	struct tm tm = { 0 };
	const char *rest = strptime(rfc ? rfc : "", "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest) {
		snprintf(out, 32, "%s", rfc ? rfc : "");
		return;
	}
	size_t n = strftime(out, 32, "%b %e %H:%M:%S", &tm);
	snprintf(out + n, 32 - n, "%.4s", *rest == '.' ? rest : "");
}

static char *what_text(const json_t *f)
{
	const char *verdict = str_at(f, "verdict", NULL) ?: "", *dir = str_at(f, "traffic_direction", NULL) ?: "";
	if (!strcmp(verdict, "DROPPED"))
		return xasprintf("%s DROPPED", str_at(f, "drop_reason_desc", NULL) ?: "");
	if (!strcmp(flow_type(f), "policy-verdict"))
		return xasprintf("policy-verdict:%s %s ALLOWED",
				 json_object_get(f, "egress_allowed_by") || json_object_get(f, "ingress_allowed_by") ? "L3-L4"
														      : "none",
				 dir);
	return xasprintf("%s FORWARDED", !strcmp(dir, "INGRESS") ? "to-endpoint" : "to-stack");
}

static void print_compact(const json_t *resp)
{
	const json_t *f = json_object_get(resp, "flow");
	char t[32];
	short_time(str_at(resp, "time", NULL), t);
	char *src = endpoint_text(f, "source", "source_port"), *dst = endpoint_text(f, "destination", "destination_port");
	char *what = what_text(f);
	const char *svc = str_at(f, "destination_service", "name");
	printf("%s [%s]: %s -> %s", t, str_at(resp, "node_name", NULL) ?: "", src, dst);
	if (svc)
		printf(" service %s/%s", str_at(f, "destination_service", "namespace") ?: "", svc);
	printf(" %s (%s)\n", what, str_at(f, "Summary", NULL) ?: "");
	free(src);
	free(dst);
	free(what);
}

enum out_fmt { OUT_COMPACT, OUT_JSON, OUT_TABLE };

static void print_one(enum out_fmt fmt, const json_t *resp, struct table *t)
{
	if (fmt == OUT_JSON) {
		char *s = json_dumps(resp, JSON_COMPACT);
		puts(s);
		free(s);
	} else if (fmt == OUT_COMPACT) {
		print_compact(resp);
	} else {
		const json_t *f = json_object_get(resp, "flow");
		char tm[32];
		short_time(str_at(resp, "time", NULL), tm);
		char *row[6] = { xstrdup(tm), endpoint_text(f, "source", "source_port"),
				 endpoint_text(f, "destination", "destination_port"), xstrdup(flow_type(f)),
				 xstrdup(str_at(f, "verdict", NULL) ?: ""), xstrdup(str_at(f, "Summary", NULL) ?: "") };
		table_add(t, row);
	}
	fflush(stdout);
}

/* ---- reading the nodes ---- */

static int open_source(struct source *s, const char *url, const char *node, bool follow)
{
	char *err = NULL;
	s->fd = dial_url(url, &err);
	s->node = xstrdup(node);
	sb_init(&s->buf);
	if (s->fd < 0) {
		fprintf(stderr, "warning: node %s: cannot reach its observer at %s: %s\n", node, url, err);
		free(err);
		s->done = true;
		return -1;
	}
	char *req = xasprintf("GET /flows%s HTTP/1.1\r\nHost: observer\r\nConnection: close\r\n\r\n",
			      follow ? "?follow=1" : "");
	if (write(s->fd, req, strlen(req)) < 0)
		s->done = true;
	free(req);
	return 0;
}

/* Reads what is there; returns the complete lines as flows into out (appending). */
static void read_source(struct source *s, json_t *out)
{
	char buf[65536];
	ssize_t r = read(s->fd, buf, sizeof(buf));
	if (r <= 0) {
		s->done = true;
		return;
	}
	sb_add(&s->buf, buf, (size_t)r);
	if (!s->headers_done) {
		char *end = s->buf.buf ? strstr(s->buf.buf, "\r\n\r\n") : NULL;
		if (!end)
			return;
		if (strncmp(s->buf.buf, "HTTP/1.1 200", 12)) {
			fprintf(stderr, "warning: node %s: observer answered %.*s\n", s->node,
				(int)strcspn(s->buf.buf, "\r"), s->buf.buf);
			s->done = true;
			return;
		}
		sb_consume(&s->buf, (size_t)(end + 4 - s->buf.buf));
		s->headers_done = true;
	}
	size_t used = 0;
	for (;;) {
		char *nl = memchr(s->buf.buf + used, '\n', s->buf.len - used);
		if (!nl)
			break;
		json_t *j = json_loadb(s->buf.buf + used, (size_t)(nl - (s->buf.buf + used)), 0, NULL);
		if (j)
			json_array_append_new(out, j);
		used = (size_t)(nl + 1 - s->buf.buf);
	}
	sb_consume(&s->buf, used);
}

static int by_time(const void *a, const void *b)
{
	return strcmp(str_at(*(json_t *const *)a, "time", NULL) ?: "", str_at(*(json_t *const *)b, "time", NULL) ?: "");
}

/* --since: a duration back from now (30s, 5m, 2h) or an RFC 3339 time. */
static int parse_since(const char *s, char out[40])
{
	char *end;
	double v = strtod(s, &end);
	double mult = !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 : 0;
	if (end != s && mult > 0) {
		time_t t = time(NULL) - (time_t)(v * mult);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
		return 0;
	}
	struct tm tm = { 0 };
	if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, 40, "%.19s", s);
		return 0;
	}
	return -1;
}

static void usage(FILE *f)
{
	fputs("usage: tulle observe [flags]\n"
	      "Flows from every node, merged by time (Hubble's flags):\n"
	      "  -n, --namespace NS      either side in NS          --from-namespace NS, --to-namespace NS\n"
	      "  --pod [NS/]NAME         either side (name prefix)  --from-pod, --to-pod\n"
	      "  --label K=V             either side has the label (repeatable: all must hold)\n"
	      "  --verdict V             FORWARDED or DROPPED       --type trace|drop|policy-verdict\n"
	      "  --protocol P            tcp, udp, sctp, icmp, dns (http comes with the L7 proxy)\n"
	      "  --port N                either port                --node NAME\n"
	      "  --last N                the last N flows (default 20; 0: all kept)\n"
	      "  --since D               30s, 5m, 2h or an RFC 3339 time\n"
	      "  -f, --follow            keep printing new flows\n"
	      "  -o compact|json|table   json: one Hubble GetFlowsResponse per line\n",
	      f);
}

int cmd_observe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pod", required_argument, NULL, 'P' }, { "from-pod", required_argument, NULL, 'F' },
		{ "to-pod", required_argument, NULL, 'T' }, { "from-namespace", required_argument, NULL, 'X' },
		{ "to-namespace", required_argument, NULL, 'Y' }, { "label", required_argument, NULL, 'l' },
		{ "verdict", required_argument, NULL, 'v' }, { "protocol", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 'y' }, { "port", required_argument, NULL, 'r' },
		{ "last", required_argument, NULL, 'L' }, { "since", required_argument, NULL, 'S' },
		{ "follow", no_argument, NULL, 'f' }, { "output", required_argument, NULL, 'o' },
		{ "node", required_argument, NULL, 'N' }, COMMON_OPTIONS,
	};
	struct common_opts o = { 0 };
	struct filter fl = { .port = -1 };
	long last = -1;
	bool follow = false;
	enum out_fmt fmt = OUT_COMPACT;
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:s:t:ho:fl:", opts, NULL)) != -1) {
		if (c != 'n' && common_option(c, optarg, &o))
			continue;
		switch (c) {
		case 'n': fl.ns = optarg; break;
		case 'P': fl.pod = optarg; break;
		case 'F': fl.from_pod = optarg; break;
		case 'T': fl.to_pod = optarg; break;
		case 'X': fl.from_ns = optarg; break;
		case 'Y': fl.to_ns = optarg; break;
		case 'N': fl.node = optarg; break;
		case 'l':
			fl.labels = xrealloc(fl.labels, (fl.nlabels + 1) * sizeof(char *));
			fl.labels[fl.nlabels++] = optarg;
			break;
		case 'v':
			if (strcasecmp(optarg, "FORWARDED") && strcasecmp(optarg, "DROPPED") && strcasecmp(optarg, "ERROR") &&
			    strcasecmp(optarg, "AUDIT") && strcasecmp(optarg, "REDIRECTED") && strcasecmp(optarg, "TRACED") &&
			    strcasecmp(optarg, "TRANSLATED")) {
				fprintf(stderr, "error: --verdict %s: give FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, "
						"TRACED or TRANSLATED\n", optarg);
				return 2;
			}
			fl.verdict = optarg;
			break;
		case 'p':
			if (strcasecmp(optarg, "tcp") && strcasecmp(optarg, "udp") && strcasecmp(optarg, "sctp") &&
			    strcasecmp(optarg, "icmp") && strcasecmp(optarg, "http") && strcasecmp(optarg, "dns")) {
				fprintf(stderr, "error: --protocol %s: give tcp, udp, sctp, icmp, http or dns\n", optarg);
				return 2;
			}
			fl.protocol = optarg;
			break;
		case 'y':
			if (strcasecmp(optarg, "trace") && strcasecmp(optarg, "drop") && strcasecmp(optarg, "policy-verdict")) {
				fprintf(stderr, "error: --type %s: give trace, drop or policy-verdict\n", optarg);
				return 2;
			}
			fl.type = optarg;
			break;
		case 'r':
		case 'L': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || (c == 'r' && v > 65535)) {
				fprintf(stderr, "error: --%s %s: give a number%s\n", c == 'r' ? "port" : "last", optarg,
					c == 'r' ? " from 0 to 65535" : " (0 or more)");
				return 2;
			}
			*(c == 'r' ? &fl.port : &last) = v;
			break;
		}
		case 'S':
			if (parse_since(optarg, fl.since) < 0) {
				fprintf(stderr, "error: --since %s: give a duration (30s, 5m, 2h) or an RFC 3339 time\n", optarg);
				return 2;
			}
			break;
		case 'f': follow = true; break;
		case 'o':
			if (!strcmp(optarg, "compact"))
				fmt = OUT_COMPACT;
			else if (!strcmp(optarg, "json") || !strcmp(optarg, "jsonpb"))
				fmt = OUT_JSON;
			else if (!strcmp(optarg, "table"))
				fmt = OUT_TABLE;
			else {
				fprintf(stderr, "error: -o %s: give compact, json or table\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (last < 0)
		last = follow || fl.since[0] ? 0 : 20;

	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	json_t *nodes = cli_get(&cl, "/api/v1/nodes");
	client_free(&cl);
	if (!nodes)
		return 1;
	size_t n = json_array_size(json_object_get(nodes, "items")), ns = 0, i;
	struct source *src = xcalloc(n + 1, sizeof(*src));
	json_t *node;
	json_array_foreach(json_object_get(nodes, "items"), i, node) {
		const char *name = str_at(node, "metadata", "name") ?: "?";
		const char *url = json_string_value(
			json_object_get(json_object_get(json_object_get(node, "metadata"), "annotations"), "tulle.io/observer"));
		if (!url) {
			fprintf(stderr, "warning: node %s publishes no observer (annotation tulle.io/observer): its agent "
					"is not running or predates flows\n", name);
			continue;
		}
		open_source(&src[ns++], url, name, follow);
	}
	json_decref(nodes);

	/* What the nodes hold now: all of it, then the filtered, time-ordered tail. */
	json_t *all = json_array();
	for (;;) {
		struct pollfd *pf = xcalloc(ns + 1, sizeof(*pf));
		size_t np = 0;
		for (size_t k = 0; k < ns; k++)
			if (!src[k].done)
				pf[np++] = (struct pollfd){ .fd = src[k].fd, .events = POLLIN };
		/* Following: the backlog is whatever arrives before a short quiet spell. */
		int ready = np ? poll(pf, np, follow ? 300 : 10000) : 0;
		free(pf);
		if (ready <= 0)
			break;
		for (size_t k = 0; k < ns; k++)
			if (!src[k].done) {
				struct pollfd p1 = { .fd = src[k].fd, .events = POLLIN };
				if (poll(&p1, 1, 0) > 0)
					read_source(&src[k], all);
			}
	}
	size_t nall = json_array_size(all), nkeep = 0;
	json_t **kept = xcalloc(nall + 1, sizeof(json_t *));
	for (i = 0; i < nall; i++)
		if (keep(&fl, json_array_get(all, i)))
			kept[nkeep++] = json_array_get(all, i);
	qsort(kept, nkeep, sizeof(*kept), by_time);
	size_t from = last > 0 && (size_t)last < nkeep ? nkeep - (size_t)last : 0;
	if (follow && last == 0)
		from = nkeep; /* following without --last: only what is new */
	struct table t;
	table_init(&t, 6);
	if (fmt == OUT_TABLE) {
		char *hdr[6] = { xstrdup("TIMESTAMP"), xstrdup("SOURCE"), xstrdup("DESTINATION"), xstrdup("TYPE"),
				 xstrdup("VERDICT"), xstrdup("SUMMARY") };
		table_add(&t, hdr);
	}
	for (i = from; i < nkeep; i++)
		print_one(fmt, kept[i], &t);
	if (fmt == OUT_TABLE && !follow)
		table_print(&t, stdout);
	free(kept);
	json_decref(all);

	while (follow) {
		struct pollfd *pf = xcalloc(ns + 1, sizeof(*pf));
		size_t np = 0;
		for (size_t k = 0; k < ns; k++)
			if (!src[k].done)
				pf[np++] = (struct pollfd){ .fd = src[k].fd, .events = POLLIN };
		if (!np) {
			free(pf);
			fprintf(stderr, "error: every node's observer closed the stream\n");
			rc = 1;
			break;
		}
		int ready = poll(pf, np, -1);
		free(pf);
		if (ready < 0 && errno != EINTR)
			break;
		for (size_t k = 0; k < ns; k++) {
			if (src[k].done)
				continue;
			struct pollfd p1 = { .fd = src[k].fd, .events = POLLIN };
			if (poll(&p1, 1, 0) <= 0)
				continue;
			json_t *fresh = json_array();
			read_source(&src[k], fresh);
			json_t *f;
			json_array_foreach(fresh, i, f)
				if (keep(&fl, f))
					print_one(fmt == OUT_TABLE ? OUT_COMPACT : fmt, f, &t);
			json_decref(fresh);
		}
	}
	table_free(&t);
	for (size_t k = 0; k < ns; k++) {
		if (src[k].fd >= 0)
			close(src[k].fd);
		free(src[k].node);
		sb_free(&src[k].buf);
	}
	free(src);
	free(fl.labels);
	return rc;
}
