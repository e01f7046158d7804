/* The one monotonic clock of snapmig: for intervals and deadlines, never
 * for dates.  Every module (engine, UI, CLI, demo, bench, tests) reads it
 * here. */
#ifndef SM_UTIL_CLOCK_H
#define SM_UTIL_CLOCK_H

/* Seconds of CLOCK_MONOTONIC. */
double sm_now(void);

/* Milliseconds of the same clock. */
long long sm_now_ms(void);

#endif
