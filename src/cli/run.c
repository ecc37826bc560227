/* `tulle run` (a pod, as kubectl run makes it), `tulle exec` (a command in a pod, over
 * the API's pods/exec as kubectl does it) and `tulle logs`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../client/exec.h"
#include "cli.h"

/* A pod by name, or the first running pod of deployment/NAME. Caller frees. */
static json_t *find_pod(struct client *cl, const char *ns, const char *ref)
{
	char *err;
	int code;

	if (str_has_prefix(ref, "deployment/") || str_has_prefix(ref, "deploy/")) {
		const char *name = strchr(ref, '/') + 1;
		char *dp = xasprintf("/apis/apps/v1/namespaces/%s/deployments/%s", ns, name);
		json_t *d = client_json(cl, "GET", dp, NULL, NULL, &code, &err);
		free(dp);
		if (!d || code != 200) {
			if (d)
				cli_print_status(d, code, NULL);
			json_decref(d);
			return NULL;
		}
		struct strbuf q;
		const char *k;
		json_t *v;
		sb_init(&q);
		json_object_foreach(json_object_get(json_object_get(json_object_get(d, "spec"), "selector"), "matchLabels"), k, v)
			sb_printf(&q, "%s%s%%3D%s", q.len ? "%2C" : "", k, json_string_value(v));
		char *lp = xasprintf("/api/v1/namespaces/%s/pods?labelSelector=%s", ns, q.buf ? q.buf : "");
		json_t *list = client_json(cl, "GET", lp, NULL, NULL, &code, &err);
		json_t *pick = NULL;
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(list, "items"), i, p)
			if (!pick && !strcmp(json_string_value(json_object_get(json_object_get(p, "status"), "phase")) ?: "", "Running"))
				pick = json_incref(p);
		if (!pick)
			fprintf(stderr, "error: deployment %s has no running pod\n", name);
		json_decref(list);
		json_decref(d);
		free(lp);
		sb_free(&q);
		return pick;
	}
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", ns, ref);
	json_t *pod = client_json(cl, "GET", path, NULL, NULL, &code, &err);
	free(path);
	if (!pod || code != 200) {
		if (pod)
			cli_print_status(pod, code, NULL);
		else
			fprintf(stderr, "error: %s\n", err);
		json_decref(pod);
		return NULL;
	}
	return pod;
}

/* Runs argv in the pod through the API (pods/exec, relayed to the pod's node), as
 * kubectl does; returns the command's exit status. A terminal is used only when our
 * stdin is one (kubectl's rule), so piped output has no carriage returns. */
static int exec_via_api(struct client *cl, const char *ns, const json_t *pod, char **argv, bool in, bool tty)
{
	char *err = NULL;
	const char *name = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")) ?: "";
	int rc = client_exec(cl, ns, name, argv, in, tty && in && isatty(0), &err);

	if (rc < 0) {
		fprintf(stderr, "%s%s\n", str_has_prefix(err ? err : "", "Error from server") ? "" : "error: ", err ? err : "exec failed");
		free(err);
		return 1;
	}
	return rc;
}

int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS };
	struct common_opts o = { 0 };
	int c;

	bool in = false, tty = false;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:ith", opts, NULL)) != -1) {
		if (c == 'i' || c == 't') {
			*(c == 'i' ? &in : &tty) = true;
			continue;
		}
		if (c == 'h' || !common_option(c, optarg, &o)) {
			fprintf(stderr, "usage: tulle exec [-i] [-t] [-n NS] POD|deployment/NAME -- CMD...\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 >= argc) {
		fprintf(stderr, "usage: tulle exec [-i] [-t] [-n NS] POD|deployment/NAME -- CMD...\n");
		return 2;
	}
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	const char *ns = o.ns ? o.ns : "default";
	json_t *pod = find_pod(&cl, ns, argv[optind]);
	if (!pod) {
		client_free(&cl);
		return 1;
	}
	int rc = exec_via_api(&cl, ns, pod, argv + optind + 1, in, tty);
	json_decref(pod);
	client_free(&cl);
	return rc;
}

static int print_line(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
	fflush(stdout);
	return 0;
}

int cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = { { "tail", required_argument, NULL, 'T' }, { "follow", no_argument, NULL, 'f' },
					      COMMON_OPTIONS };
	struct common_opts o = { 0 };
	int c, tail = -1;
	bool follow = false;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:fh", opts, NULL)) != -1) {
		if (c == 'T')
			tail = atoi(optarg);
		else if (c == 'f')
			follow = true;
		else if (!common_option(c, optarg, &o)) {
			fprintf(stderr, "usage: tulle logs POD|deployment/NAME [-f] [--tail=N] [-n NS]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: tulle logs POD|deployment/NAME [-f] [--tail=N] [-n NS]\n");
		return 2;
	}
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	const char *ns = o.ns ? o.ns : "default";
	json_t *pod = find_pod(&cl, ns, argv[optind]);
	if (!pod) {
		client_free(&cl);
		return 1;
	}
	/* pods/log, as kubectl asks for it: the server sends it on to the pod's node. */
	char tailq[32] = "";
	if (tail >= 0)
		snprintf(tailq, sizeof(tailq), "&tailLines=%d", tail);
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s/log?follow=%s%s", ns,
			       json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")),
			       follow ? "true" : "false", tailq);
	json_decref(pod);
	int rc = 0;
	char *err = NULL;
	if (follow) {
		rc = client_stream(&cl, path, print_line, NULL, &err) < 0 ? 1 : 0;
	} else {
		struct http_msg resp;
		if (client_do(&cl, "GET", path, NULL, NULL, 0, &resp, &err) < 0) {
			rc = 1;
		} else {
			if (resp.status != 200) {
				json_t *st = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
				cli_print_status(st, resp.status, NULL);
				json_decref(st);
				rc = 1;
			} else {
				fwrite(resp.body ? resp.body : "", 1, resp.body_len, stdout);
			}
			http_msg_free(&resp);
		}
	}
	if (err)
		fprintf(stderr, "error: %s\n", err);
	free(err);
	free(path);
	client_free(&cl);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' }, { "port", required_argument, NULL, 'p' },
		{ "env", required_argument, NULL, 'e' }, { "labels", required_argument, NULL, 'l' },
		{ "rm", no_argument, NULL, 'r' }, { "stdin", no_argument, NULL, 'i' + 256 }, { "tty", no_argument, NULL, 't' },
		{ "restart", required_argument, NULL, 'R' },
		COMMON_OPTIONS,
	};
	struct common_opts o = { 0 };
	const char *image = NULL, *labels = NULL, *restart = NULL;
	int port = 0, c;
	bool rm = false, interactive = false, tty = false;
	json_t *env = json_array();

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:l:ith", opts, NULL)) != -1) {
		switch (c) {
		case 'r': rm = true; break;
		case 't': tty = true; break;
		case 'i' + 256: interactive = true; break;
		case 'R': restart = optarg; break;
		case 'i':
			if (!optarg) { /* -i, interactive */
				interactive = true;
				break;
			}
			image = optarg;
			break;
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
	/* With --rm the command runs attached (as an exec in the pod) while the pod idles;
	 * without it the command is the pod's own process. */
	if (rm && optind < argc)
		json_object_set_new(ctr, "command", json_pack("[s,s]", "sleep", "infinity"));
	else if (optind < argc) {
		json_t *cmd = json_array();
		for (int i = optind; i < argc; i++)
			json_array_append_new(cmd, json_string(argv[i]));
		json_object_set_new(ctr, "command", cmd);
	}
	json_t *pod = json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:{s:[o]}}", "apiVersion", "v1", "kind", "Pod", "metadata",
				"name", name, "namespace", o.ns ? o.ns : "default", "labels", lab, "spec", "containers", ctr);
	if (restart)
		json_object_set_new(json_object_get(pod, "spec"), "restartPolicy", json_string(restart));
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
	} else if (!rm) {
		printf("pod/%s created\n", name);
		rc = 0;
	} else {
		/* Wait for it to run, run the command inside, then remove the pod. */
		char *pp = xasprintf("%s/%s", path, name);
		json_t *cur = NULL;
		for (int t = 0; t < 150; t++) {
			json_decref(cur);
			cur = client_json(&cl, "GET", pp, NULL, NULL, &code, &err);
			if (!cur)
				free(err);
			if (cur && !strcmp(json_string_value(json_object_get(json_object_get(cur, "status"), "phase")) ?: "", "Running"))
				break;
			usleep(200000);
		}
		bool running = cur && !strcmp(json_string_value(json_object_get(json_object_get(cur, "status"), "phase")) ?: "",
					      "Running");
		if (running && optind < argc)
			rc = exec_via_api(&cl, o.ns ? o.ns : "default", cur, argv + optind, interactive, tty);
		else if (!running)
			fprintf(stderr, "error: pod %s did not start\n", name);
		else
			rc = 0;
		json_decref(cur);
		json_t *gone = client_json(&cl, "DELETE", pp, NULL, NULL, &code, &err);
		if (gone)
			printf("pod \"%s\" deleted\n", name);
		else
			free(err);
		json_decref(gone);
		free(pp);
	}
	json_decref(r);
	json_decref(pod);
	free(path);
	client_free(&cl);
	return rc;
}

