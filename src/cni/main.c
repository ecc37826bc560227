/* tulle-cni entry point: the CNI protocol (environment, stdin, stdout, exit code). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/util.h"
#include "cni.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* Checks the variables a command needs; names every missing one. */
static int need_env(const struct cni_env *ev, const char *const *names, struct cni_err *e)
{
	struct strbuf sb;

	sb_init(&sb);
	for (; *names; names++)
		if (!env(*names))
			sb_printf(&sb, "%s%s", sb.len ? ", " : "", *names);
	if (sb.len) {
		cni_fail(e, CNI_INVALID_ENV, "required environment variables missing", "%s: %s",
			 ev->command, sb.buf);
		sb_free(&sb);
		return -1;
	}
	sb_free(&sb);
	if (ev->container_id) {
		const char *p = ev->container_id;
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
		for (; *p && ok; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			     *p == '_' || *p == '.' || *p == '-';
		if (!ok)
			return cni_fail(e, CNI_INVALID_ENV, "invalid CNI_CONTAINERID",
					"\"%s\": must start with a letter or digit and hold only letters, digits, '_', '.', '-'",
					ev->container_id);
	}
	if (ev->ifname) {
		const char *n = ev->ifname;
		if (strlen(n) > 15 || !strcmp(n, ".") || !strcmp(n, "..") || strpbrk(n, "/: \t\n"))
			return cni_fail(e, CNI_INVALID_ENV, "invalid CNI_IFNAME",
					"\"%s\": at most 15 characters, not . or .., no '/', ':' or spaces", n);
	}
	return 0;
}

static char *mac_of(const char *netns, const char *dev)
{
	char *out = NULL;
	const char *argv[] = { "-o", "link", "show", "dev", dev, NULL };
	if (run_ip(netns, &out, argv) != 0) {
		free(out);
		return xstrdup("");
	}
	char *m = strstr(out, "link/ether ");
	char *mac = m ? xstrndup(m + 11, 17) : xstrdup("");
	free(out);
	return mac;
}

static bool link_exists(const char *netns, const char *dev)
{
	const char *argv[] = { "-o", "link", "show", "dev", dev, NULL };
	return run_ip(netns, NULL, argv) == 0;
}

static int ip_or_fail(const char *netns, struct cni_err *e, const char *what, const char *const *argv)
{
	char *out = NULL;
	int rc = run_ip(netns, &out, argv);
	if (rc != 0) {
		if (out)
			out[strcspn(out, "\n")] = 0;
		cni_fail(e, CNI_IO_FAILURE, what, "ip %s %s%s: %s", argv[0], argv[1] ? argv[1] : "",
			 netns ? " (in the container's namespace)" : "", out && *out ? out : "failed");
	}
	free(out);
	return rc == 0 ? 0 : -1;
}

static void write_proc(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(v, f);
		fclose(f);
	}
}

static json_t *result(const struct cni_conf *c, const struct cni_env *ev, const char *host,
		      const struct ipaddr *ip)
{
	char ipt[64], addr[80];
	char *hmac = mac_of(NULL, host), *cmac = mac_of(ev->netns, ev->ifname);
	bool old = c->version[0] == '0';

	ip_format(ip, ipt, sizeof(ipt));
	snprintf(addr, sizeof(addr), "%s/32", ipt);
	json_t *ipj = json_pack("{s:s,s:s,s:i}", "address", addr, "gateway", CNI_GATEWAY, "interface", 1);
	if (old)
		json_object_set_new(ipj, "version", json_string("4"));
	json_t *r = json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s,s:s}],s:[o],s:[{s:s,s:s}],s:O}", "cniVersion", c->version,
			      "interfaces", "name", host, "mac", hmac, "name", ev->ifname, "mac", cmac, "sandbox", ev->netns,
			      "ips", ipj, "routes", "dst", "0.0.0.0/0", "gw", CNI_GATEWAY,
			      "dns", c->dns ? c->dns : json_object());
	free(hmac);
	free(cmac);
	return r;
}

