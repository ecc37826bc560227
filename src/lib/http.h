/* HTTP/1.1 message parsing (requests and responses) and small helpers. Strict on
 * framing, because the proxy will sit between untrusted peers: conflicting
 * Content-Length / Transfer-Encoding, bad tokens and bare CR/LF are errors. */
#ifndef TULLE_HTTP_H
#define TULLE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HTTP_MAX_HEAD  (64 * 1024)
#define HTTP_MAX_HEADERS 128

struct http_header {
	char *name;
	char *value;
};

struct http_msg {
	/* request */
	char *method, *target, *path, *query;
	/* response */
	int status;
	char *reason;
	int minor; /* HTTP/1.minor */
	struct http_header *headers;
	size_t nheaders;
	char *body;
	size_t body_len;
	bool keep_alive, chunked;
};

enum http_err {
	HTTP_NEED_MORE = 0,
	HTTP_BAD = -1,       /* 400 */
	HTTP_TOO_LARGE = -2, /* 413 (body) */
	HTTP_HEAD_TOO_LARGE = -3, /* 431 */
	HTTP_NOT_IMPL = -4,  /* 501: a transfer coding other than chunked */
};

/* Parses one whole message at the start of buf. Returns the bytes it used (> 0),
 * HTTP_NEED_MORE, or a negative enum http_err. A response to HEAD or a 1xx/204/304 has no
 * body; pass no_body for those. With stream_body (responses only) the body is not read:
 * the caller reads what follows (a watch stream). */
ssize_t http_parse_request(const char *buf, size_t len, size_t max_body, struct http_msg *m);
ssize_t http_parse_response(const char *buf, size_t len, size_t max_body, bool no_body,
			    bool stream_body, struct http_msg *m);
void http_msg_free(struct http_msg *m);
const char *http_get_header(const struct http_msg *m, const char *name);
/* The value of a query parameter, percent-decoded (caller frees), or NULL. */
char *http_query_param(const char *query, const char *name);
/* Decodes %XX and '+' in place-independent copy; NULL on a bad escape. */
char *http_unescape(const char *s, size_t len);
const char *http_reason(int status);
/* Parses one chunk of a chunked body at buf: returns bytes used, 0 for more, -1 bad.
 * data and dlen give the chunk; *last is set at the final (zero) chunk. */
ssize_t http_parse_chunk(const char *buf, size_t len, const char **data, size_t *dlen, bool *last);

#endif
