/* The node agent: options, then one event loop. Informers watch the Nodes, this
 * node's Pods, Services and EndpointSlices; each change reaches the part that needs
 * it at once (routes, pods, service maps), and timers do what is periodic (the Node
 * heartbeat, reaping and restarting processes, conntrack GC). The parts are in
 * node.c, pods.c, supervise.c and services.c; agent_int.h has the shared state. */
#define _GNU_SOURCE 1
#include "agent.h"
#include "agent_int.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../datapath/datapath.h"
#include "../lib/proc.h"
#include "../lib/util.h"

void agent_pod_netns(const char *cluster, const char *uid, char out[64])
{
	snprintf(out, 64, "tl-%s-p%.8s", cluster, uid);
}

int agent_run(const char *const *argv, char **out)
{
	struct proc_opts o = { .out = out };

	return proc_run(argv, &o);
}

json_t *agent_api(struct agent *a, const char *method, const char *path, json_t *body, const char *ctype, int *code)
{
	char *err = NULL;
	int c = 0;
	json_t *r = client_json(&a->cl, method, path, body, ctype, &c, &err);
	if (!r) {
		fprintf(stderr, "agent %s: %s %s: %s\n", a->node, method, path, err ? err : "?");
		free(err);
	}
	if (code)
		*code = c;
	return r;
}

/* ---- what each change or tick does ---- */

static void on_nodes(struct informer *inf, void *ctx)
{
	struct agent *a = ctx;

	(void)inf;
	node_sync_routes(a);
	svc_sync(a);
}

static void on_pods(struct informer *inf, void *ctx)
{
	(void)inf;
	pods_reconcile(ctx);
}

static void on_services(struct informer *inf, void *ctx)
{
	(void)inf;
	svc_sync(ctx);
}

static void heartbeat(struct loop *l, void *ctx)
{
	struct agent *a = ctx;

	(void)l;
	node_register(a);
	node_publish(a);
}

/* Whether pid is the node API serving this node's state directory. */
static bool is_node_api(struct agent *a, pid_t pid)
{
	char *path = xasprintf("/proc/%d/cmdline", (int)pid), *data = NULL;
	size_t len = 0;
	bool yes = false;

	if (pid > 1 && read_file(path, &data, &len) == 0) {
		bool flag = false, state = false;
		for (size_t off = 0; off < len; off += strlen(data + off) + 1) {
			flag |= !strcmp(data + off, "--node-api");
			state |= !strcmp(data + off, a->state);
		}
		yes = flag && state;
	}
	free(data);
	free(path);
	return yes;
}

/* The node API (exec, attach, logs for this node's pods). Like the pods, it outlives
 * an agent restart (an exec session through it goes on); a new agent adopts the one
 * its pidfile names, and starts one when there is none. */
static void start_node_api(struct agent *a)
{
	char *sock = xasprintf("%s/node-api.sock", a->state), *listen = xasprintf("unix://%s", sock);
	char *log = xasprintf("%s/node-api.log", a->state), *pidfile = xasprintf("%s/node-api.pid", a->state);
	const char *argv[] = { a->self, "server", "--node-api", "--state", a->state, "--listen", listen, NULL };
	char *data = NULL;
	size_t len;
	pid_t old = read_file(pidfile, &data, &len) == 0 ? (pid_t)atoi(data) : 0;

	free(data);
	if (old > 1 && kill(old, 0) == 0 && is_node_api(a, old)) {
		a->node_api_pid = old;
	} else {
		unlink(sock);
		a->node_api_pid = proc_daemon(argv, log, pidfile);
	}
	free(a->node_api_url);
	a->node_api_url = xasprintf("unix://%s", sock);
	free(sock);
	free(listen);
	free(log);
	free(pidfile);
}

static void tick(struct loop *l, void *ctx)
{
	struct agent *a = ctx;

	(void)l;
	supervise_reap(a);
	/* Ours are reaped above; an adopted one is checked by its pid. */
	if (a->node_api_pid <= 0 || kill(a->node_api_pid, 0) < 0)
		start_node_api(a);
	pods_retry(a);
}

static void housekeeping(struct loop *l, void *ctx)
{
	(void)l;
	svc_housekeeping(ctx);
}

/* SIGTERM/SIGINT stop the loop; SIGCHLD reaps at once. */
static void on_signal(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			supervise_reap(ctx);
		else
			loop_stop(l);
	}
}

static int run(struct agent *a)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

	a->loop = loop_new();
	if (!a->loop || sfd < 0) {
		fprintf(stderr, "agent %s: cannot set up the event loop: %s\n", a->node, strerror(errno));
		return 1;
	}
	a->routes = json_object();
	loop_add(a->loop, sfd, 1 /* EPOLLIN */, on_signal, a);
	start_node_api(a);
	heartbeat(a->loop, a);
	char *sel = xasprintf("fieldSelector=spec.nodeName%%3D%s", a->node);
	a->nodes = informer_new(&a->cl, "/api/v1/nodes", NULL);
	a->services = informer_new(&a->cl, "/api/v1/services", NULL);
	a->slices = informer_new(&a->cl, "/apis/discovery.k8s.io/v1/endpointslices", NULL);
	a->pods_inf = informer_new(&a->cl, "/api/v1/pods", sel);
	free(sel);
	informer_start(a->nodes, a->loop, on_nodes, a);
	informer_start(a->services, a->loop, on_services, a);
	informer_start(a->slices, a->loop, on_services, a);
	informer_start(a->pods_inf, a->loop, on_pods, a);
	obs_start(a);
	node_publish(a); /* the observer's address, now that it has one */
	if (a->svc.dp && a->aggregation >= 0 && dp_set_aggregation(a->svc.dp, (uint32_t)a->aggregation) < 0)
		fprintf(stderr, "agent %s: cannot set the flow aggregation level\n", a->node);
	pol_start(a);
	loop_every(a->loop, 5000, heartbeat, a);
	loop_every(a->loop, 500, tick, a);
	loop_every(a->loop, 5000, housekeeping, a);
	int rc = loop_run(a->loop);
	/* The node API stays, as the pods do; the next agent adopts it. */
	free(a->node_api_url);
	pol_stop(a);
	obs_stop(a);
	informer_free(a->nodes);
	informer_free(a->services);
	informer_free(a->slices);
	informer_free(a->pods_inf);
	loop_free(a->loop);
	close(sfd);
	return rc < 0 ? 1 : 0;
}