static int cmd_add(const struct cni_env *ev, const struct cni_conf *c, struct cni_err *e, json_t **out)
{
	char host[16], ipt[64], addr[80], mtu[16], ppid[24];
	struct ipaddr ip;

	if (!netns_exists(ev->netns))
		return cni_fail(e, CNI_UNKNOWN_CONTAINER, "container network namespace not found", "CNI_NETNS=%s: %s",
				ev->netns, strerror(errno));
	if (link_exists(ev->netns, ev->ifname))
		return cni_fail(e, CNI_IFACE_EXISTS, "interface already exists",
				"%s already exists in %s; DEL the attachment first", ev->ifname, ev->netns);
	cni_host_ifname(ev->container_id, ev->ifname, host);
	if (link_exists(NULL, host)) {
		/* Left by an ADD that died half-way: its container side is gone, so is it. */
		const char *del[] = { "link", "del", host, NULL };
		run_ip(NULL, NULL, del);
		ipam_release(c, ev->container_id, ev->ifname, NULL);
	}
	if (ipam_allocate(c, ev->container_id, ev->ifname, host, &ip, e) < 0)
		return -1;
	ip_format(&ip, ipt, sizeof(ipt));
	snprintf(addr, sizeof(addr), "%s/32", ipt);
	snprintf(mtu, sizeof(mtu), "%d", c->mtu);
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	/* Created inside the container's namespace, the host end sent to ours by PID: this
	 * works for any CNI_NETNS path, named or not. */
	const char *add[] = { "link", "add", ev->ifname, "mtu", mtu, "type", "veth", "peer", "name", host, "mtu", mtu,
			      "netns", ppid, NULL };
	const char *cup[] = { "link", "set", ev->ifname, "up", NULL };
	const char *lo[] = { "link", "set", "lo", "up", NULL };
	const char *caddr[] = { "addr", "add", addr, "dev", ev->ifname, NULL };
	const char *gw[] = { "route", "add", CNI_GATEWAY, "dev", ev->ifname, "scope", "link", NULL };
	const char *def[] = { "route", "add", "default", "via", CNI_GATEWAY, "dev", ev->ifname, NULL };
	const char *hup[] = { "link", "set", host, "up", NULL };
	const char *hroute[] = { "route", "replace", addr, "dev", host, "scope", "link", NULL };
	if (ip_or_fail(ev->netns, e, "cannot create the veth pair", add) < 0)
		goto undo_ip;
	if (ip_or_fail(ev->netns, e, "cannot configure the container interface", lo) < 0 ||
	    ip_or_fail(ev->netns, e, "cannot configure the container interface", caddr) < 0 ||
	    ip_or_fail(ev->netns, e, "cannot configure the container interface", cup) < 0 ||
	    ip_or_fail(ev->netns, e, "cannot add the container's routes", gw) < 0 ||
	    ip_or_fail(ev->netns, e, "cannot add the container's routes", def) < 0 ||
	    ip_or_fail(NULL, e, "cannot configure the host interface", hup) < 0 ||
	    ip_or_fail(NULL, e, "cannot route to the container", hroute) < 0)
		goto undo_link;
	/* The gateway is link-local and nothing routes to it, so proxy ARP alone would not
	 * answer for it: the pod gets a permanent neighbour entry with the host side's MAC
	 * (proxy ARP stays on for the addresses the node does route). */
	char *pa = xasprintf("/proc/sys/net/ipv4/conf/%s/proxy_arp", host);
	write_proc(pa, "1");
	free(pa);
	char *hmac = mac_of(NULL, host);
	const char *neigh[] = { "neigh", "replace", CNI_GATEWAY, "lladdr", hmac, "dev", ev->ifname, "nud", "permanent", NULL };
	int nrc = ip_or_fail(ev->netns, e, "cannot set the gateway's neighbour entry", neigh);
	free(hmac);
	if (nrc < 0)
		goto undo_link;
	*out = result(c, ev, host, &ip);
	return 0;
undo_link:;
	const char *del[] = { "link", "del", host, NULL };
	run_ip(NULL, NULL, del);
undo_ip:
	ipam_release(c, ev->container_id, ev->ifname, NULL);
	return -1;
}

