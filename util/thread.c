/* Threads with the terminal's signals blocked; see thread.h. */
#include "config.h"

#include <signal.h>

#include "util/thread.h"

int sm_thread_start(pthread_t *thread, void *(*main_fn)(void *), void *arg)
{
	sigset_t block, old;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(thread, NULL, main_fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
