/*
 * verify against a real PostgreSQL, in every column encoding: a single
 * wrong rule among many right ones is found and named by its path; the
 * fold stops at the live snapshot's version; the live snapshot is read as
 * Commanded decodes it; failures, module versions, samples, an external
 * reducer; nothing is ever written.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/testlib.h"

#define ORDER "Elixir.Shop.Order"
#define EV "Elixir.Shop.Order.Events."
#define N_ORDERS 30

/* The rules of the order aggregate; DISCOUNT is the one rule the wrong
 * configuration gets wrong (it reads the wrong field). */
static const char config_fmt[] =
	"environments = ( { name = \"t\"; conninfo = \"%1$s\"; jobs = 2; batch_size = 4; } );\n"
	"aggregates = (\n"
	"  { type = \"" ORDER "\"; label = \"Order\"; snapshot_version = 2;\n"
	"    initial = \"{id: null, customer: null, items: [], total: 0, status: 'new', notes: [],"
	"               tags: [], address: null, paid_at: null, discount: 0}\";\n"
	"    events = (\n"
	"      { on = \"" EV "Created\"; do = \"id = event.id; customer = event.customer\"; },\n"
	"      { on = \"" EV "ItemAdded\"; do = \"append items {sku: event.sku, qty: event.qty}; total += event.price\"; },\n"
	"      { on = \"" EV "ItemRemoved\"; do = \"remove items where it.sku == event.sku\"; },\n"
	"      { on = \"" EV "Noted\"; do = \"append notes event.text\"; },\n"
	"      { on = \"" EV "Tagged\"; when = \"not (event.tag in state.tags)\"; do = \"append tags event.tag\"; },\n"
	"      { on = \"" EV "Tagged\"; },\n"
	"      { on = \"" EV "AddressSet\"; do = \"address = {city: event.city, zip: event.zip}\"; },\n"
	"      { on = \"" EV "Paid\"; do = \"status = 'paid'; paid_at = event.at\"; },\n"
	"      { on = \"" EV "Discounted\"; do = \"discount += event.%2$s\"; },\n"
	"      { on = \"" EV "Shipped\"; do = \"status = 'shipped'\"; },\n"
	"      { on = \"" EV "Cancelled\"; do = \"status = 'cancelled'\"; }\n"
	"    ); }%3$s\n"
	");\n";

/* The demo's Account aggregate folded by its external reducer. */
static const char account_fmt[] =
	",\n  { type = \"Elixir.Domain.Account\"; snapshot_version = 2;\n"
	"    reducer = { exec = \"python3 '%s/examples/reducers/account.py'\"; }; }";
static const char account_rules[] = ",\n" TL_ACCOUNT_RULES;

typedef tl_store fixture;

static void open_config(fixture *f, const char *field, const char *extra)
{
	char *text;

	ck_assert(asprintf(&text, config_fmt, f->conninfo, field, extra ? extra : "") > 0);
	tl_store_config(f, text, "t");
	free(text);
}

static void setup(fixture *f, enum sm_fixture_mode mode)
{
	tl_store_new(f, "public", mode);
	open_config(f, "pct", NULL);
}

static void append(fixture *f, const char *uuid, const char *type, const char *data)
{
	tl_store_append(f, uuid, type, data, "{}");
}

/* A small deterministic generator, so that every run has the same store. */
static unsigned next_rand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

