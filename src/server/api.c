/* Request routing: Kubernetes API paths to the handlers for each verb, plus discovery
 * and tulle's own all-or-nothing batch apply. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../api/validate.h"
#include "../lib/doc.h"
#include "conn.h"
#include "filter.h"
#include "objects.h"
#include "managed.h"
#include "patch.h"
#include "../api/k8sproto.h"
#include "discovery.h"
#include "exec.h"
#include "openapi.h"
#include "scale.h"
#include "routes.h"
#include "table.h"
#include "watch.h"

struct route {
	const struct skind *kind;
	char *version;
	char *ns;   /* namespace from the path, or NULL */
	char *name; /* NULL for a collection */
	char *sub;  /* subresource, or NULL */
	char *group;
	int nsegs;
	char *segs[8];
};

static void route_free(struct route *r)
{
	for (int i = 0; i < r->nsegs; i++)
		free(r->segs[i]);
	memset(r, 0, sizeof(*r));
}

/* Splits the path into decoded segments; -1 when it has too many or bad escapes. */
static int split_path(const char *path, struct route *r)
{
	const char *p = path;

	while (*p == '/')
		p++;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (r->nsegs == 8)
			return -1;
		char *seg = http_unescape(p, len);
		if (!seg)
			return -1;
		r->segs[r->nsegs++] = seg;
		p += len;
		while (*p == '/')
			p++;
	}
	return 0;
}

enum route_kind { R_NONE, R_RESOURCE, R_DISCOVERY_GROUP_VERSION };

/* Resolves /api/v1/... and /apis/GROUP/VERSION/... */
static enum route_kind route_parse(struct apiserver *s, const char *path, struct route *r)
{
	int base;

	if (split_path(path, r) < 0 || r->nsegs < 2)
		return R_NONE;
	if (!strcmp(r->segs[0], "api")) {
		r->group = "";
		r->version = r->segs[1];
		base = 2;
	} else if (!strcmp(r->segs[0], "apis") && r->nsegs >= 3) {
		r->group = r->segs[1];
		r->version = r->segs[2];
		base = 3;
	} else {
		return R_NONE;
	}
	int n = r->nsegs - base;
	char **seg = r->segs + base;
	if (n == 0)
		return R_DISCOVERY_GROUP_VERSION;
	if (!strcmp(seg[0], "namespaces") && n >= 3 &&
	    schema_kind_resource(s->schema, r->group, r->version, seg[2])) {
		r->ns = seg[1];
		r->kind = schema_kind_resource(s->schema, r->group, r->version, seg[2]);
		r->name = n >= 4 ? seg[3] : NULL;
		r->sub = n >= 5 ? seg[4] : NULL;
		if (n > 5 || !r->kind->namespaced)
			return R_NONE;
		return R_RESOURCE;
	}
	r->kind = schema_kind_resource(s->schema, r->group, r->version, seg[0]);
	if (!r->kind || n > 3)
		return R_NONE;
	r->name = n >= 2 ? seg[1] : NULL;
	r->sub = n >= 3 ? seg[2] : NULL;
	/* A namespaced kind can be listed across namespaces, not addressed by name alone. */
	if (r->kind->namespaced && r->name)
		return R_NONE;
	return R_RESOURCE;
}

static enum unknown_mode unknown_mode(const struct http_msg *req)
{
	char *fv = http_query_param(req->query, "fieldValidation");
	enum unknown_mode m = UNKNOWN_WARN; /* the API server's default since 1.27 */

	if (fv && !strcasecmp(fv, "Strict"))
		m = UNKNOWN_STRICT;
	else if (fv && !strcasecmp(fv, "Ignore"))
		m = UNKNOWN_IGNORE;
	free(fv);
	return m;
}

static bool dry_run(const struct http_msg *req)
{
	char *d = http_query_param(req->query, "dryRun");
	bool on = d && !strcmp(d, "All");

	free(d);
	return on;
}

/* Decodes a request body (JSON or YAML) into one document. On error responds. */
static struct doc *decode_body(struct conn *c, const struct http_msg *req)
{
	const char *ct = http_get_header(req, "Content-Type");
	struct doc **docs;
	size_t n;
	struct ferrs errs;
	const char *body = req->body ? req->body : "";
	size_t len = req->body_len;
	char *from_pb = NULL;

