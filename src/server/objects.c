#include "objects.h"
#include "kind_hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../api/validate.h"
#include "managed.h"

char *objects_res(const struct skind *k)
{
	return k->group[0] ? xasprintf("%s/%s", k->group, k->plural) : xstrdup(k->plural);
}

json_t *objects_get(struct apiserver *s, const struct skind *k, const char *ns,
		    const char *name)
{
	char *res = objects_res(k), *data = NULL;
	json_t *obj = NULL;

	if (store_get(s->store, res, k->namespaced ? ns : "", name, &data, NULL) == 0)
		obj = json_loads(data, 0, NULL);
	free(data);
	free(res);
	return obj;
}

void objects_present(json_t *obj, const struct skind *k, const char *version)
{
	if (!version || !skind_has_version(k, version))
		return;
	char *av = skind_api_version(k, version);
	if (strcmp(av, json_string_value(json_object_get(obj, "apiVersion")) ?: "") != 0)
		json_object_set_new(obj, "apiVersion", json_string(av));
	free(av);
}

static void new_uid(char out[37])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)(now_ns() >> (i % 8));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static void random_suffix(char out[6])
{
	/* The alphabet Kubernetes uses for generated names (no vowels, no look-alikes). */
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	uint8_t b[5];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		memset(b, (int)(now_ns() & 0xff), sizeof(b));
	for (int i = 0; i < 5; i++)
		out[i] = alpha[b[i] % (sizeof(alpha) - 1)];
	out[5] = 0;
}

/* apiVersion, kind, metadata, then the rest, then status: the order kubectl shows. */
static json_t *canonical(json_t *obj)
{
	json_t *out = json_object();
	const char *key;
	json_t *v;
	static const char *const first[] = { "apiVersion", "kind", "metadata" };

	for (size_t i = 0; i < ARRAY_SIZE(first); i++)
		if ((v = json_object_get(obj, first[i])))
			json_object_set(out, first[i], v);
	json_object_foreach(obj, key, v)
		if (!json_object_get(out, key) && strcmp(key, "status") != 0)
			json_object_set(out, key, v);
	if ((v = json_object_get(obj, "status")))
		json_object_set(out, "status", v);
	json_decref(obj);
	return out;
}

/* True when the parts that define the desired state differ (generation bumps). */
static bool spec_changed(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)a, key, v) {
		if (!strcmp(key, "metadata") || !strcmp(key, "status") || !strcmp(key, "apiVersion"))
			continue;
		if (!json_equal(v, json_object_get(b, key)))
			return true;
	}
	json_object_foreach((json_t *)b, key, v) {
		if (!strcmp(key, "metadata") || !strcmp(key, "status") || !strcmp(key, "apiVersion"))
			continue;
		if (!json_object_get(a, key))
			return true;
	}
	return false;
}

static bool same_object(const json_t *a, const json_t *b)
{
	json_t *x = json_deep_copy(a), *y = json_deep_copy(b);

	json_object_del(json_object_get(x, "metadata"), "resourceVersion");
	json_object_del(json_object_get(y, "metadata"), "resourceVersion");
	json_object_del(x, "apiVersion");
	json_object_del(y, "apiVersion");
	bool eq = json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return eq;
}

/* Who set which fields: recorded on every write of the main resource. */
static void track_fields(struct apiserver *s, const struct skind *k, json_t *obj, const json_t *old)
{
	struct fs_ctx fc = { s->schema, k };

	if (!s->fields_final)
		managed_update(&fc, obj, old, s->field_manager ? s->field_manager : "tulle-controller-manager");
}

static void fail(struct write_result *r, int code, json_t *status)
{
	r->code = code;
	r->body = status;
	r->action = NULL;
}

static int ns_exists(struct apiserver *s, const char *ns)
{
	return store_get(s->store, "namespaces", "", ns, NULL, NULL) == 0;
}

static int persist(struct apiserver *s, const struct skind *k, json_t **objp, json_t *prev,
		   struct write_result *r)
{
	json_t *md;
	char rv[24];
	int64_t rev = store_next_rev(s->store);
	char *res = objects_res(k);
	json_t *obj = canonical(*objp);

