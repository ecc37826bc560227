#include "schema.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/util.h"

/* Generated at build time from the schema/ files (see the Makefile). */
extern const char tulle_schema_text[];

static const struct { const char *name; enum st_format f; } formats[] = {
	{ "dns1123label", FMT_DNS1123LABEL }, { "dns1123subdomain", FMT_DNS1123SUBDOMAIN },
	{ "dns1035label", FMT_DNS1035LABEL }, { "ip", FMT_IP }, { "cidr", FMT_CIDR },
	{ "ipOrCidr", FMT_IP_OR_CIDR }, { "portName", FMT_PORT_NAME },
	{ "portOrName", FMT_PORT_OR_NAME }, { "labelKey", FMT_LABEL_KEY },
	{ "labelValue", FMT_LABEL_VALUE }, { "hostname", FMT_HOSTNAME },
	{ "wildcardHost", FMT_WILDCARD_HOST }, { "httpPath", FMT_HTTP_PATH },
	{ "regex", FMT_REGEX }, { "calicoSelector", FMT_CALICO_SELECTOR },
	{ "rfc3339", FMT_RFC3339 }, { "duration", FMT_DURATION }, { "url", FMT_URL },
	{ "email", FMT_EMAIL }, { "qualifiedName", FMT_QUALIFIED_NAME },
};

const char *st_format_name(enum st_format f)
{
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		if (formats[i].f == f)
			return formats[i].name;
	return "";
}

static const struct { const char *name; enum st_base b; } bases[] = {
	{ "string", ST_STRING }, { "int", ST_INT }, { "number", ST_NUMBER }, { "bool", ST_BOOL },
	{ "intstr", ST_INTSTR }, { "quantity", ST_QUANTITY }, { "any", ST_ANY },
	{ "object", ST_OBJECT }, { "labels", ST_LABELS }, { "annotations", ST_ANNOTATIONS },
};

/* Splits "a,b,c" into a NULL-terminated array. */
static char **split(const char *s, char sep, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0;
	const char *p = s;

	for (;;) {
		const char *e = strchr(p, sep);
		size_t len = e ? (size_t)(e - p) : strlen(p);
		v = xrealloc(v, (cnt + 2) * sizeof(*v));
		v[cnt++] = xstrndup(p, len);
		if (!e)
			break;
		p = e + 1;
	}
	v[cnt] = NULL;
	*n = cnt;
	return v;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int parse_type(const char *t, struct stype *out, char **err, int line)
{
	memset(out, 0, sizeof(*out));
	if (str_has_prefix(t, "[]")) {
		out->base = ST_LIST;
		out->elem = xcalloc(1, sizeof(*out->elem));
		return parse_type(t + 2, out->elem, err, line);
	}
	if (str_has_prefix(t, "map:")) {
		out->base = ST_MAP;
		out->elem = xcalloc(1, sizeof(*out->elem));
		return parse_type(t + 4, out->elem, err, line);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bases); i++)
		if (strcmp(t, bases[i].name) == 0) {
			out->base = bases[i].b;
			return 0;
		}
	if (!isupper((unsigned char)t[0])) {
		*err = xasprintf("schema line %d: unknown type \"%s\"", line, t);
		return -1;
	}
	out->base = ST_STRUCT;
	out->ref = xstrdup(t);
	return 0;
}

static json_t *parse_default(const struct stype *t, const char *v)
{
	if (t->base == ST_INT || t->base == ST_NUMBER)
		return json_integer(strtoll(v, NULL, 10));
	if (t->base == ST_BOOL)
		return json_boolean(strcmp(v, "true") == 0);
	return json_string(v);
}

