/*
 * Replays the committed fuzz corpus (tests/fuzz-corpus/rules, /config,
 * /json, /protocol and /pgcopy) through the same target functions that `make fuzz` builds for libFuzzer,
 * so the targets compile and run in every `make check`, and every input
 * that once found a bug stays a regression test.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz.h"

static int replay(const char *srcdir, const char *sub, int (*target)(const uint8_t *, size_t))
{
	char dirpath[4096];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(dirpath, sizeof dirpath, "%s/tests/fuzz-corpus/%s", srcdir, sub);
	d = opendir(dirpath);
	if (!d) {
		fprintf(stderr, "cannot open %s\n", dirpath);
		return -1;
	}
	while ((e = readdir(d))) {
		char file[8192];
		FILE *f;
		uint8_t *buf;
		long len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof file, "%s/%s", dirpath, e->d_name);
		f = fopen(file, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc((size_t)len + 1);
		if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
			fprintf(stderr, "cannot read %s\n", file);
			fclose(f);
			free(buf);
			closedir(d);
			return -1;
		}
		fclose(f);
		target(buf, (size_t)len);
		free(buf);
		n++;
	}
	closedir(d);
	printf("%s: %d inputs replayed\n", sub, n);
	return n;
}

int main(void)
{
	const char *srcdir = getenv("SNAPMIG_SRCDIR");
	int a, b, c, d, e;

	if (!srcdir)
		srcdir = ".";
	a = replay(srcdir, "rules", sm_fuzz_rules);
	b = replay(srcdir, "config", sm_fuzz_config);
	c = replay(srcdir, "json", sm_fuzz_json);
	d = replay(srcdir, "protocol", sm_fuzz_protocol);
	e = replay(srcdir, "pgcopy", sm_fuzz_pgcopy);
	/* An empty or missing corpus would make this test pass vacuously. */
	return a > 0 && b > 0 && c > 0 && d > 0 && e > 0 ? 0 : 1;
}
