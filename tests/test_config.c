/*
 * Loading snapmig.conf: every place it is looked for, @include, defaults
 * and per-environment overrides, the exec reducer settings, and every
 * error of the format with its exact file:line.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/snapmig_conf.h"
#include "config/rules.h"
#include "tests/testlib.h"

/* The example of the issue (and of snapmig.conf(5)), line for line. */
static const char example[] =
	"defaults = {\n"
	"  jobs = 2;                                   # parallel workers (connections)\n"
	"  source_schema = \"public\";                   # the live event store\n"
	"  target_schema = \"migration\";                # where new snapshots are generated\n"
	"  metadata_key = \"snapshot_module_version\";   # key of the module version in snapshot metadata\n"
	"};\n"
	"\n"
	"environments = (\n"
	"  { name = \"local\";\n"
	"    conninfo = \"host=localhost dbname=local_eventstore user=postgres\"; },\n"
	"  { name = \"prod\";\n"
	"    conninfo = \"service=prod-eventstore\";\n"
	"    password_env = \"PROD_EVENTSTORE_PASSWORD\";\n"
	"    protected = true;\n"
	"    jobs = 4; }\n"
	");\n"
	"\n"
	"aggregates = (\n"
	"  { type = \"Elixir.Domain.StatusPage\";\n"
	"    label = \"StatusPage\";\n"
	"    snapshot_version = 4;\n"
	"    initial = \"{id: null, components: {}, scraped_components: {}, subscriptions: []}\";\n"
	"    events = (\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.Created\";  do = \"id = event.id\"; },\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.ComponentAdded\";\n"
	"        do = \"scraped_components[event.component_id] ?= event.component_id\"; },\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.ComponentRemoved\";\n"
	"        do = \"delete scraped_components[event.component_id]; delete components[event.component_id]\"; },\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.ComponentStatusChanged\";\n"
	"        do = \"components[event.component_id] = [event.status, event.changed_at, event.change_id]\"; },\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.SubscriptionAdded\";\n"
	"        do = \"prepend subscriptions {id: event.subscription_id, component_id: event.component_id, account_id: event.account_id}\"; },\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.SubscriptionRemoved\";\n"
	"        do = \"remove subscriptions where it.id == event.subscription_id\"; },\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.Reset\";\n"
	"        do = \"components = {}; scraped_components = {}; subscriptions = []\"; },\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.Paused\"; },\n"
	"      { on = \"Elixir.Domain.StatusPage.Events.Removed\"; do = \"reset\"; }\n"
	"    ); },\n"
	"  { type = \"Elixir.Domain.Team\";\n"
	"    snapshot_version = 1;\n"
	"    initial = \"{id: null, member_ids: []}\";\n"
	"    events = (\n"
	"      { on = \"Elixir.Domain.Team.Events.MemberAdded\";\n"
	"        when = \"not (event.user_id in state.member_ids)\"; do = \"append member_ids event.user_id\"; },\n"
	"      { on = \"Elixir.Domain.Team.Events.MemberAdded\"; },\n"
	"      { on = \"Elixir.Domain.Team.Events.MemberRemoved\"; do = \"remove member_ids where it == event.user_id\"; }\n"
	"    ); },\n"
	"  { type = \"Elixir.Domain.Account\";\n"
	"    snapshot_version = 2;\n"
	"    reducer = { exec = \"mix run --no-start priv/snapmig_reducer.exs\"; }; }\n"
	");\n";

static sm_config *load_ok(const char *path)
{
	sm_config *cfg = NULL;
	sm_error err;
	char buf[1400];

	ck_assert_msg(sm_config_load(path, &cfg, &err) == 0, "load failed: %s", sm_error_format(&err, buf, sizeof buf));
	return cfg;
}

static sm_config *load_text(const char *text)
{
	char *path = tl_write_file(NULL, "snapmig.conf", text);
	sm_config *cfg = load_ok(path);

	free(path);
	return cfg;
}

/* Loads text and expects the error "<path>:<line>: <message>". */
static void expect_error(const char *text, int line, const char *message)
{
	char *path = tl_write_file(NULL, "snapmig.conf", text);
	sm_config *cfg = NULL;
	sm_error err;
	char got[1400], want[1400];

	ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err.file, path);
	sm_error_format(&err, got, sizeof got);
	snprintf(want, sizeof want, "%s:%d: %s", path, line, message);
	ck_assert_msg(strcmp(got, want) == 0, "\n  got      %s\n  expected %s", got, want);
	free(path);
}

/* -------------------------------------------------------- contents */

