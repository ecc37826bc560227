#include "selector.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void add_req(struct selector *s, const char *key, enum sel_op op)
{
	s->reqs = xrealloc(s->reqs, (s->n + 1) * sizeof(*s->reqs));
	s->reqs[s->n++] = (struct sel_req){ .key = xstrdup(key), .op = op };
}

static void add_value(struct sel_req *r, const char *v, size_t len)
{
	r->values = xrealloc(r->values, (r->nvalues + 1) * sizeof(*r->values));
	r->values[r->nvalues++] = xstrndup(v, len);
}

void selector_from_json(const json_t *ls, struct selector *out)
{
	const char *k;
	json_t *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!ls || json_is_null(ls)) {
		out->nothing = true;
		return;
	}
	json_object_foreach(json_object_get(ls, "matchLabels"), k, v) {
		add_req(out, k, SEL_EQ);
		const char *s = json_string_value(v) ? json_string_value(v) : "";
		add_value(&out->reqs[out->n - 1], s, strlen(s));
	}
	json_array_foreach(json_object_get(ls, "matchExpressions"), i, v) {
		const char *op = json_string_value(json_object_get(v, "operator"));
		const char *key = json_string_value(json_object_get(v, "key"));
		enum sel_op o = SEL_IN;
		size_t j;
		json_t *val;

		if (!op || !key)
			continue;
		if (!strcmp(op, "NotIn"))
			o = SEL_NOT_IN;
		else if (!strcmp(op, "Exists"))
			o = SEL_EXISTS;
		else if (!strcmp(op, "DoesNotExist"))
			o = SEL_NOT_EXISTS;
		add_req(out, key, o);
		json_array_foreach(json_object_get(v, "values"), j, val) {
			const char *s = json_string_value(val);
			if (s)
				add_value(&out->reqs[out->n - 1], s, strlen(s));
		}
	}
}

void selector_free(struct selector *s)
{
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < s->reqs[i].nvalues; j++)
			free(s->reqs[i].values[j]);
		free(s->reqs[i].values);
		free(s->reqs[i].key);
	}
	free(s->reqs);
	memset(s, 0, sizeof(*s));
}

static bool has_value(const struct sel_req *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

static bool parse_i64(const char *s, long long *out)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return !*end && !errno;
}

static bool req_matches(const struct sel_req *r, const char *v)
{
	long long a, b;

	switch (r->op) {
	case SEL_EQ:
	case SEL_IN:
		return v && has_value(r, v);
	case SEL_NEQ:
	case SEL_NOT_IN:
		return !v || !has_value(r, v);
	case SEL_EXISTS:
		return v != NULL;
	case SEL_NOT_EXISTS:
		return v == NULL;
	case SEL_GT:
	case SEL_LT:
		if (!v || r->nvalues != 1 || !parse_i64(v, &a) || !parse_i64(r->values[0], &b))
			return false;
		return r->op == SEL_GT ? a > b : a < b;
	}
	return false;
}

bool selector_matches(const struct selector *s, label_get_fn get, const void *ctx)
{
	if (s->nothing)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (!req_matches(&s->reqs[i], get(ctx, s->reqs[i].key)))
			return false;
	return true;
}

const char *label_get_json(const void *ctx, const char *key)
{
	return json_string_value(json_object_get((const json_t *)ctx, key));
}

bool selector_matches_json(const struct selector *s, const json_t *labels)
{
	return selector_matches(s, label_get_json, labels);
}

/* ---- string syntax (k8s.io/apimachinery/pkg/labels) ---- */

static bool key_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int fail(char **err, const char *s, const char *p, const char *what)
{
	*err = xasprintf("invalid selector \"%s\" at offset %d: %s", s, (int)(p - s), what);
	return -EINVAL;
}

