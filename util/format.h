/* Numbers and durations as the UI and the CLI print them, so that both
 * show the same text for the same value. */
#ifndef SM_UTIL_FORMAT_H
#define SM_UTIL_FORMAT_H

#include <stddef.h>

/* n with thousands separators ("-1,234,567") into buf; a buf shorter
 * than 32 bytes gets the plain digits.  Returns buf. */
const char *sm_fmt_count(char *buf, size_t size, long long n);

/* seconds as "M:SS" or "H:MM:SS", rounded; "-" when unknown (negative,
 * NaN or more than 1e9).  Returns buf. */
const char *sm_fmt_duration(char *buf, size_t size, double seconds);

#endif
