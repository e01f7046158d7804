/*
 * The pure parts of issue 16's safety work, without a database: masking
 * passwords (util/redact.h), SHA-256 (util/sha256.h), fingerprints of
 * reducers (engine/fingerprint.h: what changes them and what does not),
 * the hello's "fingerprint" (engine/reducer_exec.h) and how an activity
 * on the target is described.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules.h"
#include "engine/fingerprint.h"
#include "engine/reducer_exec.h"
#include "engine/snapmig.h"
#include "tests/testlib.h"
#include "util/redact.h"
#include "util/sha256.h"

/* ----------------------------------------------------------- passwords */

static void assert_redacted(const char *text, const char *conninfo, const char *password,
			    const char *want)
{
	char *got = sm_redact(text, conninfo, password);

	ck_assert_msg(strcmp(got, want) == 0, "\n  text     %s\n  got      %s\n  expected %s",
		      text, got, want);
	free(got);
}

START_TEST(test_passwords_are_masked_in_texts_quoting_a_conninfo)
{
	/* libpq's own messages for malformed URIs, quoting them whole. */
	assert_redacted("unexpected character \"x\" at position 32 in URI (expected \":\" or \"/\"):"
			" \"postgresql://app:S3cretPW@[::1]x/prod\"",
			"postgresql://app:S3cretPW@[::1]x/prod", NULL,
			"unexpected character \"x\" at position 32 in URI (expected \":\" or \"/\"):"
			" \"postgresql://app:********@[::1]x/prod\"");
	/* ... or a piece of it. */
	assert_redacted("invalid percent-encoded token: \"S3cret%zzPW\"",
			"postgresql://app:S3cret%zzPW@localhost/prod", NULL,
			"invalid percent-encoded token: \"********\"");
	/* Percent-decoded as well as raw. */
	assert_redacted("password authentication failed: S3cret!PW / S3cret%21PW",
			"postgres://app:S3cret%21PW@db/prod", NULL,
			"password authentication failed: ******** / ********");
	/* In the query part. */
	assert_redacted("bad: \"postgresql://db/prod?sslmode=x&password=S3cretPW&port=1\"",
			"postgresql://db/prod?sslmode=x&password=S3cretPW&port=1", NULL,
			"bad: \"postgresql://db/prod?sslmode=x&password=********&port=1\"");
	/* key = value, quoted with escapes. */
	assert_redacted("missing \"=\" after \"x\" in connection info string host=db password='S3 cr\\'t' x",
			"host=db password='S3 cr\\'t' x", NULL,
			"missing \"=\" after \"x\" in connection info string host=db password=******** x");
	/* A password from password_env, wherever it shows. */
	assert_redacted("FATAL: role \"Hunter2x\" does not exist", "host=db", "Hunter2x",
			"FATAL: role \"********\" does not exist");
	/* Whatever still looks like one, without knowing the conninfo. */
	assert_redacted("see postgres://u:guess@h/d and password = 'a b' or PASSWORD=zz,",
			NULL, NULL,
			"see postgres://u:********@h/d and password = ******** or PASSWORD=********,");
	/* Nothing else changes. */
	assert_redacted("connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: No such file",
			"host=/tmp dbname=x", NULL,
			"connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: No such file");
	{
		char buf[16] = "password=abc";

		sm_redact_buf(buf, sizeof buf, NULL, NULL);
		ck_assert_str_eq(buf, "password=******");
	}
}
END_TEST

/* -------------------------------------------------------------- sha256 */

static void assert_sha256(const char *input, size_t repeat, const char *want)
{
	sm_sha256 s;
	char hex[65];

	sm_sha256_init(&s);
	for (size_t i = 0; i < repeat; i++)
		sm_sha256_update(&s, input, strlen(input));
	sm_sha256_hex(&s, hex);
	ck_assert_str_eq(hex, want);
}