	*objp = obj;
	md = json_object_get(obj, "metadata");
	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	json_object_set_new(md, "resourceVersion", json_string(rv));
	const char *ns = k->namespaced ? json_string_value(json_object_get(md, "namespace")) : "";
	const char *name = json_string_value(json_object_get(md, "name"));
	char *data = json_dumps(obj, JSON_COMPACT);
	char *pdata = prev ? json_dumps(prev, JSON_COMPACT) : NULL;
	int rc = store_put(s->store, res, ns, name, rev, prev ? STORE_MODIFIED : STORE_ADDED, data, pdata);
	if (rc == 0)
		txn_event(s, rev, prev ? STORE_MODIFIED : STORE_ADDED, k, ns, name, obj, prev);
	else
		fail(r, 500, status_internal("writing to the store", rc));
	free(data);
	free(pdata);
	free(res);
	return rc;
}

void objects_write(struct apiserver *s, const struct skind *k, json_t *obj,
		   enum write_mode mode, enum write_part part, struct write_result *r)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	json_t *old = NULL, *st = NULL;
	char ts[32];

	memset(r, 0, sizeof(*r));
	if (k->namespaced && (!ns || !*ns)) {
		json_object_set_new(md, "namespace", json_string("default"));
		ns = "default";
	}
	const struct kind_hooks *h = kind_hooks_of(k);
	if (k->namespaced && !ns_exists(s, ns)) {
		const struct skind *nsk = schema_kind_lookup(s->schema, "namespaces");
		fail(r, 404, status_not_found(nsk, ns));
		goto out;
	}
	if (!name) {
		const char *gen = json_string_value(json_object_get(md, "generateName"));
		char suffix[6];
		if (mode != WRITE_CREATE || !gen) {
			fail(r, 422, status_new(422, "Invalid", "metadata.name: Required value: name or generateName is required"));
			goto out;
		}
		/* Retry on the rare collision, as the API server's name generator does. */
		for (int tries = 0; tries < 8; tries++) {
			random_suffix(suffix);
			char *n = xasprintf("%s%s", gen, suffix);
			json_object_set_new(md, "name", json_string(n));
			free(n);
			name = json_string_value(json_object_get(md, "name"));
			json_t *clash = objects_get(s, k, ns, name);
			json_decref(clash);
			if (!clash)
				break;
		}
	}
	old = objects_get(s, k, ns, name);
	if (!old && mode == WRITE_UPDATE) {
		fail(r, 404, status_not_found(k, name));
		goto out;
	}
	if (old && mode == WRITE_CREATE) {
		fail(r, 409, status_already_exists(k, name));
		goto out;
	}
	if (!old) {
		char uid[37];
		new_uid(uid);
		rfc3339_now(ts);
		json_object_set_new(md, "uid", json_string(uid));
		json_object_set_new(md, "creationTimestamp", json_string(ts));
		json_object_set_new(md, "generation", json_integer(1));
		json_object_del(md, "resourceVersion");
		json_object_del(md, "deletionTimestamp");
		json_object_del(md, "selfLink");
		if (k->status_sub) {
			json_object_del(obj, "status");
			if (h && h->initial_status)
				json_object_set_new(obj, "status", json_loads(h->initial_status, 0, NULL));
		}
		if (h && h->on_create)
			h->on_create(s, obj);
		if (h && h->on_write && h->on_write(s, obj, NULL, &st) < 0) {
			fail(r, (int)json_integer_value(json_object_get(st, "code")), st);
			goto out;
		}
		track_fields(s, k, obj, NULL);
		if (persist(s, k, &obj, NULL, r) == 0) {
			r->code = 201;
			r->body = json_incref(obj);
			r->action = "created";
		}
		goto out;
	}
	/* Update. */
	json_t *omd = json_object_get(old, "metadata");
	const char *want_rv = json_string_value(json_object_get(md, "resourceVersion"));
	const char *have_rv = json_string_value(json_object_get(omd, "resourceVersion"));
	if (want_rv && *want_rv && strcmp(want_rv, have_rv ?: "") != 0) {
		fail(r, 409, status_conflict(k, name, "the object has been modified; please apply your changes to the latest version and try again"));
		goto out;
	}
	static const char *const kept[] = { "uid", "creationTimestamp", "generation", "deletionTimestamp" };
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		json_t *v = json_object_get(omd, kept[i]);
		if (v)
			json_object_set(md, kept[i], v);
		else
			json_object_del(md, kept[i]);
	}
	if (k->status_sub && part == PART_MAIN) {
		json_t *ostatus = json_object_get(old, "status");
		if (ostatus)
			json_object_set(obj, "status", ostatus);
		else
			json_object_del(obj, "status");
	} else if (part == PART_STATUS) {
		/* A status write changes the status alone. */
		json_t *status = json_incref(json_object_get(obj, "status"));
		json_t *copy = json_deep_copy(old);
		if (status)
			json_object_set_new(copy, "status", status);
		json_decref(obj);
		obj = copy;
		md = json_object_get(obj, "metadata");
	}
	if (h && h->on_write && h->on_write(s, obj, old, &st) < 0) {
		fail(r, (int)json_integer_value(json_object_get(st, "code")), st);
		goto out;
	}
	if (part == PART_MAIN)
		track_fields(s, k, obj, old);
	if (spec_changed(obj, old))
		json_object_set_new(md, "generation",
				    json_integer(json_integer_value(json_object_get(omd, "generation")) + 1));
	if (same_object(obj, old)) {
		r->code = 200;
		r->body = json_incref(old);
		r->action = "unchanged";
		goto out;
	}
	if (persist(s, k, &obj, old, r) == 0) {
		r->code = 200;
		r->body = json_incref(obj);
		r->action = "configured";
	}
