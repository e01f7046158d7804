/*
 * Loading snapmig.conf (libconfig syntax) into the plain structs of
 * config.h.  Every key is checked: an unknown key, a value of the wrong type
 * or a duplicate is an error naming file:line, because a typo in this file
 * must never be silently ignored.  Rule strings are compiled here, once.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_origin.h"
#include "config/snapmig_conf.h"
#include "config/rules.h"
#include "util/alloc.h"

#define DEFAULT_JOBS 2
#define DEFAULT_BATCH_SIZE 500
#define MAX_BATCH_SIZE 1000000
#define DEFAULT_COPY_MAX_LAG 1000
#define DEFAULT_TIMEOUT_MS 30000
/* PostgreSQL's NAMEDATALEN - 1: the longest identifier it keeps whole. */
#define MAX_IDENTIFIER_BYTES 63

/* ------------------------------------------------------------ locating */

/* 0 when path is a readable regular file, else an errno value. */
static int check_readable(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	if (access(path, R_OK) != 0)
		return errno;
	return 0;
}

int sm_config_locate(const char *explicit_path, char **path_out, sm_error *err)
{
	const char *env = getenv("SNAPMIG_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *candidates[3];
	size_t n = 0;
	char tried[900];
	size_t used = 0;

	*path_out = NULL;
	/* An explicit choice (-c or $SNAPMIG_CONFIG) is never replaced by a
	 * fallback: a typo in it must be an error, not another file. */
	if (explicit_path || (env && *env)) {
		const char *p = explicit_path ? explicit_path : env;
		int e = check_readable(p);

		if (e)
			return sm_error_set(err, SM_ERR_CONFIG, "cannot read configuration file %s%s: %s",
					    p, explicit_path ? "" : " (from $SNAPMIG_CONFIG)",
					    e == EINVAL ? "not a regular file" : strerror(e));
		*path_out = sm_xstrdup(p);
		return SM_OK;
	}
	candidates[n++] = sm_xstrdup("./snapmig.conf");
	if (xdg && xdg[0] == '/')
		candidates[n++] = sm_xasprintf("%s/snapmig/snapmig.conf", xdg);
	else if (home && *home)
		candidates[n++] = sm_xasprintf("%s/.config/snapmig/snapmig.conf", home);
	candidates[n++] = sm_xstrdup("/etc/snapmig.conf");
	tried[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!*path_out && check_readable(candidates[i]) == 0) {
			*path_out = candidates[i];
			continue;
		}
		if (!*path_out) {
			int w = snprintf(tried + used, sizeof tried - used, "%s%s",
					 i ? ", " : "", candidates[i]);

			if (w > 0 && (size_t)w < sizeof tried - used)
				used += (size_t)w;
		}
		free(candidates[i]);
	}
	if (*path_out)
		return SM_OK;
	return sm_error_set(err, SM_ERR_CONFIG,
			    "no configuration file found (tried -c, $SNAPMIG_CONFIG, %s)", tried);
}

/* ------------------------------------------------------------- loading */

/* State of one load: where errors go and what has been built so far. */
typedef struct loader {
	sm_config *cfg;
	sm_error *err;
	sm_source_files *sources;  /* file texts, for where rule strings are */
} loader;

/* The name of a file read, owned by cfg->files.  libconfig names an
 * included file as written after @include; it was opened relative to
 * cfg->dir, so that is how errors name it. */
static const char *own_file(loader *ld, const char *file)
{
	sm_config *cfg = ld->cfg;
	char *full;

	if (!file)
		return cfg->n_files ? cfg->files[0] : "";
	if (cfg->n_files && strcmp(file, cfg->files[0]) == 0)
		return cfg->files[0];
	full = file[0] == '/' || !cfg->n_files ? sm_xstrdup(file)
		: sm_xasprintf("%s/%s", cfg->dir, file);
	for (size_t i = 0; i < cfg->n_files; i++) {
		if (strcmp(cfg->files[i], full) == 0) {
			free(full);
			return cfg->files[i];
		}
	}
	cfg->files = sm_xrealloc(cfg->files, (cfg->n_files + 1) * sizeof *cfg->files);
	cfg->files[cfg->n_files] = full;
	return cfg->files[cfg->n_files++];
}

