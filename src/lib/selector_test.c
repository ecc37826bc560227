/* Selectors: the compiled matchers against deliberately naive evaluators of the same
 * specs, on thousands of random label sets and selectors; plus the string syntax and
 * Calico's expression grammar. */
#include "testhelp.h"

#include "calico_sel.h"
#include "selector.h"
#include "util.h"

static unsigned rng_state = 12345;
static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) % n;
}

static const char *const keys[] = { "app", "tier", "env", "k8s.io/name", "version" };
static const char *const vals[] = { "web", "db", "prod", "dev", "v1", "" };

static json_t *random_labels(void)
{
	json_t *l = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (rnd(2))
			json_object_set_new(l, keys[i], json_string(vals[rnd(ARRAY_SIZE(vals))]));
	return l;
}

static json_t *random_label_selector(void)
{
	json_t *sel = json_object();
	if (rnd(2)) {
		json_t *ml = json_object();
		for (unsigned i = rnd(3); i > 0; i--)
			json_object_set_new(ml, keys[rnd(ARRAY_SIZE(keys))], json_string(vals[rnd(5)]));
		json_object_set_new(sel, "matchLabels", ml);
	}
	if (rnd(2)) {
		static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist" };
		json_t *exprs = json_array();
		for (unsigned i = rnd(3); i > 0; i--) {
			const char *op = ops[rnd(4)];
			json_t *e = json_pack("{s:s,s:s}", "key", keys[rnd(ARRAY_SIZE(keys))], "operator", op);
			if (op[0] == 'I' || op[0] == 'N') {
				json_t *v = json_array();
				for (unsigned j = 1 + rnd(3); j > 0; j--)
					json_array_append_new(v, json_string(vals[rnd(5)]));
				json_object_set_new(e, "values", v);
			}
			json_array_append_new(exprs, e);
		}
		json_object_set_new(sel, "matchExpressions", exprs);
	}
	return sel;
}

/* The spec, read literally: every matchLabels pair equal, every expression true. */
static bool naive_matches(const json_t *sel, const json_t *labels)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(json_object_get(sel, "matchLabels"), k, v) {
		json_t *have = json_object_get(labels, k);
		if (!have || strcmp(json_string_value(have), json_string_value(v)) != 0)
			return false;
	}
	json_array_foreach(json_object_get(sel, "matchExpressions"), i, v) {
		const char *key = json_string_value(json_object_get(v, "key"));
		const char *op = json_string_value(json_object_get(v, "operator"));
		json_t *have = json_object_get(labels, key);
		bool in = false;
		size_t j;
		json_t *x;
		json_array_foreach(json_object_get(v, "values"), j, x)
			if (have && !strcmp(json_string_value(x), json_string_value(have)))
				in = true;
		if (!strcmp(op, "In") && !in)
			return false;
		if (!strcmp(op, "NotIn") && in)
			return false;
		if (!strcmp(op, "Exists") && !have)
			return false;
		if (!strcmp(op, "DoesNotExist") && have)
			return false;
	}
	return true;
}

static void label_selector_matches_reference(void)
{
	int mismatches = 0;

	for (int i = 0; i < 5000; i++) {
		json_t *sel = random_label_selector();
		struct selector s;
		selector_from_json(sel, &s);
		for (int j = 0; j < 10; j++) {
			json_t *l = random_labels();
			if (selector_matches_json(&s, l) != naive_matches(sel, l))
				mismatches++;
			/* The string form must mean the same thing. */
			char *text = selector_format(&s), *err = NULL;
			struct selector s2;
			if (selector_parse(text, &s2, &err) == 0) {
				if (selector_matches_json(&s2, l) != naive_matches(sel, l))
					mismatches++;
				selector_free(&s2);
			} else {
				mismatches++;
				free(err);
			}
			free(text);
			json_decref(l);
		}
		selector_free(&s);
		json_decref(sel);
	}
	CHECK(mismatches == 0);
}

static void empty_and_null_selectors(void)
{
	struct selector s;
	json_t *l = json_pack("{s:s}", "app", "x");
	json_t *empty = json_object();

	selector_from_json(empty, &s);
	CHECK(selector_matches_json(&s, l));
	CHECK(selector_matches_json(&s, NULL));
	selector_free(&s);
	selector_from_json(NULL, &s);
	CHECK(!selector_matches_json(&s, l));
	selector_free(&s);
	json_decref(l);
	json_decref(empty);
}

static void string_syntax(void)
{
	struct selector s;
	char *err;
	json_t *l = json_pack("{s:s,s:s,s:s}", "app", "web", "tier", "front", "n", "5");

	CHECK(selector_parse("app=web,tier in (front,back),!gone,n>3", &s, &err) == 0);
	CHECK(selector_matches_json(&s, l));
	selector_free(&s);
	CHECK(selector_parse("app==web,tier notin (front)", &s, &err) == 0);
	CHECK(!selector_matches_json(&s, l));
	selector_free(&s);
	CHECK(selector_parse("app!=db, tier", &s, &err) == 0);
	CHECK(selector_matches_json(&s, l));
	selector_free(&s);
	CHECK(selector_parse("app in (web", &s, &err) < 0 && err && strstr(err, "offset"));
	free(err);
	CHECK(selector_parse("=x", &s, &err) < 0);
	free(err);
	json_decref(l);
}

