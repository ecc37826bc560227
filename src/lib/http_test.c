/* HTTP/1.1 parsing: framing, limits, and the inputs a proxy must refuse. */
#include "testhelp.h"

#include "http.h"
#include "util.h"

static ssize_t parse(const char *s, struct http_msg *m)
{
	return http_parse_request(s, strlen(s), 1024, m);
}

static void simple_and_pipelined(void)
{
	struct http_msg m;
	const char *two = "GET /api/v1/pods?watch=1&labelSelector=app%3Dweb HTTP/1.1\r\nHost: x\r\n\r\n"
			  "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
	ssize_t n = parse(two, &m);
	CHECK(n > 0);
	CHECK_STR(m.method, "GET");
	CHECK_STR(m.path, "/api/v1/pods");
	char *ls = http_query_param(m.query, "labelSelector");
	CHECK_STR(ls, "app=web");
	free(ls);
	CHECK(m.keep_alive);
	http_msg_free(&m);
	CHECK(http_parse_request(two + n, strlen(two + n), 1024, &m) == (ssize_t)strlen(two + n));
	CHECK(m.body_len == 3 && !memcmp(m.body, "abc", 3));
	http_msg_free(&m);
}

static void incomplete_needs_more(void)
{
	struct http_msg m;
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n", &m) == HTTP_NEED_MORE);
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", &m) == HTTP_NEED_MORE);
}

static void chunked_body(void)
{
	struct http_msg m;
	const char *s = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n";
	CHECK(parse(s, &m) == (ssize_t)strlen(s));
	CHECK(m.body_len == 5 && !memcmp(m.body, "abcde", 5));
	http_msg_free(&m);
}

static void smuggling_and_junk_refused(void)
{
	struct http_msg m;
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", &m) == HTTP_BAD);
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", &m) == HTTP_BAD);
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", &m) == HTTP_BAD);
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", &m) == HTTP_NOT_IMPL);
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", &m) == HTTP_BAD);
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", &m) == HTTP_BAD);
	CHECK(parse("GET / HTTP/1.1\nHost: x\r\n\r\n", &m) == HTTP_BAD);
	CHECK(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n", &m) == HTTP_BAD);
	CHECK(parse("GET / HTTP/1.1\r\n\r\n", &m) == HTTP_BAD); /* HTTP/1.1 needs Host */
	CHECK(parse("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", &m) == HTTP_BAD);
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &m) == HTTP_BAD);
}

static void limits(void)
{
	struct http_msg m;
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n", &m) == HTTP_TOO_LARGE);
	struct strbuf sb;
	sb_init(&sb);
	sb_adds(&sb, "GET / HTTP/1.1\r\nHost: x\r\n");
	while (sb.len < HTTP_MAX_HEAD + 10)
		sb_adds(&sb, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	CHECK(http_parse_request(sb.buf, sb.len, 1024, &m) == HTTP_HEAD_TOO_LARGE);
	sb_free(&sb);
}

static void response_and_connection(void)
{
	struct http_msg m;
	const char *r = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi";
	CHECK(http_parse_response(r, strlen(r), 100, false, false, &m) == (ssize_t)strlen(r));
	CHECK(m.status == 200 && !m.keep_alive && m.body_len == 2);
	http_msg_free(&m);
	r = "HTTP/1.1 204 No Content\r\n\r\n";
	CHECK(http_parse_response(r, strlen(r), 100, false, false, &m) == (ssize_t)strlen(r));
	http_msg_free(&m);
	char *bad = http_unescape("%zz", 3);
	CHECK(bad == NULL);
	char *tail = http_unescape("a%4", 3);
	CHECK(tail == NULL);
}

int main(void)
{
	RUN(simple_and_pipelined);
	RUN(incomplete_needs_more);
	RUN(chunked_body);
	RUN(smuggling_and_junk_refused);
	RUN(limits);
	RUN(response_and_connection);
	return testhelp_done();
}