static const char *file_of(loader *ld, const config_setting_t *s)
{
	return own_file(ld, config_setting_source_file(s));
}

static int line_of(const config_setting_t *s)
{
	return (int)config_setting_source_line(s);
}

static int fail_at(loader *ld, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sm_error_setv(ld->err, SM_ERR_CONFIG, fmt, ap);
	va_end(ap);
	snprintf(ld->err->file, sizeof ld->err->file, "%s", file_of(ld, s));
	ld->err->line = line_of(s);
	return SM_ERR_CONFIG;
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a floating-point number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "nothing";
	}
}

/* Checks that every member of group s is in allowed (NULL-terminated); the
 * error names the allowed keys as hint says, or lists them when hint is
 * NULL. */
static int check_keys(loader *ld, const config_setting_t *s, const char *where,
		      const char *const *allowed, const char *hint)
{
	int n = config_setting_length(s);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(m);
		bool ok = false;
		char list[256];
		size_t len = 0;

		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, name) == 0;
		if (ok)
			continue;
		list[0] = '\0';
		for (const char *const *a = allowed; !hint && *a && len < sizeof list; a++)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
						a == allowed ? "" : ", ", *a);
		return fail_at(ld, m, "%s%s%s: unknown key (allowed: %s)",
			       where, *where ? "." : "", name, hint ? hint : list);
	}
	return SM_OK;
}

/* Checks that s is a group (written as shape in the error: "{ ... }")
 * whose keys are all allowed (check_keys). */
static int check_group(loader *ld, const config_setting_t *s, const char *where,
		       const char *shape, const char *const *allowed, const char *hint)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail_at(ld, s, "%s: expected a group %s, got %s", where, shape, type_name(s));
	return check_keys(ld, s, where, allowed, hint);
}

static int get_string(loader *ld, const config_setting_t *m, const char *where,
		      const char *key, bool nonempty, const char **out)
{
	if (config_setting_type(m) != CONFIG_TYPE_STRING)
		return fail_at(ld, m, "%s.%s: expected a string, got %s", where, key, type_name(m));
	*out = config_setting_get_string(m);
	if (nonempty && !**out)
		return fail_at(ld, m, "%s.%s: must not be empty", where, key);
	return SM_OK;
}

static int get_int(loader *ld, const config_setting_t *m, const char *where,
		   const char *key, long long min, long long max, long long *out)
{
	if (config_setting_type(m) != CONFIG_TYPE_INT && config_setting_type(m) != CONFIG_TYPE_INT64)
		return fail_at(ld, m, "%s.%s: expected an integer, got %s", where, key, type_name(m));
	*out = config_setting_get_int64(m);
	if (*out < min || *out > max)
		return fail_at(ld, m, "%s.%s: %lld is out of range (%lld..%lld)",
			       where, key, *out, min, max);
	return SM_OK;
}

/* Keys shared by `defaults` and environments (read_settings reads them). */
#define SETTINGS_KEYS \
	"jobs", "source_schema", "target_schema", "metadata_key", "batch_size", "copy_max_lag", \
	"duplicate_keys"
static const char *const settings_keys[] = { SETTINGS_KEYS, NULL };

/* Applies the settings keys present in group s onto *st (which already
 * holds the inherited values; strings are owned by *st). */