START_TEST(test_the_documented_example_loads)
{
	sm_config *cfg = load_text(example);
	const sm_environment *prod;
	const sm_aggregate *sp, *team, *acc;

	ck_assert_uint_eq(cfg->n_envs, 2);
	ck_assert_uint_eq(cfg->n_aggs, 3);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	prod = sm_config_find_env(cfg, "prod");
	ck_assert_ptr_nonnull(prod);
	ck_assert_str_eq(prod->conninfo, "service=prod-eventstore");
	ck_assert_str_eq(prod->password_env, "PROD_EVENTSTORE_PASSWORD");
	ck_assert(prod->protected_env);
	ck_assert_int_eq(prod->settings.jobs, 4);
	ck_assert_int_eq(prod->line, 11);
	ck_assert_int_eq(cfg->envs[0].settings.jobs, 2);
	ck_assert(!cfg->envs[0].protected_env);
	ck_assert_ptr_null(cfg->envs[0].password_env);

	sp = sm_config_find_aggregate(cfg, "StatusPage");
	ck_assert_ptr_nonnull(sp);
	ck_assert_str_eq(sp->type, "Elixir.Domain.StatusPage");
	ck_assert_int_eq(sp->snapshot_version, 4);
	ck_assert_ptr_nonnull(sp->rules);
	ck_assert_ptr_null(sp->exec);
	ck_assert(sm_rules_handles(sp->rules, "Elixir.Domain.StatusPage.Events.Paused"));
	team = sm_config_find_aggregate(cfg, "Elixir.Domain.Team");
	ck_assert_str_eq(team->label, "Team");
	acc = sm_config_find_aggregate(cfg, "Account");
	ck_assert_ptr_null(acc->rules);
	ck_assert_str_eq(acc->exec->command, "mix run --no-start priv/snapmig_reducer.exs");
	ck_assert_int_eq(acc->exec->timeout_ms, 30000);
	ck_assert_uint_eq(acc->exec->n_env, 0);
	ck_assert_int_eq(acc->line, 49);
	sm_config_free(cfg);
}
END_TEST

START_TEST(test_defaults_apply_when_nothing_is_set)
{
	sm_config *cfg = load_text("environments = ({ name = \"a\"; conninfo = \"\"; });\n");

	ck_assert_int_eq(cfg->defaults.jobs, 2);
	ck_assert_str_eq(cfg->defaults.source_schema, "public");
	ck_assert_str_eq(cfg->defaults.target_schema, "migration");
	ck_assert_str_eq(cfg->defaults.metadata_key, "snapshot_module_version");
	ck_assert_int_eq(cfg->defaults.batch_size, 500);
	ck_assert_int_eq(cfg->defaults.copy_max_lag, 1000);
	ck_assert(!cfg->defaults.last_duplicate_wins);
	ck_assert_int_eq(cfg->envs[0].settings.batch_size, 500);
	ck_assert_str_eq(cfg->envs[0].settings.target_schema, "migration");
	sm_config_free(cfg);
}
END_TEST

START_TEST(test_every_key_of_defaults_can_be_overridden_per_environment)
{
	sm_config *cfg = load_text(
		"defaults = { jobs = 3; metadata_key = \"snapshot_version\"; batch_size = 100; copy_max_lag = 5; };\n"
		"environments = (\n"
		" { name = \"a\"; conninfo = \"dbname=a\"; },\n"
		" { name = \"b\"; conninfo = \"dbname=b\"; jobs = 64; source_schema = \"live\"; target_schema = \"gen\";\n"
		"   metadata_key = \"v\"; batch_size = 7; copy_max_lag = 0; duplicate_keys = \"last\"; }\n"
		");\n");
	const sm_settings *a = &cfg->envs[0].settings, *b = &cfg->envs[1].settings;

	ck_assert_int_eq(a->jobs, 3);
	ck_assert_str_eq(a->metadata_key, "snapshot_version");
	ck_assert_int_eq(a->batch_size, 100);
	ck_assert_int_eq(a->copy_max_lag, 5);
	ck_assert_int_eq(b->jobs, 64);
	ck_assert_str_eq(b->source_schema, "live");
	ck_assert_str_eq(b->target_schema, "gen");
	ck_assert_str_eq(b->metadata_key, "v");
	ck_assert_int_eq(b->batch_size, 7);
	ck_assert_int_eq(b->copy_max_lag, 0);
	ck_assert(!a->last_duplicate_wins);
	ck_assert(b->last_duplicate_wins);
	sm_config_free(cfg);
}
END_TEST

START_TEST(test_exec_reducer_settings)
{
	sm_config *cfg = load_text(
		"aggregates = ({ type = \"Elixir.A\"; snapshot_version = 1;\n"
		"  reducer = { exec = \"python3 r.py\"; timeout_ms = 500; env = { MIX_ENV = \"prod\"; X_1 = \"\"; }; }; });\n");
	const sm_exec_reducer *ex = cfg->aggs[0].exec;

	ck_assert_str_eq(ex->command, "python3 r.py");
	ck_assert_int_eq(ex->timeout_ms, 500);
	ck_assert_uint_eq(ex->n_env, 2);
	ck_assert_str_eq(ex->env[0].name, "MIX_ENV");
	ck_assert_str_eq(ex->env[0].value, "prod");
	ck_assert_str_eq(ex->env[1].name, "X_1");
	ck_assert_str_eq(cfg->aggs[0].label, "A");
	sm_config_free(cfg);
}
END_TEST

