/* sm_engine: an environment of a loaded configuration; names of enums. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/cancel.h"
#include "engine/db.h"
#include "engine/engine_internal.h"
#include "util/alloc.h"

PGconn *sm_engine_connect(const sm_engine *eng, sm_cancel *cancel, sm_error *err)
{
	PGconn *conn = sm_db_connect(eng->conninfo, eng->password, cancel, err);

	if (!conn) {
		char *masked;

		if (err && err->code == SM_ERR_CANCELLED)
			return NULL;
		masked = sm_conninfo_masked(eng->conninfo);
		sm_error_prefix(err, "environment %s (%s)", eng->env->name, masked);
		free(masked);
		return NULL;
	}
	sm_cancel_watch(cancel, conn);
	/* A request between the connection and the watch found nothing to
	 * interrupt. */
	if (sm_db_cancelled(conn, err) != SM_OK) {
		sm_engine_disconnect(conn);
		return NULL;
	}
	return conn;
}

void sm_engine_disconnect(PGconn *conn)
{
	if (!conn)
		return;
	sm_cancel_unwatch(conn);
	PQfinish(conn);
}

int sm_engine_open(const sm_config *cfg, const char *env_name, sm_cancel *cancel,
		   sm_engine **out, sm_error *err)
{
	const sm_environment *env = sm_config_find_env(cfg, env_name);
	sm_engine *eng;
	PGconn *conn;

	*out = NULL;
	if (!env)
		return sm_error_set(err, SM_ERR_USAGE, "no environment named \"%s\" in %s",
				    env_name, cfg->path);
	eng = sm_xcalloc(1, sizeof *eng);
	eng->cfg = cfg;
	eng->env = env;
	eng->conninfo = sm_xstrdup(env->conninfo);
	if (env->password_env) {
		const char *pw = getenv(env->password_env);

		if (!pw) {
			sm_engine_close(eng);
			return sm_error_set_at(err, SM_ERR_CONFIG, env->file, env->line,
					       "environment %s: password_env %s is not set",
					       env->name, env->password_env);
		}
		eng->password = sm_xstrdup(pw);
	}
	conn = sm_engine_connect(eng, cancel, err);
	if (!conn) {
		sm_engine_close(eng);
		return err && err->code ? err->code : SM_ERR_DB;
	}
	/* After service files, PG* variables and defaults: what was reached,
	 * not what the conninfo says.  A Unix socket's host is its directory. */
	eng->where = sm_xasprintf("%s%s%s/%s", *PQhost(conn) ? PQhost(conn) : "localhost",
				  *PQport(conn) ? ":" : "", PQport(conn), PQdb(conn));
	sm_engine_disconnect(conn);
	*out = eng;
	return SM_OK;
}

void sm_engine_close(sm_engine *eng)
{
	if (!eng)
		return;
	free(eng->conninfo);
	free(eng->where);
	if (eng->password) {
		/* Not a guarantee against every copy, but the one we own goes. */
		memset(eng->password, 0, strlen(eng->password));
		free(eng->password);
	}
	free(eng);
}

const sm_environment *sm_engine_env(const sm_engine *eng)
{
	return eng->env;
}

const sm_config *sm_engine_config(const sm_engine *eng)
{
	return eng->cfg;
}

char *sm_conninfo_masked(const char *conninfo)
{
	PQconninfoOption *opts;
	char *errmsg = NULL;
	size_t cap = 0, len = 0;
	char *out = NULL;

	if (!conninfo)
		return sm_xstrdup("");
	opts = PQconninfoParse(conninfo, &errmsg);
	if (!opts) {
		/* Unparseable: show nothing of it rather than risk a password. */
		PQfreemem(errmsg);
		return sm_xstrdup("(unparseable conninfo)");
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		const char *v;
		size_t need;

		if (!o->val || !*o->val)
			continue;
		v = strcmp(o->keyword, "password") == 0 ? "********" : o->val;
		need = len + strlen(o->keyword) + strlen(v) + 8;
		out = sm_xgrow(out, &cap, need, 1);
		len += (size_t)snprintf(out + len, cap - len, "%s%s=%s",
					len ? " " : "", o->keyword, v);
	}
	PQconninfoFree(opts);
	return out ? out : sm_xstrdup("");
}

