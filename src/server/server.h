/* The API server: state shared by its parts (connections, routing, object writes,
 * watches, allocators). One thread, one event loop; writes are serialized by design. */
#ifndef TULLE_SERVER_H
#define TULLE_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../api/schema.h"
#include "../lib/cidr.h"
#include "../lib/loop.h"
#include "../lib/util.h"
#include "../store/store.h"

#define API_MAX_BODY (3 * 1024 * 1024) /* as kube-apiserver's default request limit */

/* A bitmap allocator over [0, size), with an undo log so a rolled-back transaction
 * gives back what it took. */
struct bitmap_alloc {
	uint8_t *bits;
	uint64_t size, cursor, used;
};

struct alloc_undo {
	struct bitmap_alloc *a;
	uint64_t off;
	bool was_set;
};

struct pending_event {
	int64_t rev;
	enum store_ev type;
	const struct skind *kind;
	char *ns, *name;
	json_t *obj, *prev;
};

struct watcher;

struct server_config {
	char *state_dir;
	char **listen; /* "unix:///path" or "tcp://127.0.0.1:6443" */
	size_t nlisten;
	char *token;   /* bearer token for TCP listeners */
	struct cidr service_cidr;
	struct cidr lb_pool; /* LoadBalancer ingress addresses; prefix 0 = none configured */
	bool has_lb_pool;
	char *pki_dir; /* certificates for HTTPS listeners (default STATE/pki) */
	bool durable;
	/* A node's API (the kubelet's part): no store; pods/exec, attach and log for the
	 * pods whose records are in state_dir/pods, found by namespace and name. */
	bool node_api;
	int64_t history; /* events kept for watch resumption */
};

typedef struct ssl_ctx_st SSL_CTX;

struct apiserver {
	struct server_config cfg;
	SSL_CTX *tls; /* for https:// listeners */
	struct store *store;
	const struct schema *schema;
	struct loop *loop;
	struct bitmap_alloc cluster_ips, node_ports;
	struct alloc_undo *undo;
	size_t nundo;
	struct pending_event *pending;
	size_t npending;
	struct watcher *watchers;
	bool in_txn;
	/* The field manager of the request being served (NULL: the server's own controllers),
	 * and whether the write's managedFields are final already (server-side apply). */
	const char *field_manager;
	bool fields_final;
	/* Controllers' work list: namespaces with changes since their last pass (NULL
	 * before the first pass: all), and whether a LoadBalancer waits for an address. */
	json_t *ctl_dirty;      /* namespaces whose pods or deployments changed: a full pass there */
	json_t *ctl_dirty_svcs; /* "ns/name" of Services (or their slices) that changed: that service only */
	bool ctl_lb_wanted;
	struct row_cache *rows; /* rendered Table rows (table.c) */
};

/* alloc.c */
void alloc_init(struct bitmap_alloc *a, uint64_t size);
void alloc_free(struct bitmap_alloc *a);
bool alloc_test(const struct bitmap_alloc *a, uint64_t off);
int alloc_take(struct apiserver *s, struct bitmap_alloc *a, uint64_t off);
int alloc_next(struct apiserver *s, struct bitmap_alloc *a, uint64_t from, uint64_t *off);
void alloc_release(struct apiserver *s, struct bitmap_alloc *a, uint64_t off);
/* Service allocations: ClusterIP(s) and NodePorts; fills them into spec. old is the
 * stored object on update (NULL on create). Errors are a Status (caller frees). */
int alloc_service(struct apiserver *s, json_t *svc, const json_t *old, json_t **status);
void alloc_service_release(struct apiserver *s, const json_t *svc);
/* Rebuilds allocator state from the stored Services. */
int alloc_rebuild(struct apiserver *s);

/* txn.c: transactions spanning the store, the allocators and pending watch events. */
int txn_begin(struct apiserver *s);
/* Loads (or makes) the certificates for https:// listeners into s->tls. */
int server_tls_setup(struct apiserver *s, char **err);
int txn_commit(struct apiserver *s);
void txn_rollback(struct apiserver *s);
void txn_event(struct apiserver *s, int64_t rev, enum store_ev type, const struct skind *k,
	       const char *ns, const char *name, json_t *obj, json_t *prev);

/* status.c: Kubernetes Status objects. */
json_t *status_new(int code, const char *reason, const char *message);
json_t *status_not_found(const struct skind *k, const char *name);
json_t *status_already_exists(const struct skind *k, const char *name);
json_t *status_conflict(const struct skind *k, const char *name, const char *why);
json_t *status_bad_request(const char *message);
json_t *status_internal(const char *what, int err);
/* A field error list as a 422 Invalid Status, with details.causes. */
struct ferrs;
json_t *status_invalid(const struct skind *k, const char *name, const struct ferrs *errs);
json_t *status_success(const struct skind *k, const char *name, const char *uid);

/* watch.c */
void watch_dispatch(struct apiserver *s, const struct pending_event *ev);
void watch_close_all(struct apiserver *s);

#endif
