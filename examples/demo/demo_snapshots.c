/* The demo store's snapshots made by snapmig's engine; see demo_snapshots.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/snapmig.h"
#include "examples/demo/demo_snapshots.h"
#include "util/alloc.h"

/* Where the rebuild writes before the rows move into the store. */
#define SCRATCH_SCHEMA "snapmig_demo_scratch"

static sm_aggregate *find_agg(sm_config *cfg, const char *type_or_label)
{
	for (size_t i = 0; i < cfg->n_aggs; i++)
		if (strcmp(cfg->aggs[i].type, type_or_label) == 0 ||
		    strcmp(cfg->aggs[i].label, type_or_label) == 0)
			return &cfg->aggs[i];
	return NULL;
}

static int kind_of(const sm_aggregate *agg)
{
	for (int k = 0; k < demo_n_kinds; k++)
		if (strcmp(demo_kinds[k].type, agg->type) == 0)
			return k;
	return -1;
}

int demo_snapshots_prepare(const char *config_path, const char *bump,
			   demo_snapshots *ds, sm_error *err)
{
	char *list, *save = NULL;
	int rc;

	memset(ds, 0, sizeof *ds);
	if (demo_n_kinds > 16)
		return sm_error_set(err, SM_ERR_INTERNAL, "too many demo kinds");
	if ((rc = sm_config_load(config_path, &ds->cfg, err)))
		return rc;
	if (ds->cfg->n_envs == 0) {
		demo_snapshots_free(ds);
		return sm_error_set(err, SM_ERR_CONFIG, "%s: no environment (the rebuild needs one)",
				    config_path);
	}
	for (int k = 0; k < demo_n_kinds; k++) {
		sm_aggregate *agg = find_agg(ds->cfg, demo_kinds[k].type);

		if (!agg) {
			demo_snapshots_free(ds);
			return sm_error_set(err, SM_ERR_CONFIG,
					    "%s does not define %s, which the demo store holds",
					    config_path, demo_kinds[k].type);
		}
		ds->old_version[k] = agg->snapshot_version;
	}

	list = sm_xstrdup(bump ? bump : "none");
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "none") == 0)
			continue;
		for (int k = 0; k < demo_n_kinds; k++) {
			sm_aggregate *agg = find_agg(ds->cfg, demo_kinds[k].type);

			if (strcmp(tok, "all") != 0 && strcmp(tok, agg->type) != 0 &&
			    strcmp(tok, agg->label) != 0)
				continue;
			ds->bumped[k] = true;
		}
		if (strcmp(tok, "all") != 0) {
			sm_aggregate *agg = find_agg(ds->cfg, tok);

			if (!agg || kind_of(agg) < 0) {
				sm_error_set(err, SM_ERR_USAGE,
					     "--bump %s: not an aggregate of the demo store", tok);
				free(list);
				demo_snapshots_free(ds);
				return SM_ERR_USAGE;
			}
		}
	}
	free(list);
	for (int k = 0; k < demo_n_kinds; k++) {
		sm_aggregate *agg = find_agg(ds->cfg, demo_kinds[k].type);

		if (!ds->bumped[k])
			continue;
		/* A type at version 1 has no previous version; its snapshots
		 * then say 0, which no configuration matches: stale all the
		 * same (what `make bench` wants from --bump all). */
		ds->old_version[k] = agg->snapshot_version - 1;
		/* The "old definition": the same reducer at the previous
		 * module version. */
		agg->snapshot_version = ds->old_version[k];
	}
	ds->metadata_key = ds->cfg->envs[0].settings.metadata_key;
	return SM_OK;
}

void demo_snapshots_free(demo_snapshots *ds)
{
	sm_config_free(ds->cfg);
	ds->cfg = NULL;
}

/* Points the config's first environment at the demo database. */
static void aim_environment(sm_environment *env, const char *conninfo,
			    const char *schema, int jobs)
{
	free(env->conninfo);
	env->conninfo = sm_xstrdup(conninfo);
	free(env->password_env);
	env->password_env = NULL;
	free(env->settings.source_schema);
	env->settings.source_schema = sm_xstrdup(schema);
	free(env->settings.target_schema);
	env->settings.target_schema = sm_xstrdup(SCRATCH_SCHEMA);
	env->settings.jobs = jobs;
}

static void show_progress(const sm_progress *p, bool final)
{
	fprintf(stderr, "\r  folding: %lld of %lld events, %lld of %lld snapshots%s",
		p->total.events_done, p->total.events_planned,
		p->total.instances_done, p->total.instances_planned, final ? "\n" : "");
	fflush(stderr);
}

