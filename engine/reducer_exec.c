/*
 * The external reducer: protocol version 1 (man/snapmig-reducer.7) over a
 * child process (engine/child.h).
 *
 * Flow per instance: begin, events and end are queued and written in
 * chunks of CHUNK bytes; nothing waits for the reducer except a full pipe
 * and the reply at end.  Each reply carries the id of its begin, so a
 * reply to an instance that was aborted meanwhile is recognised and
 * dropped.  An error reply may arrive before end; it is noticed whenever
 * output is pumped.
 *
 * Failures of the process itself (exit, non-protocol output, timeout) are
 * "crashes": the instance fails with SM_FAIL_REDUCER, the process is
 * stopped and started again at the next begin after a back-off; after
 * SM_EXEC_MAX_CRASHES in a row, or at once for a handshake that can never
 * succeed (other protocol version, aggregate type not handled), the
 * reducer gives up and every later begin fails with the reason.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/child.h"
#include "engine/reducer_exec.h"
#include "util/alloc.h"
#include "util/json.h"

extern char **environ;

#define CHUNK 65536                 /* queued output that triggers a write */
#define DEFAULT_TIMEOUT_MS 30000
#define HELLO_MIN_MS 30000          /* the handshake gets at least this */
#define CLOSE_GRACE_MS 2000
#define CRASH_GRACE_MS 1000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

struct sm_exec_proc {
	const sm_config *cfg;
	const sm_aggregate *agg;
	int worker_id;
	int timeout_ms;
	char **envp;
	sm_child child;

	/* handshake */
	bool any;
	char **types;
	size_t n_types;
	char *fingerprint;            /* the hello's, NULL when none */
	bool expect_set;              /* every hello must report expect_fp */
	char *expect_fp;

	/* current instance */
	bool in_instance;
	bool replied;                 /* an early error reply was read */
	sm_reduce_failure early;      /* ... and what it said */
	long long next_id, cur_id;
	unsigned long long inst_mark; /* output position of its begin */
	long long last_version;       /* last event queued, for crash messages */
	char last_type[256];

	/* health */
	int crashes;                  /* in a row */
	bool gave_up;
	char gave_up_why[900];
};

/* ------------------------------------------------------------ helpers */

static void append_json_string(sm_child *c, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	sm_child_append(c, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[7];
		size_t n;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		sm_child_append(c, run, (size_t)(s - run));
		run = s + 1;
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			n = 2;
		} else if (ch == '\n') {
			memcpy(esc, "\\n", 2);
			n = 2;
		} else if (ch == '\t') {
			memcpy(esc, "\\t", 2);
			n = 2;
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			n = 6;
		}
		sm_child_append(c, esc, n);
	}
	sm_child_append(c, run, (size_t)(s - run));
	sm_child_append(c, "\"", 1);
}

static void append_json_value(sm_child *c, json_object *obj)
{
	size_t n;
	const char *s;

	if (!obj) {
		sm_child_append(c, "null", 4);
		return;
	}
	s = sm_json_print(obj, &n);
	sm_child_append(c, s, n);
}

static void append_ll(sm_child *c, long long v)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%lld", v);

	sm_child_append(c, buf, (size_t)n);
}

/* "...; stderr: a | b" when the reducer said something on stderr. */
static void add_tail(const sm_exec_proc *p, char *msg, size_t size)
{
	char tail[600];
	size_t used = strlen(msg);

	sm_child_tail(&p->child, tail, sizeof tail);
	if (tail[0] && used + 1 < size)
		snprintf(msg + used, size - used, "; stderr: %s", tail);
}

static void free_types(char **types, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(types[i]);
	free(types);
}

