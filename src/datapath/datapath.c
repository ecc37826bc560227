/* Loading and attaching the tc programs; map pins per node. */
#define _GNU_SOURCE 1
#include "datapath.h"

#include <errno.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../lib/util.h"
#include "datapath_int.h"
#include "tl_datapath.skel.h"

#define BPF_FS_MAGIC 0xcafe4a11

static int mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0700) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

static int ensure_bpffs(char **err)
{
	struct statfs s;
	if (statfs("/sys/fs/bpf", &s) == 0 && (unsigned long)s.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0) {
		*err = xasprintf("cannot mount bpffs on /sys/fs/bpf: %s (run as root, or mount it: "
				 "mount -t bpf bpf /sys/fs/bpf)", strerror(errno));
		return -1;
	}
	return 0;
}

/* A map pinned by an earlier agent keeps its size unless the operator asked for
 * another, which needs the old pin removed (its connections would be lost). */
static int size_map(struct bpf_map *m, const char *pin_dir, uint32_t want, char **err)
{
	if (pin_dir) {
		char *path = xasprintf("%s/%s", pin_dir, bpf_map__name(m));
		int fd = bpf_obj_get(path);
		if (fd >= 0) {
			struct bpf_map_info info = { 0 };
			uint32_t len = sizeof(info);
			int rc = bpf_obj_get_info_by_fd(fd, &info, &len);
			close(fd);
			if (rc == 0 && want && info.max_entries != want) {
				*err = xasprintf("map %s is pinned with %u entries but %u were asked for: keep the "
						 "size, or remove %s (its state is lost) and start the agent again",
						 bpf_map__name(m), info.max_entries, want, path);
				free(path);
				return -1;
			}
			if (rc == 0)
				want = info.max_entries;
		}
		free(path);
	}
	return want ? bpf_map__set_max_entries(m, want) : 0;
}

/* libbpf's own messages, minus the one every attach to an existing clsact qdisc
 * produces (we create it when missing and expect EEXIST otherwise). */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char buf[1024];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (strstr(buf, "Exclusivity flag on"))
		return 0;
	return fputs(buf, stderr);
}

int dp_open(struct datapath **out, const struct dp_opts *o, char **err)
{
	struct datapath *dp = xcalloc(1, sizeof(*dp));
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);

	*err = NULL;
	libbpf_set_print(libbpf_log);
	if (o->pin_dir) {
		if (ensure_bpffs(err) < 0)
			goto fail;
		int rc = mkdir_p(o->pin_dir);
		if (rc < 0) {
			*err = xasprintf("cannot create %s: %s", o->pin_dir, strerror(-rc));
			goto fail;
		}
	}
	dp->skel = tl_datapath__open_opts(&oo);
	if (!dp->skel) {
		*err = xasprintf("cannot open the datapath programs: %s", strerror(errno));
		goto fail;
	}
	struct tl_datapath *s = dp->skel;
	if (!o->pin_dir) {
		struct bpf_map *m;
		bpf_object__for_each_map(m, s->obj)
			bpf_map__set_pin_path(m, NULL);
	}
	if (size_map(s->maps.tl_svc, o->pin_dir, o->svc_max, err) < 0 ||
	    size_map(s->maps.tl_slots, o->pin_dir, o->slots_max, err) < 0 ||
	    size_map(s->maps.tl_ct, o->pin_dir, o->ct_max, err) < 0 ||
	    size_map(s->maps.tl_affinity, o->pin_dir, o->affinity_max, err) < 0)
		goto fail;
	int rc = tl_datapath__load(s);
	if (rc) {
		*err = xasprintf("cannot load the datapath programs: %s (libbpf's messages above say why: the "
				 "verifier's log, or a map pinned in %s by a build with another layout; removing that "
				 "directory loses its connections' state)", strerror(-rc), o->pin_dir ? o->pin_dir : "-");
		goto fail;
	}
	/* A pinned config keeps its policy revision and aggregation level. */
	struct tl_config cfg = { 0 };
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(s->maps.tl_config), &zero, &cfg) < 0 || !cfg.hairpin_ip)
		cfg.aggregation = TL_AGG_MEDIUM;
	cfg.node_ip = o->node_ip;
	cfg.hairpin_ip = htonl(TL_HAIRPIN_IP_HOST);
	if (bpf_map_update_elem(bpf_map__fd(s->maps.tl_config), &zero, &cfg, BPF_ANY) < 0) {
		*err = xasprintf("cannot write the datapath config: %s", strerror(errno));
		goto fail;
	}
	dp->svc_fd = bpf_map__fd(s->maps.tl_svc);
	dp->slots_fd = bpf_map__fd(s->maps.tl_slots);
	dp->ct_fd = bpf_map__fd(s->maps.tl_ct);
	dp->aff_fd = bpf_map__fd(s->maps.tl_affinity);
	dp->metrics_fd = bpf_map__fd(s->maps.tl_metrics);
	dp->pct_fd = bpf_map__fd(s->maps.tl_pct);
	dp->traffic_fd = bpf_map__fd(s->maps.tl_traffic);
	*out = dp;
	return 0;
fail:
	dp_close(dp);
	return -1;
}

void dp_close(struct datapath *dp)
{
	if (!dp)
		return;
	if (dp->skel)
		tl_datapath__destroy(dp->skel);
	free(dp);
}

