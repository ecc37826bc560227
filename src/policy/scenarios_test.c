/* Data-driven policy tests. tests/data/policy/k8s: upstream's network policy e2e
 * scenarios (namespaces x, y, z; pods a, b, c; 80/81 on TCP, UDP, SCTP), each with its
 * expected truth table; every cell is checked through the compiled engine and the naive
 * evaluator. Then the seed's own policies and the behaviour the seed describes. */
#include "../lib/testhelp.h"

#include <dirent.h>

#include "../api/validate.h"
#include "../lib/doc.h"
#include "engine.h"
#include "scenario.h"

static void add_json(struct pm_cluster *c, json_t *obj)
{
	char *err;
	if (scenario_add(c, obj, &err) < 0) {
		fprintf(stderr, "  %s\n", err);
		free(err);
		th_cur_failed = 1;
	}
}

struct probe {
	uint16_t port;
	uint8_t proto;
};

static int parse_probe(const char *s, struct probe *p)
{
	return scenario_probe(s, &p->proto, &p->port);
}

static bool expected(const json_t *expect, const struct pm_pod *from, const struct pm_pod *to,
		     const struct probe *pr)
{
	return scenario_expected(expect, from, to, pr->proto, pr->port);
}

/* Checks every pair on every probe; prints the grids that differ. */
static int check_matrix(struct pm_cluster *c, const json_t *expect, const char *name)
{
	struct pe_engine e;
	char *err;
	int bad = 0;
	size_t i;
	json_t *pj;

	pe_compile(&e, c, &err);
	json_array_foreach(json_object_get(expect, "ports"), i, pj) {
		struct probe pr;
		struct strbuf grid;
		bool diff = false;
		if (parse_probe(json_string_value(pj), &pr) < 0) {
			fprintf(stderr, "  %s: bad probe %s\n", name, json_string_value(pj));
			bad++;
			continue;
		}
		sb_init(&grid);
		sb_printf(&grid, "  %s %s (want/compiled/naive):\n", name, json_string_value(pj));
		for (size_t s = 0; s < c->npods; s++) {
			sb_printf(&grid, "    %s/%s", c->pods[s].ns, c->pods[s].name);
			for (size_t d = 0; d < c->npods; d++) {
				struct pm_ep src, dst;
				pm_ep_pod(c, (int)s, &src);
				pm_ep_pod(c, (int)d, &dst);
				uint32_t si = pe_ident_of_pod(&e, (int)s), di = pe_ident_of_pod(&e, (int)d);
				bool self = pm_is_self((int)s, (int)d);
				bool comp = self || (pe_lookup(&e, si, DIR_EGRESS, di, pr.proto, pr.port).v != V_DENY &&
						     pe_lookup(&e, di, DIR_INGRESS, si, pr.proto, pr.port).v != V_DENY);
				bool naive = self || (pm_naive_side(c, &src, &dst, DIR_EGRESS, pr.proto, pr.port).v != V_DENY &&
						      pm_naive_side(c, &dst, &src, DIR_INGRESS, pr.proto, pr.port).v != V_DENY);
				bool want = expected(expect, &c->pods[s], &c->pods[d], &pr);
				if (want != comp || want != naive)
					diff = true;
				sb_printf(&grid, " %c%c%c", want ? '.' : 'X', comp ? '.' : 'X', naive ? '.' : 'X');
			}
			sb_addc(&grid, '\n');
		}
		if (diff) {
			fputs(grid.buf, stderr);
			bad++;
		}
		sb_free(&grid);
	}
	pe_free(&e);
	return bad;
}