	if (ct && str_has_prefix(ct, "application/vnd.kubernetes.protobuf")) {
		/* kubectl's typed clients: decode to JSON, then go the same way. */
		char *err;
		json_t *o = k8sproto_decode((const unsigned char *)body, len, &err);
		if (!o) {
			bool unsupported = strstr(err, "not supported") != NULL;
			conn_respond_json(c, req, unsupported ? 415 : 400,
					  status_new(unsupported ? 415 : 400, unsupported ? "UnsupportedMediaType" : "BadRequest", err));
			free(err);
			return NULL;
		}
		from_pb = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		body = from_pb;
		len = strlen(from_pb);
	} else if (ct && !str_has_prefix(ct, "application/json") && !str_has_prefix(ct, "application/yaml") &&
		   !str_has_prefix(ct, "application/merge-patch+json") && !str_has_prefix(ct, "*/*")) {
		char *msg = xasprintf("the body of the request was in an unknown format - accepted media types include: "
				      "application/json, application/yaml, application/vnd.kubernetes.protobuf (got %s)", ct);
		conn_respond_json(c, req, 415, status_new(415, "UnsupportedMediaType", msg));
		free(msg);
		return NULL;
	}
	ferrs_init(&errs);
	struct ferrs dups;
	ferrs_init(&dups);
	int rc = doc_load_all_dups(body, len, "request body", &docs, &n, &errs, &dups);
	free(from_pb);
	/* Duplicate fields, as fieldValidation says: refused, warned about, or ignored
	 * (the last value kept). */
	enum unknown_mode um = unknown_mode(req);
	if (rc == 0 && dups.n && um == UNKNOWN_STRICT) {
		struct strbuf sb;
		sb_init(&sb);
		sb_adds(&sb, "strict decoding error: ");
		for (size_t i = 0; i < dups.n; i++)
			sb_printf(&sb, "%s%s", i ? ", " : "", dups.v[i].detail);
		conn_respond_json(c, req, 400, status_bad_request(sb.buf));
		sb_free(&sb);
		ferrs_free(&dups);
		ferrs_free(&errs);
		docs_free(docs, n);
		return NULL;
	}
	for (size_t i = 0; um == UNKNOWN_WARN && i < dups.n; i++)
		conn_add_warning(c, dups.v[i].detail);
	ferrs_free(&dups);
	if (rc < 0 || n != 1) {
		struct strbuf sb;
		sb_init(&sb);
		if (errs.n)
			ferr_format(&sb, &errs.v[0]);
		else
			sb_printf(&sb, "the request body must hold exactly one object (found %zu)", n);
		conn_respond_json(c, req, 400, status_bad_request(sb.buf));
		sb_free(&sb);
		ferrs_free(&errs);
		docs_free(docs, n);
		return NULL;
	}
	ferrs_free(&errs);
	struct doc *d = docs[0];
	free(docs);
	return d;
}

static void add_warnings(struct conn *c, const struct ferrs *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct strbuf sb;
		sb_init(&sb);
		ferr_format(&sb, &w->v[i]);
		conn_add_warning(c, sb.buf);
		sb_free(&sb);
	}
}

/* Validates a body against the route; responds and returns NULL on error. */
static json_t *checked_object(struct conn *c, const struct http_msg *req, struct route *r,
			      struct doc *d)
{
	struct ferrs errs, warns;
	const struct skind *k;
	json_t *obj = d->root;

	ferrs_init(&errs);
	ferrs_init(&warns);
	if (api_validate(obj, d, unknown_mode(req), &k, &errs, &warns) < 0) {
		const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
		const struct skind *bk = k ? k : r->kind;
		conn_respond_json(c, req, errs.n && errs.v[0].type == FERR_NOT_SUPPORTED &&
				  !strcmp(errs.v[0].path, "kind") ? 400 : 422,
				  status_invalid(bk, name ? name : r->name, &errs));
		obj = NULL;
		goto out;
	}
	if (k != r->kind) {
		char *av = skind_api_version(r->kind, r->version);
		char *msg = xasprintf("the API version in the data (%s) does not match the expected API version (%s)",
				      json_string_value(json_object_get(obj, "apiVersion")), av);
		conn_respond_json(c, req, 400, status_bad_request(msg));
		free(msg);
		free(av);
		obj = NULL;
		goto out;
	}
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	if (r->ns && ns && *ns && strcmp(ns, r->ns) != 0) {
		conn_respond_json(c, req, 400, status_bad_request(
			"the namespace of the provided object does not match the namespace sent on the request"));
		obj = NULL;
		goto out;
	}
	if (r->ns && k->namespaced)
		json_object_set_new(md, "namespace", json_string(r->ns));
	const char *name = json_string_value(json_object_get(md, "name"));
	if (r->name && name && strcmp(name, r->name) != 0) {
		char *msg = xasprintf("the name of the object (%s) does not match the name on the URL (%s)", name, r->name);
		conn_respond_json(c, req, 400, status_bad_request(msg));
		free(msg);
		obj = NULL;
		goto out;
	}
	add_warnings(c, &warns);
	json_incref(obj);
out:
	ferrs_free(&errs);
	ferrs_free(&warns);
	return obj;
}

static void finish_write(struct conn *c, const struct http_msg *req, struct route *r,
			 struct write_result *wr, bool dry)
{
	struct apiserver *s = c->srv;

	if (wr->code >= 400 || dry) {
		txn_rollback(s);
	} else {
		int rc = txn_commit(s);
		if (rc < 0) {
			json_decref(wr->body);
			wr->body = status_internal("committing to the store", rc);
			wr->code = 500;
		}
	}
	if (wr->code < 400 && json_object_get(wr->body, "metadata"))
		objects_present(wr->body, r->kind, r->version);
	conn_respond_json(c, req, wr->code, wr->body);
}

