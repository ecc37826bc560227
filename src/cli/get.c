/* `tulle get`: kubectl's get, with its tables, -o yaml|json|wide|name, -l, -A and -w. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/columns.h"
#include "../lib/http.h"
#include "../lib/yaml_emit.h"
#include "cli.h"
#include "table.h"

struct get_opts {
	struct common_opts c;
	const char *output, *selector, *field_selector;
	bool watch, show_kind, no_headers;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tulle get KIND[,KIND...] [NAME...] [-n NS | -A] [-o wide|yaml|json|name]\n"
		   "       [-l SELECTOR] [--field-selector SELECTOR] [-w] [--no-headers] [--show-managed-fields]\n"
		   "KIND is a kind, plural, short name (svc, deploy, netpol, ...) or \"all\".\n");
}

static char *list_path(const struct skind *k, const struct get_opts *o, const char *ns, bool watch)
{
	char *base = api_path(k, ns, NULL);
	struct strbuf sb;

	sb_init(&sb);
	sb_adds(&sb, base);
	char sep = '?';
	if (o->selector) {
		char *e = cli_query_escape(o->selector);
		sb_printf(&sb, "%clabelSelector=%s", sep, e);
		sep = '&';
		free(e);
	}
	if (o->field_selector) {
		char *e = cli_query_escape(o->field_selector);
		sb_printf(&sb, "%cfieldSelector=%s", sep, e);
		sep = '&';
		free(e);
	}
	if (watch)
		sb_printf(&sb, "%cwatch=true", sep);
	free(base);
	return sb_detach(&sb);
}

static void header(const struct skind *k, const struct get_opts *o, char **cells, size_t *n)
{
	size_t nc;
	const struct column *cols = columns_for(k->kind, &nc);
	bool wide = o->output && !strcmp(o->output, "wide");

	*n = 0;
	if (o->c.all_ns && k->namespaced)
		cells[(*n)++] = xstrdup("NAMESPACE");
	cells[(*n)++] = xstrdup("NAME");
	for (size_t i = 0; i < nc; i++)
		if (!cols[i].wide || wide)
			cells[(*n)++] = xstrdup(cols[i].name);
	cells[(*n)++] = xstrdup("AGE");
}

static void row(const struct skind *k, const struct get_opts *o, const json_t *obj, char **cells,
		size_t *n)
{
	size_t nc;
	const struct column *cols = columns_for(k->kind, &nc);
	bool wide = o->output && !strcmp(o->output, "wide");
	const json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));

	*n = 0;
	if (o->c.all_ns && k->namespaced)
		cells[(*n)++] = xstrdup(json_string_value(json_object_get(md, "namespace")) ?: "");
	if (o->show_kind) {
		char *ref = kind_ref(k);
		cells[(*n)++] = xasprintf("%s/%s", ref, name ? name : "");
		free(ref);
	} else {
		cells[(*n)++] = xstrdup(name ? name : "");
	}
	for (size_t i = 0; i < nc; i++)
		if (!cols[i].wide || wide)
			cells[(*n)++] = cols[i].value(obj);
	cells[(*n)++] = human_age(json_string_value(json_object_get(md, "creationTimestamp")));
}

static void print_objects(const struct skind *k, const struct get_opts *o, json_t *items,
			  bool *first_block)
{
	size_t i;
	json_t *obj;
	const char *out = o->output ? o->output : "";

	if (!strcmp(out, "name")) {
		char *ref = kind_ref(k);
		json_array_foreach(items, i, obj)
			printf("%s/%s\n", ref, json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
		free(ref);
		*first_block = false;
		return;
	}
	char *cells[32];
	size_t n;
	struct table t;
	header(k, o, cells, &n);
	table_init(&t, n);
	if (!o->no_headers)
		table_add(&t, cells);
	else
		for (size_t j = 0; j < n; j++)
			free(cells[j]);
	json_array_foreach(items, i, obj) {
		row(k, o, obj, cells, &n);
		table_add(&t, cells);
	}
	if (!*first_block)
		putchar('\n');
	*first_block = false;
	table_print(&t, stdout);
	table_free(&t);
}

/* As kubectl: managedFields are bookkeeping, shown only when asked for. */
static bool show_managed;

