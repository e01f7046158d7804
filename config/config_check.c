/*
 * The analysis of `snapmig check` over a loaded configuration: the
 * warnings its rules reducers found when they were compiled
 * (config/rules_check.c) and those about aggregates as a whole.  Needs no
 * database.
 */
#include <config.h>  /* autoconf's; "config.h" would find config/config.h */

#include <stdlib.h>

#include "config/rules.h"
#include "config/snapmig_conf.h"
#include "util/alloc.h"

static void add(char ***out, size_t *n, char *text)
{
	*out = sm_xrealloc(*out, (*n + 1) * sizeof **out);
	(*out)[(*n)++] = text;
}

size_t sm_config_check(const sm_config *cfg, char ***out)
{
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < cfg->n_aggs; i++) {
		const sm_aggregate *agg = &cfg->aggs[i];
		const sm_rules_warning *w;
		size_t k;

		if (!agg->rules)
			continue;
		if (sm_rules_entries(agg->rules) == 0)
			add(out, &n, sm_xasprintf("%s:%d: aggregates[%zu]: %s has no entries, so every instance "
						  "with an event fails as an unknown event ({ on = \"*\"; } "
						  "ignores any event)", agg->file, agg->line, i, agg->type));
		k = sm_rules_warnings(agg->rules, &w);
		for (size_t j = 0; j < k; j++)
			add(out, &n, sm_xasprintf("%s:%d: %s", sm_rules_file(agg->rules), w[j].line, w[j].text));
	}
	return n;
}

void sm_config_check_free(char **warnings, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(warnings[i]);
	free(warnings);
}
