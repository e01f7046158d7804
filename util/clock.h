/* The one monotonic clock of snapmig: for intervals and deadlines, never
 * for dates. */
#ifndef SM_UTIL_CLOCK_H
#define SM_UTIL_CLOCK_H

/* Seconds of CLOCK_MONOTONIC. */
double sm_now(void);

#endif
