#define _GNU_SOURCE 1
#include "agent.h"
#include "agent_int.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../client/client.h"
#include "../lib/cidr.h"
#include "../lib/util.h"

struct pod {
	char *ns, *name, *uid;
	char netns[64];
	char ip[64];
	pid_t pid;
	int restarts;
	bool seen;
	bool done;     /* exited and not to be restarted (restartPolicy Never / OnFailure) */
	int exit_code; /* when done; -1: unknown (the process was not our child) */
	json_t *spec;
};

struct agent {
	json_t *routes; /* pod CIDR -> how it is reached, as installed */
	struct client cl;
	const char *node, *cluster, *pod_cidr, *node_ip, *state, *cni, *server, *cluster_dns, *domain;
	bool vxlan;     /* overlay (default) or native routing over the fabric */
	int mtu;
	char vtep[64], vtep_mac[32];
	struct pod *pods;
	size_t npods;
	volatile sig_atomic_t stop;
};

static struct agent *g;

void agent_pod_netns(const char *cluster, const char *uid, char out[64])
{
	snprintf(out, 64, "tl-%s-p%.8s", cluster, uid);
}

static void on_term(int sig)
{
	(void)sig;
	if (g)
		g->stop = 1;
}

int agent_run(const char *const *argv, char **out)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	struct strbuf sb;
	sb_init(&sb);
	char buf[4096];
	ssize_t r;
	while ((r = read(pipefd[0], buf, sizeof(buf))) > 0)
		sb_add(&sb, buf, (size_t)r);
	close(pipefd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (out)
		*out = sb_detach(&sb);
	sb_free(&sb);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

json_t *agent_api(const char *method, const char *path, json_t *body, const char *ctype, int *code)
{
	char *err = NULL;
	int c = 0;
	json_t *r = client_json(&g->cl, method, path, body, ctype, &c, &err);
	if (!r) {
		fprintf(stderr, "agent %s: %s %s: %s\n", g->node, method, path, err ? err : "?");
		free(err);
	}
	if (code)
		*code = c;
	return r;
}

static void now_ts(char out[32])
{
	rfc3339_now(out);
}

static void register_node(void)
{
	char ts[32];
	int code;

	now_ts(ts);
	char *path = xasprintf("/api/v1/nodes/%s", g->node);
	json_t *cur = agent_api("GET", path, NULL, NULL, &code);
	if (code == 404) {
		json_decref(cur);
		json_t *n = json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s}},s:{s:s}}", "apiVersion", "v1", "kind", "Node",
				      "metadata", "name", g->node, "labels", "kubernetes.io/hostname", g->node,
				      "tulle.io/cluster", g->cluster, "spec", "podCIDR", g->pod_cidr);
		cur = agent_api("POST", "/api/v1/nodes", n, NULL, &code);
		json_decref(n);
	}
	json_t *st = json_pack("{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:s,s:s,s:s,s:s}],s:{s:s,s:s,s:s}}}",
			       "apiVersion", "v1", "kind", "Node", "metadata", "name", g->node, "status",
			       "addresses", "type", "InternalIP", "address", g->node_ip, "type", "Hostname", "address", g->node,
			       "conditions", "type", "Ready", "status", "True", "reason", "KubeletReady",
			       "message", "tulle agent is posting ready status", "lastHeartbeatTime", ts,
			       "nodeInfo", "kubeletVersion", "v1.32.0-tulle.0", "containerRuntimeVersion", "tulle://0.1",
			       "operatingSystem", "linux");
	/* The heartbeat goes through a merge patch of the status so it never races the spec. */
	char *spath = xasprintf("/api/v1/nodes/%s/status", g->node);
	if (cur && code < 300) {
		json_object_set(cur, "status", json_object_get(st, "status"));
		json_decref(agent_api("PUT", spath, cur, NULL, &code));
	}
	json_decref(cur);
	json_decref(st);
	free(spath);
	free(path);
}

#define VXLAN_DEV "tulle-vx"

/* The overlay device: VNI 1 over the fabric, no learning (the agents program the
 * forwarding entries), addressed with the first address of the node's pod CIDR, as
 * flannel does, so other nodes can route to it. */