static char **build_env(const sm_aggregate *agg, int worker_id)
{
	const sm_exec_reducer *ex = agg->exec;
	size_t n_env = 0, n = 0;
	char **envp;

	while (environ && environ[n_env])
		n_env++;
	envp = sm_xcalloc(n_env + ex->n_env + 4, sizeof *envp);
	for (size_t i = 0; i < n_env; i++) {
		const char *e = environ[i];
		const char *eq = strchr(e, '=');
		size_t klen = eq ? (size_t)(eq - e) : strlen(e);
		bool overridden = false;

		for (size_t j = 0; j < ex->n_env; j++)
			if (strlen(ex->env[j].name) == klen && strncmp(ex->env[j].name, e, klen) == 0)
				overridden = true;
		if (strncmp(e, "SNAPMIG_REDUCER_PROTOCOL=", 25) == 0 ||
		    strncmp(e, "SNAPMIG_AGGREGATE=", 18) == 0 ||
		    strncmp(e, "SNAPMIG_WORKER=", 15) == 0)
			overridden = true;
		if (!overridden)
			envp[n++] = sm_xstrdup(e);
	}
	for (size_t j = 0; j < ex->n_env; j++)
		envp[n++] = sm_xasprintf("%s=%s", ex->env[j].name,
					 ex->env[j].value ? ex->env[j].value : "");
	envp[n++] = sm_xasprintf("SNAPMIG_REDUCER_PROTOCOL=%d", SM_EXEC_PROTOCOL);
	envp[n++] = sm_xasprintf("SNAPMIG_AGGREGATE=%s", agg->type);
	envp[n++] = sm_xasprintf("SNAPMIG_WORKER=%d", worker_id);
	envp[n] = NULL;
	return envp;
}

/* -------------------------------------------------------- open, close */

int sm_exec_open(const sm_config *cfg, const sm_aggregate *agg, int worker_id,
		 const char *log_path, sm_exec_proc **out, sm_error *err)
{
	sm_exec_proc *p;
	char prefix[160];
	int log_fd = -1;

	if (!agg || !agg->exec || !agg->exec->command || !agg->exec->command[0])
		return sm_error_set(err, SM_ERR_USAGE, "aggregate %s has no reducer command",
				    agg ? agg->type : "(null)");
	if (log_path) {
		log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (log_fd < 0)
			return sm_error_set(err, SM_ERR_IO, "cannot open the reducer log %s: %s",
					    log_path, strerror(errno));
	}
	p = sm_xcalloc(1, sizeof *p);
	p->cfg = cfg;
	p->agg = agg;
	p->worker_id = worker_id;
	p->timeout_ms = agg->exec->timeout_ms > 0 ? agg->exec->timeout_ms : DEFAULT_TIMEOUT_MS;
	p->envp = build_env(agg, worker_id);
	snprintf(prefix, sizeof prefix, "worker %d %s", worker_id, agg->type);
	sm_child_init(&p->child, log_fd, prefix);
	*out = p;
	return SM_OK;
}

void sm_exec_set_cancel(sm_exec_proc *p, bool (*cancelled)(void *arg), void *arg)
{
	p->child.cancelled = cancelled;
	p->child.cancel_arg = arg;
}

void sm_exec_close(sm_exec_proc *p)
{
	char status[128];

	if (!p)
		return;
	if (p->child.pid > 0) {
		sm_child_stop(&p->child, CLOSE_GRACE_MS, status, sizeof status);
		sm_child_log(&p->child, "reducer stopped: %s", status);
	}
	if (p->child.log_fd >= 0)
		close(p->child.log_fd);
	sm_child_free(&p->child);
	for (size_t i = 0; p->envp && p->envp[i]; i++)
		free(p->envp[i]);
	free(p->envp);
	free_types(p->types, p->n_types);
	free(p->fingerprint);
	free(p->expect_fp);
	free(p);
}

void sm_exec_expect_fingerprint(sm_exec_proc *p, const char *fingerprint)
{
	free(p->expect_fp);
	p->expect_fp = fingerprint ? sm_xstrdup(fingerprint) : NULL;
	p->expect_set = true;
}

/* ------------------------------------------------- failures, restarts */

/*
 * The process failed while working on the current instance (or on its
 * handshake): stop it, count the crash, fill fail.  Returns
 * SM_REDUCE_FAILED.
 */
static int crash(sm_exec_proc *p, int grace_ms, const char *what, sm_reduce_failure *fail)
{
	char status[128] = "";
	char msg[sizeof fail->message];
	char ctx[400] = "";

	if (p->child.pid > 0)
		sm_child_stop(&p->child, grace_ms, status, sizeof status);
	if (p->in_instance && p->last_version > 0)
		snprintf(ctx, sizeof ctx, " (last event sent: v%lld %s)", p->last_version,
			 p->last_type);
	snprintf(msg, sizeof msg, "reducer %s%s%s%s", what, status[0] ? ", " : "", status, ctx);
	add_tail(p, msg, sizeof msg);
	p->in_instance = false;
	p->crashes++;
	sm_child_log(&p->child, "instance failed: %s", msg);
	if (p->crashes >= SM_EXEC_MAX_CRASHES && !p->gave_up) {
		p->gave_up = true;
		snprintf(p->gave_up_why, sizeof p->gave_up_why,
			 "reducer for %s gave up after %d failures in a row; last: %.700s",
			 p->agg->type, p->crashes, msg);
		sm_child_log(&p->child, "%s", p->gave_up_why);
	}
	return sm_reduce_fail(fail, SM_FAIL_REDUCER, 0, NULL, msg);
}

