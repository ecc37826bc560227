/* SQLite backend: WAL, one transaction per write (or per batch), the revision and
 * compaction point kept in the same transactions as the data they describe. */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"

struct sqlite_store {
	struct store base;
	sqlite3 *db;
	int64_t rev, compacted;
	int64_t txn_rev; /* revision at begin, restored on rollback */
	bool in_txn;
	sqlite3_stmt *get, *put, *put_ev, *del, *set_rev, *events;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS objects (res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
	"  rev INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (res, ns, name)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS events (rev INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
	"  res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, prev TEXT);"
	"INSERT OR IGNORE INTO meta VALUES ('rev', 0), ('compacted', 0);";

static struct sqlite_store *S(struct store *s)
{
	return (struct sqlite_store *)s;
}

static int sql_err(struct sqlite_store *s, int rc)
{
	(void)s;
	if (rc == SQLITE_FULL)
		return -ENOSPC;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return -EBUSY;
	return -EIO;
}

static int exec(struct sqlite_store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_err(s, rc);
}

static void sq_close(struct store *st)
{
	struct sqlite_store *s = S(st);

	sqlite3_finalize(s->get);
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->put_ev);
	sqlite3_finalize(s->del);
	sqlite3_finalize(s->set_rev);
	sqlite3_finalize(s->events);
	sqlite3_close(s->db);
	free(s);
}

static int sq_begin(struct store *st)
{
	struct sqlite_store *s = S(st);
	int rc = exec(s, "BEGIN IMMEDIATE");

	if (rc == 0) {
		s->in_txn = true;
		s->txn_rev = s->rev;
	}
	return rc;
}

static int sq_commit(struct store *st)
{
	struct sqlite_store *s = S(st);
	int rc = exec(s, "COMMIT");

	if (rc < 0) {
		exec(s, "ROLLBACK");
		s->rev = s->txn_rev;
	}
	s->in_txn = false;
	return rc;
}

static void sq_rollback(struct store *st)
{
	struct sqlite_store *s = S(st);

	exec(s, "ROLLBACK");
	s->rev = s->txn_rev;
	s->in_txn = false;
}

static int64_t sq_rev(struct store *st)
{
	return S(st)->rev;
}

static int64_t sq_compacted(struct store *st)
{
	return S(st)->compacted;
}

static void bind_key(sqlite3_stmt *st, const char *res, const char *ns, const char *name)
{
	sqlite3_bind_text(st, 1, res, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ns ? ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
}

static int sq_get(struct store *st, const char *res, const char *ns, const char *name,
		  char **data, int64_t *rev)
{
	struct sqlite_store *s = S(st);
	int rc, ret;

	sqlite3_reset(s->get);
	bind_key(s->get, res, ns, name);
	rc = sqlite3_step(s->get);
	if (rc == SQLITE_ROW) {
		if (data)
			*data = xstrdup((const char *)sqlite3_column_text(s->get, 1));
		if (rev)
			*rev = sqlite3_column_int64(s->get, 0);
		ret = 0;
	} else {
		ret = rc == SQLITE_DONE ? -ENOENT : sql_err(s, rc);
	}
	sqlite3_reset(s->get);
	sqlite3_clear_bindings(s->get);
	return ret;
}

static int sq_list(struct store *st, const char *res, const char *ns, const char *after_ns,
		   const char *after_name, int limit, store_obj_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int rc, ret = 0;
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SELECT ns, name, rev, data FROM objects WHERE res = ?1 %s %s ORDER BY ns, name %s",
		 ns ? "AND ns = ?2" : "", after_name ? "AND (ns, name) > (?3, ?4)" : "",
		 limit > 0 ? "LIMIT ?5" : "");
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, res, -1, SQLITE_STATIC);
	if (ns)
		sqlite3_bind_text(q, 2, ns, -1, SQLITE_STATIC);
	if (after_name) {
		sqlite3_bind_text(q, 3, after_ns ? after_ns : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, after_name, -1, SQLITE_STATIC);
	}
	if (limit > 0)
		sqlite3_bind_int(q, 5, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		ret = cb(ctx, (const char *)sqlite3_column_text(q, 0),
			 (const char *)sqlite3_column_text(q, 1), sqlite3_column_int64(q, 2),
			 (const char *)sqlite3_column_text(q, 3));
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sql_err(s, rc);
	sqlite3_finalize(q);
	return ret;
}

static int step_done(struct sqlite_store *s, sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? 0 : sql_err(s, rc);
}

static int log_event(struct sqlite_store *s, int64_t rev, enum store_ev type, const char *res,
		     const char *ns, const char *name, const char *data, const char *prev)
{
	int rc;

	sqlite3_bind_int64(s->put_ev, 1, rev);
	sqlite3_bind_int(s->put_ev, 2, type);
	sqlite3_bind_text(s->put_ev, 3, res, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->put_ev, 4, ns ? ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s->put_ev, 5, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->put_ev, 6, data, -1, SQLITE_STATIC);
	if (prev)
		sqlite3_bind_text(s->put_ev, 7, prev, -1, SQLITE_STATIC);
	if ((rc = step_done(s, s->put_ev)) < 0)
		return rc;
	sqlite3_bind_int64(s->set_rev, 1, rev);
	if ((rc = step_done(s, s->set_rev)) < 0)
		return rc;
	s->rev = rev;
	return 0;
}

/* A write outside an explicit transaction gets its own. */
static int autocommit_begin(struct sqlite_store *s, bool *own)
{
	*own = !s->in_txn;
	return *own ? sq_begin(&s->base) : 0;
}

static int autocommit_end(struct sqlite_store *s, bool own, int rc)
{
	if (!own)
		return rc;
	if (rc < 0) {
		sq_rollback(&s->base);
		return rc;
	}
	return sq_commit(&s->base);
}

static int sq_put(struct store *st, const char *res, const char *ns, const char *name,
		  int64_t rev, enum store_ev type, const char *data, const char *prev)
{
	struct sqlite_store *s = S(st);
	bool own;
	int rc;

	if (rev != s->rev + 1)
		return -EINVAL; /* revisions are handed out strictly in order */
	if ((rc = autocommit_begin(s, &own)) < 0)
		return rc;
	bind_key(s->put, res, ns, name);
	sqlite3_bind_int64(s->put, 4, rev);
	sqlite3_bind_text(s->put, 5, data, -1, SQLITE_STATIC);
	rc = step_done(s, s->put);
	if (rc == 0)
		rc = log_event(s, rev, type, res, ns, name, data, prev);
	return autocommit_end(s, own, rc);
}

static int sq_del(struct store *st, const char *res, const char *ns, const char *name,
		  int64_t rev, const char *last)
{
	struct sqlite_store *s = S(st);
	bool own;
	int rc;

	if (rev != s->rev + 1)
		return -EINVAL;
	if ((rc = autocommit_begin(s, &own)) < 0)
		return rc;
	bind_key(s->del, res, ns, name);
	rc = step_done(s, s->del);
	if (rc == 0 && sqlite3_changes(s->db) == 0)
		rc = -ENOENT;
	if (rc == 0)
		rc = log_event(s, rev, STORE_DELETED, res, ns, name, last, last);
	return autocommit_end(s, own, rc);
}

static int sq_events(struct store *st, int64_t after, store_ev_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	int rc, ret = 0;

	if (after < s->compacted)
		return -ERANGE;
	sqlite3_reset(s->events);
	sqlite3_bind_int64(s->events, 1, after);
	while ((rc = sqlite3_step(s->events)) == SQLITE_ROW) {
		struct store_event ev = {
			.rev = sqlite3_column_int64(s->events, 0),
			.type = (enum store_ev)sqlite3_column_int(s->events, 1),
			.res = (const char *)sqlite3_column_text(s->events, 2),
			.ns = (const char *)sqlite3_column_text(s->events, 3),
			.name = (const char *)sqlite3_column_text(s->events, 4),
			.data = (const char *)sqlite3_column_text(s->events, 5),
			.prev = (const char *)sqlite3_column_text(s->events, 6),
		};
		ret = cb(ctx, &ev);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sql_err(s, rc);
	sqlite3_reset(s->events);
	return ret;
}

static int sq_compact(struct store *st, int64_t upto)
{
	struct sqlite_store *s = S(st);
	sqlite3_stmt *q;
	bool own;
	int rc;

	if (upto <= s->compacted)
		return 0;
	if (upto > s->rev)
		upto = s->rev;
	if ((rc = autocommit_begin(s, &own)) < 0)
		return rc;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM events WHERE rev <= ?1", -1, &q, NULL) != SQLITE_OK)
		return autocommit_end(s, own, -EIO);
	sqlite3_bind_int64(q, 1, upto);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(q);
	if (rc == 0 && sqlite3_prepare_v2(s->db, "UPDATE meta SET v = ?1 WHERE k = 'compacted'", -1,
					  &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, upto);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(q);
	}
	rc = autocommit_end(s, own, rc);
	if (rc == 0)
		s->compacted = upto;
	return rc;
}

static int sq_count_events(struct store *st, int64_t *n)
{
	struct sqlite_store *s = S(st);
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM events", -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	*n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	return 0;
}

static const struct store_backend sqlite_backend = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.rev = sq_rev,
	.compacted = sq_compacted,
	.get = sq_get,
	.list = sq_list,
	.put = sq_put,
	.del = sq_del,
	.events = sq_events,
	.compact = sq_compact,
	.count_events = sq_count_events,
};

static int64_t meta_get(sqlite3 *db, const char *k)
{
	sqlite3_stmt *q;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = ?1", -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

int store_open_sqlite(const char *path, bool durable, struct store **out, char **err)
{
	struct sqlite_store *s = xcalloc(1, sizeof(*s));
	int rc;

	*err = NULL;
	s->base.be = &sqlite_backend;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					      SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL + synchronous=FULL: a commit is on disk when it returns, so an acknowledged
	 * write survives a kill -9 or a power cut. */
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	rc = sqlite3_prepare_v2(s->db, "SELECT rev, data FROM objects WHERE res = ?1 AND ns = ?2 AND name = ?3",
				-1, &s->get, NULL);
	rc |= sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO objects VALUES (?1, ?2, ?3, ?4, ?5)",
				 -1, &s->put, NULL);
	rc |= sqlite3_prepare_v2(s->db, "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
				 -1, &s->put_ev, NULL);
	rc |= sqlite3_prepare_v2(s->db, "DELETE FROM objects WHERE res = ?1 AND ns = ?2 AND name = ?3",
				 -1, &s->del, NULL);
	rc |= sqlite3_prepare_v2(s->db, "UPDATE meta SET v = ?1 WHERE k = 'rev'", -1, &s->set_rev, NULL);
	rc |= sqlite3_prepare_v2(s->db, "SELECT rev, type, res, ns, name, data, prev FROM events WHERE rev > ?1 ORDER BY rev",
				 -1, &s->events, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	s->rev = meta_get(s->db, "rev");
	s->compacted = meta_get(s->db, "compacted");
	*out = &s->base;
	return 0;
fail:
	*err = xasprintf("cannot open store %s: %s", path, sqlite3_errmsg(s->db));
	sq_close(&s->base);
	return -EIO;
}