static void handle_write(struct conn *c, const struct http_msg *req, struct route *r,
			 enum write_mode mode)
{
	struct apiserver *s = c->srv;
	struct write_result wr;
	struct doc *d = decode_body(c, req);
	json_t *obj;

	if (!d)
		return;
	obj = checked_object(c, req, r, d);
	doc_free(d);
	if (!obj)
		return;
	if (r->sub && strcmp(r->sub, "status") != 0) {
		json_decref(obj);
		conn_respond_json(c, req, 404, status_new(404, "NotFound", "the server could not find the requested resource"));
		return;
	}
	int rc = txn_begin(s);
	if (rc < 0) {
		json_decref(obj);
		conn_respond_json(c, req, 500, status_internal("starting a transaction", rc));
		return;
	}
	objects_write(s, r->kind, obj, mode, r->sub ? PART_STATUS : PART_MAIN, &wr);
	/* An update that changes nothing still answers 200 with the object. */
	finish_write(c, req, r, &wr, dry_run(req));
}

/* Server-side apply: the body is the applier's whole intent for the fields it manages
 * (YAML or JSON); ownership, conflicts and removal are managed.c's. Creates the object
 * when missing. */
static void handle_apply(struct conn *c, const struct http_msg *req, struct route *r)
{
	struct apiserver *s = c->srv;
	char *fm = http_query_param(req->query, "fieldManager");
	char *force = http_query_param(req->query, "force");
	bool forced = force && !strcmp(force, "true");
	struct http_msg sub = *req;
	struct write_result wr;
	struct doc *d = NULL;
	json_t *live = NULL, *status = NULL, *result = NULL;

	free(force);
	if (!fm || !*fm) {
		conn_respond_json(c, req, 422, status_new(422, "Invalid",
			"PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"));
		goto out;
	}
	/* The body is YAML (JSON is YAML): decode it as such. */
	struct http_header yaml_ct = { "Content-Type", "application/yaml" };
	sub.headers = &yaml_ct;
	sub.nheaders = 1;
	if (!(d = decode_body(c, &sub)))
		goto out;
	const json_t *applied = d->root;
	const struct skind *k = schema_kind_gvk(s->schema, json_string_value(json_object_get(applied, "apiVersion")),
						json_string_value(json_object_get(applied, "kind")));
	const char *name = json_string_value(json_object_get(json_object_get(applied, "metadata"), "name"));
	if (!json_is_object(applied) || k != r->kind || !name || strcmp(name, r->name) != 0) {
		char *msg = k != r->kind ? xasprintf("the apply configuration's apiVersion and kind (%s %s) do not match the URL",
						     json_string_value(json_object_get(applied, "apiVersion")) ?: "none",
						     json_string_value(json_object_get(applied, "kind")) ?: "none")
			    : xasprintf("the apply configuration's metadata.name (%s) does not match the name on the URL (%s)",
					name ? name : "none", r->name);
		conn_respond_json(c, req, 400, status_bad_request(msg));
		free(msg);
		goto out;
	}
	struct fs_ctx fc = { s->schema, k };
	live = objects_get(s, r->kind, r->ns, r->name);
	result = managed_apply(&fc, live, applied, fm, forced, &status);
	if (!result) {
		conn_respond_json(c, req, 409, status);
		goto out;
	}
	/* The merged object is validated (and defaulted) like any write. */
	struct doc merged = { .root = result };
	json_t *obj = checked_object(c, req, r, &merged);
	if (!obj)
		goto out;
	int rc = txn_begin(s);
	if (rc < 0) {
		json_decref(obj);
		conn_respond_json(c, req, 500, status_internal("starting a transaction", rc));
		goto out;
	}
	s->fields_final = true;
	objects_write(s, r->kind, obj, WRITE_APPLY, PART_MAIN, &wr);
	s->fields_final = false;
	finish_write(c, req, r, &wr, dry_run(req));
out:
	json_decref(result);
	json_decref(live);
	if (d)
		doc_free(d);
	free(fm);
}