static int cmd_del(const struct cni_env *ev, const struct cni_conf *c)
{
	char host[16], *recorded = NULL;

	cni_host_ifname(ev->container_id, ev->ifname, host);
	ipam_release(c, ev->container_id, ev->ifname, &recorded);
	const char *del[] = { "link", "del", recorded && *recorded ? recorded : host, NULL };
	run_ip(NULL, NULL, del); /* absent is fine: DEL is idempotent */
	if (netns_exists(ev->netns)) {
		const char *cdel[] = { "link", "del", ev->ifname, NULL };
		if (link_exists(ev->netns, ev->ifname))
			run_ip(ev->netns, NULL, cdel);
	}
	free(recorded);
	return 0;
}

static int cmd_check(const struct cni_env *ev, const struct cni_conf *c, struct cni_err *e)
{
	char host[16], ipt[64], want[80];
	struct ipaddr ip;
	char *out = NULL;

	if (!c->prev_result)
		return cni_fail(e, CNI_INVALID_CONFIG, "invalid network configuration", "CHECK needs prevResult");
	if (!netns_exists(ev->netns))
		return cni_fail(e, CNI_UNKNOWN_CONTAINER, "container network namespace not found", "CNI_NETNS=%s", ev->netns);
	if (ipam_find(c, ev->container_id, ev->ifname, &ip) < 0)
		return cni_fail(e, CNI_CHECK_FAILED, "check failed", "no address is allocated to %s/%s", ev->container_id, ev->ifname);
	ip_format(&ip, ipt, sizeof(ipt));
	snprintf(want, sizeof(want), "%s/32", ipt);
	const char *prev = json_string_value(json_object_get(json_array_get(json_object_get(c->prev_result, "ips"), 0), "address"));
	if (!prev || strcmp(prev, want))
		return cni_fail(e, CNI_CHECK_FAILED, "check failed", "prevResult has %s, the allocation is %s", prev ? prev : "no address", want);
	const char *addr[] = { "-o", "addr", "show", "dev", ev->ifname, NULL };
	if (run_ip(ev->netns, &out, addr) != 0 || !strstr(out, want)) {
		free(out);
		return cni_fail(e, CNI_CHECK_FAILED, "check failed", "%s in %s does not carry %s", ev->ifname, ev->netns, want);
	}
	free(out);
	out = NULL;
	const char *routes[] = { "route", "show", "default", NULL };
	if (run_ip(ev->netns, &out, routes) != 0 || !strstr(out, "via " CNI_GATEWAY)) {
		free(out);
		return cni_fail(e, CNI_CHECK_FAILED, "check failed", "the container has no default route via " CNI_GATEWAY);
	}
	free(out);
	out = NULL;
	cni_host_ifname(ev->container_id, ev->ifname, host);
	const char *hr[] = { "route", "show", want, NULL };
	if (!link_exists(NULL, host) || run_ip(NULL, &out, hr) != 0 || !strstr(out, host)) {
		free(out);
		return cni_fail(e, CNI_CHECK_FAILED, "check failed", "the host has no route to %s via %s", want, host);
	}
	free(out);
	return 0;
}

static void drop_host(const char *host)
{
	const char *del[] = { "link", "del", host, NULL };
	run_ip(NULL, NULL, del);
}

