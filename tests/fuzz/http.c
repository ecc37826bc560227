/* libFuzzer: HTTP/1.1 request and response parsing, chunk decoding, query decoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lib/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_msg m;
	const char *buf = (const char *)data;
	size_t off = 0;

	/* Pipelined requests, as the server's loop consumes them. */
	while (off < size) {
		ssize_t n = http_parse_request(buf + off, size - off, 4096, &m);
		if (n <= 0)
			break;
		char *q = http_query_param(m.query, "labelSelector");
		free(q);
		http_msg_free(&m);
		off += (size_t)n;
	}
	if (http_parse_response(buf, size, 4096, false, false, &m) > 0)
		http_msg_free(&m);
	const char *d;
	size_t dl;
	bool last;
	(void)http_parse_chunk(buf, size, &d, &dl, &last);
	char *u = http_unescape(buf, size);
	free(u);
	return 0;
}
