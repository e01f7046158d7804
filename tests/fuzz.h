/*
 * Fuzz targets of the config module, of event data decoding, of the
 * external reducer protocol and of the binary COPY decoder.  Each is a libFuzzer target when built
 * by `make fuzz` (LLVMFuzzerTestOneInput), and a plain function that
 * tests/test_fuzz_corpus calls on the committed corpus in `make check`.
 */
#ifndef SM_TESTS_FUZZ_H
#define SM_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* SM_FUZZ_TARGET(fn): the libFuzzer entry point calling fn, in a target's
 * file; nothing in the corpus replay (built with SM_FUZZ_NO_MAIN). */
#ifdef SM_FUZZ_NO_MAIN
#define SM_FUZZ_TARGET(fn)
#else
#define SM_FUZZ_TARGET(fn)                                               \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);    \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)     \
	{                                                                \
		return fn(data, size);                                   \
	}
#endif

/* Input: line 1 `initial`, line 2 `when` (empty: none), line 3 `do`, the
 * rest event data as JSON text.  Compiles and, when that works, applies. */
int sm_fuzz_rules(const uint8_t *data, size_t size);

/* Compiles the canonical text of rules again (sm_rules_canonical) and
 * returns 0 when that gives the same canonical text. */
struct sm_rules;
int sm_fuzz_rules_roundtrip(const struct sm_rules *rules);

/* Input: a whole configuration file. */
int sm_fuzz_config(const uint8_t *data, size_t size);

/* Input: a variant selector byte (bytea, jsonb, double-encoded jsonb),
 * then the event data column as stored.  Decodes it and checks that what
 * decodes prints back stably (tests/fuzz_json.c). */
int sm_fuzz_json(const uint8_t *data, size_t size);

/* Input: lines from an external reducer: the first as its handshake, each
 * as a reply (tests/fuzz_protocol.c). */
int sm_fuzz_protocol(const uint8_t *data, size_t size);

/* Input: a field count, then CopyData messages as a server could send
 * them (tests/fuzz_pgcopy.c). */
int sm_fuzz_pgcopy(const uint8_t *data, size_t size);

#endif
