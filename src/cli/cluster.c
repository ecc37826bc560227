/* `tulle cluster create|delete|list|exec|kubeconfig`: a whole cluster on this host. A
 * fabric namespace holds a bridge (the datacenter network); every node is a namespace
 * on it with its own address and an agent; the API server runs on a unix socket in the
 * cluster's state directory. Everything is named tl-CLUSTER-* so delete finds it all,
 * even after a crash. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../api/validate.h"
#include "../agent/agent.h"
#include "../lib/cidr.h"
#include "../lib/paths.h"
#include "../lib/proc.h"
#include "cli.h"
#include "kubeconfig.h"
#include "../lib/yaml_emit.h"

#define FABRIC_PREFIX "172.31.0."
/* LoadBalancer addresses: on the fabric, away from the nodes (.10+) and the outside (.254). */
#define LB_POOL "172.31.0.128/26"


static int run(const char *const *argv, bool quiet)
{
	struct proc_opts o = { .quiet = quiet };

	return proc_run(argv, &o);
}

#define RUN(quiet, ...) run((const char *const[]){ __VA_ARGS__, NULL }, quiet)

/* Starts a daemon (its own session, output to log); records its pid when asked. */
static pid_t spawn(const char *const *argv, const char *log, const char *pidfile)
{
	return proc_daemon(argv, log, pidfile);
}

static void self_dir(char out[4096])
{
	ssize_t n = readlink("/proc/self/exe", out, 4095);
	out[n > 0 ? n : 0] = 0;
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = 0;
}

