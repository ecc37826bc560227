/* Policy benchmark: N policies over P pods in S namespaces. Reports decode time, compile
 * time, peak memory, and the cost of one decision through the compiled tables beside
 * the same decision made by walking the policies (the naive evaluator), in one run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/api/validate.h"
#include "../src/lib/util.h"
#include "../src/policy/engine.h"

static long vm_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = atol(line + strlen(field) + 1);
	if (f)
		fclose(f);
	return v;
}

static unsigned long long rs = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (unsigned)(rs % n);
}

static void add(struct pm_cluster *c, json_t *obj)
{
	const struct skind *k;
	struct ferrs errs;
	char *err;

	ferrs_init(&errs);
	if (api_validate(obj, NULL, UNKNOWN_STRICT, &k, &errs, NULL) < 0 || pm_add(c, obj, &err) < 0) {
		fprintf(stderr, "bench object refused\n");
		exit(1);
	}
	ferrs_free(&errs);
	json_decref(obj);
}

int main(int argc, char **argv)
{
	int npol = argc > 1 ? atoi(argv[1]) : 10000;
	int npods = argc > 2 ? atoi(argv[2]) : 5000;
	int nns = argc > 3 ? atoi(argv[3]) : 200;
	struct pm_cluster c = { 0 };
	char name[64], ns[32], ip[32];

	long rss0 = vm_kb("VmRSS:");
	uint64_t t0 = now_ns();
	for (int n = 0; n < nns; n++) {
		snprintf(ns, sizeof(ns), "ns%d", n);
		snprintf(name, sizeof(name), "t%d", n % 20);
		add(&c, json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace",
				  "metadata", "name", ns, "labels", "team", name));
	}
	static const char *const tiers[] = { "front", "back", "data" };
	for (int p = 0; p < npods; p++) {
		int n = p % nns;
		snprintf(ns, sizeof(ns), "ns%d", n);
		snprintf(name, sizeof(name), "pod%d", p);
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", 1 + p / 65000, (p / 250) % 256, 1 + p % 250);
		/* Pods come in deployments: ten per namespace, their replicas share labels. */
		char app[16];
		int dep = (p / nns) % 10;
		snprintf(app, sizeof(app), "app%d", dep);
		add(&c, json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:[{s:s,s:[{s:s,s:i},{s:s,s:i}]}]},s:{s:s}}",
				  "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace", ns,
				  "labels", "app", app, "tier", tiers[dep % 3], "spec", "containers", "name", "c",
				  "ports", "name", "http", "containerPort", 8080, "name", "metrics", "containerPort", 9090,
				  "status", "podIP", ip));
	}
	for (int i = 0; i < npol; i++) {
		int n = i % nns;
		char self[16], peer[16], team[16];
		snprintf(ns, sizeof(ns), "ns%d", n);
		snprintf(name, sizeof(name), "pol%d", i);
		snprintf(self, sizeof(self), "app%d", (i / nns) % 10);
		snprintf(peer, sizeof(peer), "app%d", (i / nns + 1) % 10);
		snprintf(team, sizeof(team), "t%d", rnd(20));
		json_t *from;
		if (i % 10 == 0)
			from = json_pack("[{s:{s:{s:s}},s:{s:{s:s}}}]", "namespaceSelector", "matchLabels", "team", team,
					 "podSelector", "matchLabels", "app", peer);
		else
			from = json_pack("[{s:{s:{s:s}}}]", "podSelector", "matchLabels", "app", peer);
		json_t *spec = json_pack("{s:{s:{s:s}},s:[{s:o,s:[{s:i}]}]}", "podSelector", "matchLabels", "app", self,
					 "ingress", "from", from, "ports", "port", 8080 + i % 5);
		if (i % 20 == 0) {
			json_object_set_new(spec, "egress", json_pack("[{s:[{s:{s:s,s:[s]}}]},{s:[{s:s}]}]", "to", "ipBlock",
								      "cidr", "10.0.0.0/8", "except", "10.1.0.0/16", "ports",
								      "port", "http"));
			json_object_set_new(spec, "policyTypes", json_pack("[s,s]", "Ingress", "Egress"));
		}
		add(&c, json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "networking.k8s.io/v1", "kind",
				  "NetworkPolicy", "metadata", "name", name, "namespace", ns, "spec", spec));
	}
	pm_finish(&c);
	uint64_t t1 = now_ns();
	struct pe_engine e;
	char *err;
	pe_compile(&e, &c, &err);
	uint64_t t2 = now_ns();
	long hwm = vm_kb("VmHWM:"), rss = vm_kb("VmRSS:");
	size_t entries = 0;
	for (size_t i = 0; i < 2 * e.nids; i++)
		entries += e.tables[i].n;

	/* Decisions: random pod pairs and ports, through the tables and by walking. */
	enum { LOOKUPS = 2000000, WALKS = 20000 };
	static const uint16_t ports[] = { 8080, 8081, 8084, 9090, 53 };
	uint32_t *q = xmalloc(3 * LOOKUPS * sizeof(uint32_t));
	for (int i = 0; i < LOOKUPS; i++) {
		q[3 * i] = (uint32_t)rnd((unsigned)c.npods);
		q[3 * i + 1] = (uint32_t)rnd((unsigned)c.npods);
		q[3 * i + 2] = ports[rnd(5)];
	}
	unsigned allowed = 0;
	uint64_t t3 = now_ns();
	for (int i = 0; i < LOOKUPS; i++) {
		uint32_t s = pe_ident_of_pod(&e, (int)q[3 * i]), d = pe_ident_of_pod(&e, (int)q[3 * i + 1]);
		allowed += pe_lookup(&e, d, DIR_INGRESS, s, PROTO_TCP, (uint16_t)q[3 * i + 2]).v != V_DENY;
	}
	uint64_t t4 = now_ns();
	unsigned agree = 0;
	for (int i = 0; i < WALKS; i++) {
		struct pm_ep src, dst;
		pm_ep_pod(&c, (int)q[3 * i], &src);
		pm_ep_pod(&c, (int)q[3 * i + 1], &dst);
		struct pm_side a = pm_naive_side(&c, &dst, &src, DIR_INGRESS, PROTO_TCP, (uint16_t)q[3 * i + 2]);
		uint32_t s = pe_ident_of_pod(&e, (int)q[3 * i]), d = pe_ident_of_pod(&e, (int)q[3 * i + 1]);
		agree += a.v == pe_lookup(&e, d, DIR_INGRESS, s, PROTO_TCP, (uint16_t)q[3 * i + 2]).v;
	}
	uint64_t t5 = now_ns();
	double lookup_ns = (double)(t4 - t3) / LOOKUPS;
	double walk_ns = (double)(t5 - t4) / WALKS - lookup_ns;

	printf("policies=%d pods=%d namespaces=%d identities=%zu table entries=%zu\n\n", npol, npods, nns, e.nids, entries);
	printf("%-46s %12.1f\n", "decode + validate all objects (ms)", (t1 - t0) / 1e6);
	printf("%-46s %12.1f   (goal < 1000)\n", "compile (ms)", (t2 - t1) / 1e6);
	printf("%-46s %12.1f   (goal < 200)\n", "peak memory, whole process (MiB)", hwm / 1024.0);
	printf("%-46s %12.1f\n", "memory held after compile, over start (MiB)", (rss - rss0) / 1024.0);
	printf("%-46s %12.1f   (goal well under 1000)\n", "one decision through the tables (ns)", lookup_ns);
	printf("%-46s %12.1f\n", "one decision by walking the policies (ns)", walk_ns);
	printf("%-46s %11.0fx\n", "ratio walk / tables", walk_ns / lookup_ns);
	printf("\n%u of %d sampled decisions allowed; tables and walk agree on %u of %d\n", allowed, LOOKUPS, agree, WALKS);
	free(q);
	pe_free(&e);
	pm_free(&c);
	return agree == WALKS ? 0 : 1;
}
