#include "ws.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>

void ws_frame(struct strbuf *out, int opcode, bool mask, int channel, const void *data, size_t len)
{
	unsigned char h[14], key[4] = { 0 };
	size_t n = 0, pl = len + (channel >= 0);

	h[n++] = (unsigned char)(0x80 | opcode);
	unsigned char m = mask ? 0x80 : 0;
	if (pl < 126) {
		h[n++] = (unsigned char)(m | pl);
	} else if (pl < 65536) {
		h[n++] = m | 126;
		h[n++] = (unsigned char)(pl >> 8);
		h[n++] = (unsigned char)pl;
	} else {
		h[n++] = m | 127;
		for (int i = 7; i >= 0; i--)
			h[n++] = (unsigned char)((uint64_t)pl >> (i * 8));
	}
	if (mask) {
		if (getrandom(key, sizeof(key), 0) != sizeof(key))
			memset(key, 0x5a, sizeof(key));
		memcpy(h + n, key, 4);
		n += 4;
	}
	sb_add(out, (const char *)h, n);
	size_t i = 0;
	if (channel >= 0)
		sb_addc(out, (char)(channel ^ key[i++ & 3]));
	for (size_t j = 0; j < len; j++, i++)
		sb_addc(out, (char)(((const unsigned char *)data)[j] ^ key[i & 3]));
}

ssize_t ws_parse(const char *buf, size_t len, size_t max, int *opcode, char **payload, size_t *plen)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t hl = 2;

	if (len < 2)
		return 0;
	bool masked = p[1] & 0x80;
	uint64_t pl = p[1] & 0x7f;
	if (pl == 126) {
		if (len < 4)
			return 0;
		pl = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
	} else if (pl == 127) {
		if (len < 10)
			return 0;
		pl = 0;
		for (int i = 0; i < 8; i++)
			pl = pl << 8 | p[2 + i];
		hl = 10;
	}
	if (pl > max)
		return -1;
	size_t mk = masked ? 4 : 0;
	if (len < hl + mk + pl)
		return 0;
	char *data = xmalloc((size_t)pl + 1);
	for (uint64_t i = 0; i < pl; i++)
		data[i] = (char)(p[hl + mk + i] ^ (masked ? p[hl + (i & 3)] : 0));
	data[pl] = 0;
	*opcode = p[0] & 0x0f;
	*payload = data;
	*plen = (size_t)pl;
	return (ssize_t)(hl + mk + pl);
}
