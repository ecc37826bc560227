/* The compiled engine against the naive evaluator on random clusters and policies of
 * all three kinds: every pod pair (and addresses outside pods), several ports and
 * protocols, both directions. Verdicts and their reasons must be identical. Then the
 * same after incremental updates (a policy replaced, pod labels changed) against a
 * fresh compile. */
#include "../lib/testhelp.h"

#include "../api/validate.h"
#include "engine.h"

#define rnd th_rand

static const char *pick(const char *const *v, size_t n)
{
	return v[rnd((unsigned)n)];
}
#define PICK(v) pick(v, ARRAY_SIZE(v))

static const char *const APPS[] = { "web", "api", "db", "cache" };
static const char *const TIERS[] = { "front", "back", "data" };
static const char *const TEAMS[] = { "red", "blue" };
static const char *const SAS[] = { "default", "robot", "admin" };
static const char *const TIER_NAMES[] = { "security", "platform", "default", "zz-unordered" };

static json_t *rand_labels(void)
{
	json_t *l = json_object();
	if (rnd(4))
		json_object_set_new(l, "app", json_string(PICK(APPS)));
	if (rnd(2))
		json_object_set_new(l, "tier", json_string(PICK(TIERS)));
	return l;
}

static json_t *rand_k8s_selector(bool allow_empty)
{
	json_t *s = json_object();
	unsigned k = rnd(allow_empty ? 4 : 3);
	if (k == 0 || k == 3) {
		json_object_set_new(s, "matchLabels", json_pack("{s:s}", rnd(2) ? "app" : "tier",
							       rnd(2) ? PICK(APPS) : PICK(TIERS)));
	} else if (k == 1) {
		static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist" };
		const char *op = PICK(ops);
		json_t *e = json_pack("{s:s,s:s}", "key", rnd(2) ? "app" : "tier", "operator", op);
		if (op[0] == 'I' || op[0] == 'N')
			json_object_set_new(e, "values", json_pack("[s,s]", PICK(APPS), PICK(TIERS)));
		json_object_set_new(s, "matchExpressions", json_pack("[o]", e));
	}
	return s;
}

static json_t *rand_ns_selector(void)
{
	if (rnd(3) == 0)
		return json_object();
	return json_pack("{s:{s:s}}", "matchLabels", "team", PICK(TEAMS));
}

static char *rand_cidr(void)
{
	switch (rnd(4)) {
	case 0: return xasprintf("10.0.%u.0/24", rnd(4));
	case 1: return xasprintf("10.0.%u.%u/32", rnd(4), 10 + rnd(6));
	case 2: return xstrdup("10.0.0.0/16");
	default: return xasprintf("%u.%u.0.0/16", 1 + rnd(3), rnd(4));
	}
}

static json_t *rand_k8s_ports(void)
{
	json_t *ports = json_array();
	for (unsigned i = rnd(3); i > 0; i--) {
		static const char *const protos[] = { "TCP", "UDP", "SCTP" };
		json_t *p = json_pack("{s:s}", "protocol", PICK(protos));
		switch (rnd(4)) {
		case 0: json_object_set_new(p, "port", json_integer(80)); break;
		case 1: json_object_set_new(p, "port", json_string(rnd(2) ? "http" : "dns")); break;
		case 2: json_object_set_new(p, "port", json_integer(53));
			json_object_set_new(p, "endPort", json_integer(443)); break;
		default: break;
		}
		json_array_append_new(ports, p);
	}
	return ports;
}

static json_t *rand_k8s_peer(void)
{
	json_t *peer = json_object();
	switch (rnd(4)) {
	case 0: json_object_set_new(peer, "podSelector", rand_k8s_selector(true)); break;
	case 1: json_object_set_new(peer, "namespaceSelector", rand_ns_selector()); break;
	case 2:
		json_object_set_new(peer, "podSelector", rand_k8s_selector(true));
		json_object_set_new(peer, "namespaceSelector", rand_ns_selector());
		break;
	default: {
		char *c = rand_cidr();
		json_t *ipb = json_pack("{s:s}", "cidr", c);
		if (rnd(2) && strstr(c, "/24")) {
			char *x = xasprintf("%.*s.%u/32", (int)(strrchr(c, '.') - c), c, 10 + rnd(6));
			json_object_set_new(ipb, "except", json_pack("[s]", x));
			free(x);
		}
		json_object_set_new(peer, "ipBlock", ipb);
		free(c);
	}
	}
	return peer;
}

