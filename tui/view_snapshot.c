/*
 * Inspecting one instance.  By default the live snapshot is compared with
 * what the configured reducer makes at the live snapshot's own version:
 * the engine's verify for this one instance (the same fold as `snapmig
 * verify`), so that a correct reducer shows "equal" even when the stream
 * has moved on since the snapshot.  The differences come first, one line
 * per JSON path with both values, then both states side by side; a fold
 * that fails shows why, and so does a failure a rebuild recorded.  t shows
 * the generated target row instead (the row a copy would write), with
 * each side's metadata.  Both sides: pretty-printed, top-level keys
 * aligned, the keys whose values differ highlighted.  Everything is read
 * by one background call.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"
#include "util/json.h"

/* What the background call reads: both rows of one instance, the verify
 * of it and its recorded failures. */
typedef struct snap_pair {
	char *live, *gen;              /* JSON text or NULL (no row) */
	char *live_meta, *gen_meta;    /* metadata JSON text or NULL */
	long long live_ver, gen_ver;
	sm_verify_report *verify;      /* NULL when it could not run: verify_error */
	char *verify_error;
	sm_failure_list *failures;     /* NULL when they could not be read */
} snap_pair;

typedef struct sline {
	char *left, *right;            /* NULL: blank */
	bool diff;
	bool head;                     /* the first line of a top-level key (or a path) */
	bool wide;                     /* left only, across both halves */
} sline;

/* What the verify of the instance said. */
enum vstate { V_NONE, V_EQUAL, V_DIFFERENT, V_FAILED, V_SKIPPED, V_UNCONFIGURED, V_ERROR };

typedef struct snapshot_state {
	tui_list scroll;               /* a pager over lines */
	char *uuid;
	tui_call *call;
	char error[1024];
	bool loaded, live_found, gen_found;
	long long live_ver, gen_ver;
	char *live_meta, *gen_meta;    /* compact one-line JSON, or NULL */
	char *live_json, *gen_json;    /* the data as read, for y and Y */
	bool show_gen;                 /* t: the generated row, not the fold */
	/* The verify of the instance (V_NONE before it is read). */
	enum vstate vstate;
	char *vtext;                   /* its outcome in words (failure, error) */
	char *type_label;              /* the type it was verified as */
	long long vversion;            /* folded up to (the live source_version) */
	long long vmodule, target_module;  /* the live and the configured module version */
	sm_verify_report *verify;      /* the verify these come from (owned), or NULL */
	const char *dec_json, *fold_json;  /* in verify: the live one as Commanded
					    * decodes it, the fold */
	const sm_verify_difference *diffs; /* in verify */
	size_t n_diffs;
	long long differences;         /* all of them (diffs may be the first ones) */
	char *recorded;                /* a failure a rebuild recorded, in words, or NULL */
	size_t n_diff;
	int at_diff;                   /* line of the difference gone to, -1 */
	sline *lines;
	size_t n_lines, cap;
} snapshot_state;

static const int snapshot_cmds[] = {
	TUI_CMD_TARGET, TUI_CMD_NEXT_DIFF, TUI_CMD_PREV_DIFF, TUI_CMD_FILTER, TUI_CMD_NEXT_MATCH,
	TUI_CMD_PREV_MATCH, TUI_CMD_YANK, TUI_CMD_YANK_LIVE, TUI_CMD_REFRESH, TUI_CMD_HELP,
	TUI_CMD_BACK, TUI_CMD_NONE,
};

static void snap_free(void *p)
{
	snap_pair *c = p;

	if (!c)
		return;
	free(c->live);
	free(c->gen);
	free(c->live_meta);
	free(c->gen_meta);
	sm_verify_report_free(c->verify);
	free(c->verify_error);
	sm_failure_list_free(c->failures);
	free(c);
}

/* The verify of one instance: folded up to its live snapshot's version
 * and compared, as `snapmig verify --uuid` does; every difference kept
 * (up to 1000) and both states whole. */
