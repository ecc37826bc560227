#define _GNU_SOURCE 1
#include "managed.h"

#include <stdlib.h>
#include <string.h>

#include "../api/validate.h"
#include "server.h"

char *managed_manager_of(const char *param, const char *ua)
{
	if (param && *param)
		return xstrndup(param, strnlen(param, 128));
	if (ua && *ua) {
		size_t n = strcspn(ua, "/ ");
		return xstrndup(ua, n ? n : 1);
	}
	return xstrdup("unknown");
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static bool is_entry(const json_t *e, const char *manager, const char *op)
{
	return !strcmp(str(e, "manager"), manager) && !strcmp(str(e, "operation"), op) && !*str(e, "subresource");
}

static json_t *entry_new(const char *manager, const char *op, const char *api_version, json_t *set,
			 const char *time)
{
	char ts[32];

	if (!time) {
		rfc3339_now(ts);
		time = ts;
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "manager", manager, "operation", op, "apiVersion", api_version,
			 "time", time, "fieldsType", "FieldsV1", "fieldsV1", set);
}

/* A client may replace managedFields (kubectl does, moving client-side apply's fields to
 * server-side apply); well-formed entries only, or the stored ones stay. */
static bool entries_valid(const json_t *mf)
{
	size_t i;
	json_t *e;

	json_array_foreach(mf, i, e) {
		const char *op = str(e, "operation");
		if (!json_is_object(e) || !*str(e, "manager") || (strcmp(op, "Apply") && strcmp(op, "Update")) ||
		    !json_is_object(json_object_get(e, "fieldsV1")))
			return false;
	}
	return true;
}

static json_t *base_entries(const json_t *obj, const json_t *old)
{
	const json_t *stored = json_object_get(json_object_get(old, "metadata"), "managedFields");
	const json_t *sent = json_object_get(json_object_get(obj, "metadata"), "managedFields");

	if (json_is_array(sent) && json_array_size(sent) == 1 && json_object_size(json_array_get(sent, 0)) == 0)
		return json_array(); /* [{}]: the documented way to clear them */
	if (json_is_array(sent) && json_array_size(sent) && !json_equal(sent, stored) && entries_valid(sent))
		return json_deep_copy(sent);
	return json_is_array(stored) ? json_deep_copy(stored) : json_array();
}

static void set_entries(json_t *obj, json_t *entries)
{
	json_t *md = json_object_get(obj, "metadata");

	if (json_array_size(entries))
		json_object_set_new(md, "managedFields", entries);
	else {
		json_object_del(md, "managedFields");
		json_decref(entries);
	}
}

void managed_update(const struct fs_ctx *c, json_t *obj, const json_t *old, const char *manager)
{
	json_t *base = base_entries(obj, old), *out = json_array();
	json_t *present = fs_of(c, obj);
	json_t *changed = old ? fs_changed(c, old, obj) : json_incref(present); /* a create sets all */
	const char *av = str(obj, "apiVersion");
	bool mine = false;
	size_t i;
	json_t *e;

	json_array_foreach(base, i, e) {
		if (*str(e, "subresource")) {
			json_array_append(out, e);
			continue;
		}
		json_t *set = fs_intersect(json_object_get(e, "fieldsV1"), present), *next;
		if (is_entry(e, manager, "Update")) {
			mine = true;
			next = fs_union(set, changed);
			json_decref(set);
		} else {
			next = fs_minus(set, changed);
			json_decref(set);
		}
		if (fs_empty(next)) {
			json_decref(next);
			continue;
		}
		bool same = json_equal(next, json_object_get(e, "fieldsV1"));
		json_t *ne = json_deep_copy(e);
		json_object_set_new(ne, "fieldsV1", next);
		if (!same && is_entry(e, manager, "Update")) {
			char ts[32];
			rfc3339_now(ts);
			json_object_set_new(ne, "time", json_string(ts));
			json_object_set_new(ne, "apiVersion", json_string(av));
		}
		json_array_append_new(out, ne);
	}
	if (!mine && !fs_empty(changed))
		json_array_append_new(out, entry_new(manager, "Update", av, json_incref(changed), NULL));
	set_entries(obj, out);
	json_decref(base);
	json_decref(present);
	json_decref(changed);
}

/* 409 as kube-apiserver words it, one cause per field. */
static json_t *conflict_status(const json_t *conflicts)
{
	struct strbuf msg, paths;
	json_t *causes = json_array();
	size_t i, total = 0;
	json_t *cf;

	sb_init(&msg);
	sb_init(&paths);
	json_array_foreach(conflicts, i, cf) {
		sb_reset(&paths);
		fs_paths(json_object_get(cf, "set"), &paths);
		char *who = xasprintf("conflict with \"%s\" using %s", str(cf, "manager"), str(cf, "apiVersion"));
		for (char *line = paths.buf, *nl; line && *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl)
				break;
			*nl = 0;
			json_array_append_new(causes, json_pack("{s:s,s:s,s:s}", "reason", "FieldManagerConflict", "message",
								who, "field", line));
			total++;
		}
		free(who);
	}
	sb_printf(&msg, "Apply failed with %zu conflict%s:", total, total == 1 ? "" : "s");
	json_array_foreach(causes, i, cf)
		sb_printf(&msg, "%s %s: %s", i ? ";" : "", str(cf, "message"), str(cf, "field"));
	json_t *st = status_new(409, "Conflict", msg.buf);
	json_object_set_new(st, "details", json_pack("{s:o}", "causes", causes));
	sb_free(&msg);
	sb_free(&paths);
	return st;
}

