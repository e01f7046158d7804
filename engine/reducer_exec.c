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
#include "engine/store.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/clock.h"
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
	enum sm_column_type col_data, col_meta; /* announced; MISSING: not */
	sm_exec_hello hello;          /* the last hello */
	bool expect_set;              /* every hello must report expect_fp */
	char *expect_fp;
	bool expect_mode;             /* every hello must say raw == expect_raw, */
	bool expect_raw;              /* and the configured snapshot_version */
	char *scratch;                /* base64 of one column */
	size_t scratch_cap;

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
	sm_exec_hello_clear(&p->hello);
	free(p->expect_fp);
	free(p->scratch);
	free(p);
}

void sm_exec_set_columns(sm_exec_proc *p, enum sm_column_type data, enum sm_column_type metadata)
{
	p->col_data = data;
	p->col_meta = metadata;
}

void sm_exec_expect_mode(sm_exec_proc *p, bool raw)
{
	p->expect_mode = true;
	p->expect_raw = raw;
}

const sm_exec_hello *sm_exec_handshake(const sm_exec_proc *p)
{
	return p->child.pid > 0 ? &p->hello : NULL;
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
	until = sm_now_ms() + ms;
	for (;;) {
		long long left = until - sm_now_ms();
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

/* What a run requires of every handshake of its reducers (the one it was
 * planned with): the same fingerprint (issue 16), the same mode, and the
 * snapshot_version of snapmig.conf.  A reducer that changed during the
 * run stops it rather than write rows the plan did not expect. */
static int check_hello(sm_exec_proc *p, sm_error *err)
{
	const sm_exec_hello *h = &p->hello;
	const char *fp = h->fingerprint;

	if (p->expect_set && ((fp == NULL) != (p->expect_fp == NULL) ||
			      (fp && strcmp(fp, p->expect_fp) != 0))) {
		sm_child_stop(&p->child, 0, NULL, 0);
		sm_child_log(&p->child, "the reducer's fingerprint changed during the run");
		return sm_error_set(err, SM_ERR_DATA,
				    "the reducer for %s now reports fingerprint \"%.100s\", the run was "
				    "planned with \"%.100s\": its code changed during the run; run the "
				    "rebuild again", p->agg->type, fp ? fp : "(none)",
				    p->expect_fp ? p->expect_fp : "(none)");
	}
	if (p->expect_mode && h->has_version && h->snapshot_version != p->agg->snapshot_version) {
		sm_child_stop(&p->child, 0, NULL, 0);
		return sm_error_set(err, SM_ERR_CONFIG, "%s: snapmig.conf says snapshot_version %lld, "
				    "the application's reducer says %lld; make them agree",
				    p->agg->type, p->agg->snapshot_version, h->snapshot_version);
	}
	if (p->expect_mode && h->raw != p->expect_raw) {
		sm_child_stop(&p->child, 0, NULL, 0);
		return sm_error_set(err, SM_ERR_DATA, "the reducer for %s %s raw mode, and this run was "
				    "planned %s it (a run plans it from the reducer's handshake)", p->agg->type,
				    h->raw ? "asks for" : "does not ask for", h->raw ? "without" : "with");
	}
	return SM_OK;
}

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
	sm_exec_hello_clear(&p->hello);
	p->hello = hello;
	if (rc == SM_EXEC_GIVE_UP)
		return give_up(p, why, fail);
	if (rc == SM_EXEC_CRASH)
		return crash(p, 0, why, fail);
	if (hello.reducer)
		sm_child_log(&p->child, "reducer: %s%s", hello.reducer, hello.raw ? " (raw mode)" : "");
	return check_hello(p, err);
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
	if (p->col_data != SM_COL_MISSING) {
		sm_child_append_str(&p->child, ",\"columns\":{\"data\":\"");
		sm_child_append_str(&p->child, sm_store_column_sql(p->col_data));
		sm_child_append_str(&p->child, "\",\"metadata\":\"");
		sm_child_append_str(&p->child, sm_store_column_sql(p->col_meta != SM_COL_MISSING
								   ? p->col_meta : p->col_data));
		sm_child_append_str(&p->child, "\"}");
	}
	sm_child_append_str(&p->child, ",\"features\":[\"raw\",\"types\"]}\n");
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

int sm_exec_start(sm_exec_proc *p, sm_reduce_failure *fail, sm_error *err)
{
	if (p->gave_up)
		return sm_reduce_fail(fail, SM_FAIL_REDUCER, 0, NULL, p->gave_up_why);
	return p->child.pid == 0 ? start(p, fail, err) : SM_OK;
}

bool sm_exec_raw(const sm_exec_proc *p)
{
	if (p->expect_mode)
		return p->expect_raw;
	return p->child.pid > 0 && p->hello.raw;
}

/* Starts an instance: the process if needed, then the begin message up to
 * and including "version" (the caller adds the start and the closing
 * brace).  0 ok, 1 failed, negative error. */
static int begin_instance(sm_exec_proc *p, const char *stream_uuid, long long version,
			  sm_reduce_failure *fail, sm_error *err)
{
	int rc;

	if (p->in_instance)
		sm_exec_abort(p);
	rc = sm_exec_start(p, fail, err);
	if (rc != SM_OK)
		return rc;
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
	append_ll(&p->child, version);
	return SM_OK;
}

/* The end of a message: writes when enough is queued. */
static int queued(sm_exec_proc *p, sm_reduce_failure *fail, sm_error *err)
{
	sm_child_append_str(&p->child, "}\n");
	if (sm_child_pending(&p->child) >= CHUNK)
		return flush(p, 0, fail, err);
	return SM_OK;
}

int sm_exec_begin(sm_exec_proc *p, const char *stream_uuid, json_object *start_state,
		  long long start_version, sm_reduce_failure *fail, sm_error *err)
{
	int rc = begin_instance(p, stream_uuid, start_state ? start_version : 0, fail, err);

	if (rc != SM_OK)
		return rc;
	if (p->hello.raw) {
		sm_exec_abort(p);
		return sm_error_set(err, SM_ERR_INTERNAL, "a JSON start state for a reducer in raw mode");
	}
	if (start_state) {
		sm_child_append_str(&p->child, ",\"start\":\"state\",\"state\":");
		append_json_value(&p->child, start_state);
	} else {
		sm_child_append_str(&p->child, ",\"start\":\"initial\"");
	}
	return queued(p, fail, err);
}

/* ",\"key\":\"<base64 of bytes>\"", or ",\"key\":null" for NULL. */
static void append_base64(sm_exec_proc *p, const char *key, const unsigned char *bytes, size_t n)
{
	size_t len;

	sm_child_append_str(&p->child, ",\"");
	sm_child_append_str(&p->child, key);
	if (!bytes) {
		sm_child_append_str(&p->child, "\":null");
		return;
	}
	sm_child_append_str(&p->child, "\":\"");
	len = sm_base64_encoded_len(n);
	p->scratch = sm_xgrow(p->scratch, &p->scratch_cap, len + 1, 1);
	sm_base64_encode(bytes, n, p->scratch);
	sm_child_append(&p->child, p->scratch, len);
	sm_child_append_str(&p->child, "\"");
}

static void append_opt_string(sm_exec_proc *p, const char *key, const char *value)
{
	sm_child_append_str(&p->child, ",\"");
	sm_child_append_str(&p->child, key);
	sm_child_append_str(&p->child, "\":");
	if (value)
		append_json_string(&p->child, value);
	else
		sm_child_append_str(&p->child, "null");
}

int sm_exec_begin_raw(sm_exec_proc *p, const char *stream_uuid, const unsigned char *start,
		      size_t start_len, long long start_version, sm_reduce_failure *fail,
		      sm_error *err)
{
	int rc = begin_instance(p, stream_uuid, start ? start_version : 0, fail, err);

	if (rc != SM_OK)
		return rc;
	if (!p->hello.raw) {
		sm_exec_abort(p);
		return sm_error_set(err, SM_ERR_INTERNAL, "a raw start state for a reducer not in raw mode");
	}
	if (start) {
		sm_child_append_str(&p->child, ",\"start\":\"state\"");
		append_base64(p, "state_raw", start, start_len);
	} else {
		sm_child_append_str(&p->child, ",\"start\":\"initial\"");
	}
	return queued(p, fail, err);
}

/* An event message up to its version (the caller adds the rest and
 * calls queued): 0, or SM_REDUCE_FAILED when the reducer already failed
 * the instance (fail filled), or negative. */
static int event_start(sm_exec_proc *p, const char *type, long long version,
		       sm_reduce_failure *fail, sm_error *err)
{
	if (!p->in_instance)
		return sm_error_set(err, SM_ERR_USAGE, "reducer event outside an instance");
	if (p->replied) {
		*fail = p->early;
		return SM_REDUCE_FAILED;
	}
	p->last_version = version;
	snprintf(p->last_type, sizeof p->last_type, "%s", type ? type : "");
	sm_child_append_str(&p->child, "{\"op\":\"event\",\"type\":");
	append_json_string(&p->child, type ? type : "");
	sm_child_append_str(&p->child, ",\"version\":");
	append_ll(&p->child, version);
	return SM_OK;
}

int sm_exec_event_raw(sm_exec_proc *p, const sm_raw_event *ev, sm_reduce_failure *fail,
		      sm_error *err)
{
	sm_child *c = &p->child;
	int rc = event_start(p, ev->type, ev->version, fail, err);

	if (rc != SM_OK)
		return rc;
	/* The stored columns last and in this order: they are most of the
	 * line, and a reader may cut them out instead of parsing them. */
	sm_child_append_str(c, ",\"event_number\":");
	append_ll(c, ev->version);
	append_opt_string(p, "event_id", ev->event_id);
	append_opt_string(p, "causation_id", ev->causation_id);
	append_opt_string(p, "correlation_id", ev->correlation_id);
	append_opt_string(p, "created_at", ev->created_at);
	append_base64(p, "data_raw", ev->data, ev->data_len);
	append_base64(p, "metadata_raw", ev->metadata, ev->metadata_len);
	return queued(p, fail, err);
}

int sm_exec_event(sm_exec_proc *p, const sm_event_view *ev, sm_reduce_failure *fail,
		  sm_error *err)
{
	sm_child *c = &p->child;
	int rc = event_start(p, ev->type, ev->version, fail, err);

	if (rc != SM_OK)
		return rc;
	sm_child_append_str(c, ",\"data\":");
	append_json_value(c, ev->data);
	sm_child_append_str(c, ",\"metadata\":");
	append_json_value(c, ev->metadata);
	sm_child_append_str(c, ",\"created_at\":");
	if (ev->created_at)
		append_json_string(c, ev->created_at);
	else
		sm_child_append_str(c, "null");
	return queued(p, fail, err);
}

/* Ends the instance and reads its reply: SM_OK with *reply (a state
 * reply, caller owns), SM_REDUCE_FAILED (fail filled) or negative. */
static int end_instance(sm_exec_proc *p, json_object **reply, sm_reduce_failure *fail,
			sm_error *err)
{
	*reply = NULL;
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
		v = parse_reply(p, line, len, reply, fail);
		if (v == SM_EXEC_STALE)
			continue;
		if (v == SM_EXEC_NOT_PROTOCOL)
			return SM_REDUCE_FAILED;
		break;
	}
	p->in_instance = false;
	if (sm_exec_reply_is_error(*reply)) {
		error_reply(p, *reply, fail);
		json_object_put(*reply);
		*reply = NULL;
		p->crashes = 0;
		return SM_REDUCE_FAILED;
	}
	return SM_OK;
}

/* A state reply that is not what it must be: a crash that names the
 * instance's events. */
static int bad_state(sm_exec_proc *p, json_object *reply, const char *what,
		     sm_reduce_failure *fail)
{
	json_object_put(reply);
	p->in_instance = true;
	return crash(p, 0, what, fail);
}

int sm_exec_end(sm_exec_proc *p, json_object **state_out, sm_reduce_failure *fail,
		sm_error *err)
{
	json_object *reply, *state;
	int rc;

	*state_out = NULL;
	rc = end_instance(p, &reply, fail, err);
	if (rc != SM_OK)
		return rc;
	state = sm_exec_reply_state(reply);
	if (!state)
		return bad_state(p, reply, "replied with a \"state\" that is not a JSON object", fail);
	*state_out = json_object_get(state);
	json_object_put(reply);
	p->crashes = 0;
	return SM_OK;
}

int sm_exec_end_raw(sm_exec_proc *p, unsigned char **state_out, size_t *len,
		    sm_reduce_failure *fail, sm_error *err)
{
	json_object *reply;
	int rc;

	*state_out = NULL;
	*len = 0;
	rc = end_instance(p, &reply, fail, err);
	if (rc != SM_OK)
		return rc;
	*state_out = sm_exec_reply_state_raw(reply, len);
	if (!*state_out)
		return bad_state(p, reply, "replied in raw mode without a base64 \"state_raw\"", fail);
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
 * (sm_exec_close it), or an error.  data, metadata: the store's column
 * types for the hello (MISSING: not announced). */
static int probe(const sm_config *cfg, const sm_aggregate *agg, enum sm_column_type data,
		 enum sm_column_type metadata, sm_exec_proc **out, sm_error *err)
{
	sm_exec_proc *p;
	sm_reduce_failure fail;
	int rc;

	*out = NULL;
	rc = sm_exec_open(cfg, agg, 0, NULL, &p, err);
	if (rc < 0)
		return rc;
	sm_exec_set_columns(p, data, metadata);
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

/* Moves the hello out of a probed process and closes it. */
static void take_hello(sm_exec_proc *p, sm_exec_hello *out)
{
	*out = p->hello;
	memset(&p->hello, 0, sizeof p->hello);
	sm_exec_close(p);
}

int sm_exec_describe(const sm_config *cfg, const sm_aggregate *agg, enum sm_column_type data,
		     enum sm_column_type metadata, sm_exec_hello *out, sm_error *err)
{
	sm_exec_proc *p;
	int rc;

	memset(out, 0, sizeof *out);
	rc = probe(cfg, agg, data, metadata, &p, err);
	if (rc == SM_OK)
		take_hello(p, out);
	return rc;
}

int sm_exec_check_types(const sm_config *cfg, const sm_aggregate *agg, enum sm_column_type data,
			enum sm_column_type metadata, const char *const *types, size_t n,
			sm_exec_hello *hello, sm_exec_types_reply *reply, sm_error *err)
{
	sm_reduce_failure fail;
	sm_exec_proc *p;
	char why[700];
	char *line;
	size_t len;
	int rc;

	memset(hello, 0, sizeof *hello);
	memset(reply, 0, sizeof *reply);
	rc = probe(cfg, agg, data, metadata, &p, err);
	if (rc != SM_OK)
		return rc;
	if (!p->hello.types_request) {
		take_hello(p, hello);
		return SM_OK;
	}
	sm_child_append_str(&p->child, "{\"op\":\"types\",\"id\":1,\"aggregate\":");
	append_json_string(&p->child, agg->type);
	sm_child_append_str(&p->child, ",\"types\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sm_child_append_str(&p->child, ",");
		append_json_string(&p->child, types[i]);
	}
	sm_child_append_str(&p->child, "]}\n");
	memset(&fail, 0, sizeof fail);
	for (;;) {
		enum sm_child_io io = sm_child_pump(&p->child, 0, true, p->timeout_ms, &line, &len);

		if (io != SM_CHILD_LINE) {
			rc = pump_failed(p, io, p->timeout_ms, &fail, err);
			if (rc == SM_REDUCE_FAILED)
				rc = sm_error_set(err, SM_ERR_IO, "%s", fail.message);
			break;
		}
		rc = sm_exec_parse_types_reply(line, len, 1, reply, why, sizeof why);
		if (rc == SM_EXEC_REPLY)
			break;
		{
			char ex[100];

			sm_exec_excerpt(line, len, ex, sizeof ex);
			rc = sm_error_set(err, SM_ERR_IO, "the reducer for %s answered a \"types\" "
					  "request with %s: %s", agg->type, ex, why);
		}
		break;
	}
	if (rc == SM_OK)
		take_hello(p, hello);
	else
		sm_exec_close(p);
	return rc;
}

int sm_exec_known_types(const sm_config *cfg, const sm_aggregate *agg, char ***types,
			size_t *n, bool *any, sm_error *err)
{
	sm_exec_hello h;
	int rc;

	*types = NULL;
	*n = 0;
	*any = false;
	rc = sm_exec_describe(cfg, agg, SM_COL_MISSING, SM_COL_MISSING, &h, err);
	if (rc == SM_OK) {
		*types = h.types;
		*n = h.n_types;
		*any = h.any;
		h.types = NULL;
		h.n_types = 0;
		sm_exec_hello_clear(&h);
	}
	return rc;
}

int sm_exec_fingerprint(const sm_config *cfg, const sm_aggregate *agg, char **fingerprint,
			sm_error *err)
{
	sm_exec_hello h;
	int rc;

	*fingerprint = NULL;
	rc = sm_exec_describe(cfg, agg, SM_COL_MISSING, SM_COL_MISSING, &h, err);
	if (rc == SM_OK) {
		*fingerprint = h.fingerprint;
		h.fingerprint = NULL;
		sm_exec_hello_clear(&h);
	}
	return rc;
}
