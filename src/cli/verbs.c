/* kubectl's imperative verbs, with its flags: create namespace|deployment, expose,
 * label, annotate, scale, set env, rollout restart|status, patch, logs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Sends one request and prints kubectl's line or the Status. */
static int send(struct client *cl, const char *method, const char *path, json_t *body, const char *ctype,
		const char *ok_line, json_t **out)
{
	char *err;
	int code;
	json_t *r = client_json(cl, method, path, body, ctype, &code, &err);

	if (!r) {
		fprintf(stderr, "error: %s\n", err);
		free(err);
		return 1;
	}
	if (code >= 400) {
		cli_print_status(r, code, NULL);
		json_decref(r);
		return 1;
	}
	if (ok_line)
		printf("%s\n", ok_line);
	if (out)
		*out = r;
	else
		json_decref(r);
	return 0;
}

/* A merge patch of one named object, printing "KIND/NAME <done>" as kubectl does. */
static int patch_named(const struct common_opts *o, const struct skind *k, const char *name, json_t *patch,
		       const char *done)
{
	struct client cl;
	if (cli_connect(&cl, o) < 0)
		return 1;
	char *path = api_path(k, o->ns ? o->ns : "default", name), *ref = kind_ref(k);
	char *line = xasprintf("%s/%s %s", ref, name, done);
	int rc = send(&cl, "PATCH", path, patch, "application/merge-patch+json", line, NULL);
	free(path);
	free(ref);
	free(line);
	client_free(&cl);
	return rc;
}

/* "deployment/web" or ("deployment", "web"): the kind and name. */
static int target(int argc, char **argv, int *i, const struct skind **k, const char **name)
{
	if (*i >= argc)
		return -1;
	char *slash = strchr(argv[*i], '/');
	if (slash) {
		*slash = 0;
		*k = schema_kind_lookup(schema_get(), argv[*i]);
		*name = slash + 1;
		(*i)++;
	} else {
		*k = schema_kind_lookup(schema_get(), argv[(*i)++]);
		if (*i >= argc)
			return -1;
		*name = argv[(*i)++];
	}
	if (!*k) {
		fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", argv[*i - (slash ? 1 : 2)]);
		return -2;
	}
	return 0;
}

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' }, { "replicas", required_argument, NULL, 'r' },
		{ "port", required_argument, NULL, 'p' }, COMMON_OPTIONS,
	};
	struct common_opts o = { 0 };
	const char *image = NULL;
	int replicas = 1, port = 0, c;

	optind = 2;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		if (c == 'i')
			image = optarg;
		else if (c == 'r')
			replicas = atoi(optarg);
		else if (c == 'p')
			port = atoi(optarg);
		else if (!common_option(c, optarg, &o)) {
			fprintf(stderr, "usage: tulle create namespace NAME | deployment NAME --image=IMG [--replicas=N] [--port=N] [-n NS]\n");
			return 2;
		}
	}
	const char *what = argc > 1 ? argv[1] : "";
	if (optind >= argc) {
		fprintf(stderr, "usage: tulle create namespace NAME | deployment NAME --image=IMG [--replicas=N]\n");
		return 2;
	}
	const char *name = argv[optind];
	const char *ns = o.ns ? o.ns : "default";
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	int rc;
	char *line;
	if (!strcmp(what, "namespace") || !strcmp(what, "ns")) {
		json_t *obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", name);
		line = xasprintf("namespace/%s created", name);
		rc = send(&cl, "POST", "/api/v1/namespaces", obj, NULL, line, NULL);
		json_decref(obj);
	} else if (!strcmp(what, "deployment") || !strcmp(what, "deploy")) {
		if (!image) {
			fprintf(stderr, "error: required flag(s) \"image\" not set\n");
			client_free(&cl);
			return 2;
		}
		/* As kubectl: label app=NAME, container named after the image. */
		char *cname = xstrdup(strrchr(image, '/') ? strrchr(image, '/') + 1 : image);
		cname[strcspn(cname, ":@")] = 0;
		json_t *ctr = json_pack("{s:s,s:s}", "name", cname, "image", image);
		if (port)
			json_object_set_new(ctr, "ports", json_pack("[{s:i}]", "containerPort", port));
		json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:i,s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[o]}}}}",
					"apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", name, "namespace", ns,
					"labels", "app", name, "spec", "replicas", replicas, "selector", "matchLabels", "app", name,
					"template", "metadata", "labels", "app", name, "spec", "containers", ctr);
		char *path = xasprintf("/apis/apps/v1/namespaces/%s/deployments", ns);
		line = xasprintf("deployment.apps/%s created", name);
		rc = send(&cl, "POST", path, obj, NULL, line, NULL);
		json_decref(obj);
		free(path);
		free(cname);
	} else {
		fprintf(stderr, "error: tulle create takes namespace or deployment (use apply for the rest)\n");
		client_free(&cl);
		return 2;
	}
	free(line);
	client_free(&cl);
	return rc;
}