/* ---- Calico: random ASTs, printed, parsed back, evaluated both ways ---- */

struct ref {
	int op; /* 0 all, 1 has, 2 ==, 3 !=, 4 in, 5 not in, 6 !, 7 &&, 8 || */
	const char *key, *v1, *v2;
	struct ref *a, *b;
};

static struct ref *gen(int depth)
{
	struct ref *r = calloc(1, sizeof(*r));
	r->op = depth > 3 ? (int)rnd(6) : (int)rnd(9);
	r->key = keys[rnd(ARRAY_SIZE(keys))];
	r->v1 = vals[rnd(5)];
	r->v2 = vals[rnd(5)];
	if (r->op >= 6) {
		r->a = gen(depth + 1);
		if (r->op != 6)
			r->b = gen(depth + 1);
	}
	return r;
}

static void print_ref(struct strbuf *sb, const struct ref *r)
{
	switch (r->op) {
	case 0: sb_adds(sb, "all()"); break;
	case 1: sb_printf(sb, "has(%s)", r->key); break;
	case 2: sb_printf(sb, "%s == \"%s\"", r->key, r->v1); break;
	case 3: sb_printf(sb, "%s != '%s'", r->key, r->v1); break;
	case 4: sb_printf(sb, "%s in {\"%s\", \"%s\"}", r->key, r->v1, r->v2); break;
	case 5: sb_printf(sb, "%s not in {'%s'}", r->key, r->v1); break;
	case 6: sb_adds(sb, "!("); print_ref(sb, r->a); sb_adds(sb, ")"); break;
	default:
		sb_adds(sb, "(");
		print_ref(sb, r->a);
		sb_adds(sb, r->op == 7 ? ") && (" : ") || (");
		print_ref(sb, r->b);
		sb_adds(sb, ")");
	}
}

static bool eval_ref(const struct ref *r, const json_t *l)
{
	const char *v = json_string_value(json_object_get(l, r->key));
	switch (r->op) {
	case 0: return true;
	case 1: return v != NULL;
	case 2: return v && !strcmp(v, r->v1);
	case 3: return !v || strcmp(v, r->v1);
	case 4: return v && (!strcmp(v, r->v1) || !strcmp(v, r->v2));
	case 5: return !v || strcmp(v, r->v1);
	case 6: return !eval_ref(r->a, l);
	case 7: return eval_ref(r->a, l) && eval_ref(r->b, l);
	default: return eval_ref(r->a, l) || eval_ref(r->b, l);
	}
}

static void free_ref(struct ref *r)
{
	if (!r)
		return;
	free_ref(r->a);
	free_ref(r->b);
	free(r);
}

static void calico_matches_reference(void)
{
	int mismatches = 0, parse_failures = 0;

	for (int i = 0; i < 3000; i++) {
		struct ref *r = gen(0);
		struct strbuf sb;
		struct csel *e;
		char *err;
		sb_init(&sb);
		print_ref(&sb, r);
		if (csel_parse(sb.buf, &e, &err) < 0) {
			fprintf(stderr, "  cannot parse %s: %s\n", sb.buf, err);
			free(err);
			parse_failures++;
		} else {
			for (int j = 0; j < 10; j++) {
				json_t *l = random_labels();
				if (csel_matches(e, label_get_json, l) != eval_ref(r, l))
					mismatches++;
				json_decref(l);
			}
			csel_free(e);
		}
		sb_free(&sb);
		free_ref(r);
	}
	CHECK(parse_failures == 0);
	CHECK(mismatches == 0);
}

static void calico_grammar_edges(void)
{
	struct csel *e;
	char *err;
	json_t *l = json_pack("{s:s,s:s}", "tier", "production", "all", "x");

	CHECK(csel_parse("tier == \"production\"", &e, &err) == 0);
	CHECK(csel_matches(e, label_get_json, l));
	csel_free(e);
	CHECK(csel_parse("", &e, &err) == 0 && csel_matches(e, label_get_json, l));
	csel_free(e);
	/* "all" without parentheses is a label key. */
	CHECK(csel_parse("all == 'x' && !has(gone)", &e, &err) == 0 && csel_matches(e, label_get_json, l));
	csel_free(e);
	CHECK(csel_parse("tier starts with 'prod' && tier ends with 'tion' && tier contains 'duct'", &e, &err) == 0);
	CHECK(csel_matches(e, label_get_json, l));
	csel_free(e);
	CHECK(csel_parse("tier ==", &e, &err) < 0);
	free(err);
	CHECK(csel_parse("tier == 'a' &&", &e, &err) < 0);
	free(err);
	CHECK(csel_parse("(((tier == 'a')", &e, &err) < 0);
	free(err);
	/* Deep nesting is refused, not a stack overflow. */
	struct strbuf sb;
	sb_init(&sb);
	for (int i = 0; i < 10000; i++)
		sb_addc(&sb, '(');
	CHECK(csel_parse(sb.buf, &e, &err) < 0);
	free(err);
	sb_free(&sb);
	json_decref(l);
}

int main(void)
{
	RUN(label_selector_matches_reference);
	RUN(empty_and_null_selectors);
	RUN(string_syntax);
	RUN(calico_matches_reference);
	RUN(calico_grammar_edges);
	return testhelp_done();
}
