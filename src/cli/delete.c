/* `tulle delete`: by KIND NAME, by KIND --all or -l SELECTOR (in one namespace or with
 * -A in all), or by the objects in files (-f). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tulle delete KIND NAME... [-n NS] | tulle delete KIND --all|-l SELECTOR [-n NS|-A]\n"
		   "       | tulle delete -f FILE|DIR|- [-R]\n"
		   "       [--ignore-not-found] [--cascade=background|orphan|foreground]\n");
}

static int delete_one(struct client *cl, const struct skind *k, const char *ns, const char *name,
		      bool ignore_missing, const char *cascade)
{
	char *path = api_path(k, ns, name), *err;
	char *full = cascade ? xasprintf("%s?propagationPolicy=%s", path, cascade) : xstrdup(path);
	int code, rc = 0;
	json_t *resp = client_json(cl, "DELETE", full, NULL, NULL, &code, &err);

	free(path);
	free(full);
	if (!resp) {
		fprintf(stderr, "error: %s\n", err);
		free(err);
		return 1;
	}
	if (code == 404 && ignore_missing) {
		rc = 0;
	} else if (code >= 400) {
		cli_print_status(resp, code, NULL);
		rc = 1;
	} else {
		char *ref = kind_ref(k);
		printf("%s \"%s\" deleted\n", ref, name);
		free(ref);
	}
	json_decref(resp);
	return rc;
}

/* Every object of kind k the list finds (a namespace, or all with ns NULL), as kubectl
 * does for --all and -l: listed, then deleted one by one. */
static int delete_listed(struct client *cl, const struct skind *k, const char *ns, const char *selector,
			 const char *cascade)
{
	char *path = api_path(k, ns, NULL), *enc = selector ? cli_query_escape(selector) : NULL;
	char *full = enc ? xasprintf("%s?labelSelector=%s", path, enc) : xstrdup(path);
	int rc = 0;
	json_t *list = cli_get(cl, full);

	free(path);
	free(full);
	free(enc);
	if (!list)
		return 1;
	size_t i, n = json_array_size(json_object_get(list, "items"));
	json_t *item;
	json_array_foreach(json_object_get(list, "items"), i, item) {
		const json_t *md = json_object_get(item, "metadata");
		/* Gone meanwhile is what was asked. */
		rc |= delete_one(cl, k, json_string_value(json_object_get(md, "namespace")),
				 json_string_value(json_object_get(md, "name")), true, cascade);
	}
	if (!n)
		fprintf(stderr, "No resources found%s%s\n", ns ? " in " : "", ns ? ns : "");
	json_decref(list);
	return rc;
}

int cmd_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "ignore-not-found", no_argument, NULL, 'i' },
		{ "cascade", required_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ "selector", required_argument, NULL, 'l' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		COMMON_OPTIONS,
	};
	struct common_opts o = { 0 };
	char **files = NULL;
	size_t nfiles = 0;
	bool recursive = false, ignore = false, all = false;
	const char *cascade = NULL, *selector = NULL;
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:Rn:l:Ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'l': selector = optarg; break;
		case 'A': o.all_ns = true; break;
		case 'f':
			files = xrealloc(files, (nfiles + 1) * sizeof(char *));
			files[nfiles++] = optarg;
			break;
		case 'R': recursive = true; break;
		case 'i': ignore = true; break;
		case 'c':
			if (!strcmp(optarg, "background") || !strcmp(optarg, "true"))
				cascade = "Background";
			else if (!strcmp(optarg, "orphan") || !strcmp(optarg, "false"))
				cascade = "Orphan";
			else if (!strcmp(optarg, "foreground"))
				cascade = "Foreground";
			else {
				fprintf(stderr, "error: --cascade takes background, orphan or foreground\n");
				free(files);
				return 2;
			}
			break;
		case 'h': usage(stdout); free(files); return 0;
		default:
			if (common_option(c, optarg, &o))
				break;
			usage(stderr);
			free(files);
			return 2;
		}
	}
	struct client cl;
	if (nfiles) {
		struct manifest m;
		if (manifest_load(&m, files, nfiles, recursive, o.ns)) {
			manifest_free(&m);
			free(files);
			return 1;
		}
		if (cli_connect(&cl, &o) < 0) {
			manifest_free(&m);
			free(files);
			return 1;
		}
		/* In reverse, so that namespaces go after what they hold. */
		for (size_t i = m.n; i-- > 0;) {
			json_t *md = json_object_get(m.v[i].obj, "metadata");
			const char *ns = json_string_value(json_object_get(md, "namespace"));
			rc |= delete_one(&cl, m.v[i].kind, ns ? ns : "default",
					 json_string_value(json_object_get(md, "name")), ignore, cascade);
		}
		manifest_free(&m);
	} else {
		bool listed = all || selector;
		if (listed ? argc - optind != 1 : argc - optind < 2) {
			if (listed)
				fprintf(stderr, "error: --all and -l take a KIND and no names\n");
			usage(stderr);
			free(files);
			return 2;
		}
		const struct skind *k = schema_kind_lookup(schema_get(), argv[optind]);
		if (!k) {
			fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", argv[optind]);
			free(files);
			return 1;
		}
		if (cli_connect(&cl, &o) < 0) {
			free(files);
			return 1;
		}
		if (listed)
			rc = delete_listed(&cl, k, o.all_ns || !k->namespaced ? NULL : o.ns ? o.ns : "default", selector,
					   cascade);
		for (int i = optind + 1; i < argc; i++)
			rc |= delete_one(&cl, k, o.ns ? o.ns : "default", argv[i], ignore, cascade);
	}
	client_free(&cl);
	free(files);
	return rc;
}