static json_t *rand_k8s(int i, const char *ns)
{
	json_t *spec = json_pack("{s:o}", "podSelector", rand_k8s_selector(true));
	static const char *const dirs[] = { "ingress", "egress" };
	static const char *const peers[] = { "from", "to" };
	json_t *types = json_array();
	for (int d = 0; d < 2; d++) {
		if (!rnd(3))
			continue;
		json_array_append_new(types, json_string(d ? "Egress" : "Ingress"));
		json_t *rules = json_array();
		for (unsigned r = rnd(3); r > 0; r--) {
			json_t *rule = json_object();
			if (rnd(3)) {
				json_t *ps = json_array();
				for (unsigned p = 1 + rnd(2); p > 0; p--)
					json_array_append_new(ps, rand_k8s_peer());
				json_object_set_new(rule, peers[d], ps);
			}
			if (rnd(2))
				json_object_set_new(rule, "ports", rand_k8s_ports());
			json_array_append_new(rules, rule);
		}
		json_object_set_new(spec, dirs[d], rules);
	}
	if (rnd(3))
		json_object_set_new(spec, "policyTypes", types);
	else
		json_decref(types);
	char *name = xasprintf("np%d", i);
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "networking.k8s.io/v1", "kind",
			      "NetworkPolicy", "metadata", "name", name, "namespace", ns, "spec", spec);
	free(name);
	return o;
}

static json_t *rand_cnp(int i, const char *ns)
{
	json_t *spec = json_pack("{s:o}", "endpointSelector", rand_k8s_selector(true));
	static const char *const lists[] = { "ingress", "egress", "ingressDeny", "egressDeny" };
	static const char *const eps[] = { "fromEndpoints", "toEndpoints" };
	static const char *const ents[] = { "fromEntities", "toEntities" };
	static const char *const cidrs[] = { "fromCIDRSet", "toCIDRSet" };
	static const char *const cidr_lists[] = { "fromCIDR", "toCIDR" };
	for (int l = 0; l < 4; l++) {
		if (rnd(3))
			continue;
		int d = l % 2;
		json_t *rules = json_array();
		for (unsigned r = rnd(2) + 1; r > 0; r--) {
			json_t *rule = json_object();
			switch (rnd(4)) {
			case 0: {
				json_t *sel = rand_k8s_selector(true);
				if (!rnd(3))
					json_object_set_new(sel, "matchLabels",
							    json_pack("{s:s}", "k8s:io.kubernetes.pod.namespace", rnd(2) ? "n0" : "n1"));
				json_object_set_new(rule, eps[d], json_pack("[o]", sel));
				break;
			}
			case 1: {
				static const char *const e[] = { "world", "cluster", "all", "host" };
				json_object_set_new(rule, ents[d], json_pack("[s]", PICK(e)));
				break;
			}
			case 2: {
				/* Often a range holding pods (10.0.x): Cilium's CIDR rules must still
				 * not select them. */
				char *c = rand_cidr();
				if (rnd(2))
					json_object_set_new(rule, cidrs[d], json_pack("[{s:s}]", "cidr", c));
				else
					json_object_set_new(rule, cidr_lists[d], json_pack("[s,s]", c, "10.0.0.0/8"));
				free(c);
				break;
			}
			default: break;
			}
			if (rnd(2)) {
				static const char *const ports[] = { "80", "53", "0", "http" };
				static const char *const protos[] = { "TCP", "UDP", "ANY" };
				json_t *tp = json_pack("{s:[{s:s,s:s}]}", "ports", "port", PICK(ports), "protocol", PICK(protos));
				if (l < 2 && !rnd(3))
					json_object_set_new(tp, "rules", json_pack("{s:[{s:s,s:s}]}", "http", "method", "GET", "path", "/x/.*"));
				json_object_set_new(rule, "toPorts", json_pack("[o]", tp));
			}
			json_array_append_new(rules, rule);
		}
		json_object_set_new(spec, lists[l], rules);
	}
	char *name = xasprintf("cnp%d", i);
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "cilium.io/v2", "kind",
			      "CiliumNetworkPolicy", "metadata", "name", name, "namespace", ns, "spec", spec);
	free(name);
	return o;
}

