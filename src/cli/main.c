/* tulle: one binary, one table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "../agent/agent.h"
#include "../dns/dns.h"
#include "../server/server_main.h"
#include "cli.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *description;
} commands[] = {
	{ "apply", cmd_apply, "Create or update objects from files (all or nothing)" },
	{ "get", cmd_get, "List objects or show one, as tables, YAML or JSON" },
	{ "describe", cmd_describe, "Show an object in detail" },
	{ "delete", cmd_delete, "Delete objects by name or by file" },
	{ "api-resources", cmd_api_resources, "List the kinds the API serves" },
	{ "policy", cmd_policy, "Network policy: reachability matrix and trace" },
	{ "observe", cmd_observe, "Flows from every node, as Hubble's observe (filters, --follow, -o json)" },
	{ "cluster", cmd_cluster, "Create, delete, list or exec into local clusters" },
	{ "create", cmd_create, "Create a namespace or a deployment" },
	{ "expose", cmd_expose, "Expose a deployment or pod as a Service" },
	{ "run", cmd_run, "Run a pod (--rm -it: run a command in it, then remove it)" },
	{ "exec", cmd_exec, "Run a command in a pod or deployment/NAME (local cluster)" },
	{ "logs", cmd_logs, "Print a pod's output (local cluster)" },
	{ "label", cmd_label, "Set or remove labels" },
	{ "annotate", cmd_annotate, "Set or remove annotations" },
	{ "scale", cmd_scale, "Set a deployment's replicas" },
	{ "set", cmd_set, "set env: change a deployment's environment" },
	{ "rollout", cmd_rollout, "rollout restart|status: replace a deployment's pods, or wait for its rollout" },
	{ "patch", cmd_patch, "Apply a JSON merge patch" },
	{ "server", server_main, "Run the API server" },
	{ "agent", agent_main, "Run a node agent (started by tulle cluster create)" },
	{ "dns", dns_main, "Run the cluster DNS server (what the kube-dns Service's pods run)" },
	{ "workload", workload_main, "Run a built-in workload (what pods' images map to)" },
	{ "version", cmd_version, "Print the version" },
	{ "help", cmd_help, "Show this help" },
};

#define TULLE_VERSION "0.1.0"

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("tulle %s (Kubernetes API v1.32)\n", TULLE_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("tulle: a cloud-native networking stack\n\nusage: tulle COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-15s %s\n", commands[i].name, commands[i].description);
	printf("\nThe server is --server URL, $TULLE_SERVER, or the current local cluster.\n"
	       "`tulle COMMAND --help` shows a command's options.\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(0, NULL);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(0, NULL);
	fprintf(stderr, "tulle: unknown command \"%s\"; run `tulle help` for the list\n", argv[1]);
	return 2;
}