static int verify_one(sm_engine *eng, const char *uuid, sm_verify_report **out, sm_error *err)
{
	const char *uuids[] = { uuid };
	sm_verify_options o = {
		.uuids = uuids, .n_uuids = 1, .jobs = 1, .examples = 1, .paths = 1000,
		.keep_equal = true, .keep_states = true,
	};
	sm_run *run = NULL;
	int rc = sm_verify_start(eng, &o, &run, err);

	*out = NULL;
	if (rc != SM_OK)
		return rc;
	rc = sm_run_wait(run, err);
	if (rc == SM_OK)
		rc = sm_verify_report_read(run, out, err);
	sm_run_free(run);
	return rc;
}

static int snap_fn(tui_call_args *a, void **out, sm_error *err)
{
	snap_pair *c = sm_xcalloc(1, sizeof *c);
	sm_error verr;
	int rc = sm_snapshot_read(a->eng, a->str, false, a->cancel, &c->live, &c->live_meta,
				  &c->live_ver, err);

	if (rc == SM_OK)
		rc = sm_snapshot_read(a->eng, a->str, true, a->cancel, &c->gen, &c->gen_meta,
				      &c->gen_ver, err);
	/* The failures and the verify say what they can: their errors are
	 * shown in their place, the rows still are. */
	if (rc == SM_OK && sm_failures_read_instance(a->eng, a->str, a->cancel, &c->failures, &verr) != SM_OK)
		c->failures = NULL;
	sm_error_clear(&verr);
	if (rc == SM_OK && c->live && verify_one(a->eng, a->str, &c->verify, &verr) != SM_OK) {
		sm_verify_report_free(c->verify);
		c->verify = NULL;
		c->verify_error = sm_xstrdup(verr.message);
	}
	*out = c;
	return rc;
}

static void add_line(snapshot_state *s, char *left, char *right, bool diff)
{
	s->lines = sm_xgrow(s->lines, &s->cap, s->n_lines + 1, sizeof *s->lines);
	s->lines[s->n_lines++] = (sline){ left, right, diff, false, false };
}

/* A line across both halves. */
static void add_wide(snapshot_state *s, char *text, bool diff, bool head)
{
	add_line(s, text, NULL, diff);
	s->lines[s->n_lines - 1].wide = true;
	s->lines[s->n_lines - 1].head = head;
}

static void clear_lines(snapshot_state *s)
{
	for (size_t i = 0; i < s->n_lines; i++) {
		free(s->lines[i].left);
		free(s->lines[i].right);
	}
	s->n_lines = 0;
}

/* Splits text into lines, each prefixed with indent (and the first with
 * head); returns a malloc'ed array of malloc'ed lines. */
static char **split_lines(const char *head, const char *text, size_t *n)
{
	char **out = NULL;
	size_t cap = 0;
	const char *p = text;

	*n = 0;
	for (;;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		out = sm_xgrow(out, &cap, *n + 1, sizeof *out);
		out[*n] = sm_xasprintf("%s%.*s", *n == 0 ? head : "  ", (int)len, p);
		(*n)++;
		if (!e)
			break;
		p = e + 1;
	}
	return out;
}

