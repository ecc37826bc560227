/* `tulle apply -f`: every object of every file, all or nothing, in one request. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tulle apply -f FILE|DIR|- [-f ...] [-R] [-n NS] [--dry-run=server]\n"
		   "       [--validate=strict|warn|ignore] [--server URL] [--token TOKEN]\n"
		   "Creates or updates every object in the files. Nothing is written unless every\n"
		   "object is valid and accepted.\n");
}

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "dry-run", required_argument, NULL, 'd' },
		{ "validate", required_argument, NULL, 'v' },
		COMMON_OPTIONS,
	};
	struct common_opts o = { 0 };
	char **files = NULL;
	size_t nfiles = 0;
	bool recursive = false, dry = false;
	int c, rc = 1, unknown = 0;
	static const char *const modes[] = { "Strict", "Warn", "Ignore" };

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:Rn:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			files = xrealloc(files, (nfiles + 1) * sizeof(char *));
			files[nfiles++] = optarg;
			break;
		case 'R': recursive = true; break;
		case 'd':
			if (strcmp(optarg, "server") && strcmp(optarg, "none")) {
				fprintf(stderr, "error: --dry-run takes server or none\n");
				free(files);
				return 2;
			}
			dry = !strcmp(optarg, "server");
			break;
		case 'v':
			if (!strcmp(optarg, "strict") || !strcmp(optarg, "true"))
				unknown = 0;
			else if (!strcmp(optarg, "warn"))
				unknown = 1;
			else if (!strcmp(optarg, "ignore") || !strcmp(optarg, "false"))
				unknown = 2;
			else {
				fprintf(stderr, "error: --validate takes strict, warn or ignore\n");
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
	if (!nfiles) {
		fprintf(stderr, "error: must specify -f FILE (a file, a directory or - for stdin)\n");
		usage(stderr);
		return 2;
	}
	struct manifest m;
	struct client cl;
	if (manifest_load_mode(&m, files, nfiles, recursive, o.ns, unknown)) {
		fprintf(stderr, "error: nothing was applied: fix the errors above and run apply again\n");
		manifest_free(&m);
		free(files);
		return 1;
	}
	if (cli_connect(&cl, &o) < 0) {
		manifest_free(&m);
		free(files);
		return 1;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < m.n; i++)
		json_array_append(items, m.v[i].obj);
	json_t *req = json_pack("{s:o,s:b,s:s}", "items", items, "dryRun", dry, "fieldValidation", modes[unknown]);
	int code = 0;
	char *err = NULL;
	json_t *resp = client_json(&cl, "POST", "/tulle/v1/apply", req, NULL, &code, &err);
	json_decref(req);
	if (!resp) {
		fprintf(stderr, "error: %s\n", err);
		free(err);
	} else if (code != 200) {
		json_t *idx = json_object_get(json_object_get(resp, "details"), "index");
		size_t i = idx ? (size_t)json_integer_value(idx) : 0;
		char *where = NULL;
		if (idx && i < m.n)
			where = xasprintf("%s:%d:%d: error when applying: ", m.v[i].file, m.v[i].line, m.v[i].col);
		cli_print_status(resp, code, where);
		fprintf(stderr, "error: nothing was applied\n");
		free(where);
	} else {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(resp, "results"), i, r) {
			size_t idx = (size_t)json_integer_value(json_object_get(r, "index"));
			char *ref = idx < m.n ? kind_ref(m.v[idx].kind) : xstrdup("object");
			printf("%s/%s %s%s\n", ref, json_string_value(json_object_get(r, "name")),
			       json_string_value(json_object_get(r, "action")), dry ? " (server dry run)" : "");
			free(ref);
		}
		rc = 0;
	}
	json_decref(resp);
	client_free(&cl);
	manifest_free(&m);
	free(files);
	return rc;
}