static void upstream_scenarios(void)
{
	const char *dir = getenv("TULLE_POLICY_DATA") ?: "tests/data/policy/k8s";
	DIR *d = opendir(dir);
	struct dirent *de;
	int scenarios = 0, failed = 0;

	if (!d)
		SKIP("tests/data/policy/k8s not found (run from the repository root)");
	while ((de = readdir(d))) {
		if (!str_has_suffix(de->d_name, ".yaml"))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name), *err = NULL;
		struct pm_cluster c;
		json_t *expect;
		if (scenario_load(path, &c, &expect, &err) < 0) {
			fprintf(stderr, "  %s\n", err);
			free(err);
			failed++;
		} else {
			if (check_matrix(&c, expect, de->d_name))
				failed++;
			json_decref(expect);
			pm_free(&c);
		}
		free(path);
		scenarios++;
	}
	closedir(d);
	printf("upstream scenarios: %d, failed: %d\n", scenarios, failed);
	CHECK(scenarios >= 40);
	CHECK(failed == 0);
}

/* ---- the seed's policies ---- */

static const char *seed(void)
{
	return getenv("TULLE_MANIFESTS") ?: "examples/manifests";
}

static void load_files(struct pm_cluster *c, const char *const *files)
{
	for (; *files; files++) {
		/* A bare file name is one of the chapter's manifests; a path is from the root. */
		char *path = strchr(*files, '/') ? xstrdup(*files) : xasprintf("%s/%s", seed(), *files);
		char *text;
		size_t len, n;
		struct doc **docs;
		struct ferrs errs;
		ferrs_init(&errs);
		if (read_file(path, &text, &len) < 0 || doc_load_all(text, len, path, &docs, &n, &errs) < 0) {
			fprintf(stderr, "  cannot load %s\n", path);
			th_cur_failed = 1;
		} else {
			for (size_t i = 0; i < n; i++)
				add_json(c, json_incref(docs[i]->root));
			docs_free(docs, n);
			free(text);
		}
		ferrs_free(&errs);
		free(path);
	}
	pm_finish(c);
}

/* Verdict for a flow through both evaluators; they must agree. */
static enum pm_v flow(const struct pm_cluster *c, const char *from, const char *to, const char *probe)
{
	char ns[64], name[64];
	struct pm_ep src, dst;
	int s = -1, d = -1;
	struct probe pr;
	struct ipaddr ip;

	parse_probe(probe, &pr);
	if (sscanf(from, "%63[^/]/%63s", ns, name) == 2 && (s = pm_find_pod(c, ns, name)) >= 0)
		pm_ep_pod(c, s, &src);
	else if (ip_parse(from, &ip) == 0)
		pm_ep_ip(&ip, &src);
	if (sscanf(to, "%63[^/]/%63s", ns, name) == 2 && (d = pm_find_pod(c, ns, name)) >= 0)
		pm_ep_pod(c, d, &dst);
	else if (ip_parse(to, &ip) == 0)
		pm_ep_ip(&ip, &dst);
	struct pm_side ne = s >= 0 ? pm_naive_side(c, &src, &dst, DIR_EGRESS, pr.proto, pr.port) : (struct pm_side){ 0 };
	struct pm_side ni = d >= 0 ? pm_naive_side(c, &dst, &src, DIR_INGRESS, pr.proto, pr.port) : (struct pm_side){ 0 };
	struct pe_engine e;
	char *err;
	pe_compile(&e, c, &err);
	uint32_t si = s >= 0 ? pe_ident_of_pod(&e, s) : pe_ident_of_ip(&e, &src.ip);
	uint32_t di = d >= 0 ? pe_ident_of_pod(&e, d) : pe_ident_of_ip(&e, &dst.ip);
	struct pm_side ce = s >= 0 ? pe_lookup(&e, si, DIR_EGRESS, di, pr.proto, pr.port) : (struct pm_side){ 0 };
	struct pm_side ci = d >= 0 ? pe_lookup(&e, di, DIR_INGRESS, si, pr.proto, pr.port) : (struct pm_side){ 0 };
	pe_free(&e);
	if (ne.v != ce.v || ni.v != ci.v) {
		fprintf(stderr, "  %s -> %s %s: naive %d/%d, compiled %d/%d\n", from, to, probe, ne.v, ni.v, ce.v, ci.v);
		th_cur_failed = 1;
	}
	if (ne.v == V_DENY || ni.v == V_DENY)
		return V_DENY;
	return ne.v == V_REDIRECT || ni.v == V_REDIRECT ? V_REDIRECT : V_ALLOW;
}

