/* Hexadecimal digits, for every decoder that reads them (\uXXXX escapes
 * in JSON and rules, \xHH in libconfig strings, %HH in URIs). */
#ifndef SM_UTIL_HEX_H
#define SM_UTIL_HEX_H

/* The value of the hex digit c (either case), or -1. */
static inline int sm_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
