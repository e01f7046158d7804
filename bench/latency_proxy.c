/*
 * snapmig-latency-proxy: a PostgreSQL server "across a network" for
 * `make bench`.  It listens on a Unix socket (DIR/.s.PGSQL.PORT, so
 * PGHOST=DIR reaches it) and forwards every connection to the real
 * server's socket, holding each piece of data for a fixed one-way delay in
 * both directions: a round trip costs 2 x delay, as to a database on
 * another machine.  Bandwidth is not limited.  Linux's netem would do this
 * in the kernel, but it is not available everywhere (not on the machines
 * this project is built on).
 *
 *   snapmig-latency-proxy --listen DIR --target DIR [--port N] --delay-ms MS
 *
 * Prints "ready" on stdout once it listens; runs until killed.  One thread,
 * one ppoll() loop; a direction stops reading while it holds more than
 * QUEUE_LIMIT bytes, so memory stays bounded whoever is slow.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

#define QUEUE_LIMIT (4u << 20)
#define READ_SIZE 65536
#define MAX_PAIRS 256

typedef struct piece {
	struct piece *next;
	double due;             /* when it may be written on */
	size_t len, off;
	char data[];
} piece;

/* One direction of a connection: bytes read from `from`, written to `to`
 * once due. */
typedef struct flow {
	int from, to;
	piece *head, *tail;
	size_t queued;
	bool eof;               /* `from` has closed */
	bool shut;              /* and everything was passed on */
} flow;

typedef struct conn_pair {
	bool used;
	flow up, down;          /* client -> server, server -> client */
} conn_pair;

static void die(const char *what)
{
	fprintf(stderr, "snapmig-latency-proxy: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int unix_socket_at(const char *dir, int port, struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (snprintf(sa->sun_path, sizeof sa->sun_path, "%s/.s.PGSQL.%d", dir, port) >=
	    (int)sizeof sa->sun_path) {
		fprintf(stderr, "snapmig-latency-proxy: socket path too long: %s\n", dir);
		exit(2);
	}
	return fd;
}

static void nonblocking(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void flow_clear(flow *f)
{
	while (f->head) {
		piece *p = f->head;

		f->head = p->next;
		free(p);
	}
	f->tail = NULL;
	f->queued = 0;
}

static void pair_close(conn_pair *l)
{
	flow_clear(&l->up);
	flow_clear(&l->down);
	close(l->up.from);
	close(l->up.to);
	l->used = false;
}

/* Reads what `from` has; false when the connection is broken. */
static bool flow_read(flow *f, double delay)
{
	piece *p = malloc(sizeof *p + READ_SIZE);
	ssize_t n;

	if (!p)
		return false;
	n = read(f->from, p->data, READ_SIZE);
	if (n <= 0) {
		free(p);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		f->eof = true;
		return n == 0;
	}
	p->next = NULL;
	p->due = sm_now() + delay;
	p->len = (size_t)n;
	p->off = 0;
	if (f->tail)
		f->tail->next = p;
	else
		f->head = p;
	f->tail = p;
	f->queued += (size_t)n;
	return true;
}

/* Writes what is due; false when the connection is broken. */
static bool flow_write(flow *f)
{
	double t = sm_now();

	while (f->head && f->head->due <= t) {
		piece *p = f->head;
		ssize_t n = write(f->to, p->data + p->off, p->len - p->off);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		p->off += (size_t)n;
		f->queued -= (size_t)n;
		if (p->off < p->len)
			return true;
		f->head = p->next;
		if (!f->head)
			f->tail = NULL;
		free(p);
	}
	if (f->eof && !f->head && !f->shut) {
		shutdown(f->to, SHUT_WR);
		f->shut = true;
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "target", required_argument, NULL, 't' },
		{ "port", required_argument, NULL, 'p' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_dir = NULL, *target_dir = NULL;
	int port = 5432, opt, lfd;
	double delay = -1;
	struct sockaddr_un la, ta;
	static conn_pair pairs[MAX_PAIRS];

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': listen_dir = optarg; break;
		case 't': target_dir = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'd': delay = atof(optarg) / 1000.0; break;
		default: return 2;
		}
	}
	if (!listen_dir || !target_dir || delay < 0) {
		fprintf(stderr, "usage: snapmig-latency-proxy --listen DIR --target DIR [--port N]"
			" --delay-ms MS\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = unix_socket_at(listen_dir, port, &la);
	unlink(la.sun_path);
	if (bind(lfd, (struct sockaddr *)&la, sizeof la) < 0 || listen(lfd, 64) < 0)
		die("listen");
	nonblocking(lfd);
	close(unix_socket_at(target_dir, port, &ta));
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		struct pollfd pfd[1 + 4 * MAX_PAIRS];
		int who[1 + 4 * MAX_PAIRS], n = 0;
		double t = sm_now(), timeout = -1;  /* seconds; < 0: none */
		struct timespec ts;

		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		who[n++] = -1;
		for (int i = 0; i < MAX_PAIRS; i++) {
			flow *fl[2] = { &pairs[i].up, &pairs[i].down };

			if (!pairs[i].used)
				continue;
			for (int k = 0; k < 2; k++) {
				flow *f = fl[k];

				if (!f->eof && f->queued < QUEUE_LIMIT) {
					pfd[n].fd = f->from;
					pfd[n].events = POLLIN;
					who[n++] = i * 4 + k * 2;
				}
				if (f->head) {
					double wait = f->head->due - t;

					if (wait <= 0) {
						pfd[n].fd = f->to;
						pfd[n].events = POLLOUT;
						who[n++] = i * 4 + k * 2 + 1;
					} else if (timeout < 0 || wait < timeout) {
						timeout = wait;
					}
				}
			}
		}
		ts.tv_sec = (time_t)timeout;
		ts.tv_nsec = (long)((timeout - (double)ts.tv_sec) * 1e9);
		/* ppoll: poll() counts in milliseconds, too coarse for delays
		 * of a fraction of one. */
		if (ppoll(pfd, (nfds_t)n, timeout < 0 ? NULL : &ts, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (int j = 0; j < n; j++) {
			conn_pair *l;
			flow *f;
			bool ok;

			if (!pfd[j].revents)
				continue;
			if (who[j] < 0) {
				int c = accept(lfd, NULL, NULL), s, i;

				if (c < 0)
					continue;
				for (i = 0; i < MAX_PAIRS && pairs[i].used; i++)
					;
				s = socket(AF_UNIX, SOCK_STREAM, 0);
				if (i == MAX_PAIRS || s < 0 ||
				    connect(s, (struct sockaddr *)&ta, sizeof ta) < 0) {
					close(c);
					if (s >= 0)
						close(s);
					continue;
				}
				nonblocking(c);
				nonblocking(s);
				pairs[i] = (conn_pair){ .used = true, .up = { .from = c, .to = s },
						   .down = { .from = s, .to = c } };
				continue;
			}
			l = &pairs[who[j] / 4];
			if (!l->used)
				continue;
			f = (who[j] % 4) < 2 ? &l->up : &l->down;
			ok = (who[j] % 2) == 0 ? flow_read(f, delay) : flow_write(f);
			if (!ok || (l->up.shut && l->down.shut))
				pair_close(l);
		}
		for (int i = 0; i < MAX_PAIRS; i++)
			if (pairs[i].used) {
				if (!flow_write(&pairs[i].up) || !flow_write(&pairs[i].down) ||
				    (pairs[i].up.shut && pairs[i].down.shut))
					pair_close(&pairs[i]);
			}
	}
}