static bool valid_name(const char *n)
{
	if (!*n || strlen(n) > 20)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static void kill_pidfile(const char *path)
{
	char *data;
	size_t len;
	if (read_file(path, &data, &len) == 0) {
		pid_t pid = atoi(data);
		if (pid > 1) {
			kill(pid, SIGTERM);
			for (int i = 0; i < 50 && kill(pid, 0) == 0; i++)
				usleep(20000);
			kill(pid, SIGKILL);
		}
		free(data);
	}
}

/* Removes every trace of a cluster: processes, namespaces, state. */
/* The cluster's kubeconfig: its HTTPS address (from the server's URL file) and the
 * admin certificate from its PKI. */
static json_t *cluster_kubeconfig(const char *name, char **err)
{
	char *dir = paths_cluster(name), *urls = xasprintf("%s/server/server.url", dir), *data = NULL;
	char *pki = xasprintf("%s/server/pki", dir);
	size_t len;
	json_t *kc = NULL;
	if (read_file(urls, &data, &len) < 0) {
		*err = xasprintf("no cluster \"%s\" (%s is missing)", name, urls);
	} else {
		char *https = strstr(data, "https://");
		if (!https) {
			*err = xasprintf("the server of \"%s\" has no HTTPS listener (see %s)", name, urls);
		} else {
			https[strcspn(https, "\n")] = 0;
			kc = kubeconfig_for(name, https, pki, err);
		}
	}
	free(data);
	free(urls);
	free(pki);
	free(dir);
	return kc;
}

/* The cluster DNS add-on, as kind installs CoreDNS: a Deployment of two replicas in
 * kube-system behind the kube-dns Service at the fixed address. Waits until it answers
 * (both endpoints ready). */
static int install_dns(const struct common_opts *o, const char *ip, const char *upstream)
{
	struct client cl;
	char *err = NULL;
	int code = 0, rc = -1;
	json_t *labels = json_pack("{s:s}", "k8s-app", "kube-dns");
	json_t *dep = json_pack("{s:s,s:s,s:{s:s,s:s,s:O},s:{s:i,s:{s:O},s:{s:{s:O},s:{s:s,s:[{s:s,s:s,s:[{s:s,s:i,s:s},{s:s,s:i,s:s}]}]}}}}",
				"apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", "coredns", "namespace",
				"kube-system", "labels", labels, "spec", "replicas", 2, "selector", "matchLabels", labels,
				"template", "metadata", "labels", labels, "spec", "dnsPolicy", "Default", "containers", "name",
				"coredns", "image", "tulle/dns:builtin", "ports", "name", "dns", "containerPort", 53, "protocol",
				"UDP", "name", "dns-tcp", "containerPort", 53, "protocol", "TCP");
	json_t *svc = json_pack("{s:s,s:s,s:{s:s,s:s,s:O},s:{s:O,s:s,s:[{s:s,s:i,s:i,s:s},{s:s,s:i,s:i,s:s}]}}",
				"apiVersion", "v1", "kind", "Service", "metadata", "name", "kube-dns", "namespace", "kube-system",
				"labels", labels, "spec", "selector", labels, "clusterIP", ip, "ports", "name", "dns", "port", 53,
				"targetPort", 53, "protocol", "UDP", "name", "dns-tcp", "port", 53, "targetPort", 53, "protocol", "TCP");
	if (upstream)
		json_object_set_new(json_array_get(json_object_get(json_object_get(json_object_get(json_object_get(dep, "spec"),
			"template"), "spec"), "containers"), 0), "args", json_pack("[s,s]", "--upstream", upstream));
	json_t *req = json_pack("{s:[o,o],s:b,s:s}", "items", dep, svc, "dryRun", 0, "fieldValidation", "Strict");
	if (cli_connect(&cl, o) < 0)
		goto out;
	json_t *resp = client_json(&cl, "POST", "/tulle/v1/apply", req, NULL, &code, &err);
	if (!resp || code != 200) {
		fprintf(stderr, "error: %s\n", err ? err : json_string_value(json_object_get(resp, "message")) ?: "?");
		json_decref(resp);
		client_free(&cl);
		goto out;
	}
	json_decref(resp);
	for (int t = 0; t < 100 && rc < 0; t++) {
		usleep(200000);
		json_t *l = client_json(&cl, "GET", "/apis/apps/v1/namespaces/kube-system/deployments/coredns", NULL, NULL,
					&code, &err);
		free(err);
		err = NULL;
		if (json_integer_value(json_object_get(json_object_get(l, "status"), "readyReplicas")) >= 2)
			rc = 0;
		json_decref(l);
	}
	client_free(&cl);
out:
	free(err);
	json_decref(req);
	json_decref(labels);
	return rc;
}

static int destroy(const char *name, bool quiet)
{
	char *dir = paths_cluster(name);
	DIR *d;
	struct dirent *de;

	/* Agents first (so they do not restart pods), then pods' processes, then server. */
	if ((d = opendir(dir))) {
		while ((de = readdir(d)))
			if (str_has_prefix(de->d_name, "agent-") && str_has_suffix(de->d_name, ".pid")) {
				char *p = xasprintf("%s/%s", dir, de->d_name);
				kill_pidfile(p);
				free(p);
			}
		closedir(d);
	}
	char *nodes = xasprintf("%s/nodes", dir);
	if ((d = opendir(nodes))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			/* The node's API (and with it its exec sessions), before the pods. */
			char *napi = xasprintf("%s/%s/node-api.pid", nodes, de->d_name);
			kill_pidfile(napi);
			free(napi);
			char *pods = xasprintf("%s/%s/pods", nodes, de->d_name);
			DIR *pd = opendir(pods);
			struct dirent *pe;
			while (pd && (pe = readdir(pd))) {
				if (pe->d_name[0] == '.' || strchr(pe->d_name, '.'))
					continue;
				char *rec = xasprintf("%s/%s", pods, pe->d_name);
				struct pod_record r;
				/* The pod is its process group: the group goes with it. */
				if (agent_read_record(rec, &r) == 0 && r.pid > 1) {
					kill(-r.pid, SIGKILL);
					kill(r.pid, SIGKILL);
				}
				free(rec);
			}
			if (pd)
				closedir(pd);
			free(pods);
		}
		closedir(d);
	}
	free(nodes);
	char *spid = xasprintf("%s/server/server.pid", dir);
	kill_pidfile(spid);
	free(spid);
	/* Every namespace named after the cluster. */
	char *prefix = xasprintf("tl-%s-", name);
	if ((d = opendir("/var/run/netns"))) {
		while ((de = readdir(d)))
			if (str_has_prefix(de->d_name, prefix))
				RUN(true, "ip", "netns", "del", de->d_name);
		closedir(d);
	}
	free(prefix);
	/* kubectl's entries for it. */
	char *kerr = NULL, *kpath = kubeconfig_path();
	if (kubeconfig_merge(kpath, NULL, name, 0, &kerr) < 0 && !quiet)
		fprintf(stderr, "warning: %s\n", kerr);
	free(kerr);
	free(kpath);
	/* The nodes' pinned datapath maps (programs went with the namespaces' devices). */
	char *pins = xasprintf("/sys/fs/bpf/tulle/%s", name);
	RUN(true, "rm", "-rf", pins);
	rmdir("/sys/fs/bpf/tulle"); /* only when no other cluster uses it */
	free(pins);
	RUN(true, "rm", "-rf", dir);
	char *h = paths_home(), *cur = xasprintf("%s/current", h), *data;
	size_t len;
	if (read_file(cur, &data, &len) == 0) {
		data[strcspn(data, "\n")] = 0;
		if (!strcmp(data, dir))
			unlink(cur);
		free(data);
	}
	free(cur);
	free(h);
	if (!quiet)
		printf("Deleted cluster \"%s\".\n", name);
	free(dir);
	return 0;
}

