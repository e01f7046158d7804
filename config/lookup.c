/* Lookups in a loaded configuration; see config.h. */
#include "config.h"

#include <string.h>

#include "config/snapmig_conf.h"

const sm_environment *sm_config_find_env(const sm_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->n_envs; i++)
		if (strcmp(cfg->envs[i].name, name) == 0)
			return &cfg->envs[i];
	return NULL;
}

const sm_aggregate *sm_config_find_aggregate(const sm_config *cfg, const char *type_or_label)
{
	if (!cfg || !type_or_label)
		return NULL;
	/* The full type wins over a label that happens to equal it. */
	for (size_t i = 0; i < cfg->n_aggs; i++)
		if (strcmp(cfg->aggs[i].type, type_or_label) == 0)
			return &cfg->aggs[i];
	for (size_t i = 0; i < cfg->n_aggs; i++)
		if (cfg->aggs[i].label && strcmp(cfg->aggs[i].label, type_or_label) == 0)
			return &cfg->aggs[i];
	return NULL;
}
