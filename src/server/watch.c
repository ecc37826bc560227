#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "table.h"

/* A watcher more than this far behind is disconnected; the client re-lists. */
#define WATCH_MAX_BACKLOG (64u << 20)

static void send_event(struct watcher *w, const char *type, json_t *obj)
{
	json_t *ev;
	if (w->table && strcmp(type, "ERROR") && strcmp(type, "BOOKMARK")) {
		/* Column definitions once, as kube-apiserver does: kubectl prints rows after. */
		json_t *t = table_from(w->kind->kind, obj, w->include);
		if (w->sent_header)
			json_object_del(t, "columnDefinitions");
		w->sent_header = true;
		ev = json_pack("{s:s,s:o}", "type", type, "object", t);
	} else {
		ev = json_pack("{s:s,s:O}", "type", type, "object", obj);
	}
	char *s = json_dumps(ev, JSON_COMPACT);
	size_t len = strlen(s);

	s = xrealloc(s, len + 2);
	s[len++] = '\n';
	s[len] = 0;
	conn_stream_chunk(w->conn, s, len);
	free(s);
	json_decref(ev);
}

/* Applies the watch's filter to a change, turning label transitions into ADDED and
 * DELETED as Kubernetes does for filtered watches. */
static void deliver(struct watcher *w, int64_t rev, enum store_ev type, json_t *obj, json_t *prev)
{
	bool now = filter_match(&w->filter, obj);
	bool before = prev && filter_match(&w->filter, prev);
	const char *t = NULL;

	if (rev <= w->sent_rev)
		return;
	if (type == STORE_ADDED && now)
		t = "ADDED";
	else if (type == STORE_MODIFIED)
		t = now && before ? "MODIFIED" : now ? "ADDED" : before ? "DELETED" : NULL;
	else if (type == STORE_DELETED && (now || before))
		t = "DELETED";
	w->sent_rev = rev;
	if (!t)
		return;
	objects_present(obj, w->kind, w->version);
	send_event(w, t, obj);
}

void watch_dispatch(struct apiserver *s, const struct pending_event *ev)
{
	struct watcher *w, *next;

	for (w = s->watchers; w; w = next) {
		next = w->next;
		if (w->kind != ev->kind)
			continue;
		if (conn_backlog(w->conn) > WATCH_MAX_BACKLOG) {
			conn_close(w->conn); /* removes w */
			continue;
		}
		/* Each watcher presents its own version: work on a copy. */
		json_t *obj = json_deep_copy(ev->obj);
		json_t *prev = ev->prev ? json_deep_copy(ev->prev) : NULL;
		deliver(w, ev->rev, ev->type, obj, prev);
		json_decref(obj);
		json_decref(prev);
	}
}

struct replay {
	struct watcher *w;
	char *res;
};

static int replay_event(void *ctx, const struct store_event *ev)
{
	struct replay *r = ctx;

	/* Cheap checks on the event's columns before any JSON is parsed. */
	if (strcmp(ev->res, r->res) != 0 || (r->w->filter.ns && strcmp(ev->ns, r->w->filter.ns) != 0))
		return 0;
	json_t *obj = json_loads(ev->data, 0, NULL);
	json_t *prev = ev->prev ? json_loads(ev->prev, 0, NULL) : NULL;
	if (obj)
		deliver(r->w, ev->rev, ev->type, obj, prev);
	json_decref(obj);
	json_decref(prev);
	return 0;
}

static int initial_item(void *ctx, const char *ns, const char *name, int64_t rev, const char *data)
{
	struct watcher *w = ctx;
	json_t *obj = json_loads(data, 0, NULL);

	(void)ns; (void)name; (void)rev;
	if (obj && filter_match(&w->filter, obj)) {
		objects_present(obj, w->kind, w->version);
		send_event(w, "ADDED", obj);
	}
	json_decref(obj);
	return 0;
}

static void watch_free(struct watcher *w)
{
	filter_free(&w->filter);
	free(w->version);
	free(w->include);
	free(w);
}