static const char *const lab3_policies[] = {
	"tests/data/policy/lab3-pods.yaml", "19-lab3-networkpolicy-default-deny.yaml",
	"20-lab3-networkpolicy-allow-frontend-to-backend.yaml", "21-lab3-networkpolicy-allow-backend-to-db.yaml",
	"22-lab3-networkpolicy-allow-dns.yaml", NULL,
};

static void seed_lab3_exact_semantics(void)
{
	struct pm_cluster c = { 0 };
	load_files(&c, lab3_policies);
	/* The seed's four policies as written: default-deny isolates egress too and only DNS
	 * egress is allowed, so every pod-to-pod flow in secure-app stops at its source. */
	CHECK(flow(&c, "secure-app/frontend", "secure-app/backend", "80/TCP") == V_DENY);
	CHECK(flow(&c, "secure-app/frontend", "secure-app/database", "5432/TCP") == V_DENY);
	CHECK(flow(&c, "secure-app/backend", "secure-app/database", "5432/TCP") == V_DENY);
	CHECK(flow(&c, "secure-app/frontend", "kube-system/coredns", "53/UDP") == V_ALLOW);
	CHECK(flow(&c, "secure-app/backend", "kube-system/coredns", "53/UDP") == V_ALLOW);
	CHECK(flow(&c, "secure-app/database", "kube-system/coredns", "53/UDP") == V_ALLOW);
	CHECK(flow(&c, "secure-app/frontend", "kube-system/coredns", "53/TCP") == V_DENY);
	pm_free(&c);
}

static void seed_lab3_described_behaviour(void)
{
	/* With the egress allows the lab leaves out, the seed's described outcomes hold. */
	static const char *const files[] = {
		"tests/data/policy/lab3-pods.yaml", "19-lab3-networkpolicy-default-deny.yaml",
		"20-lab3-networkpolicy-allow-frontend-to-backend.yaml", "21-lab3-networkpolicy-allow-backend-to-db.yaml",
		"22-lab3-networkpolicy-allow-dns.yaml", "examples/lab3-network-policy/egress-allows.yaml", NULL,
	};
	struct pm_cluster c = { 0 };
	load_files(&c, files);
	CHECK(flow(&c, "secure-app/frontend", "secure-app/backend", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "secure-app/frontend", "secure-app/database", "5432/TCP") == V_DENY);
	CHECK(flow(&c, "secure-app/backend", "secure-app/database", "5432/TCP") == V_ALLOW);
	CHECK(flow(&c, "secure-app/database", "secure-app/backend", "80/TCP") == V_DENY);
	CHECK(flow(&c, "secure-app/frontend", "kube-system/coredns", "53/UDP") == V_ALLOW);
	CHECK(flow(&c, "secure-app/database", "kube-system/coredns", "53/UDP") == V_ALLOW);
	pm_free(&c);
}

static void seed_policies_07_to_10(void)
{
	static const char *const files[] = {
		"tests/data/policy/seed-pods.yaml", "07-networkpolicy-default-deny-all.yaml",
		"08-networkpolicy-allow-frontend-to-backend.yaml", "09-networkpolicy-allow-dns-and-api.yaml",
		"10-networkpolicy-namespace-isolation.yaml", NULL,
	};
	struct pm_cluster c = { 0 };
	load_files(&c, files);
	/* 07 + 08 in production: default deny both ways; backend admits frontend on 8080
	 * at ingress, but frontend's egress is still denied by 07. */
	CHECK(flow(&c, "production/frontend", "production/backend", "8080/TCP") == V_DENY);
	CHECK(flow(&c, "default/client", "production/backend", "8080/TCP") == V_DENY);
	CHECK(flow(&c, "production/backend", "default/web", "80/TCP") == V_DENY);
	/* 09: web may reach DNS in the namespace labelled name=kube-system, and api on 443. */
	CHECK(flow(&c, "default/web", "kube-system/coredns", "53/UDP") == V_ALLOW);
	CHECK(flow(&c, "default/web", "default/api", "443/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/web", "default/api", "80/TCP") == V_DENY);
	CHECK(flow(&c, "default/web", "8.8.8.8", "443/TCP") == V_DENY);
	/* 10: default admits traffic only from its own namespace. */
	CHECK(flow(&c, "default/client", "default/api", "443/TCP") == V_ALLOW);
	CHECK(flow(&c, "kube-system/coredns", "default/api", "443/TCP") == V_DENY);
	pm_free(&c);
}