int cmd_expose(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' }, { "target-port", required_argument, NULL, 'T' },
		{ "type", required_argument, NULL, 'y' }, { "name", required_argument, NULL, 'N' },
		{ "protocol", required_argument, NULL, 'P' }, COMMON_OPTIONS,
	};
	struct common_opts o = { 0 };
	const char *type = "ClusterIP", *svcname = NULL, *proto = "TCP", *tport = NULL, *name;
	int port = 0, c, i;
	const struct skind *k;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		if (c == 'p')
			port = atoi(optarg);
		else if (c == 'T')
			tport = optarg;
		else if (c == 'y')
			type = optarg;
		else if (c == 'N')
			svcname = optarg;
		else if (c == 'P')
			proto = optarg;
		else if (!common_option(c, optarg, &o))
			return 2;
	}
	i = optind;
	if (target(argc, argv, &i, &k, &name) < 0 || !port) {
		fprintf(stderr, "usage: tulle expose deployment NAME --port=N [--target-port=P] [--type=T] [--name=S] [-n NS]\n");
		return 2;
	}
	const char *ns = o.ns ? o.ns : "default";
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	char *path = api_path(k, ns, name);
	json_t *obj = NULL;
	int rc = send(&cl, "GET", path, NULL, NULL, NULL, &obj);
	free(path);
	if (rc) {
		client_free(&cl);
		return rc;
	}
	/* The selector: a Deployment's matchLabels, a Service's selector, a Pod's labels. */
	json_t *sel = json_object_get(json_object_get(json_object_get(obj, "spec"), "selector"), "matchLabels");
	if (!sel)
		sel = json_object_get(json_object_get(obj, "spec"), "selector");
	if (!sel || !strcmp(k->kind, "Pod"))
		sel = json_object_get(json_object_get(obj, "metadata"), "labels");
	json_t *p = json_pack("{s:i,s:s}", "port", port, "protocol", proto);
	if (tport) {
		char *end;
		long n = strtol(tport, &end, 10);
		json_object_set_new(p, "targetPort", *end ? json_string(tport) : json_integer(n));
	}
	json_t *svc = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:O,s:[o]}}", "apiVersion", "v1", "kind", "Service",
				"metadata", "name", svcname ? svcname : name, "namespace", ns, "spec", "type", type,
				"selector", sel, "ports", p);
	char *spath = xasprintf("/api/v1/namespaces/%s/services", ns);
	char *line = xasprintf("service/%s exposed", svcname ? svcname : name);
	rc = send(&cl, "POST", spath, svc, NULL, line, NULL);
	free(line);
	free(spath);
	json_decref(svc);
	json_decref(obj);
	client_free(&cl);
	return rc;
}

