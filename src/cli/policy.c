/* `tulle policy matrix` and `tulle policy trace`: reachability computed by the compiled
 * policy engine, from manifest files (no server needed) or from the live cluster. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../api/validate.h"
#include "../policy/engine.h"
#include "cli.h"
#include "trace_live.h"

struct probe_port {
	uint16_t port;
	uint8_t proto;
};

/* PORT/PROTO, or TYPE[.CODE]/ICMP (an ICMP probe carries type and code as its port). */
static int parse_port(const char *s, struct probe_port *p)
{
	char proto[16] = "TCP";
	unsigned port, type, code = 0;

	if (sscanf(s, "%u.%u/%15s", &type, &code, proto) == 3 || sscanf(s, "%u/%15s", &type, proto) == 2) {
		if (!strcasecmp(proto, "ICMP")) {
			if (type > 255 || code > 255) {
				fprintf(stderr, "error: --port %s: an ICMP type and code are 0-255 (as 8/ICMP or 3.1/ICMP)\n", s);
				return -1;
			}
			p->proto = PROTO_ICMP;
			p->port = PM_ICMP_PORT(type, code);
			return 0;
		}
	}
	strcpy(proto, "TCP");
	if (sscanf(s, "%u/%15s", &port, proto) < 1 || port < 1 || port > 65535 ||
	    pm_proto_parse(proto, &p->proto) < 0 || p->proto == PROTO_ANY) {
		fprintf(stderr, "error: --port %s: expected PORT/PROTOCOL such as 80/TCP, 53/UDP, 5432/SCTP or 8/ICMP\n", s);
		return -1;
	}
	p->port = (uint16_t)port;
	return 0;
}

/* "TCP/80", or "ICMP/8.0" (type.code). */
static const char *port_text(const struct probe_port *p)
{
	static char buf[32];

	if (p->proto == PROTO_ICMP)
		snprintf(buf, sizeof(buf), "ICMP/%u.%u", p->port >> 8, p->port & 255);
	else
		snprintf(buf, sizeof(buf), "%s/%u", pm_proto_name(p->proto), p->port);
	return buf;
}

/* --ipblock kubernetes|cilium: -1 when not given, else whether ipBlocks skip pods. */
static int parse_ipblock(const char *s)
{
	if (!strcmp(s, "kubernetes"))
		return 0;
	if (!strcmp(s, "cilium"))
		return 1;
	fprintf(stderr, "error: --ipblock %s: give kubernetes (an ipBlock matches pods by address) or cilium "
			"(it matches only addresses outside the cluster)\n", s);
	return -2;
}

/* The cluster's setting: ConfigMap kube-system/tulle-config, key policy-ipblock. */
static int live_ipblock(struct client *cl)
{
	char *err = NULL;
	int code = 0;
	json_t *cm = client_json(cl, "GET", "/api/v1/namespaces/kube-system/configmaps/tulle-config", NULL, NULL,
				 &code, &err);
	const char *v = code == 200 ? json_string_value(json_object_get(json_object_get(cm, "data"), "policy-ipblock")) : NULL;
	int mode = v && !strcmp(v, "cilium") ? 1 : 0;
	if (v && strcmp(v, "cilium") && strcmp(v, "kubernetes"))
		fprintf(stderr, "warning: ConfigMap kube-system/tulle-config: policy-ipblock \"%s\" is neither kubernetes "
				"nor cilium; using kubernetes\n", v);
	free(err);
	json_decref(cm);
	return mode;
}

/* Objects from files (validated, defaulted) or from the server. ipblock: -1 for the
 * cluster's setting (kubernetes for files). */