START_TEST(test_dir_is_the_absolute_directory_of_the_file)
{
	char *path = tl_write_file(NULL, "snapmig.conf", "");
	char *dir = strdup(path);
	char cwd[4096];
	sm_config *cfg;

	*strrchr(dir, '/') = '\0';
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir(dir), 0);
	cfg = load_ok("snapmig.conf");
	ck_assert_str_eq(cfg->path, "snapmig.conf");
	ck_assert_str_eq(cfg->dir, dir);
	ck_assert_uint_eq(cfg->n_envs, 0);
	sm_config_free(cfg);
	ck_assert_int_eq(chdir(cwd), 0);
	free(dir);
	free(path);
}
END_TEST

/* --------------------------------------------------------- include */

START_TEST(test_include_reads_files_next_to_the_main_file)
{
	char *inc = tl_write_file(NULL, "team-aggregates.conf",
		"aggregates = ({ type = \"Elixir.T\"; snapshot_version = 2; initial = \"{n: 0}\";\n"
		"  events = ({ on = \"E\"; do = \"n += 1\"; }); });\n");
	char *dir = strdup(inc), *path;
	sm_config *cfg;

	*strrchr(dir, '/') = '\0';
	path = tl_write_file(dir, "snapmig.conf",
		"environments = ({ name = \"x\"; conninfo = \"\"; });\n"
		"@include \"team-aggregates.conf\"\n");
	cfg = load_ok(path);
	ck_assert_uint_eq(cfg->n_aggs, 1);
	ck_assert_str_eq(cfg->aggs[0].file, inc);
	ck_assert_int_eq(cfg->aggs[0].line, 1);
	ck_assert_str_eq(cfg->envs[0].file, path);
	ck_assert_uint_eq(cfg->n_files, 2);
	sm_config_free(cfg);
	free(path);
	free(dir);
	free(inc);
}
END_TEST

START_TEST(test_errors_in_an_included_file_name_that_file)
{
	char *inc = tl_write_file(NULL, "more.conf",
		"aggregates = ({ type = \"Elixir.T\"; snapshot_version = 2;\n"
		"  events = ({ on = \"E\";\n"
		"     do = \"n + 1\"; }); });\n");
	char *dir = strdup(inc), *path;
	sm_config *cfg = NULL;
	sm_error err;
	char got[1400], want[1400];

	*strrchr(dir, '/') = '\0';
	path = tl_write_file(dir, "snapmig.conf", "@include \"more.conf\"\n");
	ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
	snprintf(want, sizeof want, "%s:3: aggregates[0].events[0].do, col 3: unexpected character '+'", inc);
	ck_assert_str_eq(sm_error_format(&err, got, sizeof got), want);
	/* A syntax error inside the included file. */
	free(tl_write_file(dir, "more.conf", "aggregates = (\n  { type = ; }\n);\n"));
	ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
	ck_assert_str_eq(err.file, inc);
	ck_assert_int_eq(err.line, 2);
	free(path);
	free(dir);
	free(inc);
}
END_TEST

START_TEST(test_include_of_a_missing_file_or_a_directory_is_an_error)
{
	char *path = tl_write_file(NULL, "snapmig.conf", "defaults = { jobs = 2; };\n@include \"nope.conf\"\n");
	char *dir = strdup(path);
	sm_config *cfg = NULL;
	sm_error err;
	char got[1400], want[1400];

	*strrchr(dir, '/') = '\0';
	ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
	snprintf(want, sizeof want, "%s:2: @include \"nope.conf\": cannot read %s/nope.conf: No such file or directory",
		 path, dir);
	ck_assert_str_eq(sm_error_format(&err, got, sizeof got), want);
	free(path);
	/* libconfig itself would exit() the program on this one. */
	path = tl_write_file(dir, "snapmig.conf", "@include \"\"\n");
	ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
	snprintf(want, sizeof want, "%s:1: @include \"\": cannot read %s/: not a regular file", path, dir);
	ck_assert_str_eq(sm_error_format(&err, got, sizeof got), want);
	/* An include cycle ends with an error, not a loop. */
	free(path);
	path = tl_write_file(dir, "snapmig.conf", "@include \"snapmig.conf\"\n");
	ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.message, "includes nested deeper than 10 levels"));
	free(path);
	free(dir);
}
END_TEST

/* -------------------------------------------------------- locating */

static char *locate(const char *explicit_path, sm_error *err)
{
	char *p = NULL;

	sm_error_clear(err);
	if (sm_config_locate(explicit_path, &p, err) != 0)
		return NULL;
	return p;
}