struct spec {
	int nodes;
	char *pod_subnet; /* "10.244.0.0/16" */
	const char *routing; /* "vxlan" (default) or "native" */
	char *service_subnet;
	const char *dns_upstream; /* IP[:PORT] the cluster DNS forwards other names to */
};

/* kind's Cluster config: nodes with roles, networking.podSubnet. */
static int read_config(const char *file, struct spec *sp)
{
	char *text;
	size_t len;
	struct doc **docs;
	size_t n;
	struct ferrs errs;
	const struct skind *k;
	int rc = -1;

	if (read_file(file, &text, &len) < 0) {
		fprintf(stderr, "error: cannot read %s: %s\n", file, strerror(errno));
		return -1;
	}
	ferrs_init(&errs);
	if (doc_load_all(text, len, file, &docs, &n, &errs) < 0 || n != 1 ||
	    api_validate(docs[0]->root, docs[0], UNKNOWN_STRICT, &k, &errs, NULL) < 0 || strcmp(k->kind, "Cluster")) {
		struct strbuf sb;
		sb_init(&sb);
		if (errs.n)
			api_format_errors(&sb, file, n ? docs[0]->root : NULL, &errs);
		fprintf(stderr, "%serror: %s is not a kind Cluster config (kind.x-k8s.io/v1alpha4)\n", sb.buf ? sb.buf : "", file);
		sb_free(&sb);
	} else {
		json_t *nodes = json_object_get(docs[0]->root, "nodes");
		sp->nodes = json_array_size(nodes) ? (int)json_array_size(nodes) : 1;
		const char *ps = json_string_value(json_object_get(json_object_get(docs[0]->root, "networking"), "podSubnet"));
		if (ps)
			sp->pod_subnet = xstrdup(ps);
		const char *ss = json_string_value(json_object_get(json_object_get(docs[0]->root, "networking"), "serviceSubnet"));
		if (ss)
			sp->service_subnet = xstrdup(ss);
		rc = 0;
	}
	if (n)
		docs_free(docs, n);
	ferrs_free(&errs);
	free(text);
	return rc;
}

static char *node_name(const char *cluster, int i)
{
	if (i == 0)
		return xasprintf("%s-control-plane", cluster);
	return i == 1 ? xasprintf("%s-worker", cluster) : xasprintf("%s-worker%d", cluster, i);
}