/* A handshake that can never succeed: give up at once. */
static int give_up(sm_exec_proc *p, const char *why, sm_reduce_failure *fail)
{
	char status[128];

	if (p->child.pid > 0)
		sm_child_stop(&p->child, 0, status, sizeof status);
	p->in_instance = false;
	p->gave_up = true;
	snprintf(p->gave_up_why, sizeof p->gave_up_why, "reducer for %s: %s", p->agg->type, why);
	add_tail(p, p->gave_up_why, sizeof p->gave_up_why);
	sm_child_log(&p->child, "giving up: %s", p->gave_up_why);
	return sm_reduce_fail(fail, SM_FAIL_REDUCER, 0, NULL, p->gave_up_why);
}

/* The caller asked to stop: stop the process, not counted as a crash. */
static int cancelled(sm_exec_proc *p, sm_error *err)
{
	sm_child_stop(&p->child, 0, NULL, 0);
	p->in_instance = false;
	return sm_error_set(err, SM_ERR_CANCELLED, "cancelled");
}

static int pump_failed(sm_exec_proc *p, enum sm_child_io io, int timeout_ms,
		       sm_reduce_failure *fail, sm_error *err)
{
	char what[160];

	switch (io) {
	case SM_CHILD_CANCELLED:
		return cancelled(p, err);
	case SM_CHILD_EOF:
		return crash(p, CRASH_GRACE_MS, "exited", fail);
	case SM_CHILD_TIMEOUT:
		snprintf(what, sizeof what, "did not answer within %d ms%s", timeout_ms,
			 timeout_ms == p->timeout_ms ? " (timeout_ms)" : " (handshake)");
		return crash(p, 0, what, fail);
	case SM_CHILD_TOO_LONG:
		return crash(p, 0, "wrote a line longer than 512 MiB", fail);
	default:
		snprintf(what, sizeof what, "could not be read: %s", strerror(errno));
		return crash(p, 0, what, fail);
	}
}

static int not_protocol(sm_exec_proc *p, const char *line, size_t len, const char *why,
			sm_reduce_failure *fail)
{
	char ex[100], what[300];

	sm_exec_excerpt(line, len, ex, sizeof ex);
	snprintf(what, sizeof what, "wrote something that is not protocol (%.150s): %s", why, ex);
	return crash(p, 0, what, fail);
}

