/*
 * Threads that leave the terminal's signals to the thread that handles
 * them.  A thread started here has SIGINT, SIGTERM, SIGHUP, SIGQUIT and
 * SIGWINCH blocked (and the threads it starts inherit that): those signals
 * reach the front end's own thread, whose handler only sets a flag, and
 * never interrupt a worker's system call.
 */
#ifndef SM_UTIL_THREAD_H
#define SM_UTIL_THREAD_H

#include <pthread.h>

/* pthread_create with the terminal's signals blocked in the new thread;
 * the caller's signal mask is unchanged.  Returns pthread_create's result. */
int sm_thread_start(pthread_t *thread, void *(*main_fn)(void *), void *arg);

#endif