static int setup_vxlan(void)
{
	struct cidr c;
	char *out = NULL;

	if (cidr_parse(g->pod_cidr, &c, false) < 0)
		return -1;
	ip_format(&c.ip, g->vtep, sizeof(g->vtep));
	char addr[80];
	snprintf(addr, sizeof(addr), "%s/32", g->vtep);
	const char *add[] = { "ip", "link", "add", VXLAN_DEV, "type", "vxlan", "id", "1", "dstport", "4789", "local",
			      g->node_ip, "dev", "eth0", "nolearning", NULL };
	agent_run(add, NULL); /* exists already after an agent restart */
	const char *up[] = { "ip", "link", "set", VXLAN_DEV, "mtu", "1450", "up", NULL };
	const char *ad[] = { "ip", "addr", "replace", addr, "dev", VXLAN_DEV, NULL };
	const char *show[] = { "ip", "-o", "link", "show", VXLAN_DEV, NULL };
	if (agent_run(up, NULL) || agent_run(ad, NULL) || agent_run(show, &out)) {
		free(out);
		return -1;
	}
	char *m = strstr(out, "link/ether ");
	if (m)
		snprintf(g->vtep_mac, sizeof(g->vtep_mac), "%.17s", m + 11);
	free(out);
	return m ? 0 : -1;
}

static void publish_vtep(void)
{
	int code;
	char *path = xasprintf("/api/v1/nodes/%s", g->node);
	json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "tulle.io/vtep-mac", g->vtep_mac);
	json_decref(agent_api("PATCH", path, patch, "application/merge-patch+json", &code));
	json_decref(patch);
	free(path);
}

/* Routes to the other nodes' pod CIDRs: over the overlay (neighbour + forwarding entry
 * for their VTEP, then the route), or straight through their fabric addresses. */
static void sync_routes(const json_t *list)
{
	size_t i;
	json_t *n;

	json_array_foreach(json_object_get(list, "items"), i, n) {
		const char *name = json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
		const char *cidr = json_string_value(json_object_get(json_object_get(n, "spec"), "podCIDR"));
		const char *ip = NULL;
		size_t j;
		json_t *a;
		json_array_foreach(json_object_get(json_object_get(n, "status"), "addresses"), j, a)
			if (!strcmp(json_string_value(json_object_get(a, "type")) ?: "", "InternalIP"))
				ip = json_string_value(json_object_get(a, "address"));
		if (!name || !cidr || !ip || !strcmp(name, g->node))
			continue;
		const char *mac = json_string_value(json_object_get(json_object_get(json_object_get(n, "metadata"),
										       "annotations"), "tulle.io/vtep-mac"));
		if (g->vxlan && !mac)
			continue; /* that node has not published its VTEP yet */
		char *how = g->vxlan ? xasprintf("%s|%s", ip, mac) : xstrdup(ip);
		/* Only a new or moved route costs processes. */
		if (!strcmp(json_string_value(json_object_get(g->routes, cidr)) ?: "", how)) {
			free(how);
			continue;
		}
		int rc;
		if (g->vxlan) {
			struct cidr c;
			char vtep[64];
			cidr_parse(cidr, &c, false);
			ip_format(&c.ip, vtep, sizeof(vtep));
			const char *neigh[] = { "ip", "neigh", "replace", vtep, "lladdr", mac, "dev", VXLAN_DEV, "nud", "permanent", NULL };
			const char *fdb[] = { "bridge", "fdb", "replace", mac, "dev", VXLAN_DEV, "dst", ip, "self", "permanent", NULL };
			const char *route[] = { "ip", "route", "replace", cidr, "via", vtep, "dev", VXLAN_DEV, "onlink", NULL };
			rc = agent_run(neigh, NULL) | agent_run(fdb, NULL) | agent_run(route, NULL);
		} else {
			const char *argv[] = { "ip", "route", "replace", cidr, "via", ip, NULL };
			rc = agent_run(argv, NULL);
		}
		if (rc == 0)
			json_object_set_new(g->routes, cidr, json_string(how));
		free(how);
	}
}