int dp_prog_fd(struct datapath *dp, enum dp_hook h)
{
	struct tl_datapath *s = dp->skel;
	switch (h) {
	case DP_FROM_POD: return bpf_program__fd(s->progs.tl_from_pod);
	case DP_TO_POD: return bpf_program__fd(s->progs.tl_to_pod);
	case DP_FROM_NET: return bpf_program__fd(s->progs.tl_from_net);
	case DP_FROM_HOST: return bpf_program__fd(s->progs.tl_from_host);
	}
	return -1;
}

/* tc attachments made through netlink outlive the agent, which is what lets an
 * agent restart leave traffic alone; the new agent replaces them in place. */
int dp_attach(struct datapath *dp, const char *ifname, enum dp_hook h, char **err)
{
	unsigned idx = if_nametoindex(ifname);
	if (!idx) {
		*err = xasprintf("no device %s to attach the datapath to", ifname);
		return -1;
	}
	bool egress = h == DP_TO_POD || h == DP_FROM_HOST;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)idx, .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	int rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST) {
		*err = xasprintf("cannot add the clsact qdisc to %s: %s", ifname, strerror(-rc));
		return -1;
	}
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = 1, .priority = 1, .prog_fd = dp_prog_fd(dp, h),
		    .flags = BPF_TC_F_REPLACE);
	rc = bpf_tc_attach(&hook, &to);
	if (rc) {
		*err = xasprintf("cannot attach the datapath to %s %s: %s", ifname, egress ? "egress" : "ingress",
				 strerror(-rc));
		return -1;
	}
	return 0;
}

static const char *const metric_names[TL_M_MAX] = {
	[TL_M_PACKETS] = "packets",
	[TL_M_SVC_NEW] = "service_connections",
	[TL_M_CT_HIT] = "conntrack_hits",
	[TL_M_REJECT_NO_ENDPOINTS] = "rejected_no_endpoints",
	[TL_M_SNAT_NO_PORT] = "dropped_snat_no_port",
	[TL_M_DROP_MALFORMED] = "dropped_malformed",
	[TL_M_FIB_FAIL] = "fib_lookup_failed",
	[TL_M_FLOWS] = "flow_events",
	[TL_M_FLOWS_LOST] = "flow_events_lost",
	[TL_M_POLICY_RECHECK] = "policy_rechecks",
};

/* Hubble's drop_reason_desc names where one exists. */
static const char *const reason_names[TL_R_MAX] = {
	[TL_R_NONE] = "NONE",
	[TL_R_POLICY_DENIED] = "POLICY_DENIED",
	[TL_R_POLICY_DENY] = "POLICY_DENY",
	[TL_R_PROXY_UNAVAILABLE] = "PROXY_REDIRECTION_NOT_AVAILABLE",
	[TL_R_UNKNOWN_ENDPOINT] = "UNKNOWN_ENDPOINT",
	[TL_R_NO_BACKEND] = "SERVICE_BACKEND_NOT_FOUND",
	[TL_R_INVALID] = "INVALID_PACKET_DROPPED",
	[TL_R_NAT_NO_PORT] = "SNAT_NO_PORT_AVAILABLE",
	[TL_R_CT_FULL] = "CT_MAP_INSERTION_FAILED",
};

const char *dp_reason_name(int r)
{
	return r >= 0 && r < TL_R_MAX ? reason_names[r] : "UNKNOWN";
}

int dp_traffic(struct datapath *dp, struct tl_traffic out[TL_R_MAX * 2])
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return -1;
	struct tl_traffic *v = xcalloc((size_t)ncpu, sizeof(*v));
	for (uint32_t i = 0; i < TL_R_MAX * 2; i++) {
		out[i] = (struct tl_traffic){ 0, 0 };
		if (bpf_map_lookup_elem(dp->traffic_fd, &i, v) == 0)
			for (int c = 0; c < ncpu; c++) {
				out[i].packets += v[c].packets;
				out[i].bytes += v[c].bytes;
			}
	}
	free(v);
	return 0;
}

const char *dp_metric_name(int i)
{
	return i >= 0 && i < TL_M_MAX ? metric_names[i] : "?";
}

int dp_metrics(struct datapath *dp, uint64_t out[TL_M_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return -1;
	uint64_t *v = xcalloc((size_t)ncpu, sizeof(*v));
	for (uint32_t i = 0; i < TL_M_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(dp->metrics_fd, &i, v) == 0)
			for (int c = 0; c < ncpu; c++)
				out[i] += v[c];
	}
	free(v);
	return 0;
}

static size_t map_entries(int fd, size_t key_size)
{
	char k[64], nk[64];
	size_t n = 0;
	if (key_size > sizeof(k))
		return 0;
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, nk) == 0) {
		n++;
		memcpy(k, nk, key_size);
		prev = k;
	}
	return n;
}

size_t dp_usage(struct datapath *dp, struct dp_map_usage *out, size_t max)
{
	struct tl_datapath *s = dp->skel;
	struct bpf_map *maps[] = { s->maps.tl_svc, s->maps.tl_slots, s->maps.tl_ct, s->maps.tl_affinity,
				   s->maps.tl_ipcache, s->maps.tl_policy, s->maps.tl_pct };
	size_t n = 0;
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]) && n < max; i++, n++) {
		out[n].name = bpf_map__name(maps[i]);
		out[n].max = bpf_map__max_entries(maps[i]);
		out[n].entries = map_entries(bpf_map__fd(maps[i]), bpf_map__key_size(maps[i]));
	}
	return n;
}
