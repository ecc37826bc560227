/* Field sets and server-side apply: the FieldsV1 encoding of an object's fields, set
 * algebra, structured merge and removal, and field ownership across managers
 * (conflicts, force, fields an applier stops applying). */
#include "../lib/testhelp.h"

#include "fieldset.h"
#include "managed.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	if (!v)
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, text);
	return v;
}

static struct fs_ctx ctx(const char *kind)
{
	struct fs_ctx c = { schema_get(), schema_kind_lookup(schema_get(), kind) };
	return c;
}

/* The member paths of a set, one per line. */
static char *paths_of(const json_t *set)
{
	struct strbuf sb;
	sb_init(&sb);
	fs_paths(set, &sb);
	return sb.buf ? sb.buf : xstrdup("");
}

static const char *DEPLOY =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"app\",\"namespace\":\"d\","
	"\"labels\":{\"team\":\"a\"}},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"app\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"app\"}},\"spec\":{\"containers\":[{\"name\":\"web\","
	"\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}],\"command\":[\"a\",\"b\"]}]}}},"
	"\"status\":{\"replicas\":2}}";

static void test_fields_of_an_object(void)
{
	struct fs_ctx c = ctx("deployments");
	json_t *d = J(DEPLOY), *set = fs_of(&c, d);
	char *p = paths_of(set);

	/* keyed item with the protocol default in its key; atomic list a leaf; map with "." */
	CHECK(strstr(p, ".spec.template.spec.containers[name=\"web\"].ports[containerPort=80,protocol=\"TCP\"].containerPort\n"));
	CHECK(strstr(p, ".spec.template.spec.containers[name=\"web\"].command\n"));
	CHECK(!strstr(p, ".command[")); /* no element of an atomic list */
	CHECK(strstr(p, ".metadata.labels\n") && strstr(p, ".metadata.labels.team\n"));
	CHECK(strstr(p, ".spec.replicas\n"));
	/* names, status, apiVersion and kind belong to nobody */
	CHECK(!strstr(p, ".metadata.name") && !strstr(p, ".status") && !strstr(p, ".kind") && !strstr(p, "apiVersion"));
	CHECK(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(set, "f:spec"),
		"f:template"), "f:spec"), "f:containers"), "k:{\"name\":\"web\"}"), "."));
	free(p);
	json_decref(set);
	json_decref(d);
}

static void test_changed_fields(void)
{
	struct fs_ctx c = ctx("deployments");
	json_t *a = J(DEPLOY), *b = J(DEPLOY);
	json_t *ctr = json_array_get(json_object_get(json_object_get(json_object_get(json_object_get(b, "spec"), "template"),
							  "spec"), "containers"), 0);
	json_object_set_new(ctr, "image", json_string("nginx:2"));
	json_array_append_new(json_object_get(ctr, "ports"), J("{\"containerPort\":81,\"protocol\":\"UDP\"}"));
	json_object_set_new(json_object_get(b, "status"), "replicas", json_integer(5)); /* not a field of anyone */
	json_t *set = fs_changed(&c, a, b);
	char *p = paths_of(set);
	CHECK_STR(p, ".spec.template.spec.containers[name=\"web\"].image\n"
		     ".spec.template.spec.containers[name=\"web\"].ports[containerPort=81,protocol=\"UDP\"]\n"
		     ".spec.template.spec.containers[name=\"web\"].ports[containerPort=81,protocol=\"UDP\"].containerPort\n"
		     ".spec.template.spec.containers[name=\"web\"].ports[containerPort=81,protocol=\"UDP\"].protocol\n");
	free(p);
	json_decref(set);
	set = fs_changed(&c, a, a);
	CHECK(fs_empty(set));
	json_decref(set);
	json_decref(a);
	json_decref(b);
}