static int create(const char *name, struct spec *sp)
{
	char bin[4096];
	char *dir = paths_cluster(name);
	struct stat st;
	struct cidr pods, svcs;
	char dns_ip[64];

	if (stat(dir, &st) == 0) {
		fprintf(stderr, "error: cluster \"%s\" already exists (%s); delete it first: tulle cluster delete --name %s\n", name, dir, name);
		free(dir);
		return 1;
	}
	/* The cluster DNS address is the service range's tenth, as kubeadm and kind do. */
	struct ipaddr dip;
	if (cidr_parse(sp->service_subnet ? sp->service_subnet : "10.96.0.0/12", &svcs, false) < 0 ||
	    svcs.ip.family != 4 || svcs.prefix > 28 || cidr_nth(&svcs, 10, &dip) < 0) {
		fprintf(stderr, "error: serviceSubnet must be an IPv4 /28 or larger\n");
		free(dir);
		return 1;
	}
	ip_format(&dip, dns_ip, sizeof(dns_ip));
	if (cidr_parse(sp->pod_subnet ? sp->pod_subnet : "10.244.0.0/16", &pods, false) < 0 || pods.prefix > 16) {
		fprintf(stderr, "error: podSubnet must be an IPv4 /16 or larger\n");
		free(dir);
		return 1;
	}
	self_dir(bin);
	char *tulle = xasprintf("%s/tulle", bin), *cni = xasprintf("%s/tulle-cni", bin);
	char *h = paths_home();
	char *clusters = xasprintf("%s/clusters", h);
	mkdir(h, 0700);
	mkdir(clusters, 0700);
	mkdir(dir, 0700);
	char *nodes_dir = xasprintf("%s/nodes", dir);
	mkdir(nodes_dir, 0700);
	printf("Creating cluster \"%s\" ...\n", name);
	/* The API server. */
	char *sstate = xasprintf("%s/server", dir), *slog = xasprintf("%s/server.log", dir);
	/* The unix socket for tulle and the agents; HTTPS on loopback for kubectl. */
	char *sock_listen = xasprintf("unix://%s/api.sock", sstate);
	spawn((const char *const[]){ tulle, "server", "--state", sstate, "--service-cidr",
				     sp->service_subnet ? sp->service_subnet : "10.96.0.0/12", "--lb-pool", LB_POOL,
				     "--listen", sock_listen, "--listen", "https://127.0.0.1:0", NULL },
	      slog, NULL);
	char *sock = xasprintf("unix://%s/api.sock", sstate);
	/* The fabric. */
	char *fabric = xasprintf("tl-%s-fabric", name);
	int rc = RUN(false, "ip", "netns", "add", fabric) | RUN(false, "ip", "-n", fabric, "link", "add", "br0", "type", "bridge") |
		 RUN(false, "ip", "-n", fabric, "link", "set", "br0", "up");
	for (int i = 0; i <= sp->nodes && rc == 0; i++) {
		bool outside = i == sp->nodes;
		char *ns = outside ? xasprintf("tl-%s-outside", name) : xasprintf("tl-%s-n%d", name, i);
		char port[16], addr[32];
		snprintf(port, sizeof(port), "p%d", i);
		snprintf(addr, sizeof(addr), FABRIC_PREFIX "%d/24", outside ? 254 : 10 + i);
		rc |= RUN(false, "ip", "netns", "add", ns);
		rc |= RUN(false, "ip", "-n", fabric, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
		rc |= RUN(false, "ip", "-n", fabric, "link", "set", port, "master", "br0", "up");
		rc |= RUN(false, "ip", "-n", ns, "addr", "add", addr, "dev", "eth0");
		rc |= RUN(false, "ip", "-n", ns, "link", "set", "eth0", "up");
		rc |= RUN(false, "ip", "-n", ns, "link", "set", "lo", "up");
		if (!outside) {
			rc |= RUN(true, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1");
			char *node = node_name(name, i), *nstate = xasprintf("%s/%s", nodes_dir, node);
			char *alog = xasprintf("%s/agent-%s.log", dir, node), *apid = xasprintf("%s/agent-%s.pid", dir, node);
			char ip[32], cidr[32], pc[64];
			struct ipaddr base;
			snprintf(ip, sizeof(ip), FABRIC_PREFIX "%d", 10 + i);
			cidr_nth(&pods, (uint64_t)i * 256, &base);
			ip_format(&base, pc, sizeof(pc));
			snprintf(cidr, sizeof(cidr), "%s/24", pc);
			char *nspath = xasprintf("/var/run/netns/%s", ns);
			const char *const av[] = { tulle, "agent", "--netns", nspath, "--server", sock, "--node", node,
						   "--cluster", name, "--pod-cidr", cidr, "--node-ip", ip, "--state", nstate,
						   "--cni", cni, "--routing", sp->routing, "--service-cidr",
						   sp->service_subnet ? sp->service_subnet : "10.96.0.0/12", "--cluster-dns",
						   dns_ip, NULL };
			spawn(av, alog, apid);
			/* Kept so the agent can be restarted with the same arguments. */
			struct strbuf cmd;
			sb_init(&cmd);
			for (size_t a = 0; av[a]; a++)
				sb_add(&cmd, av[a], strlen(av[a]) + 1);
			char *cmdp = xasprintf("%s/agent-%s.cmd", dir, node);
			write_file_atomic(cmdp, cmd.buf, cmd.len, 0600);
			free(cmdp);
			sb_free(&cmd);
			free(nspath);
			free(node);
			free(nstate);
			free(alog);
			free(apid);
		}
		free(ns);
	}
	if (rc) {
		fprintf(stderr, "error: building the cluster's network failed; removing what was made\n");
		destroy(name, true);
		return 1;
	}
	/* Wait until every node is Ready. */
	struct client cl;
	struct common_opts o = { .server = sock };
	int ready = 0;
	for (int t = 0; t < 150 && ready < sp->nodes; t++) {
		usleep(200000);
		if (cli_connect(&cl, &o) < 0)
			continue;
		char *err;
		int code;
		json_t *list = client_json(&cl, "GET", "/api/v1/nodes", NULL, NULL, &code, &err);
		if (!list)
			free(err);
		ready = 0;
		size_t i;
		json_t *n, *c;
		json_array_foreach(json_object_get(list, "items"), i, n) {
			size_t j;
			json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), j, c)
				ready += !strcmp(json_string_value(json_object_get(c, "status")) ?: "", "True");
		}
		json_decref(list);
		client_free(&cl);
	}
	if (ready < sp->nodes) {
		fprintf(stderr, "error: only %d of %d nodes became Ready in 30s (logs in %s); removing the cluster\n", ready, sp->nodes, dir);
		destroy(name, true);
		return 1;
	}
	if (install_dns(&o, dns_ip, sp->dns_upstream) < 0) {
		fprintf(stderr, "error: the cluster DNS did not start (logs in %s); removing the cluster\n", dir);
		destroy(name, true);
		return 1;
	}
	printf(" ✓ DNS at %s (kube-system/kube-dns, cluster.local%s%s)\n", dns_ip,
	       sp->dns_upstream ? ", other names to " : "", sp->dns_upstream ? sp->dns_upstream : "");
	char *kerr = NULL, *kpath = kubeconfig_path();
	json_t *kc = cluster_kubeconfig(name, &kerr);
	if (!kc || kubeconfig_merge(kpath, kc, name, 1, &kerr) < 0)
		fprintf(stderr, "warning: no kubeconfig for kubectl: %s\n", kerr ? kerr : "?");
	else
		printf(" ✓ kubectl: context \"tulle-%s\" in %s is the current one\n", name, kpath);
	json_decref(kc);
	free(kerr);
	free(kpath);
	char *cur = xasprintf("%s/current", h);
	write_file_atomic(cur, dir, strlen(dir), 0644);
	printf(" ✓ %d nodes Ready (fabric " FABRIC_PREFIX "0/24, pods %s, %s routing)\n", sp->nodes,
	       sp->pod_subnet ? sp->pod_subnet : "10.244.0.0/16", sp->routing);
	printf("Cluster \"%s\" is the current one. Try:\n  tulle get nodes -o wide\n  tulle run web --image=nginx\n  tulle cluster exec --outside -- curl http://POD_IP\n", name);
	free(cur);
	free(h);
	free(clusters);
	free(tulle);
	free(cni);
	free(sstate);
	free(sock_listen);
	free(slog);
	free(sock);
	free(fabric);
	free(nodes_dir);
	free(dir);
	return 0;
}

