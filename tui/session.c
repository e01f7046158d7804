/*
 * What the interface is connected to: the configuration file, read again
 * on r and when an environment is entered (and watched, so that the title
 * says when it changed on disk), and the engine of the environment.
 *
 * Nothing here waits on a thread.  An engine that is replaced or closed
 * while background calls still use it is retired and closed once the last
 * of them has ended; configurations stay until the interface ends, since
 * calls and engines borrow them.  A run is refused while the configuration
 * it would use is not the file as it is now (tui_config_current).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tui/app.h"
#include "util/alloc.h"
#include "util/clock.h"

/* How often the files are looked at (seconds). */
#define WATCH_INTERVAL 1.0

/* FNV-1a of the contents of every file of cfg (main file and includes):
 * what "the file changed" means; 0 when one cannot be read. */
static uint64_t files_hash(const sm_config *cfg)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < cfg->n_files; i++) {
		FILE *f = fopen(cfg->files[i], "rb");
		int c;

		if (!f)
			return 0;
		while ((c = getc(f)) != EOF) {
			h ^= (unsigned char)c;
			h *= 1099511628211ULL;
		}
		fclose(f);
		h ^= 0xff;          /* a file boundary */
		h *= 1099511628211ULL;
	}
	return h;
}

/* What stat says of the files, cheap to compare every second. */
static uint64_t files_stamp(const sm_config *cfg)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < cfg->n_files; i++) {
		struct stat st;
		uint64_t v[4] = { 0, 0, 0, 0 };

		if (stat(cfg->files[i], &st) == 0) {
			v[0] = (uint64_t)st.st_ino;
			v[1] = (uint64_t)st.st_size;
			v[2] = (uint64_t)st.st_mtim.tv_sec;
			v[3] = (uint64_t)st.st_mtim.tv_nsec;
		}
		for (int k = 0; k < 4; k++) {
			h ^= v[k];
			h *= 1099511628211ULL;
		}
	}
	return h;
}

/* cfg becomes the configuration the interface uses. */
static void remember(tui_app *app, const sm_config *cfg)
{
	app->cfg = cfg;
	app->cfg_hash = files_hash(cfg);
	app->cfg_stamp = files_stamp(cfg);
	app->cfg_changed = false;
	app->cfg_error[0] = 0;
	app->cfg_generation++;
}

void tui_config_init(tui_app *app, const sm_config *cfg)
{
	remember(app, cfg);
	app->cfg_checked = sm_now();
}

void tui_config_watch(tui_app *app)
{
	double now = sm_now();
	uint64_t stamp;

	if (now - app->cfg_checked < WATCH_INTERVAL)
		return;
	app->cfg_checked = now;
	stamp = files_stamp(app->cfg);
	if (stamp == app->cfg_stamp)
		return;
	app->cfg_stamp = stamp;
	/* Touched is not changed: the contents decide. */
	if ((files_hash(app->cfg) != app->cfg_hash) != app->cfg_changed) {
		app->cfg_changed = !app->cfg_changed;
		tui_redraw_all(app);
	}
}

bool tui_config_reload(tui_app *app)
{
	sm_config *cfg = NULL;
	sm_error err;

	if (files_hash(app->cfg) == app->cfg_hash && !app->cfg_error[0]) {
		app->cfg_changed = false;
		return true;        /* as it was read */
	}
	if (tui_run_active(app)) {
		app->cfg_changed = true;
		tui_message(app, ST_WARN, "The configuration file changed: it is read again "
			    "once the rebuild has ended (r)");
		return false;
	}
	if (sm_config_load(app->cfg->path, &cfg, &err) != SM_OK) {
		sm_error_format(&err, app->cfg_error, sizeof app->cfg_error);
		app->cfg_changed = true;
		tui_message(app, ST_BAD, "Configuration not read again: %s", app->cfg_error);
		tui_redraw_all(app);
		return false;
	}
	app->owned_cfgs = sm_xrealloc(app->owned_cfgs,
				      (app->n_owned_cfgs + 1) * sizeof *app->owned_cfgs);
	app->owned_cfgs[app->n_owned_cfgs++] = cfg;
	remember(app, cfg);
	tui_message(app, ST_GOOD, "Configuration read again from %s", cfg->path);
	tui_redraw_all(app);
	return true;
}