static int parse_field(char *line, struct sfield *f, char **err, int lineno)
{
	char *desc = strstr(line, " -- ");
	char *save = NULL, *tok;

	memset(f, 0, sizeof(*f));
	if (desc) {
		*desc = 0;
		f->desc = xstrdup(desc + 4);
	}
	tok = strtok_r(line, " \t", &save);
	f->name = xstrdup(tok);
	tok = strtok_r(NULL, " \t", &save);
	if (!tok) {
		*err = xasprintf("schema line %d: field \"%s\" has no type", lineno, f->name);
		return -1;
	}
	if (parse_type(tok, &f->type, err, lineno) < 0)
		return -1;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		if (strcmp(tok, "required") == 0)
			f->required = true;
		else if (strcmp(tok, "set") == 0)
			f->set = true;
		else if (str_has_prefix(tok, "default="))
			f->dflt = parse_default(f->type.base == ST_LIST ? f->type.elem : &f->type, tok + 8);
		else if (str_has_prefix(tok, "min="))
			f->has_min = true, f->min = strtoll(tok + 4, NULL, 10);
		else if (str_has_prefix(tok, "max="))
			f->has_max = true, f->max = strtoll(tok + 4, NULL, 10);
		else if (str_has_prefix(tok, "maxlen="))
			f->maxlen = strtoul(tok + 7, NULL, 10);
		else if (str_has_prefix(tok, "enum="))
			f->enums = split(tok + 5, '|', &f->nenums);
		else if (str_has_prefix(tok, "key="))
			f->keys = split(tok + 4, ',', &f->nkeys);
		else if (str_has_prefix(tok, "format=")) {
			size_t i;
			for (i = 0; i < ARRAY_SIZE(formats); i++)
				if (strcmp(tok + 7, formats[i].name) == 0)
					break;
			if (i == ARRAY_SIZE(formats)) {
				*err = xasprintf("schema line %d: unknown format \"%s\"", lineno, tok + 7);
				return -1;
			}
			f->format = formats[i].f;
		} else {
			*err = xasprintf("schema line %d: unknown attribute \"%s\"", lineno, tok);
			return -1;
		}
	}
	return 0;
}

static void add_field(struct sstruct *st, const struct sfield *f)
{
	st->fields = xrealloc(st->fields, (st->nfields + 1) * sizeof(*st->fields));
	st->fields[st->nfields++] = *f;
}

