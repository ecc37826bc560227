/* The scale subresource (autoscaling/v1 Scale) of kinds with spec.replicas, what
 * `kubectl scale` reads and writes: GET, PUT and PATCH (merge, strategic or JSON
 * patch of the Scale), each a write of the parent's spec.replicas. */
#include <stdlib.h>
#include <string.h>

#include "../api/schema.h"
#include "../lib/selector.h"
#include "../lib/util.h"
#include "objects.h"
#include "patch.h"
#include "scale.h"

bool scale_supported(const struct skind *k)
{
	return sstruct_field(&k->body, "spec") && !strcmp(k->kind, "Deployment");
}

/* "app=web,tier=x" from a label selector's matchLabels, as Scale.status.selector. */
static char *selector_text(const json_t *sel)
{
	struct strbuf sb;
	const char *k;
	json_t *v;
	sb_init(&sb);
	json_object_foreach(json_object_get((json_t *)sel, "matchLabels"), k, v)
		sb_printf(&sb, "%s%s=%s", sb.len ? "," : "", k, json_string_value(v) ?: "");
	return sb.len ? sb_detach(&sb) : (sb_free(&sb), xstrdup(""));
}

static json_t *scale_of(const json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	char *sel = selector_text(json_object_get(json_object_get(obj, "spec"), "selector"));
	json_t *s = json_pack("{s:s,s:s,s:{s:O,s:O,s:O,s:O,s:O},s:{s:I},s:{s:I,s:s}}", "apiVersion", "autoscaling/v1",
			      "kind", "Scale", "metadata", "name", json_object_get(md, "name"), "namespace",
			      json_object_get(md, "namespace") ?: json_null(), "uid", json_object_get(md, "uid"),
			      "resourceVersion", json_object_get(md, "resourceVersion"), "creationTimestamp",
			      json_object_get(md, "creationTimestamp"), "spec", "replicas",
			      json_integer_value(json_object_get(json_object_get(obj, "spec"), "replicas")), "status",
			      "replicas", json_integer_value(json_object_get(json_object_get(obj, "status"), "replicas")),
			      "selector", sel);
	free(sel);
	return s;
}

void scale_handle(struct conn *c, const struct http_msg *req, const struct skind *k, const char *ns,
		  const char *name)
{
	struct apiserver *s = c->srv;
	json_t *obj = objects_get(s, k, ns, name);
	if (!obj) {
		conn_respond_json(c, req, 404, status_not_found(k, name));
		return;
	}
	json_t *cur = scale_of(obj);
	if (!strcmp(req->method, "GET")) {
		json_decref(obj);
		conn_respond_json(c, req, 200, cur);
		return;
	}
	json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
	json_t *next = NULL;
	char *err = NULL;
	const char *ct = http_get_header(req, "Content-Type") ?: "";
	if (!body)
		err = xstrdup("the body is not JSON");
	else if (!strcmp(req->method, "PUT"))
		next = json_incref(body);
	else if (str_has_prefix(ct, "application/json-patch+json"))
		next = json_patch(cur, body, &err);
	else if (str_has_prefix(ct, "application/merge-patch+json") || str_has_prefix(ct, "application/strategic-merge-patch+json"))
		next = merge_patch(cur, body);
	else
		err = xasprintf("unsupported patch type %s", ct);
	json_t *rep = json_object_get(json_object_get(next, "spec"), "replicas");
	if (!err && (!json_is_integer(rep) || json_integer_value(rep) < 0 || json_integer_value(rep) > 100000))
		err = xstrdup("spec.replicas: Invalid value: must be an integer from 0 to 100000");
	json_decref(body);
	json_decref(cur);
	if (err) {
		conn_respond_json(c, req, 422, status_new(422, "Invalid", err));
		free(err);
		json_decref(next);
		json_decref(obj);
		return;
	}
	json_object_set(json_object_get(obj, "spec"), "replicas", rep);
	json_decref(next);
	struct write_result wr;
	int rc = txn_begin(s);
	if (rc < 0) {
		json_decref(obj);
		conn_respond_json(c, req, 500, status_internal("starting a transaction", rc));
		return;
	}
	objects_write(s, k, obj, WRITE_UPDATE, PART_MAIN, &wr);
	if (wr.code < 300 && txn_commit(s) == 0) {
		conn_respond_json(c, req, 200, scale_of(wr.body));
		json_decref(wr.body);
		return;
	}
	if (wr.code < 300) {
		conn_respond_json(c, req, 500, status_new(500, "InternalError", "the write could not be committed"));
	} else {
		txn_rollback(s);
		conn_respond_json(c, req, wr.code, json_incref(wr.body));
	}
	json_decref(wr.body);
}