json_t *managed_apply(const struct fs_ctx *c, const json_t *live, const json_t *applied,
		      const char *manager, bool force, json_t **status)
{
	const json_t *entries = json_object_get(json_object_get(live, "metadata"), "managedFields");
	const char *av = str(applied, "apiVersion");
	json_t *applied_set = fs_of(c, applied);
	json_t *merged = fs_merge(c, live, applied);
	/* Compared as it will be stored: defaults filled, or every atomic list the applier
	 * left to its defaults would look changed. */
	const struct skind *k;
	struct ferrs errs;
	ferrs_init(&errs);
	api_validate(merged, NULL, UNKNOWN_IGNORE, &k, &errs, NULL);
	ferrs_free(&errs);
	json_t *changed = fs_changed(c, live, merged);
	json_t *taken = fs_intersect(applied_set, changed); /* fields this apply sets to new values */
	json_t *conflicts = json_array(), *kept = json_array(), *others = json_object();
	const json_t *mine = NULL;
	size_t mine_at = (size_t)-1;
	json_t *result = NULL;
	size_t i;
	json_t *e;

	*status = NULL;
	json_array_foreach(entries, i, e) {
		if (is_entry(e, manager, "Apply")) {
			mine = e;
			mine_at = json_array_size(kept);
			continue;
		}
		json_t *set = json_incref(json_object_get(e, "fieldsV1"));
		if (!*str(e, "subresource")) {
			json_t *clash = fs_intersect(set, taken);
			if (!fs_empty(clash) && !force)
				json_array_append_new(conflicts, json_pack("{s:s,s:s,s:O}", "manager", str(e, "manager"),
									   "apiVersion", str(e, "apiVersion"), "set", clash));
			if (!fs_empty(clash)) {
				/* Forced: the applier takes the fields over. */
				json_t *rest = fs_minus(set, clash);
				json_decref(set);
				set = rest;
			}
			json_decref(clash);
			json_t *u = fs_union(others, set);
			json_decref(others);
			others = u;
		}
		if (!fs_empty(set)) {
			json_t *ne = json_deep_copy(e);
			json_object_set(ne, "fieldsV1", set);
			json_array_append_new(kept, ne);
		}
		json_decref(set);
	}
	if (json_array_size(conflicts)) {
		*status = conflict_status(conflicts);
		goto out;
	}
	/* What this manager applied before and applies no more, and nobody else holds, goes. */
	json_t *dropped = fs_minus(mine ? json_object_get(mine, "fieldsV1") : NULL, applied_set);
	json_t *removed = fs_minus(dropped, others);
	json_t *trimmed = live ? fs_remove(c, live, removed) : NULL;
	result = fs_merge(c, trimmed, applied);
	json_decref(dropped);
	json_decref(removed);
	json_decref(trimmed);
	/* An apply that changes nothing keeps its timestamp, so the object stays unchanged. */
	const char *time = mine && json_equal(json_object_get(mine, "fieldsV1"), applied_set) &&
				   !strcmp(str(mine, "apiVersion"), av)
			   ? str(mine, "time") : NULL;
	json_t *ne = entry_new(manager, "Apply", av, json_incref(applied_set), time);
	if (mine)
		json_array_insert_new(kept, mine_at, ne); /* where it was: a no-op apply changes nothing */
	else
		json_array_append_new(kept, ne);
	set_entries(result, json_incref(kept));
out:
	json_decref(applied_set);
	json_decref(merged);
	json_decref(changed);
	json_decref(taken);
	json_decref(conflicts);
	json_decref(kept);
	json_decref(others);
	return result;
}