START_TEST(test_locate_prefers_explicit_then_env_then_cwd_then_xdg)
{
	char *explicit_file = tl_write_file(NULL, "a.conf", "");
	char *env_file = tl_write_file(NULL, "b.conf", "");
	char *cwd_file = tl_write_file(NULL, "snapmig.conf", "");
	char *xdg_file = tl_write_file(NULL, "snapmig.conf", "");
	char *home_file;
	char *cwd_dir = strdup(cwd_file), *xdg_dir, *home_dir, *p;
	char old_cwd[4096], want[4200];
	sm_error err;

	/* xdg_file lives in X/snapmig.conf; XDG_CONFIG_HOME must be X's parent
	 * with snapmig/ inside: make that layout. */
	*strrchr(cwd_dir, '/') = '\0';
	xdg_dir = strdup(xdg_file);
	*strrchr(xdg_dir, '/') = '\0';
	free(xdg_file);
	{
		char sub[4200];

		snprintf(sub, sizeof sub, "%s/snapmig", xdg_dir);
		ck_assert_int_eq(mkdir(sub, 0700), 0);
		xdg_file = tl_write_file(sub, "snapmig.conf", "");
	}
	home_dir = strdup(env_file);
	*strrchr(home_dir, '/') = '\0';
	{
		char sub[4200];

		snprintf(sub, sizeof sub, "%s/.config", home_dir);
		ck_assert_int_eq(mkdir(sub, 0700), 0);
		snprintf(sub, sizeof sub, "%s/.config/snapmig", home_dir);
		ck_assert_int_eq(mkdir(sub, 0700), 0);
		home_file = tl_write_file(sub, "snapmig.conf", "");
	}
	ck_assert_ptr_nonnull(getcwd(old_cwd, sizeof old_cwd));
	ck_assert_int_eq(chdir(cwd_dir), 0);
	setenv("SNAPMIG_CONFIG", env_file, 1);
	setenv("XDG_CONFIG_HOME", xdg_dir, 1);
	setenv("HOME", home_dir, 1);

	p = locate(explicit_file, &err);
	ck_assert_str_eq(p, explicit_file);
	free(p);
	p = locate(NULL, &err);
	ck_assert_str_eq(p, env_file);
	free(p);
	unsetenv("SNAPMIG_CONFIG");
	p = locate(NULL, &err);
	ck_assert_str_eq(p, "./snapmig.conf");
	free(p);
	ck_assert_int_eq(unlink(cwd_file), 0);
	p = locate(NULL, &err);
	ck_assert_str_eq(p, xdg_file);
	free(p);
	unsetenv("XDG_CONFIG_HOME");
	p = locate(NULL, &err);
	ck_assert_str_eq(p, home_file);
	free(p);
	ck_assert_int_eq(unlink(home_file), 0);
	if (access("/etc/snapmig.conf", R_OK) != 0) {
		ck_assert_ptr_null(locate(NULL, &err));
		snprintf(want, sizeof want,
			 "no configuration file found (tried -c, $SNAPMIG_CONFIG, ./snapmig.conf, "
			 "%s/.config/snapmig/snapmig.conf, /etc/snapmig.conf)", home_dir);
		ck_assert_str_eq(err.message, want);
		ck_assert_int_eq(err.code, SM_ERR_CONFIG);
	}
	ck_assert_int_eq(chdir(old_cwd), 0);
	free(explicit_file);
	free(env_file);
	free(cwd_file);
	free(xdg_file);
	free(home_file);
	free(cwd_dir);
	free(xdg_dir);
	free(home_dir);
}
END_TEST

START_TEST(test_locate_never_falls_back_from_an_explicit_choice)
{
	sm_error err;

	ck_assert_ptr_null(locate("/nonexistent/x.conf", &err));
	ck_assert_str_eq(err.message, "cannot read configuration file /nonexistent/x.conf: No such file or directory");
	setenv("SNAPMIG_CONFIG", "/nonexistent/y.conf", 1);
	ck_assert_ptr_null(locate(NULL, &err));
	ck_assert_str_eq(err.message,
			 "cannot read configuration file /nonexistent/y.conf (from $SNAPMIG_CONFIG): No such file or directory");
	unsetenv("SNAPMIG_CONFIG");
}
END_TEST

/* ---------------------------------------------------------- errors */

START_TEST(test_syntax_error_names_file_and_line)
{
	expect_error("defaults = {\n  jobs = 2\n  x = ;\n};\n", 3, "syntax error");
}
END_TEST

START_TEST(test_unknown_keys_are_errors_everywhere)
{
	expect_error("defaults = { jobs = 2; };\nenvironmnets = ();\n", 2,
		     "environmnets: unknown key (allowed: defaults, environments, aggregates)");
	expect_error("defaults = {\n  job = 2;\n};\n", 2,
		     "defaults.job: unknown key (allowed: jobs, source_schema, target_schema, metadata_key, batch_size, copy_max_lag,"
		     " duplicate_keys)");
	expect_error("environments = (\n { name = \"a\"; conninfo = \"\";\n   protect = true; }\n);\n", 3,
		     "environments[0].protect: unknown key (allowed: name, conninfo, password_env, protected and the keys of defaults)");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1; events = ();\n   snapshot_every = 5; }\n);\n", 3,
		     "aggregates[0].snapshot_every: unknown key (allowed: type, label, snapshot_version, initial, events, reducer)");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1; events = (\n   { on = \"E\"; doo = \"x = 1\"; }); }\n);\n", 3,
		     "aggregates[0].events[0].doo: unknown key (allowed: on, when, do)");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1;\n   reducer = { exec = \"x\"; timeout = 5; }; }\n);\n", 3,
		     "aggregates[0].reducer.timeout: unknown key (allowed: exec, timeout_ms, env)");
}
END_TEST

