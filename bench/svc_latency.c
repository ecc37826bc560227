/* Event-to-map latency: how long after a Service is written to the API its frontend is
 * in a node's eBPF service map (what a new connection meets). Creates and deletes
 * Services one at a time, each with a fixed ClusterIP, and polls the pinned map for
 * the key. Prints p50/p90/p99/max of create->present and delete->absent. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/bpf/include/datapath-t.h"
#include "../src/client/client.h"
#include "../src/lib/util.h"

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* Polls until the key is present (want) or absent; returns ms, or -1 after 5 s. */
static double wait_key(int fd, const struct tl_svc_key *k, bool want, uint64_t t0)
{
	struct tl_svc v;

	for (;;) {
		bool have = bpf_map_lookup_elem(fd, k, &v) == 0;
		uint64_t now = now_ns();
		if (have == want)
			return (double)(now - t0) / 1e6;
		if (now - t0 > 5000000000ull)
			return -1;
		usleep(100);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: svc_latency PINNED_TL_SVC_MAP ROUNDS (the server: TULLE_HOME's current cluster)\n");
		return 2;
	}
	int fd = bpf_obj_get(argv[1]);
	int rounds = atoi(argv[2]);
	if (fd < 0 || rounds < 1) {
		fprintf(stderr, "svc_latency: cannot open %s\n", argv[1]);
		return 1;
	}
	struct client cl;
	char *err = NULL;
	if (client_init(&cl, NULL, NULL, &err) < 0) {
		fprintf(stderr, "svc_latency: %s\n", err);
		return 1;
	}
	double *add = calloc((size_t)rounds, sizeof(double)), *del = calloc((size_t)rounds, sizeof(double));
	int lost = 0;
	for (int i = 0; i < rounds; i++) {
		char ip[32], name[32];
		snprintf(ip, sizeof(ip), "10.100.%d.%d", (i / 200) % 250, 10 + i % 200);
		snprintf(name, sizeof(name), "lat-%d", i);
		struct tl_svc_key k = { .port = htons(80), .proto = TL_PROTO_TCP };
		inet_pton(AF_INET, ip, &k.addr);
		json_t *svc = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:[{s:i}]}}", "apiVersion", "v1", "kind", "Service",
					"metadata", "name", name, "spec", "clusterIP", ip, "ports", "port", 80);
		int code = 0;
		uint64_t t0 = now_ns();
		json_t *r = client_json(&cl, "POST", "/api/v1/namespaces/default/services", svc, NULL, &code, &err);
		json_decref(svc);
		json_decref(r);
		if (code != 201) {
			fprintf(stderr, "svc_latency: create %s: %d %s\n", name, code, err ? err : "");
			return 1;
		}
		add[i] = wait_key(fd, &k, true, t0);
		char *path = xasprintf("/api/v1/namespaces/default/services/%s", name);
		t0 = now_ns();
		json_decref(client_json(&cl, "DELETE", path, NULL, NULL, &code, &err));
		free(path);
		del[i] = wait_key(fd, &k, false, t0);
		if (add[i] < 0 || del[i] < 0)
			lost++;
	}
	qsort(add, (size_t)rounds, sizeof(double), cmp_d);
	qsort(del, (size_t)rounds, sizeof(double), cmp_d);
	printf("create->in map  p50 %.2f ms  p90 %.2f  p99 %.2f  max %.2f\n", pct(add, rounds, .5), pct(add, rounds, .9),
	       pct(add, rounds, .99), add[rounds - 1]);
	printf("delete->gone    p50 %.2f ms  p90 %.2f  p99 %.2f  max %.2f\n", pct(del, rounds, .5), pct(del, rounds, .9),
	       pct(del, rounds, .99), del[rounds - 1]);
	if (lost)
		printf("%d of %d changes did not reach the map within 5 s\n", lost, rounds);
	client_free(&cl);
	return lost ? 1 : 0;
}