static void seed_cilium_l7_policy(void)
{
	static const char *const files[] = { "tests/data/policy/seed-pods.yaml", "14-ciliumnetworkpolicy-api-l7-policy.yaml", NULL };
	struct pm_cluster c = { 0 };
	load_files(&c, files);
	/* L4: frontend -> api:8080 goes to the proxy; others are denied; other ports too. */
	CHECK(flow(&c, "default/frontend", "default/api", "8080/TCP") == V_REDIRECT);
	CHECK(flow(&c, "default/client", "default/api", "8080/TCP") == V_DENY);
	CHECK(flow(&c, "default/frontend", "default/api", "443/TCP") == V_DENY);
	/* L7: GET /api/v1/.* and POST /api/v1/orders only, anchored. */
	int f = pm_find_pod(&c, "default", "frontend"), a = pm_find_pod(&c, "default", "api"), pol, rule;
	struct pm_ep src, dst;
	pm_ep_pod(&c, f, &src);
	pm_ep_pod(&c, a, &dst);
	CHECK(pm_naive_http(&c, &dst, &src, DIR_INGRESS, PROTO_TCP, 8080, &(struct pm_request){ "GET", "/api/v1/users", NULL, 0 }, &pol, &rule));
	CHECK(pm_naive_http(&c, &dst, &src, DIR_INGRESS, PROTO_TCP, 8080, &(struct pm_request){ "POST", "/api/v1/orders", NULL, 0 }, &pol, &rule));
	CHECK(!pm_naive_http(&c, &dst, &src, DIR_INGRESS, PROTO_TCP, 8080, &(struct pm_request){ "POST", "/api/v1/users", NULL, 0 }, &pol, &rule));
	CHECK(!pm_naive_http(&c, &dst, &src, DIR_INGRESS, PROTO_TCP, 8080, &(struct pm_request){ "DELETE", "/api/v1/orders", NULL, 0 }, &pol, &rule));
	CHECK(!pm_naive_http(&c, &dst, &src, DIR_INGRESS, PROTO_TCP, 8080, &(struct pm_request){ "GET", "/admin/api/v1/x", NULL, 0 }, &pol, &rule));
	CHECK(!pm_naive_http(&c, &dst, &src, DIR_INGRESS, PROTO_TCP, 8080, &(struct pm_request){ "POST", "/api/v1/orders/1", NULL, 0 }, &pol, &rule));
	pm_free(&c);
}

static void seed_calico_global_policy(void)
{
	static const char *const files[] = { "tests/data/policy/seed-pods.yaml", "15-globalnetworkpolicy-deny-egress-to-external.yaml", NULL };
	struct pm_cluster c = { 0 };
	load_files(&c, files);
	/* tier == "production" pods reach private ranges only; others are untouched. */
	CHECK(flow(&c, "production/backend", "10.1.2.3", "443/TCP") == V_ALLOW);
	CHECK(flow(&c, "production/backend", "192.168.7.7", "53/UDP") == V_ALLOW);
	CHECK(flow(&c, "production/backend", "172.31.0.1", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "production/backend", "8.8.8.8", "443/TCP") == V_DENY);
	CHECK(flow(&c, "production/backend", "172.32.0.1", "443/TCP") == V_DENY);
	CHECK(flow(&c, "default/web", "8.8.8.8", "443/TCP") == V_ALLOW);
	pm_free(&c);
}

