/* SQLite store: revisions, CRUD, the event log, compaction and rollback. */
#include "../lib/testhelp.h"

#include <errno.h>
#include <unistd.h>

#include "../lib/util.h"
#include "store.h"

static char *tmpdb(void)
{
	char tmpl[] = "/tmp/tulle-store-XXXXXX";
	char *d = mkdtemp(tmpl);
	return xasprintf("%s/state.db", d);
}

static void cleanup(char *path)
{
	char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);
	char *slash = strrchr(path, '/');
	*slash = 0;
	rmdir(path);
	free(wal);
	free(shm);
	free(path);
}

struct collect {
	int n;
	int64_t last;
	bool ordered;
	char names[16][16];
};

static int collect_ev(void *ctx, const struct store_event *ev)
{
	struct collect *c = ctx;
	if (ev->rev <= c->last)
		c->ordered = false;
	c->last = ev->rev;
	if (c->n < 16)
		snprintf(c->names[c->n], 16, "%d:%s", ev->type, ev->name);
	c->n++;
	return 0;
}

static int collect_obj(void *ctx, const char *ns, const char *name, int64_t rev, const char *d)
{
	struct collect *c = ctx;
	(void)ns; (void)rev; (void)d;
	if (c->n < 16)
		snprintf(c->names[c->n], 16, "%s", name);
	c->n++;
	return 0;
}

static void crud_and_revisions(void)
{
	char *path = tmpdb(), *err, *data;
	struct store *s;
	int64_t rev;

	CHECK(store_open_sqlite(path, true, &s, &err) == 0);
	CHECK(store_rev(s) == 0);
	CHECK(store_put(s, "services", "default", "a", 1, STORE_ADDED, "{\"a\":1}", NULL) == 0);
	CHECK(store_put(s, "services", "default", "b", 2, STORE_ADDED, "{\"b\":1}", NULL) == 0);
	/* A revision out of order is refused: nothing is written. */
	CHECK(store_put(s, "services", "default", "c", 7, STORE_ADDED, "{}", NULL) == -EINVAL);
	CHECK(store_put(s, "services", "default", "a", 3, STORE_MODIFIED, "{\"a\":2}", "{\"a\":1}") == 0);
	CHECK(store_get(s, "services", "default", "a", &data, &rev) == 0);
	CHECK_STR(data, "{\"a\":2}");
	CHECK(rev == 3);
	free(data);
	CHECK(store_del(s, "services", "default", "b", 4, "{\"b\":1}") == 0);
	CHECK(store_get(s, "services", "default", "b", NULL, NULL) == -ENOENT);
	CHECK(store_del(s, "services", "default", "b", 5, "{}") == -ENOENT);
	CHECK(store_rev(s) == 4);
	store_close(s);
	/* Reopening keeps everything, revision included. */
	CHECK(store_open_sqlite(path, true, &s, &err) == 0);
	CHECK(store_rev(s) == 4);
	struct collect c = { .ordered = true };
	CHECK(store_events(s, 0, collect_ev, &c) == 0);
	CHECK(c.n == 4 && c.ordered);
	CHECK_STR(c.names[3], "3:b");
	store_close(s);
	cleanup(path);
}

static void events_resume_and_compaction(void)
{
	char *path = tmpdb(), *err;
	struct store *s;

	CHECK(store_open_sqlite(path, false, &s, &err) == 0);
	for (int i = 1; i <= 10; i++) {
		char name[8];
		snprintf(name, sizeof(name), "o%d", i);
		CHECK(store_put(s, "configmaps", "x", name, i, STORE_ADDED, "{}", NULL) == 0);
	}
	struct collect c = { .ordered = true };
	CHECK(store_events(s, 7, collect_ev, &c) == 0);
	CHECK(c.n == 3 && c.last == 10);
	CHECK(store_compact(s, 5) == 0);
	CHECK(store_events(s, 4, collect_ev, &c) == -ERANGE);
	struct collect c2 = { .ordered = true };
	CHECK(store_events(s, 5, collect_ev, &c2) == 0 && c2.n == 5);
	store_close(s);
	cleanup(path);
}

static void rollback_restores(void)
{
	char *path = tmpdb(), *err;
	struct store *s;

	CHECK(store_open_sqlite(path, false, &s, &err) == 0);
	CHECK(store_put(s, "pods", "a", "p1", 1, STORE_ADDED, "{}", NULL) == 0);
	CHECK(store_begin(s) == 0);
	CHECK(store_put(s, "pods", "a", "p2", 2, STORE_ADDED, "{}", NULL) == 0);
	CHECK(store_put(s, "pods", "a", "p3", 3, STORE_ADDED, "{}", NULL) == 0);
	store_rollback(s);
	CHECK(store_rev(s) == 1);
	CHECK(store_get(s, "pods", "a", "p2", NULL, NULL) == -ENOENT);
	struct collect c = { 0 };
	CHECK(store_list(s, "pods", NULL, NULL, NULL, 0, collect_obj, &c) == 0 && c.n == 1);
	store_close(s);
	cleanup(path);
}

static void list_paging(void)
{
	char *path = tmpdb(), *err;
	struct store *s;

	CHECK(store_open_sqlite(path, false, &s, &err) == 0);
	const char *names[] = { "b", "a", "d", "c" };
	for (int i = 0; i < 4; i++)
		CHECK(store_put(s, "pods", i < 2 ? "ns1" : "ns2", names[i], i + 1, STORE_ADDED, "{}", NULL) == 0);
	struct collect c = { 0 };
	CHECK(store_list(s, "pods", NULL, NULL, NULL, 2, collect_obj, &c) == 0);
	CHECK(c.n == 2);
	CHECK_STR(c.names[0], "a");
	CHECK_STR(c.names[1], "b");
	struct collect c2 = { 0 };
	CHECK(store_list(s, "pods", NULL, "ns1", "b", 0, collect_obj, &c2) == 0);
	CHECK(c2.n == 2);
	CHECK_STR(c2.names[0], "c");
	struct collect c3 = { 0 };
	CHECK(store_list(s, "pods", "ns2", NULL, NULL, 0, collect_obj, &c3) == 0 && c3.n == 2);
	store_close(s);
	cleanup(path);
}

int main(void)
{
	RUN(crud_and_revisions);
	RUN(events_resume_and_compaction);
	RUN(rollback_restores);
	RUN(list_paging);
	return testhelp_done();
}