static void handle_patch(struct conn *c, const struct http_msg *req, struct route *r)
{
	struct apiserver *s = c->srv;
	const char *ct = http_get_header(req, "Content-Type");
	enum { MERGE, STRATEGIC, JSONPATCH } type;

	if (ct && str_has_prefix(ct, "application/apply-patch+yaml")) {
		handle_apply(c, req, r);
		return;
	}
	if (ct && str_has_prefix(ct, "application/merge-patch+json")) {
		type = MERGE;
	} else if (ct && str_has_prefix(ct, "application/strategic-merge-patch+json")) {
		type = STRATEGIC;
	} else if (ct && str_has_prefix(ct, "application/json-patch+json")) {
		type = JSONPATCH;
	} else {
		char *msg = xasprintf("the body of the request was in an unknown format - accepted media types include: "
				      "application/json-patch+json, application/merge-patch+json, "
				      "application/strategic-merge-patch+json, application/apply-patch+yaml (got %s)", ct ? ct : "no Content-Type");
		conn_respond_json(c, req, 415, status_new(415, "UnsupportedMediaType", msg));
		free(msg);
		return;
	}
	json_error_t jerr;
	json_t *patch = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
	if (!patch) {
		char *msg = xasprintf("invalid JSON patch body: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
		conn_respond_json(c, req, 400, status_bad_request(msg));
		free(msg);
		return;
	}
	json_t *cur = objects_get(s, r->kind, r->ns, r->name);
	if (!cur) {
		json_decref(patch);
		conn_respond_json(c, req, 404, status_not_found(r->kind, r->name));
		return;
	}
	char *err = NULL;
	json_t *next = type == MERGE ? merge_patch(cur, patch)
		     : type == STRATEGIC ? strategic_merge_patch(cur, patch, &r->kind->body, &err)
					 : json_patch(cur, patch, &err);
	json_decref(patch);
	json_decref(cur);
	if (!next) {
		/* Kubernetes answers a patch that cannot apply with 422 (test failed, bad path) or 400. */
		conn_respond_json(c, req, type == JSONPATCH ? 422 : 400,
				  status_new(type == JSONPATCH ? 422 : 400, type == JSONPATCH ? "Invalid" : "BadRequest", err));
		free(err);
		return;
	}
	char *text = json_dumps(next, JSON_COMPACT);
	json_decref(next);
	struct http_msg sub = *req;
	sub.body = text;
	sub.body_len = strlen(text);
	sub.headers = NULL;
	sub.nheaders = 0;
	handle_write(c, &sub, r, WRITE_UPDATE);
	free(text);
}

static void handle_delete(struct conn *c, const struct http_msg *req, struct route *r)
{
	struct apiserver *s = c->srv;
	struct write_result wr;
	char *prop = http_query_param(req->query, "propagationPolicy");
	/* kubectl may send DeleteOptions as a body instead. */
	if (!prop && req->body_len) {
		json_t *opts = json_loadb(req->body, req->body_len, 0, NULL);
		const char *p = json_string_value(json_object_get(opts, "propagationPolicy"));
		if (p)
			prop = xstrdup(p);
		json_decref(opts);
	}
	int rc = txn_begin(s);
	if (rc < 0) {
		free(prop);
		conn_respond_json(c, req, 500, status_internal("starting a transaction", rc));
		return;
	}
	objects_delete(s, r->kind, r->ns, r->name, prop, &wr);
	free(prop);
	finish_write(c, req, r, &wr, dry_run(req));
}

static void handle_get(struct conn *c, const struct http_msg *req, struct route *r)
{
	json_t *obj = objects_get(c->srv, r->kind, r->ns, r->name);

	if (!obj) {
		conn_respond_json(c, req, 404, status_not_found(r->kind, r->name));
		return;
	}
	objects_present(obj, r->kind, r->version);
	if (table_wanted(req)) {
		char *inc = http_query_param(req->query, "includeObject");
		json_t *t = table_from(r->kind->kind, obj, inc);
		free(inc);
		json_decref(obj);
		obj = t;
	}
	conn_respond_json(c, req, 200, obj);
}

struct list_ctx {
	struct strbuf *out;
	const struct route *r;
	struct obj_filter *f;
	bool raw; /* no filter and no version change: copy stored text as is */
	bool table; /* rows of a Table instead of objects */
	const char *include; /* the Table's includeObject */
	const char *res;     /* the store's name for the kind, for the row cache */
	struct row_cache *rows;
	char *want_av;
	int count, limit;
	char *last_ns, *last_name;
	bool more;
};

static int list_item(void *ctx, const char *ns, const char *name, int64_t rev, const char *data)
{
	struct list_ctx *l = ctx;

	if (l->limit && l->count == l->limit) {
		l->more = true;
		return 1;
	}
	if (l->raw && !l->table && strstr(data, l->want_av)) {
		sb_printf(l->out, "%s%s", l->count ? "," : "", data);
	} else if (l->table && l->raw) {
		/* Without selectors every object is a row: rows of unchanged objects come
		 * from the cache, the others are rendered once and remembered. */
		char *key = xasprintf("%s\x1f%s\x1f%s\x1f%s\x1f%s", l->res, ns, name, l->include ? l->include : "",
				      l->r->version ? l->r->version : "");
		if (l->count)
			sb_addc(l->out, ',');
		if (!table_row_cached(l->rows, l->out, key, rev)) {
			json_t *obj = json_loads(data, 0, NULL);
			if (obj) {
				objects_present(obj, l->r->kind, l->r->version);
				table_row_render_cached(l->rows, l->out, key, rev, l->r->kind->kind, obj, l->include);
				json_decref(obj);
			} else {
				sb_adds(l->out, "{\"cells\":[]}"); /* the store holds only valid JSON */
			}
		}
		free(key);
	} else if (l->table) {
		json_t *obj = json_loads(data, 0, NULL);
		if (!obj || !filter_match(l->f, obj)) {
			json_decref(obj);
			return 0;
		}
		objects_present(obj, l->r->kind, l->r->version);
		if (l->count)
			sb_addc(l->out, ',');
		table_row_append(l->out, l->r->kind->kind, obj, l->include);
		json_decref(obj);
	} else {
		json_t *obj = json_loads(data, 0, NULL);
		if (!obj || !filter_match(l->f, obj)) {
			json_decref(obj);
			return 0;
		}
		objects_present(obj, l->r->kind, l->r->version);
		char *s = json_dumps(obj, JSON_COMPACT);
		sb_printf(l->out, "%s%s", l->count ? "," : "", s);
		free(s);
		json_decref(obj);
	}
	l->count++;
	free(l->last_ns);
	free(l->last_name);
	l->last_ns = xstrdup(ns);
	l->last_name = xstrdup(name);
	return 0;
}

static void handle_list(struct conn *c, const struct http_msg *req, struct route *r)
{
	struct apiserver *s = c->srv;
	struct obj_filter f;
	char *err, *lim = http_query_param(req->query, "limit");
	char *cont = http_query_param(req->query, "continue");
	char *res = objects_res(r->kind);
	char *av = skind_api_version(r->kind, r->version);
	struct strbuf out;
	char *after_ns = NULL, *after_name = NULL;

	if (filter_parse(&f, r->ns, req->query, &err) < 0) {
		conn_respond_json(c, req, 400, status_bad_request(err));
		free(err);
		goto out;
	}
	if (cont && *cont) {
		char *slash = strchr(cont, '/');
		if (!slash) {
			conn_respond_json(c, req, 400, status_bad_request("invalid continue token"));
			filter_free(&f);
			goto out;
		}
		after_ns = xstrndup(cont, (size_t)(slash - cont));
		after_name = xstrdup(slash + 1);
	}
	sb_init(&out);
	char *inc = http_query_param(req->query, "includeObject");
	if (!s->rows)
		s->rows = table_cache_new(200000);
	struct list_ctx l = { &out, r, &f, f.labels.n == 0 && f.nfields == 0, table_wanted(req), inc, res, s->rows,
			      NULL, 0, lim ? atoi(lim) : 0, NULL, NULL, false };
	l.want_av = xasprintf("\"apiVersion\":\"%s\"", av);
	if (l.table)
		sb_printf(&out, "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"%lld\"",
			  (long long)store_rev(s->store));
	else
		sb_printf(&out, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"",
			  r->kind->kind, av, (long long)store_rev(s->store));
	struct strbuf items;
	sb_init(&items);
	l.out = &items;
	int rc = store_list(s->store, res, r->ns, after_ns, after_name, l.limit ? l.limit + 1 : 0, list_item, &l);
	if (rc < 0) {
		conn_respond_json(c, req, 500, status_internal("listing from the store", rc));
	} else {
		if (l.more)
			sb_printf(&out, ",\"continue\":\"%s/%s\"", l.last_ns, l.last_name);
		if (l.table) {
			/* Rows are written as they are read: no second parse of the whole list. */
			json_t *defs = table_columns(r->kind->kind);
			char *dt = json_dumps(defs, JSON_COMPACT);
			sb_printf(&out, "},\"columnDefinitions\":%s,\"rows\":[%s]}", dt, items.buf ? items.buf : "");
			free(dt);
			json_decref(defs);
		} else {
			sb_printf(&out, "},\"items\":[%s]}", items.buf ? items.buf : "");
		}
		conn_respond(c, req, 200, "application/json", out.buf, out.len);
	}
	free(inc);
	sb_free(&items);
	sb_free(&out);
	free(l.want_av);
	free(l.last_ns);
	free(l.last_name);
	filter_free(&f);
out:
	free(after_ns);
	free(after_name);
	free(lim);
	free(cont);
	free(res);
	free(av);
}

/* ---- discovery ---- */

static json_t *resource_entry(const struct skind *k, const struct api_subresource *sub)
{
	json_t *verbs = json_array();
	if (sub) {
		for (size_t i = 0; sub->verbs[i]; i++)
			json_array_append_new(verbs, json_string(sub->verbs[i]));
	} else {
		static const char *const all[] = { "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch" };
		for (size_t i = 0; i < ARRAY_SIZE(all); i++)
			json_array_append_new(verbs, json_string(all[i]));
	}
	char *name = sub ? xasprintf("%s/%s", k->plural, sub->name) : xstrdup(k->plural);
	json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "singularName",
			      sub ? "" : k->singular, "namespaced", k->namespaced, "kind",
			      sub && sub->kind ? sub->kind : k->kind, "verbs", verbs);
	if (sub && sub->group) {
		json_object_set_new(e, "group", json_string(sub->group));
		json_object_set_new(e, "version", json_string(sub->version));
	}
	if (!sub && k->nshorts) {
		json_t *sn = json_array();
		for (size_t i = 0; i < k->nshorts; i++)
			json_array_append_new(sn, json_string(k->shorts[i]));
		json_object_set_new(e, "shortNames", sn);
	}
	if (!sub && k->ncategories) {
		json_t *cat = json_array();
		for (size_t i = 0; i < k->ncategories; i++)
			json_array_append_new(cat, json_string(k->categories[i]));
		json_object_set_new(e, "categories", cat);
	}
	free(name);
	return e;
}