static int parse_kind(char *line, struct skind *k, char **err, int lineno)
{
	char *save = NULL;
	char *tok = strtok_r(line + 5, " \t", &save);
	char *av = strtok_r(NULL, " \t", &save);
	char *plural = strtok_r(NULL, " \t", &save);

	if (!tok || !av || !plural) {
		*err = xasprintf("schema line %d: expected \"kind NAME APIVERSION PLURAL\"", lineno);
		return -1;
	}
	k->kind = xstrdup(tok);
	char *slash = strchr(av, '/');
	k->group = slash ? xstrndup(av, (size_t)(slash - av)) : xstrdup("");
	k->versions = split(slash ? slash + 1 : av, ',', &k->nversions);
	k->plural = xstrdup(plural);
	k->singular = xstrdup(k->kind);
	for (char *p = k->singular; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	k->namespaced = true;
	k->name_format = FMT_DNS1123SUBDOMAIN;
	k->body.name = xstrdup(k->kind);
	while ((tok = strtok_r(NULL, " \t", &save))) {
		if (strcmp(tok, "cluster") == 0)
			k->namespaced = false;
		else if (strcmp(tok, "status") == 0)
			k->status_sub = true;
		else if (strcmp(tok, "local") == 0)
			k->local = true;
		else if (str_has_prefix(tok, "short="))
			k->shorts = split(tok + 6, ',', &k->nshorts);
		else if (str_has_prefix(tok, "categories="))
			k->categories = split(tok + 11, ',', &k->ncategories);
		else if (str_has_prefix(tok, "name=")) {
			size_t i;
			for (i = 0; i < ARRAY_SIZE(formats); i++)
				if (strcmp(tok + 5, formats[i].name) == 0)
					break;
			if (i == ARRAY_SIZE(formats)) {
				*err = xasprintf("schema line %d: unknown name format \"%s\"", lineno, tok + 5);
				return -1;
			}
			k->name_format = formats[i].f;
		} else {
			*err = xasprintf("schema line %d: unknown kind attribute \"%s\"", lineno, tok);
			return -1;
		}
	}
	return 0;
}

static int resolve(struct schema *s, struct stype *t, char **err)
{
	if (t->base == ST_LIST || t->base == ST_MAP)
		return resolve(s, t->elem, err);
	if (t->base != ST_STRUCT)
		return 0;
	t->st = (struct sstruct *)schema_struct(s, t->ref);
	if (!t->st) {
		*err = xasprintf("schema: struct \"%s\" is used but never defined", t->ref);
		return -1;
	}
	return 0;
}

static int resolve_struct(struct schema *s, struct sstruct *st, char **err)
{
	for (size_t i = 0; i < st->nfields; i++)
		if (resolve(s, &st->fields[i].type, err) < 0)
			return -1;
	return 0;
}

struct schema *schema_parse(const char *text, char **err)
{
	struct schema *s = xcalloc(1, sizeof(*s));
	struct sstruct *cur = NULL;
	const char *p = text;
	int lineno = 0;

	*err = NULL;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, len);
		p += len + (nl ? 1 : 0);
		lineno++;
		char *hash = strstr(line, "#");
		if (hash && (hash == line || hash[-1] == ' ' || hash[-1] == '\t') && !strstr(line, " -- "))
			*hash = 0;
		size_t l = strlen(line);
		while (l && isspace((unsigned char)line[l - 1]))
			line[--l] = 0;
		if (!l) {
			free(line);
			continue;
		}
		if (isspace((unsigned char)line[0])) {
			char *q = line;
			while (isspace((unsigned char)*q))
				q++;
			struct sfield f;
			if (!cur) {
				*err = xasprintf("schema line %d: field outside of a kind or struct", lineno);
			} else if (parse_field(q, &f, err, lineno) == 0) {
				add_field(cur, &f);
			}
		} else if (str_has_prefix(line, "kind ")) {
			struct skind *k = xcalloc(1, sizeof(*k));
			s->kinds = xrealloc(s->kinds, (s->nkinds + 1) * sizeof(*s->kinds));
			s->kinds[s->nkinds++] = k;
			if (parse_kind(line, k, err, lineno) == 0)
				cur = &k->body;
		} else if (str_has_prefix(line, "struct ")) {
			struct sstruct *st = xcalloc(1, sizeof(*st));
			st->name = xstrdup(line + 7);
			s->structs = xrealloc(s->structs, (s->nstructs + 1) * sizeof(*s->structs));
			s->structs[s->nstructs++] = st;
			cur = st;
		} else {
			*err = xasprintf("schema line %d: expected \"kind\", \"struct\" or an indented field", lineno);
		}
		free(line);
		if (*err)
			goto fail;
	}
	for (size_t i = 0; i < s->nstructs; i++)
		if (resolve_struct(s, s->structs[i], err) < 0)
			goto fail;
	for (size_t i = 0; i < s->nkinds; i++)
		if (resolve_struct(s, &s->kinds[i]->body, err) < 0)
			goto fail;
	return s;
fail:
	schema_free(s);
	return NULL;
}

static void free_type(struct stype *t)
{
	if (t->elem) {
		free_type(t->elem);
		free(t->elem);
	}
	free(t->ref);
}

static void free_struct_fields(struct sstruct *st)
{
	for (size_t i = 0; i < st->nfields; i++) {
		struct sfield *f = &st->fields[i];
		free(f->name);
		free(f->desc);
		free_type(&f->type);
		json_decref(f->dflt);
		free_strv(f->enums, f->nenums);
		free_strv(f->keys, f->nkeys);
	}
	free(st->fields);
	free(st->name);
}

void schema_free(struct schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nstructs; i++) {
		free_struct_fields(s->structs[i]);
		free(s->structs[i]);
	}
	for (size_t i = 0; i < s->nkinds; i++) {
		struct skind *k = s->kinds[i];
		free_struct_fields(&k->body);
		free(k->kind);
		free(k->group);
		free_strv(k->versions, k->nversions);
		free(k->plural);
		free(k->singular);
		free_strv(k->shorts, k->nshorts);
		free_strv(k->categories, k->ncategories);
		free(k);
	}
	free(s->structs);
	free(s->kinds);
	free(s);
}

static struct schema *builtin;

static void free_builtin(void)
{
	schema_free(builtin);
}