char *sm_engine_describe(const sm_engine *eng)
{
	return sm_xstrdup(eng->where);
}

int sm_engine_select_types(const sm_engine *eng, const char *const *types,
			   size_t n_types, const sm_aggregate ***out, size_t *n_out,
			   sm_error *err)
{
	const sm_config *cfg = eng->cfg;
	const sm_aggregate **sel;
	size_t n = 0;

	*out = NULL;
	*n_out = 0;
	sel = sm_xcalloc(cfg->n_aggs + n_types + 1, sizeof *sel);
	if (!types || n_types == 0) {
		for (size_t i = 0; i < cfg->n_aggs; i++)
			sel[n++] = &cfg->aggs[i];
	} else {
		for (size_t i = 0; i < n_types; i++) {
			const sm_aggregate *a = sm_config_find_aggregate(cfg, types[i]);
			bool dup = false;

			if (!a) {
				free(sel);
				return sm_error_set(err, SM_ERR_USAGE,
						    "no aggregate type or label \"%s\" in %s",
						    types[i], cfg->path);
			}
			for (size_t j = 0; j < n; j++)
				dup = dup || sel[j] == a;
			if (!dup)
				sel[n++] = a;
		}
	}
	*out = sel;
	*n_out = n;
	return SM_OK;
}

const char *sm_column_type_name(enum sm_column_type t)
{
	switch (t) {
	case SM_COL_BYTEA: return "bytea";
	case SM_COL_JSONB: return "jsonb";
	default: return "missing";
	}
}

static const struct {
	const char *name, *label, *help;
} failure_kinds[SM_FAIL__COUNT] = {
#define SM_X_FAILURE_ROW(id, name, label, help) [SM_FAIL_##id] = { name, label, help },
	SM_FAILURE_KINDS(SM_X_FAILURE_ROW)
#undef SM_X_FAILURE_ROW
};

const char *sm_failure_kind_name(enum sm_failure_kind kind)
{
	return (unsigned)kind < SM_FAIL__COUNT ? failure_kinds[kind].name : "unknown";
}

const char *sm_failure_kind_label(enum sm_failure_kind kind)
{
	return (unsigned)kind < SM_FAIL__COUNT ? failure_kinds[kind].label : "unknown";
}

const char *sm_failure_kind_help(enum sm_failure_kind kind)
{
	return (unsigned)kind < SM_FAIL__COUNT ? failure_kinds[kind].help : "unknown";
}

int sm_failure_kind_parse(const char *name)
{
	for (int i = 0; i < SM_FAIL__COUNT; i++)
		if (strcmp(failure_kinds[i].name, name) == 0)
			return i;
	return -1;
}

const char *sm_run_state_name(enum sm_run_state s)
{
	switch (s) {
	case SM_RUN_PLANNING: return "planning";
	case SM_RUN_RUNNING: return "running";
	case SM_RUN_CANCELLING: return "cancelling";
	case SM_RUN_DONE: return "done";
	case SM_RUN_CANCELLED: return "cancelled";
	case SM_RUN_FAILED: return "failed";
	}
	return "?";
}

static const struct {
	const char *name, *trips, *override;
} guards[SM_GUARD__COUNT] = {
#define SM_X_GUARD_ROW(id, name, trips, override) \
	[SM_GUARD_INDEX_##id] = { name, trips, override },
	SM_COPY_GUARDS(SM_X_GUARD_ROW)
#undef SM_X_GUARD_ROW
};

/* The row of one guard bit, or -1. */
static int guard_index(unsigned guard)
{
	for (int i = 0; i < SM_GUARD__COUNT; i++)
		if (guard == 1u << i)
			return i;
	return -1;
}

const char *sm_copy_guard_name(unsigned guard)
{
	int i = guard_index(guard);

	return i < 0 ? "?" : guards[i].name;
}

const char *sm_copy_guard_trips(unsigned guard)
{
	int i = guard_index(guard);

	return i < 0 ? "?" : guards[i].trips;
}

const char *sm_copy_guard_override(unsigned guard)
{
	int i = guard_index(guard);

	return i < 0 ? "?" : guards[i].override;
}

int sm_copy_guard_parse(const char *name)
{
	for (int i = 0; i < SM_GUARD__COUNT; i++)
		if (strcmp(guards[i].name, name) == 0)
			return (int)(1u << i);
	return 0;
}
