/*
 * Allocation helpers.  Allocation failure is not a recoverable condition for
 * snapmig (its memory is bounded by design); the one fatal path prints a
 * message and aborts.  Front ends install a hook to restore the terminal first.
 */
#ifndef SM_UTIL_ALLOC_H
#define SM_UTIL_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *sm_xmalloc(size_t size);
void *sm_xcalloc(size_t n, size_t size);
void *sm_xrealloc(void *ptr, size_t size);
/* Grows an array to hold at least `need` elements of `elem` bytes. */
void *sm_xgrow(void *ptr, size_t *cap, size_t need, size_t elem);
char *sm_xstrdup(const char *s);          /* NULL stays NULL */
char *sm_xstrndup(const char *s, size_t n);
char *sm_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *sm_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Called before abort() on allocation failure (e.g. endwin).  Process-wide,
 * set once by main before any thread starts. */
void sm_set_fatal_hook(void (*hook)(void));

#endif
