#include "informer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/http.h"
#include "../lib/util.h"

/* How often a broken watch is retried (and a failed list re-tried). */
#define INFORMER_RETRY_MS 250

struct informer {
	struct client *cl;
	char *path, *query;
	json_t *items;
	char *rv;
	bool synced, need_list;
	unsigned long generation, lists;
	/* the watch stream */
	int fd;
	bool got_head;
	struct strbuf in, body;
	struct loop *loop;
	informer_fn fn;
	void *ctx;
};

static char *key_of(const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));

	if (!name)
		return NULL;
	return ns && *ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
}

static void set_rv(struct informer *inf, const char *rv)
{
	if (!rv || !*rv)
		return;
	free(inf->rv);
	inf->rv = xstrdup(rv);
}

struct informer *informer_new(struct client *cl, const char *path, const char *query)
{
	struct informer *inf = xcalloc(1, sizeof(*inf));

	inf->cl = cl;
	inf->path = xstrdup(path);
	inf->query = query && *query ? xstrdup(query) : NULL;
	inf->items = json_object();
	inf->fd = -1;
	inf->need_list = true;
	sb_init(&inf->in);
	sb_init(&inf->body);
	return inf;
}

static void close_watch(struct informer *inf)
{
	if (inf->fd >= 0) {
		if (inf->loop)
			loop_del(inf->loop, inf->fd);
		close(inf->fd);
	}
	inf->fd = -1;
	inf->got_head = false;
	sb_reset(&inf->in);
	sb_reset(&inf->body);
}

static void notify(struct informer *inf)
{
	inf->generation++;
	if (inf->fn)
		inf->fn(inf, inf->ctx);
}

static int list(struct informer *inf)
{
	char *err = NULL, *path = xasprintf("%s%s%s", inf->path, inf->query ? "?" : "", inf->query ? inf->query : "");
	int code = 0;
	json_t *l = client_json(inf->cl, "GET", path, NULL, NULL, &code, &err);

	free(path);
	if (!l || code != 200) {
		if (err)
			fprintf(stderr, "informer %s: list failed: %s\n", inf->path, err);
		free(err);
		json_decref(l);
		return -1;
	}
	json_t *items = json_object();
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(l, "items"), i, o) {
		char *k = key_of(o);
		if (k)
			json_object_set(items, k, o);
		free(k);
	}
	json_decref(inf->items);
	inf->items = items;
	set_rv(inf, json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion")));
	json_decref(l);
	inf->synced = true;
	inf->need_list = false;
	inf->lists++;
	notify(inf);
	return 0;
}

/* Applies one watch event; returns true when the cache changed. */
static bool apply(struct informer *inf, const char *line)
{
	json_t *ev = json_loads(line, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	bool changed = false;

	if (!ev || !type || !json_is_object(obj)) {
		json_decref(ev);
		return false;
	}
	if (!strcmp(type, "ERROR")) {
		/* 410 Expired: the history we would resume from is gone. Anything else: start
		 * over as well, it costs one list. */
		inf->need_list = true;
		close_watch(inf);
		json_decref(ev);
		return false;
	}
	set_rv(inf, json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")));
	if (strcmp(type, "BOOKMARK")) {
		char *k = key_of(obj);
		if (k) {
			if (!strcmp(type, "DELETED"))
				json_object_del(inf->items, k);
			else
				json_object_set(inf->items, k, obj);
			changed = true;
		}
		free(k);
	}
	json_decref(ev);
	return changed;
}

/* Reads what the stream has; returns -1 when it ended or broke. */
static int read_stream(struct informer *inf, bool *changed)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(inf->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -1;
		sb_add(&inf->in, buf, (size_t)n);
	}
	if (!inf->got_head) {
		struct http_msg resp;
		ssize_t p = http_parse_response(inf->in.buf ? inf->in.buf : "", inf->in.len, 0, false, true, &resp);
		if (p == HTTP_NEED_MORE)
			return 0;
		if (p < 0)
			return -1;
		bool ok = resp.status == 200 && resp.chunked;
		if (resp.status == 410)
			inf->need_list = true;
		http_msg_free(&resp);
		if (!ok)
			return -1;
		inf->got_head = true;
		sb_consume(&inf->in, (size_t)p);
	}
	const char *d;
	size_t dl;
	bool last = false;
	ssize_t n;
	while ((n = http_parse_chunk(inf->in.buf ? inf->in.buf : "", inf->in.len, &d, &dl, &last)) > 0) {
		sb_add(&inf->body, d ? d : "", dl);
		sb_consume(&inf->in, (size_t)n);
		char *nl;
		while (inf->body.len && (nl = memchr(inf->body.buf, '\n', inf->body.len))) {
			*nl = 0;
			*changed |= apply(inf, inf->body.buf);
			if (inf->fd < 0)
				return -1; /* an ERROR event closed the stream */
			sb_consume(&inf->body, (size_t)(nl - inf->body.buf) + 1);
		}
		if (last)
			return -1;
	}
	return n < 0 ? -1 : 0;
}

static void on_stream(struct loop *l, int fd, uint32_t events, void *ctx)
{
	struct informer *inf = ctx;
	bool changed = false;

	(void)l;
	(void)fd;
	int rc = read_stream(inf, &changed);
	if (rc < 0 || (events & (EPOLLHUP | EPOLLERR)))
		close_watch(inf);
	if (changed)
		notify(inf);
}

static int open_watch(struct informer *inf)
{
	char *err = NULL;
	char *path = xasprintf("%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s%s%s", inf->path,
			       inf->rv ? inf->rv : "0", inf->query ? "&" : "", inf->query ? inf->query : "");
	int fd = client_open_stream(inf->cl, path, NULL, &err);

	free(path);
	if (fd < 0) {
		free(err);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (loop_add(inf->loop, fd, EPOLLIN | EPOLLRDHUP, on_stream, inf) < 0) {
		close(fd);
		return -1;
	}
	inf->fd = fd;
	return 0;
}

/* Keeps a watch open: re-lists when needed, resumes from the last resourceVersion. */
static void keep_watching(struct loop *l, void *ctx)
{
	struct informer *inf = ctx;

	(void)l;
	if (inf->fd >= 0)
		return;
	if (inf->need_list && list(inf) < 0)
		return;
	if (open_watch(inf) < 0)
		inf->need_list = true; /* the server may have restarted: its history too */
}

int informer_start(struct informer *inf, struct loop *l, informer_fn fn, void *ctx)
{
	inf->loop = l;
	inf->fn = fn;
	inf->ctx = ctx;
	loop_every(l, INFORMER_RETRY_MS, keep_watching, inf);
	keep_watching(l, inf);
	return inf->synced ? 0 : -1;
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	if (inf->loop)
		loop_cancel(inf->loop, keep_watching, inf);
	close_watch(inf);
	sb_free(&inf->in);
	sb_free(&inf->body);
	json_decref(inf->items);
	free(inf->rv);
	free(inf->path);
	free(inf->query);
	free(inf);
}

bool informer_synced(const struct informer *inf)
{
	return inf->synced;
}

const json_t *informer_items(const struct informer *inf)
{
	return inf->items;
}

json_t *informer_list(const struct informer *inf)
{
	json_t *items = json_array();
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)inf->items, k, v)
		json_array_append(items, v);
	return json_pack("{s:o,s:{s:s}}", "items", items, "metadata", "resourceVersion", inf->rv ? inf->rv : "");
}

unsigned long informer_generation(const struct informer *inf)
{
	return inf->generation;
}

unsigned long informer_lists(const struct informer *inf)
{
	return inf->lists;
}