static int list(void)
{
	char *h = paths_home(), *c = xasprintf("%s/clusters", h);
	DIR *d = opendir(c);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			printf("%s\n", de->d_name);
			n++;
		}
	if (d)
		closedir(d);
	if (!n)
		fprintf(stderr, "No clusters found.\n");
	free(c);
	free(h);
	return 0;
}

static int cexec(const char *name, const char *node, bool outside, char **cmd)
{
	char *ns;

	if (outside) {
		ns = xasprintf("tl-%s-outside", name);
	} else {
		int idx = -1;
		for (int i = 0; i < 64; i++) {
			char *nn = node_name(name, i);
			if (!strcmp(nn, node))
				idx = i;
			free(nn);
		}
		if (idx < 0) {
			fprintf(stderr, "error: no node %s in cluster %s\n", node, name);
			return 1;
		}
		ns = xasprintf("tl-%s-n%d", name, idx);
	}
	int rc = netns_exec(ns, cmd, true);
	free(ns);
	return rc;
}

/* Kills a node's agent (as a crash would) and starts it again with the same
 * arguments; the new agent adopts the pods the old one ran. */
static int restart_agent(const char *name, const char *node)
{
	char *dir = paths_cluster(name);
	char *cmdp = xasprintf("%s/agent-%s.cmd", dir, node), *pidp = xasprintf("%s/agent-%s.pid", dir, node);
	char *logp = xasprintf("%s/agent-%s.log", dir, node), *data;
	size_t len;
	int rc = 1;

	if (read_file(cmdp, &data, &len) < 0) {
		fprintf(stderr, "error: no agent %s in cluster %s\n", node, name);
	} else {
		char *pid;
		size_t plen;
		if (read_file(pidp, &pid, &plen) == 0) {
			kill(atoi(pid), SIGKILL);
			for (int i = 0; i < 100 && kill(atoi(pid), 0) == 0; i++)
				usleep(10000);
			free(pid);
		}
		const char *av[32];
		size_t n = 0;
		for (size_t off = 0; off < len && n < 31; off += strlen(data + off) + 1)
			av[n++] = data + off;
		av[n] = NULL;
		spawn(av, logp, pidp);
		printf("agent %s restarted\n", node);
		free(data);
		rc = 0;
	}
	free(cmdp);
	free(pidp);
	free(logp);
	free(dir);
	return rc;
}