/* Sleeps before a restart, checking for cancel.  false when cancelled. */
static bool backoff(sm_exec_proc *p)
{
	long long ms = BACKOFF_FIRST_MS;
	long long until;

	for (int i = 1; i < p->crashes && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	until = sm_child_now_ms() + ms;
	for (;;) {
		long long left = until - sm_child_now_ms();
		struct timespec ts;

		if (p->child.cancelled && p->child.cancelled(p->child.cancel_arg))
			return false;
		if (left <= 0)
			return true;
		if (left > 50)
			left = 50;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* ---------------------------------------------------------- handshake */

/* Reads the hello reply.  0 ok, 1 failed (fail filled), negative error. */
static int read_hello(sm_exec_proc *p, sm_reduce_failure *fail, sm_error *err)
{
	sm_exec_hello hello;
	char why[700];
	char *line;
	size_t len;
	int rc;
	/* Starting may involve a build tool or a cold interpreter. */
	int hello_ms = p->timeout_ms > HELLO_MIN_MS ? p->timeout_ms : HELLO_MIN_MS;

	for (;;) {
		enum sm_child_io io = sm_child_pump(&p->child, 0, true, hello_ms, &line, &len);

		if (io != SM_CHILD_LINE)
			return pump_failed(p, io, hello_ms, fail, err);
		/* Before the hello, lines that are not JSON objects are noise
		 * from build tools (mix prints "Compiling ..."): log them. */
		if (len == 0 || line[0] != '{') {
			char ex[100];

			sm_exec_excerpt(line, len, ex, sizeof ex);
			if (len > 0)
				sm_child_log(&p->child, "stdout before handshake: %s", ex);
			sm_child_consume_line(&p->child);
			continue;
		}
		break;
	}
	rc = sm_exec_parse_hello(line, len, p->agg->type, &hello, why, sizeof why);
	if (rc == SM_EXEC_NOT_PROTOCOL)
		return not_protocol(p, line, len, why, fail);
	sm_child_consume_line(&p->child);
	free_types(p->types, p->n_types);
	p->types = hello.types;
	p->n_types = hello.n_types;
	p->any = hello.any;
	free(p->fingerprint);
	p->fingerprint = hello.fingerprint;
	if (rc == SM_EXEC_GIVE_UP)
		return give_up(p, why, fail);
	if (rc == SM_EXEC_CRASH)
		return crash(p, 0, why, fail);
	if (p->expect_set && (p->fingerprint == NULL) != (p->expect_fp == NULL))
		rc = 1;
	else if (p->expect_set && p->fingerprint && strcmp(p->fingerprint, p->expect_fp) != 0)
		rc = 1;
	if (rc == 1) {
		/* Its rows would be labelled with what the run was planned
		 * with: stop the run rather than write them. */
		sm_child_stop(&p->child, 0, NULL, 0);
		sm_child_log(&p->child, "the reducer's fingerprint changed during the run");
		return sm_error_set(err, SM_ERR_DATA,
				    "the reducer for %s now reports fingerprint \"%.100s\", the run was "
				    "planned with \"%.100s\": its code changed during the run; run the "
				    "rebuild again", p->agg->type, p->fingerprint ? p->fingerprint : "(none)",
				    p->expect_fp ? p->expect_fp : "(none)");
	}
	return SM_OK;
}

/* Starts the process and does the handshake.  0 ok, 1 failed, negative. */
static int start(sm_exec_proc *p, sm_reduce_failure *fail, sm_error *err)
{
	sm_error serr;

	if (p->crashes > 0 && !backoff(p))
		return sm_error_set(err, SM_ERR_CANCELLED, "cancelled");
	sm_error_clear(&serr);
	sm_child_tail_reset(&p->child);
	if (sm_child_spawn(&p->child, p->agg->exec->command, p->cfg ? p->cfg->dir : NULL,
			   p->envp, &serr) < 0) {
		char what[sizeof serr.message + 32];

		snprintf(what, sizeof what, "could not be started: %s", serr.message);
		return crash(p, 0, what, fail);
	}
	sm_child_log(&p->child, "reducer started: %s", p->agg->exec->command);
	sm_child_append_str(&p->child, "{\"op\":\"hello\",\"protocol\":");
	append_ll(&p->child, SM_EXEC_PROTOCOL);
	sm_child_append_str(&p->child, ",\"snapmig\":\"" PACKAGE_VERSION "\",\"aggregate\":");
	append_json_string(&p->child, p->agg->type);
	sm_child_append_str(&p->child, ",\"worker\":");
	append_ll(&p->child, p->worker_id);
	sm_child_append_str(&p->child, "}\n");
	return read_hello(p, fail, err);
}

/* ---------------------------------------------------------- instances */

/*
 * Parses a reply line.  Returns 0 with *reply set for a reply to the
 * current instance, 2 for a stale reply (dropped), 1 when the line is not
 * protocol (process crashed, fail filled).  Consumes the line.
 */
/* A reply line: SM_EXEC_REPLY (*reply set), SM_EXEC_STALE (dropped) or
 * SM_EXEC_NOT_PROTOCOL (the process is stopped as crashed, fail filled). */
static enum sm_exec_verdict parse_reply(sm_exec_proc *p, char *line, size_t len,
					json_object **reply, sm_reduce_failure *fail)
{
	char why[sizeof ((sm_error *)0)->message + 64];
	enum sm_exec_verdict v = sm_exec_parse_reply(line, len, p->cur_id, reply, why, sizeof why);

	if (v == SM_EXEC_NOT_PROTOCOL) {
		not_protocol(p, line, len, why, fail);
		return v;
	}
	sm_child_consume_line(&p->child);
	return v;
}

/* An error reply into fail. */
static void error_reply(sm_exec_proc *p, json_object *msg, sm_reduce_failure *fail)
{
	sm_exec_reply_failure(msg, fail);
	add_tail(p, fail->message, sizeof fail->message);
}

/*
 * Writes queued output down to drain_to bytes, handling replies that
 * arrive meanwhile.  0 ok, 1 instance failed, negative error.
 */
static int flush(sm_exec_proc *p, size_t drain_to, sm_reduce_failure *fail, sm_error *err)
{
	for (;;) {
		char *line;
		size_t len;
		json_object *reply;
		enum sm_child_io io = sm_child_pump(&p->child, drain_to, false, p->timeout_ms,
						    &line, &len);
		enum sm_exec_verdict v;

		if (io == SM_CHILD_OK)
			return SM_OK;
		if (io != SM_CHILD_LINE)
			return pump_failed(p, io, p->timeout_ms, fail, err);
		v = parse_reply(p, line, len, &reply, fail);
		if (v == SM_EXEC_STALE)
			continue;
		if (v == SM_EXEC_NOT_PROTOCOL)
			return SM_REDUCE_FAILED;
		if (!sm_exec_reply_is_error(reply) || !p->in_instance) {
			json_object_put(reply);
			return not_protocol(p, "{\"op\":\"state\",...}", 18,
					    "a state before end", fail);
		}
		/* An error before end: the instance is over for the reducer. */
		error_reply(p, reply, fail);
		json_object_put(reply);
		p->replied = true;
		p->early = *fail;
		p->crashes = 0;
		return SM_REDUCE_FAILED;
	}
}

int sm_exec_begin(sm_exec_proc *p, const char *stream_uuid, json_object *start_state,
		  long long start_version, sm_reduce_failure *fail, sm_error *err)
{
	int rc;

	if (p->in_instance)
		sm_exec_abort(p);
	if (p->gave_up)
		return sm_reduce_fail(fail, SM_FAIL_REDUCER, 0, NULL, p->gave_up_why);
	if (p->child.pid == 0) {
		rc = start(p, fail, err);
		if (rc != 0)
			return rc;
	}
	sm_child_tail_reset(&p->child);
	p->cur_id = ++p->next_id;
	p->in_instance = true;
	p->replied = false;
	p->last_version = 0;
	p->last_type[0] = '\0';
	p->inst_mark = sm_child_mark(&p->child);
	sm_child_append_str(&p->child, "{\"op\":\"begin\",\"id\":");
	append_ll(&p->child, p->cur_id);
	sm_child_append_str(&p->child, ",\"aggregate\":");
	append_json_string(&p->child, p->agg->type);
	sm_child_append_str(&p->child, ",\"stream_uuid\":");
	append_json_string(&p->child, stream_uuid ? stream_uuid : "");
	sm_child_append_str(&p->child, ",\"version\":");
	append_ll(&p->child, start_state ? start_version : 0);
	if (start_state) {
		sm_child_append_str(&p->child, ",\"start\":\"state\",\"state\":");
		append_json_value(&p->child, start_state);
	} else {
		sm_child_append_str(&p->child, ",\"start\":\"initial\"");
	}
	sm_child_append_str(&p->child, "}\n");
	if (sm_child_pending(&p->child) >= CHUNK)
		return flush(p, 0, fail, err);
	return SM_OK;
}

int sm_exec_event(sm_exec_proc *p, const sm_event_view *ev, sm_reduce_failure *fail,
		  sm_error *err)
{
	sm_child *c = &p->child;

	if (!p->in_instance)
		return sm_error_set(err, SM_ERR_USAGE, "reducer event outside an instance");
	if (p->replied) {
		*fail = p->early;
		return SM_REDUCE_FAILED;
	}
	p->last_version = ev->version;
	snprintf(p->last_type, sizeof p->last_type, "%s", ev->type ? ev->type : "");
	sm_child_append_str(c, "{\"op\":\"event\",\"type\":");
	append_json_string(c, ev->type ? ev->type : "");
	sm_child_append_str(c, ",\"version\":");
	append_ll(c, ev->version);
	sm_child_append_str(c, ",\"data\":");
	append_json_value(c, ev->data);
	sm_child_append_str(c, ",\"metadata\":");
	append_json_value(c, ev->metadata);
	sm_child_append_str(c, ",\"created_at\":");
	if (ev->created_at)
		append_json_string(c, ev->created_at);
	else
		sm_child_append_str(c, "null");
	sm_child_append_str(c, "}\n");
	if (sm_child_pending(c) >= CHUNK)
		return flush(p, 0, fail, err);
	return SM_OK;
}

int sm_exec_end(sm_exec_proc *p, json_object **state_out, sm_reduce_failure *fail,
		sm_error *err)
{
	json_object *reply = NULL, *state;

	*state_out = NULL;
	if (!p->in_instance)
		return sm_error_set(err, SM_ERR_USAGE, "reducer end outside an instance");
	if (p->replied) {
		*fail = p->early;
		return SM_REDUCE_FAILED;
	}
	sm_child_append_str(&p->child, "{\"op\":\"end\",\"id\":");
	append_ll(&p->child, p->cur_id);
	sm_child_append_str(&p->child, "}\n");
	for (;;) {
		char *line;
		size_t len;
		enum sm_child_io io = sm_child_pump(&p->child, 0, true, p->timeout_ms, &line, &len);
		enum sm_exec_verdict v;

		if (io != SM_CHILD_LINE)
			return pump_failed(p, io, p->timeout_ms, fail, err);
		v = parse_reply(p, line, len, &reply, fail);
		if (v == SM_EXEC_STALE)
			continue;
		if (v == SM_EXEC_NOT_PROTOCOL)
			return SM_REDUCE_FAILED;
		break;
	}
	p->in_instance = false;
	if (sm_exec_reply_is_error(reply)) {
		error_reply(p, reply, fail);
		json_object_put(reply);
		p->crashes = 0;
		return SM_REDUCE_FAILED;
	}
	state = sm_exec_reply_state(reply);
	if (!state) {
		json_object_put(reply);
		p->in_instance = true; /* so that the crash message names the events */
		return crash(p, 0, "replied with a \"state\" that is not a JSON object", fail);
	}
	*state_out = json_object_get(state);
	json_object_put(reply);
	p->crashes = 0;
	return SM_OK;
}

void sm_exec_abort(sm_exec_proc *p)
{
	if (!p || !p->in_instance)
		return;
	p->in_instance = false;
	if (p->child.pid == 0)
		return;
	/* When the reducer never received the begin, simply forget the
	 * instance; otherwise tell it (no reply follows an abort). */
	if (!p->replied && sm_child_cut(&p->child, p->inst_mark))
		return;
	sm_child_append_str(&p->child, "{\"op\":\"abort\",\"id\":");
	append_ll(&p->child, p->cur_id);
	sm_child_append_str(&p->child, "}\n");
}

/* -------------------------------------------- preflight, fingerprints */

/* Starts a reducer for agg and reads its handshake: SM_OK with *out
 * (sm_exec_close it), or an error. */
static int probe(const sm_config *cfg, const sm_aggregate *agg, sm_exec_proc **out, sm_error *err)
{
	sm_exec_proc *p;
	sm_reduce_failure fail;
	int rc;

	*out = NULL;
	rc = sm_exec_open(cfg, agg, 0, NULL, &p, err);
	if (rc < 0)
		return rc;
	memset(&fail, 0, sizeof fail);
	rc = start(p, &fail, err);
	if (rc == SM_REDUCE_FAILED)
		rc = sm_error_set(err, p->gave_up ? SM_ERR_CONFIG : SM_ERR_IO, "%s", fail.message);
	if (rc != SM_OK) {
		sm_exec_close(p);
		return rc;
	}
	*out = p;
	return SM_OK;
}

int sm_exec_known_types(const sm_config *cfg, const sm_aggregate *agg, char ***types,
			size_t *n, bool *any, sm_error *err)
{
	sm_exec_proc *p;
	int rc;

	*types = NULL;
	*n = 0;
	*any = false;
	rc = probe(cfg, agg, &p, err);
	if (rc == SM_OK) {
		*types = p->types;
		*n = p->n_types;
		*any = p->any;
		p->types = NULL;
		p->n_types = 0;
		sm_exec_close(p);
	}
	return rc;
}

int sm_exec_fingerprint(const sm_config *cfg, const sm_aggregate *agg, char **fingerprint,
			sm_error *err)
{
	sm_exec_proc *p;
	int rc;

	*fingerprint = NULL;
	rc = probe(cfg, agg, &p, err);
	if (rc == SM_OK) {
		*fingerprint = p->fingerprint;
		p->fingerprint = NULL;
		sm_exec_close(p);
	}
	return rc;
}