static char *rand_csel(void)
{
	switch (rnd(5)) {
	case 0: return xstrdup("all()");
	case 1: return xasprintf("app == \"%s\"", PICK(APPS));
	case 2: return xasprintf("tier in {\"%s\", \"%s\"} && !has(gone)", PICK(TIERS), PICK(TIERS));
	case 3: return xasprintf("app != \"%s\" || has(tier)", PICK(APPS));
	default: return xasprintf("projectcalico.org/namespace == \"n%u\"", rnd(3));
	}
}

static json_t *rand_entity(bool ports)
{
	json_t *e = json_object();
	if (!rnd(3)) {
		char *s = rand_csel();
		json_object_set_new(e, "selector", json_string(s));
		free(s);
	}
	if (!rnd(4))
		json_object_set_new(e, "namespaceSelector", json_string(rnd(2) ? "team == \"red\"" : "all()"));
	if (!rnd(4)) {
		char *c = rand_cidr();
		json_object_set_new(e, rnd(3) ? "nets" : "notNets", json_pack("[s]", c));
		free(c);
	}
	if (!rnd(5)) {
		char *s = rand_csel();
		json_object_set_new(e, "notSelector", json_string(s));
		free(s);
	}
	if (!rnd(6)) {
		json_t *sa = json_object();
		if (rnd(2))
			json_object_set_new(sa, "names", json_pack("[s]", PICK(SAS)));
		if (!rnd(2) || !json_object_size(sa))
			json_object_set_new(sa, "selector", json_string(rnd(2) ? "role == \"admin\"" : "has(role)"));
		json_object_set_new(e, "serviceAccounts", sa);
	}
	if (ports && !rnd(2))
		json_object_set_new(e, rnd(4) ? "ports" : "notPorts",
				    rnd(2) ? json_pack("[i]", 80) : json_pack("[s]", rnd(2) ? "50:90" : "http"));
	return e;
}

static json_t *rand_gnp(int i)
{
	char *sel = rand_csel();
	json_t *spec = json_pack("{s:s}", "selector", sel);
	free(sel);
	static const char *const actions[] = { "Allow", "Deny", "Pass", "Log", "Allow", "Deny" };
	json_t *types = json_array();
	for (int d = 0; d < 2; d++) {
		if (rnd(3) == 0)
			continue;
		json_array_append_new(types, json_string(d ? "Egress" : "Ingress"));
		json_t *rules = json_array();
		for (unsigned r = rnd(3) + 1; r > 0; r--) {
			json_t *rule = json_pack("{s:s}", "action", PICK(actions));
			bool has_ports = rnd(4);
			json_t *dst = rand_entity(has_ports);
			if (json_object_get(dst, "ports") || json_object_get(dst, "notPorts") || rnd(3) == 0)
				json_object_set_new(rule, "protocol", json_string(rnd(2) ? "TCP" : "UDP"));
			else if (!has_ports && rnd(2)) {
				/* ICMP, with a type (and code) to match or to leave out */
				json_object_set_new(rule, "protocol", json_string("ICMP"));
				json_t *icmp = json_pack("{s:i}", "type", rnd(2) ? 8 : 0);
				if (rnd(2))
					json_object_set_new(icmp, "code", json_integer(0));
				if (rnd(2))
					json_object_set_new(rule, rnd(2) ? "icmp" : "notICMP", icmp);
				else
					json_decref(icmp);
			} else if (!rnd(3)) {
				json_object_set_new(rule, "notProtocol", json_string(rnd(2) ? "TCP" : "ICMP"));
			}
			if (!rnd(6))
				json_object_set_new(rule, "ipVersion", json_integer(rnd(3) ? 4 : 6));
			json_object_set_new(rule, "source", rand_entity(false));
			json_object_set_new(rule, "destination", dst);
			json_array_append_new(rules, rule);
		}
		json_object_set_new(spec, d ? "egress" : "ingress", rules);
	}
	json_object_set_new(spec, "types", types);
	if (rnd(4))
		json_object_set_new(spec, "order", json_integer((json_int_t)rnd(3) * 500 + 500));
	if (!rnd(3))
		json_object_set_new(spec, "tier", json_string(PICK(TIER_NAMES)));
	if (!rnd(8))
		json_object_set_new(spec, "serviceAccountSelector", json_string("role == \"admin\""));
	char *name = xasprintf("gnp%d", i);
	json_t *o = json_pack("{s:s,s:s,s:{s:s},s:o}", "apiVersion", "projectcalico.org/v3", "kind",
			      "GlobalNetworkPolicy", "metadata", "name", name, "spec", spec);
	free(name);
	return o;
}

