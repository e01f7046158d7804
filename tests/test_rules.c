/*
 * The rules language: grammar (statements, expressions, conditions,
 * precedence, quoting, escapes), evaluation of each statement on JSON
 * values, and the failures (wrong kinds of values, unknown events, no
 * matching handler, syntax errors with their columns).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules.h"
#include "tests/fuzz.h"
#include "tests/testlib.h"
#include "util/json.h"

#define T "Elixir.T.Events.E"

/* The fields (top-level keys) the tests' rules may write: the state's
 * top-level keys are the keys of initial.  The tests give the state to
 * start from themselves, so the values here do not matter. */
#define FIELDS "{a: null, b: null, c: null, d: null, e: null, f: null, g: null, h: null, " \
	"i: null, j: null, k: null, l: null, m: null, n: null, o: null, p: null, q: null, " \
	"r: null, s: null, t: null, u: null, v: null, w: null, x: null, y: null, z: null, " \
	"id: null, price: null, member_ids: null, tags: null, vs: null, who: null, last: null, " \
	"delete: null, reset: null, remove: null, 'b c': null, 'odd key': null, " \
	"if: null, then: null, else: null, end: null, elif: null}"

/* Compiles one entry for event type T (and "Elixir.T.Events.Other" with no
 * statements), failing the test on error. */
static sm_rules *compile_entries(const char *initial, const sm_rule_source *src, size_t n)
{
	sm_rules *r = NULL;
	sm_error err;

	sm_error_clear(&err);
	ck_assert_msg(sm_rules_compile(initial, 1, "initial", src, n, "test.conf", &r, &err) == 0,
		      "compile failed: %s:%d: %s", err.file, err.line, err.message);
	return r;
}

static sm_rules *compile1(const char *initial, const char *when, const char *dos)
{
	sm_rule_source src[] = { { T, when, dos, 10, "events[0]", 0, 0 } };

	return compile_entries(initial, src, 1);
}

static json_object *parse(const char *text)
{
	json_object *o = NULL;
	sm_error err;

	sm_error_clear(&err);
	ck_assert_msg(sm_json_parse(text, strlen(text), &o, &err) == 0, "bad JSON in test: %s", err.message);
	return o;
}

/* Applies one event of type `type` at version v; returns the result code and
 * the printed state in out (static buffer) and the message in msg. */
static char out[4096];
static char msg[1024];

static int apply_ev(const sm_rules *r, const char *state, const char *type, long long v,
		    const char *data, const char *meta)
{
	json_object *st = parse(state);
	json_object *d = parse(data);
	json_object *m = meta ? parse(meta) : NULL;
	sm_event_view ev = { type, v, "stream-1", d, m };
	sm_error err;
	int rc;

	sm_error_clear(&err);
	rc = sm_rules_apply(r, &st, &ev, &err);
	snprintf(out, sizeof out, "%s", rc == SM_APPLY_OK ? sm_json_print(st, NULL) : "");
	snprintf(msg, sizeof msg, "%s", err.message);
	json_object_put(st);
	json_object_put(d);
	json_object_put(m);
	return rc;
}

/* Compile `dos`, apply one T event with data to state; expect success and
 * the given resulting state. */
static void check_do(const char *state, const char *dos, const char *data, const char *expect)
{
	sm_rules *r = compile1(FIELDS, NULL, dos);
	int rc = apply_ev(r, state, T, 7, data, "{\"user\":\"u1\"}");

	ck_assert_msg(rc == SM_APPLY_OK, "%s: failed: %s", dos, msg);
	ck_assert_msg(strcmp(out, expect) == 0, "%s on %s\n  got      %s\n  expected %s",
		      dos, state, out, expect);
	sm_rules_free(r);
}

/* Expect SM_APPLY_ERROR with this exact message. */
static void check_do_fails(const char *state, const char *dos, const char *data, const char *expect)
{
	sm_rules *r = compile1(FIELDS, NULL, dos);
	int rc = apply_ev(r, state, T, 7, data, NULL);

	ck_assert_msg(rc == SM_APPLY_ERROR, "%s: expected an error, got %d (%s)", dos, rc, out);
	ck_assert_msg(strcmp(msg, expect) == 0, "%s\n  got      %s\n  expected %s", dos, msg, expect);
	sm_rules_free(r);
}

/* Expect a compile error with this exact "file:line: message". */
static void check_syntax(const char *initial, const char *when, const char *dos, const char *expect)
{
	sm_rule_source src[] = { { T, when, dos, 10, "aggregates[0].events[3]", 11, 12 } };
	sm_rules *r = NULL;
	sm_error err;
	char buf[1400];

	sm_error_clear(&err);
	ck_assert_msg(sm_rules_compile(initial, 9, "aggregates[0].initial", src, 1, "snapmig.conf", &r, &err) != 0,
		      "expected a syntax error for %s", dos ? dos : when ? when : initial);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(err.code, SM_ERR_CONFIG);
	sm_error_format(&err, buf, sizeof buf);
	ck_assert_msg(strcmp(buf, expect) == 0, "\n  got      %s\n  expected %s", buf, expect);
}

/* ----------------------------------------------------------- reset */

START_TEST(test_reset_restores_initial_and_later_statements_apply)
{
	sm_rules *r = compile1("{id: null, items: []}", NULL, "reset; id = event.id");

	ck_assert_int_eq(apply_ev(r, "{\"id\":\"old\",\"items\":[1],\"extra\":true}", T, 3, "{\"id\":\"n\"}", NULL),
			 SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"id\":\"n\",\"items\":[]}");
	sm_rules_free(r);
}
END_TEST

/* ------------------------------------------------------ conditions */

static const char *first_match(const char *when, const char *data)
{
	sm_rule_source src[] = {
		{ T, when, "r = 'when'", 10, "events[0]", 0, 0 },
		{ T, NULL, "r = 'else'", 11, "events[1]", 0, 0 },
	};
	sm_rules *r = compile_entries(FIELDS, src, 2);
	int rc = apply_ev(r, "{\"list\":[1,{\"a\":[2]}],\"obj\":{\"k\":1},\"n\":null}", T, 1, data, NULL);

	ck_assert_msg(rc == SM_APPLY_OK, "%s: %s", when, msg);
	sm_rules_free(r);
	return strstr(out, "\"when\"") ? "when" : "else";
}

#define HOLDS(w, d) ck_assert_msg(strcmp(first_match(w, d), "when") == 0, "expected to hold: %s with %s", w, d)
#define FAILS(w, d) ck_assert_msg(strcmp(first_match(w, d), "else") == 0, "expected not to hold: %s with %s", w, d)

START_TEST(test_in_on_a_string_fails)
{
	sm_rules *r = compile1(FIELDS, "1 in event.s", "x = 1");

	ck_assert_int_eq(apply_ev(r, "{}", T, 4, "{\"s\":\"abc\"}", NULL), SM_APPLY_ERROR);
	ck_assert_str_eq(msg, "when 1 in event.s: in: the right side must be a list or an object, got string at " T " v4");
	sm_rules_free(r);
}
END_TEST

/* ------------------------------------------------ entries and events */