/* n events of order uuid after its Created (when first). */
static void order_events(fixture *f, const char *uuid, int n, bool first, unsigned *seed)
{
	static const char *const tags[] = { "gift", "rush", "vip" };
	char data[256];

	if (first) {
		snprintf(data, sizeof data, "{\"id\":\"%s\",\"customer\":\"cust-%u\"}", uuid,
			 next_rand(seed) % 7);
		append(f, uuid, EV "Created", data);
	}
	for (int i = 0; i < n; i++) {
		unsigned r = next_rand(seed) % 10;

		switch (r) {
		case 0:
		case 1:
			snprintf(data, sizeof data, "{\"sku\":\"s%u\",\"qty\":%u,\"price\":%u.5}",
				 next_rand(seed) % 5, 1 + next_rand(seed) % 3, next_rand(seed) % 50);
			append(f, uuid, EV "ItemAdded", data);
			break;
		case 2:
			snprintf(data, sizeof data, "{\"sku\":\"s%u\"}", next_rand(seed) % 5);
			append(f, uuid, EV "ItemRemoved", data);
			break;
		case 3:
			snprintf(data, sizeof data, "{\"text\":\"note %u\"}", next_rand(seed));
			append(f, uuid, EV "Noted", data);
			break;
		case 4:
			snprintf(data, sizeof data, "{\"tag\":\"%s\"}", tags[next_rand(seed) % 3]);
			append(f, uuid, EV "Tagged", data);
			break;
		case 5:
			snprintf(data, sizeof data, "{\"city\":\"c%u\",\"zip\":\"%05u\"}",
				 next_rand(seed) % 9, next_rand(seed));
			append(f, uuid, EV "AddressSet", data);
			break;
		case 6:
			snprintf(data, sizeof data, "{\"at\":\"2026-01-%02uT10:00:00Z\"}", 1 + next_rand(seed) % 28);
			append(f, uuid, EV "Paid", data);
			break;
		case 7:
			append(f, uuid, EV "Shipped", "{}");
			break;
		case 8:
			append(f, uuid, EV "Noted", "{\"text\":\"x\"}");
			break;
		default:
			append(f, uuid, EV "Cancelled", "{}");
			break;
		}
	}
}

/* Makes the live snapshots of every stream as they stand, with the
 * configuration's reducer (a rebuild into the target, moved into the live
 * table), then drops the target schema. */
