/* Benchmark helper: loads tulle's datapath into a network namespace, attaches it to a
 * client's and a server's host-side veths, and fills the service map with N ClusterIP
 * services (10.96.0.0/12 from .1 up), all backed by one server. The programs stay
 * attached and the maps pinned when it exits; the caller removes the namespace and the
 * pin directory. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/datapath/datapath.h"

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr, "usage: svc_maps NETNS_PATH PIN_DIR N BACKEND_IP CLIENT_DEV SERVER_DEV PORT...\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		perror(argv[1]);
		return 1;
	}
	long n = atol(argv[3]);
	struct in_addr be;
	if (n < 1 || inet_pton(AF_INET, argv[4], &be) != 1) {
		fprintf(stderr, "svc_maps: bad N or backend address\n");
		return 2;
	}
	char *err = NULL;
	struct datapath *dp;
	struct dp_opts o = { .pin_dir = argv[2], .svc_max = (uint32_t)(n * (argc - 7) + 1024),
			     .slots_max = (uint32_t)(n * (argc - 7) + 1024) };
	if (dp_open(&dp, &o, &err) < 0 || dp_attach(dp, argv[5], DP_FROM_POD, &err) < 0 ||
	    dp_attach(dp, argv[5], DP_TO_POD, &err) < 0 || dp_attach(dp, argv[6], DP_FROM_POD, &err) < 0 ||
	    dp_attach(dp, argv[6], DP_TO_POD, &err) < 0) {
		fprintf(stderr, "svc_maps: %s\n", err);
		return 1;
	}
	size_t nports = (size_t)(argc - 7), total = (size_t)n * nports;
	struct dp_frontend *fe = calloc(total, sizeof(*fe));
	struct tl_backend *b = calloc(total, sizeof(*b));
	for (long i = 0; i < n; i++)
		for (size_t p = 0; p < nports; p++) {
			size_t k = (size_t)i * nports + p;
			uint16_t port = (uint16_t)atoi(argv[7 + p]);
			fe[k].key.addr = htonl(0x0a600000u + (uint32_t)i + 1);
			fe[k].key.port = htons(port);
			fe[k].key.proto = TL_PROTO_TCP;
			b[k] = (struct tl_backend){ .addr = be.s_addr, .port = htons(port) };
			fe[k].backends = &b[k];
			fe[k].nbackends = 1;
		}
	struct dp_sync_stats st;
	if (dp_sync(dp, fe, total, &st) < 0) {
		fprintf(stderr, "svc_maps: writing %zu frontends failed\n", total);
		return 1;
	}
	dp_close(dp);
	free(fe);
	free(b);
	return 0;
}