int agent_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' }, { "node", required_argument, NULL, 'n' },
		{ "cluster", required_argument, NULL, 'c' }, { "pod-cidr", required_argument, NULL, 'p' },
		{ "node-ip", required_argument, NULL, 'i' }, { "state", required_argument, NULL, 'd' },
		{ "cni", required_argument, NULL, 'b' }, { "netns", required_argument, NULL, 'N' },
		{ "routing", required_argument, NULL, 'r' }, { "service-cidr", required_argument, NULL, 'S' },
		{ "ct-max", required_argument, NULL, 'C' }, { "svc-max", required_argument, NULL, 'V' },
		{ "cluster-dns", required_argument, NULL, 'D' }, { "cluster-domain", required_argument, NULL, 'M' },
		{ "flows-max", required_argument, NULL, 'F' }, { "monitor-aggregation", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .vxlan = true, .cluster_dns = "10.96.0.10", .domain = "cluster.local",
			   .service_cidr = "10.96.0.0/12", .aggregation = -1 };
	char *err;
	int c;

	optind = 1;
	const char *server = NULL;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'n': a.node = optarg; break;
		case 'c': a.cluster = optarg; break;
		case 'p': a.pod_cidr = optarg; break;
		case 'i': a.node_ip = optarg; break;
		case 'd': a.state = optarg; break;
		case 'b': a.cni = optarg; break;
		case 'S': a.service_cidr = optarg; break;
		case 'D': a.cluster_dns = optarg; break;
		case 'M': a.domain = optarg; break;
		case 'A':
			if (!strcmp(optarg, "none"))
				a.aggregation = TL_AGG_NONE;
			else if (!strcmp(optarg, "medium"))
				a.aggregation = TL_AGG_MEDIUM;
			else if (!strcmp(optarg, "maximum"))
				a.aggregation = TL_AGG_MAX;
			else {
				fprintf(stderr, "agent: --monitor-aggregation takes none (every packet), medium (new "
						"connections, TCP flag changes, drops) or maximum (new connections and drops)\n");
				return 2;
			}
			break;
		case 'F': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 16 || v > (1u << 22)) {
				fprintf(stderr, "agent: --flows-max takes a number of flows from 16 to %u, not %s\n", 1u << 22, optarg);
				return 2;
			}
			a.flows_max = (uint32_t)v;
			break;
		}
		case 'C':
		case 'V': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 16 || v > (1u << 26)) {
				fprintf(stderr, "agent: --%s takes a number of entries from 16 to %u, not %s\n",
					c == 'C' ? "ct-max" : "svc-max", 1u << 26, optarg);
				return 2;
			}
			*(c == 'C' ? &a.ct_max : &a.svc_max) = (uint32_t)v;
			break;
		}
		case 'r':
			if (strcmp(optarg, "vxlan") && strcmp(optarg, "native")) {
				fprintf(stderr, "agent: --routing takes vxlan or native\n");
				return 2;
			}
			a.vxlan = !strcmp(optarg, "vxlan");
			break;
		case 'N': {
			/* Enter the node's network namespace but stay in the host's mount namespace
			 * (unlike `ip netns exec`), so the pod namespaces it mounts are visible. */
			int rc = proc_enter_netns(optarg);
			if (rc < 0) {
				fprintf(stderr, "agent: cannot enter %s: %s\n", optarg, strerror(-rc));
				return 1;
			}
			break;
		}
		default: return 2;
		}
	}
	if (!server || !a.node || !a.cluster || !a.pod_cidr || !a.node_ip || !a.state || !a.cni) {
		fprintf(stderr, "usage: tulle agent --server URL --node NAME --cluster NAME --pod-cidr CIDR --node-ip IP --state DIR --cni PATH\n");
		return 2;
	}
	a.server = server;
	proc_self(a.self);
	if (client_init(&a.cl, server, NULL, &err) < 0) {
		fprintf(stderr, "agent: %s\n", err);
		return 1;
	}
	mkdir(a.state, 0700);
	pods_make_dir(&a);
	if (a.vxlan && node_setup_vxlan(&a) < 0) {
		fprintf(stderr, "agent %s: cannot set up the VXLAN overlay\n", a.node);
		return 1;
	}
	if (svc_init(&a) < 0)
		return 1;
	int rc = run(&a);
	svc_close(&a);
	/* Pods keep running across an agent restart; the next agent adopts them. */
	for (size_t i = 0; i < a.npods; i++) {
		free(a.pods[i].ns);
		free(a.pods[i].name);
		free(a.pods[i].uid);
		json_decref(a.pods[i].spec);
	}
	free(a.pods);
	json_decref(a.routes);
	client_free(&a.cl);
	return rc;
}
