#include "yaml_emit.h"

#include <ctype.h>
#include <string.h>

#include "doc.h"

/* A plain scalar is safe when reading it back yields the same string. */
static bool plain_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || !doc_plain_is_string(s))
		return false;
	if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return false; /* YAML indicators */
	/* YAML 1.1 readers take 2006-01-02... for a timestamp; kubectl quotes these too. */
	if (n >= 10 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[3]) && s[4] == '-' &&
	    isdigit((unsigned char)s[5]) && s[7] == '-')
		return false;
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
		if ((p[0] == ':' && (p[1] == ' ' || !p[1])) || (p[0] == ' ' && p[1] == '#'))
			return false;
	}
	return true;
}

static void emit_string(struct strbuf *sb, const char *s)
{
	if (plain_ok(s)) {
		sb_adds(sb, s);
		return;
	}
	/* Double-quoted YAML accepts JSON's escapes. */
	json_t *j = json_string(s);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	sb_adds(sb, q ? q : "\"\"");
	free(q);
	json_decref(j);
}

static void indent(struct strbuf *sb, int n)
{
	for (int i = 0; i < n; i++)
		sb_addc(sb, ' ');
}

static void emit_scalar(struct strbuf *sb, const json_t *v)
{
	if (json_is_string(v)) {
		emit_string(sb, json_string_value(v));
	} else {
		char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
		sb_adds(sb, t ? t : "null");
		free(t);
	}
}

static bool empty_container(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) == 0) ||
	       (json_is_array(v) && json_array_size(v) == 0);
}

static void emit_node(struct strbuf *sb, const json_t *v, int ind);

static void emit_value_after_key(struct strbuf *sb, const json_t *v, int ind)
{
	if (empty_container(v)) {
		sb_adds(sb, json_is_object(v) ? " {}\n" : " []\n");
	} else if (json_is_object(v)) {
		sb_addc(sb, '\n');
		emit_node(sb, v, ind + 2);
	} else if (json_is_array(v)) {
		/* kubectl's style: list items at the same indentation as the key. */
		sb_addc(sb, '\n');
		emit_node(sb, v, ind);
	} else {
		sb_addc(sb, ' ');
		emit_scalar(sb, v);
		sb_addc(sb, '\n');
	}
}

static void emit_node(struct strbuf *sb, const json_t *v, int ind)
{
	const char *k;
	json_t *c;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, c) {
			indent(sb, ind);
			emit_string(sb, k);
			sb_addc(sb, ':');
			emit_value_after_key(sb, c, ind);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c) {
			indent(sb, ind);
			sb_adds(sb, "-");
			if (json_is_object(c) && json_object_size(c)) {
				/* First member on the dash line, the rest aligned under it. */
				struct strbuf inner;
				sb_init(&inner);
				emit_node(&inner, c, ind + 2);
				sb_addc(sb, ' ');
				sb_adds(sb, inner.buf + ind + 2);
				sb_free(&inner);
			} else if (json_is_array(c) && json_array_size(c)) {
				sb_addc(sb, '\n');
				emit_node(sb, c, ind + 2);
			} else {
				emit_value_after_key(sb, c, ind);
			}
		}
	} else {
		indent(sb, ind);
		emit_scalar(sb, v);
		sb_addc(sb, '\n');
	}
}

void yaml_emit(struct strbuf *sb, const json_t *v)
{
	emit_node(sb, v, 0);
}