const struct schema *schema_get(void)
{
	char *err;

	if (builtin)
		return builtin;
	builtin = schema_parse(tulle_schema_text, &err);
	if (!builtin) {
		/* The text is part of the binary; an error here is a build defect. */
		fprintf(stderr, "tulle: built-in schema is broken: %s\n", err);
		abort();
	}
	atexit(free_builtin);
	return builtin;
}

const struct sstruct *schema_struct(const struct schema *s, const char *name)
{
	for (size_t i = 0; i < s->nstructs; i++)
		if (strcmp(s->structs[i]->name, name) == 0)
			return s->structs[i];
	return NULL;
}

const struct sfield *sstruct_field(const struct sstruct *st, const char *name)
{
	for (size_t i = 0; i < st->nfields; i++)
		if (strcmp(st->fields[i].name, name) == 0)
			return &st->fields[i];
	return NULL;
}

bool skind_has_version(const struct skind *k, const char *version)
{
	for (size_t i = 0; i < k->nversions; i++)
		if (strcmp(k->versions[i], version) == 0)
			return true;
	return false;
}

char *skind_api_version(const struct skind *k, const char *version)
{
	if (!version)
		version = k->versions[0];
	return k->group[0] ? xasprintf("%s/%s", k->group, version) : xstrdup(version);
}

const struct skind *schema_kind_gvk(const struct schema *s, const char *api_version,
				    const char *kind)
{
	const char *slash = strchr(api_version, '/');
	size_t glen = slash ? (size_t)(slash - api_version) : 0;
	const char *version = slash ? slash + 1 : api_version;

	for (size_t i = 0; i < s->nkinds; i++) {
		const struct skind *k = s->kinds[i];
		if (strcmp(k->kind, kind) != 0 || strlen(k->group) != glen ||
		    strncmp(k->group, api_version, glen) != 0)
			continue;
		if (skind_has_version(k, version))
			return k;
	}
	return NULL;
}

const struct skind *schema_kind_resource(const struct schema *s, const char *group,
					 const char *version, const char *plural)
{
	for (size_t i = 0; i < s->nkinds; i++) {
		const struct skind *k = s->kinds[i];
		if (!k->local && strcmp(k->group, group) == 0 && strcmp(k->plural, plural) == 0 &&
		    skind_has_version(k, version))
			return k;
	}
	return NULL;
}

static bool kind_named(const struct skind *k, const char *name, size_t len)
{
	if ((strlen(k->kind) == len && strncasecmp(k->kind, name, len) == 0) ||
	    (strlen(k->plural) == len && strncasecmp(k->plural, name, len) == 0) ||
	    (strlen(k->singular) == len && strncasecmp(k->singular, name, len) == 0))
		return true;
	for (size_t i = 0; i < k->nshorts; i++)
		if (strlen(k->shorts[i]) == len && strncasecmp(k->shorts[i], name, len) == 0)
			return true;
	return false;
}

const struct skind *schema_kind_lookup(const struct schema *s, const char *name)
{
	const char *dot = strchr(name, '.');
	size_t len = dot ? (size_t)(dot - name) : strlen(name);
	const char *group = dot ? dot + 1 : NULL;

	for (size_t i = 0; i < s->nkinds; i++) {
		const struct skind *k = s->kinds[i];
		if (k->local || !kind_named(k, name, len))
			continue;
		if (group) {
			/* "deployments.apps" or "deployments.v1.apps" */
			const char *g = group;
			const char *d2 = strchr(g, '.');
			if (strcmp(k->group, g) != 0 && !(d2 && skind_has_version(k, "") == false &&
							   strcmp(k->group, d2 + 1) == 0))
				continue;
		}
		return k;
	}
	return NULL;
}

char *api_path(const struct skind *k, const char *ns, const char *name)
{
	struct strbuf sb;

	sb_init(&sb);
	if (k->group[0])
		sb_printf(&sb, "/apis/%s/%s", k->group, k->versions[0]);
	else
		sb_printf(&sb, "/api/%s", k->versions[0]);
	if (k->namespaced && ns)
		sb_printf(&sb, "/namespaces/%s", ns);
	sb_printf(&sb, "/%s", k->plural);
	if (name)
		sb_printf(&sb, "/%s", name);
	return sb_detach(&sb);
}