static char *cni_conf(void)
{
	/* Overlay pods leave room for the 50 bytes of VXLAN encapsulation. */
	return xasprintf("{\"cniVersion\":\"1.1.0\",\"name\":\"tulle\",\"type\":\"tulle-cni\",\"mtu\":%d,"
			 "\"ipam\":{\"subnet\":\"%s\",\"dataDir\":\"%s/cni\"},\"dns\":{\"nameservers\":[\"%s\"]}}",
			 g->vxlan ? 1450 : 1500, g->pod_cidr, g->state, g->cluster_dns);
}

static int cni(const char *cmd, struct pod *p, char **out)
{
	int in[2], outp[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0)
		return -1;
	char *nspath = xasprintf("/var/run/netns/%s", p->netns);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(outp[1], 1);
		setenv("CNI_COMMAND", cmd, 1);
		setenv("CNI_CONTAINERID", p->uid, 1);
		setenv("CNI_NETNS", nspath, 1);
		setenv("CNI_IFNAME", "eth0", 1);
		setenv("CNI_PATH", "/opt/cni/bin", 1);
		execl(g->cni, "tulle-cni", (char *)NULL);
		_exit(127);
	}
	free(nspath);
	close(in[0]);
	close(outp[1]);
	char *conf = cni_conf();
	ssize_t w = write(in[1], conf, strlen(conf));
	(void)w;
	close(in[1]);
	free(conf);
	struct strbuf sb;
	sb_init(&sb);
	char buf[4096];
	ssize_t r;
	while ((r = read(outp[0], buf, sizeof(buf))) > 0)
		sb_add(&sb, buf, (size_t)r);
	close(outp[0]);
	int st;
	waitpid(pid, &st, 0);
	if (out)
		*out = sb_detach(&sb);
	sb_free(&sb);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* What a container image runs: a built-in workload, or the command as given. */
static char **argv_for(const json_t *spec, const char *self)
{
	json_t *c = json_array_get(json_object_get(spec, "containers"), 0);
	const char *image = json_string_value(json_object_get(c, "image")) ?: "";
	json_t *cmd = json_object_get(c, "command"), *args = json_object_get(c, "args");
	char **v = xcalloc(64, sizeof(char *));
	size_t n = 0, i;
	json_t *x;
	int port = 80;

	/* Tool images (curl, busybox, alpine) start what their args name, as their
	 * entrypoints do: `kubectl run x --image=curlimages/curl -- curl http://web` passes
	 * args, not a command. */
	bool tool = strstr(image, "curl") || strstr(image, "busybox") || strstr(image, "alpine");
	if (json_array_size(cmd) || (tool && json_array_size(args))) {
		json_array_foreach(cmd, i, x) if (n < 60) v[n++] = xstrdup(json_string_value(x));
		json_array_foreach(args, i, x) if (n < 60) v[n++] = xstrdup(json_string_value(x));
		return v;
	}
	json_t *ports = json_object_get(c, "ports");
	if (json_array_size(ports))
		port = (int)json_integer_value(json_object_get(json_array_get(ports, 0), "containerPort"));
	v[n++] = xstrdup(self);
	if (strstr(image, "tulle/dns") || strstr(image, "coredns")) {
		/* The cluster DNS server, reading the API this agent uses. */
		v[n++] = xstrdup("dns");
		v[n++] = xstrdup("--server");
		v[n++] = xstrdup(g->server);
		v[n++] = xstrdup("--domain");
		v[n++] = xstrdup(g->domain);
		json_array_foreach(args, i, x) if (n < 60) v[n++] = xstrdup(json_string_value(x));
		return v;
	}
	v[n++] = xstrdup("workload");
	if (strstr(image, "curl") || strstr(image, "busybox") || strstr(image, "alpine"))
		v[n++] = xstrdup("idle");
	else if (strstr(image, "postgres"))
		v[n++] = xstrdup("tcp"), port = json_array_size(ports) ? port : 5432;
	else if (strstr(image, "http-echo"))
		v[n++] = xstrdup("http"), port = json_array_size(ports) ? port : 5678;
	else
		v[n++] = xstrdup("http");
	/* Every declared port, with its protocol (the generic probe server); else the
	 * image's usual one. */
	if (json_array_size(ports)) {
		json_array_foreach(ports, i, x) {
			if (n >= 56)
				break;
			const char *proto = json_string_value(json_object_get(x, "protocol")) ?: "TCP";
			v[n++] = xstrdup("--port");
			v[n++] = xasprintf("%lld/%s", (long long)json_integer_value(json_object_get(x, "containerPort")), proto);
		}
	} else {
		v[n++] = xstrdup("--port");
		v[n++] = xasprintf("%d", port);
	}
	json_array_foreach(args, i, x) if (n < 60) v[n++] = xstrdup(json_string_value(x));
	return v;
}

