/*
 * A child process behind three pipes (contract in engine/child.h).
 *
 * fork() is used from worker threads: between fork and exec the child only
 * calls async-signal-safe functions, and everything it needs (argv, envp)
 * is prepared before.  All pipe ends are created close-on-exec, so a child
 * started by one worker never holds the pipes of another worker's child.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/child.h"
#include "util/alloc.h"
#include "util/clock.h"

#define READ_CHUNK 65536
#define POLL_SLICE_MS 100   /* longest wait between two cancel checks */

void sm_child_init(sm_child *c, int log_fd, const char *log_prefix)
{
	memset(c, 0, sizeof *c);
	c->in_fd = c->out_fd = c->err_fd = -1;
	c->log_fd = log_fd;
	snprintf(c->log_prefix, sizeof c->log_prefix, "%s", log_prefix ? log_prefix : "");
}

void sm_child_free(sm_child *c)
{
	free(c->obuf);
	free(c->ibuf);
	c->obuf = c->ibuf = NULL;
	c->ocap = c->icap = 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ------------------------------------------------------------ logging */

static void log_write(sm_child *c, const char *who, const char *text, size_t n)
{
	char head[256];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	char *line;
	size_t hl;

	if (c->log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(head, sizeof head, "%s %s [%ld] %s: ", stamp, c->log_prefix,
		 (long)c->pid, who);
	hl = strlen(head);
	/* One write per line: O_APPEND keeps lines of concurrent workers whole. */
	line = sm_xmalloc(hl + n + 1);
	memcpy(line, head, hl);
	memcpy(line + hl, text, n);
	line[hl + n] = '\n';
	if (write(c->log_fd, line, hl + n + 1) < 0) {
		/* The log is best effort: a full disk must not fail a rebuild. */
	}
	free(line);
}

void sm_child_log(sm_child *c, const char *fmt, ...)
{
	char buf[1400];
	va_list ap;
	int n;

	if (c->log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	log_write(c, "snapmig", buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Control characters would garble the log and the failure screens. */
static void sanitize(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\t')
			s[i] = ' ';
		else if (ch < 0x20 || ch == 0x7f)
			s[i] = '?';
	}
}

static void stderr_line_done(sm_child *c)
{
	char *slot;
	size_t n = c->elen;

	if (n > 0 && c->eline[n - 1] == '\r')
		n--;
	sanitize(c->eline, n);
	log_write(c, "stderr", c->eline, n);
	slot = c->tail[c->tail_count % SM_CHILD_TAIL_LINES];
	if (n >= SM_CHILD_TAIL_LEN) {
		n = SM_CHILD_TAIL_LEN - 1;
		/* Do not cut a UTF-8 sequence in half. */
		while (n > 0 && ((unsigned char)c->eline[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(slot, c->eline, n);
	slot[n] = '\0';
	c->tail_count++;
	c->elen = 0;
}

static void stderr_feed(sm_child *c, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			stderr_line_done(c);
		} else if (c->elen < sizeof c->eline) {
			/* Longer lines are cut; the rest until the newline is dropped. */
			c->eline[c->elen++] = buf[i];
		}
	}
}

/* Reads what stderr has now; closes it at EOF. */
static void stderr_drain(sm_child *c)
{
	char buf[8192];

	while (c->err_fd >= 0) {
		ssize_t r = read(c->err_fd, buf, sizeof buf);

		if (r > 0) {
			stderr_feed(c, buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (c->elen > 0)
			stderr_line_done(c);
		close_fd(&c->err_fd);
	}
}

void sm_child_tail(const sm_child *c, char *buf, size_t size)
{
	unsigned n = c->tail_count < SM_CHILD_TAIL_LINES ? c->tail_count : SM_CHILD_TAIL_LINES;
	size_t used = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (unsigned i = c->tail_count - n; i < c->tail_count && used + 1 < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s", used ? " | " : "",
				 c->tail[i % SM_CHILD_TAIL_LINES]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used >= size) {
		/* Truncated by snprintf: back off to a UTF-8 boundary. */
		size_t end = size - 1;

		while (end > 0 && ((unsigned char)buf[end] & 0xC0) == 0x80)
			end--;
		buf[end] = '\0';
	}
}

void sm_child_tail_reset(sm_child *c)
{
	c->tail_count = 0;
}

/* -------------------------------------------------------------- spawn */

int sm_child_spawn(sm_child *c, const char *command, const char *dir,
		   char *const envp[], sm_error *err)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	char *const argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)command, NULL };
	static const char chdir_msg[] = "snapmig: cannot change to the configuration directory\n";
	static const char exec_msg[] = "snapmig: cannot execute /bin/sh\n";
	pid_t pid;

	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		int e = errno;

		close_fd(&pin[0]); close_fd(&pin[1]);
		close_fd(&pout[0]); close_fd(&pout[1]);
		close_fd(&perr[0]); close_fd(&perr[1]);
		return sm_error_set(err, SM_ERR_IO, "cannot create pipes for the reducer: %s",
				    strerror(e));
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close_fd(&pin[0]); close_fd(&pin[1]);
		close_fd(&pout[0]); close_fd(&pout[1]);
		close_fd(&perr[0]); close_fd(&perr[1]);
		return sm_error_set(err, SM_ERR_IO, "cannot start the reducer: %s", strerror(e));
	}
	if (pid == 0) {
		/* Child: async-signal-safe calls only. */
		static const int sigs[] = { SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP,
					    SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2, SIGWINCH };
		struct sigaction sa;
		sigset_t none;

		setpgid(0, 0);
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			sigaction(sigs[i], &sa, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dir && dir[0] && chdir(dir) < 0) {
			if (write(2, chdir_msg, sizeof chdir_msg - 1) < 0) {
				/* nothing left to tell */
			}
			_exit(126);
		}
		execve("/bin/sh", argv, envp);
		if (write(2, exec_msg, sizeof exec_msg - 1) < 0) {
			/* nothing left to tell */
		}
		_exit(127);
	}
	/* Both sides set the group, so it is in place whichever runs first. */
	setpgid(pid, pid);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	c->pid = pid;
	c->in_fd = pin[1];
	c->out_fd = pout[0];
	c->err_fd = perr[0];
	c->out_eof = false;
	set_nonblock(c->in_fd);
	set_nonblock(c->out_fd);
	set_nonblock(c->err_fd);
	c->olen = c->ooff = 0;
	c->ilen = c->iscan = c->iline = 0;
	c->elen = 0;
	return SM_OK;
}

/* ------------------------------------------------------------- output */

void sm_child_append(sm_child *c, const char *s, size_t n)
{
	if (c->ooff > 0 && (c->ooff == c->olen || c->ooff >= c->ocap / 2)) {
		/* Compact: what was written is gone for good. */
		memmove(c->obuf, c->obuf + c->ooff, c->olen - c->ooff);
		c->obase += c->ooff;
		c->olen -= c->ooff;
		c->ooff = 0;
	}
	if (c->olen + n > c->ocap) {
		size_t cap = c->ocap ? c->ocap : 65536;

		while (cap < c->olen + n)
			cap *= 2;
		c->obuf = sm_xrealloc(c->obuf, cap);
		c->ocap = cap;
	}
	memcpy(c->obuf + c->olen, s, n);
	c->olen += n;
}

void sm_child_append_str(sm_child *c, const char *s)
{
	sm_child_append(c, s, strlen(s));
}

unsigned long long sm_child_mark(const sm_child *c)
{
	return c->obase + c->olen;
}

bool sm_child_cut(sm_child *c, unsigned long long mark)
{
	size_t rel;
	char *nl;

	if (mark < c->obase)
		rel = 0;
	else
		rel = (size_t)(mark - c->obase);
	if (rel > c->olen)
		return false;
	if (rel >= c->ooff) {
		c->olen = rel;
		return true;
	}
	/* Part of it is written: finish the line being written, drop the rest. */
	nl = memchr(c->obuf + c->ooff, '\n', c->olen - c->ooff);
	if (nl)
		c->olen = (size_t)(nl - c->obuf) + 1;
	return false;
}

size_t sm_child_pending(const sm_child *c)
{
	return c->olen - c->ooff;
}

/*
 * write(2) that cannot kill snapmig with SIGPIPE when the child is gone:
 * SIGPIPE is blocked in this thread for the call, and the one the write
 * raised (if any, and none was pending before) is consumed before the mask
 * is restored.  This works whatever the program's disposition of SIGPIPE.
 */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t w;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	w = write(fd, buf, n);
	saved = errno;
	if (w < 0 && saved == EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return w;
}

/* -------------------------------------------------------------- input */

static bool find_line(sm_child *c, char **line, size_t *len)
{
	char *nl;

	if (c->iline == 0) {
		nl = c->iscan < c->ilen ? memchr(c->ibuf + c->iscan, '\n', c->ilen - c->iscan) : NULL;
		if (!nl) {
			c->iscan = c->ilen;
			return false;
		}
		c->iline = (size_t)(nl - c->ibuf) + 1;
	}
	*line = c->ibuf;
	*len = c->iline - 1;
	if (*len > 0 && c->ibuf[*len - 1] == '\r')
		(*len)--;
	return true;
}

void sm_child_consume_line(sm_child *c)
{
	if (c->iline == 0)
		return;
	memmove(c->ibuf, c->ibuf + c->iline, c->ilen - c->iline);
	c->ilen -= c->iline;
	c->iline = 0;
	c->iscan = 0;
	/* A big state passed through: give the memory back. */
	if (c->icap > 4 * READ_CHUNK && c->ilen < READ_CHUNK) {
		c->icap = 2 * READ_CHUNK;
		c->ibuf = sm_xrealloc(c->ibuf, c->icap);
	}
}

/* Reads what stdout has now.  Returns bytes read, 0 at EOF or nothing
 * available (out_eof tells which), -1 on error. */
static ssize_t stdout_read(sm_child *c)
{
	ssize_t total = 0;

	for (;;) {
		ssize_t r;

		if (c->icap - c->ilen < READ_CHUNK) {
			size_t cap = c->icap ? c->icap : 2 * READ_CHUNK;

			while (cap - c->ilen < READ_CHUNK)
				cap *= 2;
			c->ibuf = sm_xrealloc(c->ibuf, cap);
			c->icap = cap;
		}
		r = read(c->out_fd, c->ibuf + c->ilen, c->icap - c->ilen);
		if (r > 0) {
			c->ilen += (size_t)r;
			total += r;
			/* Let the caller look at lines before reading on. */
			if (memchr(c->ibuf + c->ilen - r, '\n', (size_t)r))
				return total;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return total;
		if (r < 0)
			return -1;
		c->out_eof = true;
		return total;
	}
}

enum sm_child_io sm_child_pump(sm_child *c, size_t drain_to, bool want_line,
			       int timeout_ms, char **line, size_t *len)
{
	long long deadline = sm_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd[3];
		int nfd = 0, in_i = -1, out_i = -1, err_i = -1;
		long long now;
		int wait, rc;

		if (find_line(c, line, len))
			return SM_CHILD_LINE;
		if (c->ilen > SM_CHILD_MAX_LINE)
			return SM_CHILD_TOO_LONG;
		if (c->out_eof || c->out_fd < 0)
			return SM_CHILD_EOF;
		if (!want_line && sm_child_pending(c) <= drain_to)
			return SM_CHILD_OK;
		if (c->cancelled && c->cancelled(c->cancel_arg))
			return SM_CHILD_CANCELLED;
		now = sm_now_ms();
		if (now >= deadline)
			return SM_CHILD_TIMEOUT;
		wait = (int)(deadline - now < POLL_SLICE_MS ? deadline - now : POLL_SLICE_MS);

		if (sm_child_pending(c) > 0 && c->in_fd >= 0) {
			pfd[nfd] = (struct pollfd){ .fd = c->in_fd, .events = POLLOUT };
			in_i = nfd++;
		}
		pfd[nfd] = (struct pollfd){ .fd = c->out_fd, .events = POLLIN };
		out_i = nfd++;
		if (c->err_fd >= 0) {
			pfd[nfd] = (struct pollfd){ .fd = c->err_fd, .events = POLLIN };
			err_i = nfd++;
		}
		rc = poll(pfd, (nfds_t)nfd, wait);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return SM_CHILD_ERROR;
		if (rc == 0)
			continue;

		if (err_i >= 0 && pfd[err_i].revents)
			stderr_drain(c);
		if (in_i >= 0 && (pfd[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write_nosigpipe(c->in_fd, c->obuf + c->ooff, sm_child_pending(c));

			if (w > 0) {
				c->ooff += (size_t)w;
				deadline = sm_now_ms() + timeout_ms;
			} else if (w < 0 && errno == EPIPE) {
				/* The child closed its stdin: it is gone or going. */
				close_fd(&c->in_fd);
				return SM_CHILD_EOF;
			} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				return SM_CHILD_ERROR;
			}
		}
		if (pfd[out_i].revents) {
			ssize_t r = stdout_read(c);

			if (r < 0)
				return SM_CHILD_ERROR;
			if (r > 0)
				deadline = sm_now_ms() + timeout_ms;
		}
	}
}

/* --------------------------------------------------------------- stop */

static void describe_status(int st, char *status, size_t size)
{
	if (WIFEXITED(st))
		snprintf(status, size, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(status, size, "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(status, size, "stopped (status %d)", st);
}

void sm_child_stop(sm_child *c, int grace_ms, char *status, size_t size)
{
	long long deadline = sm_now_ms() + grace_ms;
	bool exited = false, gone = false;
	int st = 0;

	if (status && size)
		status[0] = '\0';
	close_fd(&c->in_fd);
	if (c->pid > 0) {
		/* Wait for the exit without reaping (WNOWAIT): while the leader
		 * is a zombie its pid, the group's id, cannot be reused, so the
		 * group can still be killed safely afterwards. */
		for (;;) {
			siginfo_t si;

			memset(&si, 0, sizeof si);
			if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
				if (si.si_pid == c->pid) {
					exited = true;
					break;
				}
			} else if (errno == ECHILD) {
				/* Reaped elsewhere (SIGCHLD ignored): status unknown. */
				gone = true;
				break;
			} else if (errno != EINTR) {
				break;
			}
			if (sm_now_ms() >= deadline)
				break;
			/* Keep stderr flowing: a child blocked writing it cannot exit. */
			if (c->err_fd >= 0) {
				struct pollfd pfd = { .fd = c->err_fd, .events = POLLIN };

				if (poll(&pfd, 1, 10) > 0)
					stderr_drain(c);
			} else {
				struct timespec ts = { 0, 10 * 1000000L };

				nanosleep(&ts, NULL);
			}
		}
		if (!gone) {
			/* The whole group goes, also when the reducer ended by
			 * itself: whatever its shell started in the background
			 * must not outlive the run. */
			kill(-c->pid, SIGKILL);
			if (!exited)
				kill(c->pid, SIGKILL);
			while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
				;
		}
		if (status && size && !gone)
			describe_status(st, status, size);
		else if (status && size)
			snprintf(status, size, "exited");
	}
	/* Whatever the child managed to say before it died. */
	stderr_drain(c);
	if (c->elen > 0)
		stderr_line_done(c);
	close_fd(&c->err_fd);
	close_fd(&c->out_fd);
	c->pid = 0;
	c->out_eof = false;
	c->olen = c->ooff = 0;
	c->ilen = c->iscan = c->iline = 0;
	c->elen = 0;
	if (c->icap > 4 * READ_CHUNK) {
		free(c->ibuf);
		c->ibuf = NULL;
		c->icap = 0;
	}
}