/* The objects of the cluster being built, to show one that disagrees. */
static json_t *last_objects;

/* Validates and adds; random objects the API would refuse are skipped. */
static bool add(struct pm_cluster *c, json_t *obj)
{
	const struct skind *k;
	struct ferrs errs;
	char *err;
	bool ok;

	ferrs_init(&errs);
	ok = api_validate(obj, NULL, UNKNOWN_STRICT, &k, &errs, NULL) == 0 && pm_add(c, obj, &err) == 0;
	if (ok && last_objects)
		json_array_append(last_objects, obj);
	ferrs_free(&errs);
	json_decref(obj);
	return ok;
}

static json_t *rand_pod(unsigned ns, unsigned i)
{
	json_t *ports = json_array();
	if (rnd(2))
		json_array_append_new(ports, json_pack("{s:s,s:i}", "name", "http", "containerPort", rnd(2) ? 80 : 8080));
	if (rnd(3) == 0)
		json_array_append_new(ports, json_pack("{s:s,s:i,s:s}", "name", "dns", "containerPort", 53, "protocol", "UDP"));
	char *name = xasprintf("p%u", i), *nsn = xasprintf("n%u", ns), *ip = xasprintf("10.0.%u.%u", ns, 10 + i);
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:{s:[{s:s,s:o}]},s:{s:s}}", "apiVersion", "v1", "kind", "Pod",
			      "metadata", "name", name, "namespace", nsn, "labels", rand_labels(), "spec",
			      "containers", "name", "c", "ports", ports, "status", "podIP", ip);
	if (rnd(2))
		json_object_set_new(json_object_get(o, "spec"), "serviceAccountName", json_string(PICK(SAS)));
	free(name);
	free(nsn);
	free(ip);
	return o;
}

static void rand_cluster(struct pm_cluster *c, int npol)
{
	unsigned nns = 2 + rnd(2);

	memset(c, 0, sizeof(*c));
	c->ipblock_outside_only = rnd(3) == 0; /* Kubernetes' ipBlock meaning, or Cilium's */
	json_decref(last_objects);
	last_objects = json_array();
	for (unsigned n = 0; n < nns; n++) {
		char *name = xasprintf("n%u", n);
		add(c, json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
				 "name", name, "labels", "team", PICK(TEAMS)));
		for (unsigned p = 0, np = 2 + rnd(3); p < np; p++)
			add(c, rand_pod(n, p));
		/* Service accounts, some labelled, one never declared (the pods' "default"
		 * then has no labels). */
		for (unsigned k = 1; k < ARRAY_SIZE(SAS); k++)
			if (rnd(3))
				add(c, json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "ServiceAccount",
						 "metadata", "name", SAS[k], "namespace", name, "labels", "role",
						 rnd(2) ? "admin" : "viewer"));
		free(name);
	}
	/* Tiers: some declared with an order and a defaultAction, some not. */
	for (unsigned t = 0; t + 1 < ARRAY_SIZE(TIER_NAMES); t++) {
		if (!rnd(3))
			continue;
		json_t *spec = json_object();
		if (rnd(4))
			json_object_set_new(spec, "order", json_integer((json_int_t)rnd(4) * 100));
		if (rnd(2))
			json_object_set_new(spec, "defaultAction", json_string(rnd(2) ? "Pass" : "Deny"));
		add(c, json_pack("{s:s,s:s,s:{s:s},s:o}", "apiVersion", "projectcalico.org/v3", "kind", "Tier",
				 "metadata", "name", TIER_NAMES[t], "spec", spec));
	}
	for (int i = 0; i < npol; i++) {
		char ns[8];
		snprintf(ns, sizeof(ns), "n%u", rnd(nns));
		unsigned kind = rnd(3);
		add(c, kind == 0 ? rand_k8s(i, ns) : kind == 1 ? rand_cnp(i, ns) : rand_gnp(i));
	}
	pm_finish(c);
}