/* The pod's /etc/resolv.conf, by its dnsPolicy, as the kubelet writes it: ClusterFirst
 * (the default) points at the cluster DNS with the namespace's search path and
 * ndots:5; Default keeps the node's; None uses dnsConfig alone (which the other
 * policies add to). Returns the file's path, or NULL to keep the node's. */
static char *write_resolv(const struct pod *p)
{
	const char *policy = json_string_value(json_object_get(p->spec, "dnsPolicy")) ?: "ClusterFirst";
	json_t *cfg = json_object_get(p->spec, "dnsConfig");
	if (!strcmp(policy, "Default") && !cfg)
		return NULL;
	struct strbuf sb;
	size_t i;
	json_t *x;
	sb_init(&sb);
	bool cluster = strncmp(policy, "ClusterFirst", 12) == 0;
	if (cluster)
		sb_printf(&sb, "nameserver %s\n", g->cluster_dns);
	json_array_foreach(json_object_get(cfg, "nameservers"), i, x)
		sb_printf(&sb, "nameserver %s\n", json_string_value(x) ?: "");
	sb_printf(&sb, "search");
	if (cluster)
		sb_printf(&sb, " %s.svc.%s svc.%s %s", p->ns, g->domain, g->domain, g->domain);
	json_array_foreach(json_object_get(cfg, "searches"), i, x)
		sb_printf(&sb, " %s", json_string_value(x) ?: "");
	sb_printf(&sb, "\noptions");
	bool ndots = false;
	json_array_foreach(json_object_get(cfg, "options"), i, x) {
		const char *name = json_string_value(json_object_get(x, "name")) ?: "";
		const char *val = json_string_value(json_object_get(x, "value"));
		ndots |= !strcmp(name, "ndots");
		sb_printf(&sb, " %s%s%s", name, val ? ":" : "", val ? val : "");
	}
	if (cluster && !ndots)
		sb_printf(&sb, " ndots:5");
	sb_printf(&sb, "\n");
	char *path = xasprintf("%s/pods/%s.resolv.conf", g->state, p->uid);
	write_file_atomic(path, sb.buf, sb.len, 0644);
	sb_free(&sb);
	return path;
}

static pid_t start_process(struct pod *p, const char *self)
{
	char *resolv = write_resolv(p);
	char **argv = argv_for(p->spec, self);
	char *nspath = xasprintf("/var/run/netns/%s", p->netns);
	char *logp = xasprintf("%s/pods/%s.log", g->state, p->uid);
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(nspath, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(126);
		/* Its own UTS namespace: the pod's hostname is its name, as in Kubernetes. */
		if (unshare(CLONE_NEWUTS) == 0)
			sethostname(p->name, strlen(p->name));
		/* Its own mount namespace, a slave of the node's (it still sees the host's
		 * files and sockets), where /etc/resolv.conf is the pod's. */
		if (resolv && unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0)
			mount(resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL);
		setsid();
		int lf = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (lf >= 0) {
			dup2(lf, 1);
			dup2(lf, 2);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(json_array_get(json_object_get(p->spec, "containers"), 0), "env"), i, e)
			if (json_string_value(json_object_get(e, "name")))
				setenv(json_string_value(json_object_get(e, "name")),
				       json_string_value(json_object_get(e, "value")) ?: "", 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	free(nspath);
	free(logp);
	free(resolv);
	return pid;
}

/* Replaces the pod's status (a read, then a write of the status subresource). Takes
 * the status. */
static void put_status(const struct pod *p, json_t *st)
{
	int code;
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", p->ns, p->name);
	json_t *cur = st ? agent_api("GET", path, NULL, NULL, &code) : NULL;
	if (!st)
		fprintf(stderr, "agent %s: cannot build the status of %s/%s\n", g->node, p->ns, p->name);
	if (cur && code == 200) {
		json_object_set(cur, "status", st);
		char *spath = xasprintf("%s/status", path);
		json_decref(agent_api("PUT", spath, cur, NULL, &code));
		free(spath);
	}
	json_decref(cur);
	json_decref(st);
	free(path);
}

static const char *container_name(const struct pod *p)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(p->spec, "containers"), 0), "name")) ?: "main";
}

