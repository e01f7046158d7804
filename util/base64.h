/*
 * Base64 (RFC 4648, standard alphabet, with padding), for the external
 * reducer protocol's raw mode, which carries stored column bytes in JSON
 * strings.  Decoding is strict: only the alphabet, padding only at the end
 * and only as much as the length needs, no whitespace; anything else is
 * refused, never guessed at.
 */
#ifndef SM_UTIL_BASE64_H
#define SM_UTIL_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* The encoded length of n bytes (without a terminating NUL). */
size_t sm_base64_encoded_len(size_t n);

/* Writes the encoding of src[0..n) to out, which has room for
 * sm_base64_encoded_len(n) bytes; no NUL is added. */
void sm_base64_encode(const unsigned char *src, size_t n, char *out);

/* Decodes text[0..len) into a new buffer (caller frees; a NUL follows the
 * bytes, not counted in *n).  NULL when text is not strict base64. */
unsigned char *sm_base64_decode(const char *text, size_t len, size_t *n);

#endif