void watch_start(struct apiserver *s, struct conn *c, const struct http_msg *req,
		 const struct skind *k, const char *version, const char *ns)
{
	struct watcher *w = xcalloc(1, sizeof(*w));
	char *err = NULL;
	char *rvs = http_query_param(req->query, "resourceVersion");
	char *timeout = http_query_param(req->query, "timeoutSeconds");
	char *bm = http_query_param(req->query, "allowWatchBookmarks");
	char *res = objects_res(k);
	int64_t rv = 0;

	if (filter_parse(&w->filter, ns, req->query, &err) < 0) {
		conn_respond_json(c, req, 400, status_bad_request(err));
		free(err);
		goto out_free;
	}
	if (rvs && *rvs) {
		char *end;
		rv = strtoll(rvs, &end, 10);
		if (*end || rv < 0) {
			char *msg = xasprintf("invalid resourceVersion \"%s\": expected a number", rvs);
			conn_respond_json(c, req, 400, status_bad_request(msg));
			free(msg);
			filter_free(&w->filter);
			goto out_free;
		}
	}
	w->conn = c;
	w->kind = k;
	w->version = xstrdup(version);
	w->bookmarks = bm && !strcmp(bm, "true");
	w->table = table_wanted(req);
	w->include = http_query_param(req->query, "includeObject");
	w->last_bookmark_ns = now_ns();
	long secs = timeout ? strtol(timeout, NULL, 10) : 0;
	if (secs > 0)
		w->deadline_ns = now_ns() + (uint64_t)secs * 1000000000ull;
	conn_stream_start(c, "application/json");
	c->watch = w;
	if (rv == 0) {
		/* No version: the current state as ADDED events, then changes. */
		w->sent_rev = store_rev(s->store);
		store_list(s->store, res, ns, NULL, NULL, 0, initial_item, w);
	} else {
		struct replay r = { w, res };
		w->sent_rev = rv;
		if (store_events(s->store, rv, replay_event, &r) == -ERANGE) {
			/* As kube-apiserver: an ERROR event carrying 410 Expired, then the end. */
			char *msg = xasprintf("too old resource version: %lld (%lld)", (long long)rv,
					      (long long)store_compacted(s->store) + 1);
			json_t *st = status_new(410, "Expired", msg);
			send_event(w, "ERROR", st);
			json_decref(st);
			free(msg);
			c->watch = NULL;
			conn_stream_end(c);
			filter_free(&w->filter);
			free(w->version);
			goto out_free;
		}
	}
	w->next = s->watchers;
	s->watchers = w;
	goto out;
out_free:
	free(w);
out:
	free(rvs);
	free(timeout);
	free(bm);
	free(res);
}

void watch_remove(struct apiserver *s, struct watcher *w)
{
	for (struct watcher **p = &s->watchers; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	w->conn->watch = NULL;
	watch_free(w);
}

void watch_tick(struct apiserver *s)
{
	uint64_t now = now_ns();
	struct watcher *w, *next;

	for (w = s->watchers; w; w = next) {
		next = w->next;
		if (w->deadline_ns && now >= w->deadline_ns) {
			struct conn *c = w->conn;
			watch_remove(s, w);
			conn_stream_end(c);
			conn_flush(c);
			continue;
		}
		if (w->bookmarks && now - w->last_bookmark_ns > 60ull * 1000000000ull) {
			char *av = skind_api_version(w->kind, w->version);
			char rv[32];
			snprintf(rv, sizeof(rv), "%lld", (long long)w->sent_rev);
			json_t *bm = json_pack("{s:s,s:s,s:{s:s}}", "kind", w->kind->kind, "apiVersion", av,
					       "metadata", "resourceVersion", rv);
			send_event(w, "BOOKMARK", bm);
			json_decref(bm);
			free(av);
			w->last_bookmark_ns = now;
		}
	}
}

void watch_close_all(struct apiserver *s)
{
	while (s->watchers)
		conn_close(s->watchers->conn);
}
