/* Numbers and durations for people; see format.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "util/format.h"

const char *sm_fmt_count(char *buf, size_t size, long long n)
{
	char digits[32];
	size_t len, o = 0, lead;
	unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;

	if (size < 32) {
		snprintf(buf, size, "%lld", n);
		return buf;
	}
	snprintf(digits, sizeof digits, "%llu", u);
	len = strlen(digits);
	lead = len % 3 ? len % 3 : 3;
	if (n < 0)
		buf[o++] = '-';
	for (size_t i = 0; i < len; i++) {
		if (i == lead || (i > lead && (i - lead) % 3 == 0))
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

const char *sm_fmt_duration(char *buf, size_t size, double seconds)
{
	long long s;

	if (!(seconds >= 0) || seconds > 1e9) {
		snprintf(buf, size, "-");
		return buf;
	}
	s = (long long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(buf, size, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%lld:%02lld", s / 60, s % 60);
	return buf;
}