static int read_settings(loader *ld, const config_setting_t *s, const char *where, sm_settings *st)
{
	int n = config_setting_length(s);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(m);
		const char *str;
		long long v;
		char **target = NULL;

		if (strcmp(name, "jobs") == 0) {
			if (get_int(ld, m, where, name, 1, SM_MAX_JOBS, &v))
				return SM_ERR_CONFIG;
			st->jobs = (int)v;
		} else if (strcmp(name, "batch_size") == 0) {
			if (get_int(ld, m, where, name, 1, MAX_BATCH_SIZE, &v))
				return SM_ERR_CONFIG;
			st->batch_size = (int)v;
		} else if (strcmp(name, "copy_max_lag") == 0) {
			if (get_int(ld, m, where, name, 0, LLONG_MAX, &v))
				return SM_ERR_CONFIG;
			st->copy_max_lag = v;
		} else if (strcmp(name, "source_schema") == 0) {
			target = &st->source_schema;
		} else if (strcmp(name, "target_schema") == 0) {
			target = &st->target_schema;
		} else if (strcmp(name, "metadata_key") == 0) {
			target = &st->metadata_key;
		} else if (strcmp(name, "duplicate_keys") == 0) {
			if (get_string(ld, m, where, name, true, &str))
				return SM_ERR_CONFIG;
			if (strcmp(str, "first") == 0)
				st->last_duplicate_wins = false;
			else if (strcmp(str, "last") == 0)
				st->last_duplicate_wins = true;
			else
				return fail_at(ld, m, "%s.duplicate_keys: \"%s\" is not \"first\" or \"last\"",
					       where, str);
		}
		if (target) {
			if (get_string(ld, m, where, name, true, &str))
				return SM_ERR_CONFIG;
			/* PostgreSQL cuts longer names to 63 bytes, silently in SQL:
			 * "<63-byte schema>_migration" would be the source schema. */
			if (target != &st->metadata_key && strlen(str) > MAX_IDENTIFIER_BYTES)
				return fail_at(ld, m, "%s.%s: \"%s\" is %zu bytes long; PostgreSQL cuts names "
					       "to %d bytes, so it could name another schema (choose a shorter name)",
					       where, name, str, strlen(str), MAX_IDENTIFIER_BYTES);
			free(*target);
			*target = sm_xstrdup(str);
		}
	}
	return SM_OK;
}

static int check_schemas(loader *ld, const config_setting_t *s, const char *where,
			 const sm_settings *st)
{
	/* Generating into the live schema would overwrite live snapshots
	 * without the copy step's guards. */
	if (strcmp(st->source_schema, st->target_schema) == 0)
		return fail_at(ld, s, "%s: source_schema and target_schema are both \"%s\"; they must differ",
			       where, st->source_schema);
	return SM_OK;
}

static void settings_copy(sm_settings *dst, const sm_settings *src)
{
	*dst = *src;
	dst->source_schema = sm_xstrdup(src->source_schema);
	dst->target_schema = sm_xstrdup(src->target_schema);
	dst->metadata_key = sm_xstrdup(src->metadata_key);
}

static void settings_free(sm_settings *st)
{
	free(st->source_schema);
	free(st->target_schema);
	free(st->metadata_key);
}

/*
 * Does a libpq conninfo carry a password?  Key/value form ("password=...")
 * or URI form (postgresql://user:secret@host, ?password=...).  Written here
 * because config must not depend on libpq; it only has to recognise the
 * two documented syntaxes.
 */
static bool conninfo_has_password(const char *ci)
{
	if (strncmp(ci, "postgresql://", 13) == 0 || strncmp(ci, "postgres://", 11) == 0) {
		const char *p = strstr(ci, "://") + 3;
		const char *end = p + strcspn(p, "/?");
		const char *at = NULL;
		const char *q;

		for (q = p; q < end; q++)
			if (*q == '@')
				at = q;
		if (at && memchr(p, ':', (size_t)(at - p)))
			return true;
		q = strchr(p, '?');
		while (q) {
			q++;
			if (strncmp(q, "password=", 9) == 0)
				return true;
			q = strchr(q, '&');
		}
		return false;
	}
	for (const char *p = ci; *p;) {
		const char *key;
		size_t klen;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		key = p;
		while (*p && *p != '=' && *p != ' ' && *p != '\t')
			p++;
		klen = (size_t)(p - key);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			return false; /* not a conninfo libpq would accept */
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (klen == 8 && memcmp(key, "password", 8) == 0)
			return true;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p)
				p++;
		} else {
			while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
		}
	}
	return false;
}

