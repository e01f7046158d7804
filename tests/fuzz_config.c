/*
 * Fuzz target: the configuration loader (libconfig syntax, every check of
 * config_load.c, rule compilation).  The input is written to a file in a
 * private directory and loaded; any outcome but a crash is fine.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/snapmig_conf.h"
#include "tests/fuzz.h"

static char dir[64];
static char path[128];
static char inc_path[128];

static void remove_files(void)
{
	unlink(path);
	unlink(inc_path);
	rmdir(dir);
}

/* @include of anything but a plain file name in the private directory
 * could make the loader read /dev/zero or a FIFO: not what is tested. */
static bool includes_elsewhere(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 8 <= size; i++) {
		if (memcmp(data + i, "@include", 8) != 0)
			continue;
		for (size_t j = i + 8; j < size && data[j] != '\n'; j++)
			if (data[j] == '/' || data[j] == '\\')
				return true;
	}
	return false;
}

int sm_fuzz_config(const uint8_t *data, size_t size)
{
	FILE *f;
	sm_config *cfg = NULL;
	sm_error err;

	if (includes_elsewhere(data, size))
		return 0;
	if (!dir[0]) {
		char tmpl[] = "/tmp/snapmig-fuzz.XXXXXX";

		if (!mkdtemp(tmpl))
			abort();
		snprintf(dir, sizeof dir, "%s", tmpl);
		snprintf(path, sizeof path, "%s/snapmig.conf", dir);
		/* A file for @include "inc.conf" to find. */
		{
			FILE *i;

			snprintf(inc_path, sizeof inc_path, "%s/inc.conf", dir);
			atexit(remove_files);
			i = fopen(inc_path, "w");
			if (!i)
				abort();
			fputs("defaults = { jobs = 3; };\n", i);
			fclose(i);
		}
	}
	f = fopen(path, "w");
	if (!f)
		abort();
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
	sm_error_clear(&err);
	if (sm_config_load(path, &cfg, &err) == 0) {
		char **warnings;
		size_t n;

		for (size_t i = 0; i < cfg->n_aggs; i++)
			(void)sm_config_find_aggregate(cfg, cfg->aggs[i].label);
		n = sm_config_check(cfg, &warnings);
		sm_config_check_free(warnings, n);
		sm_config_free(cfg);
	}
	return 0;
}

SM_FUZZ_TARGET(sm_fuzz_config)