int selector_parse(const char *s, struct selector *out, char **err)
{
	const char *p = skip_ws(s);

	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (!*p)
		return 0;
	for (;;) {
		bool neg = false;
		p = skip_ws(p);
		if (*p == '!') {
			neg = true;
			p = skip_ws(p + 1);
		}
		const char *k = p;
		while (key_char(*p))
			p++;
		if (p == k) {
			selector_free(out);
			return fail(err, s, p, "expected a label key");
		}
		char *key = xstrndup(k, (size_t)(p - k));
		p = skip_ws(p);
		if (neg) {
			add_req(out, key, SEL_NOT_EXISTS);
		} else if (*p == ',' || !*p) {
			add_req(out, key, SEL_EXISTS);
		} else if (p[0] == '=' || (p[0] == '!' && p[1] == '=') || *p == '>' || *p == '<') {
			enum sel_op op = SEL_EQ;
			if (p[0] == '!')
				op = SEL_NEQ, p += 2;
			else if (p[0] == '=' && p[1] == '=')
				p += 2;
			else if (*p == '>')
				op = SEL_GT, p++;
			else if (*p == '<')
				op = SEL_LT, p++;
			else
				p++;
			p = skip_ws(p);
			const char *v = p;
			while (key_char(*p) && *p != '/')
				p++;
			add_req(out, key, op);
			add_value(&out->reqs[out->n - 1], v, (size_t)(p - v));
		} else if (!strncmp(p, "in", 2) || !strncmp(p, "notin", 5)) {
			enum sel_op op = p[0] == 'i' ? SEL_IN : SEL_NOT_IN;
			p = skip_ws(p + (op == SEL_IN ? 2 : 5));
			if (*p != '(') {
				free(key);
				selector_free(out);
				return fail(err, s, p, "expected '(' after in/notin");
			}
			add_req(out, key, op);
			p++;
			for (;;) {
				p = skip_ws(p);
				const char *v = p;
				while (key_char(*p) && *p != '/')
					p++;
				add_value(&out->reqs[out->n - 1], v, (size_t)(p - v));
				p = skip_ws(p);
				if (*p == ',') {
					p++;
					continue;
				}
				if (*p == ')') {
					p++;
					break;
				}
				free(key);
				selector_free(out);
				return fail(err, s, p, "expected ',' or ')' in a value set");
			}
		} else {
			free(key);
			selector_free(out);
			return fail(err, s, p, "expected an operator (=, ==, !=, in, notin, >, <)");
		}
		free(key);
		p = skip_ws(p);
		if (!*p)
			return 0;
		if (*p != ',') {
			selector_free(out);
			return fail(err, s, p, "expected ','");
		}
		p++;
	}
}

char *selector_format(const struct selector *s)
{
	struct strbuf sb;

	sb_init(&sb);
	if (s->nothing)
		return xstrdup("<none>");
	for (size_t i = 0; i < s->n; i++) {
		const struct sel_req *r = &s->reqs[i];
		if (i)
			sb_addc(&sb, ',');
		switch (r->op) {
		case SEL_EQ: sb_printf(&sb, "%s=%s", r->key, r->nvalues ? r->values[0] : ""); break;
		case SEL_NEQ: sb_printf(&sb, "%s!=%s", r->key, r->nvalues ? r->values[0] : ""); break;
		case SEL_GT: sb_printf(&sb, "%s>%s", r->key, r->nvalues ? r->values[0] : ""); break;
		case SEL_LT: sb_printf(&sb, "%s<%s", r->key, r->nvalues ? r->values[0] : ""); break;
		case SEL_EXISTS: sb_adds(&sb, r->key); break;
		case SEL_NOT_EXISTS: sb_printf(&sb, "!%s", r->key); break;
		case SEL_IN:
		case SEL_NOT_IN:
			sb_printf(&sb, "%s %s (", r->key, r->op == SEL_IN ? "in" : "notin");
			for (size_t j = 0; j < r->nvalues; j++)
				sb_printf(&sb, "%s%s", j ? "," : "", r->values[j]);
			sb_addc(&sb, ')');
			break;
		}
	}
	return sb_detach(&sb);
}
