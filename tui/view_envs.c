/*
 * The environment picker: every configured environment with where it
 * points (never a password), whether it is protected and the last run in
 * its journal (looked up in the background, one call per environment).
 * Enter connects in the background with a spinner; a failure shows libpq's message
 * and what to check, and another environment can be picked.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct env_row {
	const sm_environment *env;
	char *where;
	tui_call *lookup;  /* the last run, or why it is unknown */
	char *last_run;
} env_row;

typedef struct envs_state {
	tui_list list;            /* over visible */
	env_row *rows;
	size_t n;
	int *visible;
	tui_call *connect;
	char *connecting;  /* the environment connect is for */
	char error[2048];
	char *autoconnect;
	unsigned cfg_generation;  /* the configuration the rows come from */
} envs_state;

static const int envs_cmds[] = {
	TUI_CMD_OPEN, TUI_CMD_FILTER, TUI_CMD_SORT_NEXT, TUI_CMD_REFRESH,
	TUI_CMD_HELP, TUI_CMD_BACK, TUI_CMD_NONE,
};

static const char *const envs_sorts[] = { "config order", "name", NULL };

/* "host:port/dbname" from the masked conninfo (which holds no password). */
static char *env_where(const char *conninfo)
{
	char *masked = sm_conninfo_masked(conninfo);
	char host[256] = "", port[32] = "", db[256] = "", service[256] = "";
	char *save = NULL, *out;

	for (char *tok = strtok_r(masked, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = 0;
		if (strcmp(tok, "host") == 0 || (strcmp(tok, "hostaddr") == 0 && !host[0]))
			snprintf(host, sizeof host, "%s", eq + 1);
		else if (strcmp(tok, "port") == 0)
			snprintf(port, sizeof port, "%s", eq + 1);
		else if (strcmp(tok, "dbname") == 0)
			snprintf(db, sizeof db, "%s", eq + 1);
		else if (strcmp(tok, "service") == 0)
			snprintf(service, sizeof service, "%s", eq + 1);
	}
	free(masked);
	if (service[0] && !host[0])
		out = sm_xasprintf("service %s%s%s", service, db[0] ? "/" : "", db);
	else
		out = sm_xasprintf("%s%s%s/%s", host[0] ? host : "(default host)",
				   port[0] ? ":" : "", port, db[0] ? db : "(default db)");
	return out;
}

/* The last run of the environment a->str, as text: never fails. */
static int lookup_fn(tui_call_args *a, void **out, sm_error *err)
{
	sm_engine *eng = NULL;
	sm_run_list *runs = NULL;
	int rc;

	rc = sm_engine_open(a->cfg, a->str, a->cancel, &eng, err);
	if (rc != SM_OK) {
		*out = sm_xstrdup(rc == SM_ERR_DB ? "cannot connect" : "not available");
		return SM_OK;
	}
	rc = sm_runs_read(eng, 1, a->cancel, &runs, err);
	if (rc != SM_OK || !runs || runs->n == 0) {
		*out = sm_xstrdup("no runs yet");
	} else {
		const sm_run_record *r = &runs->items[0];
		char when[17] = "";

		/* "2026-02-01 10:22" from ISO 8601. */
		if (r->started_at)
			snprintf(when, sizeof when, "%s", r->started_at);
		for (char *q = when; *q; q++)
			if (*q == 'T')
				*q = ' ';
		*out = sm_xasprintf("#%lld %s %s %s", r->run_id, r->kind ? r->kind : "?",
				    r->outcome ? r->outcome : "?", when);
	}
	sm_run_list_free(runs);
	sm_engine_close(eng);
	return SM_OK;
}

static void start_lookups(tui_app *app, envs_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		env_row *r = &s->rows[i];
		const tui_call_args in = { .cfg = app->cfg, .str = r->env->name };

		if (!r->lookup)
			r->lookup = tui_call_start(app, lookup_fn, free, &in);
	}
}

static int cmp_envs(const void *ctx, int a, int b)
{
	const envs_state *s = ctx;

	return s->list.sort == 0 ? a - b : strcmp(s->rows[a].env->name, s->rows[b].env->name);
}

