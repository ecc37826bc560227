/* Kubernetes Status objects: every error the API returns is one, so kubectl and
 * client libraries print what they always print. */
#include <string.h>

#include "../lib/ferr.h"
#include "server.h"

json_t *status_new(int code, const char *reason, const char *message)
{
	json_t *st = json_pack("{s:s,s:s,s:{},s:s}", "kind", "Status", "apiVersion", "v1",
			       "metadata", "status", code < 400 ? "Success" : "Failure");

	if (message)
		json_object_set_new(st, "message", json_string(message));
	if (reason)
		json_object_set_new(st, "reason", json_string(reason));
	json_object_set_new(st, "code", json_integer(code));
	return st;
}

static void set_details(json_t *st, const struct skind *k, const char *name)
{
	json_t *d = json_object();

	if (name)
		json_object_set_new(d, "name", json_string(name));
	if (k) {
		if (k->group[0])
			json_object_set_new(d, "group", json_string(k->group));
		json_object_set_new(d, "kind", json_string(k->plural));
	}
	json_object_set_new(st, "details", d);
}

static char *resource_name(const struct skind *k)
{
	return k->group[0] ? xasprintf("%s.%s", k->plural, k->group) : xstrdup(k->plural);
}

json_t *status_not_found(const struct skind *k, const char *name)
{
	char *r = resource_name(k);
	char *msg = xasprintf("%s \"%s\" not found", r, name);
	json_t *st = status_new(404, "NotFound", msg);

	set_details(st, k, name);
	free(msg);
	free(r);
	return st;
}

json_t *status_already_exists(const struct skind *k, const char *name)
{
	char *r = resource_name(k);
	char *msg = xasprintf("%s \"%s\" already exists", r, name);
	json_t *st = status_new(409, "AlreadyExists", msg);

	set_details(st, k, name);
	free(msg);
	free(r);
	return st;
}

json_t *status_conflict(const struct skind *k, const char *name, const char *why)
{
	char *r = resource_name(k);
	char *msg = xasprintf("Operation cannot be fulfilled on %s \"%s\": %s", r, name, why);
	json_t *st = status_new(409, "Conflict", msg);

	set_details(st, k, name);
	free(msg);
	free(r);
	return st;
}

json_t *status_bad_request(const char *message)
{
	return status_new(400, "BadRequest", message);
}

json_t *status_internal(const char *what, int err)
{
	char *msg = xasprintf("%s: %s", what, strerror(err < 0 ? -err : err));
	json_t *st = status_new(500, "InternalError", msg);

	free(msg);
	return st;
}

json_t *status_invalid(const struct skind *k, const char *name, const struct ferrs *errs)
{
	struct strbuf msg;
	json_t *causes = json_array();

	sb_init(&msg);
	sb_printf(&msg, "%s \"%s\" is invalid: ", k ? k->kind : "object", name ? name : "");
	if (errs->n > 1)
		sb_addc(&msg, '[');
	for (size_t i = 0; i < errs->n; i++) {
		struct strbuf one, cause;
		const struct ferr *f = &errs->v[i];
		sb_init(&one);
		sb_init(&cause);
		ferr_format(&one, f);
		sb_printf(&msg, "%s%s", i ? ", " : "", one.buf);
		/* A cause's message is the text after "field: ". */
		const char *m = one.buf;
		size_t pl = strlen(f->path);
		if (f->type != FERR_UNKNOWN && pl && !strncmp(m, f->path, pl) && !strncmp(m + pl, ": ", 2))
			m += pl + 2;
		json_array_append_new(causes, json_pack("{s:s,s:s,s:s}", "reason",
							f->type == FERR_UNKNOWN ? "FieldValueInvalid" : ferr_type_reason(f->type),
							"message", m, "field", f->path));
		sb_free(&one);
		sb_free(&cause);
	}
	if (errs->n > 1)
		sb_addc(&msg, ']');
	json_t *st = status_new(422, "Invalid", msg.buf);
	set_details(st, k, name);
	if (k)
		json_object_set_new(json_object_get(st, "details"), "kind", json_string(k->kind));
	json_object_set_new(json_object_get(st, "details"), "causes", causes);
	sb_free(&msg);
	return st;
}

json_t *status_success(const struct skind *k, const char *name, const char *uid)
{
	json_t *st = status_new(200, NULL, NULL);

	set_details(st, k, name);
	if (uid)
		json_object_set_new(json_object_get(st, "details"), "uid", json_string(uid));
	return st;
}
