/* tulle-cni: a CNI plugin (spec 1.0/1.1) that wires a pod with a veth pair, a /32
 * address from the node's pod CIDR and a link-local gateway answered by proxy ARP on
 * the host side (the eBPF datapath attaches there). */
#ifndef TULLE_CNI_H
#define TULLE_CNI_H

#include <jansson.h>
#include <stdbool.h>

#include "../lib/cidr.h"

/* The spec's well-known error codes, and ours from 100. */
enum cni_code {
	CNI_INCOMPATIBLE_VERSION = 1,
	CNI_UNSUPPORTED_FIELD = 2,
	CNI_UNKNOWN_CONTAINER = 3,
	CNI_INVALID_ENV = 4,
	CNI_IO_FAILURE = 5,
	CNI_DECODE_FAILURE = 6,
	CNI_INVALID_CONFIG = 7,
	CNI_TRY_AGAIN = 11,
	CNI_NOT_AVAILABLE = 50,
	CNI_LIMITED = 51,
	CNI_IFACE_EXISTS = 100,
	CNI_CHECK_FAILED = 101,
	CNI_NO_ADDRESSES = 102,
};

#define CNI_GATEWAY "169.254.1.1"

struct cni_conf {
	json_t *raw;
	char *version, *name;
	struct cidr subnet;
	struct ipaddr range_start, range_end;
	char *data_dir;
	int mtu;
	json_t *dns, *prev_result, *valid_attachments;
};

struct cni_env {
	const char *command, *container_id, *netns, *ifname, *args, *path;
};

/* An error to report: printed as the spec's error JSON by main. */
struct cni_err {
	int code;
	char *msg, *details;
};

int cni_fail(struct cni_err *e, int code, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* conf.c */
int cni_conf_parse(const char *text, size_t len, bool need_ipam, struct cni_conf *c, struct cni_err *e);
void cni_conf_free(struct cni_conf *c);
bool cni_version_supported(const char *v);
extern const char *const cni_versions[];

/* ipam.c: one file per address under DATA_DIR/NETWORK, created with O_EXCL and fsynced
 * under an flock, so an address is never handed out twice, crash or not. */
int ipam_allocate(const struct cni_conf *c, const char *container_id, const char *ifname,
		  const char *host_if, struct ipaddr *out, struct cni_err *e);
/* Releases what (container, ifname) holds; *host_if gets the recorded host interface
 * (caller frees) when asked. Returns the number released. */
int ipam_release(const struct cni_conf *c, const char *container_id, const char *ifname,
		 char **host_if);
int ipam_find(const struct cni_conf *c, const char *container_id, const char *ifname,
	      struct ipaddr *out);
/* Releases every attachment not in valid (a JSON array of {containerID, ifname}),
 * calling drop(host_if) for each. Returns the number released. */
int ipam_gc(const struct cni_conf *c, const json_t *valid, void (*drop)(const char *host_if));
/* Free addresses left in the range. */
long ipam_free_count(const struct cni_conf *c);

/* netns.c: runs `ip` with argv, in the network namespace at path (NULL: ours).
 * Returns the exit status, output (stdout+stderr) in *out when out is given. */
int run_ip(const char *netns, char **out, const char *const *argv);
bool netns_exists(const char *path);

#endif