static void apply_filter(tui_app *app, void *ctx)
{
	envs_state *s = ctx;
	const char *f = s->list.filter;
	int n = 0;

	(void)app;
	for (size_t i = 0; i < s->n; i++)
		if (!f[0] || strcasestr(s->rows[i].env->name, f) || strcasestr(s->rows[i].where, f))
			s->visible[n++] = (int)i;
	tui_sort_index(s->visible, n, cmp_envs, s, s->list.desc);
	s->list.n = n;
	tui_list_fit(&s->list);
}

static void free_rows(tui_app *app, envs_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		tui_call_drop(app, &s->rows[i].lookup);
		free(s->rows[i].where);
		free(s->rows[i].last_run);
	}
	free(s->rows);
	free(s->visible);
}

/* The rows of the configuration as last read. */
static void make_rows(tui_app *app, envs_state *s)
{
	s->cfg_generation = app->cfg_generation;
	s->n = app->cfg->n_envs;
	s->rows = sm_xcalloc(s->n + 1, sizeof *s->rows);
	s->visible = sm_xcalloc(s->n + 1, sizeof *s->visible);
	for (size_t i = 0; i < s->n; i++) {
		s->rows[i].env = &app->cfg->envs[i];
		s->rows[i].where = env_where(app->cfg->envs[i].conninfo);
	}
	apply_filter(app, s);
}

void *tui_envs_new(tui_app *app, const char *autoconnect)
{
	envs_state *s = sm_xcalloc(1, sizeof *s);

	s->autoconnect = sm_xstrdup(autoconnect);
	tui_list_init(&s->list, "the name or the address", NULL, envs_sorts, apply_filter, s);
	make_rows(app, s);
	return s;
}

/* The configuration was read again: its environments. */
static void follow_config(tui_app *app, envs_state *s)
{
	if (s->cfg_generation == app->cfg_generation)
		return;
	free_rows(app, s);
	make_rows(app, s);
	start_lookups(app, s);
}

/* Entering an environment reads the configuration file again first, so
 * that the environment works as the file says now. */
static void start_connect(tui_app *app, envs_state *s, const char *name)
{
	if (s->connect)
		return;
	s->error[0] = 0;
	if (!tui_config_reload(app)) {
		snprintf(s->error, sizeof s->error, "Cannot read the configuration file:\n%s\n"
			 "Fix it and try again.", app->cfg_error);
		return;
	}
	follow_config(app, s);
	if (!sm_config_find_env(app->cfg, name)) {
		snprintf(s->error, sizeof s->error, "There is no environment named \"%s\" in %s.",
			 name, app->cfg->path);
		return;
	}
	free(s->connecting);
	s->connecting = sm_xstrdup(name);
	s->connect = tui_engine_open_call(app, app->cfg, name);
}

/* r: the last runs again. */
static void envs_reload(tui_app *app, tui_view *v)
{
	start_lookups(app, v->state);
}

static void envs_enter(tui_app *app, tui_view *v)
{
	envs_state *s = v->state;

	if (s->autoconnect) {
		start_connect(app, s, s->autoconnect);
		/* The picker's own lookups only when it is actually shown. */
		if (!s->error[0])
			return;
	}
	start_lookups(app, s);
}

static unsigned envs_poll(tui_app *app, tui_view *v)
{
	envs_state *s = v->state;
	unsigned flags = s->connect ? TUI_REDRAW : TUI_NONE;

	sm_error err;
	void *out;
	int rc;

	if (s->cfg_generation != app->cfg_generation) {
		follow_config(app, s);
		flags = TUI_REDRAW;
	}
	for (size_t i = 0; i < s->n; i++) {
		env_row *r = &s->rows[i];

		if (r->lookup)
			flags |= TUI_REDRAW;
		if (tui_call_collect(app, &r->lookup, &rc, &out, NULL)) {
			free(r->last_run);
			r->last_run = out;
		}
	}
	if (tui_call_collect(app, &s->connect, &rc, &out, &err)) {
		if (rc == SM_OK) {
			tui_set_engine(app, out);
			tui_push(app, &tui_view_overview, tui_overview_new(app));
			return TUI_REDRAW;
		}
		sm_engine_close(out);
		snprintf(s->error, sizeof s->error,
			 "Cannot connect to %s:\n%s\n"
			 "Check: the host, port and dbname of its conninfo; that the server "
			 "runs and accepts connections; the user and password "
			 "(password_env, ~/.pgpass or a service file).",
			 s->connecting, err.message);
		/* Shown after a failed -e connect too: look the others up now. */
		start_lookups(app, s);
	}
	/* Back on the picker: leave the environment we were connected to. */
	if (tui_top(app) == v && app->eng && !tui_run_active(app) && !s->connect) {
		tui_close_engine(app);
		start_lookups(app, s);
	}
	return flags;
}