START_TEST(test_wrong_types_and_ranges_are_errors)
{
	expect_error("defaults = {\n  jobs = \"2\";\n};\n", 2, "defaults.jobs: expected an integer, got a string");
	expect_error("defaults = {\n  jobs = 65;\n};\n", 2, "defaults.jobs: 65 is out of range (1..64)");
	expect_error("defaults = {\n  jobs = 0;\n};\n", 2, "defaults.jobs: 0 is out of range (1..64)");
	expect_error("defaults = {\n  duplicate_keys = \"last-wins\";\n};\n", 2,
		     "defaults.duplicate_keys: \"last-wins\" is not \"first\" or \"last\"");
	expect_error("environments = (\n { name = \"a\"; conninfo = \"\"; protected = \"yes\"; }\n);\n", 2,
		     "environments[0].protected: expected true or false, got a string");
	expect_error("defaults = { source_schema = \"s\";\n  target_schema = \"s\"; };\n", 1,
		     "defaults: source_schema and target_schema are both \"s\"; they must differ");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 0; events = (); }\n);\n", 2,
		     "aggregates[0].snapshot_version: 0 is out of range (1..9223372036854775807)");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1; events = ();\n   reducer = { exec = \"x\"; }; }\n);\n", 3,
		     "aggregates[0]: has both events and reducer; use one of them");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1; }\n);\n", 2,
		     "aggregates[0]: aggregate \"A\" needs events (rules) or reducer = { exec = \"...\"; }");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1; initial = \"{}\";\n   reducer = { exec = \"x\"; }; }\n);\n", 2,
		     "aggregates[0].initial: only used with events; an exec reducer starts from its own initial state");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1;\n   reducer = { exec = \"x\"; env = { BAD-NAME = \"1\"; }; }; }\n);\n", 3,
		     "aggregates[0].reducer.env.BAD-NAME: not a valid environment variable name");
}
END_TEST

START_TEST(test_duplicates_are_errors_at_the_second_definition)
{
	char want[1400];

	{
		char *p2 = tl_write_file(NULL, "snapmig.conf",
			"environments = (\n { name = \"a\"; conninfo = \"\"; },\n { conninfo = \"\";\n   name = \"a\"; }\n);\n");
		sm_config *cfg = NULL;
		sm_error err;
		char got[1400];

		ck_assert_int_eq(sm_config_load(p2, &cfg, &err), SM_ERR_CONFIG);
		snprintf(want, sizeof want,
			 "%s:4: environments[1].name: duplicate environment name \"a\" (first defined at %s:2)", p2, p2);
		ck_assert_str_eq(sm_error_format(&err, got, sizeof got), want);
		free(p2);
		p2 = tl_write_file(NULL, "snapmig.conf",
			"aggregates = (\n { type = \"X.A\"; snapshot_version = 1; events = (); },\n"
			" { snapshot_version = 1; events = ();\n   type = \"X.A\"; }\n);\n");
		ck_assert_int_eq(sm_config_load(p2, &cfg, &err), SM_ERR_CONFIG);
		snprintf(want, sizeof want,
			 "%s:4: aggregates[1].type: duplicate aggregate type \"X.A\" (first defined at %s:2)", p2, p2);
		ck_assert_str_eq(sm_error_format(&err, got, sizeof got), want);
		free(p2);
		p2 = tl_write_file(NULL, "snapmig.conf",
			"aggregates = (\n { type = \"X.A\"; snapshot_version = 1; events = (); },\n"
			" { type = \"Y.A\"; snapshot_version = 1; events = (); }\n);\n");
		ck_assert_int_eq(sm_config_load(p2, &cfg, &err), SM_ERR_CONFIG);
		snprintf(want, sizeof want,
			 "%s:3: aggregates[1]: label \"A\" is already used by X.A (%s:2); set a distinct label", p2, p2);
		ck_assert_str_eq(sm_error_format(&err, got, sizeof got), want);
		free(p2);
	}
}
END_TEST