/* label / annotate: KIND NAME k=v k2- ... as a merge patch of metadata. */
static int meta_verb(int argc, char **argv, const char *field, const char *verb_done)
{
	static const struct option opts[] = { { "overwrite", no_argument, NULL, 'o' }, COMMON_OPTIONS };
	struct common_opts o = { 0 };
	bool overwrite = false;
	int c, i;
	const char *name;
	const struct skind *k;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		if (c == 'o')
			overwrite = true;
		else if (!common_option(c, optarg, &o))
			return 2;
	}
	i = optind;
	if (target(argc, argv, &i, &k, &name) < 0 || i >= argc) {
		fprintf(stderr, "usage: tulle %s KIND NAME key=value... [key-] [--overwrite] [-n NS]\n", argv[0]);
		return 2;
	}
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	char *path = api_path(k, o.ns ? o.ns : "default", name);
	json_t *cur = NULL;
	int rc = send(&cl, "GET", path, NULL, NULL, NULL, &cur);
	json_t *have = json_object_get(json_object_get(cur, "metadata"), field);
	json_t *set = json_object();
	for (; rc == 0 && i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq && str_has_suffix(argv[i], "-")) {
			char *key = xstrndup(argv[i], strlen(argv[i]) - 1);
			json_object_set_new(set, key, json_null());
			free(key);
			continue;
		}
		if (!eq) {
			fprintf(stderr, "error: %s: expected key=value or key-\n", argv[i]);
			rc = 2;
			break;
		}
		char *key = xstrndup(argv[i], (size_t)(eq - argv[i]));
		if (!overwrite && json_object_get(have, key) && strcmp(json_string_value(json_object_get(have, key)), eq + 1)) {
			fprintf(stderr, "error: '%s' already has a value (%s), and --overwrite is false\n", key,
				json_string_value(json_object_get(have, key)));
			rc = 1;
		}
		json_object_set_new(set, key, json_string(eq + 1));
		free(key);
	}
	if (rc == 0) {
		json_t *patch = json_pack("{s:{s:o}}", "metadata", field, set);
		rc = patch_named(&o, k, name, patch, verb_done);
		json_decref(patch);
	} else {
		json_decref(set);
	}
	json_decref(cur);
	free(path);
	client_free(&cl);
	return rc;
}

int cmd_label(int argc, char **argv)
{
	return meta_verb(argc, argv, "labels", "labeled");
}

int cmd_annotate(int argc, char **argv)
{
	return meta_verb(argc, argv, "annotations", "annotated");
}

int cmd_scale(int argc, char **argv)
{
	static const struct option opts[] = { { "replicas", required_argument, NULL, 'r' }, COMMON_OPTIONS };
	struct common_opts o = { 0 };
	int c, i, replicas = -1;
	const char *name;
	const struct skind *k;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		if (c == 'r')
			replicas = atoi(optarg);
		else if (!common_option(c, optarg, &o))
			return 2;
	}
	i = optind;
	if (target(argc, argv, &i, &k, &name) < 0 || replicas < 0) {
		fprintf(stderr, "usage: tulle scale deployment NAME --replicas=N [-n NS]\n");
		return 2;
	}
	json_t *patch = json_pack("{s:{s:i}}", "spec", "replicas", replicas);
	int rc = patch_named(&o, k, name, patch, "scaled");
	json_decref(patch);
	return rc;
}