static void envs_draw(tui_app *app, tui_view *v, tui_rect r)
{
	envs_state *s = v->state;
	tui_col cols[] = {
		{ "Environment", 0, 12, false, 0, 0, 0 },
		{ "Where", 0, 24, false, 1, 0, 0 },
		{ "Protected", 9, 9, false, 3, 0, 0 },
		{ "Last run", 28, 28, false, 2, 0, 0 },
	};
	int y = r.y, err_h = 0;
	char status[320];

	tui_putf(y++, r.x + 1, r.w - 2, ST_NORMAL, "Pick an environment (config %s)",
		 app->cfg->path ? app->cfg->path : "");
	tui_put(y++, r.x + 1, r.w - 2, ST_WARN, tui_list_status(&s->list, status, sizeof status));
	tui_cols_layout(cols, 4, r.x + 3, r.w - 4);
	tui_cols_header(cols, 4, y++);
	tui_list_cols_begin(&s->list, cols, 4);
	if (s->error[0])
		err_h = 7;
	else if (s->connect)
		err_h = 2;
	tui_list_area(&s->list, y, r.y + r.h - y - err_h);
	for (int i = s->list.top; i < s->list.n && i < s->list.top + s->list.page; i++) {
		const env_row *row = &s->rows[s->visible[i]];
		bool cur = tui_list_row(&s->list, i, r.x + 1, r.w - 2);
		enum tui_style st = cur ? ST_CURSOR : ST_NORMAL;

		y = tui_list_y(&s->list, i);
		tui_put(y, r.x + 1, 1, cur ? ST_CURSOR : ST_MARK, row->env->protected_env ? "!" : " ");
		tui_cell(&cols[0], y, st, row->env->name);
		tui_cell(&cols[1], y, st, row->where);
		tui_cell(&cols[2], y, cur ? ST_CURSOR : ST_BAD,
			 row->env->protected_env ? "protected" : "");
		if (row->last_run)
			tui_cell(&cols[3], y, cur ? ST_CURSOR : ST_DIM, row->last_run);
		else if (row->lookup)
			tui_cell(&cols[3], y, cur ? ST_CURSOR : ST_DIM, tui_spinner(app->tick));
	}
	tui_list_cols_end(&s->list, cols, 4);
	if (s->n == 0)
		tui_put(s->list.y0, r.x + 3, r.w - 4, ST_WARN, "No environments in the configuration.");
	y = r.y + r.h - err_h;
	if (s->connect) {
		tui_putf(y + 1, r.x + 1, r.w - 2, ST_WARN, "%s Connecting to %s ...",
			 tui_spinner(app->tick), s->connecting);
	} else if (s->error[0]) {
		tui_put_wrapped(y, r.x + 1, r.w - 2, err_h, ST_BAD, s->error);
	}
}

static unsigned envs_key(tui_app *app, tui_view *v, int cmd, int key)
{
	envs_state *s = v->state;

	(void)key;
	switch (cmd) {
	case TUI_CMD_BACK:
		/* Back first stops waiting for a connection (the app finishes
		 * the call), then clears the filter. */
		if (!s->connect)
			return TUI_NONE;
		tui_call_drop(app, &s->connect);
		return TUI_REDRAW;
	case TUI_CMD_OPEN:
		if (s->list.n > 0 && !s->connect)
			start_connect(app, s, s->rows[s->visible[s->list.cur]].env->name);
		return TUI_REDRAW;
	default:
		return TUI_NONE;
	}
}

static void envs_leave(tui_app *app, tui_view *v)
{
	envs_state *s = v->state;

	free_rows(app, s);
	tui_call_drop(app, &s->connect);
	free(s->connecting);
	free(s->autoconnect);
}

const tui_view_ops tui_view_envs = {
	.title = "Environments", .list = true, .cmds = envs_cmds,
	.enter = envs_enter, .reload = envs_reload, .draw = envs_draw,
	.key = envs_key, .poll = envs_poll, .leave = envs_leave,
};
