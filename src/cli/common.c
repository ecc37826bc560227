#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../api/validate.h"
#include "../lib/proc.h"

char *kind_ref(const struct skind *k)
{
	return k->group[0] ? xasprintf("%s.%s", k->singular, k->group) : xstrdup(k->singular);
}

bool common_option(int c, const char *arg, struct common_opts *o)
{
	switch (c) {
	case 'n': o->ns = arg; return true;
	case 's': o->server = arg; return true;
	case 't': o->token = arg; return true;
	}
	return false;
}

int cli_connect(struct client *c, const struct common_opts *o)
{
	char *err;

	if (client_init(c, o->server, o->token, &err) < 0) {
		fprintf(stderr, "error: %s\n", err);
		free(err);
		return -1;
	}
	c->print_warnings = true;
	return 0;
}

int netns_exec(const char *ns, char *const *argv, bool replace)
{
	size_t n = 0;

	while (argv[n])
		n++;
	const char **av = xcalloc(n + 5, sizeof(char *));
	av[0] = "ip";
	av[1] = "netns";
	av[2] = "exec";
	av[3] = ns;
	for (size_t i = 0; i < n; i++)
		av[4 + i] = argv[i];
	if (replace) {
		execvp("ip", (char *const *)av);
		fprintf(stderr, "error: cannot run ip netns exec: %s\n", strerror(errno));
		free(av);
		return 127;
	}
	int rc = proc_run(av, NULL);
	free(av);
	return rc < 0 ? 127 : rc;
}

