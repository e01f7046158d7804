/*
 * Masking passwords in text that may quote a connection string.
 *
 * libpq quotes a malformed URI whole in its error messages
 * ("unexpected character "x" at position 32 in URI ...:
 * "postgresql://app:S3cretPW@[::1]x/prod"), or a piece of it ("invalid
 * percent-encoded token: "S3cret%zzPW""), and a conninfo that cannot be
 * parsed cannot be masked by parsing it.  So the masking is textual and
 * needs no libpq: every password found in the conninfo as written (URI
 * user info, URI query `password=`, key/value `password=`, each raw and
 * decoded) and the one given separately (password_env) is replaced
 * wherever it occurs, and then any `scheme://user:secret@` or
 * `password=secret` left in the text is masked too.  Every text that came
 * from libpq goes through sm_redact before anyone sees it (engine/db.c).
 */
#ifndef SM_UTIL_REDACT_H
#define SM_UTIL_REDACT_H

/* What a secret is replaced with. */
#define SM_REDACTED "********"

/* A copy of text (caller frees) with every password masked.  conninfo:
 * the connection string as configured, may be NULL or malformed;
 * password: one given apart from it, may be NULL. */
char *sm_redact(const char *text, const char *conninfo, const char *password);

/* The same, in place in a buffer of size bytes (the result is cut to fit,
 * never in the middle of a UTF-8 sequence). */
void sm_redact_buf(char *buf, size_t size, const char *conninfo, const char *password);

#endif
