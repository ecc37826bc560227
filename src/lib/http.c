#include "http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static bool tchar(char c)
{
	return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

void http_msg_free(struct http_msg *m)
{
	for (size_t i = 0; i < m->nheaders; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	free(m->method);
	free(m->target);
	free(m->path);
	free(m->query);
	free(m->reason);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

const char *http_get_header(const struct http_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, name) == 0)
			return m->headers[i].value;
	return NULL;
}

/* Finds the end of the head ("\r\n\r\n"); returns its length or 0. */
static size_t head_len(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
			return i + 4;
	return 0;
}

static const char *line_end(const char *p, const char *end)
{
	for (; p + 1 < end; p++) {
		if (p[0] == '\r' && p[1] == '\n')
			return p;
		if (p[0] == '\n' || p[0] == '\r' || p[0] == 0)
			return NULL; /* bare CR/LF or NUL: refuse */
	}
	return NULL;
}

static int parse_headers(const char *p, const char *end, struct http_msg *m)
{
	while (p < end) {
		const char *le = line_end(p, end + 2);
		if (!le)
			return HTTP_BAD;
		if (le == p)
			break;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (!colon || colon == p)
			return HTTP_BAD;
		for (const char *q = p; q < colon; q++)
			if (!tchar(*q))
				return HTTP_BAD; /* also rejects obs-fold and spaces before ':' */
		const char *v = colon + 1, *ve = le;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (const char *q = v; q < ve; q++)
			if ((unsigned char)*q < 0x20 && *q != '\t')
				return HTTP_BAD;
		if (m->nheaders >= HTTP_MAX_HEADERS)
			return HTTP_HEAD_TOO_LARGE;
		m->headers = xrealloc(m->headers, (m->nheaders + 1) * sizeof(*m->headers));
		m->headers[m->nheaders].name = xstrndup(p, (size_t)(colon - p));
		m->headers[m->nheaders].value = xstrndup(v, (size_t)(ve - v));
		m->nheaders++;
		p = le + 2;
	}
	return 0;
}

ssize_t http_parse_chunk(const char *buf, size_t len, const char **data, size_t *dlen, bool *last)
{
	size_t i = 0, size = 0;
	bool digits = false;

	while (i < len && isxdigit((unsigned char)buf[i])) {
		if (size > (SIZE_MAX >> 5))
			return -1;
		char c = buf[i++];
		size = size * 16 + (size_t)(isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10));
		digits = true;
	}
	if (i == len)
		return 0;
	if (!digits)
		return -1;
	/* Chunk extensions are allowed and ignored. */
	while (i < len && buf[i] != '\r') {
		if (buf[i] == '\n')
			return -1;
		i++;
	}
	if (i + 1 >= len)
		return 0;
	if (buf[i + 1] != '\n')
		return -1;
	i += 2;
	if (size == 0) {
		/* Trailers are skipped up to the empty line. */
		for (;;) {
			if (i + 1 >= len)
				return 0;
			if (buf[i] == '\r' && buf[i + 1] == '\n') {
				*last = true;
				*data = NULL;
				*dlen = 0;
				return (ssize_t)(i + 2);
			}
			const char *le = memchr(buf + i, '\n', len - i);
			if (!le)
				return 0;
			i = (size_t)(le - buf) + 1;
		}
	}
	if (len - i < size + 2)
		return 0;
	if (buf[i + size] != '\r' || buf[i + size + 1] != '\n')
		return -1;
	*data = buf + i;
	*dlen = size;
	*last = false;
	return (ssize_t)(i + size + 2);
}

/* Reads the body that follows the head at buf+off. */
static ssize_t parse_body(const char *buf, size_t len, size_t off, size_t max_body,
			  struct http_msg *m)
{
	const char *te = http_get_header(m, "Transfer-Encoding");
	const char *cl = NULL;
	size_t ncl = 0;

	for (size_t i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, "Content-Length") == 0) {
			if (cl && strcmp(cl, m->headers[i].value) != 0)
				return HTTP_BAD;
			cl = m->headers[i].value;
			ncl++;
		}
	if (te && cl)
		return HTTP_BAD; /* the classic smuggling vector */
	if (te) {
		if (strcasecmp(te, "chunked") != 0)
			return HTTP_NOT_IMPL;
		m->chunked = true;
		struct strbuf body;
		size_t p = off;
		sb_init(&body);
		for (;;) {
			const char *d;
			size_t dl;
			bool last;
			ssize_t n = http_parse_chunk(buf + p, len - p, &d, &dl, &last);
			if (n < 0) {
				sb_free(&body);
				return HTTP_BAD;
			}
			if (n == 0) {
				sb_free(&body);
				return HTTP_NEED_MORE;
			}
			p += (size_t)n;
			if (last)
				break;
			if (body.len + dl > max_body) {
				sb_free(&body);
				return HTTP_TOO_LARGE;
			}
			sb_add(&body, d, dl);
		}
		m->body_len = body.len;
		m->body = sb_detach(&body);
		return (ssize_t)p;
	}
	size_t n = 0;
	if (cl) {
		if (!*cl || strlen(cl) > 12)
			return *cl ? HTTP_TOO_LARGE : HTTP_BAD;
		for (const char *q = cl; *q; q++) {
			if (!isdigit((unsigned char)*q))
				return HTTP_BAD;
			n = n * 10 + (size_t)(*q - '0');
		}
	}
	if (n > max_body)
		return HTTP_TOO_LARGE;
	if (len - off < n)
		return HTTP_NEED_MORE;
	m->body = xstrndup(buf + off, n);
	m->body_len = n;
	return (ssize_t)(off + n);
}

