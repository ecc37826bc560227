/* The API schema: every kind tulle knows, described once in the schema/ files (compiled
 * into the binary) and read here into tables that validation, defaulting, discovery
 * and the CLI all consult. */
#ifndef TULLE_SCHEMA_H
#define TULLE_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum st_base {
	ST_STRING, ST_INT, ST_NUMBER, ST_BOOL, ST_INTSTR, ST_QUANTITY, ST_ANY, ST_OBJECT,
	ST_LABELS, ST_ANNOTATIONS, ST_STRUCT, ST_LIST, ST_MAP,
};

enum st_format {
	FMT_NONE, FMT_DNS1123LABEL, FMT_DNS1123SUBDOMAIN, FMT_DNS1035LABEL, FMT_IP, FMT_CIDR,
	FMT_IP_OR_CIDR, FMT_PORT_NAME, FMT_PORT_OR_NAME, FMT_LABEL_KEY, FMT_LABEL_VALUE,
	FMT_HOSTNAME, FMT_WILDCARD_HOST, FMT_HTTP_PATH, FMT_REGEX, FMT_CALICO_SELECTOR,
	FMT_RFC3339, FMT_DURATION, FMT_URL, FMT_EMAIL, FMT_QUALIFIED_NAME,
};

struct sstruct;

struct stype {
	enum st_base base;
	struct sstruct *st;  /* ST_STRUCT */
	struct stype *elem;  /* ST_LIST, ST_MAP */
	char *ref;           /* struct name until resolved */
};

struct sfield {
	char *name;
	struct stype type;
	bool required, set, has_min, has_max;
	int64_t min, max;
	json_t *dflt;
	char **enums;
	size_t nenums;
	enum st_format format;
	char **keys; /* list merge keys */
	size_t nkeys;
	size_t maxlen;
	char *desc;
};

struct sstruct {
	char *name;
	struct sfield *fields;
	size_t nfields;
};

struct skind {
	char *kind;
	char *group;     /* "" for core */
	char **versions; /* first is the preferred one */
	size_t nversions;
	char *plural, *singular;
	char **shorts;
	size_t nshorts;
	char **categories;
	size_t ncategories;
	bool namespaced, status_sub, local;
	enum st_format name_format;
	struct sstruct body; /* top-level fields besides apiVersion, kind, metadata */
};

struct schema {
	struct sstruct **structs;
	size_t nstructs;
	struct skind **kinds;
	size_t nkinds;
};

/* The built-in schema, parsed once. */
const struct schema *schema_get(void);
/* Parses schema text; returns NULL and a message in *err on error. */
struct schema *schema_parse(const char *text, char **err);
void schema_free(struct schema *s);

const struct sstruct *schema_struct(const struct schema *s, const char *name);
const struct sfield *sstruct_field(const struct sstruct *st, const char *name);
/* By apiVersion ("v1", "apps/v1") and kind. */
const struct skind *schema_kind_gvk(const struct schema *s, const char *api_version,
				    const char *kind);
/* By group, version and plural resource name, as in an API path. */
const struct skind *schema_kind_resource(const struct schema *s, const char *group,
					 const char *version, const char *plural);
/* As a user types it: kind, plural, singular or short name, any case, with an optional
 * ".group" suffix ("svc", "Service", "networkpolicies.networking.k8s.io"). */
const struct skind *schema_kind_lookup(const struct schema *s, const char *name);
/* The kind's REST path: its collection (in ns when namespaced and ns is given), or
 * the named object. Caller frees. */
char *api_path(const struct skind *k, const char *ns, const char *name);
bool skind_has_version(const struct skind *k, const char *version);
/* "apps/v1" for the preferred version; the caller frees. */
char *skind_api_version(const struct skind *k, const char *version);
const char *st_format_name(enum st_format f);

#endif
