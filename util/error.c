/* sm_error helpers; see error.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "util/error.h"

void sm_error_clear(sm_error *err)
{
	if (!err)
		return;
	memset(err, 0, sizeof *err);
}

int sm_error_setv(sm_error *err, int code, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	err->code = code;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	return code;
}

int sm_error_code(const sm_error *err, int fallback)
{
	return err && err->code != SM_OK ? err->code : fallback;
}

int sm_error_set(sm_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sm_error_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int sm_error_set_at(sm_error *err, int code, const char *file, int line,
		    const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	sm_error_setv(err, code, fmt, ap);
	va_end(ap);
	snprintf(err->file, sizeof err->file, "%s", file ? file : "");
	err->line = line;
	return code;
}

void sm_error_prefix(sm_error *err, const char *fmt, ...)
{
	char prefix[512];
	char old[sizeof err->message];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof old);
	/* Truncation is acceptable: the prefix matters most. */
	if (snprintf(err->message, sizeof err->message, "%s: %s", prefix, old) < 0)
		err->message[0] = '\0';
}

const char *sm_error_format(const sm_error *err, char *buf, size_t size)
{
	if (err->file[0] && err->line > 0)
		snprintf(buf, size, "%s:%d: %s", err->file, err->line, err->message);
	else if (err->file[0])
		snprintf(buf, size, "%s: %s", err->file, err->message);
	else
		snprintf(buf, size, "%s", err->message);
	return buf;
}

const char *sm_status_name(int code)
{
	switch (code) {
	case SM_OK: return "ok";
	case SM_ERR_USAGE: return "usage error";
	case SM_ERR_CONFIG: return "configuration error";
	case SM_ERR_DB: return "database error";
	case SM_ERR_NOMEM: return "out of memory";
	case SM_ERR_IO: return "i/o error";
	case SM_ERR_CANCELLED: return "cancelled";
	case SM_ERR_GUARD: return "refused by a guard";
	case SM_ERR_DATA: return "bad data";
	case SM_ERR_BUSY: return "in use";
	default: return "internal error";
	}
}
