/* What the agent's files share (not for other modules): the agent's state, passed to
 * every function explicitly, and each file's entry points.
 *
 *   agent.c      options, the event loop, informers and timers
 *   node.c       the Node object (registration, heartbeat, VTEP) and routes to other nodes
 *   pods.c       the pods scheduled here: network namespace, CNI, records, start and stop
 *   supervise.c  the pods' processes: what they run, restarts, status reports
 *   services.c   the service datapath: eBPF programs and maps, LoadBalancer announcements */
#ifndef TULLE_AGENT_INT_H
#define TULLE_AGENT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../client/client.h"
#include "../client/informer.h"
#include "../lib/loop.h"

struct datapath;

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

/* The service datapath's state (services.c). */
struct agent_svc {
	struct datapath *dp;
	unsigned long built[3]; /* informer generations the maps were built from */
	bool built_ok;
	json_t *announced;      /* LoadBalancer IPs on our uplink: ip -> true */
	unsigned long gc_deleted; /* conntrack entries GC removed */
};

/* Policy enforcement (policy.c): informers on what policy reads, the stable numbers
 * of identities and policies, and what flows are named by. */
#define POL_NINF 9
struct agent_pol {
	struct informer *inf[POL_NINF];
	unsigned long built[POL_NINF];
	bool built_ok;
	json_t *nums;      /* identity or policy key -> stable number */
	uint32_t next_num;
	json_t *names;     /* policy number (text) -> {kind, namespace, name} */
	json_t *endpoints; /* pod IP -> {namespace, pod_name, labels, node_name} */
	json_t *local_ips; /* "ns/name" -> IP of pods started here, until the API has them */
	unsigned long syncs;
	double last_sync_ms;
	size_t rules, identities;
};

struct flowstore;

struct agent {
	/* configuration */
	const char *node, *cluster, *pod_cidr, *node_ip, *state, *cni, *server, *cluster_dns, *domain;
	const char *service_cidr;
	uint32_t ct_max, svc_max;
	uint32_t flows_max;   /* flow events kept in memory */
	int aggregation;      /* TL_AGG_*, -1: leave the datapath's */
	bool vxlan; /* overlay (default) or native routing over the fabric */
	char self[4096];
	/* runtime */
	struct client cl;
	struct loop *loop;
	struct informer *nodes, *pods_inf, *services, *slices;
	json_t *routes; /* pod CIDR -> how it is reached, as installed */
	char vtep[64], vtep_mac[32];
	struct pod *pods;
	size_t npods;
	struct agent_svc svc;
	struct agent_pol pol;
	struct flowstore *flows;
	pid_t node_api_pid; /* `tulle server --node-api` serving exec, attach and logs */
	char *node_api_url;
	char *observer_url; /* flows and metrics (observer.c) */
};

/* policy.c */
void pol_start(struct agent *a);
/* Compiles and writes the policy maps when anything policy reads moved. */
void pol_sync(struct agent *a);
void pol_stop(struct agent *a);
/* A local pod's address, known before the API reports it: written to the maps now. */
void pol_pod_address(struct agent *a, const char *ns, const char *name, const char *ip);
/* GET /policy?local=IP&peer=IP&direction=ingress|egress&protocol=N&port=N: what this
 * node's maps decide for a new connection at the local pod (JSON). */
char *pol_lookup_json(struct agent *a, const char *query, int *status);

/* observer.c: flow events from the ring buffer, named and kept; /flows and /metrics
 * on STATE/observer.sock and on the node's address, port 9962. */
int obs_start(struct agent *a);
void obs_stop(struct agent *a);
struct strbuf;
void obs_metrics_text(struct agent *a, struct strbuf *sb);

/* agent.c */
/* Runs argv, collecting stdout+stderr into *out when given; returns the exit code. */
int agent_run(const char *const *argv, char **out);
/* One API call; logs and returns NULL when the server cannot be reached. */
json_t *agent_api(struct agent *a, const char *method, const char *path, json_t *body, const char *ctype,
		  int *code);

/* node.c */
int node_setup_vxlan(struct agent *a);
void node_register(struct agent *a);
/* The Node's annotations: the VTEP's MAC (overlay) and where the node API listens. */
void node_publish(struct agent *a);
void node_sync_routes(struct agent *a);

/* pods.c */
void pods_reconcile(struct agent *a);
/* Pods whose start failed (namespace, CNI) are started again. */
void pods_retry(struct agent *a);
void pods_save(struct agent *a, const struct pod *p);
void pods_make_dir(struct agent *a);

/* supervise.c */
pid_t supervise_start(struct agent *a, struct pod *p);
void supervise_report(struct agent *a, struct pod *p, bool running);
void supervise_reap(struct agent *a);

/* services.c */
int svc_init(struct agent *a);
void svc_pod(struct agent *a, const char *uid);
/* Brings the service maps to what the informers hold (a no-op when nothing moved). */
void svc_sync(struct agent *a);
/* Conntrack GC and the metrics file (every few seconds). */
void svc_housekeeping(struct agent *a);
void svc_close(struct agent *a);

#endif