static void discovery_group_version(struct conn *c, const struct http_msg *req,
				    const struct route *r)
{
	const struct schema *sc = c->srv->schema;
	json_t *list = json_array();

	for (size_t i = 0; i < sc->nkinds; i++) {
		const struct skind *k = sc->kinds[i];
		if (k->local || strcmp(k->group, r->group) != 0 || !skind_has_version(k, r->version))
			continue;
		json_array_append_new(list, resource_entry(k, NULL));
		for (size_t j = 0; j < api_nsubresources; j++)
			if (api_subresources[j].applies(k))
				json_array_append_new(list, resource_entry(k, &api_subresources[j]));
	}
	if (!json_array_size(list)) {
		json_decref(list);
		conn_respond_json(c, req, 404, status_new(404, "NotFound", "the server could not find the requested resource"));
		return;
	}
	char *gv = r->group[0] ? xasprintf("%s/%s", r->group, r->version) : xstrdup(r->version);
	conn_respond_json(c, req, 200, json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList",
						 "apiVersion", "v1", "groupVersion", gv, "resources", list));
	free(gv);
}

static void discovery_groups(struct conn *c, const struct http_msg *req)
{
	const struct schema *sc = c->srv->schema;
	json_t *groups = json_array();

	for (size_t i = 0; i < sc->nkinds; i++) {
		const struct skind *k = sc->kinds[i];
		if (k->local || !k->group[0])
			continue;
		json_t *g = NULL;
		size_t j;
		json_t *e;
		json_array_foreach(groups, j, e)
			if (!strcmp(json_string_value(json_object_get(e, "name")), k->group))
				g = e;
		if (!g) {
			char *gv = xasprintf("%s/%s", k->group, k->versions[0]);
			g = json_pack("{s:s,s:[],s:{s:s,s:s}}", "name", k->group, "versions",
				      "preferredVersion", "groupVersion", gv, "version", k->versions[0]);
			json_array_append_new(groups, g);
			free(gv);
		}
		json_t *vers = json_object_get(g, "versions");
		for (size_t v = 0; v < k->nversions; v++) {
			char *gv = xasprintf("%s/%s", k->group, k->versions[v]);
			bool have = false;
			json_array_foreach(vers, j, e)
				if (!strcmp(json_string_value(json_object_get(e, "groupVersion")), gv))
					have = true;
			if (!have)
				json_array_append_new(vers, json_pack("{s:s,s:s}", "groupVersion", gv, "version",
								      k->versions[v]));
			free(gv);
		}
	}
	conn_respond_json(c, req, 200, json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList",
						 "apiVersion", "v1", "groups", groups));
}