static void test_set_algebra(void)
{
	json_t *a = J("{\"f:spec\":{\"f:replicas\":{},\"f:paused\":{}},\"f:metadata\":{\"f:labels\":{\".\":{},\"f:x\":{}}}}");
	json_t *b = J("{\"f:spec\":{\"f:replicas\":{}},\"f:metadata\":{\"f:labels\":{\"f:y\":{}}}}");
	json_t *u = fs_union(a, b), *i = fs_intersect(a, b), *m = fs_minus(a, b), *e = json_object();
	char *pu = paths_of(u), *pi = paths_of(i), *pm = paths_of(m);

	CHECK_STR(pu, ".spec.replicas\n.spec.paused\n.metadata.labels\n.metadata.labels.x\n.metadata.labels.y\n");
	CHECK_STR(pi, ".spec.replicas\n");
	CHECK_STR(pm, ".spec.paused\n.metadata.labels\n.metadata.labels.x\n");
	json_t *x = fs_minus(a, a), *y = fs_intersect(a, e), *z = fs_union(e, e);
	CHECK(fs_empty(x) && fs_empty(y) && fs_empty(z));
	free(pu); free(pi); free(pm);
	json_decref(x); json_decref(y); json_decref(z);
	json_decref(u); json_decref(i); json_decref(m);
	json_decref(a); json_decref(b); json_decref(e);
}

static void test_merge_keyed_lists_and_sets(void)
{
	struct fs_ctx c = ctx("services");
	json_t *live = J("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\",\"finalizers\":[\"a\"]},"
			 "\"spec\":{\"ports\":[{\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80},{\"port\":53,\"protocol\":\"UDP\"}],"
			 "\"selector\":{\"app\":\"x\"}}}");
	json_t *app = J("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\",\"finalizers\":[\"b\"]},"
			"\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080}],\"selector\":{\"tier\":null,\"role\":\"y\"}}}");
	json_t *m = fs_merge(&c, live, app);
	json_t *ports = json_object_get(json_object_get(m, "spec"), "ports");

	/* port 80 (protocol defaulted in the key) merged in place, port 53 kept after it */
	CHECK(json_array_size(ports) == 2);
	CHECK(json_integer_value(json_object_get(json_array_get(ports, 0), "targetPort")) == 8080);
	CHECK(json_integer_value(json_object_get(json_array_get(ports, 1), "port")) == 53);
	/* maps merge key by key, nulls are ignored; a set is a union */
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(m, "spec"), "selector"), "app")), "x");
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(m, "spec"), "selector"), "role")), "y");
	CHECK(!json_object_get(json_object_get(json_object_get(m, "spec"), "selector"), "tier"));
	CHECK(json_array_size(json_object_get(json_object_get(m, "metadata"), "finalizers")) == 2);
	json_decref(m);
	json_decref(live);
	json_decref(app);
}

static void test_remove_fields(void)
{
	struct fs_ctx c = ctx("deployments");
	json_t *d = J(DEPLOY);
	json_t *set = J("{\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":"
			"{\".\":{},\"f:image\":{},\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":"
			"{\".\":{},\"f:containerPort\":{}}},\"f:command\":{}}}}}},\"f:metadata\":{\"f:labels\":{\".\":{},\"f:team\":{}}}}");
	json_t *r = fs_remove(&c, d, set);
	const json_t *ctr = json_array_get(json_object_get(json_object_get(json_object_get(json_object_get(r, "spec"), "template"),
							     "spec"), "containers"), 0);

	CHECK(!json_object_get(json_object_get(r, "spec"), "replicas"));
	CHECK(!json_object_get(json_object_get(r, "metadata"), "labels")); /* emptied map with "." goes */
	CHECK(!ctr); /* only its key (name) was left: the item goes, and the emptied list with it */
	CHECK(!json_object_get(json_object_get(json_object_get(json_object_get(r, "spec"), "template"), "spec"), "containers"));
	CHECK(json_object_get(json_object_get(r, "spec"), "selector")); /* not in the set: kept */
	json_decref(r);
	json_decref(set);
	json_decref(d);
}

/* managed.c: Update ownership moves with the changed fields; apply conflicts on fields
 * another manager set to another value; force takes them; dropping a field removes it. */