static void hide_managed(json_t *v)
{
	size_t i;
	json_t *item;

	if (show_managed)
		return;
	json_object_del(json_object_get(v, "metadata"), "managedFields");
	json_array_foreach(json_object_get(v, "items"), i, item)
		json_object_del(json_object_get(item, "metadata"), "managedFields");
}

static void emit(json_t *v, const char *output)
{
	hide_managed(v);
	if (!strcmp(output, "json")) {
		char *s = json_dumps(v, JSON_INDENT(4) | JSON_ENCODE_ANY);
		printf("%s\n", s);
		free(s);
	} else {
		struct strbuf sb;
		sb_init(&sb);
		yaml_emit(&sb, v);
		fputs(sb.buf, stdout);
		sb_free(&sb);
	}
}

struct watch_ctx {
	const struct skind *k;
	const struct get_opts *o;
	bool header_done;
};

static int on_event(void *ctx, const char *line)
{
	struct watch_ctx *w = ctx;
	json_t *ev = json_loads(line, 0, NULL);
	json_t *obj = json_object_get(ev, "object");
	const char *type = json_string_value(json_object_get(ev, "type"));

	if (!ev)
		return 0;
	if (type && !strcmp(type, "ERROR")) {
		cli_print_status(obj, (int)json_integer_value(json_object_get(obj, "code")), NULL);
		json_decref(ev);
		return 1;
	}
	if (w->o->output && (!strcmp(w->o->output, "yaml") || !strcmp(w->o->output, "json"))) {
		emit(obj, w->o->output);
		if (!strcmp(w->o->output, "yaml"))
			puts("---");
	} else if (type && strcmp(type, "BOOKMARK") != 0) {
		char *cells[32];
		size_t n;
		struct table t;
		if (!w->header_done && !w->o->no_headers) {
			header(w->k, w->o, cells, &n);
			table_init(&t, n);
			table_add(&t, cells);
			table_print(&t, stdout);
			table_free(&t);
		}
		w->header_done = true;
		row(w->k, w->o, obj, cells, &n);
		table_init(&t, n);
		table_add(&t, cells);
		table_print(&t, stdout);
		table_free(&t);
	}
	fflush(stdout);
	json_decref(ev);
	return 0;
}

/* Resolves "svc,deploy" or "all" into kinds. */
static int resolve_kinds(const char *arg, const struct skind **out, size_t max, size_t *n)
{
	const struct schema *s = schema_get();
	char *copy = xstrdup(arg), *save = NULL;
	int rc = 0;

	*n = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "all")) {
			for (size_t i = 0; i < s->nkinds && *n < max; i++)
				for (size_t j = 0; j < s->kinds[i]->ncategories; j++)
					if (!strcmp(s->kinds[i]->categories[j], "all"))
						out[(*n)++] = s->kinds[i];
			continue;
		}
		const struct skind *k = schema_kind_lookup(s, t);
		if (!k) {
			fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", t);
			rc = -1;
			break;
		}
		if (*n < max)
			out[(*n)++] = k;
	}
	free(copy);
	return rc;
}

int cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "output", required_argument, NULL, 'o' },
		{ "selector", required_argument, NULL, 'l' },
		{ "field-selector", required_argument, NULL, 'F' },
		{ "watch", no_argument, NULL, 'w' },
		{ "no-headers", no_argument, NULL, 'H' },
		{ "show-managed-fields", no_argument, NULL, 'M' },
		COMMON_OPTIONS,
	};
	struct get_opts o = { 0 };
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:Ao:l:wh", opts, NULL)) != -1) {
		switch (c) {
		case 'A': o.c.all_ns = true; break;
		case 'o': o.output = optarg; break;
		case 'l': o.selector = optarg; break;
		case 'F': o.field_selector = optarg; break;
		case 'w': o.watch = true; break;
		case 'H': o.no_headers = true; break;
		case 'M': show_managed = true; break;
		case 'h': usage(stdout); return 0;
		default:
			if (common_option(c, optarg, &o.c))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (o.output && strcmp(o.output, "wide") && strcmp(o.output, "yaml") && strcmp(o.output, "json") &&
	    strcmp(o.output, "name")) {
		fprintf(stderr, "error: unable to match a printer suitable for the output format \"%s\", allowed formats are: json,name,wide,yaml\n", o.output);
		return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "error: you must specify the type of resource to get\n");
		usage(stderr);
		return 2;
	}
	const struct skind *kinds[64];
	size_t nk;
	char *kinds_arg = argv[optind++];
	char *slash = strchr(kinds_arg, '/');
	char *names_from_slash = NULL;
	if (slash) { /* kubectl's TYPE/NAME form */
		*slash = 0;
		names_from_slash = slash + 1;
	}
	if (resolve_kinds(kinds_arg, kinds, 64, &nk) < 0)
		return 1;
	const char *ns = o.c.all_ns ? NULL : o.c.ns ? o.c.ns : "default";
	o.show_kind = nk > 1;
	struct client cl;
	if (cli_connect(&cl, &o.c) < 0)
		return 1;
	const char *out = o.output ? o.output : "";
	bool structured = !strcmp(out, "yaml") || !strcmp(out, "json");
	json_t *all = json_array();
	bool first_block = true;
	char **names = argv + optind;
	int nnames = argc - optind;
	if (names_from_slash) {
		names = &names_from_slash;
		nnames = 1;
	}
	if (o.watch) {
		struct watch_ctx w = { kinds[0], &o, false };
		char *path = list_path(kinds[0], &o, ns, true);
		char *err;
		if (client_stream(&cl, path, on_event, &w, &err) < 0) {
			fprintf(stderr, "error: %s\n", err);
			free(err);
			rc = 1;
		}
		free(path);
		goto out;
	}
	for (size_t ki = 0; ki < nk; ki++) {
		const struct skind *k = kinds[ki];
		json_t *items = json_array();
		int code;
		char *err = NULL;
		if (nnames > 0) {
			for (int i = 0; i < nnames; i++) {
				char *path = api_path(k, ns ? ns : "default", names[i]);
				json_t *obj = client_json(&cl, "GET", path, NULL, NULL, &code, &err);
				free(path);
				if (!obj) {
					fprintf(stderr, "error: %s\n", err);
					free(err);
					rc = 1;
				} else if (code != 200) {
					cli_print_status(obj, code, NULL);
					json_decref(obj);
					rc = 1;
				} else {
					json_array_append_new(items, obj);
				}
			}
		} else {
			char *path = list_path(k, &o, ns, false);
			json_t *list = client_json(&cl, "GET", path, NULL, NULL, &code, &err);
			free(path);
			if (!list) {
				fprintf(stderr, "error: %s\n", err);
				free(err);
				rc = 1;
			} else if (code != 200) {
				cli_print_status(list, code, NULL);
				rc = 1;
			} else {
				json_array_extend(items, json_object_get(list, "items"));
			}
			json_decref(list);
		}
		if (structured)
			json_array_extend(all, items);
		else if (json_array_size(items))
			print_objects(k, &o, items, &first_block);
		json_decref(items);
	}
	if (structured) {
		if (nnames == 1 && nk == 1 && json_array_size(all) == 1)
			emit(json_array_get(all, 0), out);
		else if (json_array_size(all) || rc == 0) {
			json_t *list = json_pack("{s:s,s:O,s:s,s:{s:s}}", "apiVersion", "v1", "items", all,
						 "kind", "List", "metadata", "resourceVersion", "");
			emit(list, out);
			json_decref(list);
		}
	} else if (first_block && rc == 0) {
		if (ns)
			fprintf(stderr, "No resources found in %s namespace.\n", ns);
		else
			fprintf(stderr, "No resources found\n");
	}
out:
	json_decref(all);
	client_free(&cl);
	return rc;
}
