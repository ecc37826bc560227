/* The pods' processes: what a container image runs (a built-in workload or the given
 * command), the process started inside the pod's namespaces, restarts by
 * restartPolicy, and the status the API shows for it. */
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/paths.h"
#include "../lib/proc.h"
#include "../lib/util.h"
#include "agent_int.h"

/* What a container image runs: a built-in workload, or the command as given. */
static char **argv_for(struct agent *a, const json_t *spec)
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
	v[n++] = xstrdup(a->self);
	if (strstr(image, "tulle/dns") || strstr(image, "coredns")) {
		/* The cluster DNS server, reading the API this agent uses. */
		v[n++] = xstrdup("dns");
		v[n++] = xstrdup("--server");
		v[n++] = xstrdup(a->server);
		v[n++] = xstrdup("--domain");
		v[n++] = xstrdup(a->domain);
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
static char *write_resolv(struct agent *a, const struct pod *p)
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
		sb_printf(&sb, "nameserver %s\n", a->cluster_dns);
	json_array_foreach(json_object_get(cfg, "nameservers"), i, x)
		sb_printf(&sb, "nameserver %s\n", json_string_value(x) ?: "");
	sb_printf(&sb, "search");
	if (cluster)
		sb_printf(&sb, " %s.svc.%s svc.%s %s", p->ns, a->domain, a->domain, a->domain);
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
	char *path = xasprintf("%s/pods/%s.resolv.conf", a->state, p->uid);
	write_file_atomic(path, sb.buf, sb.len, 0644);
	sb_free(&sb);
	return path;
}

pid_t supervise_start(struct agent *a, struct pod *p)
{
	char *resolv = write_resolv(a, p);
	char **argv = argv_for(a, p->spec);
	char *nspath = xasprintf("/var/run/netns/%s", p->netns);
	char *logp = paths_pod_log(a->state, p->uid);
	pid_t pid = fork();

	if (pid == 0) {
		proc_child_reset();
		if (proc_enter_netns(nspath) < 0)
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
static void put_status(struct agent *a, const struct pod *p, json_t *st)
{
	int code;
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", p->ns, p->name);
	json_t *cur = st ? agent_api(a, "GET", path, NULL, NULL, &code) : NULL;
	if (!st)
		fprintf(stderr, "agent %s: cannot build the status of %s/%s\n", a->node, p->ns, p->name);
	if (cur && code == 200) {
		json_object_set(cur, "status", st);
		char *spath = xasprintf("%s/status", path);
		json_decref(agent_api(a, "PUT", spath, cur, NULL, &code));
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

void supervise_report(struct agent *a, struct pod *p, bool running)
{
	char ts[32];
	rfc3339_now(ts);
	put_status(a, p, json_pack("{s:s,s:s,s:s,s:[{s:s}],s:s,s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:b,s:i,s:b,s:s}]}",
				"phase", running ? "Running" : "Pending", "hostIP", a->node_ip, "podIP", p->ip,
				"podIPs", "ip", p->ip, "startTime", ts, "conditions", "type", "Ready", "status",
				running ? "True" : "False", "type", "ContainersReady", "status", running ? "True" : "False",
				"containerStatuses", "name", container_name(p), "ready", running, "restartCount",
				p->restarts, "started", running, "image", "tulle/builtin"));
}

/* A finished pod (restartPolicy Never, or OnFailure after success): phase Succeeded or
 * Failed, its container terminated with the exit code, as the kubelet reports it. */
static void report_terminated(struct agent *a, struct pod *p)
{
	char ts[32];
	rfc3339_now(ts);
	bool ok = p->exit_code == 0;
	const char *reason = p->exit_code < 0 ? "ContainerStatusUnknown" : ok ? "Completed" : "Error";
	put_status(a, p, json_pack("{s:s,s:s,s:s,s:[{s:s}],s:[{s:s,s:s,s:s}],s:[{s:s,s:b,s:i,s:b,s:s,s:{s:{s:i,s:s,s:s}}}]}",
				"phase", ok ? "Succeeded" : "Failed", "hostIP", a->node_ip, "podIP", p->ip, "podIPs",
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

/* Restarts processes that exited (restartPolicy Always). A pod is its process group
 * (the process called setsid): when the main process dies, whatever it started goes
 * too, as a container's processes do, so nothing is left holding the pod's ports. */
void supervise_reap(struct agent *a)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == a->node_api_pid)
			a->node_api_pid = 0; /* restarted on the next tick */
		for (size_t k = 0; k < a->npods; k++)
			if (a->pods[k].pid == pid) {
				struct pod *p = &a->pods[k];
				int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				kill(-pid, SIGKILL);
				p->pid = 0;
				if (!restarts(p, code)) {
					p->done = true;
					p->exit_code = code;
					pods_save(a, p);
					report_terminated(a, p);
				} else {
					p->restarts++;
				}
			}
	}
	for (size_t k = 0; k < a->npods; k++) {
		struct pod *p = &a->pods[k];
		if (p->ip[0] && p->pid > 0 && kill(p->pid, 0) < 0) {
			/* An adopted process (not our child) that died: its exit code is lost. */
			kill(-p->pid, SIGKILL);
			p->pid = 0;
			if (!restarts(p, -1)) {
				p->done = true;
				p->exit_code = -1;
				pods_save(a, p);
				report_terminated(a, p);
			} else {
				p->restarts++;
			}
		}
		if (p->ip[0] && p->pid == 0 && !p->done) {
			p->pid = supervise_start(a, p);
			pods_save(a, p);
			supervise_report(a, p, true);
		}
	}
}
