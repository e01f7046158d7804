/*
 * sm_error: the one error convention of snapmig.
 *
 * Every fallible function returns an int status (0 = SM_OK, negative = one of
 * the sm_status codes) or a pointer (NULL on error), and fills a
 * caller-provided sm_error that a front end can show as it is.  The message
 * never contains a password (conninfo strings are masked before they are put
 * into an error).
 */
#ifndef SM_UTIL_ERROR_H
#define SM_UTIL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum sm_status {
	SM_OK = 0,
	SM_ERR_USAGE = -1,     /* bad arguments from the caller */
	SM_ERR_CONFIG = -2,    /* configuration file problem (file/line set) */
	SM_ERR_DB = -3,        /* connection, permission, query failure (sqlstate set) */
	SM_ERR_NOMEM = -4,
	SM_ERR_IO = -5,        /* files, pipes, processes */
	SM_ERR_CANCELLED = -6, /* stopped on request */
	SM_ERR_GUARD = -7,     /* a safety guard refused the operation */
	SM_ERR_DATA = -8,      /* input data that cannot be processed */
	SM_ERR_INTERNAL = -9,
	SM_ERR_BUSY = -10,     /* another operation holds the target (it is named) */
};

typedef struct sm_error {
	int code;            /* an sm_status, SM_OK when no error */
	char sqlstate[6];    /* PostgreSQL SQLSTATE, "" when none */
	char file[256];      /* config file, "" when none */
	int line;            /* line in file, 0 when none */
	char message[1024];
} sm_error;

void sm_error_clear(sm_error *err);

/* Sets code and message (printf-style); returns code so callers can write
 * `return sm_error_set(err, SM_ERR_DB, "...")`.  err may be NULL. */
int sm_error_set(sm_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sm_error_setv(sm_error *err, int code, const char *fmt, va_list ap);

/* Same, with a config location. */
int sm_error_set_at(sm_error *err, int code, const char *file, int line,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Prepends "prefix: " to the message already in err. */
void sm_error_prefix(sm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The code of the error in err, or fallback when err is NULL or holds
 * none: for a failure that a NULL result reported. */
int sm_error_code(const sm_error *err, int fallback);

/* "file:line: message" or "message" into buf. */
const char *sm_error_format(const sm_error *err, char *buf, size_t size);

const char *sm_status_name(int code);

#endif
