/* The pods scheduled to this node, from the pods informer: each gets a network
 * namespace wired by the CNI plugin and a supervised process; a pod gone from the API
 * is stopped and unwired. What a restarted agent needs to adopt its pods (address,
 * process) is recorded in STATE/pods/UID. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/paths.h"
#include "../lib/proc.h"
#include "../lib/util.h"
#include "agent.h"
#include "agent_int.h"

static char *cni_conf(struct agent *a)
{
	/* Overlay pods leave room for the 50 bytes of VXLAN encapsulation. */
	return xasprintf("{\"cniVersion\":\"1.1.0\",\"name\":\"tulle\",\"type\":\"tulle-cni\",\"mtu\":%d,"
			 "\"ipam\":{\"subnet\":\"%s\",\"dataDir\":\"%s/cni\"},\"dns\":{\"nameservers\":[\"%s\"]}}",
			 a->vxlan ? 1450 : 1500, a->pod_cidr, a->state, a->cluster_dns);
}

static int cni(struct agent *a, const char *cmd, struct pod *p, char **out)
{
	char *nspath = xasprintf("/var/run/netns/%s", p->netns);
	char *e_cmd = xasprintf("CNI_COMMAND=%s", cmd), *e_id = xasprintf("CNI_CONTAINERID=%s", p->uid);
	char *e_ns = xasprintf("CNI_NETNS=%s", nspath);
	const char *env[] = { e_cmd, e_id, e_ns, "CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin", NULL };
	char *conf = cni_conf(a), *captured = NULL;
	struct proc_opts o = { .env = env, .input = conf, .out = &captured };
	int rc = proc_run((const char *const[]){ a->cni, NULL }, &o);

	free(conf);
	free(e_cmd);
	free(e_id);
	free(e_ns);
	free(nspath);
	if (out)
		*out = captured;
	else
		free(captured);
	return rc == 0 ? 0 : -1;
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

void pods_save(struct agent *a, const struct pod *p)
{
	char *path = paths_pod_record(a->state, p->uid);
	char *data = xasprintf("%s\n%s\n%s\n%s\n%d\n", p->ns, p->name, p->netns, p->ip, (int)p->pid);
	write_file_atomic(path, data, strlen(data), 0600);
	free(data);
	free(path);
}

static void start_pod(struct agent *a, struct pod *p)
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
		if (cni(a, "ADD", p, &out) == 0) {
			json_t *r = json_loads(out, 0, NULL);
			const char *addr = json_string_value(json_object_get(json_array_get(json_object_get(r, "ips"), 0), "address"));
			if (addr)
				snprintf(p->ip, sizeof(p->ip), "%.*s", (int)strcspn(addr, "/"), addr);
			json_decref(r);
		} else {
			fprintf(stderr, "agent %s: CNI ADD for %s/%s failed: %s\n", a->node, p->ns, p->name, out ? out : "");
		}
		free(out);
	}
	free(nspath);
	if (!p->ip[0])
		return;
	/* The pod's identity is in the maps before its first packet: the datapath drops
	 * packets of pods it does not know (fail closed). */
	pol_pod_address(a, p->ns, p->name, p->ip);
	svc_pod(a, p->uid);
	p->pid = supervise_start(a, p);
	pods_save(a, p);
	supervise_report(a, p, true);
}

static void stop_pod(struct agent *a, struct pod *p)
{
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	cni(a, "DEL", p, NULL);
	const char *del[] = { "ip", "netns", "del", p->netns, NULL };
	agent_run(del, NULL);
	char *path = paths_pod_record(a->state, p->uid);
	char *logp = xasprintf("%s.log", path), *resolv = xasprintf("%s.resolv.conf", path);
	unlink(path);
	unlink(logp);
	unlink(resolv);
	free(resolv);
	free(logp);
	free(path);
}

void pods_retry(struct agent *a)
{
	for (size_t k = 0; k < a->npods; k++) {
		struct pod *p = &a->pods[k];
		if (!p->ip[0] && p->pid <= 0 && !p->done)
			start_pod(a, p);
	}
}

static struct pod *find(struct agent *a, const char *uid)
{
	for (size_t i = 0; i < a->npods; i++)
		if (!strcmp(a->pods[i].uid, uid))
			return &a->pods[i];
	return NULL;
}

/* Where pod records live; a restarted agent finds its pods there (see reconcile). */
void pods_make_dir(struct agent *a)
{
	char *dir = xasprintf("%s/pods", a->state);
	mkdir(dir, 0700);
	free(dir);
}

void pods_reconcile(struct agent *a)
{
	const char *key;
	json_t *o;

	if (!informer_synced(a->pods_inf))
		return;
	for (size_t k = 0; k < a->npods; k++)
		a->pods[k].seen = false;
	json_object_foreach((json_t *)informer_items(a->pods_inf), key, o) {
		json_t *md = json_object_get(o, "metadata");
		const char *uid = json_string_value(json_object_get(md, "uid"));
		if (!uid)
			continue;
		struct pod *p = find(a, uid);
		if (!p) {
			a->pods = xrealloc(a->pods, (a->npods + 1) * sizeof(*a->pods));
			p = &a->pods[a->npods++];
			memset(p, 0, sizeof(*p));
			p->uid = xstrdup(uid);
			p->ns = xstrdup(json_string_value(json_object_get(md, "namespace")));
			p->name = xstrdup(json_string_value(json_object_get(md, "name")));
			p->spec = json_incref(json_object_get(o, "spec"));
			agent_pod_netns(a->cluster, uid, p->netns);
			/* Restarted agent: keep the address and process it recorded. */
			char *sp = paths_pod_record(a->state, uid);
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
				svc_pod(a, p->uid); /* a new agent's programs replace the old ones */
				supervise_report(a, p, true);
			} else {
				start_pod(a, p);
			}
		}
		p->seen = true;
	}
	for (size_t k = 0; k < a->npods;) {
		struct pod *p = &a->pods[k];
		if (p->seen) {
			k++;
			continue;
		}
		stop_pod(a, p);
		free(p->ns);
		free(p->name);
		free(p->uid);
		json_decref(p->spec);
		a->pods[k] = a->pods[--a->npods];
	}
}