static bool same(const struct pm_side *a, const struct pm_side *b)
{
	return a->v == b->v && a->why == b->why && a->policy == b->policy && a->rule == b->rule &&
	       (a->list == b->list || (a->list && b->list && !strcmp(a->list, b->list)));
}

static const uint16_t PORTS[] = { 0, 53, 80, 443, 8080, PM_ICMP_PORT(8, 0) };
static const uint8_t PROTOS[] = { PROTO_TCP, PROTO_UDP, PROTO_SCTP, PROTO_ICMP };

/* Compares every probe; returns the number of disagreements (printing the first). */
static int compare(const struct pm_cluster *c, const struct pe_engine *e, const struct pe_engine *ref)
{
	int bad = 0;
	struct ipaddr outside[3];

	ip_parse("10.0.1.99", &outside[0]);
	ip_parse("1.0.3.3", &outside[1]);
	ip_parse("8.8.8.8", &outside[2]);
	for (size_t s = 0; s < c->npods + 3; s++)
		for (size_t d = 0; d < c->npods; d++) {
			struct pm_ep src, dst;
			uint32_t si;
			if (s < c->npods) {
				pm_ep_pod(c, (int)s, &src);
				si = pe_ident_of_pod(e, (int)s);
			} else {
				pm_ep_ip(&outside[s - c->npods], &src);
				si = pe_ident_of_ip(e, &src.ip);
			}
			pm_ep_pod(c, (int)d, &dst);
			uint32_t di = pe_ident_of_pod(e, (int)d);
			for (size_t pi = 0; pi < ARRAY_SIZE(PORTS); pi++)
				for (size_t qi = 0; qi < ARRAY_SIZE(PROTOS); qi++) {
					for (int dir = 0; dir < 2; dir++) {
						if (dir == DIR_EGRESS && s >= c->npods)
							continue;
						const struct pm_ep *local = dir == DIR_INGRESS ? &dst : &src;
						const struct pm_ep *peer = dir == DIR_INGRESS ? &src : &dst;
						uint32_t li = dir == DIR_INGRESS ? di : si, ri = dir == DIR_INGRESS ? si : di;
						struct pm_side want = ref ? pe_lookup(ref, li, dir, ri, PROTOS[qi], PORTS[pi])
									  : pm_naive_side(c, local, peer, dir, PROTOS[qi], PORTS[pi]);
						struct pm_side got = pe_lookup(e, li, dir, ri, PROTOS[qi], PORTS[pi]);
						if (!same(&want, &got)) {
							if (!bad)
								fprintf(stderr, "  %s %s/%u dir %d: want v%d why%d pol%d rule%d, got v%d why%d pol%d rule%d\n",
									s < c->npods ? c->pods[s].name : "outside", c->pods[d].name,
									PORTS[pi], dir, want.v, want.why, want.policy, want.rule,
									got.v, got.why, got.policy, got.rule);
							bad++;
						}
					}
				}
		}
	return bad;
}

static int clusters(void)
{
	const char *n = getenv("TULLE_DIFF_CLUSTERS");
	return n ? atoi(n) : 2000;
}