int main(void)
{
	struct cni_env ev = { env("CNI_COMMAND"), env("CNI_CONTAINERID"), env("CNI_NETNS"),
			      env("CNI_IFNAME"), env("CNI_ARGS"), env("CNI_PATH") };
	struct cni_err e = { 0 };
	struct cni_conf c = { 0 };
	json_t *out = NULL;
	char *in = NULL;
	size_t len = 0;
	int rc = -1;

	if (!ev.command) {
		cni_fail(&e, CNI_INVALID_ENV, "required environment variables missing", "CNI_COMMAND is not set");
		goto done;
	}
	/* VERSION may come with or without a configuration on stdin. */
	if (!strcmp(ev.command, "VERSION")) {
		json_t *vs = json_array();
		for (const char *const *v = cni_versions; *v; v++)
			json_array_append_new(vs, json_string(*v));
		if (read_file("-", &in, &len) == 0 && len) {
			json_t *j = json_loadb(in, len, 0, NULL);
			const char *want = json_string_value(json_object_get(j, "cniVersion"));
			if (want && !cni_version_supported(want)) {
				cni_fail(&e, CNI_INCOMPATIBLE_VERSION, "incompatible CNI version", "cniVersion %s is not supported", want);
				json_decref(j);
				json_decref(vs);
				goto done;
			}
			json_decref(j);
		}
		out = json_pack("{s:s,s:o}", "cniVersion", "1.1.0", "supportedVersions", vs);
		rc = 0;
		goto done;
	}
	static const char *const add_env[] = { "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH", NULL };
	static const char *const del_env[] = { "CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH", NULL };
	static const char *const path_env[] = { "CNI_PATH", NULL };
	const char *const *needs;
	if (!strcmp(ev.command, "ADD") || !strcmp(ev.command, "CHECK"))
		needs = add_env;
	else if (!strcmp(ev.command, "DEL"))
		needs = del_env;
	else if (!strcmp(ev.command, "STATUS") || !strcmp(ev.command, "GC"))
		needs = path_env;
	else {
		cni_fail(&e, CNI_INVALID_ENV, "unknown CNI_COMMAND",
			 "\"%s\": expected ADD, DEL, CHECK, STATUS, GC or VERSION", ev.command);
		goto done;
	}
	if (need_env(&ev, needs, &e) < 0)
		goto done;
	if (read_file("-", &in, &len) < 0) {
		cni_fail(&e, CNI_IO_FAILURE, "cannot read the network configuration", "stdin: %s", strerror(errno));
		goto done;
	}
	if (cni_conf_parse(in, len, true, &c, &e) < 0)
		goto done;
	if (!strcmp(ev.command, "ADD")) {
		rc = cmd_add(&ev, &c, &e, &out);
	} else if (!strcmp(ev.command, "DEL")) {
		rc = cmd_del(&ev, &c);
	} else if (!strcmp(ev.command, "CHECK")) {
		rc = cmd_check(&ev, &c, &e);
	} else if (!strcmp(ev.command, "STATUS")) {
		long left = ipam_free_count(&c);
		rc = left > 0 ? 0 : cni_fail(&e, CNI_NOT_AVAILABLE, "plugin not available",
					     "no free addresses are left in the pod range");
	} else {
		if (!json_is_array(c.valid_attachments)) {
			cni_fail(&e, CNI_INVALID_CONFIG, "invalid network configuration",
				 "GC needs cni.dev/valid-attachments (an array; [] releases everything)");
			goto done;
		}
		ipam_gc(&c, c.valid_attachments, drop_host);
		rc = 0;
	}
done:
	if (rc < 0) {
		json_t *err = json_pack("{s:s,s:i,s:s,s:s}", "cniVersion", c.version ? c.version : "1.1.0", "code", e.code,
					"msg", e.msg ? e.msg : "error", "details", e.details ? e.details : "");
		out = err;
	}
	if (out) {
		char *s = json_dumps(out, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(out);
	}
	free(e.msg);
	free(e.details);
	free(in);
	cni_conf_free(&c);
	return rc < 0 ? 1 : 0;
}