static int load_cluster(struct pm_cluster *c, char **files, size_t nfiles, const struct common_opts *o, int ipblock)
{
	char *err = NULL;

	memset(c, 0, sizeof(*c));
	c->ipblock_outside_only = ipblock == 1;
	if (nfiles) {
		struct manifest m;
		if (manifest_load(&m, files, nfiles, false, NULL)) {
			manifest_free(&m);
			return -1;
		}
		for (size_t i = 0; i < m.n; i++) {
			json_t *obj = json_deep_copy(m.v[i].obj);
			const struct skind *k;
			struct ferrs errs;
			ferrs_init(&errs);
			/* Defaults (policyTypes, types) as the API would fill them. */
			api_validate(obj, NULL, UNKNOWN_STRICT, &k, &errs, NULL);
			ferrs_free(&errs);
			if (pm_add(c, obj, &err) < 0) {
				fprintf(stderr, "%s:%d:%d: %s\n", m.v[i].file, m.v[i].line, m.v[i].col, err);
				free(err);
				json_decref(obj);
				manifest_free(&m);
				return -1;
			}
			json_decref(obj);
		}
		manifest_free(&m);
		pm_finish(c);
		return 0;
	}
	static const char *const kinds[] = { "namespaces", "pods", "serviceaccounts", "tiers",
					     "networkpolicies.networking.k8s.io", "ciliumnetworkpolicies",
					     "ciliumclusterwidenetworkpolicies", "globalnetworkpolicies" };
	struct client cl;
	if (cli_connect(&cl, o) < 0)
		return -1;
	if (ipblock < 0)
		c->ipblock_outside_only = live_ipblock(&cl) == 1;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		const struct skind *k = schema_kind_lookup(schema_get(), kinds[i]);
		char *path = api_path(k, NULL, NULL);
		json_t *list = cli_get(&cl, path);
		free(path);
		if (!list) {
			client_free(&cl);
			return -1;
		}
		size_t j;
		json_t *obj;
		json_array_foreach(json_object_get(list, "items"), j, obj) {
			if (pm_add(c, obj, &err) < 0) {
				fprintf(stderr, "error: %s\n", err);
				free(err);
			}
		}
		json_decref(list);
	}
	client_free(&cl);
	pm_finish(c);
	return 0;
}

struct flow {
	struct pm_side egress, ingress;
	bool allowed;
};

static struct flow decide(const struct pe_engine *e, const struct pm_cluster *c, const struct pm_ep *src,
			  int src_pod, const struct pm_ep *dst, int dst_pod, uint8_t proto, uint16_t port)
{
	struct flow f;
	uint32_t sid = src_pod >= 0 ? pe_ident_of_pod(e, src_pod) : pe_ident_of_ip(e, &src->ip);
	uint32_t did = dst_pod >= 0 ? pe_ident_of_pod(e, dst_pod) : pe_ident_of_ip(e, &dst->ip);

	(void)c;
	if (pm_is_self(src_pod, dst_pod)) {
		f.egress = f.ingress = PM_SELF_SIDE;
		f.allowed = true;
		return f;
	}
	f.egress = src_pod >= 0 ? pe_lookup(e, sid, DIR_EGRESS, did, proto, port)
				: (struct pm_side){ V_ALLOW, WHY_NOT_ISOLATED, -1, -1, NULL, NULL };
	f.ingress = dst_pod >= 0 ? pe_lookup(e, did, DIR_INGRESS, sid, proto, port)
				 : (struct pm_side){ V_ALLOW, WHY_NOT_ISOLATED, -1, -1, NULL, NULL };
	f.allowed = f.egress.v != V_DENY && f.ingress.v != V_DENY;
	return f;
}

static bool declares(const struct pm_pod *p, const struct probe_port *pp)
{
	for (size_t i = 0; i < p->nports; i++)
		if (p->ports[i].port == pp->port && p->ports[i].proto == pp->proto)
			return true;
	return false;
}

static void usage_matrix(FILE *f)
{
	fprintf(f, "usage: tulle policy matrix [-f FILE]... [--port PORT/PROTO]... [-n NS] [--ipblock kubernetes|cilium]\n"
		   "       [-o table|json]\n"
		   "Reachability of every ordered pair of pods (a pod to itself included). Without\n"
		   "--port, each destination is probed on the ports it declares. Without -f, the\n"
		   "live cluster is read from the server. -n shows only that namespace's pods (the\n"
		   "policies of every namespace still apply).\n");
}