out:
	json_decref(old);
	json_decref(obj);
}

static void delete_one(struct apiserver *s, const struct skind *k, json_t *obj,
		       const char *propagation, struct write_result *r, int depth);

struct dependents {
	struct apiserver *s;
	const struct skind *k;
	const char *uid;
	json_t *found;
};

static int find_dependent(void *ctx, const char *ns, const char *name, int64_t rev, const char *data)
{
	struct dependents *d = ctx;

	(void)ns; (void)name; (void)rev;
	if (!strstr(data, d->uid)) /* cheap pre-filter before parsing */
		return 0;
	json_t *obj = json_loads(data, 0, NULL);
	size_t i;
	json_t *ref;
	json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, ref)
		if (!strcmp(json_string_value(json_object_get(ref, "uid")) ?: "", d->uid)) {
			json_array_append(d->found, obj);
			break;
		}
	json_decref(obj);
	return 0;
}

static int collect_all(void *ctx, const char *ns, const char *name, int64_t rev, const char *data)
{
	json_t *arr = ctx;

	(void)ns; (void)name; (void)rev;
	json_t *obj = json_loads(data, 0, NULL);
	if (obj)
		json_array_append_new(arr, obj);
	return 0;
}

/* Deletes what hangs off obj: a namespace's contents, an owner's dependents. */
static int cascade(struct apiserver *s, const struct skind *k, json_t *obj,
		   const char *propagation, int depth)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *uid = json_string_value(json_object_get(md, "uid"));
	const struct kind_hooks *h = kind_hooks_of(k);
	bool is_ns = h && h->holds_namespace;
	int rc = 0;

	if (depth > 16 || (!is_ns && propagation && !strcmp(propagation, "Orphan")))
		return 0;
	for (size_t i = 0; i < s->schema->nkinds && rc == 0; i++) {
		const struct skind *dk = s->schema->kinds[i];
		if (dk->local || !dk->namespaced)
			continue;
		char *res = objects_res(dk);
		json_t *found = json_array();
		if (is_ns) {
			store_list(s->store, res, name, NULL, NULL, 0, collect_all, found);
		} else if (uid) {
			struct dependents d = { s, dk, uid, found };
			store_list(s->store, res, k->namespaced ? ns : NULL, NULL, NULL, 0, find_dependent, &d);
		}
		size_t j;
		json_t *dep;
		json_array_foreach(found, j, dep) {
			struct write_result r;
			delete_one(s, dk, json_incref(dep), propagation, &r, depth + 1);
			if (r.code >= 400)
				rc = -EIO;
			json_decref(r.body);
		}
		json_decref(found);
		free(res);
	}
	return rc;
}

