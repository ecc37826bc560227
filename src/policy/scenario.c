#include "scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/validate.h"
#include "../lib/doc.h"
#include "../lib/util.h"

static const char *const NSS[] = { "x", "y", "z" };
static const char *const PODS[] = { "a", "b", "c" };

int scenario_add(struct pm_cluster *c, json_t *obj, char **err)
{
	const struct skind *k;
	struct ferrs errs;
	int rc = 0;

	*err = NULL;
	ferrs_init(&errs);
	if (api_validate(obj, NULL, UNKNOWN_STRICT, &k, &errs, NULL) < 0) {
		struct strbuf sb;
		sb_init(&sb);
		api_format_errors(&sb, NULL, obj, &errs);
		*err = xasprintf("invalid object: %s", sb.buf ? sb.buf : "?");
		sb_free(&sb);
		rc = -1;
	}
	ferrs_free(&errs);
	if (rc == 0 && pm_add(c, obj, err) < 0)
		rc = -1;
	json_decref(obj);
	return rc;
}

void scenario_upstream_cluster(struct pm_cluster *c)
{
	char *err;

	memset(c, 0, sizeof(*c));
	for (int n = 0; n < 3; n++) {
		scenario_add(c, json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace",
					  "metadata", "name", NSS[n], "labels", "ns", NSS[n]), &err);
		free(err);
		for (int p = 0; p < 3; p++) {
			char ip[32];
			snprintf(ip, sizeof(ip), "10.0.%d.%d", n + 1, 10 + p);
			json_t *ports = json_array();
			static const char *const protos[] = { "TCP", "UDP", "SCTP" };
			for (int pr = 0; pr < 3; pr++)
				for (int port = 80; port <= 81; port++) {
					char name[32], lower[8];
					snprintf(lower, sizeof(lower), "%s", protos[pr]);
					for (char *q = lower; *q; q++)
						*q = (char)(*q - 'A' + 'a');
					snprintf(name, sizeof(name), "serve-%d-%s", port, lower);
					json_array_append_new(ports, json_pack("{s:s,s:i,s:s}", "name", name,
									       "containerPort", port, "protocol", protos[pr]));
				}
			scenario_add(c, json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:[{s:s,s:s,s:o}]},s:{s:s}}",
						  "apiVersion", "v1", "kind", "Pod", "metadata", "name", PODS[p],
						  "namespace", NSS[n], "labels", "pod", PODS[p], "spec", "containers",
						  "name", "c", "image", "agnhost", "ports", ports, "status", "podIP", ip),
				     &err);
			free(err);
		}
	}
}

int scenario_load(const char *path, struct pm_cluster *c, json_t **expect, char **err)
{
	char *text;
	size_t len, n;
	struct doc **docs;
	struct ferrs errs;
	int rc = 0;

	*expect = NULL;
	*err = NULL;
	if (read_file(path, &text, &len) < 0) {
		*err = xasprintf("%s: cannot read it", path);
		return -1;
	}
	ferrs_init(&errs);
	if (doc_load_all(text, len, path, &docs, &n, &errs) < 0 || n < 1) {
		*err = xasprintf("%s: does not parse", path);
		ferrs_free(&errs);
		free(text);
		return -1;
	}
	scenario_upstream_cluster(c);
	for (size_t i = 1; i < n && rc == 0; i++) {
		char *e;
		if (scenario_add(c, json_incref(docs[i]->root), &e) < 0) {
			*err = xasprintf("%s: document %zu: %s", path, i + 1, e);
			free(e);
			rc = -1;
		}
	}
	if (rc == 0) {
		pm_finish(c);
		*expect = json_incref(json_object_get(docs[0]->root, "expect"));
	} else {
		pm_free(c);
	}
	docs_free(docs, n);
	ferrs_free(&errs);
	free(text);
	return rc;
}

/* A pattern against a pod: NS/POD, either side may be "*", or "*" alone. */
static bool pattern(const char *pat, const struct pm_pod *p)
{
	if (!strcmp(pat, "*"))
		return true;
	const char *slash = strchr(pat, '/');
	if (!slash)
		return false;
	size_t nl = (size_t)(slash - pat);
	bool ns_ok = (nl == 1 && pat[0] == '*') || (strlen(p->ns) == nl && !strncmp(pat, p->ns, nl));
	bool pod_ok = !strcmp(slash + 1, "*") || !strcmp(slash + 1, p->name);
	return ns_ok && pod_ok;
}

int scenario_probe(const char *s, uint8_t *proto, uint16_t *port)
{
	char name[8];
	unsigned v, code = 0;
	/* PORT/PROTO, or TYPE[.CODE]/ICMP */
	if (sscanf(s, "%u.%u/%7s", &v, &code, name) != 3 && sscanf(s, "%u/%7s", &v, name) != 2)
		return -1;
	if (pm_proto_parse(name, proto) < 0)
		return -1;
	*port = *proto == PROTO_ICMP ? PM_ICMP_PORT(v, code) : (uint16_t)v;
	return 0;
}

bool scenario_expected(const json_t *expect, const struct pm_pod *from, const struct pm_pod *to, uint8_t proto,
		       uint16_t port)
{
	bool allow = strcmp(json_string_value(json_object_get(expect, "default")) ?: "allow", "deny") != 0;
	size_t i;
	json_t *r;

	if (from == to)
		return true; /* a pod cannot block access to itself */
	json_array_foreach(json_object_get(expect, "rules"), i, r) {
		char verb[8], f[64], arrow[4], t[64], probe[16] = "";
		int n = sscanf(json_string_value(r), "%7s %63s %3s %63s %15s", verb, f, arrow, t, probe);
		if (n < 4)
			continue;
		if (n == 5) {
			uint8_t op;
			uint16_t oport;
			if (scenario_probe(probe, &op, &oport) < 0 || oport != port || op != proto)
				continue;
		}
		if (pattern(f, from) && pattern(t, to))
			allow = !strcmp(verb, "allow");
	}
	return allow;
}