static int cmd_matrix(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' }, { "port", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' }, { "server", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' }, { "namespace", required_argument, NULL, 'n' },
		{ "ipblock", required_argument, NULL, 'I' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct common_opts o = { 0 };
	const char *only_ns = NULL;
	int ipblock = -1;
	char **files = NULL;
	size_t nfiles = 0, nports = 0;
	struct probe_port ports[64];
	const char *out = "table";
	int ch, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:p:o:n:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			files = xrealloc(files, (nfiles + 1) * sizeof(char *));
			files[nfiles++] = optarg;
			break;
		case 'n': only_ns = optarg; break;
		case 'I':
			if ((ipblock = parse_ipblock(optarg)) < -1) {
				free(files);
				return 2;
			}
			break;
		case 'p':
			if (nports == 64 || parse_port(optarg, &ports[nports]) < 0) {
				free(files);
				return 2;
			}
			nports++;
			break;
		case 'o': out = optarg; break;
		case 's': o.server = optarg; break;
		case 't': o.token = optarg; break;
		case 'h': usage_matrix(stdout); free(files); return 0;
		default: usage_matrix(stderr); free(files); return 2;
		}
	}
	if (strcmp(out, "table") && strcmp(out, "json")) {
		fprintf(stderr, "error: -o takes table or json\n");
		free(files);
		return 2;
	}
	struct pm_cluster c;
	struct pe_engine e;
	char *err;
	if (load_cluster(&c, files, nfiles, &o, ipblock) < 0)
		goto out_files;
	pe_compile(&e, &c, &err);
	bool per_dst = nports == 0;
	if (per_dst) {
		/* Every port some pod declares, as grids; each pod is probed on its own. */
		for (size_t i = 0; i < c.npods; i++)
			for (size_t j = 0; j < c.pods[i].nports; j++) {
				struct probe_port pp = { c.pods[i].ports[j].port, c.pods[i].ports[j].proto };
				bool have = false;
				for (size_t k = 0; k < nports; k++)
					have |= ports[k].port == pp.port && ports[k].proto == pp.proto;
				if (!have && nports < 64)
					ports[nports++] = pp;
			}
	}
	json_t *probes = json_array();
	for (size_t pi = 0; pi < nports; pi++) {
		if (!strcmp(out, "table")) {
			printf("%s%s:\n-", pi ? "\n" : "", port_text(&ports[pi]));
			for (size_t j = 0; j < c.npods; j++)
				if (!only_ns || !strcmp(c.pods[j].ns, only_ns))
					printf("\t%s/%s", c.pods[j].ns, c.pods[j].name);
			putchar('\n');
		}
		for (size_t i = 0; i < c.npods; i++) {
			if (only_ns && strcmp(c.pods[i].ns, only_ns))
				continue;
			if (!strcmp(out, "table"))
				printf("%s/%s", c.pods[i].ns, c.pods[i].name);
			for (size_t j = 0; j < c.npods; j++) {
				if (only_ns && strcmp(c.pods[j].ns, only_ns))
					continue;
				bool skip = per_dst && !declares(&c.pods[j], &ports[pi]);
				struct pm_ep src, dst;
				pm_ep_pod(&c, (int)i, &src);
				pm_ep_pod(&c, (int)j, &dst);
				struct flow f = decide(&e, &c, &src, (int)i, &dst, (int)j, ports[pi].proto, ports[pi].port);
				if (!strcmp(out, "table")) {
					printf("\t%s", skip ? "-" : f.allowed ? "." : "X");
					continue;
				}
				if (skip)
					continue;
				char *eg = pm_side_text(&c, &f.egress, DIR_EGRESS), *in = pm_side_text(&c, &f.ingress, DIR_INGRESS);
				char *from = xasprintf("%s/%s", c.pods[i].ns, c.pods[i].name);
				char *to = xasprintf("%s/%s", c.pods[j].ns, c.pods[j].name);
				json_array_append_new(probes, json_pack("{s:s,s:s,s:i,s:s,s:b,s:s,s:s}", "from", from, "to", to,
					"port", ports[pi].port, "protocol", pm_proto_name(ports[pi].proto), "allowed", f.allowed,
					"egress", eg, "ingress", in));
				free(eg);
				free(in);
				free(from);
				free(to);
			}
			if (!strcmp(out, "table"))
				putchar('\n');
		}
	}
	if (!strcmp(out, "json")) {
		json_t *doc = json_pack("{s:o}", "probes", probes);
		char *s = json_dumps(doc, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(doc);
	} else {
		json_decref(probes);
		printf("\n. allowed   X denied   - the destination does not declare this port\n");
	}
	rc = 0;
	pe_free(&e);
	pm_free(&c);
out_files:
	free(files);
	return rc;
}

