/*
 * Internal: a child process spoken to over pipes, for the external reducer
 * (engine/reducer_exec.c).  This module knows nothing of the protocol; it
 * promises:
 *  - the child runs `/bin/sh -c COMMAND` in a directory, in a process group
 *    of its own (terminal signals do not reach it; stopping it kills the
 *    whole group, also what the shell started, even when the child ended
 *    by itself: nothing it started outlives it), with default signal
 *    dispositions and an empty signal mask;
 *  - output to its stdin is buffered and written in chunks; input from its
 *    stdout is split into lines; both are pumped by one poll() loop that also
 *    drains stderr, so that a child writing much to stderr or replying early
 *    can never deadlock the caller;
 *  - stderr is split into lines, each appended to a log file (one write per
 *    line, so concurrent workers do not interleave within a line) and the
 *    last few kept for failure messages;
 *  - writes never raise SIGPIPE in snapmig (blocked per write, consumed);
 *  - every child started is reaped by sm_child_stop.
 */
#ifndef SM_ENGINE_CHILD_H
#define SM_ENGINE_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

#define SM_CHILD_TAIL_LINES 5
#define SM_CHILD_TAIL_LEN 200
/* A stdout line longer than this is a protocol error, not a state. */
#define SM_CHILD_MAX_LINE ((size_t)512 * 1024 * 1024)

enum sm_child_io {
	SM_CHILD_OK = 0,      /* output drained to the requested level */
	SM_CHILD_LINE,        /* a complete stdout line is available */
	SM_CHILD_EOF,         /* stdout closed, or stdin closed by the child */
	SM_CHILD_TIMEOUT,     /* no progress within the timeout */
	SM_CHILD_CANCELLED,   /* the cancel function said so */
	SM_CHILD_TOO_LONG,    /* a stdout line exceeds SM_CHILD_MAX_LINE */
	SM_CHILD_ERROR,       /* poll/read failure (errno in the message) */
};

typedef struct sm_child {
	pid_t pid;               /* 0 when not running */
	int in_fd, out_fd, err_fd;
	bool out_eof;

	/* Pending output: obuf[ooff..olen); obase = bytes appended before obuf[0]. */
	char *obuf;
	size_t olen, ooff, ocap;
	unsigned long long obase;

	/* stdout: ibuf[0..ilen); a line ends at ibuf[iline - 1] when iline > 0. */
	char *ibuf;
	size_t ilen, icap, iscan, iline;

	/* stderr: the line being read, and the last lines seen. */
	char eline[1024];
	size_t elen;
	char tail[SM_CHILD_TAIL_LINES][SM_CHILD_TAIL_LEN];
	unsigned tail_count;     /* lines kept since the last sm_child_tail_reset */

	int log_fd;              /* -1: stderr is discarded */
	char log_prefix[160];    /* "worker 3 Elixir.Domain.Account" */

	bool (*cancelled)(void *arg);
	void *cancel_arg;
} sm_child;

/* An empty, stopped child (no allocation). */
void sm_child_init(sm_child *c, int log_fd, const char *log_prefix);
/* Frees the buffers; the child must be stopped. */
void sm_child_free(sm_child *c);

/* Starts `/bin/sh -c command` in dir with the environment envp.
 * SM_ERR_IO when pipes or fork fail. */
int sm_child_spawn(sm_child *c, const char *command, const char *dir,
		   char *const envp[], sm_error *err);

/* Queues output (copied). */
void sm_child_append(sm_child *c, const char *s, size_t n);
void sm_child_append_str(sm_child *c, const char *s);
/* Bytes queued so far in total (a mark for sm_child_cut). */
unsigned long long sm_child_mark(const sm_child *c);
/* Drops the queued output from mark on, keeping a line that is already
 * partly written whole.  Returns true when nothing from mark on had been
 * written (the child never saw it). */
bool sm_child_cut(sm_child *c, unsigned long long mark);
size_t sm_child_pending(const sm_child *c);

/*
 * Pumps: writes queued output, reads stdout and stderr.  Returns
 *  SM_CHILD_LINE as soon as a complete stdout line is there (*line, *len:
 *  without the newline, valid until sm_child_consume_line, which the caller
 *  must call before pumping again);
 *  SM_CHILD_OK when !want_line and at most drain_to bytes are still queued;
 *  otherwise an error status.  The timeout restarts whenever the child
 *  accepts input or produces stdout.
 */
enum sm_child_io sm_child_pump(sm_child *c, size_t drain_to, bool want_line,
			       int timeout_ms, char **line, size_t *len);
void sm_child_consume_line(sm_child *c);

/* Stops the child: closes its stdin, waits up to grace_ms for it to exit
 * (draining stderr meanwhile), then kills its process group (whatever is
 * left in it, also after a clean exit); reaps it.
 * status gets "exited with status 1", "killed by signal 11" ...
 * Buffers are emptied and kept for the next spawn. */
void sm_child_stop(sm_child *c, int grace_ms, char *status, size_t size);

/* The stderr lines seen since the last reset, " | "-separated, into buf
 * ("" when none). */
void sm_child_tail(const sm_child *c, char *buf, size_t size);
void sm_child_tail_reset(sm_child *c);

/* Writes a line of snapmig's own to the log ("snapmig: " prefixed). */
void sm_child_log(sm_child *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