static void add_warning(loader *ld, const config_setting_t *s, const char *text)
{
	sm_config *cfg = ld->cfg;

	cfg->warnings = sm_xrealloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof *cfg->warnings);
	cfg->warnings[cfg->n_warnings++] = sm_xasprintf("%s:%d: %s", file_of(ld, s), line_of(s), text);
}

static const char *const env_keys[] = {
	"name", "conninfo", "password_env", "protected", SETTINGS_KEYS, NULL
};

static int read_environment(loader *ld, const config_setting_t *s, size_t index)
{
	sm_config *cfg = ld->cfg;
	sm_environment *env = &cfg->envs[cfg->n_envs];
	char where[64];
	const config_setting_t *m;
	const char *str;

	snprintf(where, sizeof where, "environments[%zu]", index);
	memset(env, 0, sizeof *env);
	/* The slot counts as used from here on so that sm_config_free frees
	 * whatever was filled in before an error. */
	cfg->n_envs++;
	env->line = line_of(s);
	env->file = file_of(ld, s);
	settings_copy(&env->settings, &cfg->defaults);
	if (check_group(ld, s, where, "{ ... }", env_keys,
			"name, conninfo, password_env, protected and the keys of defaults"))
		return SM_ERR_CONFIG;
	if ((m = config_setting_get_member(s, "protected"))) {
		if (config_setting_type(m) != CONFIG_TYPE_BOOL)
			return fail_at(ld, m, "%s.protected: expected true or false, got %s", where, type_name(m));
		env->protected_env = config_setting_get_bool(m) != 0;
	}
	m = config_setting_get_member(s, "name");
	if (!m) {
		if (env->protected_env)
			return fail_at(ld, s, "%s: a protected environment needs a name "
				       "(copying into it asks to type that name)", where);
		return fail_at(ld, s, "%s: missing name", where);
	}
	if (get_string(ld, m, where, "name", true, &str))
		return SM_ERR_CONFIG;
	env->name = sm_xstrdup(str);
	for (size_t i = 0; i + 1 < cfg->n_envs; i++)
		if (strcmp(cfg->envs[i].name, env->name) == 0)
			return fail_at(ld, m, "%s.name: duplicate environment name \"%s\" (first defined at %s:%d)",
				       where, env->name, cfg->envs[i].file, cfg->envs[i].line);
	m = config_setting_get_member(s, "conninfo");
	if (!m)
		return fail_at(ld, s, "%s: environment \"%s\" has no conninfo", where, env->name);
	if (get_string(ld, m, where, "conninfo", false, &str))
		return SM_ERR_CONFIG;
	env->conninfo = sm_xstrdup(str);
	if ((m = config_setting_get_member(s, "password_env"))) {
		if (get_string(ld, m, where, "password_env", true, &str))
			return SM_ERR_CONFIG;
		env->password_env = sm_xstrdup(str);
	}
	if (read_settings(ld, s, where, &env->settings))
		return SM_ERR_CONFIG;
	if (check_schemas(ld, s, where, &env->settings))
		return SM_ERR_CONFIG;
	if (env->protected_env && conninfo_has_password(env->conninfo)) {
		char *text = sm_xasprintf(
			"environment \"%s\" is protected but its conninfo contains a password; "
			"keep it out of the file with password_env, ~/.pgpass or a service file",
			env->name);

		add_warning(ld, config_setting_get_member(s, "conninfo"), text);
		free(text);
	}
	return SM_OK;
}

static const char *const exec_keys[] = { "exec", "timeout_ms", "env", NULL };