static void usage_trace(FILE *f)
{
	fprintf(f, "usage: tulle policy trace --from NS/POD|IP --to NS/POD|IP|CIDR --port PORT/PROTO|TYPE[.CODE]/ICMP\n"
		   "       [--http METHOD PATH [--http-header NAME:VALUE]...] [-f FILE]... [-o text|json] [--live]\n"
		   "       [--ipblock kubernetes|cilium]  (default: ConfigMap kube-system/tulle-config\n"
		   "       policy-ipblock on a live cluster, kubernetes for files)\n"
		   "  --live  also ask each side's node what its datapath maps decide, and say whether\n"
		   "          they agree with the engine (exit 1 when they do not)\n");
}

/* "ns/pod" names a pod; anything else must be an address or prefix. */
static int endpoint(const struct pm_cluster *c, const char *s, struct pm_ep *ep, int *pod)
{
	const char *slash = strchr(s, '/');
	struct cidr cd;

	*pod = -1;
	if (slash && cidr_parse(s, &cd, false) < 0) {
		char *ns = xstrndup(s, (size_t)(slash - s));
		*pod = pm_find_pod(c, ns, slash + 1);
		free(ns);
		if (*pod < 0) {
			fprintf(stderr, "error: pod %s not found among the loaded objects\n", s);
			return -1;
		}
		pm_ep_pod(c, *pod, ep);
		return 0;
	}
	if (cidr_parse(s, &cd, true) < 0) {
		fprintf(stderr, "error: %s is neither NAMESPACE/POD nor an IP address or CIDR\n", s);
		return -1;
	}
	/* A prefix is probed at its first address. */
	pm_ep_ip(&cd.ip, ep);
	for (size_t i = 0; i < c->npods; i++)
		if (c->pods[i].has_ip && !memcmp(&c->pods[i].ip, &cd.ip, sizeof(cd.ip))) {
			*pod = (int)i;
			pm_ep_pod(c, *pod, ep);
		}
	return 0;
}

static void selecting(const struct pm_cluster *c, const struct pm_ep *ep, int dir, struct strbuf *sb)
{
	for (size_t i = 0; i < c->npols; i++) {
		const struct pm_policy *p = &c->pols[i];
		if (!p->applies[dir] || !pm_selects_local(p, ep))
			continue;
		sb_printf(sb, "%s%s %s%s%s", sb->len ? ", " : "", pm_kind_name(p->kind), p->ns ? p->ns : "",
			  p->ns ? "/" : "", p->name);
	}
}

