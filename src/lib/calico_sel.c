#include "calico_sel.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Recursive descent; depth is bounded so hostile input cannot exhaust the stack. */
#define MAX_DEPTH 64

struct parser {
	const char *s, *p;
	char *err;
	int depth;
};

static void ws(struct parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static struct csel *node(enum csel_op op)
{
	struct csel *e = xcalloc(1, sizeof(*e));

	e->op = op;
	return e;
}

static struct csel *error(struct parser *ps, const char *what)
{
	if (!ps->err)
		ps->err = xasprintf("invalid selector \"%s\" at offset %d: %s", ps->s,
				    (int)(ps->p - ps->s), what);
	return NULL;
}

static bool eat(struct parser *ps, const char *tok)
{
	ws(ps);
	size_t n = strlen(tok);
	if (strncmp(ps->p, tok, n) != 0)
		return false;
	/* Word tokens must not run into a following identifier character. */
	if (isalpha((unsigned char)tok[n - 1]) &&
	    (isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_'))
		return false;
	ps->p += n;
	return true;
}

static bool key_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static char *key(struct parser *ps)
{
	ws(ps);
	const char *k = ps->p;
	while (key_char(*ps->p))
		ps->p++;
	return ps->p == k ? NULL : xstrndup(k, (size_t)(ps->p - k));
}

static char *string(struct parser *ps)
{
	ws(ps);
	char q = *ps->p;
	if (q != '"' && q != '\'')
		return NULL;
	const char *start = ++ps->p;
	while (*ps->p && *ps->p != q)
		ps->p++;
	if (!*ps->p)
		return NULL;
	char *v = xstrndup(start, (size_t)(ps->p - start));
	ps->p++;
	return v;
}

static void add_value(struct csel *e, char *v)
{
	e->values = xrealloc(e->values, (e->nvalues + 1) * sizeof(*e->values));
	e->values[e->nvalues++] = v;
}

static struct csel *or_expr(struct parser *ps);

static struct csel *value_set(struct parser *ps, struct csel *e)
{
	if (!eat(ps, "{"))
		return csel_free(e), error(ps, "expected '{'");
	ws(ps);
	if (eat(ps, "}"))
		return e;
	for (;;) {
		char *v = string(ps);
		if (!v)
			return csel_free(e), error(ps, "expected a quoted string");
		add_value(e, v);
		if (eat(ps, ","))
			continue;
		if (eat(ps, "}"))
			return e;
		return csel_free(e), error(ps, "expected ',' or '}'");
	}
}

static struct csel *primary(struct parser *ps)
{
	struct csel *e;
	char *k;

	if (eat(ps, "(")) {
		e = or_expr(ps);
		if (!e)
			return NULL;
		if (!eat(ps, ")"))
			return csel_free(e), error(ps, "expected ')'");
		return e;
	}
	/* all, global and has are functions only when a '(' follows; otherwise they are
	 * label keys like any other. */
	const char *save = ps->p;
	if (eat(ps, "all") && eat(ps, "(")) {
		if (!eat(ps, ")"))
			return error(ps, "expected all()");
		return node(CS_ALL);
	}
	ps->p = save;
	if (eat(ps, "global") && eat(ps, "(")) {
		if (!eat(ps, ")"))
			return error(ps, "expected global()");
		return node(CS_GLOBAL);
	}
	ps->p = save;
	if (eat(ps, "has") && eat(ps, "(")) {
		k = key(ps);
		if (!k)
			return error(ps, "expected a label key in has()");
		if (!eat(ps, ")"))
			return free(k), error(ps, "expected ')'");
		e = node(CS_HAS);
		e->key = k;
		return e;
	}
	ps->p = save;
	k = key(ps);
	if (!k)
		return error(ps, "expected a label key, has(), all(), '!' or '('");
	enum csel_op op;
	if (eat(ps, "=="))
		op = CS_EQ;
	else if (eat(ps, "!="))
		op = CS_NEQ;
	else if (eat(ps, "not")) {
		if (!eat(ps, "in"))
			return free(k), error(ps, "expected 'in' after 'not'");
		op = CS_NOT_IN;
	} else if (eat(ps, "in"))
		op = CS_IN;
	else if (eat(ps, "contains"))
		op = CS_CONTAINS;
	else if (eat(ps, "starts")) {
		if (!eat(ps, "with"))
			return free(k), error(ps, "expected 'with' after 'starts'");
		op = CS_STARTS;
	} else if (eat(ps, "ends")) {
		if (!eat(ps, "with"))
			return free(k), error(ps, "expected 'with' after 'ends'");
		op = CS_ENDS;
	} else
		return free(k), error(ps, "expected an operator (==, !=, in, not in, contains, starts with, ends with)");
	e = node(op);
	e->key = k;
	if (op == CS_IN || op == CS_NOT_IN)
		return value_set(ps, e);
	char *v = string(ps);
	if (!v)
		return csel_free(e), error(ps, "expected a quoted string");
	add_value(e, v);
	return e;
}

static struct csel *unary(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return error(ps, "expression nests too deeply");
	struct csel *r;
	if (eat(ps, "!")) {
		struct csel *a = unary(ps);
		if (!a)
			return NULL;
		r = node(CS_NOT);
		r->a = a;
	} else {
		r = primary(ps);
	}
	ps->depth--;
	return r;
}

static struct csel *and_expr(struct parser *ps)
{
	struct csel *l = unary(ps);

	while (l && eat(ps, "&&")) {
		struct csel *r = unary(ps);
		if (!r)
			return csel_free(l), NULL;
		struct csel *n = node(CS_AND);
		n->a = l;
		n->b = r;
		l = n;
	}
	return l;
}

static struct csel *or_expr(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return error(ps, "expression nests too deeply");
	struct csel *l = and_expr(ps);

	while (l && eat(ps, "||")) {
		struct csel *r = and_expr(ps);
		if (!r)
			return csel_free(l), NULL;
		struct csel *n = node(CS_OR);
		n->a = l;
		n->b = r;
		l = n;
	}
	ps->depth--;
	return l;
}

int csel_parse(const char *s, struct csel **out, char **err)
{
	struct parser ps = { .s = s, .p = s };

	*err = NULL;
	ws(&ps);
	if (!*ps.p) {
		*out = node(CS_ALL);
		return 0;
	}
	struct csel *e = or_expr(&ps);
	ws(&ps);
	if (e && *ps.p) {
		csel_free(e);
		e = error(&ps, "unexpected text after the expression");
	}
	if (!e) {
		*err = ps.err ? ps.err : xasprintf("invalid selector \"%s\"", s);
		return -EINVAL;
	}
	*out = e;
	return 0;
}

void csel_free(struct csel *e)
{
	if (!e)
		return;
	csel_free(e->a);
	csel_free(e->b);
	for (size_t i = 0; i < e->nvalues; i++)
		free(e->values[i]);
	free(e->values);
	free(e->key);
	free(e);
}

static bool in_set(const struct csel *e, const char *v)
{
	for (size_t i = 0; i < e->nvalues; i++)
		if (strcmp(e->values[i], v) == 0)
			return true;
	return false;
}

bool csel_matches(const struct csel *e, label_get_fn get, const void *ctx)
{
	const char *v;

	switch (e->op) {
	case CS_ALL:
		return true;
	case CS_GLOBAL:
		/* global() selects non-namespaced endpoints (host endpoints); pods never. */
		return false;
	case CS_HAS:
		return get(ctx, e->key) != NULL;
	case CS_EQ:
		v = get(ctx, e->key);
		return v && strcmp(v, e->values[0]) == 0;
	case CS_NEQ:
		v = get(ctx, e->key);
		return !v || strcmp(v, e->values[0]) != 0;
	case CS_IN:
		v = get(ctx, e->key);
		return v && in_set(e, v);
	case CS_NOT_IN:
		v = get(ctx, e->key);
		return !v || !in_set(e, v);
	case CS_CONTAINS:
		v = get(ctx, e->key);
		return v && strstr(v, e->values[0]) != NULL;
	case CS_STARTS:
		v = get(ctx, e->key);
		return v && str_has_prefix(v, e->values[0]);
	case CS_ENDS:
		v = get(ctx, e->key);
		return v && str_has_suffix(v, e->values[0]);
	case CS_NOT:
		return !csel_matches(e->a, get, ctx);
	case CS_AND:
		return csel_matches(e->a, get, ctx) && csel_matches(e->b, get, ctx);
	case CS_OR:
		return csel_matches(e->a, get, ctx) || csel_matches(e->b, get, ctx);
	}
	return false;
}