/* set env deployment/NAME K=V [K2-]: every container of the pod template. */
int cmd_set(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS };
	struct common_opts o = { 0 };
	int c, i;
	const char *name;
	const struct skind *k;

	if (argc < 2 || strcmp(argv[1], "env")) {
		fprintf(stderr, "usage: tulle set env deployment/NAME KEY=VALUE... [KEY-] [-n NS]\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1)
		if (!common_option(c, optarg, &o))
			return 2;
	i = optind;
	if (target(argc, argv, &i, &k, &name) < 0 || i >= argc || strcmp(k->kind, "Deployment")) {
		fprintf(stderr, "usage: tulle set env deployment/NAME KEY=VALUE... [KEY-] [-n NS]\n");
		return 2;
	}
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	char *path = api_path(k, o.ns ? o.ns : "default", name);
	json_t *d = NULL;
	int rc = send(&cl, "GET", path, NULL, NULL, NULL, &d);
	size_t ci;
	json_t *ctr;
	json_array_foreach(json_object_get(json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec"),
					   "containers"), ci, ctr) {
		json_t *env = json_object_get(ctr, "env");
		if (!env) {
			env = json_array();
			json_object_set_new(ctr, "env", env);
		}
		for (int a = i; a < argc; a++) {
			char *eq = strchr(argv[a], '=');
			size_t kl = eq ? (size_t)(eq - argv[a]) : strlen(argv[a]) - 1;
			for (size_t e = json_array_size(env); e-- > 0;) {
				const char *en = json_string_value(json_object_get(json_array_get(env, e), "name"));
				if (en && strlen(en) == kl && !strncmp(en, argv[a], kl))
					json_array_remove(env, e);
			}
			if (eq) {
				char *key = xstrndup(argv[a], kl);
				json_array_append_new(env, json_pack("{s:s,s:s}", "name", key, "value", eq + 1));
				free(key);
			}
		}
	}
	if (rc == 0) {
		char *line = xasprintf("deployment.apps/%s env updated", name);
		rc = send(&cl, "PUT", path, d, NULL, line, NULL);
		free(line);
	}
	json_decref(d);
	free(path);
	client_free(&cl);
	return rc;
}

/* Whether a Deployment's rollout is complete, as kubectl's rollout status decides: the
 * controller saw the current generation, every replica runs the current template, no
 * old pod remains and all are available. Sets *msg to what it waits for otherwise. */
static bool rollout_done(const json_t *d, char *msg, size_t len)
{
	const json_t *meta = json_object_get(d, "metadata"), *spec = json_object_get(d, "spec"),
		     *st = json_object_get(d, "status");
	json_int_t gen = json_integer_value(json_object_get(meta, "generation"));
	json_int_t seen = json_integer_value(json_object_get(st, "observedGeneration"));
	const json_t *rj = json_object_get(spec, "replicas");
	json_int_t want = rj ? json_integer_value(rj) : 1;
	json_int_t updated = json_integer_value(json_object_get(st, "updatedReplicas"));
	json_int_t total = json_integer_value(json_object_get(st, "replicas"));
	json_int_t avail = json_integer_value(json_object_get(st, "availableReplicas"));

	if (seen < gen)
		snprintf(msg, len, "Waiting for deployment spec update to be observed...");
	else if (updated < want)
		snprintf(msg, len, "Waiting for rollout to finish: %lld out of %lld new replicas have been updated...",
			 (long long)updated, (long long)want);
	else if (total > updated)
		snprintf(msg, len, "Waiting for rollout to finish: %lld old replicas are pending termination...",
			 (long long)(total - updated));
	else if (avail < updated)
		snprintf(msg, len, "Waiting for rollout to finish: %lld of %lld updated replicas are available...",
			 (long long)avail, (long long)updated);
	else
		return true;
	return false;
}

/* rollout status deployment NAME [--timeout D]: polls until the rollout completes. */
static int rollout_status(int argc, char **argv)
{
	static const struct option opts[] = { { "timeout", required_argument, NULL, 'T' }, COMMON_OPTIONS };
	struct common_opts o = { 0 };
	double timeout = 0;
	int c, i;
	const char *name;
	const struct skind *k;

	optind = 2;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		if (c == 'T') {
			char *end;
			timeout = strtod(optarg, &end);
			if (*end == 'm')
				timeout *= 60;
			else if (*end && strcmp(end, "s")) {
				fprintf(stderr, "error: --timeout %s: give seconds, as 30s or 2m\n", optarg);
				return 2;
			}
		} else if (!common_option(c, optarg, &o)) {
			return 2;
		}
	}
	i = optind;
	if (target(argc, argv, &i, &k, &name) < 0 || strcmp(k->kind, "Deployment")) {
		fprintf(stderr, "usage: tulle rollout status deployment NAME [-n NS] [--timeout 60s]\n");
		return 2;
	}
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	char *path = api_path(k, o.ns ? o.ns : "default", name);
	uint64_t start = now_ns();
	char msg[160], last[160] = "";
	int rc = 1;
	for (;;) {
		json_t *d = NULL;
		int code = send(&cl, "GET", path, NULL, NULL, NULL, &d);
		if (code) {
			json_decref(d);
			break;
		}
		bool done = rollout_done(d, msg, sizeof(msg));
		json_decref(d);
		if (done) {
			printf("deployment \"%s\" successfully rolled out\n", name);
			rc = 0;
			break;
		}
		if (strcmp(msg, last)) {
			printf("%s\n", msg);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", msg);
		}
		if (timeout > 0 && (double)(now_ns() - start) / 1e9 > timeout) {
			fprintf(stderr, "error: timed out waiting for the condition\n");
			break;
		}
		usleep(200000);
	}
	free(path);
	client_free(&cl);
	return rc;
}