static bool valid_env_name(const char *name)
{
	if (!*name || (*name >= '0' && *name <= '9'))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

static int read_exec(loader *ld, const config_setting_t *s, const char *agg_where, sm_aggregate *agg)
{
	char where[80];
	const config_setting_t *m;
	const char *str;
	long long v;
	sm_exec_reducer *ex;

	snprintf(where, sizeof where, "%s.reducer", agg_where);
	if (check_group(ld, s, where, "{ exec = \"...\"; }", exec_keys, NULL))
		return SM_ERR_CONFIG;
	ex = agg->exec = sm_xcalloc(1, sizeof *ex);
	ex->timeout_ms = DEFAULT_TIMEOUT_MS;
	m = config_setting_get_member(s, "exec");
	if (!m)
		return fail_at(ld, s, "%s: missing exec (the command that runs the reducer)", where);
	if (get_string(ld, m, where, "exec", true, &str))
		return SM_ERR_CONFIG;
	ex->command = sm_xstrdup(str);
	if ((m = config_setting_get_member(s, "timeout_ms"))) {
		if (get_int(ld, m, where, "timeout_ms", 1, 86400000, &v))
			return SM_ERR_CONFIG;
		ex->timeout_ms = (int)v;
	}
	if ((m = config_setting_get_member(s, "env"))) {
		int n;

		if (config_setting_type(m) != CONFIG_TYPE_GROUP)
			return fail_at(ld, m, "%s.env: expected a group { NAME = \"value\"; }, got %s",
				       where, type_name(m));
		n = config_setting_length(m);
		ex->env = sm_xcalloc((size_t)n + 1, sizeof *ex->env);
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
			const char *name = config_setting_name(e);

			if (!valid_env_name(name))
				return fail_at(ld, e, "%s.env.%s: not a valid environment variable name",
					       where, name);
			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return fail_at(ld, e, "%s.env.%s: expected a string, got %s",
					       where, name, type_name(e));
			ex->env[ex->n_env].name = sm_xstrdup(name);
			ex->env[ex->n_env].value = sm_xstrdup(config_setting_get_string(e));
			ex->n_env++;
		}
	}
	return SM_OK;
}

static const char *const event_keys[] = { "on", "when", "do", NULL };

/* Fills srcs[] from the events list; the strings stay owned by libconfig
 * (alive until config_destroy), the `where` texts by the caller (wheres). */
static int read_events(loader *ld, const config_setting_t *list, const char *agg_where,
		       sm_rule_source *srcs, char (*wheres)[128])
{
	int n = config_setting_length(list);

	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *m;
		sm_rule_source *r = &srcs[i];

		snprintf(wheres[i], sizeof wheres[i], "%s.events[%d]", agg_where, i);
		memset(r, 0, sizeof *r);
		r->where = wheres[i];
		r->line = line_of(e);
		if (check_group(ld, e, wheres[i], "{ on = \"...\"; do = \"...\"; }", event_keys, NULL))
			return SM_ERR_CONFIG;
		m = config_setting_get_member(e, "on");
		if (!m)
			return fail_at(ld, e, "%s: missing on (the event type)", wheres[i]);
		if (get_string(ld, m, wheres[i], "on", true, &r->on))
			return SM_ERR_CONFIG;
		if ((m = config_setting_get_member(e, "when"))) {
			if (get_string(ld, m, wheres[i], "when", true, &r->when))
				return SM_ERR_CONFIG;
			r->when_line = line_of(m);
			r->when_origin = sm_text_origin_in(ld->sources, file_of(ld, m), r->when_line,
							   "when", r->when);
		}
		if ((m = config_setting_get_member(e, "do"))) {
			if (get_string(ld, m, wheres[i], "do", false, &r->do_stmts))
				return SM_ERR_CONFIG;
			r->do_line = line_of(m);
			r->do_origin = sm_text_origin_in(ld->sources, file_of(ld, m), r->do_line,
							 "do", r->do_stmts);
		}
	}
	return SM_OK;
}

static const char *const agg_keys[] = {
	"type", "label", "snapshot_version", "initial", "events", "reducer", NULL
};