/* ---- batch apply (tulle's own endpoint: all objects or none) ---- */

static int kind_rank(const json_t *obj)
{
	const char *k = json_string_value(json_object_get(obj, "kind"));
	return k && !strcmp(k, "Namespace") ? 0 : 1;
}

static void handle_batch_apply(struct conn *c, const struct http_msg *req)
{
	struct apiserver *s = c->srv;
	json_error_t jerr;
	json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
	json_t *items = json_object_get(body, "items");
	bool dry = json_is_true(json_object_get(body, "dryRun"));
	const char *fv = json_string_value(json_object_get(body, "fieldValidation"));
	enum unknown_mode mode = fv && !strcasecmp(fv, "Ignore") ? UNKNOWN_IGNORE
			       : fv && !strcasecmp(fv, "Warn") ? UNKNOWN_WARN : UNKNOWN_STRICT;
	json_t *results = json_array();
	size_t i;
	json_t *item;

	if (!json_is_array(items)) {
		conn_respond_json(c, req, 400, status_bad_request("expected {\"items\": [objects...]}"));
		goto out;
	}
	if (txn_begin(s) < 0) {
		conn_respond_json(c, req, 500, status_internal("starting a transaction", EIO));
		goto out;
	}
	/* Namespaces first, so that objects in the same batch can live in them. */
	for (int pass = 0; pass < 2; pass++)
		json_array_foreach(items, i, item) {
			if (kind_rank(item) != pass)
				continue;
			struct ferrs errs;
			const struct skind *k;
			struct write_result wr;
			json_t *obj = json_deep_copy(item);
			ferrs_init(&errs);
			if (api_validate(obj, NULL, mode, &k, &errs, NULL) < 0) {
				const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
				wr.code = 422;
				wr.body = status_invalid(k, name, &errs);
				json_decref(obj);
			} else {
				objects_write(s, k, obj, WRITE_APPLY, PART_MAIN, &wr);
			}
			ferrs_free(&errs);
			if (wr.code >= 400) {
				txn_rollback(s);
				json_t *d = json_object_get(wr.body, "details");
				if (!d) {
					d = json_object();
					json_object_set_new(wr.body, "details", d);
				}
				json_object_set_new(d, "index", json_integer((json_int_t)i));
				conn_respond_json(c, req, wr.code, wr.body);
				goto out;
			}
			json_t *md = json_object_get(wr.body, "metadata");
			json_t *res = json_pack("{s:I,s:O,s:O,s:s}", "index", (json_int_t)i, "kind",
						json_object_get(wr.body, "kind"), "name", json_object_get(md, "name"),
						"action", wr.action);
			if (json_object_get(md, "namespace"))
				json_object_set(res, "namespace", json_object_get(md, "namespace"));
			json_array_append_new(results, res);
			json_decref(wr.body);
		}
	if (dry) {
		txn_rollback(s);
	} else if (txn_commit(s) < 0) {
		conn_respond_json(c, req, 500, status_internal("committing to the store", EIO));
		goto out;
	}
	conn_respond_json(c, req, 200, json_pack("{s:s,s:O}", "kind", "ApplyResult", "results", results));
out:
	json_decref(results);
	json_decref(body);
}

