/* The store: objects keyed by (resource, namespace, name), a global revision that every
 * change increments, and an event log from which watches resume. The interface is a
 * vtable so that an etcd backend can sit beside the SQLite one. */
#ifndef TULLE_STORE_H
#define TULLE_STORE_H

#include <stdbool.h>
#include <stdint.h>

enum store_ev { STORE_ADDED = 1, STORE_MODIFIED = 2, STORE_DELETED = 3 };

struct store_event {
	int64_t rev;
	enum store_ev type;
	const char *res, *ns, *name;
	const char *data; /* the object after the change (the last state for DELETED) */
	const char *prev; /* the object before it (NULL for ADDED) */
};

/* Callbacks return 0 to go on, non-zero to stop (that value is returned). */
typedef int (*store_obj_cb)(void *ctx, const char *ns, const char *name, int64_t rev,
			    const char *data);
typedef int (*store_ev_cb)(void *ctx, const struct store_event *ev);

struct store;

struct store_backend {
	const char *name;
	void (*close)(struct store *s);
	int (*begin)(struct store *s);
	int (*commit)(struct store *s);
	void (*rollback)(struct store *s);
	int64_t (*rev)(struct store *s);
	int64_t (*compacted)(struct store *s);
	int (*get)(struct store *s, const char *res, const char *ns, const char *name,
		   char **data, int64_t *rev);
	int (*list)(struct store *s, const char *res, const char *ns, const char *after_ns,
		    const char *after_name, int limit, store_obj_cb cb, void *ctx);
	/* Writes take the revision the caller already put into data (store_next_rev). */
	int (*put)(struct store *s, const char *res, const char *ns, const char *name,
		   int64_t rev, enum store_ev type, const char *data, const char *prev);
	int (*del)(struct store *s, const char *res, const char *ns, const char *name,
		   int64_t rev, const char *last);
	int (*events)(struct store *s, int64_t after, store_ev_cb cb, void *ctx);
	int (*compact)(struct store *s, int64_t upto);
	int (*count_events)(struct store *s, int64_t *n);
};

struct store {
	const struct store_backend *be;
};

/* Opens (creating if needed) the SQLite store at path. durable=false trades the fsync
 * per commit for speed (a crash may then lose the last commits, never corrupt). */
int store_open_sqlite(const char *path, bool durable, struct store **out, char **err);

static inline void store_close(struct store *s) { s->be->close(s); }
static inline int store_begin(struct store *s) { return s->be->begin(s); }
static inline int store_commit(struct store *s) { return s->be->commit(s); }
static inline void store_rollback(struct store *s) { s->be->rollback(s); }
static inline int64_t store_rev(struct store *s) { return s->be->rev(s); }
static inline int64_t store_next_rev(struct store *s) { return s->be->rev(s) + 1; }
static inline int64_t store_compacted(struct store *s) { return s->be->compacted(s); }

/* Returns 0, -ENOENT, or another -errno. *data is the caller's to free. */
static inline int store_get(struct store *s, const char *res, const char *ns,
			    const char *name, char **data, int64_t *rev)
{
	return s->be->get(s, res, ns, name, data, rev);
}

/* Objects of res in ns (NULL: every namespace), in (ns, name) order, starting after
 * (after_ns, after_name) when given, at most limit (0: all). */
static inline int store_list(struct store *s, const char *res, const char *ns,
			     const char *after_ns, const char *after_name, int limit,
			     store_obj_cb cb, void *ctx)
{
	return s->be->list(s, res, ns, after_ns, after_name, limit, cb, ctx);
}

static inline int store_put(struct store *s, const char *res, const char *ns,
			    const char *name, int64_t rev, enum store_ev type, const char *data,
			    const char *prev)
{
	return s->be->put(s, res, ns, name, rev, type, data, prev);
}

static inline int store_del(struct store *s, const char *res, const char *ns,
			    const char *name, int64_t rev, const char *last)
{
	return s->be->del(s, res, ns, name, rev, last);
}

/* Events with revision > after, in order. -ERANGE when after is older than the
 * compaction point (the caller answers 410 Gone). */
static inline int store_events(struct store *s, int64_t after, store_ev_cb cb, void *ctx)
{
	return s->be->events(s, after, cb, ctx);
}

/* Drops events with revision <= upto. */
static inline int store_compact(struct store *s, int64_t upto)
{
	return s->be->compact(s, upto);
}

#endif