static void calico_tiers_order_and_pass(void)
{
	static const char *const files[] = { "tests/data/policy/seed-pods.yaml", "tests/data/policy/calico-tiers.yaml", NULL };
	struct pm_cluster c = { 0 };
	load_files(&c, files);
	/* order 10 allows 80 from anywhere before order 20 denies everything. */
	CHECK(flow(&c, "default/client", "default/web", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/web", "81/TCP") == V_DENY);
	/* The security tier passes api traffic on to the default tier, where the GNP at
	 * order 2000 allows 443 after the Kubernetes policy matched nothing. */
	CHECK(flow(&c, "default/client", "default/api", "443/TCP") == V_ALLOW);
	/* ... and denies database traffic outright, before any default-tier allow. */
	CHECK(flow(&c, "default/client", "production/database", "5432/TCP") == V_DENY);
	/* A Kubernetes policy at order 1000 comes after a GNP at order 5: the GNP's Deny wins. */
	CHECK(flow(&c, "default/frontend", "default/api", "9000/TCP") == V_DENY);
	/* ... and a GNP at order 2000 only sees what the Kubernetes policy left. */
	CHECK(flow(&c, "default/frontend", "default/api", "9001/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/api", "9001/TCP") == V_DENY);
	/* Tier b-first (order 10) allows 82 before a-second (order 20, earlier by name)
	 * denies it; 83 passes b-first and a-second denies it. */
	CHECK(flow(&c, "default/client", "default/web", "82/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/web", "83/TCP") == V_DENY);
	/* Tier audit's defaultAction Pass: unmatched traffic to frontend goes on (and no
	 * later tier selects frontend: allowed); port 7000 is denied. */
	CHECK(flow(&c, "default/client", "default/frontend", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/frontend", "7000/TCP") == V_DENY);
	pm_free(&c);
}

static void calico_rule_fields(void)
{
	static const char *const files[] = { "tests/data/policy/seed-pods.yaml", "tests/data/policy/calico-rules.yaml", NULL };
	struct pm_cluster c = { 0 };
	load_files(&c, files);
	/* icmp {type 8, code 0} allowed, other ICMP denied. */
	CHECK(flow(&c, "default/client", "default/web", "8/ICMP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/web", "8.1/ICMP") == V_DENY);
	CHECK(flow(&c, "default/client", "default/web", "0/ICMP") == V_DENY);
	/* notProtocol UDP with ipVersion 4, from client. */
	CHECK(flow(&c, "default/client", "default/web", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/web", "53/UDP") == V_DENY);
	CHECK(flow(&c, "2001:db8::1", "default/web", "80/TCP") == V_DENY);
	/* notICMP type 8. */
	CHECK(flow(&c, "default/client", "default/api", "0/ICMP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/api", "8/ICMP") == V_DENY);
	/* serviceAccounts by selector (bot runs as robot, role automation) and by name;
	 * serviceAccountSelector picks bot for egress: TCP 80 only. */
	CHECK(flow(&c, "default/bot", "default/web", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/bot", "default/api", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/api", "80/TCP") == V_DENY);
	CHECK(flow(&c, "default/bot", "default/api", "8080/TCP") == V_DENY);
	pm_free(&c);
}

static void cilium_deny_wins_and_entities(void)
{
	static const char *const files[] = { "tests/data/policy/seed-pods.yaml", "tests/data/policy/cilium-rules.yaml", NULL };
	struct pm_cluster c = { 0 };
	load_files(&c, files);
	CHECK(flow(&c, "default/client", "default/web", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/frontend", "default/web", "80/TCP") == V_DENY);     /* ingressDeny wins */
	CHECK(flow(&c, "production/backend", "default/web", "80/TCP") == V_ALLOW);  /* cluster entity */
	CHECK(flow(&c, "default/web", "1.1.1.1", "53/UDP") == V_ALLOW);             /* world entity, egress */
	CHECK(flow(&c, "default/web", "default/api", "53/UDP") == V_DENY);          /* world is not a pod */
	CHECK(flow(&c, "default/web", "10.9.9.9", "443/TCP") == V_ALLOW);           /* toCIDRSet */
	CHECK(flow(&c, "default/web", "10.9.1.1", "443/TCP") == V_DENY);            /* ... except */
	pm_free(&c);
}

static void cidr_rules_and_cluster_pods(void)
{
	static const char *const files[] = { "tests/data/policy/seed-pods.yaml", "tests/data/policy/cidr-scope.yaml", NULL };
	struct pm_cluster c = { 0 };
	load_files(&c, files);
	/* Cilium fromCIDR 10.0.0.0/8: addresses outside the cluster only. */
	CHECK(flow(&c, "10.1.2.3", "production/backend", "8080/TCP") == V_ALLOW);
	CHECK(flow(&c, "production/frontend", "production/backend", "8080/TCP") == V_DENY);
	CHECK(flow(&c, "default/web", "production/backend", "8080/TCP") == V_DENY);
	/* Cilium toCIDRSet 10.0.0.0/8 except 10.9.0.0/16: the same, with its except. */
	CHECK(flow(&c, "default/api", "10.5.5.5", "443/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/api", "10.9.0.1", "443/TCP") == V_DENY);
	CHECK(flow(&c, "default/api", "default/client", "80/TCP") == V_DENY);
	/* A Kubernetes ipBlock selects pods by address (the upstream e2e suite relies on it). */
	CHECK(flow(&c, "production/frontend", "production/database", "5432/TCP") == V_ALLOW);
	CHECK(flow(&c, "10.1.2.3", "production/database", "5432/TCP") == V_DENY);
	/* Calico nets: pods by address too. */
	CHECK(flow(&c, "default/client", "default/web", "80/TCP") == V_ALLOW);
	CHECK(flow(&c, "production/frontend", "default/web", "80/TCP") == V_DENY);
	pm_free(&c);
	/* The same ipBlock evaluated as Cilium does: pods never, other addresses in it yes. */
	c.ipblock_outside_only = true;
	load_files(&c, files);
	CHECK(flow(&c, "production/frontend", "production/database", "5432/TCP") == V_DENY);
	CHECK(flow(&c, "10.244.9.9", "production/database", "5432/TCP") == V_ALLOW);
	CHECK(flow(&c, "default/client", "default/web", "80/TCP") == V_ALLOW); /* Calico nets unchanged */
	pm_free(&c);
}

static void unsupported_fields_are_refused(void)
{
	/* A rule naming only FQDNs must not turn into "every peer". */
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{},s:[{s:[{s:s}]}]}}", "apiVersion", "cilium.io/v2",
			      "kind", "CiliumNetworkPolicy", "metadata", "name", "fqdn", "namespace", "default",
			      "spec", "endpointSelector", "egress", "toFQDNs", "matchName", "example.com");
	struct pm_cluster c = { 0 };
	char *err = NULL;
	CHECK(pm_add(&c, o, &err) < 0);
	CHECK(err && strstr(err, "toFQDNs is not supported"));
	free(err);
	json_decref(o);
	pm_free(&c);
}

int main(void)
{
	RUN(unsupported_fields_are_refused);
	RUN(cidr_rules_and_cluster_pods);
	RUN(upstream_scenarios);
	RUN(seed_lab3_exact_semantics);
	RUN(seed_lab3_described_behaviour);
	RUN(seed_policies_07_to_10);
	RUN(seed_cilium_l7_policy);
	RUN(seed_calico_global_policy);
	RUN(calico_tiers_order_and_pass);
	RUN(calico_rule_fields);
	RUN(cilium_deny_wins_and_entities);
	return testhelp_done();
}