static int read_aggregate(loader *ld, const config_setting_t *s, size_t index)
{
	sm_config *cfg = ld->cfg;
	sm_aggregate *agg = &cfg->aggs[cfg->n_aggs];
	char where[64];
	const config_setting_t *m, *events, *reducer, *initial;
	const char *str;
	long long v;

	snprintf(where, sizeof where, "aggregates[%zu]", index);
	memset(agg, 0, sizeof *agg);
	cfg->n_aggs++;
	agg->line = line_of(s);
	agg->file = file_of(ld, s);
	if (check_group(ld, s, where, "{ ... }", agg_keys, NULL))
		return SM_ERR_CONFIG;
	m = config_setting_get_member(s, "type");
	if (!m)
		return fail_at(ld, s, "%s: missing type (the source_type of its snapshots)", where);
	if (get_string(ld, m, where, "type", true, &str))
		return SM_ERR_CONFIG;
	agg->type = sm_xstrdup(str);
	for (size_t i = 0; i + 1 < cfg->n_aggs; i++)
		if (strcmp(cfg->aggs[i].type, agg->type) == 0)
			return fail_at(ld, m, "%s.type: duplicate aggregate type \"%s\" (first defined at %s:%d)",
				       where, agg->type, cfg->aggs[i].file, cfg->aggs[i].line);
	if ((m = config_setting_get_member(s, "label"))) {
		if (get_string(ld, m, where, "label", true, &str))
			return SM_ERR_CONFIG;
		agg->label = sm_xstrdup(str);
	} else {
		const char *dot = strrchr(agg->type, '.');

		agg->label = sm_xstrdup(dot && dot[1] ? dot + 1 : agg->type);
	}
	for (size_t i = 0; i + 1 < cfg->n_aggs; i++)
		if (strcmp(cfg->aggs[i].label, agg->label) == 0)
			return fail_at(ld, m ? m : s,
				       "%s: label \"%s\" is already used by %s (%s:%d); set a distinct label",
				       where, agg->label, cfg->aggs[i].type, cfg->aggs[i].file, cfg->aggs[i].line);
	m = config_setting_get_member(s, "snapshot_version");
	if (!m)
		return fail_at(ld, s, "%s: aggregate \"%s\" has no snapshot_version", where, agg->type);
	if (get_int(ld, m, where, "snapshot_version", 1, LLONG_MAX, &v))
		return SM_ERR_CONFIG;
	agg->snapshot_version = v;
	events = config_setting_get_member(s, "events");
	reducer = config_setting_get_member(s, "reducer");
	initial = config_setting_get_member(s, "initial");
	if (events && reducer)
		return fail_at(ld, reducer, "%s: has both events and reducer; use one of them", where);
	if (!events && !reducer)
		return fail_at(ld, s, "%s: aggregate \"%s\" needs events (rules) or reducer = { exec = \"...\"; }",
			       where, agg->type);
	if (reducer) {
		if (initial)
			return fail_at(ld, initial, "%s.initial: only used with events; "
				       "an exec reducer starts from its own initial state", where);
		return read_exec(ld, reducer, where, agg);
	}
	{
		int n;
		sm_rule_source *srcs;
		char (*wheres)[128];
		char initial_where[80];
		const char *init_text = "{}";
		int init_line = agg->line;
		sm_text_origin *init_origin = NULL;
		int rc;

		if (config_setting_type(events) != CONFIG_TYPE_LIST)
			return fail_at(ld, events, "%s.events: expected a list ( { on = ...; }, ... ), got %s",
				       where, type_name(events));
		if (initial) {
			if (get_string(ld, initial, where, "initial", true, &init_text))
				return SM_ERR_CONFIG;
			init_line = line_of(initial);
			init_origin = sm_text_origin_in(ld->sources, file_of(ld, initial), init_line,
							"initial", init_text);
		}
		n = config_setting_length(events);
		srcs = sm_xcalloc((size_t)n + 1, sizeof *srcs);
		wheres = sm_xcalloc((size_t)n + 1, sizeof *wheres);
		snprintf(initial_where, sizeof initial_where, "%s.initial", where);
		rc = read_events(ld, events, where, srcs, wheres);
		if (rc == SM_OK) {
			sm_rules_input in = { init_text, init_line, initial_where, init_origin,
					      srcs, (size_t)n, file_of(ld, events) };

			rc = sm_rules_compile_input(&in, &agg->rules, ld->err);
		}
		/* The origins were made here (read_events), for the compile only. */
		sm_text_origin_free(init_origin);
		for (int i = 0; i < n; i++) {
			sm_text_origin_free((sm_text_origin *)srcs[i].when_origin);
			sm_text_origin_free((sm_text_origin *)srcs[i].do_origin);
		}
		free(srcs);
		free(wheres);
		return rc;
	}
}