int cmd_rollout(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS };
	struct common_opts o = { 0 };
	int c, i;
	const char *name;
	const struct skind *k;
	char ts[32];

	if (argc >= 2 && !strcmp(argv[1], "status"))
		return rollout_status(argc, argv);
	if (argc < 2 || strcmp(argv[1], "restart")) {
		fprintf(stderr, "usage: tulle rollout restart|status deployment NAME [-n NS]\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1)
		if (!common_option(c, optarg, &o))
			return 2;
	i = optind;
	/* "rollout restart deployment" without a name: every deployment of the namespace. */
	bool all = i == argc - 1 && schema_kind_lookup(schema_get(), argv[i]) &&
		   !strcmp(schema_kind_lookup(schema_get(), argv[i])->kind, "Deployment");
	if (all) {
		k = schema_kind_lookup(schema_get(), argv[i]);
		name = NULL;
	} else if (target(argc, argv, &i, &k, &name) < 0) {
		fprintf(stderr, "usage: tulle rollout restart deployment [NAME] [-n NS]\n");
		return 2;
	}
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	const char *ns = o.ns ? o.ns : "default";
	json_t *names = json_array();
	if (all) {
		json_t *list = NULL;
		char *lp = api_path(k, ns, NULL);
		if (send(&cl, "GET", lp, NULL, NULL, NULL, &list) == 0) {
			size_t j;
			json_t *d;
			json_array_foreach(json_object_get(list, "items"), j, d)
				json_array_append(names, json_object_get(json_object_get(d, "metadata"), "name"));
		}
		json_decref(list);
		free(lp);
	} else {
		json_array_append_new(names, json_string(name));
	}
	/* As kubectl: a template annotation with the time, so the template (and its hash)
	 * changes and the pods are replaced. */
	rfc3339_now(ts);
	json_t *patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata", "annotations",
				  "kubectl.kubernetes.io/restartedAt", ts);
	int rc = 0;
	size_t j;
	json_t *nj;
	json_array_foreach(names, j, nj)
		rc |= patch_named(&o, k, json_string_value(nj), patch, "restarted");
	json_decref(patch);
	json_decref(names);
	client_free(&cl);
	return rc;
}

int cmd_patch(int argc, char **argv)
{
	static const struct option opts[] = { { "patch", required_argument, NULL, 'p' }, { "type", required_argument, NULL, 'T' },
					      COMMON_OPTIONS };
	struct common_opts o = { 0 };
	const char *patch = NULL, *type = "merge", *name;
	int c, i;
	const struct skind *k;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:p:h", opts, NULL)) != -1) {
		if (c == 'p')
			patch = optarg;
		else if (c == 'T')
			type = optarg;
		else if (!common_option(c, optarg, &o))
			return 2;
	}
	i = optind;
	if (target(argc, argv, &i, &k, &name) < 0 || !patch) {
		fprintf(stderr, "usage: tulle patch KIND NAME -p JSON [--type merge|strategic] [-n NS]\n");
		return 2;
	}
	json_error_t jerr;
	json_t *body = json_loads(patch, 0, &jerr);
	if (!body) {
		fprintf(stderr, "error: -p: %s at column %d\n", jerr.text, jerr.column);
		return 2;
	}
	/* Strategic merge equals a merge patch for maps (labels, annotations, replicas); the
	 * list merge keys arrive with full kubectl support. */
	if (strcmp(type, "merge") && strcmp(type, "strategic")) {
		fprintf(stderr, "error: --type takes merge or strategic\n");
		json_decref(body);
		return 2;
	}
	int rc = patch_named(&o, k, name, body, "patched");
	json_decref(body);
	return rc;
}