bool tui_config_current(const tui_app *app)
{
	return !app->cfg_changed && !app->reopen &&
	       (!app->eng || sm_engine_config(app->eng) == app->cfg);
}

const char *tui_config_stale_text(const tui_app *app)
{
	if (app->cfg_error[0])
		return "The configuration file has an error (see the title): fix it, then r";
	if (app->cfg_changed)
		return "The configuration file changed since it was read: r reads it again";
	if (app->reopen || (app->eng && sm_engine_config(app->eng) != app->cfg))
		return "Connecting with the configuration read again: wait a moment";
	return "";
}

/* ---------------------------------------------------------------- engine */

TUI_CALL_FN(open, sm_engine, sm_engine_open(a->cfg, a->str, a->cancel, &res, err), sm_engine_close)

tui_call *tui_engine_open_call(tui_app *app, const sm_config *cfg, const char *env)
{
	const tui_call_args in = { .cfg = cfg, .str = env };

	return tui_call_start(app, open_fn, open_free, &in);
}

/* eng is no longer the app's: closed now, or once no call uses it. */
static void retire(tui_app *app, sm_engine *eng)
{
	if (!eng)
		return;
	if (!tui_calls_use(app, eng, NULL)) {
		sm_engine_close(eng);
		return;
	}
	app->retired = sm_xrealloc(app->retired, (app->n_retired + 1) * sizeof *app->retired);
	app->retired[app->n_retired++] = eng;
}

int tui_engines_reap(tui_app *app)
{
	size_t k = 0;

	for (size_t i = 0; i < app->n_retired; i++) {
		if (tui_calls_use(app, app->retired[i], NULL))
			app->retired[k++] = app->retired[i];
		else
			sm_engine_close(app->retired[i]);
	}
	app->n_retired = k;
	return (int)k;
}

static void drop_run(tui_app *app)
{
	if (!app->run)
		return;
	if (!sm_run_finished(app->run))
		sm_run_cancel(app->run);
	if (app->have_progress)
		sm_progress_clear(&app->progress);
	app->have_progress = false;
	sm_run_free(app->run);
	app->run = NULL;
}

void tui_set_engine(tui_app *app, sm_engine *eng)
{
	tui_close_engine(app);
	app->eng = eng;
	app->where = sm_engine_describe(eng);
	app->data_generation++;
	tui_redraw_all(app);
}

void tui_close_engine(tui_app *app)
{
	tui_call_drop(app, &app->reopen);
	if (!app->eng)
		return;
	drop_run(app);
	retire(app, app->eng);
	app->eng = NULL;
	free(app->where);
	app->where = NULL;
	tui_redraw_all(app);
}

/* The configuration was read again while connected: connect with it (in
 * the background; the old engine serves until then). */
void tui_engine_follow_config(tui_app *app)
{
	const char *env;

	if (!app->eng || sm_engine_config(app->eng) == app->cfg || tui_run_active(app))
		return;
	tui_call_drop(app, &app->reopen);
	env = sm_engine_env(app->eng)->name;
	if (!sm_config_find_env(app->cfg, env)) {
		tui_message(app, ST_BAD, "Environment %s is no longer in %s", env, app->cfg->path);
		return;
	}
	app->reopen = tui_engine_open_call(app, app->cfg, env);
}

void tui_engine_poll(tui_app *app)
{
	sm_error err;
	void *out;
	int rc;

	tui_engines_reap(app);
	if (!tui_call_collect(app, &app->reopen, &rc, &out, &err))
		return;
	if (rc != SM_OK) {
		open_free(out);
		tui_message(app, ST_BAD, "Cannot connect with the configuration read again: %s",
			    err.message);
		return;
	}
	/* The views read their data again with the new engine. */
	tui_set_engine(app, out);
}

void tui_session_end(tui_app *app)
{
	tui_close_engine(app);
	tui_engines_reap(app);
	free(app->retired);
	app->retired = NULL;
	for (size_t i = 0; i < app->n_owned_cfgs; i++)
		sm_config_free(app->owned_cfgs[i]);
	free(app->owned_cfgs);
	app->owned_cfgs = NULL;
	app->n_owned_cfgs = 0;
}