static void delete_one(struct apiserver *s, const struct skind *k, json_t *obj,
		       const char *propagation, struct write_result *r, int depth)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = k->namespaced ? json_string_value(json_object_get(md, "namespace")) : "";
	char *res = objects_res(k);

	memset(r, 0, sizeof(*r));
	if (cascade(s, k, obj, propagation, depth) < 0) {
		fail(r, 500, status_internal("deleting dependents", EIO));
		goto out;
	}
	const struct kind_hooks *h = kind_hooks_of(k);
	if (h && h->on_delete)
		h->on_delete(s, obj);
	int64_t rev = store_next_rev(s->store);
	char rv[24];
	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	json_t *last = json_deep_copy(obj);
	json_object_set_new(json_object_get(last, "metadata"), "resourceVersion", json_string(rv));
	char *data = json_dumps(last, JSON_COMPACT);
	int rc = store_del(s->store, res, ns, name, rev, data);
	free(data);
	if (rc < 0) {
		json_decref(last);
		fail(r, rc == -ENOENT ? 404 : 500,
		     rc == -ENOENT ? status_not_found(k, name) : status_internal("deleting from the store", rc));
		goto out;
	}
	txn_event(s, rev, STORE_DELETED, k, ns, name, last, obj);
	r->code = 200;
	r->body = status_success(k, name, json_string_value(json_object_get(md, "uid")));
	r->action = "deleted";
	json_decref(last);
out:
	free(res);
	json_decref(obj);
}

void objects_delete(struct apiserver *s, const struct skind *k, const char *ns,
		    const char *name, const char *propagation, struct write_result *r)
{
	json_t *obj = objects_get(s, k, ns, name);

	if (!obj) {
		memset(r, 0, sizeof(*r));
		fail(r, 404, status_not_found(k, name));
		return;
	}
	delete_one(s, k, obj, propagation, r, 0);
}

static int ensure(struct apiserver *s, const char *yaml_json)
{
	json_t *obj = json_loads(yaml_json, 0, NULL);
	const struct skind *k;
	struct ferrs errs;
	struct write_result r;
	int rc = 0;

	ferrs_init(&errs);
	if (api_validate(obj, NULL, UNKNOWN_STRICT, &k, &errs, NULL) < 0) {
		ferrs_free(&errs);
		json_decref(obj);
		return -EINVAL;
	}
	json_t *md = json_object_get(obj, "metadata");
	json_t *have = objects_get(s, k, json_string_value(json_object_get(md, "namespace")),
				   json_string_value(json_object_get(md, "name")));
	if (have) {
		json_decref(have);
		json_decref(obj);
		ferrs_free(&errs);
		return 0;
	}
	objects_write(s, k, obj, WRITE_CREATE, PART_MAIN, &r);
	if (r.code >= 400)
		rc = -EIO;
	json_decref(r.body);
	ferrs_free(&errs);
	return rc;
}

int objects_bootstrap(struct apiserver *s)
{
	static const char *const objs[] = {
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"default\"}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"kube-system\"}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"kube-public\"}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"kube-node-lease\"}}",
	};
	int rc = txn_begin(s);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(objs) && rc == 0; i++)
		rc = ensure(s, objs[i]);
	if (rc == 0) {
		/* The API's own Service takes the first address of the service range. */
		struct ipaddr ip;
		char buf[64];
		cidr_nth(&s->cfg.service_cidr, 1, &ip);
		ip_format(&ip, buf, sizeof(buf));
		char *svc = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
				      "\"kubernetes\",\"namespace\":\"default\",\"labels\":{\"component\":"
				      "\"apiserver\",\"provider\":\"kubernetes\"}},\"spec\":{\"clusterIP\":"
				      "\"%s\",\"ports\":[{\"name\":\"https\",\"port\":443,\"targetPort\":6443}]}}",
				      buf);
		rc = ensure(s, svc);
		free(svc);
	}
	if (rc < 0) {
		txn_rollback(s);
		return rc;
	}
	return txn_commit(s);
}
