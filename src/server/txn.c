/* One transaction spans the store, the allocators and the watch events it produces:
 * events reach watchers only after the commit, and a rollback hands back allocations. */
#include <stdlib.h>

#include "controllers.h"
#include "server.h"

int txn_begin(struct apiserver *s)
{
	int rc = store_begin(s->store);

	if (rc == 0)
		s->in_txn = true;
	return rc;
}

static void drop_pending(struct apiserver *s)
{
	for (size_t i = 0; i < s->npending; i++) {
		free(s->pending[i].ns);
		free(s->pending[i].name);
		json_decref(s->pending[i].obj);
		json_decref(s->pending[i].prev);
	}
	free(s->pending);
	s->pending = NULL;
	s->npending = 0;
}

static void undo_allocations(struct apiserver *s)
{
	s->in_txn = false; /* so that the undo itself is not logged */
	for (size_t i = s->nundo; i-- > 0;) {
		struct alloc_undo *u = &s->undo[i];
		if (u->was_set)
			alloc_take(NULL, u->a, u->off);
		else
			alloc_release(NULL, u->a, u->off);
	}
	free(s->undo);
	s->undo = NULL;
	s->nundo = 0;
}

int txn_commit(struct apiserver *s)
{
	int rc = store_commit(s->store);

	if (rc < 0) {
		undo_allocations(s);
		drop_pending(s);
		return rc;
	}
	s->in_txn = false;
	free(s->undo);
	s->undo = NULL;
	s->nundo = 0;
	for (size_t i = 0; i < s->npending; i++) {
		watch_dispatch(s, &s->pending[i]);
		controllers_note(s, &s->pending[i]);
	}
	drop_pending(s);
	return 0;
}

void txn_rollback(struct apiserver *s)
{
	store_rollback(s->store);
	undo_allocations(s);
	drop_pending(s);
}

void txn_event(struct apiserver *s, int64_t rev, enum store_ev type, const struct skind *k,
	       const char *ns, const char *name, json_t *obj, json_t *prev)
{
	s->pending = xrealloc(s->pending, (s->npending + 1) * sizeof(*s->pending));
	s->pending[s->npending++] = (struct pending_event){
		rev, type, k, xstrdup(ns ? ns : ""), xstrdup(name), json_incref(obj),
		prev ? json_incref(prev) : NULL,
	};
}