START_TEST(test_first_entry_whose_when_holds_applies)
{
	sm_rule_source src[] = {
		{ T, "event.n == 1", "r = 'one'", 10, "events[0]", 0, 0 },
		{ T, "event.n == 2", "r = 'two'", 11, "events[1]", 0, 0 },
		{ "Elixir.T.Events.Paused", NULL, NULL, 12, "events[2]", 0, 0 },
	};
	sm_rules *r = compile_entries(FIELDS, src, 3);

	ck_assert_int_eq(apply_ev(r, "{}", T, 1, "{\"n\":2}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"r\":\"two\"}");
	ck_assert_int_eq(apply_ev(r, "{}", T, 5, "{\"n\":3}", NULL), SM_APPLY_NO_MATCH);
	ck_assert_str_eq(msg, "no handler matched " T " at v5 (no when held)");
	ck_assert_int_eq(apply_ev(r, "{\"k\":1}", "Elixir.T.Events.Paused", 6, "{}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"k\":1}");
	ck_assert_int_eq(apply_ev(r, "{}", "Elixir.T.Events.New", 9, "{}", NULL), SM_APPLY_UNKNOWN_EVENT);
	ck_assert_str_eq(msg, "unknown event Elixir.T.Events.New at v9 (no entry with this on)");
	sm_rules_free(r);
}
END_TEST

START_TEST(test_event_types_are_distinct_in_config_order)
{
	sm_rule_source src[] = {
		{ "Z.B", "event.x", NULL, 1, "events[0]", 0, 0 },
		{ "A.A", NULL, NULL, 2, "events[1]", 0, 0 },
		{ "Z.B", NULL, NULL, 3, "events[2]", 0, 0 },
	};
	sm_rules *r = compile_entries(FIELDS, src, 3);
	const char *const *types;

	ck_assert_uint_eq(sm_rules_event_types(r, &types), 2);
	ck_assert_str_eq(types[0], "Z.B");
	ck_assert_str_eq(types[1], "A.A");
	ck_assert(sm_rules_handles(r, "A.A"));
	ck_assert(!sm_rules_handles(r, "A"));
	sm_rules_free(r);
}
END_TEST

START_TEST(test_initial_is_a_fresh_copy_each_time)
{
	sm_rules *r = compile1("{id: null, components: {}, n: 1.50, l: ['a' ~ 'b']}", NULL, NULL);
	json_object *a = sm_rules_initial(r), *b;

	json_object_object_add(a, "id", json_object_new_int(1));
	b = sm_rules_initial(r);
	ck_assert_str_eq(sm_json_print(b, NULL), "{\"id\":null,\"components\":{},\"n\":1.50,\"l\":[\"ab\"]}");
	json_object_put(a);
	json_object_put(b);
	sm_rules_free(r);
}
END_TEST

START_TEST(test_state_that_is_not_an_object_fails_cleanly)
{
	sm_rules *r = compile1(FIELDS, NULL, "a = 1");

	ck_assert_int_eq(apply_ev(r, "[1]", T, 2, "{}", NULL), SM_APPLY_ERROR);
	ck_assert_str_eq(msg, "the state is array, not an object, at " T " v2");
	/* Event data that is not an object reads as having no fields. */
	ck_assert_int_eq(apply_ev(r, "{}", T, 2, "[1]", NULL), SM_APPLY_OK);
	sm_rules_free(r);
}
END_TEST

/* The two aggregates of the issue's example, event by event. */
START_TEST(test_status_page_example)
{
	sm_rule_source src[] = {
		{ "SP.Created", NULL, "id = event.id", 1, "e[0]", 0, 0 },
		{ "SP.ComponentAdded", NULL, "scraped_components[event.component_id] ?= event.component_id", 2, "e[1]", 0, 0 },
		{ "SP.ComponentRemoved", NULL, "delete scraped_components[event.component_id]; delete components[event.component_id]", 3, "e[2]", 0, 0 },
		{ "SP.ComponentStatusChanged", NULL, "components[event.component_id] = [event.status, event.changed_at, event.change_id]", 4, "e[3]", 0, 0 },
		{ "SP.SubscriptionAdded", NULL, "prepend subscriptions {id: event.subscription_id, component_id: event.component_id, account_id: event.account_id}", 5, "e[4]", 0, 0 },
		{ "SP.SubscriptionRemoved", NULL, "remove subscriptions where it.id == event.subscription_id", 6, "e[5]", 0, 0 },
		{ "SP.Reset", NULL, "components = {}; scraped_components = {}; subscriptions = []", 7, "e[6]", 0, 0 },
		{ "SP.Paused", NULL, NULL, 8, "e[7]", 0, 0 },
		{ "SP.Removed", NULL, "reset", 9, "e[8]", 0, 0 },
	};
	static const struct { const char *type, *data, *state; } steps[] = {
		{ "SP.Created", "{\"id\":\"sp1\"}",
		  "{\"id\":\"sp1\",\"components\":{},\"scraped_components\":{},\"subscriptions\":[]}" },
		{ "SP.ComponentAdded", "{\"component_id\":\"c1\"}",
		  "{\"id\":\"sp1\",\"components\":{},\"scraped_components\":{\"c1\":\"c1\"},\"subscriptions\":[]}" },
		{ "SP.ComponentStatusChanged", "{\"component_id\":\"c1\",\"status\":\"down\",\"changed_at\":\"t1\",\"change_id\":7}",
		  "{\"id\":\"sp1\",\"components\":{\"c1\":[\"down\",\"t1\",7]},\"scraped_components\":{\"c1\":\"c1\"},\"subscriptions\":[]}" },
		{ "SP.SubscriptionAdded", "{\"subscription_id\":\"s1\",\"component_id\":\"c1\",\"account_id\":\"a1\"}",
		  "{\"id\":\"sp1\",\"components\":{\"c1\":[\"down\",\"t1\",7]},\"scraped_components\":{\"c1\":\"c1\"},"
		  "\"subscriptions\":[{\"id\":\"s1\",\"component_id\":\"c1\",\"account_id\":\"a1\"}]}" },
		{ "SP.SubscriptionAdded", "{\"subscription_id\":\"s2\",\"component_id\":\"c1\",\"account_id\":\"a2\"}",
		  "{\"id\":\"sp1\",\"components\":{\"c1\":[\"down\",\"t1\",7]},\"scraped_components\":{\"c1\":\"c1\"},"
		  "\"subscriptions\":[{\"id\":\"s2\",\"component_id\":\"c1\",\"account_id\":\"a2\"},{\"id\":\"s1\",\"component_id\":\"c1\",\"account_id\":\"a1\"}]}" },
		{ "SP.SubscriptionRemoved", "{\"subscription_id\":\"s1\"}",
		  "{\"id\":\"sp1\",\"components\":{\"c1\":[\"down\",\"t1\",7]},\"scraped_components\":{\"c1\":\"c1\"},"
		  "\"subscriptions\":[{\"id\":\"s2\",\"component_id\":\"c1\",\"account_id\":\"a2\"}]}" },
		{ "SP.Paused", "{}",
		  "{\"id\":\"sp1\",\"components\":{\"c1\":[\"down\",\"t1\",7]},\"scraped_components\":{\"c1\":\"c1\"},"
		  "\"subscriptions\":[{\"id\":\"s2\",\"component_id\":\"c1\",\"account_id\":\"a2\"}]}" },
		{ "SP.ComponentRemoved", "{\"component_id\":\"c1\"}",
		  "{\"id\":\"sp1\",\"components\":{},\"scraped_components\":{},"
		  "\"subscriptions\":[{\"id\":\"s2\",\"component_id\":\"c1\",\"account_id\":\"a2\"}]}" },
		{ "SP.Reset", "{}",
		  "{\"id\":\"sp1\",\"components\":{},\"scraped_components\":{},\"subscriptions\":[]}" },
		{ "SP.Removed", "{}",
		  "{\"id\":null,\"components\":{},\"scraped_components\":{},\"subscriptions\":[]}" },
	};
	sm_rules *r = compile_entries("{id: null, components: {}, scraped_components: {}, subscriptions: []}",
				      src, sizeof src / sizeof src[0]);
	json_object *st = sm_rules_initial(r);

	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		json_object *d = parse(steps[i].data);
		sm_event_view ev = { steps[i].type, (long long)i + 1, "sp1", d, NULL };
		sm_error err;

		sm_error_clear(&err);
		ck_assert_msg(sm_rules_apply(r, &st, &ev, &err) == SM_APPLY_OK, "step %zu: %s", i, err.message);
		ck_assert_msg(strcmp(sm_json_print(st, NULL), steps[i].state) == 0,
			      "step %zu (%s)\n  got      %s\n  expected %s", i, steps[i].type,
			      sm_json_print(st, NULL), steps[i].state);
		json_object_put(d);
	}
	json_object_put(st);
	sm_rules_free(r);
}
END_TEST

START_TEST(test_team_example_adds_a_member_once)
{
	sm_rule_source src[] = {
		{ "Team.MemberAdded", "not (event.user_id in state.member_ids)", "append member_ids event.user_id", 1, "e[0]", 0, 0 },
		{ "Team.MemberAdded", NULL, NULL, 2, "e[1]", 0, 0 },
		{ "Team.MemberRemoved", NULL, "remove member_ids where it == event.user_id", 3, "e[2]", 0, 0 },
	};
	sm_rules *r = compile_entries("{id: null, member_ids: []}", src, 3);

	ck_assert_int_eq(apply_ev(r, "{\"id\":\"t\",\"member_ids\":[1]}", "Team.MemberAdded", 2, "{\"user_id\":2}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"id\":\"t\",\"member_ids\":[1,2]}");
	ck_assert_int_eq(apply_ev(r, "{\"id\":\"t\",\"member_ids\":[1,2]}", "Team.MemberAdded", 3, "{\"user_id\":2}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"id\":\"t\",\"member_ids\":[1,2]}");
	ck_assert_int_eq(apply_ev(r, "{\"id\":\"t\",\"member_ids\":[1,2]}", "Team.MemberRemoved", 4, "{\"user_id\":1}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"id\":\"t\",\"member_ids\":[2]}");
	sm_rules_free(r);
}
END_TEST

/* ------------------------------------------------------- syntax errors */

START_TEST(test_a_literal_top_level_key_outside_initial_is_refused_at_load)
{
	static const char *const writes[][2] = {
		{ "quote = 1", "1" },
		{ "id = 1; quote.x ?= 1", "9" },
		{ "state.quote += 1", "7" },
		{ "state['quote'] = 1", "6" },
		{ "append quote 1", "8" },
		{ "prepend quote 1", "9" },
		{ "merge quote {}", "7" },
		{ "remove quote where it == 1", "8" },
		{ "delete quote.x", "8" },
	};

	for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
		char want[512];

		snprintf(want, sizeof want, "snapmig.conf:12: aggregates[0].events[3].do, col %s: quote is not a "
			 "field of initial; the state's top-level keys are the aggregate struct's fields, the keys "
			 "of initial (id, items)", writes[i][1]);
		check_syntax("{id: null, items: []}", NULL, writes[i][0], want);
	}
}
END_TEST

START_TEST(test_writes_below_a_field_and_computed_fields_are_fine)
{
	sm_rules *r = compile1("{id: null, m: {}, n: 0}", NULL,
			       "m.new.deep = 1; state[event.f] = event.v; delete m[event.f]; delete m.new");

	ck_assert_int_eq(apply_ev(r, "{\"id\":null,\"m\":{\"id\":1},\"n\":0}", T, 3,
				  "{\"f\":\"id\",\"v\":\"x\"}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"id\":\"x\",\"m\":{},\"n\":0}");
	sm_rules_free(r);
}
END_TEST

START_TEST(test_a_computed_top_level_key_outside_initial_fails_the_instance)
{
	sm_rules *r = compile1("{id: null, n: 0}", NULL, "state[event.f] = 1");

	ck_assert_int_eq(apply_ev(r, "{\"id\":null,\"n\":0}", T, 3, "{\"f\":\"quote\"}", NULL), SM_APPLY_ERROR);
	ck_assert_str_eq(msg, "state[event.f] = 1: quote is not a field of initial (the state's top-level keys "
			 "are the aggregate struct's fields) at " T " v3");
	sm_rules_free(r);
	r = compile1("{id: null, n: 0}", NULL, "delete state[event.f]");
	ck_assert_int_eq(apply_ev(r, "{\"id\":null,\"n\":0}", T, 4, "{\"f\":\"n\"}", NULL), SM_APPLY_ERROR);
	ck_assert_str_eq(msg, "delete state[event.f]: a field of the aggregate struct cannot be deleted "
			 "(set it to null) at " T " v4");
	ck_assert_int_eq(apply_ev(r, "{\"id\":null,\"n\":0}", T, 5, "{\"f\":\"zz\"}", NULL), SM_APPLY_ERROR);
	ck_assert_str_eq(msg, "delete state[event.f]: zz is not a field of initial (the state's top-level keys "
			 "are the aggregate struct's fields) at " T " v5");
	sm_rules_free(r);
}
END_TEST

START_TEST(test_deep_nesting_is_a_syntax_error_not_a_crash)
{
	char dos[1000];
	size_t n = 0;

	n += (size_t)snprintf(dos, sizeof dos, "a = ");
	for (int i = 0; i < 200; i++)
		dos[n++] = '[';
	dos[n] = '\0';
	check_syntax("{}", NULL, dos,
		     "snapmig.conf:12: aggregates[0].events[3].do, col 68: nested deeper than 64 levels");
}
END_TEST

START_TEST(test_entry_after_one_without_when_never_applies)
{
	sm_rule_source src[] = {
		{ T, NULL, NULL, 20, "aggregates[1].events[0]", 0, 0 },
		{ T, "event.x", NULL, 21, "aggregates[1].events[1]", 0, 0 },
	};
	sm_rules *r = NULL;
	sm_error err;
	char buf[1400];

	sm_error_clear(&err);
	ck_assert_int_eq(sm_rules_compile("{}", 1, "initial", src, 2, "f.conf", &r, &err), SM_ERR_CONFIG);
	ck_assert_str_eq(sm_error_format(&err, buf, sizeof buf),
			 "f.conf:21: aggregates[1].events[1]: never applies: aggregates[1].events[0] handles " T " first and has no when");
}
END_TEST

/* ---------------------------------------------------------- threads */

struct thread_arg {
	const sm_rules *rules;
	char result[256];
	int rc;
};

static void *apply_many(void *p)
{
	struct thread_arg *a = p;
	json_object *st = sm_rules_initial(a->rules);
	json_object *d = json_tokener_parse("{\"id\":\"x\",\"price\":1.50}");

	for (long long v = 1; v <= 2000 && a->rc == 0; v++) {
		sm_event_view ev = { T, v, "s", d, NULL };
		sm_error err;

		a->rc = sm_rules_apply(a->rules, &st, &ev, &err);
	}
	snprintf(a->result, sizeof a->result, "%s", sm_json_print(st, NULL));
	json_object_put(st);
	json_object_put(d);
	return NULL;
}

START_TEST(test_one_compiled_rules_serves_many_threads)
{
	sm_rules *r;

	r = compile1("{n: 0, l: [], p: 1.50, o: {k: [1]}, price: null, m: null}", "exists event.id",
		     "n += 1; prepend l state.o; remove l where it.k == [1] and state.n != 0; "
		     "o.k = [1]; price = event.price; m = {k: state.p}");
	{
		pthread_t th[4];
		struct thread_arg args[4];

		for (int i = 0; i < 4; i++) {
			memset(&args[i], 0, sizeof args[i]);
			args[i].rules = r;
			ck_assert_int_eq(pthread_create(&th[i], NULL, apply_many, &args[i]), 0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			ck_assert_int_eq(args[i].rc, SM_APPLY_OK);
			ck_assert_str_eq(args[i].result,
					 "{\"n\":2000,\"l\":[],\"p\":1.50,\"o\":{\"k\":[1]},\"price\":1.50,\"m\":{\"k\":1.50}}");
		}
	}
	sm_rules_free(r);
}
END_TEST

/* Names of what the entries for T read, as "a,b" or "*" for the whole
 * data, plus "+meta". */
static const char *reads_of(const char *when, const char *dos)
{
	static char buf[256];
	sm_rules *r = compile1(FIELDS, when, dos);
	const sm_event_reads *rd = sm_rules_reads(r, T);
	size_t n = 0;

	buf[0] = '\0';
	if (rd->all_data)
		n += (size_t)snprintf(buf, sizeof buf, "*");
	for (size_t i = 0; !rd->all_data && i < rd->data.n; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", rd->data.names[i]);
	if (rd->metadata)
		snprintf(buf + n, sizeof buf - n, "+meta");
	ck_assert_ptr_null(sm_rules_reads(r, "Elixir.Not.Handled"));
	sm_rules_free(r);
	return buf;
}

START_TEST(test_reads_name_the_event_members_that_entries_use)
{
	ck_assert_str_eq(reads_of(NULL, "id = event.id"), "id");
	ck_assert_str_eq(reads_of("exists event.x", "a.b[event.k] = [event.v, event['w'], $version]"),
			 "k,v,w,x");
	ck_assert_str_eq(reads_of(NULL, "n += event.a.b.c; remove l where it == event.z"), "a,z");
	ck_assert_str_eq(reads_of(NULL, "who = meta.user ~ event.id"), "id+meta");
	ck_assert_str_eq(reads_of(NULL, "reset"), "");
	ck_assert_str_eq(reads_of(NULL, NULL), "");
	/* The whole object, or a key only known when the event is applied. */
	ck_assert_str_eq(reads_of(NULL, "merge s event"), "*");
	ck_assert_str_eq(reads_of(NULL, "x = event[event.key]"), "*");
	ck_assert_str_eq(reads_of(NULL, "x = event[1]"), "*");
	ck_assert_str_eq(reads_of("event.k in state.seen", "last = meta"), "k+meta");
}
END_TEST

/* Whatever the rules do, applying an event built with only the members
 * they read gives the same state as applying the whole event. */
START_TEST(test_an_event_restricted_to_its_reads_applies_the_same)
{
	static const char *const programs[][2] = {
		{ NULL, "id = event.id; tags[event.k] ?= event.v; n += event.n" },
		{ "exists event.opt", "o = event.opt" },
		{ NULL, "o = event.opt" },
		{ NULL, "merge s event; delete s.id" },
		{ "not (event.v in state.vs)", "append vs event.v; c = {x: event.n, y: [event['id']]}" },
		{ NULL, "x = event[event.k]" },
		{ NULL, "s = event.id ~ '-' ~ event.missing" },
		{ NULL, "if exists event.opt then o = event.opt elif event.n == 3 then o = event.k ?? 'x' else fail event.id end" },
		{ "exists event.v or length([]) == 0", "vs = uniq((state.vs ?? []) ++ [event.v] -- [null]); n = max(event.n ?? 0, 1)" },
	};
	static const char *const events[] = {
		"{\"id\":\"a\",\"k\":\"v\",\"v\":2.50,\"n\":3,\"opt\":null,\"big\":{\"deep\":[1,[2]]}}",
		"{\"id\":\"\\u00e9\",\"k\":\"id\",\"v\":[1],\"n\":-7,\"id\":\"dup\"}",
		"{}",
	};
	sm_json_reader *reader = sm_json_reader_new();

	for (size_t p = 0; p < sizeof programs / sizeof programs[0]; p++) {
		sm_rules *r = compile1(FIELDS, programs[p][0], programs[p][1]);
		const sm_event_reads *rd = sm_rules_reads(r, T);

		for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
			json_object *whole = NULL, *part = NULL;
			json_object *s1 = parse("{\"vs\":[],\"n\":0}"), *s2 = parse("{\"vs\":[],\"n\":0}");
			sm_event_view ev = { T, 3, "stream-1", NULL, NULL, NULL };
			sm_error err;
			int rc1, rc2;

			sm_error_clear(&err);
			ck_assert_int_eq(sm_json_reader_parse_object_fields(reader, events[e], strlen(events[e]),
									    NULL, &whole, &err), 0);
			ck_assert_int_eq(sm_json_reader_parse_object_fields(reader, events[e], strlen(events[e]),
									    rd->all_data ? NULL : &rd->data,
									    &part, &err), 0);
			ev.data = whole;
			rc1 = sm_rules_apply(r, &s1, &ev, &err);
			ev.data = part;
			rc2 = sm_rules_apply(r, &s2, &ev, &err);
			ck_assert_int_eq(rc1, rc2);
			if (rc1 == SM_APPLY_OK)
				ck_assert_msg(sm_json_equal(s1, s2), "program %zu event %zu: %s vs %s", p, e,
					      sm_json_print(s1, NULL), sm_json_print(s2, NULL));
			json_object_put(whole);
			json_object_put(part);
			json_object_put(s1);
			json_object_put(s2);
		}
		sm_rules_free(r);
	}
	sm_json_reader_free(reader);
}
END_TEST

/* ---------------------------------------------------- if ... then ... end */

START_TEST(test_if_elif_else_applies_one_branch)
{
	const char *dos = "if event.x == 1 then a = 'one' elif event.x == 2 then a = 'two'; b = 2 "
			  "else a = 'other' end; c = 'after'";

	check_do("{}", dos, "{\"x\":1}", "{\"a\":\"one\",\"c\":\"after\"}");
	check_do("{}", dos, "{\"x\":2}", "{\"a\":\"two\",\"b\":2,\"c\":\"after\"}");
	check_do("{}", dos, "{\"x\":3}", "{\"a\":\"other\",\"c\":\"after\"}");
	check_do("{}", dos, "{}", "{\"a\":\"other\",\"c\":\"after\"}");
	{
		sm_rules *r = compile1("{a: null, n: 0}", NULL, "if true then reset; a = 1 end");

		ck_assert_int_eq(apply_ev(r, "{\"a\":null,\"n\":5}", T, 2, "{}", NULL), SM_APPLY_OK);
		ck_assert_str_eq(out, "{\"a\":1,\"n\":0}");
		sm_rules_free(r);
	}
}
END_TEST

/* -------------------------------------------------------- catch-all */

START_TEST(test_a_catch_all_entry_takes_every_other_event)
{
	sm_rule_source src[] = {
		{ T, "event.n == 1", "r = 'one'", 10, "events[0]", 0, 0 },
		{ "Elixir.T.Events.Other", NULL, "r = 'other'", 11, "events[1]", 0, 0 },
		{ "*", "event.n == 2", "r = 'any two'", 12, "events[2]", 0, 0 },
		{ "*", NULL, NULL, 13, "events[3]", 0, 0 },
	};
	sm_rules *r = compile_entries(FIELDS, src, 4);
	const char *const *types;

	ck_assert_int_eq(apply_ev(r, "{}", T, 1, "{\"n\":1}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"r\":\"one\"}");
	/* Like apply(state, _event) as the last clause: it also takes an
	 * event of a handled type whose clauses did not match. */
	ck_assert_int_eq(apply_ev(r, "{}", T, 2, "{\"n\":2}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"r\":\"any two\"}");
	ck_assert_int_eq(apply_ev(r, "{\"k\":1}", T, 3, "{\"n\":3}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"k\":1}");
	ck_assert_int_eq(apply_ev(r, "{}", "Elixir.T.Events.New", 4, "{\"n\":2}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"r\":\"any two\"}");
	ck_assert_int_eq(apply_ev(r, "{\"k\":1}", "Elixir.T.Events.New", 5, "{}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"k\":1}");
	ck_assert(sm_rules_handles(r, "Elixir.Anything"));
	ck_assert(sm_rules_handles_any(r));
	ck_assert_uint_eq(sm_rules_event_types(r, &types), 2);
	/* An unhandled type reads what the catch-all entries read. */
	ck_assert_uint_eq(sm_rules_reads(r, "Elixir.Anything")->data.n, 1);
	ck_assert_str_eq(sm_rules_reads(r, "Elixir.Anything")->data.names[0], "n");
	sm_rules_free(r);
}
END_TEST

START_TEST(test_catch_all_entries_come_last)
{
	sm_rule_source after[] = {
		{ "*", "event.x", NULL, 20, "aggregates[1].events[0]", 0, 0 },
		{ T, NULL, NULL, 21, "aggregates[1].events[1]", 0, 0 },
	};
	sm_rule_source twice[] = {
		{ "*", NULL, NULL, 20, "aggregates[1].events[0]", 0, 0 },
		{ "*", "event.x", NULL, 21, "aggregates[1].events[1]", 0, 0 },
	};
	sm_rules *r = NULL;
	sm_error err;
	char buf[1400];

	sm_error_clear(&err);
	ck_assert_int_eq(sm_rules_compile("{}", 1, "initial", after, 2, "f.conf", &r, &err), SM_ERR_CONFIG);
	ck_assert_str_eq(sm_error_format(&err, buf, sizeof buf),
			 "f.conf:21: aggregates[1].events[1]: comes after the catch-all aggregates[1].events[0] "
			 "(on = \"*\"); Elixir tries apply/2 clauses in order, so put the catch-all entries last");
	ck_assert_int_eq(sm_rules_compile("{}", 1, "initial", twice, 2, "f.conf", &r, &err), SM_ERR_CONFIG);
	ck_assert_str_eq(sm_error_format(&err, buf, sizeof buf),
			 "f.conf:21: aggregates[1].events[1]: never applies: aggregates[1].events[0] handles * first and has no when");
}
END_TEST

/* -------------------------------------------------- names ending in ? */

START_TEST(test_names_may_end_in_a_question_mark)
{
	sm_rules *r = compile1("{'admin?': false, 'ok?': null, a: null}", NULL,
			       "admin? = event.admin?; state.ok? ?= {ready?: true}; "
			       "if state.admin?==true then a = state.ok?.ready? end");

	ck_assert_int_eq(apply_ev(r, "{\"admin?\":false,\"a\":null}", T, 1, "{\"admin?\":true}", NULL), SM_APPLY_OK);
	ck_assert_str_eq(out, "{\"admin?\":true,\"a\":true,\"ok?\":{\"ready?\":true}}");
	sm_rules_free(r);
}
END_TEST

/* Against Elixir itself: tests/data/elixir-values.txt holds what Elixir
 * 1.14 on OTP 25 gives for 2,400 random JSON-shaped values (made by
 * tests/data/elixir-values.exs): Enum.max/min, Enum.uniq, length, --, ++,
 * == and ===.  Each line is applied here through the rules. */
START_TEST(test_functions_and_operators_give_what_elixir_gives)
{
	static const char *const ops[][2] = {
		{ "max", "r = max(event.a)" },
		{ "min", "r = min(event.a)" },
		{ "uniq", "r = uniq(event.a)" },
		{ "length", "r = length(event.a)" },
		{ "sub", "r = event.a -- event.b" },
		{ "cat", "r = event.a ++ event.b" },
		{ "eq", "if event.a == event.b then r = true else r = false end" },
		/* === as uniq sees it */
		{ "strict", "if length(uniq([event.a, event.b])) == 1 then r = true else r = false end" },
	};
	sm_rules *rules[8];
	const char *srcdir = getenv("SNAPMIG_SRCDIR");
	char path[4096], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int n = 0;

	for (size_t i = 0; i < 8; i++)
		rules[i] = compile1("{r: null}", NULL, ops[i][1]);
	snprintf(path, sizeof path, "%s/tests/data/elixir-values.txt", srcdir ? srcdir : ".");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	while (getline(&line, &cap, f) > 0) {
		char *op = strtok(line, "\t"), *a = strtok(NULL, "\t"), *b = strtok(NULL, "\t");
		char *want = strtok(NULL, "\t\n"), *data;
		size_t k;
		int rc;

		ck_assert_ptr_nonnull(want);
		for (k = 0; k < 8 && strcmp(ops[k][0], op) != 0; k++)
			;
		ck_assert_msg(k < 8, "unknown op %s", op);
		ck_assert(asprintf(&data, "{\"a\":%s,\"b\":%s}", a, b) > 0);
		rc = apply_ev(rules[k], "{\"r\":null}", T, 1, data, NULL);
		if (strcmp(want, "error") == 0) {
			ck_assert_msg(rc == SM_APPLY_ERROR, "%s %s: expected a failure, got %s", op, a, out);
		} else {
			char expect[8192];

			ck_assert_msg(rc == SM_APPLY_OK, "%s %s %s: %s", op, a, b, msg);
			snprintf(expect, sizeof expect, "{\"r\":%s}", want);
			ck_assert_msg(strcmp(out, expect) == 0, "%s of %s and %s\n  got      %s\n  Elixir   %s",
				      op, a, b, out, expect);
		}
		free(data);
		n++;
	}
	free(line);
	fclose(f);
	for (size_t i = 0; i < 8; i++)
		sm_rules_free(rules[i]);
	ck_assert_int_ge(n, 2400);
}
END_TEST

/* ---------------------------------------------------- check analysis */

/* The warnings of rules as "line: text" lines. */
static char *warnings_of(const char *initial, const sm_rule_source *src, size_t n)
{
	sm_rules *r = compile_entries(initial, src, n);
	const sm_rules_warning *w;
	size_t k = sm_rules_warnings(r, &w);
	char *all = strdup("");

	for (size_t i = 0; i < k; i++) {
		char *next;

		ck_assert(asprintf(&next, "%s%d: %s\n", all, w[i].line, w[i].text) > 0);
		free(all);
		all = next;
	}
	sm_rules_free(r);
	return all;
}

#define W(on, when, dos, line) { on, when, dos, line, "e" #line, line, line }

/* Long texts: Check cannot carry them in a failure message. */
static void same_text(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fprintf(stderr, "got:\n%s\nexpected:\n%s\n", got, want);
	ck_assert_msg(strcmp(got, want) == 0, "the warnings differ (see above)");
}

START_TEST(test_check_finds_entries_that_never_apply)
{
	sm_rule_source src[] = {
		W(T, "event.n == 1", "a = 1", 1),
		W(T, "event.n == 1", NULL, 2),
		W(T, "$type == 'Elixir.Other'", NULL, 3),
		W(T, "not (1 == 1) or false", NULL, 4),
		W(T, "true and $type == '" T "'", NULL, 5),
		W(T, NULL, NULL, 6),
		W("*", "$type == 'X'", NULL, 7),
	};
	char *got = warnings_of("{a: null}", src, 7);

	same_text(got,
		"2: e2: never applies: e1 handles " T " first with the same when\n"
		"3: e3.when, col 1: never holds (its value is known when the file is loaded), so the entry never applies\n"
		"4: e4.when, col 1: never holds (its value is known when the file is loaded), so the entry never applies\n"
		"5: e5.when, col 1: always holds (its value is known when the file is loaded): the entry can do without it\n"
		"6: e6: never applies: e5 handles " T " first and its when always holds\n");
	free(got);
}
END_TEST

START_TEST(test_check_finds_reads_of_state_that_are_not_fields)
{
	sm_rule_source src[] = {
		W(T, "exists state.ok or state['zz'] == 1", "a = state.missing ?? state.a; a = state.ok?.x; "
		  "m[state.k] = 1; a = state.m.deep", 1),
	};
	char *got = warnings_of("{a: null, m: {}, 'ok?': null, k: 1}", src, 1);

	same_text(got,
		"1: e1.when, col 8: state.ok is read, but ok is not a field of initial, so it is always null (did you mean ok?)\n"
		"1: e1.when, col 20: state.zz is read, but zz is not a field of initial, so it is always null\n"
		"1: e1.do, col 5: state.missing is read, but missing is not a field of initial, so it is always null\n");
	free(got);
}
END_TEST

START_TEST(test_check_finds_statements_that_cannot_work)
{
	sm_rule_source src[] = {
		W(T, NULL, "id ?= event.id; m[event.k] ?= 1; n += 1; s += 1; append m 1; merge l {}; "
		  "remove s where it == 1; s.x = 1; r = 1; append r 1", 1),
		W("Elixir.T.Events.F", NULL, "if true then a = 1 else a = 2 end; if 1 == 2 then a = 3 end; "
		  "fail 'no'; a = 4", 2),
		W("T.Events.G", "event.x in 'abc'", NULL, 3),
	};
	char *got = warnings_of("{id: null, m: {}, n: 0, s: 'x', l: [], r: 'x', a: null}", src, 3);

	same_text(got,
		"1: e1.do, col 1: id ?= event.id never sets id: a field of the struct is always present "
		"(Map.put_new); to set it while it is null write id = state.id ?? event.id\n"
		"1: e1.do, col 42: s += 1: s is a string in initial, not a number, and nothing assigns it another value, so this fails\n"
		"1: e1.do, col 50: append m 1: m is an object in initial, not a list, and nothing assigns it another value, so this fails\n"
		"1: e1.do, col 62: merge l {}: l is a list in initial, not an object, and nothing assigns it another value, so this fails\n"
		"1: e1.do, col 74: remove s where it == 1: s is a string in initial, not a list or an object, and nothing "
		"assigns it another value, so this fails\n"
		"1: e1.do, col 98: s.x = 1: s is a string in initial, not an object, and nothing assigns it another value, so this fails\n"
		"2: e2.do, col 1: if true: the condition always holds, so the else branch never applies\n"
		"2: e2.do, col 36: if 1 == 2: the condition never holds, so the then branch never applies\n"
		"2: e2.do, col 73: a = 4: never applies, it comes after fail\n"
		"3: e3: on = \"T.Events.G\": Commanded stores event types as module names with the Elixir. prefix "
		"(\"Elixir.T.Events.G\")\n"
		"3: e3.when, col 12: in: the right side is a string, not a list or an object, so this fails every "
		"instance that gets here\n");
	free(got);
}
END_TEST

/* The examples of snapmig.conf(5) and these tests' aggregates are clean. */
START_TEST(test_check_is_quiet_about_sound_rules)
{
	sm_rule_source src[] = {
		W("Elixir.SP.Created", NULL, "id = event.id", 1),
		W("Elixir.SP.ComponentAdded", NULL, "scraped_components[event.component_id] ?= event.component_id", 2),
		W("Elixir.SP.SubscriptionRemoved", NULL, "remove subscriptions where it.id == event.subscription_id", 3),
		W("Elixir.SP.Reset", NULL, "components = {}; scraped_components = {}; subscriptions = []", 4),
		W("Elixir.SP.Added", "not (event.user_id in state.subscriptions)", "append subscriptions event.user_id", 5),
		W("Elixir.SP.Added", NULL, NULL, 6),
		W("Elixir.SP.Changed", NULL, "if exists state.id then id = event.id ?? state.id else fail 'no id' end", 7),
		W("*", NULL, NULL, 8),
	};
	char *got = warnings_of("{id: null, components: {}, scraped_components: {}, subscriptions: []}", src, 8);

	same_text(got, "");
	free(got);
}
END_TEST

/* ------------------------------------------------------ canonical text */

/* Rules as a test writes them: initial and up to four entries. */
typedef struct spelling {
	const char *initial;
	sm_rule_source e[4];
} spelling;

/* The canonical text of a spelling (malloc'ed); also checks that the text
 * compiles back to itself. */
static char *canonical_of(const spelling *sp)
{
	size_t n = 0;
	sm_rules *r;
	char *text;

	while (n < 4 && sp->e[n].on)
		n++;
	r = compile_entries(sp->initial, sp->e, n);
	text = strdup(sm_rules_canonical(r));
	ck_assert_msg(sm_fuzz_rules_roundtrip(r) == 0, "canonical text does not compile back:\n%s", text);
	sm_rules_free(r);
	return text;
}

#define E(on, when, dos) { on, when, dos, 1, "e", 0, 0 }

START_TEST(test_canonical_text_is_rules_source_in_a_fixed_layout)
{
	spelling sp = { "{ id : null , l : [ ], n: 1.50, 'odd key': {} }", {
		E("B", "event.n == 1 and not exists event.x", "id = event['id'] ; append l  ('a' ~ event.s)"),
		E("A", NULL, "state['odd key'].x += 1; remove l where it == key"),
		E("B", NULL, NULL),
	} };
	char *text = canonical_of(&sp);

	ck_assert_str_eq(text,
		"snapmig-rules 2\n"
		"initial {\"id\":null,\"l\":[],\"n\":1.50,\"odd key\":{}}\n"
		"on \"A\"\n"
		"do state[\"odd key\"].x += 1; remove state.l where (it == key)\n"
		"on \"B\"\n"
		"when ((event.n == 1) and not exists event.x)\n"
		"do state.id = event.id; append state.l (\"a\" ~ event.s)\n"
		"on \"B\"\n");
	free(text);
}
END_TEST

/* Every spelling in a group gives the same canonical text. */
START_TEST(test_canonical_text_is_the_same_for_every_spelling_of_the_same_rules)
{
	static const spelling groups[][4] = {
		{ { "{a: null}", { E(T, NULL, "a = 'x'") } },
		  { "{\"a\":null}", { E(T, NULL, "  state.a   =  \"x\" ; ") } },
		  { "{ 'a' : null }", { E(T, NULL, "state['a']=\"x\"") } },
		  { "{a:null}", { E(T, NULL, ";;state[\"a\"] = 'x';") } } },
		{ { "{a: null, l: null}", { E(T, "event.x == 1", "a = event.y.z") } },
		  { "{a: null, l: null}", { E(T, "(event.x == 1)", "a = event['y'][\"z\"]") } },
		  { "{a: null, l: null}", { E(T, "((event.x)) == 1", "a = (event.y).z") } },
		  { "{a: null, l: null}", { E(T, "( event . x == 1 )", "a = ((event.y)['z'])") } } },
		{ { "{a: null, l: null}", { E("X", NULL, "a = {k: [1, 2], 'q r': true}"), E("Y", NULL, NULL) } },
		  { "{a: null, l: null}", { E("Y", NULL, NULL), E("X", NULL, "a = {\"k\":[1,2],\"q r\":true}") } },
		  { "{a: null, l: null}", { E("Y", NULL, ""), E("X", NULL, "a = {k: [1,2], \"q r\": true};") } },
		  { "{a: null, l: null}", { E("Y", NULL, " ; "), E("X", NULL, "state.a = { 'k' : [ 1 , 2 ] , 'q r' : true }") } } },
		{ { "{a: null, l: null}", { E(T, "event.a and event.b or not event.c", "remove l where it.k == 'v'") } },
		  { "{a: null, l: null}", { E(T, "(event.a and event.b) or (not event.c)", "remove state.l where (it.k == \"v\")") } },
		  { "{a: null, l: null}", { E(T, "((event.a) and (event.b)) or not (event.c)", "remove l where it['k'] == 'v'") } },
		  { "{a: null, l: null}", { E(T, "(event['a'] and event[\"b\"]) or not event.c", "remove l where (it).k == 'v'") } } },
		/* elif is else if; operators are right associative */
		{ { "{a: null, l: null}", { E(T, NULL, "if event.x then a = 1 elif event.y then a = 2 else fail 'no' end"),
					    E("*", NULL, NULL) } },
		  { "{a: null, l: null}", { E(T, NULL, "if event.x then a = 1 else if event.y then a = 2 else fail \"no\" end end;"),
					    E("*", NULL, "") } },
		  { "{a: null, l: null}", { E(T, NULL, "if (event.x) then state.a = 1; elif event['y'] then a = 2; else fail 'no'; end"),
					    E("*", NULL, ";") } },
		  { "{a: null, l: null}", { E(T, NULL, "if event.x then a = 1 else if event.y then a = 2 else fail ('no') end end"),
					    E("*", NULL, NULL) } } },
		{ { "{a: null, l: null}", { E(T, NULL, "l = event.a ?? event.b ?? state.l -- [1] ++ [2]; a = max(length(state.l), 1)") } },
		  { "{a: null, l: null}", { E(T, NULL, "l = event.a ?? (event.b ?? (state.l -- ([1] ++ [2]))); a = max(length(state.l),1)") } },
		  { "{a: null, l: null}", { E(T, NULL, "l=event.a ?? event.b ?? state.l--[1]++[2];a=max(length(state.l),1)") } },
		  { "{a: null, l: null}", { E(T, NULL, "state.l = (event.a) ?? event['b'] ?? (state.l) -- [1] ++ [2]; a = max((length(state.l)), 1)") } } },
	};

	for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
		char *first = canonical_of(&groups[g][0]);

		for (size_t k = 1; k < 4; k++) {
			char *text = canonical_of(&groups[g][k]);

			ck_assert_msg(strcmp(first, text) == 0, "group %zu spelling %zu:\n%s\nvs\n%s", g, k,
				      first, text);
			free(text);
		}
		free(first);
	}
}
END_TEST

/* Each variant changes one thing that can change a snapshot: all texts
 * differ from each other. */
START_TEST(test_canonical_text_differs_whenever_the_output_could)
{
	static const spelling variants[] = {
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y"), E(T, NULL, NULL) } },
		/* initial: a value, key order, a number's text, 1 vs 1.0 */
		{ "{a: null, n: 1}", { E(T, "event.x == 1", "a = event.y"), E(T, NULL, NULL) } },
		{ "{n: 0, a: null}", { E(T, "event.x == 1", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0.0}", { E(T, "event.x == 1", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0.00}", { E(T, "event.x == 1", "a = event.y"), E(T, NULL, NULL) } },
		/* conditions */
		{ "{a: null, n: 0}", { E(T, "event.x == 1.0", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x != 1", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x in 1", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "not event.x == 1", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "exists event.x", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1 and event.z", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1 or event.z", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "meta.x == 1", "a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == '1'", "a = event.y"), E(T, NULL, NULL) } },
		/* statements */
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a ?= event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a += event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "append a event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "prepend a event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "merge a event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "delete a.b"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "remove a where it == event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "remove a where key == event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y; reset"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "reset; a = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "n = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a.n = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a[event.n] = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a['event.n'] = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a[1] = event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a['1'] = event.y"), E(T, NULL, NULL) } },
		/* values */
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y.z"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event[0]"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = meta.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = state.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = $version"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = $type"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = $stream"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = [event.y, 1]"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = [1, event.y]"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = {y: event.y}"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = {z: event.y}"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y ~ 'x'"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = 'x' ~ event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = 'event.y'"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = 'x\\u0000y'"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = 'x'"), E(T, NULL, NULL) } },
		/* entries: order within a type, the type, when, a missing entry */
		{ "{a: null, n: 0}", { E(T, NULL, NULL), E(T "2", "event.x == 1", "a = event.y") } },
		{ "{a: null, n: 0}", { E(T "2", "event.x == 1", "a = event.y"), E(T "2", NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, NULL, "a = event.y") } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y") } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y"), E(T, NULL, NULL), E("Other", NULL, NULL) } },
		/* the additions */
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y"), E("*", NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y"), E("*", "event.x", NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y"), E("*", NULL, "fail 'x'") } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y"), E(T, NULL, NULL), E("*", NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "fail event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "if event.y then a = 1 end"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "if event.y then else a = 1 end"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "if not event.y then a = 1 end"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "if event.y then a = 1 end; n = 1"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "if event.y then a = 1; n = 1 end"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y ?? 1"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = 1 ?? event.y"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y ++ [1]"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y -- [1]"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = (event.y -- [1]) -- [1]"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y -- [1] -- [1]"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = length(event.y)"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = uniq(event.y)"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = max(event.y)"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = min(event.y)"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = max(event.y, 1)"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = max(1, event.y)"), E(T, NULL, NULL) } },
		{ "{a: null, n: 0}", { E(T, "event.x == 1", "a = event.y?"), E(T, NULL, NULL) } },
	};
	size_t n = sizeof variants / sizeof variants[0];
	char **texts = calloc(n, sizeof *texts);

	for (size_t i = 0; i < n; i++) {
		texts[i] = canonical_of(&variants[i]);
		for (size_t k = 0; k < i; k++)
			ck_assert_msg(strcmp(texts[i], texts[k]) != 0, "variants %zu and %zu print the same:\n%s",
				      k, i, texts[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
}
END_TEST

/* ------------------------------------------------------------ cases */

/*
 * The cases that compile one entry and check one outcome, as tables: each
 * row runs as a test of its own (Check's loop tests: the index in a report
 * is the row's), so one failing case does not hide the others.  A comment
 * names the behaviour that the rows below it show.
 */

/* Compile dos, apply one T event (version 7) with data to state: DO_OK
 * expects the resulting state, DO_ERROR the failure's exact message. */
static const struct do_case {
	enum { DO_OK, DO_ERROR } outcome;
	const char *state, *dos, *data, *expect;
} do_cases[] = {
	/* set creates missing objects along the path */
	{ DO_OK, "{}", "a.b.c = 1", "{}", "{\"a\":{\"b\":{\"c\":1}}}" },
	/* A space before '[' ends the path: append l [1] appends a list. */
	{ DO_OK, "{}", "append l [1]; append m['k'] 2; n['x'].y = 3", "{}",
	  "{\"l\":[[1]],\"m\":{\"k\":[2]},\"n\":{\"x\":{\"y\":3}}}" },
	{ DO_OK, "{\"a\":null}", "a.b = 1", "{}", "{\"a\":{\"b\":1}}" },
	/* set replaces an existing value in place */
	{ DO_OK, "{\"x\":1,\"y\":2}", "x = 'new'", "{}", "{\"x\":\"new\",\"y\":2}" },
	/* set through a non object fails naming statement type and version */
	{ DO_ERROR, "{\"a\":\"text\"}", "a.b = 2", "{}", "a.b = 2: a is string, not an object at " T " v7" },
	/* put new sets only an absent key */
	{ DO_OK, "{}", "a ?= 1", "{}", "{\"a\":1}" },
	{ DO_OK, "{\"a\":5}", "a ?= 1", "{}", "{\"a\":5}" },
	/* Map.put_new: a key that is present with nil stays nil. */
	{ DO_OK, "{\"a\":null}", "a ?= 1", "{}", "{\"a\":null}" },
	/* state path root and keyword names as fields */
	{ DO_OK, "{}", "state.a = 1; state['b c'] = 2", "{}", "{\"a\":1,\"b c\":2}" },
	{ DO_OK, "{}", "delete = 1; reset = true; remove.x = 2", "{}",
	  "{\"delete\":1,\"reset\":true,\"remove\":{\"x\":2}}" },
	/* add to missing or null counts from zero */
	{ DO_OK, "{}", "n += 2", "{}", "{\"n\":2}" },
	{ DO_OK, "{\"n\":null}", "n += 2", "{}", "{\"n\":2}" },
	/* add of integers stays an exact integer */
	{ DO_OK, "{\"n\":9007199254740993}", "n += 1", "{}", "{\"n\":9007199254740994}" },
	{ DO_OK, "{\"n\":-5}", "n += event.d", "{\"d\":3}", "{\"n\":-2}" },
	/* add with a decimal gives the shortest double */
	{ DO_OK, "{\"n\":1}", "n += 0.5", "{}", "{\"n\":1.5}" },
	{ DO_OK, "{\"n\":0.1}", "n += 0.2", "{}", "{\"n\":0.30000000000000004}" },
	{ DO_OK, "{\"n\":1}", "n += 0.0", "{}", "{\"n\":1.0}" },
	{ DO_OK, "{\"n\":1e20}", "n += 0", "{}", "{\"n\":1.0e20}" },
	/* add overflowing 64 bits fails */
	{ DO_ERROR, "{\"n\":18446744073709551615}", "n += 1", "{}",
	  "n += 1: integer overflow: the sum does not fit in 64 bits at " T " v7" },
	{ DO_ERROR, "{\"n\":-9223372036854775808}", "n += -1", "{}",
	  "n += -1: integer overflow: the sum does not fit in 64 bits at " T " v7" },
	/* add to a string fails */
	{ DO_ERROR, "{\"n\":\"x\"}", "n += 1", "{}",
	  "n += 1: the current value is string, not a number at " T " v7" },
	{ DO_ERROR, "{}", "n += event.s", "{\"s\":\"1\"}",
	  "n += event.s: the value to add is string, not a number at " T " v7" },
	/* delete removes a key and ignores a missing one */
	{ DO_OK, "{\"a\":{\"b\":1,\"c\":2}}", "delete a.b", "{}", "{\"a\":{\"c\":2}}" },
	{ DO_OK, "{\"a\":{\"k\":1}}", "delete a.z; delete q.r.s", "{}", "{\"a\":{\"k\":1}}" },
	/* delete with computed key */
	{ DO_OK, "{\"m\":{\"k1\":1,\"k2\":2}}", "delete m[event.id]", "{\"id\":\"k1\"}",
	  "{\"m\":{\"k2\":2}}" },
	/* append and prepend treat missing as empty list */
	{ DO_OK, "{}", "append l 1; append l 2; prepend l 0", "{}", "{\"l\":[0,1,2]}" },
	{ DO_OK, "{\"l\":null}", "prepend l 'a'", "{}", "{\"l\":[\"a\"]}" },
	/* append on a number fails */
	{ DO_ERROR, "{\"member_ids\":3}", "append member_ids event.user_id", "{\"user_id\":1}",
	  "append member_ids event.user_id: not a list (number) at " T " v7" },
	/* remove where drops matching list elements */
	{ DO_OK, "{\"s\":[{\"id\":1},{\"id\":2},{\"id\":1}]}", "remove s where it.id == event.id",
	  "{\"id\":1}",
	  "{\"s\":[{\"id\":2}]}" },
	{ DO_OK, "{\"s\":[1,2,3,4]}", "remove s where it == 2 or it == 4", "{}", "{\"s\":[1,3]}" },
	/* remove where on an object sees key and value */
	{ DO_OK, "{\"m\":{\"a\":1,\"b\":2,\"c\":1}}", "remove m where it == 1", "{}", "{\"m\":{\"b\":2}}" },
	{ DO_OK, "{\"m\":{\"a\":1,\"b\":2}}", "remove m where key == 'b'", "{}", "{\"m\":{\"a\":1}}" },
	/* remove on missing is nothing and on a number fails */
	{ DO_OK, "{}", "remove s where it == 1", "{}", "{}" },
	{ DO_ERROR, "{\"s\":5}", "remove s where it == 1", "{}",
	  "remove s where it == 1: not a list or an object (number) at " T " v7" },
	/* merge is shallow and creates a missing object */
	{ DO_OK, "{\"o\":{\"a\":1,\"n\":{\"x\":1}}}", "merge o {b: 2, n: {y: 2}}", "{}",
	  "{\"o\":{\"a\":1,\"n\":{\"y\":2},\"b\":2}}" },
	{ DO_OK, "{}", "merge o event", "{\"k\":\"v\"}", "{\"o\":{\"k\":\"v\"}}" },
	/* merge of a non object fails */
	{ DO_ERROR, "{}", "merge o [1]", "{}",
	  "merge o [1]: the value to merge is array, not an object at " T " v7" },
	{ DO_ERROR, "{\"o\":[]}", "merge o {}", "{}", "merge o {}: not an object (array) at " T " v7" },
	/* missing fields read as null */
	{ DO_OK, "{}", "a = event.nope; b = event.x.y.z; c = meta.nope; d = state.q", "{\"x\":1}",
	  "{\"a\":null,\"b\":null,\"c\":null,\"d\":null}" },
	/* event meta state and variables */
	{ DO_OK, "{\"s\":1}", "a = event.x; b = meta.user; c = state.s; v = $version; t = $type; u = $stream",
	  "{\"x\":[1]}",
	  "{\"s\":1,\"a\":[1],\"b\":\"u1\",\"c\":1,\"v\":7,\"t\":\"" T "\",\"u\":\"stream-1\"}" },
	/* computed keys and list indexes */
	{ DO_OK, "{}", "a[event.n] = 1; a[event.d] = 2; a[event.s ~ '!'] = 3",
	  "{\"n\":42,\"d\":1.50,\"s\":\"k\"}",
	  "{\"a\":{\"42\":1,\"1.5\":2,\"k!\":3}}" },
	{ DO_OK, "{}", "a = event[event.which]; b = event.l[1]; c = event.l[9]",
	  "{\"which\":\"w\",\"w\":true,\"l\":[5,6]}",
	  "{\"a\":true,\"b\":6,\"c\":null}" },
	/* number keys are written as elixir writes numbers (issue 16.8, 18): a
	 * key made from a number is what Elixir's to_string/1 gives
	 * (Map.put(m, to_string(n), v)), not the number's source text */
	{ DO_OK, "{}", "m[event.a] = 1; m[event.b] = 2; m[event.c] = 3; m[event.d] = 4; m[event.e] = 5; "
	  "m[event.f] = 6; m[event.g] = 7", "{\"a\":1e2,\"b\":1.50,\"c\":1e20,\"d\":-0.0,\"e\":7,\"f\":-0,\"g\":1.0}", "{\"m\":{\"100.0\":1,\"1.5\":2,\"1.0e20\":3,\"-0.0\":4,\"7\":5,\"0\":6,\"1.0\":7}}" },
	/* Constant keys too, and reading with a number key. */
	{ DO_OK, "{\"m\":{\"100.0\":\"x\"}}", "m[1.5e0] = 1; a = state.m[1e2]", "{}",
	  "{\"m\":{\"100.0\":\"x\",\"1.5\":1},\"a\":\"x\"}" },
	{ DO_ERROR, "{}", "m[event.k] = 1", "{\"k\":1e400}",
	  "m[event.k] = 1: a key must be a finite number, got 1e400 at " T " v7" },
	/* computed key of wrong kind fails */
	{ DO_ERROR, "{}", "a[event.k] = 1", "{}",
	  "a[event.k] = 1: a key must be a string or a number, got null at " T " v7" },
	/* literals strings numbers lists objects */
	{ DO_OK, "{}", "a = \"dq\"; b = 'sq'; c = -12; d = 1.50; e = 1e400; f = [true, false, null]; "
	  "g = {x: 1, \"quoted key\": 'v', nested: {l: []}}; h = 18446744073709551615", "{}", "{\"a\":\"dq\",\"b\":\"sq\",\"c\":-12,\"d\":1.50,\"e\":1e400,\"f\":[true,false,null],"
	  "\"g\":{\"x\":1,\"quoted key\":\"v\",\"nested\":{\"l\":[]}},\"h\":18446744073709551615}" },
	/* string escapes */
	{ DO_OK, "{}", "a = 'it\\'s'; b = \"say \\\"hi\\\"\"; c = 'tab\\there\\n'; d = '\\u00e9\\ud83d\\ude00'; e = 'a\\\\b/\\/'",
	  "{}",
	  "{\"a\":\"it's\",\"b\":\"say \\\"hi\\\"\",\"c\":\"tab\\there\\n\",\"d\":\"\xc3\xa9\xf0\x9f\x98\x80\",\"e\":\"a\\\\b//\"}" },
	/* concatenation of strings numbers and null */
	{ DO_OK, "{}", "a = 'n=' ~ event.n ~ ' d=' ~ event.d ~ ' z=' ~ event.z ~ ' b=' ~ true",
	  "{\"n\":-3,\"d\":0.10}",
	  "{\"a\":\"n=-3 d=0.1 z= b=true\"}" },
	/* Numbers as Elixir's to_string/1 writes them: "x" <> to_string(1.0e2). */
	{ DO_OK, "{}", "a = event.f ~ '|' ~ event.g ~ '|' ~ event.i ~ '|' ~ 1.0",
	  "{\"f\":1e2,\"g\":2.50e-3,\"i\":18446744073709551615}",
	  "{\"a\":\"100.0|0.0025|18446744073709551615|1.0\"}" },
	/* parentheses group values */
	{ DO_OK, "{}", "a = ('x' ~ event.y) ~ 'z'; b = (event.o).k; c = ((event.o))['k']",
	  "{\"y\":1,\"o\":{\"k\":2}}",
	  "{\"a\":\"x1z\",\"b\":2,\"c\":2}" },
	/* concatenation of a list fails */
	{ DO_ERROR, "{}", "a = 'x' ~ event.l", "{\"l\":[1]}",
	  "a = 'x' ~ event.l: ~ joins strings, numbers, booleans and null, not array at " T " v7" },
	/* decimals and big integers from events are carried unchanged */
	{ DO_OK, "{}", "price = event.price; n = event.n; l = [event.price]",
	  "{\"price\":1.50,\"n\":9007199254740993}",
	  "{\"price\":1.50,\"n\":9007199254740993,\"l\":[1.50]}" },
	/* assigned containers are copies */
	/* Changing the copy must not change the original, and appending a
	 * list to itself must not create a cycle. */
	{ DO_OK, "{\"b\":{\"x\":0}}", "a = state.b; a.x = 1", "{}", "{\"b\":{\"x\":0},\"a\":{\"x\":1}}" },
	{ DO_OK, "{\"l\":[1]}", "append l state.l; append l 2", "{}", "{\"l\":[1,[1],2]}" },
	{ DO_OK, "{\"m\":{\"a\":{\"n\":1}}}", "merge m state.m; m.a.n += 1", "{}",
	  "{\"m\":{\"a\":{\"n\":2}}}" },
	{ DO_OK, "{}", "a = event.o; a.k = 2", "{\"o\":{\"k\":1}}", "{\"a\":{\"k\":2}}" },
	/* empty statements and trailing semicolons are fine */
	{ DO_OK, "{}", " ; a = 1;; b = 2 ; ", "{}", "{\"a\":1,\"b\":2}" },
	{ DO_OK, "{\"k\":1}", "", "{}", "{\"k\":1}" },
	/* if elif else applies one branch */
	/* Without else nothing happens; branches may be empty; ifs nest. */
	{ DO_OK, "{}", "if event.x then a = 1 end", "{\"x\":false}", "{}" },
	{ DO_OK, "{}", "if event.x then else a = 1 end", "{\"x\":null}", "{\"a\":1}" },
	{ DO_OK, "{}", "if exists event.x then if event.x == 0 then end end", "{\"x\":0}", "{}" },
	{ DO_OK, "{}", "if exists event.x then if event.y then a = 1 else a = 2 end; b = 3 end", "{\"x\":0}",
	  "{\"a\":2,\"b\":3}" },
	/* if words are still field names */
	{ DO_OK, "{}", "if = 1; then = 2; else.x = 3; end = 4; elif ?= 5", "{}",
	  "{\"if\":1,\"then\":2,\"else\":{\"x\":3},\"end\":4,\"elif\":5}" },
	{ DO_OK, "{}", "if true then end = 1; else = 2 end", "{}", "{\"end\":1,\"else\":2}" },
	/* a failure inside if names the statement */
	{ DO_ERROR, "{\"a\":3}", "if true then b = 1; append a 1 end", "{}",
	  "append a 1: not a list (number) at " T " v7" },
	{ DO_ERROR, "{}", "if 1 in event.s then a = 1 end", "{\"s\":\"x\"}",
	  "if 1 in event.s: in: the right side must be a list or an object, got string at " T " v7" },
	/* coalesce takes the right side only for null */
	/* if is_nil(a), do: b, else: a -- unlike ||, false stays false. */
	{ DO_OK, "{}", "a = event.x ?? 'd'; b = event.n ?? 'd'; c = event.f ?? 'd'; d = event.z ?? 'd'",
	  "{\"n\":null,\"f\":false,\"z\":0}",
	  "{\"a\":\"d\",\"b\":\"d\",\"c\":false,\"d\":0}" },
	{ DO_OK, "{}", "a = event.x ?? event.y ?? 3; b = event.x ?? 'p' ~ 'q'; c = (event.x ?? []) ++ [1]",
	  "{}",
	  "{\"a\":3,\"b\":\"pq\",\"c\":[1]}" },
	/* The right side is evaluated only when needed. */
	{ DO_OK, "{}", "a = event.x ?? ('x' ~ event.l)", "{\"x\":1,\"l\":[1]}", "{\"a\":1}" },
	{ DO_ERROR, "{}", "a = event.x ?? ('x' ~ event.l)", "{\"l\":[1]}",
	  "a = event.x ?? ('x' ~ event.l): ~ joins strings, numbers, booleans and null, not array at " T " v7" },
	/* list concatenation appends or prepends every element */
	{ DO_OK, "{\"l\":[1]}", "l = state.l ++ event.ids; m = event.ids ++ state.l",
	  "{\"ids\":[2,[3],{\"k\":4}]}",
	  "{\"l\":[1,2,[3],{\"k\":4}],\"m\":[2,[3],{\"k\":4},1,2,[3],{\"k\":4}]}" },
	{ DO_ERROR, "{}", "l = state.l ++ [1]", "{}",
	  "l = state.l ++ [1]: ++: the left side is null, not a list at " T " v7" },
	{ DO_ERROR, "{\"l\":[]}", "l = state.l ++ event.x", "{\"x\":1}",
	  "l = state.l ++ event.x: ++: the right side is number, not a list at " T " v7" },
	/* list subtraction removes first strictly equal occurrences */
	/* List.delete(l, x) is l -- [x]; both use ===: 1 and 1.0 differ,
	 * 0.0 and -0.0 do not (OTP 25), maps compare their values strictly. */
	{ DO_OK, "{\"l\":[1,2,1,3]}", "l = state.l -- [1, 3, 9]", "{}", "{\"l\":[2,1]}" },
	{ DO_OK, "{\"l\":[1,1.0,1]}", "l = state.l -- [1]", "{}", "{\"l\":[1.0,1]}" },
	{ DO_OK, "{\"l\":[1.0]}", "l = state.l -- [1]", "{}", "{\"l\":[1.0]}" },
	{ DO_OK, "{\"l\":[-0.0,1]}", "l = state.l -- [0.0]", "{}", "{\"l\":[1]}" },
	{ DO_OK, "{\"l\":[{\"a\":1},1,1.0,\"x\",null,false]}", "l = state.l -- [1.0, null, 'x', 'y']", "{}",
	  "{\"l\":[{\"a\":1},1,false]}" },
	{ DO_OK, "{\"l\":[{\"a\":1}]}", "l = state.l -- [{a: 1.0}]", "{}", "{\"l\":[{\"a\":1}]}" },
	/* Right associative as in Elixir: [1, 2] -- ([2] -- [2]). */
	{ DO_OK, "{}", "l = [1, 2] -- [2] -- [2]", "{}", "{\"l\":[1,2]}" },
	{ DO_ERROR, "{}", "l = state.l -- [1]", "{}",
	  "l = state.l -- [1]: --: the left side is null, not a list at " T " v7" },
	/* fail fails the instance with the message */
	{ DO_ERROR, "{}", "a = 1; if event.expired then fail 'card ' ~ event.id ~ ' expired' end",
	  "{\"id\":\"c1\",\"expired\":true}",
	  "fail: card c1 expired at " T " v7" },
	{ DO_OK, "{}", "a = 1; if event.expired then fail 'card expired' end", "{\"expired\":false}",
	  "{\"a\":1}" },
	{ DO_ERROR, "{}", "fail event.n", "{\"n\":1.50}", "fail: 1.5 at " T " v7" },
	{ DO_ERROR, "{}", "fail event.l", "{\"l\":[1]}",
	  "fail event.l: the message is array, not text at " T " v7" },
	/* length counts the elements of a list */
	{ DO_OK, "{}", "a = length(event.l); b = length([]); c = length(event.l) ~ ''",
	  "{\"l\":[null,[1,2],{}]}",
	  "{\"a\":3,\"b\":0,\"c\":\"3\"}" },
	{ DO_ERROR, "{}", "a = length(event.l)", "{}",
	  "a = length(event.l): length: not a list (null) at " T " v7" },
	{ DO_ERROR, "{}", "a = length(event.l)", "{\"l\":{}}",
	  "a = length(event.l): length: not a list (object) at " T " v7" },
	{ DO_ERROR, "{}", "a = length(event.l)", "{\"l\":\"abc\"}",
	  "a = length(event.l): length: not a list (string) at " T " v7" },
	/* uniq keeps the first of strictly equal elements */
	/* Enum.uniq: 1 and 1.0 are both kept, so are maps that differ so. */
	{ DO_OK, "{}", "a = uniq(event.l)", "{\"l\":[1,1.0,1,\"x\",\"x\",null,false,null,true,false]}",
	  "{\"a\":[1,1.0,\"x\",null,false,true]}" },
	{ DO_OK, "{}", "a = uniq(event.l)", "{\"l\":[{\"a\":[1]},{\"a\":[1.0]},{\"a\":[1]},-0.0,0.0]}",
	  "{\"a\":[{\"a\":[1]},{\"a\":[1.0]},-0.0]}" },
	{ DO_OK, "{}", "a = uniq([])", "{}", "{\"a\":[]}" },
	{ DO_ERROR, "{}", "a = uniq(event.l)", "{}",
	  "a = uniq(event.l): uniq: not a list (null) at " T " v7" },
	/* max and min follow elixir term order */
	/* Ties keep the first: Enum.max([1, 1.0]) is 1, Enum.max([1.0, 1]) 1.0. */
	{ DO_OK, "{}", "a = max(event.l); b = max(event.r); c = min([2, 1.0, 1]); d = max(1, 1.0); e = min(1.0, 1)",
	  "{\"l\":[1,1.0],\"r\":[1.0,1]}",
	  "{\"a\":1,\"b\":1.0,\"c\":1.0,\"d\":1,\"e\":1.0}" },
	/* number < atom (false < nil < true) < map < list < string */
	{ DO_OK, "{}", "a = max(event.l); b = min(event.l)", "{\"l\":[\"a\",1,null,true,false,{},[]]}",
	  "{\"a\":\"a\",\"b\":1}" },
	{ DO_OK, "{}", "a = min(true, null, false); b = max(true, null, false)", "{}",
	  "{\"a\":false,\"b\":true}" },
	/* maps: by size, then keys, then values; lists element by element;
	 * strings byte by byte */
	{ DO_OK, "{}", "a = max(event.m); b = max(event.n); c = min(event.s); d = max(event.l)", "{\"m\":[{\"b\":1},{\"a\":9,\"c\":0},{\"a\":2}],\"n\":[{\"a\":1,\"b\":2},{\"a\":1,\"b\":3},{\"a\":0,\"c\":0}],"
	  "\"s\":[\"b\",\"B\",\"ab\",\"a\"],\"l\":[[1,2],[1,2,0],[0,9]]}", "{\"a\":{\"a\":9,\"c\":0},\"b\":{\"a\":0,\"c\":0},\"c\":\"B\",\"d\":[1,2,0]}" },
	/* integers and floats compare by exact value */
	{ DO_OK, "{}", "a = max(9007199254740993, 9007199254740992.0); b = max(18446744073709551615, 1.8446744073709552e19)",
	  "{}",
	  "{\"a\":9007199254740993,\"b\":1.8446744073709552e19}" },
	{ DO_OK, "{}", "a = max(event.n, state.x ?? 0)", "{\"n\":-1}", "{\"a\":0}" },
	{ DO_ERROR, "{}", "a = max(event.l)", "{\"l\":[]}",
	  "a = max(event.l): max: the list is empty at " T " v7" },
	{ DO_ERROR, "{}", "a = min(event.l)", "{}", "a = min(event.l): min: not a list (null) at " T " v7" },
};

START_TEST(test_each_statement_case_gives_its_state_or_its_error)
{
	const struct do_case *c = &do_cases[_i];

	if (c->outcome == DO_OK)
		check_do(c->state, c->dos, c->data, c->expect);
	else
		check_do_fails(c->state, c->dos, c->data, c->expect);
}
END_TEST

/* A when that holds, or not, for an event with data (first_match). */
static const struct condition_case {
	const char *when, *data;
	bool holds;
} condition_cases[] = {
	/* equality is deep and compares numbers by value */
	{ "event.a == 1", "{\"a\":1.0}", true },
	{ "event.o == {x: [1, 'y']}", "{\"o\":{\"x\":[1.0,\"y\"]}}", true },
	{ "event.o == {x: [1]}", "{\"o\":{\"x\":[1],\"z\":0}}", false },
	{ "event.a != 'x'", "{\"a\":\"y\"}", true },
	{ "event.missing == null", "{}", true },
	{ "event.a == '1'", "{\"a\":1}", false },
	/* in checks list elements and object keys */
	{ "{a: [2]} in state.list", "{}", true },
	{ "{a: [3]} in state.list", "{}", false },
	{ "'k' in state.obj", "{}", true },
	{ "'z' in state.obj", "{}", false },
	{ "1 in state.missing", "{}", false },
	/* A number names the key Elixir's to_string/1 gives it. */
	{ "event.k in {'100.0': 1}", "{\"k\":1e2}", true },
	{ "event.k in {'1e2': 1}", "{\"k\":1e2}", false },
	{ "100 in {'100.0': 1}", "{}", false },
	/* exists means present and not null */
	{ "exists event.a", "{\"a\":false}", true },
	{ "exists event.a", "{\"a\":null}", false },
	{ "exists event.a", "{}", false },
	{ "exists state.n", "{}", false },
	/* precedence not then and then or */
	/* or binds loosest: true or (false and false) */
	{ "event.t == true or event.f == true and event.f == true", "{\"t\":true,\"f\":false}", true },
	/* not binds tightest: (not t) or t */
	{ "not event.t == true or event.t == true", "{\"t\":true,\"f\":false}", true },
	/* parentheses: (t or f) and f */
	{ "(event.t == true or event.f == true) and event.f == true", "{\"t\":true,\"f\":false}", false },
	{ "not (event.f == true)", "{\"t\":true,\"f\":false}", true },
	{ "not not event.t", "{\"t\":true}", true },
	/* parentheses hold a condition or a value */
	{ "(event.a ~ 'x') == '1x'", "{\"a\":1}", true },
	{ "((event.o)).k in [2]", "{\"o\":{\"k\":2}}", true },
	{ "(event.a == 1) and (event.o)", "{\"a\":1,\"o\":{}}", true },
	{ "((event.a)) != 1", "{\"a\":1}", false },
	/* bare expression holds unless null or false */
	{ "event.a", "{\"a\":0}", true },
	{ "event.a", "{\"a\":false}", false },
	{ "event.a", "{}", false },
	/* calls that are not functions are named */
	/* In a condition, exists(x) is exists (x). */
	{ "exists(event.t)", "{\"t\":1}", true },
	{ "exists(event.t) and true", "{}", false },
	{ "length(event.l) == 2", "{\"l\":[1,1]}", true },
};

START_TEST(test_each_condition_case_holds_or_not)
{
	const struct condition_case *c = &condition_cases[_i];

	if (c->holds)
		HOLDS(c->when, c->data);
	else
		FAILS(c->when, c->data);
}
END_TEST

/* A compile error with this exact "file:line: message" (check_syntax). */
static const struct syntax_case {
	const char *initial, *when, *dos, *expect;
} syntax_cases[] = {
	/* syntax errors name file line and column */
	{ "{}", NULL, "a = 1; b = 2; c 3",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 17: expected '=' after path" },
	{ "{}", NULL, "a = event.x ~",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 14: expected a value, got end of text" },
	{ "{}", NULL, "a = 'abc", "snapmig.conf:12: aggregates[0].events[3].do, col 5: unterminated string" },
	{ "{}", NULL, "a = 'x\\qy'",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 7: unknown escape \\q in string" },
	{ "{}", NULL, "a = foo",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: unknown name 'foo' (read fields as state.foo, event.foo or meta.foo)" },
	{ "{}", NULL, "remove l it == 1",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 10: expected 'where' after the path of remove, got a name" },
	{ "{}", NULL, "a = it",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: 'it' is only defined in the condition of remove ... where" },
	{ "{}", NULL, "a = [1, 2",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 10: expected ',' or ']' in the list opened at col 5, got end of text" },
	{ "{}", NULL, "a = {x: 1, x: 2}",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 12: duplicate key \"x\" in object" },
	{ "{}", NULL, "a = 123456789012345678901",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: integer 123456789012345678901 does not fit in 64 bits" },
	{ "{}", NULL, "event.x = 1",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 1: 'event' cannot be changed; paths are rooted at the state" },
	{ "{}", NULL, "a = 1 b = 2",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 7: expected ';' between statements, got a name" },
	{ "{}", NULL, "a = $foo",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: unknown variable $foo ($version, $type or $stream)" },
	{ "{}", NULL, "a = 01",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: numbers must not have leading zeros" },
	{ "{}", NULL, "a = 'caf\xc3\xa9' ~ #",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 14: unexpected character '#'" },
	{ "{}", NULL, "a = '\xff'", "snapmig.conf:12: aggregates[0].events[3].do, col 6: invalid UTF-8" },
	{ "{}", "event.x = 1", NULL,
	  "snapmig.conf:11: aggregates[0].events[3].when, col 9: '=' assigns; compare with '=='" },
	{ "{}", "event.x == 1 event.y", NULL,
	  "snapmig.conf:11: aggregates[0].events[3].when, col 14: unexpected a name after the condition (combine conditions with and/or)" },
	{ "{}", "(event.x == 1", NULL,
	  "snapmig.conf:11: aggregates[0].events[3].when, col 14: expected ')' to close the '(' at col 1, got end of text" },
	{ "{a: event.x}", NULL, NULL,
	  "snapmig.conf:9: aggregates[0].initial, col 5: initial must be a constant: event cannot be used here" },
	{ "[]", NULL, NULL,
	  "snapmig.conf:9: aggregates[0].initial: the initial state must be an object { ... }, got array" },
	/* a literal top level key outside initial is refused at load */
	{ "{}", NULL, "state[7] = 1", "snapmig.conf:12: aggregates[0].events[3].do, col 6: 7 is not a field of initial; the state's "
	  "top-level keys are the aggregate struct's fields, the keys of initial (none: initial is {})" },
	{ "{'admin?': false}", NULL, "admin = true", "snapmig.conf:12: aggregates[0].events[3].do, col 1: admin is not a field of initial (did you "
	  "mean admin? -- the field's name ends in '?'); the state's top-level keys are the aggregate "
	  "struct's fields, the keys of initial (admin?)" },
	{ "{id: null, items: []}", NULL, "delete items", "snapmig.conf:12: aggregates[0].events[3].do, col 1: delete items: a field of the aggregate "
	  "struct cannot be deleted (set it to null)" },
	/* if syntax errors */
	{ FIELDS, NULL, "if event.x a = 1 end",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 12: expected 'then' after the condition of if, got a name" },
	{ FIELDS, NULL, "a = 1; if event.x then a = 1",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 29: expected 'end' to close the 'if' at col 8, got end of text" },
	{ FIELDS, NULL, "a = 1; else a = 2",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 8: 'else' without 'if'" },
	{ FIELDS, NULL, "end", "snapmig.conf:12: aggregates[0].events[3].do, col 1: 'end' without 'if'" },
	{ FIELDS, NULL, "if true then a = 1 end b = 2",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 24: expected ';' between statements, got a name" },
	{ "{a: 1}", NULL, "if true then quote = 1 end", "snapmig.conf:12: aggregates[0].events[3].do, col 14: quote is not a field of initial; the state's "
	  "top-level keys are the aggregate struct's fields, the keys of initial (a)" },
	/* calls that are not functions are named */
	{ FIELDS, NULL, "a = size(event.l)",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: unknown function 'size' (the functions are length, uniq, max, min)" },
	{ FIELDS, NULL, "a = exists(event.l)",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: 'exists' makes a condition, not a value: use it in when, if or where (exists event.x)" },
	{ FIELDS, NULL, "a = length(event.l, 2)",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: length takes one value, got 2" },
	{ FIELDS, NULL, "a = max()",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 5: max takes a list, or 2 to 256 values to compare, got 0" },
	{ FIELDS, NULL, "a = uniq(event.l",
	  "snapmig.conf:12: aggregates[0].events[3].do, col 17: expected ',' or ')' in the call of uniq opened at col 9, got end of text" },
	/* names may end in a question mark */
	/* Without a space, ?= and ?? after a name are ambiguous. */
	{ "{'admin?': false}", NULL, "admin?= true", "snapmig.conf:12: aggregates[0].events[3].do, col 6: 'admin?=' is ambiguous: write 'admin? = ...' "
	  "to set the field admin?, or 'admin ?= ...' to set admin only when it is absent" },
	{ "{'a?': false}", NULL, "a? = state.x??1", "snapmig.conf:12: aggregates[0].events[3].do, col 13: 'x??' is ambiguous: write 'x? ?\? ...' for the "
	  "field x?, or 'x ?? ...'" },
	{ "{'admin?': false}", NULL, "admin = true", "snapmig.conf:12: aggregates[0].events[3].do, col 1: admin is not a field of initial (did you "
	  "mean admin? -- the field's name ends in '?'); the state's top-level keys are the aggregate "
	  "struct's fields, the keys of initial (admin?)" },
};

START_TEST(test_each_syntax_case_names_file_line_and_column)
{
	const struct syntax_case *c = &syntax_cases[_i];

	check_syntax(c->initial, c->when, c->dos, c->expect);
}
END_TEST

#define N_CASES(table) ((int)(sizeof table / sizeof table[0]))

int main(void)
{
	TCase *st = tcase_create("statements");
	TCase *co = tcase_create("conditions");
	TCase *en = tcase_create("entries");
	TCase *sy = tcase_create("syntax");
	TCase *ca = tcase_create("canonical");
	TCase *ad = tcase_create("additions");
	TCase *ck = tcase_create("check");

	tcase_add_test(st, test_reset_restores_initial_and_later_statements_apply);
	tcase_add_loop_test(st, test_each_statement_case_gives_its_state_or_its_error, 0, N_CASES(do_cases));

	tcase_add_test(co, test_in_on_a_string_fails);
	tcase_add_loop_test(co, test_each_condition_case_holds_or_not, 0, N_CASES(condition_cases));

	tcase_add_test(en, test_first_entry_whose_when_holds_applies);
	tcase_add_test(en, test_event_types_are_distinct_in_config_order);
	tcase_add_test(en, test_initial_is_a_fresh_copy_each_time);
	tcase_add_test(en, test_state_that_is_not_an_object_fails_cleanly);
	tcase_add_test(en, test_status_page_example);
	tcase_add_test(en, test_team_example_adds_a_member_once);
	tcase_add_test(en, test_one_compiled_rules_serves_many_threads);

	tcase_add_test(sy, test_deep_nesting_is_a_syntax_error_not_a_crash);
	tcase_add_test(sy, test_a_literal_top_level_key_outside_initial_is_refused_at_load);
	tcase_add_test(st, test_writes_below_a_field_and_computed_fields_are_fine);
	tcase_add_test(st, test_a_computed_top_level_key_outside_initial_fails_the_instance);
	tcase_add_test(sy, test_entry_after_one_without_when_never_applies);
	tcase_add_test(en, test_reads_name_the_event_members_that_entries_use);
	tcase_add_test(en, test_an_event_restricted_to_its_reads_applies_the_same);
	tcase_add_loop_test(sy, test_each_syntax_case_names_file_line_and_column, 0, N_CASES(syntax_cases));

	tcase_add_test(ad, test_if_elif_else_applies_one_branch);
	tcase_add_test(ad, test_a_catch_all_entry_takes_every_other_event);
	tcase_add_test(ad, test_catch_all_entries_come_last);
	tcase_add_test(ad, test_names_may_end_in_a_question_mark);
	tcase_add_test(ad, test_functions_and_operators_give_what_elixir_gives);

	tcase_add_test(ck, test_check_finds_entries_that_never_apply);
	tcase_add_test(ck, test_check_finds_reads_of_state_that_are_not_fields);
	tcase_add_test(ck, test_check_finds_statements_that_cannot_work);
	tcase_add_test(ck, test_check_is_quiet_about_sound_rules);

	tcase_add_test(ca, test_canonical_text_is_rules_source_in_a_fixed_layout);
	tcase_add_test(ca, test_canonical_text_is_the_same_for_every_spelling_of_the_same_rules);
	tcase_add_test(ca, test_canonical_text_differs_whenever_the_output_could);
	return tl_run_cases("rules", st, co, en, sy, ad, ck, ca, (TCase *)NULL);
}