static int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' }, { "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' }, { "port", required_argument, NULL, 'p' },
		{ "http", required_argument, NULL, 'H' }, { "output", required_argument, NULL, 'o' },
		{ "server", required_argument, NULL, 's' }, { "token", required_argument, NULL, 't' },
		{ "http-header", required_argument, NULL, 'E' }, { "ipblock", required_argument, NULL, 'I' },
		{ "live", no_argument, NULL, 'L' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int ipblock = -1;
	bool live = false;
	struct common_opts o = { 0 };
	char **files = NULL;
	const char **headers = NULL;
	size_t nfiles = 0, nheaders = 0;
	const char *from = NULL, *to = NULL, *method = NULL, *path = NULL, *out = "text";
	struct probe_port port = { 0, 0 };
	int ch, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			files = xrealloc(files, (nfiles + 1) * sizeof(char *));
			files[nfiles++] = optarg;
			break;
		case 'F': from = optarg; break;
		case 'T': to = optarg; break;
		case 'p':
			if (parse_port(optarg, &port) < 0) {
				free(files);
				return 2;
			}
			break;
		case 'H':
			method = optarg;
			if (optind >= argc) {
				fprintf(stderr, "error: --http takes METHOD PATH\n");
				free(files);
				return 2;
			}
			path = argv[optind++];
			break;
		case 'I':
			if ((ipblock = parse_ipblock(optarg)) < -1) {
				free(files);
				free(headers);
				return 2;
			}
			break;
		case 'E':
			if (!strchr(optarg, ':') || optarg[0] == ':') {
				fprintf(stderr, "error: --http-header %s: give NAME:VALUE, as X-User:premium\n", optarg);
				free(files);
				free(headers);
				return 2;
			}
			headers = xrealloc(headers, (nheaders + 1) * sizeof(char *));
			headers[nheaders++] = optarg;
			break;
		case 'o': out = optarg; break;
		case 's': o.server = optarg; break;
		case 't': o.token = optarg; break;
		case 'L': live = true; break;
		case 'h': usage_trace(stdout); free(files); free(headers); return 0;
		default: usage_trace(stderr); free(files); free(headers); return 2;
		}
	}
	if (!from || !to || !port.proto || (nheaders && !method)) {
		if (nheaders && !method)
			fprintf(stderr, "error: --http-header needs --http METHOD PATH\n");
		usage_trace(stderr);
		free(files);
		free(headers);
		return 2;
	}
	if (live && nfiles) {
		fprintf(stderr, "error: --live reads the cluster's maps: it cannot be used with -f FILE\n");
		free(files);
		free(headers);
		return 2;
	}
	struct pm_request req = { method, path, headers, nheaders };
	struct pm_cluster c;
	struct pe_engine e;
	char *err;
	struct pm_ep src, dst;
	int sp, dp;
	if (load_cluster(&c, files, nfiles, &o, ipblock) < 0) {
		free(files);
		free(headers);
		return 1;
	}
	if (endpoint(&c, from, &src, &sp) < 0 || endpoint(&c, to, &dst, &dp) < 0)
		goto out;
	pe_compile(&e, &c, &err);
	struct flow f = decide(&e, &c, &src, sp, &dst, dp, port.proto, port.port);
	char *eg = pm_side_text(&c, &f.egress, DIR_EGRESS), *in = pm_side_text(&c, &f.ingress, DIR_INGRESS);
	struct strbuf es, is;
	sb_init(&es);
	sb_init(&is);
	if (sp >= 0)
		selecting(&c, &src, DIR_EGRESS, &es);
	if (dp >= 0)
		selecting(&c, &dst, DIR_INGRESS, &is);
	bool l7_checked = false, l7_ok = true;
	int l7_pol = -1, l7_rule = -1;
	char *l7 = NULL;
	if (method && f.allowed && (f.ingress.v == V_REDIRECT || f.egress.v == V_REDIRECT)) {
		l7_checked = true;
		bool in_ok = f.ingress.v != V_REDIRECT ||
			     pm_naive_http(&c, &dst, &src, DIR_INGRESS, port.proto, port.port, &req, &l7_pol, &l7_rule);
		bool eg_ok = f.egress.v != V_REDIRECT ||
			     pm_naive_http(&c, &src, &dst, DIR_EGRESS, port.proto, port.port, &req, &l7_pol, &l7_rule);
		l7_ok = in_ok && eg_ok;
		if (l7_ok && l7_pol >= 0)
			l7 = xasprintf("%s %s allowed by %s %s%s%s rule %d", method, path, pm_kind_name(c.pols[l7_pol].kind),
				       c.pols[l7_pol].ns ? c.pols[l7_pol].ns : "", c.pols[l7_pol].ns ? "/" : "",
				       c.pols[l7_pol].name, l7_rule);
		else
			l7 = xasprintf("%s %s matches no HTTP rule: the proxy answers 403", method, path);
	} else if (method && f.allowed) {
		l7 = xasprintf("no L7 rules apply: %s %s passes at L4", method, path);
	}
	bool allowed = f.allowed && l7_ok;
	/* --live: each side where the pod's node enforces it. */
	json_t *live_j[2] = { NULL, NULL };
	char *live_t[2] = { NULL, NULL };
	int live_rc[2] = { 1, 1 };
	if (live) {
		struct client cl;
		if (cli_connect(&cl, &o) < 0) {
			sb_free(&es);
			sb_free(&is);
			free(l7);
			free(eg);
			free(in);
			pe_free(&e);
			goto out;
		}
		if (sp >= 0)
			live_rc[0] = trace_live_side(&cl, &c, sp, &dst.ip, DIR_EGRESS, port.proto, port.port, &f.egress,
						     &live_j[0], &live_t[0]);
		if (dp >= 0)
			live_rc[1] = trace_live_side(&cl, &c, dp, &src.ip, DIR_INGRESS, port.proto, port.port, &f.ingress,
						     &live_j[1], &live_t[1]);
		client_free(&cl);
	}
	bool live_ok = live_rc[0] == 1 && live_rc[1] == 1;
	if (!strcmp(out, "json")) {
		json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:b,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "from", from, "to", to,
			"port", port.port, "protocol", pm_proto_name(port.proto), "allowed", allowed,
			"egress", "verdict", pm_v_name(f.egress.v), "why", eg, "selectedBy", es.buf ? es.buf : "",
			"ingress", "verdict", pm_v_name(f.ingress.v), "why", in, "selectedBy", is.buf ? is.buf : "");
		if (l7)
			json_object_set_new(j, "http", json_pack("{s:b,s:s}", "allowed", l7_ok, "why", l7));
		if (live)
			json_object_set_new(j, "live", json_pack("{s:b,s:O?,s:O?,s:s?,s:s?}", "agrees", live_ok, "egress",
								 live_j[0], "ingress", live_j[1], "egressText", live_t[0],
								 "ingressText", live_t[1]));
		char *s = json_dumps(j, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(j);
	} else {
		printf("%s -> %s %s\n", from, to, port_text(&port));
		printf("  egress  at %s: %s\n", from, sp >= 0 ? eg : "allowed: not a pod (no egress policy)");
		if (sp >= 0)
			printf("          selected by: %s\n", es.len ? es.buf : "no policy");
		if (live_t[0])
			printf("          datapath: %s\n", live_t[0]);
		printf("  ingress at %s: %s\n", to, dp >= 0 ? in : "allowed: not a pod (no ingress policy)");
		if (dp >= 0)
			printf("          selected by: %s\n", is.len ? is.buf : "no policy");
		if (live_t[1])
			printf("          datapath: %s\n", live_t[1]);
		if (l7)
			printf("  http: %s\n", l7);
		printf("verdict: %s\n", allowed ? (l7_checked ? "ALLOWED (L7)" : "ALLOWED") : "DENIED");
		if (live)
			printf("live: %s\n", live_ok ? "the datapath's maps agree with the engine"
					     : live_rc[0] < 0 || live_rc[1] < 0 ? "could not read every node's maps"
										: "the datapath's maps DISAGREE with the engine");
	}
	for (int i = 0; i < 2; i++) {
		json_decref(live_j[i]);
		free(live_t[i]);
	}
	free(l7);
	free(eg);
	free(in);
	sb_free(&es);
	sb_free(&is);
	pe_free(&e);
	rc = live && !live_ok ? 1 : 0;
out:
	pm_free(&c);
	free(files);
	free(headers);
	return rc;
}

int cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "matrix"))
		return cmd_matrix(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "trace"))
		return cmd_trace(argc - 1, argv + 1);
	fprintf(stderr, "usage: tulle policy matrix|trace ...\n");
	usage_matrix(stderr);
	usage_trace(stderr);
	return 2;
}
