/* The node agent (kubelet-like part): runs in a node's network namespace, registers the
 * Node, runs the pods scheduled to it (a network namespace each, wired by tulle-cni,
 * with a supervised process), reports their status, and routes other nodes' pod
 * CIDRs over the fabric. */
#ifndef TULLE_AGENT_H
#define TULLE_AGENT_H

int agent_main(int argc, char **argv);
int workload_main(int argc, char **argv);

/* What the agent records per pod, in STATE/pods/UID (one field per line). */
struct pod_record {
	char ns[256], name[256], netns[64], ip[64];
	int pid;
};

/* Reads a record; returns 0 or -1 when there is none. */
int agent_read_record(const char *path, struct pod_record *r);

/* The network namespace name of a pod of a cluster (uid: the pod's metadata.uid). */
void agent_pod_netns(const char *cluster, const char *uid, char out[64]);

#endif
