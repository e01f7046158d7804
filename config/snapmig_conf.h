/*
 * snapmig configuration: environments and aggregate definitions read from a
 * libconfig file (format: man/snapmig.conf.5).  Loading turns the file into
 * plain structs and compiled rules; nothing here knows about PostgreSQL.
 * A loaded sm_config is immutable and may be shared by threads.
 */
#ifndef SM_CONFIG_SNAPMIG_CONF_H
#define SM_CONFIG_SNAPMIG_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef struct sm_rules sm_rules;  /* config/rules.h */

/* The most parallel workers of a rebuild (jobs, -j), and as text. */
#define SM_MAX_JOBS 64
#define SM_MAX_JOBS_TEXT SM_STRINGIFY(SM_MAX_JOBS)
#define SM_STRINGIFY(x) SM_STRINGIFY_(x)
#define SM_STRINGIFY_(x) #x

/* Keys of `defaults`, overridable per environment. */
typedef struct sm_settings {
	int jobs;               /* parallel workers, 1..SM_MAX_JOBS (default 2) */
	char *source_schema;    /* default "public" */
	char *target_schema;    /* default "migration" */
	char *metadata_key;     /* default "snapshot_module_version" */
	int batch_size;         /* instances written per transaction (default 500) */
	long long copy_max_lag; /* copy guard: events a generated row may be behind
	                           its live stream before copy refuses (default 1000) */
	bool last_duplicate_wins; /* duplicate_keys = "last" (Poison); default "first",
	                             as Jason (Commanded 1.x) decodes a key given twice */
} sm_settings;

typedef struct sm_environment {
	char *name;
	char *conninfo;          /* as written; may contain a password (never print it) */
	char *password_env;      /* NULL when not set */
	bool protected_env;      /* config key `protected` */
	sm_settings settings;    /* defaults merged with this environment's overrides */
	int line;                /* where it is defined */
	const char *file;        /* borrowed from sm_config.files */
} sm_environment;

typedef struct sm_env_var {
	char *name;
	char *value;
} sm_env_var;

typedef struct sm_exec_reducer {
	char *command;           /* run with /bin/sh -c in sm_config.dir */
	int timeout_ms;          /* per message round trip; default 30000 */
	sm_env_var *env;         /* extra environment variables */
	size_t n_env;
} sm_exec_reducer;

typedef struct sm_aggregate {
	char *type;              /* source_type, e.g. "Elixir.Domain.StatusPage" */
	char *label;             /* given, or the last dotted segment of type */
	long long snapshot_version;
	sm_rules *rules;         /* the rules reducer, NULL when exec is used */
	sm_exec_reducer *exec;   /* the external reducer, NULL when rules are used */
	int line;
	const char *file;
} sm_aggregate;

typedef struct sm_config {
	char *path;              /* the main file as opened */
	char *dir;               /* its directory (includes and exec reducers are relative to it) */
	sm_settings defaults;
	sm_environment *envs;
	size_t n_envs;
	sm_aggregate *aggs;
	size_t n_aggs;
	char **warnings;         /* "file:line: text", e.g. password in a protected conninfo */
	size_t n_warnings;
	char **files;            /* every file read (main + includes), owned */
	size_t n_files;
} sm_config;

/*
 * Finds the configuration file: explicit (from -c) when not NULL, else
 * $SNAPMIG_CONFIG, else ./snapmig.conf, else $XDG_CONFIG_HOME/snapmig/snapmig.conf
 * (default ~/.config/snapmig/snapmig.conf), else /etc/snapmig.conf.
 * *path_out is malloc'ed (caller frees).  SM_ERR_CONFIG when none exists
 * (the message lists the places tried).
 */
int sm_config_locate(const char *explicit_path, char **path_out, sm_error *err);

/* Loads and validates; *out is owned by the caller (sm_config_free).
 * Errors are SM_ERR_CONFIG with err->file/err->line set and messages like
 * "aggregates[2].events[3].do, col 17: expected '=' after path". */
int sm_config_load(const char *path, sm_config **out, sm_error *err);
void sm_config_free(sm_config *cfg);

/*
 * The analysis of `snapmig check`, without a database: mistakes that load
 * but are probably wrong (an entry that can never apply, a read of state.x
 * when x is not a field of initial, `x ?= v` on a field, a statement that
 * meets a field's initial value of the wrong kind, an aggregate without
 * entries ...), each "file:line: where, col N: text", in the order of the
 * file per aggregate.  The load's own warnings stay in cfg->warnings.
 * Returns the count; *out is owned by the caller (sm_config_check_free).
 */
size_t sm_config_check(const sm_config *cfg, char ***out);
void sm_config_check_free(char **warnings, size_t n);

/* Lookups; NULL when absent.  find_aggregate accepts the type or the label. */
const sm_environment *sm_config_find_env(const sm_config *cfg, const char *name);
const sm_aggregate *sm_config_find_aggregate(const sm_config *cfg, const char *type_or_label);

#endif