static void report(struct pod *p, bool running)
{
	char ts[32];
	now_ts(ts);
	put_status(p, json_pack("{s:s,s:s,s:s,s:[{s:s}],s:s,s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:b,s:i,s:b,s:s}]}",
				"phase", running ? "Running" : "Pending", "hostIP", g->node_ip, "podIP", p->ip,
				"podIPs", "ip", p->ip, "startTime", ts, "conditions", "type", "Ready", "status",
				running ? "True" : "False", "type", "ContainersReady", "status", running ? "True" : "False",
				"containerStatuses", "name", container_name(p), "ready", running, "restartCount",
				p->restarts, "started", running, "image", "tulle/builtin"));
}

/* A finished pod (restartPolicy Never, or OnFailure after success): phase Succeeded or
 * Failed, its container terminated with the exit code, as the kubelet reports it. */
static void report_terminated(struct pod *p)
{
	char ts[32];
	now_ts(ts);
	bool ok = p->exit_code == 0;
	const char *reason = p->exit_code < 0 ? "ContainerStatusUnknown" : ok ? "Completed" : "Error";
	put_status(p, json_pack("{s:s,s:s,s:s,s:[{s:s}],s:[{s:s,s:s,s:s}],s:[{s:s,s:b,s:i,s:b,s:s,s:{s:{s:i,s:s,s:s}}}]}",
				"phase", ok ? "Succeeded" : "Failed", "hostIP", g->node_ip, "podIP", p->ip, "podIPs",
				"ip", p->ip, "conditions", "type", "Ready", "status", "False", "reason", "PodCompleted",
				"containerStatuses", "name", container_name(p), "ready", 0, "restartCount", p->restarts,
				"started", 0, "image", "tulle/builtin", "state", "terminated", "exitCode",
				p->exit_code < 0 ? 137 : p->exit_code, "reason", reason, "finishedAt", ts));
}

/* Whether a pod whose process exited with code (-1: unknown) starts again. */
static bool restarts(const struct pod *p, int code)
{
	const char *rp = json_string_value(json_object_get(p->spec, "restartPolicy")) ?: "Always";
	if (!strcmp(rp, "Never"))
		return false;
	if (!strcmp(rp, "OnFailure"))
		return code != 0;
	return true;
}

int agent_read_record(const char *path, struct pod_record *r)
{
	char *data;
	size_t len;
	char *f[5] = { 0 };

	memset(r, 0, sizeof(*r));
	if (read_file(path, &data, &len) < 0)
		return -1;
	/* Lines, not tokens: an empty field must not shift the ones after it. */
	f[0] = data;
	for (int i = 1; i < 5 && f[i - 1]; i++) {
		char *nl = strchr(f[i - 1], '\n');
		if (nl) {
			*nl = 0;
			f[i] = nl + 1;
		}
	}
	snprintf(r->ns, sizeof(r->ns), "%s", f[0] ? f[0] : "");
	snprintf(r->name, sizeof(r->name), "%s", f[1] ? f[1] : "");
	snprintf(r->netns, sizeof(r->netns), "%s", f[2] ? f[2] : "");
	snprintf(r->ip, sizeof(r->ip), "%s", f[3] ? f[3] : "");
	r->pid = f[4] ? atoi(f[4]) : 0;
	free(data);
	return 0;
}

static void save_pod(const struct pod *p)
{
	char *path = xasprintf("%s/pods/%s", g->state, p->uid);
	char *data = xasprintf("%s\n%s\n%s\n%s\n%d\n", p->ns, p->name, p->netns, p->ip, (int)p->pid);
	write_file_atomic(path, data, strlen(data), 0600);
	free(data);
	free(path);
}