START_TEST(test_missing_required_keys_are_errors)
{
	expect_error("aggregates = (\n { type = \"Elixir.A\";\n   events = (); }\n);\n", 2,
		     "aggregates[0]: aggregate \"Elixir.A\" has no snapshot_version");
	expect_error("environments = (\n { conninfo = \"x\";\n   protected = true; }\n);\n", 2,
		     "environments[0]: a protected environment needs a name (copying into it asks to type that name)");
	expect_error("environments = (\n { conninfo = \"x\"; }\n);\n", 2, "environments[0]: missing name");
	expect_error("environments = (\n { name = \"a\"; }\n);\n", 2, "environments[0]: environment \"a\" has no conninfo");
	expect_error("aggregates = (\n { snapshot_version = 1; events = (); }\n);\n", 2,
		     "aggregates[0]: missing type (the source_type of its snapshots)");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1; events = (\n   { do = \"x = 1\"; }); }\n);\n", 3,
		     "aggregates[0].events[0]: missing on (the event type)");
}
END_TEST

START_TEST(test_rule_errors_name_line_of_the_string_and_column)
{
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1; initial = \"{x: 0, a: 0, b: 0, c: 0}\";\n   events = (\n"
		     "     { on = \"E1\"; do = \"x = 1\"; },\n     { on = \"E2\"; },\n     { on = \"E3\"; },\n"
		     "     { on = \"E4\";\n       do = \"a = 1; b = 2; c 3\"; }\n   ); }\n);\n", 8,
		     "aggregates[0].events[3].do, col 17: expected '=' after path");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1;\n   events = (\n"
		     "     { on = \"E1\";\n       when = \"event.x = 1\"; }\n   ); }\n);\n", 5,
		     "aggregates[0].events[0].when, col 9: '=' assigns; compare with '=='");
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1;\n   initial = \"{a: 1\";\n   events = (); }\n);\n", 3,
		     "aggregates[0].initial, col 6: expected ',' or '}' in the object opened at col 1, got end of text");
}
END_TEST

/* issue 18.6: a rule split over several lines names the line the error
 * is on, and the column in that line's piece of the string. */
START_TEST(test_errors_in_a_rule_split_over_lines_name_the_real_line_and_column)
{
	static const char head[] =
		"aggregates = (\n"
		" { type = \"A\"; snapshot_version = 1; initial = \"{x: 0, l: []}\";\n"
		"   events = (\n";
	static const char tail[] = "   ); }\n);\n";
	char text[2048];

	snprintf(text, sizeof text, "%s"
		 "     { on = \"E\";\n"
		 "       do = \"x = 1; \"            # the first piece\n"
		 "            \"append l 2; \"\n"
		 "            /* a comment */ \"x = 1 ~ ; \"\n"
		 "            \"l = []\"; }\n%s", head, tail);
	expect_error(text, 7, "aggregates[0].events[0].do, col 9: expected a value, got ';'");
	/* A place referred to on another line names its line too. */
	snprintf(text, sizeof text, "%s"
		 "     { on = \"E\"; do = \"x = (\"\n"
		 "                      \"1; \"; }\n%s", head, tail);
	expect_error(text, 5, "aggregates[0].events[0].do, col 2: expected ')' to close the '(' at line 4, col 5, got ';'");
	/* when, and two entries on one line: the second's own column. */
	snprintf(text, sizeof text, "%s"
		 "     { on = \"E1\"; do = \"x = 1\"; }, { on = \"E2\"; do = \"x = ;\"; },\n"
		 "     { on = \"E3\"; when = \"exists event.x and\"\n"
		 "                    \" event.y = 1\"; }\n%s", head, tail);
	expect_error(text, 4, "aggregates[0].events[1].do, col 5: expected a value, got ';'");
	snprintf(text, sizeof text, "%s"
		 "     { on = \"E3\"; when = \"exists event.x and\"\n"
		 "                    \" event.y = 1\"; }\n%s", head, tail);
	expect_error(text, 5, "aggregates[0].events[0].when, col 10: '=' assigns; compare with '=='");
	/* initial, and escapes counted as written in the file. */
	expect_error("aggregates = (\n { type = \"A\"; snapshot_version = 1;\n"
		     "   initial = \"{x: 0,\"\n             \" l: [1 2]}\";\n   events = (); }\n);\n", 4,
		     "aggregates[0].initial, col 8: expected ',' or ']' in the list opened at line 4, col 5, got a number");
	snprintf(text, sizeof text, "%s     { on = \"E\"; do = \"x = \\\"a\\\" ~ #\"; }\n%s", head, tail);
	expect_error(text, 4, "aggregates[0].events[0].do, col 13: unexpected character '#'");
}
END_TEST

/* issue 18.4: snapmig check's analysis, without a database. */
START_TEST(test_check_names_file_and_line_of_each_warning)
{
	char *path = tl_write_file(NULL, "snapmig.conf",
		"aggregates = (\n"
		" { type = \"Elixir.A\"; snapshot_version = 1; initial = \"{x: 0, l: []}\";\n"
		"   events = (\n"
		"     { on = \"Elixir.A.E\";\n"
		"       do = \"x = 1; \"\n"
		"            \"append l state.y\"; },\n"
		"     { on = \"Elixir.A.F\"; when = \"false\"; }\n"
		"   ); },\n"
		" { type = \"Elixir.B\"; snapshot_version = 1; events = (); }\n"
		");\n");
	sm_config *cfg = load_ok(path);
	char **w, want[3][600];
	size_t n = sm_config_check(cfg, &w);

	snprintf(want[0], sizeof want[0], "%s:6: aggregates[0].events[0].do, col 10: state.y is read, but y is "
		 "not a field of initial, so it is always null", path);
	snprintf(want[1], sizeof want[1], "%s:7: aggregates[0].events[1].when, col 1: never holds (its value "
		 "is known when the file is loaded), so the entry never applies", path);
	snprintf(want[2], sizeof want[2], "%s:9: aggregates[1]: Elixir.B has no entries, so every instance "
		 "with an event fails as an unknown event ({ on = \"*\"; } ignores any event)", path);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(w[i], want[i]);
	sm_config_check_free(w, n);
	sm_config_free(cfg);
	/* The documented example and examples/snapmig.conf are clean. */
	cfg = load_text(example);
	ck_assert_uint_eq(sm_config_check(cfg, &w), 0);
	sm_config_check_free(w, 0);
	sm_config_free(cfg);
	free(path);
	{
		const char *srcdir = getenv("SNAPMIG_SRCDIR");

		ck_assert(asprintf(&path, "%s/examples/snapmig.conf", srcdir ? srcdir : ".") > 0);
		cfg = load_ok(path);
		n = sm_config_check(cfg, &w);
		ck_assert_msg(n == 0, "%s", n ? w[0] : "");
		sm_config_check_free(w, n);
		sm_config_free(cfg);
		free(path);
	}
}
END_TEST