static void snapshot_all_with_rebuild(fixture *f)
{
	const char *lit = f->mode == SM_FIXTURE_BYTEA ? "convert_to('%s', 'UTF8')"
			: f->mode == SM_FIXTURE_JSONB ? "'%s'::jsonb" : "to_jsonb('%s'::text)";
	char data[64], meta[96], *sql;
	sm_run *run;
	sm_error e;

	/* A rebuild regenerates existing snapshots only: first a stale
	 * placeholder for every stream (module version 0: a full replay). */
	snprintf(data, sizeof data, lit, "{}");
	snprintf(meta, sizeof meta, lit, "{\"snapshot_module_version\": 0}");
	ck_assert(asprintf(&sql,
		"INSERT INTO public.snapshots (source_uuid, source_version, source_type, data, metadata)"
		" SELECT st.stream_uuid, st.stream_version, (SELECT split_part(e.event_type, '.Events.', 1)"
		"  FROM public.stream_events se JOIN public.events e ON e.event_id = se.event_id"
		"  WHERE se.stream_id = st.stream_id ORDER BY se.stream_version LIMIT 1), %s, %s"
		" FROM public.streams st WHERE st.stream_id > 0 ON CONFLICT (source_uuid) DO NOTHING",
		data, meta) > 0);
	tl_exec(f->conn, sql);
	free(sql);
	sm_error_clear(&e);
	ck_assert_msg(sm_rebuild_start(f->eng, NULL, &run, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_run_wait(run, &e) == SM_OK, "rebuild: %s", e.message);
	sm_run_free(run);
	tl_exec(f->conn, "INSERT INTO public.snapshots (source_uuid, source_version, source_type, data, metadata)"
		" SELECT source_uuid, source_version, source_type, data, metadata FROM migration.snapshots"
		" ON CONFLICT (source_uuid) DO UPDATE SET source_version = excluded.source_version,"
		" data = excluded.data, metadata = excluded.metadata");
	tl_exec(f->conn, "DROP SCHEMA migration CASCADE");
}

/* The order store: N_ORDERS orders, every third with Discounted events
 * before its snapshot; every other one with more events after it (also
 * Discounted ones, which a fold past the snapshot would count). */
static int build_orders(fixture *f)
{
	unsigned seed = 42;
	int discounted = 0;

	for (int i = 0; i < N_ORDERS; i++) {
		char uuid[32];

		snprintf(uuid, sizeof uuid, "order-%02d", i);
		order_events(f, uuid, 3 + (int)(next_rand(&seed) % 12), true, &seed);
		if (i % 3 == 0) {
			append(f, uuid, EV "Discounted", "{\"pct\":5,\"amount\":7}");
			discounted++;
		}
	}
	snapshot_all_with_rebuild(f);
	for (int i = 0; i < N_ORDERS; i += 2) {
		char uuid[32];

		snprintf(uuid, sizeof uuid, "order-%02d", i);
		order_events(f, uuid, 4, false, &seed);
		append(f, uuid, EV "Discounted", "{\"pct\":1,\"amount\":100}");
	}
	return discounted;
}

static sm_verify_report *verify_with(fixture *f, const sm_verify_options *opts, int expect_rc)
{
	sm_verify_report *r = NULL;
	sm_run *run;
	sm_error e;
	int rc;

	sm_error_clear(&e);
	ck_assert_msg(sm_verify_start(f->eng, opts, &run, &e) == SM_OK, "%s", e.message);
	rc = sm_run_wait(run, &e);
	ck_assert_msg(rc == expect_rc, "verify: %d %s", rc, e.message);
	ck_assert(sm_run_finished(run));
	ck_assert_int_eq(sm_verify_report_read(run, &r, &e), SM_OK);
	sm_run_free(run);
	return r;
}

static sm_verify_report *verify(fixture *f)
{
	return verify_with(f, NULL, SM_OK);
}

static const sm_verify_type *type_of(const sm_verify_report *r, const char *type)
{
	for (size_t i = 0; i < r->n_types; i++)
		if (strcmp(r->types[i].type, type) == 0)
			return &r->types[i];
	ck_abort_msg("no type %s in the report", type);
	return NULL;
}

static bool schema_exists(fixture *f, const char *name)
{
	char sql[200], *v;
	bool exists;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", name);
	v = tl_query_value(f->conn, sql);
	exists = strcmp(v, "0") != 0;
	free(v);
	return exists;
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_verify_finds_the_one_wrong_rule_among_many)
{
	fixture f;
	sm_verify_report *r;
	const sm_verify_type *t;
	int discounted;

	setup(&f, (enum sm_fixture_mode)_i);
	discounted = build_orders(&f);

	/* The reducer that made the snapshots reproduces each of them, although
	 * half the streams go on past their snapshot. */
	r = verify(&f);
	t = type_of(r, ORDER);
	ck_assert_int_eq(r->state, SM_RUN_DONE);
	ck_assert_int_eq(t->live, N_ORDERS);
	ck_assert_int_eq(t->at_version, N_ORDERS);
	ck_assert_int_eq(t->checked, N_ORDERS);
	ck_assert_int_eq(t->equal, N_ORDERS);
	ck_assert_int_eq(t->different + t->failed + t->skipped, 0);
	ck_assert_int_eq(t->n_paths, 0);
	sm_verify_report_free(r);

	/* One rule reads the wrong field: exactly the instances with that
	 * event before their snapshot differ, and only at its path. */
	open_config(&f, "amount", NULL);
	r = verify(&f);
	t = type_of(r, ORDER);
	ck_assert_int_eq(t->checked, N_ORDERS);
	ck_assert_int_eq(t->different, discounted);
	ck_assert_int_eq(t->equal, N_ORDERS - discounted);
	ck_assert_int_eq(t->failed, 0);
	ck_assert_int_eq(t->n_paths, 1);
	ck_assert_str_eq(t->paths[0].path, ".discount");
	ck_assert_int_eq(t->paths[0].instances, discounted);
	ck_assert_int_eq(t->n_instances, 10);
	ck_assert_str_eq(t->instances[0].source_uuid, "order-00");
	ck_assert_int_eq(t->instances[0].outcome, SM_VERIFY_DIFFERENT);
	ck_assert_int_eq(t->instances[0].differences, 1);
	ck_assert_int_eq(t->instances[0].n_diffs, 1);
	ck_assert_int_eq(t->instances[0].diffs[0].kind, SM_VDIFF_VALUE);
	ck_assert_str_eq(t->instances[0].diffs[0].path, ".discount");
	ck_assert_str_eq(t->instances[0].diffs[0].live, "5");
	ck_assert_str_eq(t->instances[0].diffs[0].folded, "7");
	sm_verify_report_free(r);
	ck_assert(!schema_exists(&f, "migration"));
	tl_store_free(&f);
}
END_TEST

START_TEST(test_verify_reads_the_live_snapshot_as_commanded_decodes_it)
{
	fixture f;
	sm_verify_report *r;
	const sm_verify_type *t;

	setup(&f, (enum sm_fixture_mode)_i);
	append(&f, "o-1", EV "Created", "{\"id\":\"o-1\",\"customer\":\"c\"}");
	append(&f, "o-1", EV "ItemAdded", "{\"sku\":\"a\",\"qty\":1,\"price\":12}");
	/* A key the struct lacks is dropped, a missing one is its default,
	 * 12.0 equals 12 and key order is no matter. */
	tl_store_snapshot(&f, "o-1", 2, ORDER,
		 "{\"total\":12.0,\"legacy\":true,\"id\":\"o-1\",\"customer\":\"c\","
		 "\"items\":[{\"qty\":1,\"sku\":\"a\"}],\"status\":\"new\",\"notes\":[],\"tags\":[],"
		 "\"address\":null,\"paid_at\":null}",
		 "{\"snapshot_module_version\":2}");
	r = verify(&f);
	t = type_of(r, ORDER);
	ck_assert_int_eq(t->checked, 1);
	ck_assert_int_eq(t->equal, 1);
	ck_assert_int_eq(t->number_form, 1);
	sm_verify_report_free(r);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_verify_reports_a_failed_fold_with_its_event)
{
	fixture f;
	sm_verify_report *r;
	const sm_verify_type *t;

	setup(&f, (enum sm_fixture_mode)_i);
	append(&f, "o-1", EV "Created", "{\"id\":\"o-1\",\"customer\":\"c\"}");
	append(&f, "o-1", EV "Exploded", "{}");
	tl_store_snapshot(&f, "o-1", 2, ORDER, "{\"id\":\"o-1\"}", "{\"snapshot_module_version\":2}");
	append(&f, "o-2", EV "Created", "{\"id\":\"o-2\",\"customer\":\"c\"}");
	tl_store_snapshot(&f, "o-2", 1, ORDER, "{\"id\":\"o-2\",\"customer\":\"c\"}", "{\"snapshot_module_version\":2}");
	/* A snapshot without a stream. */
	tl_store_snapshot(&f, "o-3", 4, ORDER, "{\"id\":\"o-3\"}", "{\"snapshot_module_version\":2}");
	r = verify(&f);
	t = type_of(r, ORDER);
	ck_assert_int_eq(t->checked, 3);
	ck_assert_int_eq(t->equal, 1);
	ck_assert_int_eq(t->failed, 2);
	ck_assert_int_eq(t->failures[SM_FAIL_UNKNOWN_EVENT], 1);
	ck_assert_int_eq(t->failures[SM_FAIL_MISSING_STREAM], 1);
	ck_assert_int_eq(t->n_instances, 2);
	ck_assert_str_eq(t->instances[0].source_uuid, "o-1");
	ck_assert_int_eq(t->instances[0].outcome, SM_VERIFY_FAILED);
	ck_assert_int_eq(t->instances[0].kind, SM_FAIL_UNKNOWN_EVENT);
	ck_assert_int_eq(t->instances[0].fail_version, 2);
	ck_assert_str_eq(t->instances[0].event_type, EV "Exploded");
	ck_assert_str_eq(t->instances[1].source_uuid, "o-3");
	ck_assert_int_eq(t->instances[1].kind, SM_FAIL_MISSING_STREAM);
	sm_verify_report_free(r);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_verify_checks_only_snapshots_at_the_target_version_unless_named)
{
	fixture f;
	sm_verify_report *r;
	const sm_verify_type *t;
	sm_verify_options o;
	const char *uuids[] = { "o-old" };

	setup(&f, (enum sm_fixture_mode)_i);
	append(&f, "o-new", EV "Created", "{\"id\":\"o-new\",\"customer\":\"c\"}");
	tl_store_snapshot(&f, "o-new", 1, ORDER, "{\"id\":\"o-new\",\"customer\":\"c\"}", "{\"snapshot_module_version\":2}");
	append(&f, "o-old", EV "Created", "{\"id\":\"o-old\",\"customer\":\"c\"}");
	/* Version 1 by the missing key: an old shape, not checked. */
	tl_store_snapshot(&f, "o-old", 1, ORDER, "{\"ident\":\"o-old\"}", NULL);
	r = verify(&f);
	t = type_of(r, ORDER);
	ck_assert_int_eq(t->live, 2);
	ck_assert_int_eq(t->at_version, 1);
	ck_assert_int_eq(t->checked, 1);
	ck_assert_int_eq(t->equal, 1);
	sm_verify_report_free(r);

	/* Named, it is folded with the current reducer all the same. */
	memset(&o, 0, sizeof o);
	o.uuids = uuids;
	o.n_uuids = 1;
	o.keep_equal = true;
	o.keep_states = true;
	r = verify_with(&f, &o, SM_OK);
	t = type_of(r, ORDER);
	ck_assert_int_eq(t->checked, 1);
	ck_assert_int_eq(t->different, 1);
	ck_assert_int_eq(t->n_instances, 1);
	ck_assert_str_eq(t->instances[0].source_uuid, "o-old");
	ck_assert_int_eq(t->instances[0].module_version, 1);
	ck_assert_ptr_nonnull(t->instances[0].live_json);
	ck_assert_ptr_nonnull(strstr(t->instances[0].folded_json, "\"id\":\"o-old\""));
	ck_assert_ptr_null(strstr(t->instances[0].live_json, "ident"));
	sm_verify_report_free(r);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_verify_samples_per_type_and_repeats_a_sample_by_its_seed)
{
	fixture f;
	sm_verify_report *a, *b, *c;
	sm_verify_options o;

	setup(&f, SM_FIXTURE_BYTEA);
	build_orders(&f);
	memset(&o, 0, sizeof o);
	o.sample = 5;
	o.seed = 7;
	o.keep_equal = true;
	o.examples = 100;
	a = verify_with(&f, &o, SM_OK);
	b = verify_with(&f, &o, SM_OK);
	ck_assert(a->sampled);
	ck_assert_int_eq(type_of(a, ORDER)->planned, 5);
	ck_assert_int_eq(type_of(a, ORDER)->checked, 5);
	ck_assert_int_eq(type_of(a, ORDER)->n_instances, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(type_of(a, ORDER)->instances[i].source_uuid,
				 type_of(b, ORDER)->instances[i].source_uuid);
	o.sample = 0;
	o.sample_percent = 10;
	c = verify_with(&f, &o, SM_OK);
	ck_assert_int_eq(type_of(c, ORDER)->planned, 3);
	sm_verify_report_free(a);
	sm_verify_report_free(b);
	sm_verify_report_free(c);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_verify_folds_with_an_external_reducer)
{
	fixture f;
	sm_verify_report *r;
	const sm_verify_type *t;
	char extra[1024];
	const char *types[] = { "Elixir.Domain.Account" };
	sm_verify_options o;

	setup(&f, (enum sm_fixture_mode)_i);
	/* Snapshots made by the rules version of the aggregate ... */
	open_config(&f, "pct", account_rules);
	append(&f, "acc-1", "Elixir.Domain.Account.Events.Created",
	       "{\"id\":\"acc-1\",\"name\":\"A\",\"email\":\"a@x\",\"plan\":\"free\","
	       "\"created_at\":\"2026-01-01T00:00:00Z\",\"address\":{\"city\":\"B\",\"country\":\"C\"}}");
	append(&f, "acc-1", "Elixir.Domain.Account.Events.UsageRecorded",
	       "{\"id\":\"acc-1\",\"metric\":\"sms\",\"amount\":3,\"recorded_at\":\"t1\"}");
	append(&f, "acc-2", "Elixir.Domain.Account.Events.Created",
	       "{\"id\":\"acc-2\",\"name\":\"B\",\"email\":\"b@x\",\"plan\":\"pro\","
	       "\"created_at\":\"2026-01-02T00:00:00Z\",\"address\":null}");
	append(&f, "acc-2", "Elixir.Domain.Account.Events.PlanChanged",
	       "{\"id\":\"acc-2\",\"plan\":\"team\",\"changed_at\":\"t2\"}");
	snapshot_all_with_rebuild(&f);
	/* ... one of them then changed by hand. */
	tl_exec(f.conn, f.mode == SM_FIXTURE_BYTEA
		? "UPDATE snapshots SET data = convert_to(replace(convert_from(data, 'UTF8'), '\"team\"', '\"solo\"'), 'UTF8') WHERE source_uuid = 'acc-2'"
		: f.mode == SM_FIXTURE_JSONB
		? "UPDATE snapshots SET data = jsonb_set(data, '{plan}', '\"solo\"') WHERE source_uuid = 'acc-2'"
		: "UPDATE snapshots SET data = to_jsonb(replace(data #>> '{}', '\"team\"', '\"solo\"')) WHERE source_uuid = 'acc-2'");
	/* ... are checked against the external reducer. */
	snprintf(extra, sizeof extra, account_fmt, getenv("SNAPMIG_SRCDIR"));
	open_config(&f, "pct", extra);
	memset(&o, 0, sizeof o);
	o.types = types;
	o.n_types = 1;
	r = verify_with(&f, &o, SM_OK);
	t = type_of(r, "Elixir.Domain.Account");
	ck_assert_int_eq(r->n_types, 1);
	ck_assert_int_eq(t->checked, 2);
	ck_assert_int_eq(t->equal, 1);
	ck_assert_int_eq(t->different, 1);
	ck_assert_int_eq(t->n_paths, 1);
	ck_assert_str_eq(t->paths[0].path, ".plan");
	ck_assert_str_eq(t->instances[0].diffs[0].live, "\"solo\"");
	ck_assert_str_eq(t->instances[0].diffs[0].folded, "\"team\"");
	sm_verify_report_free(r);
	tl_store_free(&f);
}
END_TEST

/* A reducer in raw mode (as the Commanded bridge always is): it gets the
 * stored bytes and gives the bytes to store, here JSON text of its own
 * decoding (a jsonb string holding JSON text unwrapped, as an
 * application's serializer would). */
static const char tally_py[] =
	"import base64, json, sys\n"
	"def out(m):\n"
	"    sys.stdout.write(json.dumps(m) + '\\n'); sys.stdout.flush()\n"
	"def load(b):\n"
	"    v = json.loads(b)\n"
	"    return json.loads(v) if isinstance(v, str) else v\n"
	"hello = json.loads(sys.stdin.readline())\n"
	"assert 'raw' in hello.get('features', [])\n"
	"out({'op': 'hello', 'protocol': 1, 'raw': True, 'aggregates': {hello['aggregate']: {'events': 'any'}}})\n"
	"st = None\n"
	"for line in sys.stdin:\n"
	"    m = json.loads(line)\n"
	"    if m['op'] == 'begin':\n"
	"        st = load(base64.b64decode(m['state_raw'])) if m['start'] == 'state' else {'n': 0}\n"
	"    elif m['op'] == 'event':\n"
	"        st['n'] += load(base64.b64decode(m['data_raw']))['by']\n"
	"    elif m['op'] == 'end':\n"
	"        out({'op': 'state', 'id': m['id'], 'state_raw': base64.b64encode(json.dumps(st).encode()).decode()})\n";

START_TEST(test_verify_folds_with_a_raw_mode_reducer)
{
	fixture f;
	sm_verify_report *r;
	const sm_verify_type *t;
	char extra[1024], *script;
	const char *types[] = { "Elixir.Shop.Tally" };
	const char *meta = "{\"snapshot_module_version\": 1}";
	sm_verify_options o;

	setup(&f, (enum sm_fixture_mode)_i);
	append(&f, "tally-1", "Elixir.Shop.Tally.Events.Added", "{\"by\": 1}");
	append(&f, "tally-1", "Elixir.Shop.Tally.Events.Added", "{\"by\": 2}");
	append(&f, "tally-1", "Elixir.Shop.Tally.Events.Added", "{\"by\": 4}");
	append(&f, "tally-2", "Elixir.Shop.Tally.Events.Added", "{\"by\": 5}");
	/* tally-1: right at version 2 (and a key that is no struct field);
	 * tally-2: wrong at version 1. */
	tl_store_snapshot(&f, "tally-1", 2, "Elixir.Shop.Tally", "{\"n\": 3, \"old\": true}", meta);
	tl_store_snapshot(&f, "tally-2", 1, "Elixir.Shop.Tally", "{\"n\": 6}", meta);
	script = tl_write_file(NULL, "tally.py", tally_py);
	snprintf(extra, sizeof extra, ",\n  { type = \"Elixir.Shop.Tally\"; snapshot_version = 1;\n"
		 "    reducer = { exec = \"python3 '%s'\"; }; }", script);
	open_config(&f, "pct", extra);
	memset(&o, 0, sizeof o);
	o.types = types;
	o.n_types = 1;
	o.keep_equal = true;
	r = verify_with(&f, &o, SM_OK);
	t = type_of(r, "Elixir.Shop.Tally");
	ck_assert_int_eq(t->checked, 2);
	ck_assert_int_eq(t->failed, 0);
	ck_assert_int_eq(t->equal, 1);
	ck_assert_int_eq(t->different, 1);
	ck_assert_int_eq(t->n_paths, 1);
	ck_assert_str_eq(t->paths[0].path, ".n");
	ck_assert_str_eq(t->instances[0].source_uuid, "tally-2");
	ck_assert_str_eq(t->instances[0].diffs[0].live, "6");
	ck_assert_str_eq(t->instances[0].diffs[0].folded, "5");
	ck_assert_str_eq(t->instances[1].source_uuid, "tally-1");
	ck_assert_int_eq(t->instances[1].outcome, SM_VERIFY_EQUAL);
	sm_verify_report_free(r);
	free(script);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_verify_can_be_cancelled)
{
	fixture f;
	sm_verify_report *r;
	sm_run *run;
	sm_error e;

	setup(&f, SM_FIXTURE_BYTEA);
	build_orders(&f);
	sm_error_clear(&e);
	ck_assert_int_eq(sm_verify_start(f.eng, NULL, &run, &e), SM_OK);
	sm_run_cancel(run);
	ck_assert_int_eq(sm_run_wait(run, &e), SM_ERR_CANCELLED);
	ck_assert_int_eq(sm_verify_report_read(run, &r, &e), SM_OK);
	ck_assert_int_eq(r->state, SM_RUN_CANCELLED);
	ck_assert_int_lt(type_of(r, ORDER)->checked, N_ORDERS);
	sm_verify_report_free(r);
	sm_run_free(run);
	tl_store_free(&f);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("pg");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_verify_finds_the_one_wrong_rule_among_many, 0, 3);
	tcase_add_loop_test(tc, test_verify_reads_the_live_snapshot_as_commanded_decodes_it, 0, 3);
	tcase_add_loop_test(tc, test_verify_reports_a_failed_fold_with_its_event, 0, 3);
	tcase_add_loop_test(tc, test_verify_checks_only_snapshots_at_the_target_version_unless_named, 0, 2);
	tcase_add_test(tc, test_verify_samples_per_type_and_repeats_a_sample_by_its_seed);
	tcase_add_loop_test(tc, test_verify_folds_with_an_external_reducer, 0, 3);
	tcase_add_loop_test(tc, test_verify_folds_with_a_raw_mode_reducer, 0, 3);
	tcase_add_test(tc, test_verify_can_be_cancelled);
	return tl_run_case("verify", tc);
}