static const char *pretty(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					       JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Appends "," to the last line of a side when more keys follow there. */
static void add_comma(char **lines, size_t n)
{
	char *c;

	if (n == 0)
		return;
	c = sm_xasprintf("%s,", lines[n - 1]);
	free(lines[n - 1]);
	lines[n - 1] = c;
}

/* One aligned block: the two sides' lines, padded to the same height. */
static void add_block(snapshot_state *s, const char *head, json_object *l, bool has_l,
		      bool comma_l, json_object *r, bool has_r, bool comma_r, bool diff)
{
	size_t nl = 0, nr = 0;
	char **ll = has_l ? split_lines(head, pretty(l), &nl) : NULL;
	char **rl = has_r ? split_lines(head, pretty(r), &nr) : NULL;
	size_t n = nl > nr ? nl : nr;

	if (comma_l)
		add_comma(ll, nl);
	if (comma_r)
		add_comma(rl, nr);
	for (size_t i = 0; i < n; i++) {
		add_line(s, i < nl ? ll[i] : NULL, i < nr ? rl[i] : NULL, diff);
		s->lines[s->n_lines - 1].head = i == 0;
	}
	free(ll);
	free(rl);
}

static json_object *parse(const char *text, bool *ok)
{
	json_object *o = NULL;
	sm_error err;

	*ok = false;
	if (!text)
		return NULL;
	if (sm_json_parse(text, strlen(text), &o, &err) == SM_OK)
		*ok = true;
	return o;
}

/* The verify's differences, one line per path, before the two sides. */
static void add_differences(snapshot_state *s)
{
	size_t shown = 0;

	for (size_t i = 0; i < s->n_diffs; i++) {
		const sm_verify_difference *d = &s->diffs[i];
		const char *live = d->live ? d->live : "(absent)";
		const char *fold = d->folded ? d->folded : "(absent)";

		if (d->kind == SM_VDIFF_NUMBER_FORM) {
			add_wide(s, sm_xasprintf("%s  %s vs %s: equal numbers, an integer and a float "
						 "(jsonb equal; Elixir's == is not)", d->path, live, fold),
				 false, false);
			continue;
		}
		shown++;
		add_wide(s, sm_xasprintf("%s  live %s%s  fold %s%s", d->path, live,
					 d->live_cut ? "..." : "", fold, d->folded_cut ? "..." : ""),
			 true, true);
	}
	if ((long long)shown < s->differences)
		add_wide(s, sm_xasprintf("... and %lld more", s->differences - (long long)shown),
			 true, false);
	if (s->n_diffs)
		add_wide(s, NULL, false, false);
}

static void build(snapshot_state *s, const char *live, const char *gen)
{
	bool okl, okg;
	json_object *l = parse(live, &okl), *g = parse(gen, &okg);

	if (live && !okl)
		add_line(s, sm_xasprintf("(not valid JSON) %s", live), NULL, true);
	if (gen && !okg)
		add_line(s, NULL, sm_xasprintf("(not valid JSON) %s", gen), true);
	if (okl && okg && json_object_is_type(l, json_type_object) &&
	    json_object_is_type(g, json_type_object)) {
		/* Keys of the live snapshot in its order, then the new ones. */
		int n_l = json_object_object_length(l), n_g = json_object_object_length(g);
		int seen_l = 0, seen_g = 0;

		add_line(s, sm_xstrdup("{"), sm_xstrdup("{"), false);
		json_object_object_foreach(l, key, lv) {
			json_object *gv = NULL;
			bool has_g = json_object_object_get_ex(g, key, &gv);
			bool diff = !has_g || !sm_json_equal(lv, gv);
			char *head = sm_xasprintf("  \"%s\": ", key);

			seen_l++;
			seen_g += has_g;
			s->n_diff += diff;
			add_block(s, head, lv, true, seen_l < n_l, gv, has_g, seen_g < n_g, diff);
			free(head);
		}
		json_object_object_foreach(g, gkey, gv2) {
			if (json_object_object_get_ex(l, gkey, NULL))
				continue;
			char *head = sm_xasprintf("  \"%s\": ", gkey);

			seen_g++;
			s->n_diff++;
			add_block(s, head, NULL, false, false, gv2, true, seen_g < n_g, true);
			free(head);
		}
		add_line(s, sm_xstrdup("}"), sm_xstrdup("}"), false);
	} else {
		bool diff = !(okl && okg && sm_json_equal(l, g));

		add_block(s, "", l, okl, false, g, okg, false, diff);
		s->n_diff += diff;
	}
	if (l)
		json_object_put(l);
	if (g)
		json_object_put(g);
}

/* The lines of the mode shown: the verify's differences and the live
 * snapshot as Commanded decodes it beside the fold, or the live row beside
 * the generated one. */
static void build_lines(snapshot_state *s)
{
	clear_lines(s);
	s->n_diff = 0;
	if (s->show_gen) {
		build(s, s->live_json, s->gen_json);
	} else if (s->vstate == V_EQUAL || s->vstate == V_DIFFERENT || s->vstate == V_FAILED) {
		add_differences(s);
		build(s, s->dec_json ? s->dec_json : s->live_json, s->fold_json);
	} else {
		build(s, s->live_json, NULL);
	}
	if (!s->show_gen && !s->fold_json) {
		/* One side only: nothing to compare, nothing highlighted. */
		for (size_t i = 0; i < s->n_lines; i++)
			s->lines[i].diff = false;
	}
	s->n_diff = 0;
	for (size_t i = 0; i < s->n_lines; i++)
		s->n_diff += s->lines[i].diff && s->lines[i].head && !s->lines[i].wide;
	s->scroll.n = (int)s->n_lines;
	s->at_diff = -1;
}

/* Metadata as compact JSON on one line (the text as it is when it is not
 * JSON); NULL stays NULL.  Caller frees. */
static char *compact(const char *text)
{
	json_object *o = NULL;
	sm_error err;
	char *out;

	if (!text)
		return NULL;
	if (sm_json_parse(text, strlen(text), &o, &err) != SM_OK)
		return sm_xasprintf("(not valid JSON) %s", text);
	out = sm_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

static void snapshot_reload(tui_app *app, tui_view *v)
{
	snapshot_state *s = v->state;
	const tui_call_args in = { .eng = app->eng, .str = s->uuid };

	if (!app->eng)
		return;
	s->error[0] = 0;
	tui_call_restart(app, &s->call, snap_fn, snap_free, &in);
}

static bool line_has(const sline *l, const char *text)
{
	return (l->left && strcasestr(l->left, text)) || (l->right && strcasestr(l->right, text));
}

static bool has(const void *ctx, int i, const char *text)
{
	return line_has(&((const snapshot_state *)ctx)->lines[i], text);
}

/* Scrolls so that line i shows, a few lines below the top. */
static void show_line(snapshot_state *s, int i)
{
	if (i < 0 || (i >= s->scroll.top + 2 && i < s->scroll.top + s->scroll.page))
		return;
	s->scroll.top = i > 2 ? i - 2 : 0;
	tui_list_fit(&s->scroll);
}

/* The first line of the next (dir 1) or previous (-1) key whose values
 * differ, from the one gone to last (from the top line shown before). */
static int next_diff(const snapshot_state *s, int dir)
{
	int from = s->at_diff >= 0 ? s->at_diff : dir > 0 ? s->scroll.top - 1 : s->scroll.top;

	for (int i = from + dir; i >= 0 && i < (int)s->n_lines; i += dir)
		if (s->lines[i].diff && s->lines[i].head)
			return i;
	return -1;
}

void *tui_snapshot_new(tui_app *app, const char *source_uuid)
{
	snapshot_state *s = sm_xcalloc(1, sizeof *s);

	(void)app;
	s->uuid = sm_xstrdup(source_uuid);
	s->at_diff = -1;
	tui_list_init_search(&s->scroll, "either side's JSON", has, s);
	return s;
}

/* Forgets the verify read last. */
static void clear_verify(snapshot_state *s)
{
	sm_verify_report_free(s->verify);
	s->verify = NULL;
	s->diffs = NULL;
	s->n_diffs = 0;
	s->differences = 0;
	free(s->vtext);
	free(s->type_label);
	free(s->recorded);
	s->vtext = s->type_label = s->recorded = NULL;
	s->dec_json = s->fold_json = NULL;
	s->vstate = V_NONE;
}

/* A failure in words: "unknown event at v12 Elixir.X: message". */
static char *failure_text(int kind, long long version, const char *event_type, const char *message)
{
	char at[64] = "";

	if (version > 0)
		snprintf(at, sizeof at, " at v%lld", version);
	return sm_xasprintf("%s%s%s%s: %s", tui_failure_kind_text(kind), at,
			    event_type ? " " : "", event_type ? event_type : "", message ? message : "");
}

/* Takes what the verify of the instance says (and its report from c). */
static void take_verify(snapshot_state *s, snap_pair *c)
{
	const sm_verify_report *rep;

	clear_verify(s);
	s->verify = c->verify;
	c->verify = NULL;
	rep = s->verify;
	if (c->failures && c->failures->n) {
		const sm_failure *f = &c->failures->items[0];
		char *t = failure_text((int)f->kind, f->stream_version, f->event_type, f->message);

		s->recorded = sm_xasprintf("%s (run #%lld%s%s)", t, f->run_id,
					   f->recorded_at ? ", " : "", f->recorded_at ? f->recorded_at : "");
		free(t);
	}
	if (!c->live)
		return;
	if (!rep) {
		s->vstate = V_ERROR;
		s->vtext = sm_xstrdup(c->verify_error ? c->verify_error : "verify did not run");
		return;
	}
	if (rep->state == SM_RUN_FAILED) {
		s->vstate = V_ERROR;
		s->vtext = sm_xstrdup(rep->error.message);
		return;
	}
	s->vstate = V_UNCONFIGURED;
	for (size_t i = 0; i < rep->n_types; i++) {
		const sm_verify_type *t = &rep->types[i];
		const sm_verify_instance *x = t->n_instances ? &t->instances[0] : NULL;

		if (t->planned == 0)
			continue;
		s->type_label = sm_xstrdup(t->label ? t->label : t->type);
		s->target_module = t->target_version;
		if (!x) {
			s->vstate = t->skipped ? V_SKIPPED : V_ERROR;
			if (!t->skipped)
				s->vtext = sm_xstrdup("verify gave no outcome");
			return;
		}
		s->vversion = x->version;
		s->vmodule = x->module_version;
		s->dec_json = x->live_json;
		s->fold_json = x->folded_json;
		s->differences = x->differences;
		s->n_diffs = x->n_diffs;
		s->diffs = x->diffs;
		switch (x->outcome) {
		case SM_VERIFY_EQUAL: s->vstate = V_EQUAL; break;
		case SM_VERIFY_DIFFERENT: s->vstate = V_DIFFERENT; break;
		case SM_VERIFY_FAILED:
			s->vstate = V_FAILED;
			s->vtext = failure_text((int)x->kind, x->fail_version, x->event_type, x->message);
			break;
		default: s->vstate = V_SKIPPED; break;
		}
		return;
	}
}

static unsigned snapshot_poll(tui_app *app, tui_view *v)
{
	snapshot_state *s = v->state;
	unsigned flags = s->call ? TUI_REDRAW : TUI_NONE;   /* the spinner turns */
	snap_pair *c;
	void *out;

	if (tui_call_take(app, &s->call, &out, s->error, sizeof s->error, NULL) < 0)
		return flags;
	c = out;
	if (c) {
		s->loaded = true;
		s->live_found = c->live != NULL;
		s->gen_found = c->gen != NULL;
		s->live_ver = c->live_ver;
		s->gen_ver = c->gen_ver;
		free(s->live_meta);
		free(s->gen_meta);
		s->live_meta = compact(c->live_meta);
		s->gen_meta = compact(c->gen_meta);
		free(s->live_json);
		free(s->gen_json);
		s->live_json = sm_xstrdup(c->live);
		s->gen_json = sm_xstrdup(c->gen);
		take_verify(s, c);
		build_lines(s);
		tui_list_search(&s->scroll, 0);
		snap_free(c);
	}
	return TUI_REDRAW;
}

/* The line under the title: how the two sides compare. */
static void draw_outcome(snapshot_state *s, int y, int x, int w)
{
	char n[32];

	if (s->show_gen) {
		tui_putf(y, x, w, s->n_diff ? ST_DIFF : ST_GOOD,
			 "generated row: %zu top-level key%s differ%s%s", s->n_diff,
			 s->n_diff == 1 ? "" : "s", s->n_diff == 1 ? "s" : "", s->n_diff ? " (] [)" : "");
		return;
	}
	switch (s->vstate) {
	case V_EQUAL:
		tui_putf(y, x, w, ST_GOOD, "equal: the reducer's fold up to version %lld is the live snapshot"
			 " (as Commanded decodes it)", s->vversion);
		break;
	case V_DIFFERENT:
		tui_putf(y, x, w, ST_DIFF, "differs at version %lld: %s path%s (] [)", s->vversion,
			 sm_fmt_count(n, sizeof n, s->differences), s->differences == 1 ? "" : "s");
		break;
	case V_FAILED:
		tui_putf(y, x, w, ST_BAD, "failed: %s", s->vtext);
		break;
	case V_SKIPPED:
		tui_put(y, x, w, ST_WARN, "not compared: the live snapshot changed meanwhile (r: again)");
		break;
	case V_UNCONFIGURED:
		tui_put(y, x, w, ST_DIM, "not verified: no reducer is configured for its type");
		break;
	case V_ERROR:
		tui_putf(y, x, w, ST_BAD, "verify failed: %s", s->vtext ? s->vtext : "");
		break;
	case V_NONE:
		tui_put(y, x, w, ST_DIM, s->live_found ? "" : "no live snapshot: nothing to verify");
		break;
	}
}

static void snapshot_draw(tui_app *app, tui_view *v, tui_rect r)
{
	snapshot_state *s = v->state;
	const sm_environment *env = app->eng ? sm_engine_env(app->eng) : NULL;
	int y = r.y, half = (r.w - 3) / 2, xl = r.x + 1, xr = r.x + 2 + half;
	bool fold = !s->show_gen;
	char buf[256];

	tui_putf(y++, r.x + 1, r.w - 2, ST_HEADER, "Instance %s%s%s%s", s->uuid,
		 s->type_label ? "  (" : "", s->type_label ? s->type_label : "",
		 s->type_label ? ")" : "");
	if (s->call) {
		tui_putf(y, r.x + 1, r.w - 2, ST_WARN, "%s reading its snapshots and folding its events ...",
			 tui_spinner(app->tick));
		return;
	}
	if (s->error[0]) {
		tui_put_wrapped(y, r.x + 1, r.w - 2, 3, ST_BAD, s->error);
		return;
	}
	if (!s->loaded || !env)
		return;
	tui_list_status(&s->scroll, buf, sizeof buf);
	draw_outcome(s, y, r.x + 1, r.w - 2 - tui_text_width(buf) - 1);
	tui_put_right(y++, r.x + r.w / 2, r.w / 2 - 1, ST_WARN, buf);
	if (s->recorded)
		tui_putf(y++, r.x + 1, r.w - 2, ST_BAD, "recorded failure: %s", s->recorded);
	if (fold && s->vmodule && s->target_module && s->vmodule != s->target_module)
		tui_putf(y++, r.x + 1, r.w - 2, ST_WARN, "the live snapshot is at module version %lld, "
			 "the reducer makes %lld: differences are expected", s->vmodule, s->target_module);
	if (!s->live_found)
		snprintf(buf, sizeof buf, "live %s: no snapshot", env->settings.source_schema);
	else
		snprintf(buf, sizeof buf, "live %s  source_version %lld", env->settings.source_schema, s->live_ver);
	tui_put(y, xl, half, ST_HEADER, buf);
	if (fold && s->fold_json)
		snprintf(buf, sizeof buf, "fold of the reducer up to version %lld", s->vversion);
	else if (fold)
		snprintf(buf, sizeof buf, "fold of the reducer: none");
	else if (s->gen_found)
		snprintf(buf, sizeof buf, "generated %s  source_version %lld",
			 env->settings.target_schema, s->gen_ver);
	else
		snprintf(buf, sizeof buf, "generated %s: no snapshot", env->settings.target_schema);
	tui_put(y++, xr, half, ST_HEADER, buf);
	/* Metadata decides validity (the module version): always shown. */
	if (s->live_found)
		tui_putf(y, xl, half, ST_DIM, "metadata %s", s->live_meta ? s->live_meta : "-");
	if (!fold && s->gen_found)
		tui_putf(y, xr, half, ST_DIM, "metadata %s", s->gen_meta ? s->gen_meta : "-");
	if (s->live_found || (!fold && s->gen_found))
		y++;
	tui_list_area(&s->scroll, y, r.y + r.h - y);
	s->scroll.hmax = 0;
	for (int i = s->scroll.top; i < (int)s->n_lines && y < r.y + r.h; i++, y++) {
		const sline *l = &s->lines[i];
		enum tui_style st = l->diff ? ST_DIFF : ST_NORMAL;

		if (i == s->scroll.match || i == s->at_diff)
			st = ST_CURSOR;
		else if (s->scroll.filter[0] && line_has(l, s->scroll.filter))
			st = ST_MARK;
		if (l->wide) {
			if (l->left) {
				tui_put_from(y, xl, r.w - 2, st, l->left, s->scroll.hoff);
				tui_list_hmeasure(&s->scroll, tui_text_width(l->left), r.w - 2);
			}
			continue;
		}
		if (l->left) {
			tui_put_from(y, xl, half, st, l->left, s->scroll.hoff);
			tui_list_hmeasure(&s->scroll, tui_text_width(l->left), half);
		}
		tui_vline(y, xr - 1, 1, ST_DIM);
		if (l->right) {
			tui_put_from(y, xr, half, st, l->right, s->scroll.hoff);
			tui_list_hmeasure(&s->scroll, tui_text_width(l->right), half);
		}
	}
}

static unsigned snapshot_key(tui_app *app, tui_view *v, int cmd, int key)
{
	snapshot_state *s = v->state;
	int line;

	(void)key;
	switch (cmd) {
	case TUI_CMD_TARGET:
		s->show_gen = !s->show_gen;
		build_lines(s);
		tui_list_search(&s->scroll, 0);
		s->scroll.top = 0;
		tui_list_fit(&s->scroll);
		tui_message(app, ST_DIM, s->show_gen ? "The generated target row (t: the fold at the live version)" :
			    "The fold at the live snapshot's version (t: the generated row)");
		return TUI_REDRAW;
	case TUI_CMD_NEXT_DIFF:
	case TUI_CMD_PREV_DIFF:
		line = next_diff(s, cmd == TUI_CMD_NEXT_DIFF ? 1 : -1);
		if (line < 0) {
			tui_message(app, ST_DIM, s->n_diff || s->differences ? "No more differences that way" :
				    "The two sides do not differ");
			return TUI_REDRAW;
		}
		s->at_diff = line;
		show_line(s, line);
		return TUI_REDRAW;
	case TUI_CMD_YANK:
	case TUI_CMD_YANK_LIVE: {
		bool live = cmd == TUI_CMD_YANK_LIVE;
		const char *json = live ? s->live_json : s->show_gen ? s->gen_json : s->fold_json;
		const char *what = live ? "live snapshot" : s->show_gen ? "generated snapshot" : "fold";

		if (json)
			tui_yank(app, live ? "the live snapshot" : s->show_gen ? "the generated snapshot" :
				 "the reducer's fold", json);
		else
			tui_message(app, ST_DIM, "No %s to copy", what);
		return TUI_REDRAW;
	}
	default:
		return TUI_NONE;
	}
}

static void snapshot_leave(tui_app *app, tui_view *v)
{
	snapshot_state *s = v->state;

	tui_call_drop(app, &s->call);
	clear_lines(s);
	free(s->lines);
	free(s->live_json);
	free(s->gen_json);
	free(s->live_meta);
	free(s->gen_meta);
	clear_verify(s);
	free(s->uuid);
}

const tui_view_ops tui_view_snapshot = {
	.title = "Instance", .list = true, .cmds = snapshot_cmds,
	.reload = snapshot_reload, .key = snapshot_key, .draw = snapshot_draw,
	.poll = snapshot_poll, .leave = snapshot_leave,
};