START_TEST(test_password_in_a_protected_conninfo_is_a_warning)
{
	sm_config *cfg = NULL;
	char *path = tl_write_file(NULL, "snapmig.conf",
		"environments = (\n"
		" { name = \"p1\"; protected = true;\n   conninfo = \"host=db password=secret\"; },\n"
		" { name = \"p2\"; protected = true;\n   conninfo = \"postgresql://u:secret@db/x\"; },\n"
		" { name = \"p3\"; protected = true;\n   conninfo = \"postgresql://db/x?user=u&password=s\"; },\n"
		" { name = \"p4\"; protected = true; conninfo = \"host=db user=u\"; password_env = \"P\"; },\n"
		" { name = \"p5\"; protected = true; conninfo = \"postgresql://u@db:5432/x\"; },\n"
		" { name = \"p6\"; protected = true; conninfo = \"application_name='password=no'\"; },\n"
		" { name = \"dev\"; conninfo = \"password=dev\"; }\n"
		");\n");
	char want[1400];

	cfg = load_ok(path);
	ck_assert_uint_eq(cfg->n_warnings, 3);
	snprintf(want, sizeof want,
		 "%s:3: environment \"p1\" is protected but its conninfo contains a password; "
		 "keep it out of the file with password_env, ~/.pgpass or a service file", path);
	ck_assert_str_eq(cfg->warnings[0], want);
	ck_assert_ptr_nonnull(strstr(cfg->warnings[1], ":5: environment \"p2\""));
	ck_assert_ptr_nonnull(strstr(cfg->warnings[2], ":7: environment \"p3\""));
	sm_config_free(cfg);
	free(path);
}
END_TEST

START_TEST(test_a_file_that_cannot_be_read_is_an_error)
{
	sm_config *cfg = NULL;
	sm_error err;

	ck_assert_int_eq(sm_config_load("/nonexistent/snapmig.conf", &cfg, &err), SM_ERR_CONFIG);
	ck_assert_str_eq(err.message, "cannot read configuration file /nonexistent/snapmig.conf: No such file or directory");
}
END_TEST

START_TEST(test_the_shipped_example_configuration_loads)
{
	const char *srcdir = getenv("SNAPMIG_SRCDIR");
	char path[4096];
	sm_config *cfg;

	snprintf(path, sizeof path, "%s/examples/snapmig.conf", srcdir ? srcdir : ".");
	cfg = load_ok(path);
	ck_assert_ptr_nonnull(sm_config_find_env(cfg, "demo"));
	ck_assert_ptr_nonnull(sm_config_find_aggregate(cfg, "StatusPage"));
	ck_assert_ptr_nonnull(sm_config_find_aggregate(cfg, "Team"));
	ck_assert_ptr_nonnull(sm_config_find_aggregate(cfg, "Account")->exec);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	sm_config_free(cfg);
}
END_TEST

