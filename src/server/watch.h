/* Watches: a chunked stream of WatchEvents per request, fed from the event log for the
 * catch-up part and from committed transactions after that. */
#ifndef TULLE_WATCH_H
#define TULLE_WATCH_H

#include "conn.h"
#include "filter.h"

struct watcher {
	struct watcher *next;
	struct conn *conn;
	const struct skind *kind;
	char *version;
	struct obj_filter filter;
	int64_t sent_rev;
	uint64_t deadline_ns;
	uint64_t last_bookmark_ns;
	bool bookmarks;
	bool table;       /* kubectl get -w: each object as a one-row Table */
	bool sent_header; /* the first Table carried the column definitions */
	char *include;    /* includeObject for Table rows */
};

/* Starts a watch on c for kind in ns (NULL: all) from the request's query; takes over
 * the connection. */
void watch_start(struct apiserver *s, struct conn *c, const struct http_msg *req,
		 const struct skind *k, const char *version, const char *ns);
void watch_remove(struct apiserver *s, struct watcher *w);
/* Timeouts and bookmarks; called periodically. */
void watch_tick(struct apiserver *s);

#endif