static void handle_version(struct conn *c, const struct http_msg *req)
{
	conn_respond_json(c, req, 200, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		"major", "1", "minor", "32", "gitVersion", "v1.32.0-tulle.0", "gitCommit", "",
		"gitTreeState", "clean", "buildDate", "2026-01-01T00:00:00Z", "goVersion", "c",
		"compiler", "gcc", "platform", "linux/amd64"));
}

static void route_request(struct conn *c, struct http_msg *req);

void api_handle(struct conn *c, struct http_msg *req)
{
	char *fm = http_query_param(req->query, "fieldManager");
	char *manager = managed_manager_of(fm, http_get_header(req, "User-Agent"));

	c->srv->field_manager = manager;
	route_request(c, req);
	c->srv->field_manager = NULL;
	free(manager);
	free(fm);
}

/* ---- the route table ---- */

/* Whether method is one of a comma-separated list. */
static bool api_method_in(const char *methods, const char *method)
{
	size_t n = strlen(method);

	for (const char *p = methods; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, method, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static void respond_ok(struct conn *c, struct http_msg *req, struct route *r)
{
	(void)r;
	conn_respond(c, req, 200, "text/plain", "ok", 2);
}

static void not_found(struct conn *c, struct http_msg *req)
{
	conn_respond_json(c, req, 404, status_new(404, "NotFound", "the server could not find the requested resource"));
}

static void handle_openapi_index(struct conn *c, struct http_msg *req, struct route *r)
{
	(void)r;
	conn_respond_json(c, req, 200, openapi_v3_index());
}

static void handle_openapi_doc(struct conn *c, struct http_msg *req, struct route *r)
{
	(void)r;
	json_t *d = openapi_v3_doc(req->path + strlen("/openapi/v3/"));
	if (d)
		conn_respond_json(c, req, 200, d);
	else
		not_found(c, req);
}

static void handle_version_route(struct conn *c, struct http_msg *req, struct route *r)
{
	(void)r;
	handle_version(c, req);
}

static void handle_api_root(struct conn *c, struct http_msg *req, struct route *r)
{
	(void)r;
	if (discovery_aggregated_wanted(req)) {
		discovery_aggregated(c, req, true);
		return;
	}
	conn_respond_json(c, req, 200, json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions",
		"versions", "v1", "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress", ""));
}

static void handle_apis_root(struct conn *c, struct http_msg *req, struct route *r)
{
	(void)r;
	if (discovery_aggregated_wanted(req))
		discovery_aggregated(c, req, false);
	else
		discovery_groups(c, req);
}

static void handle_batch_apply_route(struct conn *c, struct http_msg *req, struct route *r)
{
	(void)r;
	handle_batch_apply(c, req);
}

/* Paths outside /api/VERSION and /apis/GROUP/VERSION. */
static const struct {
	const char *methods, *path;
	bool prefix;
	api_fn fn;
} fixed_routes[] = {
	{ NULL, "/healthz", false, respond_ok },
	{ NULL, "/livez", false, respond_ok },
	{ NULL, "/readyz", false, respond_ok },
	{ "GET", "/openapi/v3", false, handle_openapi_index },
	{ "GET", "/openapi/v3/", true, handle_openapi_doc },
	{ NULL, "/version", false, handle_version_route },
	{ NULL, "/api", false, handle_api_root },
	{ NULL, "/api/", false, handle_api_root },
	{ NULL, "/apis", false, handle_apis_root },
	{ NULL, "/apis/", false, handle_apis_root },
	{ "POST", "/tulle/v1/apply", false, handle_batch_apply_route },
};

static void list_or_watch(struct conn *c, struct http_msg *req, struct route *r)
{
	char *w = http_query_param(req->query, "watch");
	bool watch = w && (!strcmp(w, "true") || !strcmp(w, "1"));

	free(w);
	if (watch)
		watch_start(c->srv, c, req, r->kind, r->version, r->ns);
	else
		handle_list(c, req, r);
}

static void create(struct conn *c, struct http_msg *req, struct route *r)
{
	handle_write(c, req, r, WRITE_CREATE);
}

static void update(struct conn *c, struct http_msg *req, struct route *r)
{
	handle_write(c, req, r, WRITE_UPDATE);
}

static void get_object(struct conn *c, struct http_msg *req, struct route *r)
{
	handle_get(c, req, r);
}

static void patch_object(struct conn *c, struct http_msg *req, struct route *r)
{
	handle_patch(c, req, r);
}

static void delete_object(struct conn *c, struct http_msg *req, struct route *r)
{
	handle_delete(c, req, r);
}

/* The verbs on a collection (name == NULL) and on one object; the status subresource
 * goes through the object's own (the write path keeps spec and status apart). */
static const struct {
	bool collection;
	const char *method;
	api_fn fn;
} verb_routes[] = {
	{ true, "GET", list_or_watch },
	{ true, "POST", create },
	{ false, "GET", get_object },
	{ false, "PUT", update },
	{ false, "PATCH", patch_object },
	{ false, "DELETE", delete_object },
};

static bool has_status(const struct skind *k)
{
	return k->status_sub;
}

static bool is_pod(const struct skind *k)
{
	return !strcmp(k->kind, "Pod");
}

static void object_verb(struct conn *c, struct http_msg *req, struct route *r);

static void scale_route(struct conn *c, struct http_msg *req, struct route *r)
{
	scale_handle(c, req, r->kind, r->ns, r->name);
}

static void exec_route(struct conn *c, struct http_msg *req, struct route *r)
{
	exec_start(c, req, r->ns, r->name, !strcmp(r->sub, "attach"));
}

static void log_route(struct conn *c, struct http_msg *req, struct route *r)
{
	exec_log(c, req, r->ns, r->name);
}

const struct api_subresource api_subresources[] = {
	{ "status", "GET,PUT,PATCH", { "get", "patch", "update", NULL }, NULL, NULL, NULL, has_status, object_verb, false },
	{ "scale", "GET,PUT,PATCH", { "get", "patch", "update", NULL }, "autoscaling", "v1", "Scale", scale_supported,
	  scale_route, false },
	{ "exec", "GET,POST", { "create", "get", NULL }, NULL, NULL, NULL, is_pod, exec_route, true },
	{ "attach", "GET,POST", { "create", "get", NULL }, NULL, NULL, NULL, is_pod, exec_route, true },
	{ "log", "GET", { "get", NULL }, NULL, NULL, NULL, is_pod, log_route, true },
};
const size_t api_nsubresources = ARRAY_SIZE(api_subresources);

static void method_not_allowed(struct conn *c, struct http_msg *req)
{
	conn_respond_json(c, req, 405, status_new(405, "MethodNotAllowed",
						  "the server does not allow this method on the requested resource"));
}

static void object_verb(struct conn *c, struct http_msg *req, struct route *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(verb_routes); i++)
		if (verb_routes[i].collection == !r->name && !strcmp(verb_routes[i].method, req->method)) {
			verb_routes[i].fn(c, req, r);
			return;
		}
	method_not_allowed(c, req);
}