void cli_print_status(const json_t *body, int code, const char *prefix)
{
	char *t = client_status_text(body, code);

	fprintf(stderr, "%s%s\n", prefix ? prefix : "", t);
	free(t);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool manifest_name(const char *n)
{
	return str_has_suffix(n, ".yaml") || str_has_suffix(n, ".yml") || str_has_suffix(n, ".json");
}

/* Expands a path into files, kubectl's way: a directory gives its manifests. */
static int expand(const char *path, bool recursive, bool top, char ***files, size_t *n)
{
	struct stat st;

	if (!strcmp(path, "-")) {
		*files = xrealloc(*files, (*n + 1) * sizeof(char *));
		(*files)[(*n)++] = xstrdup(path);
		return 0;
	}
	if (stat(path, &st) < 0) {
		fprintf(stderr, "error: the path \"%s\" does not exist\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*files = xrealloc(*files, (*n + 1) * sizeof(char *));
		(*files)[(*n)++] = xstrdup(path);
		return 0;
	}
	if (!top && !recursive)
		return 0;
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t nn = 0;
	if (!d) {
		fprintf(stderr, "error: cannot read directory %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		names = xrealloc(names, (nn + 1) * sizeof(char *));
		names[nn++] = xasprintf("%s/%s", path, e->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof(char *), cmp_str);
	int rc = 0;
	for (size_t i = 0; i < nn; i++) {
		struct stat s2;
		if (rc == 0 && stat(names[i], &s2) == 0) {
			if (S_ISDIR(s2.st_mode))
				rc = expand(names[i], recursive, false, files, n);
			else if (manifest_name(names[i]))
				rc = expand(names[i], recursive, false, files, n);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static void add_obj(struct manifest *m, json_t *obj, const struct skind *k, const char *file,
		    int line, int col)
{
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->v[m->n++] = (struct manifest_obj){ obj, k, file, line, col };
}

/* Validates one object (a copy: the original is what gets sent). */
static int check_obj(struct manifest *m, struct doc *d, json_t *obj, const char *file,
		     const char *ns, int line, int col, int unknown)
{
	struct ferrs errs, warns;
	const struct skind *k;
	json_t *copy = json_deep_copy(obj);
	int bad = 0;

	ferrs_init(&errs);
	ferrs_init(&warns);
	/* Validation reports positions against the original tree, so it works on the
	 * original and keeps a pristine copy to send. */
	int rc = api_validate(obj, d, (enum unknown_mode)unknown, &k, &errs, &warns);
	for (size_t i = 0; i < warns.n; i++) {
		struct strbuf sb;
		sb_init(&sb);
		ferr_format(&sb, &warns.v[i]);
		fprintf(stderr, "%s:%d:%d: warning: %s (dropped)\n", file, line, col, sb.buf);
		sb_free(&sb);
	}
	ferrs_free(&warns);
	if (rc < 0) {
		struct strbuf sb;
		sb_init(&sb);
		api_format_errors(&sb, file, obj, &errs);
		fputs(sb.buf, stderr);
		sb_free(&sb);
		bad = (int)errs.n;
		json_decref(copy);
	} else if (k->local) {
		fprintf(stderr, "%s:%d:%d: %s is not an API object (it is read by tulle cluster create --config)\n",
			file, line, col, k->kind);
		json_decref(copy);
		bad = 1;
	} else {
		json_t *md = json_object_get(copy, "metadata");
		const char *ons = json_string_value(json_object_get(md, "namespace"));
		if (k->namespaced && ns && ons && *ons && strcmp(ons, ns) != 0) {
			fprintf(stderr, "%s:%d:%d: the namespace from the provided object \"%s\" does not match the namespace \"%s\". You must pass '--namespace=%s' to perform this operation.\n",
				file, line, col, ons, ns, ons);
			json_decref(copy);
			bad = 1;
		} else {
			if (k->namespaced && ns && (!ons || !*ons)) {
				if (!md) {
					md = json_object();
					json_object_set_new(copy, "metadata", md);
				}
				json_object_set_new(md, "namespace", json_string(ns));
			}
			add_obj(m, copy, k, file, line, col);
		}
	}
	ferrs_free(&errs);
	return bad;
}

int manifest_load(struct manifest *m, char **paths, size_t npaths, bool recursive,
		  const char *ns)
{
	return manifest_load_mode(m, paths, npaths, recursive, ns, 0);
}

int manifest_load_mode(struct manifest *m, char **paths, size_t npaths, bool recursive,
		       const char *ns, int unknown)
{
	char **files = NULL;
	size_t nfiles = 0;
	int bad = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < npaths; i++)
		if (expand(paths[i], recursive, true, &files, &nfiles) < 0)
			bad++;
	for (size_t i = 0; i < nfiles && !bad; i++) {
		char *text;
		size_t len;
		struct ferrs errs;
		struct doc **docs;
		size_t nd;
		const char *shown = strcmp(files[i], "-") ? files[i] : "STDIN";
		int rc = read_file(files[i], &text, &len);
		if (rc < 0) {
			fprintf(stderr, "error: cannot read %s: %s\n", shown, strerror(-rc));
			bad++;
			continue;
		}
		ferrs_init(&errs);
		if (doc_load_all(text, len, shown, &docs, &nd, &errs) < 0) {
			for (size_t e = 0; e < errs.n; e++)
				fprintf(stderr, "%s\n", errs.v[e].detail);
			bad += (int)errs.n;
		} else {
			for (size_t j = 0; j < nd; j++) {
				struct doc *d = docs[j];
				json_t *items = json_object_get(d->root, "items");
				const char *kind = json_string_value(json_object_get(d->root, "kind"));
				/* kubectl accepts a List and applies its items. */
				if (kind && !strcmp(kind, "List") && json_is_array(items)) {
					size_t k;
					json_t *it;
					json_array_foreach(items, k, it) {
						int line, col;
						doc_pos_index(d, items, k, &line, &col);
						bad += check_obj(m, d, it, d->file, ns, line, col, unknown);
					}
				} else {
					bad += check_obj(m, d, d->root, d->file, ns, d->line, d->col, unknown);
				}
				m->docs = xrealloc(m->docs, (m->ndocs + 1) * sizeof(*m->docs));
				m->docs[m->ndocs++] = d;
			}
			free(docs);
		}
		ferrs_free(&errs);
		free(text);
	}
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	if (!bad && m->n == 0) {
		fprintf(stderr, "error: no objects passed to apply\n");
		bad = 1;
	}
	return bad;
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		json_decref(m->v[i].obj);
	free(m->v);
	docs_free(m->docs, m->ndocs);
	memset(m, 0, sizeof(*m));
}

/* Percent-encodes a query parameter's value (selectors hold = , ! and spaces). */
char *cli_query_escape(const char *s)
{
	struct strbuf sb;

	sb_init(&sb);
	for (const char *p = s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-_.~", *p))
			sb_addc(&sb, *p);
		else
			sb_printf(&sb, "%%%02X", (unsigned char)*p);
	}
	return sb_detach(&sb);
}

json_t *cli_get(struct client *cl, const char *path)
{
	char *err = NULL;
	int code = 0;
	json_t *body = client_json(cl, "GET", path, NULL, NULL, &code, &err);

	if (body && code == 200)
		return body;
	if (body)
		cli_print_status(body, code, NULL);
	else
		fprintf(stderr, "error: %s\n", err);
	free(err);
	json_decref(body);
	return NULL;
}