START_TEST(test_sha256_gives_the_digests_of_the_standard)
{
	/* FIPS 180-4 examples and the million-'a' vector, plus the lengths
	 * around the padding boundary (55, 56, 64 bytes). */
	assert_sha256("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_sha256("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_sha256("a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	assert_sha256("a", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	assert_sha256("a", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	assert_sha256("a", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}
END_TEST

/* -------------------------------------------------------- fingerprints */

static sm_rules *compile(const char *initial, const char *on, const char *do_stmts)
{
	sm_rule_source src = { .on = on, .do_stmts = do_stmts, .where = "events[0]", .line = 1,
			       .do_line = 1 };
	sm_rules *r = NULL;
	sm_error err;

	ck_assert_msg(sm_rules_compile(initial, 1, "initial", &src, 1, "t.conf", &r, &err) == SM_OK,
		      "%s", err.message);
	return r;
}

typedef struct fp_case {
	sm_config cfg;
	sm_settings set;
	sm_aggregate agg;
	sm_exec_reducer ex;
	sm_env_var env[2];
} fp_case;

static void rules_case(fp_case *c, const char *initial, const char *do_stmts)
{
	memset(c, 0, sizeof *c);
	c->cfg.dir = (char *)"/etc/snapmig";
	c->set.metadata_key = (char *)"snapshot_module_version";
	c->agg.type = (char *)"Elixir.Counter";
	c->agg.snapshot_version = 2;
	c->agg.rules = compile(initial, "Elixir.Counter.Added", do_stmts);
}

static void exec_case(fp_case *c, const char *command)
{
	memset(c, 0, sizeof *c);
	c->cfg.dir = (char *)"/etc/snapmig";
	c->set.metadata_key = (char *)"snapshot_module_version";
	c->agg.type = (char *)"Elixir.Account";
	c->agg.snapshot_version = 2;
	c->ex.command = (char *)command;
	c->ex.env = c->env;
	c->agg.exec = &c->ex;
}

static void fp_of(const fp_case *c, const char *hello, char hex[65])
{
	sm_fingerprint fp;

	sm_fingerprint_compute(&c->cfg, &c->set, &c->agg, hello, &fp);
	ck_assert_uint_eq(strlen(fp.hex), 64);
	memcpy(hex, fp.hex, 65);
	sm_fingerprint_clear(&fp);
}

START_TEST(test_a_rules_fingerprint_changes_with_what_changes_output_only)
{
	fp_case a, b;
	char base[65], other[65];

	rules_case(&a, "{id: null, count: 0}", "count += event.n");
	fp_of(&a, NULL, base);
	/* Layout of the same rules: the same fingerprint. */
	rules_case(&b, "{ id : null ,  count: 0 }", "count  +=  event.n");
	fp_of(&b, NULL, other);
	ck_assert_str_eq(other, base);
	sm_rules_free(b.agg.rules);
	/* Another rule, another initial state: another fingerprint. */
	rules_case(&b, "{id: null, count: 0}", "count += 1");
	fp_of(&b, NULL, other);
	ck_assert_str_ne(other, base);
	sm_rules_free(b.agg.rules);
	rules_case(&b, "{id: null, count: 1}", "count += event.n");
	fp_of(&b, NULL, other);
	ck_assert_str_ne(other, base);
	/* Settings that change what is written. */
	b.agg.rules = (sm_rules_free(b.agg.rules), a.agg.rules);
	b.agg.snapshot_version = 3;
	fp_of(&b, NULL, other);
	ck_assert_str_ne(other, base);
	b.agg.snapshot_version = 2;
	b.set.last_duplicate_wins = true;
	fp_of(&b, NULL, other);
	ck_assert_str_ne(other, base);
	b.set.last_duplicate_wins = false;
	b.set.metadata_key = (char *)"snapshot_version";
	fp_of(&b, NULL, other);
	ck_assert_str_ne(other, base);
	b.set.metadata_key = a.set.metadata_key;
	b.agg.type = (char *)"Elixir.Other";
	fp_of(&b, NULL, other);
	ck_assert_str_ne(other, base);
	/* Settings that do not: the same. */
	b.agg.type = a.agg.type;
	b.set.jobs = 7;
	b.set.batch_size = 3;
	b.set.copy_max_lag = 5;
	b.agg.label = (char *)"Counting";
	fp_of(&b, NULL, other);
	ck_assert_str_eq(other, base);
	sm_rules_free(a.agg.rules);
}
END_TEST

START_TEST(test_an_external_fingerprint_covers_command_directory_environment_and_hello)
{
	fp_case a, b;
	char base[65], other[65];
	sm_fingerprint fp;

	exec_case(&a, "mix snapmig.reducer");
	fp_of(&a, "modules-1", base);
	exec_case(&b, "mix snapmig.reducer");
	fp_of(&b, "modules-1", other);
	ck_assert_str_eq(other, base);
	fp_of(&b, "modules-2", other);
	ck_assert_str_ne(other, base);
	fp_of(&b, NULL, other);
	ck_assert_str_ne(other, base);
	exec_case(&b, "mix snapmig.reducer --other");
	fp_of(&b, "modules-1", other);
	ck_assert_str_ne(other, base);
	exec_case(&b, "mix snapmig.reducer");
	b.cfg.dir = (char *)"/srv/app-next";
	fp_of(&b, "modules-1", other);
	ck_assert_str_ne(other, base);
	exec_case(&b, "mix snapmig.reducer");
	b.env[0].name = (char *)"MIX_ENV";
	b.env[0].value = (char *)"prod";
	b.ex.n_env = 1;
	fp_of(&b, "modules-1", other);
	ck_assert_str_ne(other, base);
	/* The order of the environment does not matter; a password in a
	 * value is not part of it (it changes no output) and is not kept. */
	{
		fp_case c, d;
		char x[65], y[65];

		exec_case(&c, "mix snapmig.reducer");
		c.env[0] = (sm_env_var){ (char *)"A", (char *)"1" };
		c.env[1] = (sm_env_var){ (char *)"DATABASE_URL", (char *)"postgres://app:one@db/x" };
		c.ex.n_env = 2;
		exec_case(&d, "mix snapmig.reducer");
		d.env[0] = (sm_env_var){ (char *)"DATABASE_URL", (char *)"postgres://app:two@db/x" };
		d.env[1] = (sm_env_var){ (char *)"A", (char *)"1" };
		d.ex.n_env = 2;
		fp_of(&c, NULL, x);
		fp_of(&d, NULL, y);
		ck_assert_str_eq(x, y);
		sm_fingerprint_compute(&c.cfg, &c.set, &c.agg, "h", &fp);
		ck_assert_ptr_null(strstr(fp.described, "one@"));
		ck_assert_ptr_nonnull(strstr(fp.described, "DATABASE_URL"));
		ck_assert_ptr_nonnull(strstr(fp.described, "\"hello_fingerprint\":\"h\""));
		sm_fingerprint_clear(&fp);
	}
}
END_TEST

/* ----------------------------------------------------------- the hello */

static int hello(const char *line, sm_exec_hello *h, char *why, size_t size)
{
	return sm_exec_parse_hello(line, strlen(line), "Elixir.A", h, why, size);
}

START_TEST(test_the_hello_carries_an_optional_fingerprint_per_aggregate)
{
	sm_exec_hello h;
	char why[300], big[400];

	ck_assert_int_eq(hello("{\"op\":\"hello\",\"protocol\":1,\"aggregates\":{\"Elixir.A\":"
			       "{\"events\":\"any\",\"fingerprint\":\"sha256:abc\"}}}", &h, why, sizeof why),
			 SM_OK);
	ck_assert_str_eq(h.fingerprint, "sha256:abc");
	sm_exec_hello_clear(&h);
	ck_assert_ptr_null(h.fingerprint);
	ck_assert_int_eq(hello("{\"op\":\"hello\",\"protocol\":1,\"aggregates\":{\"Elixir.A\":"
			       "{\"events\":[\"E\"]}}}", &h, why, sizeof why), SM_OK);
	ck_assert_ptr_null(h.fingerprint);
	sm_exec_hello_clear(&h);
	/* Not a string, too long, or with a NUL: it can never be one. */
	ck_assert_int_eq(hello("{\"op\":\"hello\",\"protocol\":1,\"aggregates\":{\"Elixir.A\":"
			       "{\"events\":\"any\",\"fingerprint\":7}}}", &h, why, sizeof why),
			 SM_EXEC_GIVE_UP);
	ck_assert_ptr_nonnull(strstr(why, "fingerprint"));
	ck_assert_int_eq(hello("{\"op\":\"hello\",\"protocol\":1,\"aggregates\":{\"Elixir.A\":"
			       "{\"events\":\"any\",\"fingerprint\":\"a\\u0000b\"}}}", &h, why, sizeof why),
			 SM_EXEC_GIVE_UP);
	{
		static const char head[] = "{\"op\":\"hello\",\"protocol\":1,\"aggregates\":"
			"{\"Elixir.A\":{\"events\":\"any\",\"fingerprint\":\"";
		size_t n = strlen(head);

		memset(big, 'x', sizeof big);
		memcpy(big, head, n);
		strcpy(big + n + 257, "\"}}}");
		ck_assert_int_eq(hello(big, &h, why, sizeof why), SM_EXEC_GIVE_UP);
		big[n + 256] = '"';
		strcpy(big + n + 257, "}}}");
	}
	ck_assert_int_eq(hello(big, &h, why, sizeof why), SM_OK);
	ck_assert_uint_eq(strlen(h.fingerprint), 256);
	sm_exec_hello_clear(&h);
}
END_TEST

/* ------------------------------------------------------------- activity */

START_TEST(test_an_activity_names_operation_start_user_host_and_pid)
{
	sm_activity a;
	char buf[600];

	memset(&a, 0, sizeof a);
	ck_assert_str_eq(sm_activity_describe(&a, buf, sizeof buf), "nothing runs");
	a.busy = true;
	a.backend_pid = 999;
	ck_assert_str_eq(sm_activity_describe(&a, buf, sizeof buf),
			 "an operation of another session (server session 999)");
	strcpy(a.operation, "rebuild");
	strcpy(a.started_at, "2026-12-06T07:10:02Z");
	strcpy(a.os_user, "alice");
	strcpy(a.host, "host1");
	strcpy(a.environment, "prod");
	a.pid = 4242;
	a.run_id = 17;
	ck_assert_str_eq(sm_activity_describe(&a, buf, sizeof buf),
			 "rebuild started 2026-12-06T07:10:02Z by alice on host1 (pid 4242,"
			 " environment prod, run 17; server session 999)");
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("units");

	tcase_add_test(tc, test_passwords_are_masked_in_texts_quoting_a_conninfo);
	tcase_add_test(tc, test_sha256_gives_the_digests_of_the_standard);
	tcase_add_test(tc, test_a_rules_fingerprint_changes_with_what_changes_output_only);
	tcase_add_test(tc, test_an_external_fingerprint_covers_command_directory_environment_and_hello);
	tcase_add_test(tc, test_the_hello_carries_an_optional_fingerprint_per_aggregate);
	tcase_add_test(tc, test_an_activity_names_operation_start_user_host_and_pid);
	return tl_run_case("safety_units", tc);
}