/* An object's subresource from the table; a node API serves only those that run in
 * the pod. */
static void subresource(struct conn *c, struct http_msg *req, struct route *r)
{
	const struct api_subresource *sr = NULL;
	bool node = c->srv->cfg.node_api;

	for (size_t i = 0; i < api_nsubresources && !sr; i++)
		if (!strcmp(api_subresources[i].name, r->sub) && r->name && api_subresources[i].applies(r->kind) &&
		    (!node || api_subresources[i].on_node))
			sr = &api_subresources[i];
	if (!sr)
		not_found(c, req);
	else if (!api_method_in(sr->methods, req->method))
		method_not_allowed(c, req);
	else
		sr->fn(c, req, r);
}

/* A node's API: health, and the subresources that run in a pod (exec, attach, log). */
static void node_route(struct conn *c, struct http_msg *req)
{
	struct route r = { 0 };

	if (!strcmp(req->path, "/healthz"))
		respond_ok(c, req, NULL);
	else if (route_parse(c->srv, req->path, &r) == R_RESOURCE && r.sub)
		subresource(c, req, &r);
	else
		not_found(c, req);
	route_free(&r);
}

static void route_request(struct conn *c, struct http_msg *req)
{
	struct route r = { 0 };

	if (c->srv->cfg.node_api) {
		node_route(c, req);
		return;
	}

	for (size_t i = 0; i < ARRAY_SIZE(fixed_routes); i++) {
		bool at = fixed_routes[i].prefix ? str_has_prefix(req->path, fixed_routes[i].path)
						 : !strcmp(req->path, fixed_routes[i].path);
		if (at && (!fixed_routes[i].methods || api_method_in(fixed_routes[i].methods, req->method))) {
			fixed_routes[i].fn(c, req, NULL);
			return;
		}
	}
	enum route_kind rk = route_parse(c->srv, req->path, &r);
	if (rk == R_DISCOVERY_GROUP_VERSION && !strcmp(req->method, "GET")) {
		discovery_group_version(c, req, &r);
	} else if (rk != R_RESOURCE) {
		not_found(c, req);
	} else if (!r.sub) {
		object_verb(c, req, &r);
	} else {
		subresource(c, req, &r);
	}
	route_free(&r);
}
