/* Fingerprints of what makes generated snapshots; see fingerprint.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config/rules.h"
#include "engine/fingerprint.h"
#include "engine/reducer_exec.h"
#include "util/alloc.h"
#include "util/redact.h"
#include "util/sha256.h"

/* "name <bytes>:value\n": no value can be taken for another's end. */
static void field(sm_sha256 *h, const char *name, const char *value)
{
	char head[64];

	if (!value)
		value = "";
	snprintf(head, sizeof head, "%s %zu:", name, strlen(value));
	sm_sha256_update(h, head, strlen(head));
	sm_sha256_update(h, value, strlen(value));
	sm_sha256_update(h, "\n", 1);
}

static void field_ll(sm_sha256 *h, const char *name, long long value)
{
	char num[32];

	snprintf(num, sizeof num, "%lld", value);
	field(h, name, num);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const sm_env_var *const *)a)->name, (*(const sm_env_var *const *)b)->name);
}

static void exec_part(sm_sha256 *h, json_object *d, const sm_config *cfg,
		      const sm_exec_reducer *ex, const char *hello)
{
	const sm_env_var **vars = sm_xcalloc(ex->n_env + 1, sizeof *vars);
	json_object *names = json_object_new_array();
	char *shown = sm_redact(ex->command, NULL, NULL);

	field(h, "reducer", "exec");
	field(h, "command", ex->command);
	field(h, "dir", cfg->dir);
	/* Sorted: the order in the file changes nothing. */
	for (size_t i = 0; i < ex->n_env; i++)
		vars[i] = &ex->env[i];
	qsort(vars, ex->n_env, sizeof *vars, by_name);
	for (size_t i = 0; i < ex->n_env; i++) {
		char *value = sm_redact(vars[i]->value, NULL, NULL);

		field(h, "env", vars[i]->name);
		field(h, "value", value);
		json_object_array_add(names, json_object_new_string(vars[i]->name));
		free(value);
	}
	field(h, "hello", hello ? hello : "-");
	json_object_object_add(d, "reducer", json_object_new_string("exec"));
	json_object_object_add(d, "command", json_object_new_string(shown));
	json_object_object_add(d, "dir", json_object_new_string(cfg->dir ? cfg->dir : ""));
	json_object_object_add(d, "env", names);
	json_object_object_add(d, "hello_fingerprint", hello ? json_object_new_string(hello) : NULL);
	free(shown);
	free(vars);
}

void sm_fingerprint_compute(const sm_config *cfg, const sm_settings *set,
			    const sm_aggregate *agg, const char *hello, sm_fingerprint *out)
{
	json_object *d = json_object_new_object();
	sm_sha256 h;

	memset(out, 0, sizeof *out);
	sm_sha256_init(&h);
	field(&h, "snapmig fingerprint", "1");
	field_ll(&h, "fold", SM_FOLD_VERSION);
	field(&h, "type", agg->type);
	field_ll(&h, "snapshot_version", agg->snapshot_version);
	field(&h, "metadata_key", set->metadata_key);
	field(&h, "duplicate_keys", set->last_duplicate_wins ? "last" : "first");
	json_object_object_add(d, "fold", json_object_new_int(SM_FOLD_VERSION));
	json_object_object_add(d, "type", json_object_new_string(agg->type));
	json_object_object_add(d, "snapshot_version", json_object_new_int64(agg->snapshot_version));
	json_object_object_add(d, "metadata_key", json_object_new_string(set->metadata_key));
	json_object_object_add(d, "duplicate_keys",
			       json_object_new_string(set->last_duplicate_wins ? "last" : "first"));
	if (agg->exec) {
		exec_part(&h, d, cfg, agg->exec, hello);
		out->hello = hello ? sm_xstrdup(hello) : NULL;
	} else {
		const char *rules = agg->rules ? sm_rules_canonical(agg->rules) : "";

		field(&h, "reducer", "rules");
		field(&h, "rules", rules);
		json_object_object_add(d, "reducer", json_object_new_string("rules"));
		json_object_object_add(d, "rules", json_object_new_string(rules));
	}
	sm_sha256_hex(&h, out->hex);
	out->described = sm_xstrdup(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(d);
}

int sm_fingerprint_current(const sm_config *cfg, const sm_settings *set,
			   const sm_aggregate *agg, sm_fingerprint *out, sm_error *err)
{
	char *hello = NULL;

	memset(out, 0, sizeof *out);
	if (agg->exec) {
		int rc = sm_exec_fingerprint(cfg, agg, &hello, err);

		if (rc != SM_OK) {
			sm_error_prefix(err, "asking the reducer of %s for its fingerprint", agg->type);
			return rc;
		}
	}
	sm_fingerprint_compute(cfg, set, agg, hello, out);
	free(hello);
	return SM_OK;
}

void sm_fingerprint_clear(sm_fingerprint *fp)
{
	free(fp->described);
	free(fp->hello);
	memset(fp, 0, sizeof *fp);
}