static bool parse_version(const char *p, size_t n, int *minor)
{
	if (n != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
		return false;
	*minor = p[7] - '0';
	return true;
}

static void set_keep_alive(struct http_msg *m)
{
	const char *c = http_get_header(m, "Connection");

	m->keep_alive = m->minor == 1;
	if (c && strcasestr(c, "close"))
		m->keep_alive = false;
	else if (c && strcasestr(c, "keep-alive"))
		m->keep_alive = true;
}

ssize_t http_parse_request(const char *buf, size_t len, size_t max_body, struct http_msg *m)
{
	size_t hl = head_len(buf, len);
	int rc;

	memset(m, 0, sizeof(*m));
	if (!hl)
		return len > HTTP_MAX_HEAD ? HTTP_HEAD_TOO_LARGE : HTTP_NEED_MORE;
	if (hl > HTTP_MAX_HEAD)
		return HTTP_HEAD_TOO_LARGE;
	const char *end = buf + hl - 2;
	const char *le = line_end(buf, end + 2);
	if (!le)
		return HTTP_BAD;
	const char *sp1 = memchr(buf, ' ', (size_t)(le - buf));
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1 || sp1 - buf > 16)
		goto bad;
	for (const char *q = buf; q < sp1; q++)
		if (!tchar(*q))
			goto bad;
	for (const char *q = sp1 + 1; q < sp2; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f)
			goto bad;
	if (!parse_version(sp2 + 1, (size_t)(le - sp2 - 1), &m->minor))
		goto bad;
	m->method = xstrndup(buf, (size_t)(sp1 - buf));
	m->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	char *qm = strchr(m->target, '?');
	m->path = qm ? xstrndup(m->target, (size_t)(qm - m->target)) : xstrdup(m->target);
	m->query = xstrdup(qm ? qm + 1 : "");
	if ((rc = parse_headers(le + 2, end, m)) < 0) {
		http_msg_free(m);
		return rc;
	}
	if (m->minor == 1 && !http_get_header(m, "Host"))
		goto bad;
	set_keep_alive(m);
	ssize_t n = parse_body(buf, len, hl, max_body, m);
	if (n <= 0)
		http_msg_free(m);
	return n;
bad:
	http_msg_free(m);
	return HTTP_BAD;
}

ssize_t http_parse_response(const char *buf, size_t len, size_t max_body, bool no_body,
			    bool stream_body, struct http_msg *m)
{
	size_t hl = head_len(buf, len);
	int rc;

	memset(m, 0, sizeof(*m));
	if (!hl)
		return len > HTTP_MAX_HEAD ? HTTP_HEAD_TOO_LARGE : HTTP_NEED_MORE;
	const char *end = buf + hl - 2;
	const char *le = line_end(buf, end + 2);
	if (!le || le - buf < 12 || !parse_version(buf, 8, &m->minor) || buf[8] != ' ')
		goto bad;
	if (!isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]))
		goto bad;
	m->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	m->reason = xstrndup(buf + 12 + (le - buf > 12), (size_t)(le - buf - 12 - (le - buf > 12)));
	if ((rc = parse_headers(le + 2, end, m)) < 0) {
		http_msg_free(m);
		return rc;
	}
	set_keep_alive(m);
	if (no_body || m->status / 100 == 1 || m->status == 204 || m->status == 304)
		return (ssize_t)hl;
	if (stream_body) {
		const char *te = http_get_header(m, "Transfer-Encoding");
		m->chunked = te && strcasecmp(te, "chunked") == 0;
		return (ssize_t)hl;
	}
	ssize_t n = parse_body(buf, len, hl, max_body, m);
	if (n <= 0)
		http_msg_free(m);
	return n;
bad:
	http_msg_free(m);
	return HTTP_BAD;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *http_unescape(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int a = i + 1 < len ? hexval(s[i + 1]) : -1;
			int b = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (a < 0 || b < 0) {
				free(out);
				return NULL;
			}
			*o++ = (char)(a * 16 + b);
			i += 2;
		} else if (s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = 0;
	return out;
}

char *http_query_param(const char *query, const char *name)
{
	size_t nl = strlen(name);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t kl = eq ? (size_t)(eq - p) : len;
		if (kl == nl && memcmp(p, name, nl) == 0)
			return eq ? http_unescape(eq + 1, len - kl - 1) : xstrdup("");
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Request Entity Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}
