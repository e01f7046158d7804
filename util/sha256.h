/*
 * SHA-256 (FIPS 180-4), for fingerprints of what produced a generated
 * snapshot (engine/fingerprint.c).  Written from the standard; pure, no
 * allocation.
 */
#ifndef SM_UTIL_SHA256_H
#define SM_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sm_sha256 {
	uint32_t h[8];
	uint64_t bytes;            /* message length so far */
	unsigned char block[64];
	size_t used;               /* bytes in block */
} sm_sha256;

void sm_sha256_init(sm_sha256 *s);
void sm_sha256_update(sm_sha256 *s, const void *data, size_t n);
/* The digest as 64 lowercase hex digits and a NUL into hex. */
void sm_sha256_hex(sm_sha256 *s, char hex[65]);

#endif