static void start_pod(struct pod *p, const char *self)
{
	char *out = NULL;
	struct stat st;
	char *nspath = xasprintf("/var/run/netns/%s", p->netns);
	bool existed = stat(nspath, &st) == 0;

	if (!existed) {
		const char *add[] = { "ip", "netns", "add", p->netns, NULL };
		if (agent_run(add, NULL) != 0) {
			free(nspath);
			return;
		}
	}
	if (!p->ip[0]) {
		if (cni("ADD", p, &out) == 0) {
			json_t *r = json_loads(out, 0, NULL);
			const char *a = json_string_value(json_object_get(json_array_get(json_object_get(r, "ips"), 0), "address"));
			if (a)
				snprintf(p->ip, sizeof(p->ip), "%.*s", (int)strcspn(a, "/"), a);
			json_decref(r);
		} else {
			fprintf(stderr, "agent %s: CNI ADD for %s/%s failed: %s\n", g->node, p->ns, p->name, out ? out : "");
		}
		free(out);
	}
	free(nspath);
	if (!p->ip[0])
		return;
	agent_dp_pod(p->uid);
	p->pid = start_process(p, self);
	save_pod(p);
	report(p, true);
}

static void stop_pod(struct pod *p)
{
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	cni("DEL", p, NULL);
	const char *del[] = { "ip", "netns", "del", p->netns, NULL };
	agent_run(del, NULL);
	char *path = xasprintf("%s/pods/%s", g->state, p->uid);
	char *logp = xasprintf("%s.log", path), *resolv = xasprintf("%s.resolv.conf", path);
	unlink(path);
	unlink(logp);
	unlink(resolv);
	free(resolv);
	free(logp);
	free(path);
}

static struct pod *find(const char *uid)
{
	for (size_t i = 0; i < g->npods; i++)
		if (!strcmp(g->pods[i].uid, uid))
			return &g->pods[i];
	return NULL;
}

/* Where pod records live; a restarted agent finds its pods there (see reconcile). */
static void make_pod_dir(void)
{
	char *dir = xasprintf("%s/pods", g->state);
	mkdir(dir, 0700);
	free(dir);
}

static void reconcile(const char *self)
{
	int code;
	char *path = xasprintf("/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", g->node);
	json_t *list = agent_api("GET", path, NULL, NULL, &code);
	size_t i;
	json_t *o;

	free(path);
	if (!list || code != 200) {
		json_decref(list);
		return;
	}
	for (size_t k = 0; k < g->npods; k++)
		g->pods[k].seen = false;
	json_array_foreach(json_object_get(list, "items"), i, o) {
		json_t *md = json_object_get(o, "metadata");
		const char *uid = json_string_value(json_object_get(md, "uid"));
		if (!uid)
			continue;
		struct pod *p = find(uid);
		if (!p) {
			g->pods = xrealloc(g->pods, (g->npods + 1) * sizeof(*g->pods));
			p = &g->pods[g->npods++];
			memset(p, 0, sizeof(*p));
			p->uid = xstrdup(uid);
			p->ns = xstrdup(json_string_value(json_object_get(md, "namespace")));
			p->name = xstrdup(json_string_value(json_object_get(md, "name")));
			p->spec = json_incref(json_object_get(o, "spec"));
			agent_pod_netns(g->cluster, uid, p->netns);
			/* Restarted agent: keep the address and process it recorded. */
			char *sp = xasprintf("%s/pods/%s", g->state, uid);
			struct pod_record rec;
			if (agent_read_record(sp, &rec) == 0) {
				snprintf(p->ip, sizeof(p->ip), "%s", rec.ip);
				if (rec.pid > 1 && kill(rec.pid, 0) == 0)
					p->pid = rec.pid;
			}
			free(sp);
			const char *phase = json_string_value(json_object_get(json_object_get(o, "status"), "phase")) ?: "";
			if (p->pid <= 0 && p->ip[0] && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
				p->done = true; /* it ran to completion under an earlier agent */
			} else if (p->pid > 0) {
				agent_dp_pod(p->uid); /* a new agent's programs replace the old ones */
				report(p, true);
			} else {
				start_pod(p, self);
			}
		}
		p->seen = true;
	}
	json_decref(list);
	for (size_t k = 0; k < g->npods;) {
		struct pod *p = &g->pods[k];
		if (p->seen) {
			k++;
			continue;
		}
		stop_pod(p);
		free(p->ns);
		free(p->name);
		free(p->uid);
		json_decref(p->spec);
		g->pods[k] = g->pods[--g->npods];
	}
}