static void compiled_matches_naive(void)
{
	int bad_clusters = 0, n = clusters();
	size_t probes_pols = 0;

	for (int i = 0; i < n; i++) {
		struct pm_cluster c;
		struct pe_engine e;
		char *err;
		rand_cluster(&c, 1 + (int)rnd(6));
		probes_pols += c.npols;
		pe_compile(&e, &c, &err);
		if (compare(&c, &e, NULL)) {
			bad_clusters++;
			if (bad_clusters == 1) {
				char *dump = json_dumps(last_objects, JSON_COMPACT);
				fprintf(stderr, "  (cluster %d: %zu pods, %zu policies)\n%s\n", i, c.npods, c.npols,
					getenv("TULLE_DIFF_DUMP") ? dump : "(TULLE_DIFF_DUMP=1 shows the objects)");
				free(dump);
			}
		}
		pe_free(&e);
		pm_free(&c);
	}
	json_decref(last_objects);
	last_objects = NULL;
	printf("random clusters: %d, policies: %zu, disagreeing clusters: %d\n", n, probes_pols, bad_clusters);
	CHECK(bad_clusters == 0);
}

static void incremental_matches_full(void)
{
	int bad = 0, rounds = clusters() / 10 + 1;
	long rebuilt = 0, total = 0;

	for (int i = 0; i < rounds; i++) {
		struct pm_cluster c;
		struct pe_engine e, fresh;
		char *err;
		rand_cluster(&c, 4);
		pe_compile(&e, &c, &err);
		if (!c.npols) {
			pe_free(&e);
			pm_free(&c);
			continue;
		}
		/* Replace a policy by a new random one (keeping the old for the diff). */
		int k = (int)rnd((unsigned)c.npols);
		struct pm_policy old = c.pols[k];
		struct pm_cluster tmp = { 0 };
		tmp.ns = c.ns;
		tmp.nns = c.nns;
		char ns[8];
		snprintf(ns, sizeof(ns), "n%u", rnd((unsigned)c.nns));
		while (!add(&tmp, rnd(2) ? rand_k8s(100 + i, ns) : rand_gnp(100 + i)))
			;
		c.pols[k] = tmp.pols[0];
		free(tmp.pols);
		int n = pe_policy_changed(&e, k, &old);
		/* Free the old policy through a throwaway cluster holding only it. */
		struct pm_cluster gone = { .pols = xmalloc(sizeof(old)), .npols = 1 };
		gone.pols[0] = old;
		pm_free(&gone);
		if (n >= 0) {
			rebuilt += n;
			total += (long)(2 * e.nids);
		}
		/* Identity numbers of two engines differ (the incremental one keeps prefixes the
		 * old policy brought), so both are held to the naive evaluator. */
		if (compare(&c, &e, NULL)) {
			fprintf(stderr, "  ^ after replacing policy %d (%s, rebuilt %d)\n", k, pm_kind_name(c.pols[k].kind), n);
			bad++;
		}
		pe_compile(&fresh, &c, &err);
		bad += compare(&c, &fresh, NULL) != 0;
		pe_free(&fresh);
		/* Relabel a pod. */
		int p = (int)rnd((unsigned)c.npods);
		json_decref(c.pods[p].labels);
		c.pods[p].labels = rand_labels();
		json_object_set_new(c.pods[p].labels, "moved", json_string("yes"));
		n = pe_pods_changed(&e);
		rebuilt += n;
		total += (long)(2 * e.nids);
		if (compare(&c, &e, NULL)) {
			char *dump = getenv("TULLE_DIFF_DUMP") ? json_dumps(last_objects, JSON_COMPACT) : NULL;
			char *nl = json_dumps(c.pods[p].labels, JSON_COMPACT);
			fprintf(stderr, "  ^ after relabelling pod %d to %s (rebuilt %d)\n%s\n", p, nl, n, dump ? dump : "");
			free(dump);
			free(nl);
			bad++;
		}
		pe_free(&e);
		pm_free(&c);
	}
	json_decref(last_objects);
	last_objects = NULL;
	printf("incremental rounds: %d, tables rebuilt %ld of %ld\n", rounds, rebuilt, total);
	CHECK(bad == 0);
	CHECK(rebuilt < total);
}

int main(void)
{
	RUN(compiled_matches_naive);
	RUN(incremental_matches_full);
	return testhelp_done();
}
