/* WebSocket frames: what ws_frame writes, ws_parse reads back, for every length
 * encoding, masked and not, a byte at a time, and over the size limit. */
#include "testhelp.h"

#include "util.h"
#include "ws.h"

static void round_trip(void)
{
	static const size_t sizes[] = { 0, 1, 124, 125, 126, 65534, 65535, 70000 };
	for (size_t si = 0; si < ARRAY_SIZE(sizes); si++)
		for (int mask = 0; mask < 2; mask++) {
			size_t n = sizes[si];
			char *data = xmalloc(n + 1);
			for (size_t i = 0; i < n; i++)
				data[i] = (char)(i * 7 + 3);
			struct strbuf sb;
			sb_init(&sb);
			ws_frame(&sb, WS_BINARY, mask, 3, data, n);
			CHECK(((unsigned char)sb.buf[1] & 0x80) == (mask ? 0x80 : 0));
			int op;
			char *got;
			size_t len;
			/* Every prefix is "need more"; the whole frame is one frame. */
			CHECK(ws_parse(sb.buf, sb.len - 1, 1 << 20, &op, &got, &len) == 0);
			CHECK(ws_parse(sb.buf, sb.len, 1 << 20, &op, &got, &len) == (ssize_t)sb.len);
			CHECK(op == WS_BINARY && len == n + 1 && got[0] == 3 && !memcmp(got + 1, data, n));
			free(got);
			CHECK(ws_parse(sb.buf, sb.len, n, &op, &got, &len) == (n + 1 > n ? -1 : 0));
			sb_free(&sb);
			free(data);
		}
}

static void control_frames_carry_no_channel(void)
{
	struct strbuf sb;
	sb_init(&sb);
	ws_frame(&sb, WS_CLOSE, false, -1, "\x03\xe8", 2);
	CHECK(sb.len == 4 && (unsigned char)sb.buf[0] == 0x88 && sb.buf[1] == 2);
	int op;
	char *got;
	size_t len;
	CHECK(ws_parse(sb.buf, sb.len, 125, &op, &got, &len) == 4);
	CHECK(op == WS_CLOSE && len == 2 && !memcmp(got, "\x03\xe8", 2));
	free(got);
	sb_free(&sb);
}

int main(void)
{
	RUN(round_trip);
	RUN(control_frames_carry_no_channel);
	return testhelp_done();
}