/* Restarts processes that exited (restartPolicy Always). A pod is its process group
 * (the process called setsid): when the main process dies, whatever it started goes
 * too, as a container's processes do, so nothing is left holding the pod's ports. */
static void supervise(const char *self)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (size_t k = 0; k < g->npods; k++)
			if (g->pods[k].pid == pid) {
				struct pod *p = &g->pods[k];
				int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				kill(-pid, SIGKILL);
				p->pid = 0;
				if (!restarts(p, code)) {
					p->done = true;
					p->exit_code = code;
					save_pod(p);
					report_terminated(p);
				} else {
					p->restarts++;
				}
			}
	for (size_t k = 0; k < g->npods; k++) {
		struct pod *p = &g->pods[k];
		if (p->ip[0] && p->pid > 0 && kill(p->pid, 0) < 0) {
			/* An adopted process (not our child) that died: its exit code is lost. */
			kill(-p->pid, SIGKILL);
			p->pid = 0;
			if (!restarts(p, -1)) {
				p->done = true;
				p->exit_code = -1;
				save_pod(p);
				report_terminated(p);
			} else {
				p->restarts++;
			}
		}
		if (p->ip[0] && p->pid == 0 && !p->done) {
			p->pid = start_process(p, self);
			save_pod(p);
			report(p, true);
		}
	}
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
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .vxlan = true, .cluster_dns = "10.96.0.10", .domain = "cluster.local" };
	char *err, self[4096];
	int c;

	optind = 1;
	const char *server = NULL, *service_cidr = "10.96.0.0/12";
	uint32_t ct_max = 0, svc_max = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'n': a.node = optarg; break;
		case 'c': a.cluster = optarg; break;
		case 'p': a.pod_cidr = optarg; break;
		case 'i': a.node_ip = optarg; break;
		case 'd': a.state = optarg; break;
		case 'b': a.cni = optarg; break;
		case 'S': service_cidr = optarg; break;
		case 'D': a.cluster_dns = optarg; break;
		case 'M': a.domain = optarg; break;
		case 'C':
		case 'V': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 16 || v > (1u << 26)) {
				fprintf(stderr, "agent: --%s takes a number of entries from 16 to %u, not %s\n",
					c == 'C' ? "ct-max" : "svc-max", 1u << 26, optarg);
				return 2;
			}
			*(c == 'C' ? &ct_max : &svc_max) = (uint32_t)v;
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
			int fd = open(optarg, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
				fprintf(stderr, "agent: cannot enter %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			close(fd);
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
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[sl > 0 ? sl : 0] = 0;
	if (client_init(&a.cl, server, NULL, &err) < 0) {
		fprintf(stderr, "agent: %s\n", err);
		return 1;
	}
	g = &a;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	mkdir(a.state, 0700);
	make_pod_dir();
	if (a.vxlan && setup_vxlan() < 0) {
		fprintf(stderr, "agent %s: cannot set up the VXLAN overlay\n", a.node);
		return 1;
	}
	struct agent_dp_conf dc = { .cluster = a.cluster, .node = a.node, .node_ip = a.node_ip,
				    .service_cidr = service_cidr, .state = a.state, .vxlan = a.vxlan,
				    .ct_max = ct_max, .svc_max = svc_max };
	if (agent_dp_init(&dc) < 0)
		return 1;
	unsigned tick = 0;
	a.routes = json_object();
	while (!a.stop) {
		if (tick % 10 == 0) {
			register_node();
			if (a.vxlan)
				publish_vtep();
		}
		int code;
		json_t *nodes = agent_api("GET", "/api/v1/nodes", NULL, NULL, &code);
		if (nodes && code == 200) {
			sync_routes(nodes);
			agent_dp_sync(nodes);
		}
		json_decref(nodes);
		reconcile(self);
		supervise(self);
		if (tick % 10 == 5)
			agent_dp_housekeeping();
		tick++;
		usleep(500000);
	}
	agent_dp_close();
	/* Pods keep running across an agent restart; the next agent adopts them. */
	json_decref(a.routes);
	client_free(&a.cl);
	return 0;
}