static int read_list(loader *ld, const config_setting_t *root, const char *key)
{
	const config_setting_t *list = config_setting_get_member(root, key);
	int n;
	bool envs = strcmp(key, "environments") == 0;

	if (!list)
		return SM_OK;
	if (config_setting_type(list) != CONFIG_TYPE_LIST)
		return fail_at(ld, list, "%s: expected a list ( { ... }, { ... } ), got %s", key, type_name(list));
	n = config_setting_length(list);
	if (envs)
		ld->cfg->envs = sm_xcalloc((size_t)n + 1, sizeof *ld->cfg->envs);
	else
		ld->cfg->aggs = sm_xcalloc((size_t)n + 1, sizeof *ld->cfg->aggs);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		int rc = envs ? read_environment(ld, e, (size_t)i) : read_aggregate(ld, e, (size_t)i);

		if (rc)
			return rc;
	}
	return SM_OK;
}

/*
 * libconfig 1.5 calls exit() when it cannot read an included file (flex's
 * "input in flex scanner failed", e.g. for `@include ""`, which names the
 * directory).  A configuration file must never end the program, so every
 * @include is checked here first, recursively, the way libconfig resolves
 * it: relative to the main file's directory.  A NUL byte is refused too:
 * libconfig's scanner reads past it (`@include "<NUL>x"` names the
 * directory) while the C string seen here ends at it.
 */
#define MAX_INCLUDE_DEPTH 10

static int check_includes(loader *ld, const char *path, const char *shown, int depth)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = SM_OK;
	ssize_t n;

	if (!f)
		return SM_OK;  /* reported by libconfig with its own message */
	while (rc == SM_OK && (n = getline(&line, &cap, f)) >= 0) {
		const char *p = line, *q;
		char *name, *full;
		int e;

		lineno++;
		if (memchr(line, '\0', (size_t)n)) {
			rc = sm_error_set_at(ld->err, SM_ERR_CONFIG, shown, lineno,
					     "NUL byte in the file (a configuration file is text)");
			break;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "@include", 8) != 0)
			continue;
		p += 8;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '"' || !(q = strchr(p + 1, '"')))
			continue;  /* libconfig reports the syntax error */
		name = sm_xstrndup(p + 1, (size_t)(q - p - 1));
		full = sm_xasprintf("%s/%s", ld->cfg->dir, name);
		e = check_readable(full);
		if (e) {
			rc = sm_error_set_at(ld->err, SM_ERR_CONFIG, shown, lineno,
					     "@include \"%s\": cannot read %s: %s", name, full,
					     e == EINVAL || e == EISDIR ? "not a regular file" : strerror(e));
		} else if (depth >= MAX_INCLUDE_DEPTH) {
			rc = sm_error_set_at(ld->err, SM_ERR_CONFIG, shown, lineno,
					     "@include \"%s\": includes nested deeper than %d levels",
					     name, MAX_INCLUDE_DEPTH);
		} else {
			rc = check_includes(ld, full, own_file(ld, name), depth + 1);
		}
		free(name);
		free(full);
	}
	free(line);
	fclose(f);
	return rc;
}

static const char *const root_keys[] = { "defaults", "environments", "aggregates", NULL };

static char *absolute_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? sm_xstrndup(path, slash == path ? 1 : (size_t)(slash - path))
			  : sm_xstrdup(".");
	char *abs = realpath(dir, NULL);

	if (abs) {
		free(dir);
		return abs;
	}
	return dir;
}

