/* Documents: YAML (1.1, as Kubernetes' decoder resolves it) or JSON, decoded into
 * jansson trees that remember where every value came from, so that a validation error
 * can name file:line:col. */
#ifndef TULLE_DOC_H
#define TULLE_DOC_H

#include <jansson.h>
#include <stddef.h>
#include "ferr.h"

struct posmap;

struct doc {
	json_t *root;
	char *file;
	int line, col;       /* where the document starts (1-based) */
	struct posmap *pos;  /* (container, key|index) -> position of the value */
};

/* Limits that keep hostile input from exhausting memory. */
#define DOC_MAX_DEPTH 128
#define DOC_MAX_NODES (4u << 20)

/* Decodes every document of a multi-document stream ("---"). Empty and null documents
 * are skipped. On a syntax error nothing is returned and errs names the position.
 * Returns 0 or -EINVAL. */
int doc_load_all(const char *buf, size_t len, const char *file, struct doc ***docs,
		 size_t *ndocs, struct ferrs *errs);
/* The same, with duplicate mapping keys recorded in dups ("duplicate field \"a.b\"",
 * the last value kept, as Go's decoder does) instead of failing: for the API server's
 * fieldValidation=Warn|Ignore. */
int doc_load_all_dups(const char *buf, size_t len, const char *file, struct doc ***docs,
		      size_t *ndocs, struct ferrs *errs, struct ferrs *dups);
void doc_free(struct doc *d);
void docs_free(struct doc **docs, size_t n);

/* True when s, written as a plain (unquoted) YAML scalar, reads back as a string. */
bool doc_plain_is_string(const char *s);

/* Position of parent[key] (object member) or parent[index] (array element); the
 * document start when unknown. */
void doc_pos_key(const struct doc *d, const json_t *parent, const char *key, int *line,
		 int *col);
void doc_pos_index(const struct doc *d, const json_t *parent, size_t index, int *line,
		   int *col);

#endif
