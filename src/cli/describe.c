/* `tulle describe`: the object as kubectl describes custom resources: metadata first,
 * then every field as an indented "Field Name: value" outline. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "podSelector" -> "Pod Selector", as kubectl's generic describer titles fields. */
static char *title(const char *key)
{
	struct strbuf sb;

	sb_init(&sb);
	for (const char *p = key; *p; p++) {
		if (p == key)
			sb_addc(&sb, (char)toupper((unsigned char)*p));
		else if (isupper((unsigned char)*p) && islower((unsigned char)p[-1]))
			sb_printf(&sb, " %c", *p);
		else
			sb_addc(&sb, *p);
	}
	return sb_detach(&sb);
}

static void scalar(const json_t *v)
{
	if (json_is_string(v))
		fputs(json_string_value(v), stdout);
	else {
		char *s = json_dumps(v, JSON_ENCODE_ANY);
		fputs(s ? s : "", stdout);
		free(s);
	}
}

static void outline(const json_t *v, int ind, bool titles)
{
	const char *k;
	json_t *c;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, c) {
			char *t = titles ? title(k) : xstrdup(k);
			printf("%*s%s:", ind, "", t);
			free(t);
			if (json_is_object(c) || json_is_array(c)) {
				if (!json_object_size(c) && !json_array_size(c)) {
					puts("");
					continue;
				}
				putchar('\n');
				/* Label-like maps keep their keys verbatim. */
				bool verbatim = !strcmp(k, "matchLabels") || !strcmp(k, "selector") ||
						!strcmp(k, "labels") || !strcmp(k, "annotations") || !strcmp(k, "data");
				outline(c, ind + 2, !verbatim);
			} else {
				printf("  ");
				scalar(c);
				putchar('\n');
			}
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c) {
			if (json_is_object(c) || json_is_array(c)) {
				outline(c, ind, titles);
			} else {
				printf("%*s", ind, "");
				scalar(c);
				putchar('\n');
			}
		}
	}
}

/* Labels print as key=value, annotations as key: value, as kubectl describe does. */
static void map_lines(const char *label, const json_t *m, const char *sep)
{
	const char *k;
	json_t *v;
	bool first = true;

	printf("%-13s", label);
	json_object_foreach((json_t *)m, k, v) {
		printf("%s%s%s%s\n", first ? "" : "             ", k, sep, json_string_value(v));
		first = false;
	}
	if (first)
		puts("<none>");
}

static void describe(const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *key;
	json_t *v;

	printf("%-13s%s\n", "Name:", json_string_value(json_object_get(md, "name")));
	if (json_object_get(md, "namespace"))
		printf("%-13s%s\n", "Namespace:", json_string_value(json_object_get(md, "namespace")));
	map_lines("Labels:", json_object_get(md, "labels"), "=");
	map_lines("Annotations:", json_object_get(md, "annotations"), ": ");
	printf("%-13s%s\n", "API Version:", json_string_value(json_object_get(obj, "apiVersion")));
	printf("%-13s%s\n", "Kind:", json_string_value(json_object_get(obj, "kind")));
	printf("Metadata:\n");
	printf("  Creation Timestamp:  %s\n", json_string_value(json_object_get(md, "creationTimestamp")) ?: "");
	printf("  Resource Version:    %s\n", json_string_value(json_object_get(md, "resourceVersion")) ?: "");
	printf("  UID:                 %s\n", json_string_value(json_object_get(md, "uid")) ?: "");
	json_object_foreach((json_t *)obj, key, v) {
		if (!strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "metadata"))
			continue;
		char *t = title(key);
		printf("%s:", t);
		free(t);
		if (json_is_object(v) || json_is_array(v)) {
			putchar('\n');
			outline(v, 2, strcmp(key, "data") != 0);
		} else {
			printf("  ");
			scalar(v);
			putchar('\n');
		}
	}
	printf("Events:       <none>\n");
}

int cmd_describe(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
	};
	struct common_opts o = { 0 };
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("usage: tulle describe KIND NAME... [-n NS]\n"); return 0;
		default:
			if (common_option(c, optarg, &o))
				break;
			fprintf(stderr, "usage: tulle describe KIND NAME... [-n NS]\n");
			return 2;
		}
	}
	if (argc - optind < 1) {
		fprintf(stderr, "usage: tulle describe KIND NAME... [-n NS]\n");
		return 2;
	}
	char *kind_arg = argv[optind++];
	char *slash = strchr(kind_arg, '/');
	char **names = argv + optind;
	int nnames = argc - optind;
	char *slash_name[1];
	if (slash) { /* kubectl's TYPE/NAME form */
		*slash = 0;
		slash_name[0] = slash + 1;
		names = slash_name;
		nnames = 1;
	}
	const struct skind *k = schema_kind_lookup(schema_get(), kind_arg);
	if (!k) {
		fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", kind_arg);
		return 1;
	}
	if (nnames < 1) {
		fprintf(stderr, "error: describe needs a NAME\n");
		return 2;
	}
	struct client cl;
	if (cli_connect(&cl, &o) < 0)
		return 1;
	for (int i = 0; i < nnames; i++) {
		char *path = api_path(k, o.ns ? o.ns : "default", names[i]), *err;
		int code;
		json_t *obj = client_json(&cl, "GET", path, NULL, NULL, &code, &err);
		free(path);
		if (!obj) {
			fprintf(stderr, "error: %s\n", err);
			free(err);
			rc = 1;
			continue;
		}
		if (code != 200) {
			cli_print_status(obj, code, NULL);
			rc = 1;
		} else {
			if (i)
				putchar('\n');
			describe(obj);
		}
		json_decref(obj);
	}
	client_free(&cl);
	return rc;
}