int sm_config_load(const char *path, sm_config **out, sm_error *err)
{
	loader ld;
	config_t lc;
	sm_config *cfg;
	const config_setting_t *root, *defaults;
	int rc = SM_OK;

	*out = NULL;
	sm_error_clear(err);
	cfg = sm_xcalloc(1, sizeof *cfg);
	cfg->path = sm_xstrdup(path);
	cfg->dir = absolute_dir_of(path);
	cfg->defaults.jobs = DEFAULT_JOBS;
	cfg->defaults.source_schema = sm_xstrdup("public");
	cfg->defaults.target_schema = sm_xstrdup("migration");
	cfg->defaults.metadata_key = sm_xstrdup("snapshot_module_version");
	cfg->defaults.batch_size = DEFAULT_BATCH_SIZE;
	cfg->defaults.copy_max_lag = DEFAULT_COPY_MAX_LAG;
	ld.cfg = cfg;
	ld.err = err;
	ld.sources = NULL;
	own_file(&ld, path);

	{
		/* libconfig's own I/O error loses errno; say why here. */
		int e = check_readable(path);

		if (e) {
			rc = sm_error_set(err, SM_ERR_CONFIG, "cannot read configuration file %s: %s",
					  path, e == EINVAL ? "not a regular file" : strerror(e));
			sm_config_free(cfg);
			return rc;
		}
	}
	if ((rc = check_includes(&ld, path, cfg->files[0], 0))) {
		sm_config_free(cfg);
		return rc;
	}
	ld.sources = sm_source_files_new();
	config_init(&lc);
	/* libconfig 1.5 resolves every @include against one directory: the
	 * main file's. */
	config_set_include_dir(&lc, cfg->dir);
	if (!config_read_file(&lc, path)) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO) {
			rc = sm_error_set(err, SM_ERR_CONFIG, "cannot read configuration file %s: %s",
					  path, config_error_text(&lc) ? config_error_text(&lc) : "I/O error");
		} else {
			const char *file = config_error_file(&lc);

			rc = sm_error_set_at(err, SM_ERR_CONFIG, file ? own_file(&ld, file) : path,
					     config_error_line(&lc), "%s",
					     config_error_text(&lc) ? config_error_text(&lc) : "syntax error");
		}
		goto done;
	}
	root = config_root_setting(&lc);
	if ((rc = check_keys(&ld, root, "", root_keys, NULL)))
		goto done;
	if ((defaults = config_setting_get_member(root, "defaults"))) {
		if ((rc = check_group(&ld, defaults, "defaults", "{ ... }", settings_keys, NULL)))
			goto done;
		if ((rc = read_settings(&ld, defaults, "defaults", &cfg->defaults)))
			goto done;
		if ((rc = check_schemas(&ld, defaults, "defaults", &cfg->defaults)))
			goto done;
	}
	if ((rc = read_list(&ld, root, "environments")))
		goto done;
	rc = read_list(&ld, root, "aggregates");
done:
	config_destroy(&lc);
	sm_source_files_free(ld.sources);
	if (rc) {
		sm_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return SM_OK;
}

void sm_config_free(sm_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	settings_free(&cfg->defaults);
	for (size_t i = 0; i < cfg->n_envs; i++) {
		sm_environment *e = &cfg->envs[i];

		free(e->name);
		free(e->conninfo);
		free(e->password_env);
		settings_free(&e->settings);
	}
	free(cfg->envs);
	for (size_t i = 0; i < cfg->n_aggs; i++) {
		sm_aggregate *a = &cfg->aggs[i];

		free(a->type);
		free(a->label);
		sm_rules_free(a->rules);
		if (a->exec) {
			free(a->exec->command);
			for (size_t j = 0; j < a->exec->n_env; j++) {
				free(a->exec->env[j].name);
				free(a->exec->env[j].value);
			}
			free(a->exec->env);
			free(a->exec);
		}
	}
	free(cfg->aggs);
	for (size_t i = 0; i < cfg->n_warnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	for (size_t i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	free(cfg);
}