/* Runs the rebuild to the end; *failed: instances that failed. */
static int run_rebuild(demo_snapshots *ds, bool quiet, long long *failed, sm_error *err)
{
	const char *types[16];
	sm_rebuild_options ro = { 0 };
	sm_engine *eng = NULL;
	sm_run *run = NULL;
	sm_progress p = { 0 };
	bool tty = !quiet && isatty(STDERR_FILENO);
	int rc;

	for (int k = 0; k < demo_n_kinds; k++)
		types[k] = demo_kinds[k].type;
	ro.types = types;
	ro.n_types = (size_t)demo_n_kinds;
	if ((rc = sm_engine_open(ds->cfg, ds->cfg->envs[0].name, NULL, &eng, err)))
		return rc;
	if ((rc = sm_rebuild_start(eng, &ro, &run, err))) {
		sm_engine_close(eng);
		return rc;
	}
	while (!sm_run_finished(run)) {
		struct timespec ts = { 0, 250 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		if (tty) {
			sm_run_progress(run, &p);
			show_progress(&p, false);
			sm_progress_clear(&p);
		}
	}
	rc = sm_run_wait(run, err);
	sm_run_progress(run, &p);
	if (tty)
		show_progress(&p, true);
	*failed = p.total.failed;
	sm_progress_clear(&p);
	sm_run_free(run);

	if (!rc && *failed > 0 && !quiet) {
		sm_failure_list *fl = NULL;

		if (sm_failures_read(eng, NULL, -1, NULL, &fl, err) == SM_OK) {
			for (size_t i = 0; i < fl->n && i < 5; i++)
				fprintf(stderr, "  failed: %s %s v%lld: %s\n", fl->items[i].source_type,
					fl->items[i].source_uuid, fl->items[i].stream_version,
					fl->items[i].message);
			sm_failure_list_free(fl);
		}
		sm_error_clear(err);
	}
	sm_engine_close(eng);
	return rc;
}

int demo_snapshots_build(demo_snapshots *ds, PGconn *conn, const char *conninfo,
			 const demo_options *o, int jobs, long long *written,
			 long long *failed, sm_error *err)
{
	char *s = demo_ident(conn, o->schema);
	char *sql;
	PGresult *res;
	int rc;

	*written = *failed = 0;
	aim_environment(&ds->cfg->envs[0], conninfo, o->schema, jobs);
	if ((rc = demo_exec(conn, "DROP SCHEMA IF EXISTS " SCRATCH_SCHEMA " CASCADE", err)))
		goto out;
	if ((rc = run_rebuild(ds, o->quiet, failed, err))) {
		sm_error_prefix(err, "making the snapshots with the engine");
		goto out;
	}

	/* The rows as EventStore's upsert would have left them; created_at
	 * when the snapshot's last event was written. */
	sql = sm_xasprintf(
		"BEGIN;"
		"DELETE FROM %1$s.snapshots;"
		"INSERT INTO %1$s.snapshots (source_uuid, source_version, source_type, data, metadata, created_at)"
		" SELECT n.source_uuid, n.source_version, n.source_type, n.data, n.metadata,"
		"  p.base + n.source_version * p.step + interval '1.5 second'"
		" FROM " SCRATCH_SCHEMA ".snapshots n JOIN demo_plan p ON p.stream_uuid = n.source_uuid;"
		"COMMIT;"
		"DROP SCHEMA " SCRATCH_SCHEMA " CASCADE",
		s);
	rc = demo_exec(conn, sql, err);
	free(sql);
	if (rc)
		goto out;

	/* Snapshots of types still at version 1 sometimes lack the key
	 * (older Commanded wrote none; a missing key means version 1). */
	for (int k = 0; k < demo_n_kinds; k++) {
		const char *params[] = { demo_kinds[k].type };
		const char *meta = o->mode == SM_FIXTURE_BYTEA ? "convert_to('{}', 'UTF8')"
				 : o->mode == SM_FIXTURE_JSONB ? "'{}'::jsonb" : "to_jsonb('{}'::text)";

		if (ds->old_version[k] != 1)
			continue;
		sql = sm_xasprintf("UPDATE %s.snapshots SET metadata = %s WHERE source_type = $1"
				   " AND hashtext(source_uuid) %% 10 = 0", s, meta);
		res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
		free(sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			rc = sm_error_set(err, SM_ERR_DB, "%s", PQresultErrorMessage(res));
			PQclear(res);
			goto out;
		}
		PQclear(res);
	}

	sql = sm_xasprintf("SELECT count(*) FROM %s.snapshots", s);
	res = PQexec(conn, sql);
	free(sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*written = atoll(PQgetvalue(res, 0, 0));
	else
		rc = sm_error_set(err, SM_ERR_DB, "%s", PQresultErrorMessage(res));
	PQclear(res);
out:
	free(s);
	return rc;
}