static void test_ownership_and_apply(void)
{
	struct fs_ctx c = ctx("deployments");
	json_t *status = NULL;
	json_t *applied = J(DEPLOY);
	json_object_del(applied, "status");
	json_t *obj = managed_apply(&c, NULL, applied, "alice", false, &status);
	CHECK(obj && !status);
	json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	CHECK(json_array_size(mf) == 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(mf, 0), "operation")), "Apply");

	/* bob scales with an ordinary update */
	json_t *next = json_deep_copy(obj);
	json_object_set_new(json_object_get(next, "spec"), "replicas", json_integer(5));
	managed_update(&c, next, obj, "bob");
	mf = json_object_get(json_object_get(next, "metadata"), "managedFields");
	CHECK(json_array_size(mf) == 2);
	char *p = paths_of(json_object_get(json_array_get(mf, 1), "fieldsV1"));
	CHECK_STR(p, ".spec.replicas\n");
	free(p);
	p = paths_of(json_object_get(json_array_get(mf, 0), "fieldsV1"));
	CHECK(!strstr(p, ".spec.replicas\n")); /* alice lost it to bob */
	free(p);

	/* alice applies bob's value: no conflict, both hold the field */
	json_object_set_new(json_object_get(applied, "spec"), "replicas", json_integer(5));
	json_t *shared = managed_apply(&c, next, applied, "alice", false, &status);
	CHECK(shared && !status);
	mf = json_object_get(json_object_get(shared, "metadata"), "managedFields");
	CHECK(json_array_size(mf) == 2);
	json_decref(shared);

	/* alice applies another value while bob holds it: 409 naming bob and the field */
	json_t *bobs = json_deep_copy(next);
	json_object_set_new(json_object_get(applied, "spec"), "replicas", json_integer(3));
	json_t *none = managed_apply(&c, bobs, applied, "alice", false, &status);
	CHECK(!none && status);
	CHECK(json_integer_value(json_object_get(status, "code")) == 409);
	json_t *cause = json_array_get(json_object_get(json_object_get(status, "details"), "causes"), 0);
	CHECK_STR(json_string_value(json_object_get(cause, "field")), ".spec.replicas");
	CHECK_STR(json_string_value(json_object_get(cause, "message")), "conflict with \"bob\" using apps/v1");
	json_decref(status);
	status = NULL;

	/* forced: alice takes replicas, bob's entry (now empty) goes */
	json_t *forced = managed_apply(&c, bobs, applied, "alice", true, &status);
	CHECK(forced && !status);
	CHECK(json_integer_value(json_object_get(json_object_get(forced, "spec"), "replicas")) == 3);
	CHECK(json_array_size(json_object_get(json_object_get(forced, "metadata"), "managedFields")) == 1);

	/* alice stops applying the label and replicas: both go (nobody else holds them) */
	json_object_del(json_object_get(applied, "metadata"), "labels");
	json_object_del(json_object_get(applied, "spec"), "replicas");
	json_t *dropped = managed_apply(&c, forced, applied, "alice", false, &status);
	CHECK(dropped && !status);
	CHECK(!json_object_get(json_object_get(dropped, "metadata"), "labels"));
	CHECK(!json_object_get(json_object_get(dropped, "spec"), "replicas"));
	CHECK(json_object_get(json_object_get(dropped, "spec"), "template"));

	json_decref(dropped);
	json_decref(forced);
	json_decref(bobs);
	json_decref(next);
	json_decref(obj);
	json_decref(applied);
}

static void test_manager_names(void)
{
	char *a = managed_manager_of("kubectl-client-side-apply", "kubectl/v1.32.0 (linux/amd64)");
	char *b = managed_manager_of(NULL, "kubectl/v1.32.0 (linux/amd64) kubernetes/abc");
	char *c = managed_manager_of("", NULL);
	CHECK_STR(a, "kubectl-client-side-apply");
	CHECK_STR(b, "kubectl");
	CHECK_STR(c, "unknown");
	free(a); free(b); free(c);
}

int main(void)
{
	RUN(test_fields_of_an_object);
	RUN(test_changed_fields);
	RUN(test_set_algebra);
	RUN(test_merge_keyed_lists_and_sets);
	RUN(test_remove_fields);
	RUN(test_ownership_and_apply);
	RUN(test_manager_names);
	return testhelp_done();
}
