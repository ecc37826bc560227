/* `tulle run` (a pod, as kubectl run makes it) and `tulle exec` (a command inside a
 * pod's network namespace on the local cluster). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent/agent.h"
#include "cli.h"

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' }, { "port", required_argument, NULL, 'p' },
		{ "env", required_argument, NULL, 'e' }, { "labels", required_argument, NULL, 'l' },
		COMMON_OPTIONS,
	};
	struct common_opts o = { 0 };
	const char *image = NULL, *labels = NULL;
	int port = 0, c;
	json_t *env = json_array();

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': image = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'l': labels = optarg; break;
		case 'e': {
			const char *eq = strchr(optarg, '=');
			char *k = eq ? xstrndup(optarg, (size_t)(eq - optarg)) : xstrdup(optarg);
			json_array_append_new(env, json_pack("{s:s,s:s}", "name", k, "value", eq ? eq + 1 : ""));
			free(k);
			break;
		}
		case 'h':
			printf("usage: tulle run NAME --image=IMAGE [--port=N] [--env K=V]... [-l k=v,...] [-n NS] [-- CMD ARGS...]\n");
			json_decref(env);
			return 0;
		default:
			if (common_option(c, optarg, &o))
				break;
			json_decref(env);
			return 2;
		}
	}
	if (optind >= argc || !image) {
		fprintf(stderr, "usage: tulle run NAME --image=IMAGE [--port=N] [-- CMD ARGS...]\n");
		json_decref(env);
		return 2;
	}
	const char *name = argv[optind++];
	json_t *lab = json_pack("{s:s}", "run", name);
	if (labels) {
		char *copy = xstrdup(labels), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(t, '=');
			if (eq) {
				*eq = 0;
				json_object_set_new(lab, t, json_string(eq + 1));
			}
		}
		free(copy);
	}
	json_t *ctr = json_pack("{s:s,s:s,s:o}", "name", name, "image", image, "env", env);
	if (port)
		json_object_set_new(ctr, "ports", json_pack("[{s:i}]", "containerPort", port));
	if (optind < argc) {
		json_t *cmd = json_array();
		for (int i = optind; i < argc; i++)
			json_array_append_new(cmd, json_string(argv[i]));
		json_object_set_new(ctr, "command", cmd);
	}
	json_t *pod = json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:{s:[o]}}", "apiVersion", "v1", "kind", "Pod", "metadata",
				"name", name, "namespace", o.ns ? o.ns : "default", "labels", lab, "spec", "containers", ctr);
	struct client cl;
	if (cli_connect(&cl, &o) < 0) {
		json_decref(pod);
		return 1;
	}
	char *path = xasprintf("/api/v1/namespaces/%s/pods", o.ns ? o.ns : "default"), *err;
	int code, rc = 1;
	json_t *r = client_json(&cl, "POST", path, pod, NULL, &code, &err);
	if (!r) {
		fprintf(stderr, "error: %s\n", err);
		free(err);
	} else if (code >= 400) {
		cli_print_status(r, code, NULL);
	} else {
		printf("pod/%s created\n", name);
		rc = 0;
	}
	json_decref(r);
	json_decref(pod);
	free(path);
	client_free(&cl);
	return rc;
}

/* The current cluster's name: the last part of the state directory it points at. */
static char *current_cluster(void)
{
	const char *h = getenv("TULLE_HOME"), *u = getenv("HOME");
	char *home = h && *h ? xstrdup(h) : xasprintf("%s/.tulle", u && *u ? u : "/root");
	char *cur = xasprintf("%s/current", home), *data;
	size_t len;
	char *name = NULL;

	if (read_file(cur, &data, &len) == 0) {
		data[strcspn(data, "\n")] = 0;
		char *slash = strrchr(data, '/');
		name = xstrdup(slash ? slash + 1 : data);
		free(data);
	}
	free(cur);
	free(home);
	return name;
}

int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS };
	struct common_opts o = { 0 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:ith", opts, NULL)) != -1) {
		if (c == 'i' || c == 't')
			continue; /* a terminal is passed through as is */
		if (c == 'h' || !common_option(c, optarg, &o)) {
			fprintf(stderr, "usage: tulle exec [-n NS] POD -- CMD...\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 >= argc) {
		fprintf(stderr, "usage: tulle exec [-n NS] POD -- CMD...\n");
		return 2;
	}
	const char *podname = argv[optind];
	char *cluster = current_cluster();
	if (!cluster) {
		fprintf(stderr, "error: exec works on the local cluster; none is current (tulle cluster create)\n");
		return 1;
	}
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", o.ns ? o.ns : "default", podname), *err;
	int code;
	json_t *pod = client_json(&cl, "GET", path, NULL, NULL, &code, &err);
	free(path);
	client_free(&cl);
	if (!pod || code != 200) {
		if (pod)
			cli_print_status(pod, code, NULL);
		else
			fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	char ns[64];
	agent_pod_netns(cluster, json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid")) ?: "", ns);
	size_t n = (size_t)(argc - optind - 1);
	const char **av = xcalloc(n + 5, sizeof(char *));
	av[0] = "ip";
	av[1] = "netns";
	av[2] = "exec";
	av[3] = ns;
	for (size_t i = 0; i < n; i++)
		av[4 + i] = argv[optind + 1 + i];
	execvp("ip", (char *const *)av);
	fprintf(stderr, "error: cannot run ip netns exec: %s\n", strerror(errno));
	return 127;
}