/* The demo's Monitor aggregate: counters, decimals, incidents, tags. */
START_TEST(test_the_shipped_monitor_rules_fold_a_realistic_stream)
{
	const char *srcdir = getenv("SNAPMIG_SRCDIR");
	static const struct { const char *type, *data; } evs[] = {
		{ "Created", "{\"monitor_id\":\"m1\",\"status_page_id\":\"sp1\",\"name\":\"API\",\"url\":\"https://x/api\",\"interval_s\":60}" },
		{ "Reconfigured", "{\"monitor_id\":\"m1\",\"changes\":{\"interval_s\":30,\"method\":\"HEAD\"}}" },
		{ "CheckSucceeded", "{\"monitor_id\":\"m1\",\"region\":\"eu-west\",\"checked_at\":\"t1\",\"latency_ms\":41.7}" },
		{ "CheckSucceeded", "{\"monitor_id\":\"m1\",\"region\":\"us-east\",\"checked_at\":\"t2\",\"latency_ms\":0.3}" },
		{ "CheckFailed", "{\"monitor_id\":\"m1\",\"region\":\"eu-west\",\"checked_at\":\"t3\",\"error\":\"timeout\"}" },
		{ "IncidentOpened", "{\"monitor_id\":\"m1\",\"incident_id\":\"i1\",\"opened_at\":\"t3\",\"cause\":\"timeout\"}" },
		{ "IncidentOpened", "{\"monitor_id\":\"m1\",\"incident_id\":\"i2\",\"opened_at\":\"t4\",\"cause\":\"dns\"}" },
		{ "IncidentResolved", "{\"monitor_id\":\"m1\",\"incident_id\":\"i1\",\"resolved_at\":\"t5\"}" },
		{ "TagAdded", "{\"monitor_id\":\"m1\",\"tag\":\"prod\"}" },
		{ "TagAdded", "{\"monitor_id\":\"m1\",\"tag\":\"prod\"}" },
		{ "RegionRemoved", "{\"monitor_id\":\"m1\",\"region\":\"us-east\"}" },
		{ "Archived", "{\"monitor_id\":\"m1\",\"archived_at\":\"t6\"}" },
	};
	char path[4096];
	sm_config *cfg;
	const sm_aggregate *mon;
	json_object *st, *meta = json_tokener_parse("{\"user_id\":\"u7\"}");

	snprintf(path, sizeof path, "%s/examples/snapmig.conf", srcdir ? srcdir : ".");
	cfg = load_ok(path);
	mon = sm_config_find_aggregate(cfg, "Monitor");
	ck_assert_ptr_nonnull(mon);
	st = sm_rules_initial(mon->rules);
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		char type[128];
		json_object *d = json_tokener_parse(evs[i].data);
		sm_event_view ev = { type, (long long)i + 1, "m1", d, meta };
		sm_error err;

		snprintf(type, sizeof type, "Elixir.Domain.Monitor.Events.%s", evs[i].type);
		ck_assert_msg(sm_rules_apply(mon->rules, &st, &ev, &err) == SM_APPLY_OK, "%s: %s", type, err.message);
		json_object_put(d);
	}
	ck_assert_str_eq(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		"{\"id\":\"m1\",\"status_page_id\":\"sp1\",\"name\":\"API\","
		"\"config\":{\"url\":\"https://x/api\",\"interval_s\":30,\"method\":\"HEAD\"},"
		"\"stats\":{\"checks\":3,\"failures\":1,\"incidents\":1,\"total_latency_ms\":42.0},"
		"\"regions\":{\"eu-west\":{\"status\":\"down\",\"at\":\"t3\",\"error\":\"timeout\"}},"
		"\"last_check_at\":\"t3\",\"open_incident\":null,"
		"\"incident_history\":[{\"id\":\"i1\",\"opened_at\":\"t3\",\"resolved_at\":\"t5\",\"label\":\"incident i1\"}],"
		"\"tags\":[\"prod\"],\"archived_at\":\"t6\",\"archived_by\":\"u7\"}");
	json_object_put(st);
	json_object_put(meta);
	sm_config_free(cfg);
}
END_TEST

int main(void)
{
	TCase *ld = tcase_create("load");
	TCase *er = tcase_create("errors");

	tcase_add_test(ld, test_the_documented_example_loads);
	tcase_add_test(ld, test_defaults_apply_when_nothing_is_set);
	tcase_add_test(ld, test_every_key_of_defaults_can_be_overridden_per_environment);
	tcase_add_test(ld, test_exec_reducer_settings);
	tcase_add_test(ld, test_dir_is_the_absolute_directory_of_the_file);
	tcase_add_test(ld, test_include_reads_files_next_to_the_main_file);
	tcase_add_test(ld, test_errors_in_an_included_file_name_that_file);
	tcase_add_test(ld, test_include_of_a_missing_file_or_a_directory_is_an_error);
	tcase_add_test(ld, test_locate_prefers_explicit_then_env_then_cwd_then_xdg);
	tcase_add_test(ld, test_locate_never_falls_back_from_an_explicit_choice);
	tcase_add_test(ld, test_the_shipped_example_configuration_loads);
	tcase_add_test(ld, test_the_shipped_monitor_rules_fold_a_realistic_stream);
	tcase_add_test(er, test_syntax_error_names_file_and_line);
	tcase_add_test(er, test_unknown_keys_are_errors_everywhere);
	tcase_add_test(er, test_wrong_types_and_ranges_are_errors);
	tcase_add_test(er, test_duplicates_are_errors_at_the_second_definition);
	tcase_add_test(er, test_missing_required_keys_are_errors);
	tcase_add_test(er, test_rule_errors_name_line_of_the_string_and_column);
	tcase_add_test(er, test_errors_in_a_rule_split_over_lines_name_the_real_line_and_column);
	tcase_add_test(er, test_check_names_file_and_line_of_each_warning);
	tcase_add_test(er, test_password_in_a_protected_conninfo_is_a_warning);
	tcase_add_test(er, test_a_file_that_cannot_be_read_is_an_error);
	return tl_run_cases("config", ld, er, (TCase *)NULL);
}