int cmd_cluster(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' }, { "nodes", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' }, { "node", required_argument, NULL, 'o' },
		{ "outside", no_argument, NULL, 'O' }, { "routing", required_argument, NULL, 'r' },
		{ "dns-upstream", required_argument, NULL, 'u' }, { NULL, 0, NULL, 0 },
	};
	const char *verb = argc > 1 ? argv[1] : "";
	const char *name = "tulle", *config = NULL, *node = NULL;
	struct spec sp = { 3, NULL, "vxlan", NULL, NULL };
	bool outside = false;
	int c;

	optind = 2;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'N': name = optarg; break;
		case 'n': sp.nodes = atoi(optarg); break;
		case 'c': config = optarg; break;
		case 'o': node = optarg; break;
		case 'O': outside = true; break;
		case 'u': sp.dns_upstream = optarg; break;
		case 'r':
			if (strcmp(optarg, "vxlan") && strcmp(optarg, "native")) {
				fprintf(stderr, "error: --routing takes vxlan (default) or native\n");
				return 2;
			}
			sp.routing = optarg;
			break;
		default: return 2;
		}
	}
	if (!valid_name(name)) {
		fprintf(stderr, "error: cluster name \"%s\": at most 20 lowercase letters, digits or '-'\n", name);
		return 2;
	}
	if (getuid() != 0 && strcmp(verb, "list")) {
		fprintf(stderr, "error: tulle cluster %s needs root (network namespaces)\n", verb);
		return 1;
	}
	if (!strcmp(verb, "create")) {
		if (config && read_config(config, &sp) < 0)
			return 1;
		if (sp.nodes < 1 || sp.nodes > 16) {
			fprintf(stderr, "error: --nodes takes 1 to 16\n");
			return 2;
		}
		int rc = create(name, &sp);
		free(sp.pod_subnet);
		free(sp.service_subnet);
		return rc;
	}
	if (!strcmp(verb, "delete"))
		return destroy(name, false);
	if (!strcmp(verb, "kubeconfig")) {
		char *err = NULL;
		json_t *kc = cluster_kubeconfig(name, &err);
		if (!kc) {
			fprintf(stderr, "error: %s\n", err);
			free(err);
			return 1;
		}
		struct strbuf sb;
		sb_init(&sb);
		yaml_emit(&sb, kc);
		fwrite(sb.buf, 1, sb.len, stdout);
		sb_free(&sb);
		json_decref(kc);
		return 0;
	}
	if (!strcmp(verb, "list"))
		return list();
	if (!strcmp(verb, "restart-agent")) {
		if (!node) {
			fprintf(stderr, "usage: tulle cluster restart-agent [--name N] --node NODE\n");
			return 2;
		}
		return restart_agent(name, node);
	}
	if (!strcmp(verb, "exec")) {
		if (optind >= argc || (!node && !outside)) {
			fprintf(stderr, "usage: tulle cluster exec [--name N] --node NODE|--outside -- CMD...\n");
			return 2;
		}
		return cexec(name, node, outside, argv + optind);
	}
	fprintf(stderr, "usage: tulle cluster create [--name N] [--nodes N | --config FILE] [--routing vxlan|native] "
		"[--dns-upstream IP[:PORT]] | delete [--name N] | list | kubeconfig [--name N] | exec ...\n");
	return 2;
}
