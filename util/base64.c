/* Base64 encoding and strict decoding (util/base64.h). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "util/alloc.h"
#include "util/base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sm_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void sm_base64_encode(const unsigned char *src, size_t n, char *out)
{
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		*out++ = alphabet[v >> 18];
		*out++ = alphabet[(v >> 12) & 63];
		*out++ = alphabet[(v >> 6) & 63];
		*out++ = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;

		*out++ = alphabet[v >> 18];
		*out++ = alphabet[(v >> 12) & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;

		*out++ = alphabet[v >> 18];
		*out++ = alphabet[(v >> 12) & 63];
		*out++ = alphabet[(v >> 6) & 63];
		*out++ = '=';
	}
}

/* The 6-bit value of c, or -1 when c is not in the alphabet. */
static int value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

unsigned char *sm_base64_decode(const char *text, size_t len, size_t *n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t pad = 0, out_len, o = 0;
	unsigned char *out;

	*n = 0;
	if (len % 4 != 0)
		return NULL;
	if (len > 0 && s[len - 1] == '=')
		pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
	out_len = len / 4 * 3 - pad;
	out = sm_xmalloc(out_len + 1);
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int a = value(s[i]), b = value(s[i + 1]), c, d;
		uint32_t v;

		c = last && pad == 2 ? 0 : value(s[i + 2]);
		d = last && pad >= 1 ? 0 : value(s[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			goto bad;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		/* Padding's unused bits must be zero: one encoding per value. */
		if (last && ((pad == 2 && (v & 0xFFFF)) || (pad == 1 && (v & 0xFF))))
			goto bad;
		out[o++] = (unsigned char)(v >> 16);
		if (!(last && pad == 2))
			out[o++] = (unsigned char)(v >> 8);
		if (!(last && pad >= 1))
			out[o++] = (unsigned char)v;
	}
	out[o] = '\0';
	*n = o;
	return out;
bad:
	free(out);
	return NULL;
}
