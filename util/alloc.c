/* Allocation helpers; see alloc.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* The only process-wide mutable state of the library: written once by main
 * before threads start, read only on the fatal path. */
static void (*fatal_hook)(void);

void sm_set_fatal_hook(void (*hook)(void))
{
	fatal_hook = hook;
}

static void out_of_memory(size_t size)
{
	if (fatal_hook)
		fatal_hook();
	fprintf(stderr, "snapmig: out of memory (allocating %zu bytes)\n", size);
	abort();
}

void *sm_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		out_of_memory(size);
	return p;
}

void *sm_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory(n * size);
	return p;
}

void *sm_xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		out_of_memory(size);
	return p;
}

void *sm_xgrow(void *ptr, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;

	if (need <= *cap)
		return ptr;
	while (n < need)
		n *= 2;
	ptr = sm_xrealloc(ptr, n * elem);
	*cap = n;
	return ptr;
}

char *sm_xstrdup(const char *s)
{
	return s ? sm_xstrndup(s, strlen(s)) : NULL;
}

char *sm_xstrndup(const char *s, size_t n)
{
	char *p = sm_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *sm_xvasprintf(const char *fmt, va_list ap)
{
	va_list copy;
	int n;
	char *p;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		out_of_memory(0);
	p = sm_xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *sm_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = sm_xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}
