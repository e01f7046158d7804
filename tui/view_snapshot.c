/*
 * Inspecting one instance: its live snapshot and its generated one side by
 * side, pretty-printed, top-level keys aligned, the keys whose values
 * differ highlighted, each side's metadata on one line under its header.
 * This is how a developer checks generated snapshots before copying them.
 * Both are read by one background call.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"
#include "util/json.h"

/* What the background call reads: both sides of one instance. */
typedef struct snap_pair {
	char *live, *gen;              /* JSON text or NULL (no row) */
	char *live_meta, *gen_meta;    /* metadata JSON text or NULL */
	long long live_ver, gen_ver;
} snap_pair;

typedef struct sline {
	char *left, *right;            /* NULL: blank */
	bool diff;
	bool head;                     /* the first line of a top-level key */
} sline;

typedef struct snapshot_state {
	tui_list scroll;               /* a pager over lines */
	char *uuid;
	tui_call *call;
	char error[1024];
	bool loaded, live_found, gen_found;
	long long live_ver, gen_ver;
	char *live_meta, *gen_meta;    /* compact one-line JSON, or NULL */
	char *live_json, *gen_json;    /* the data as read, for y and Y */
	size_t n_diff;
	int at_diff;                   /* line of the difference gone to, -1 */
	sline *lines;
	size_t n_lines, cap;
} snapshot_state;

static const int snapshot_cmds[] = {
	TUI_CMD_NEXT_DIFF, TUI_CMD_PREV_DIFF, TUI_CMD_FILTER, TUI_CMD_NEXT_MATCH,
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
	free(c);
}

static int snap_fn(tui_call_args *a, void **out, sm_error *err)
{
	snap_pair *c = sm_xcalloc(1, sizeof *c);
	int rc = sm_snapshot_read(a->eng, a->str, false, NULL, &c->live, &c->live_meta,
				  &c->live_ver, err);

	if (rc == SM_OK)
		rc = sm_snapshot_read(a->eng, a->str, true, NULL, &c->gen, &c->gen_meta,
				      &c->gen_ver, err);
	*out = c;
	return rc;
}

static void add_line(snapshot_state *s, char *left, char *right, bool diff)
{
	s->lines = sm_xgrow(s->lines, &s->cap, s->n_lines + 1, sizeof *s->lines);
	s->lines[s->n_lines++] = (sline){ left, right, diff, false };
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

static void build(snapshot_state *s, const char *live, const char *gen)
{
	bool okl, okg;
	json_object *l = parse(live, &okl), *g = parse(gen, &okg);

	clear_lines(s);
	s->n_diff = 0;
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
		s->n_diff = diff;
	}
	if (l)
		json_object_put(l);
	if (g)
		json_object_put(g);
	s->scroll.n = (int)s->n_lines;
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
		build(s, c->live, c->gen);
		tui_list_search(&s->scroll, 0);
		s->at_diff = -1;
		snap_free(c);
	}
	return TUI_REDRAW;
}

static void snapshot_draw(tui_app *app, tui_view *v, tui_rect r)
{
	snapshot_state *s = v->state;
	const sm_environment *env = app->eng ? sm_engine_env(app->eng) : NULL;
	int y = r.y, half = (r.w - 3) / 2, xl = r.x + 1, xr = r.x + 2 + half;
	char buf[256];

	tui_putf(y++, r.x + 1, r.w - 2, ST_HEADER, "Instance %s", s->uuid);
	if (s->call) {
		tui_putf(y, r.x + 1, r.w - 2, ST_WARN, "%s reading its snapshots ...",
			 tui_spinner(app->tick));
		return;
	}
	if (s->error[0]) {
		tui_put_wrapped(y, r.x + 1, r.w - 2, 3, ST_BAD, s->error);
		return;
	}
	if (!s->loaded || !env)
		return;
	tui_putf(y, r.x + 1, r.w / 2 - 1, s->n_diff ? ST_DIFF : ST_GOOD, "%zu top-level key%s differ%s%s",
		 s->n_diff, s->n_diff == 1 ? "" : "s", s->n_diff == 1 ? "s" : "",
		 s->n_diff ? " (] [)" : "");
	tui_list_status(&s->scroll, buf, sizeof buf);
	tui_put_right(y++, r.x + r.w / 2, r.w / 2 - 1, ST_WARN, buf);
	if (s->live_found)
		snprintf(buf, sizeof buf, "live %s  source_version %lld", env->settings.source_schema, s->live_ver);
	else
		snprintf(buf, sizeof buf, "live %s: no snapshot", env->settings.source_schema);
	tui_put(y, xl, half, ST_HEADER, buf);
	if (s->gen_found)
		snprintf(buf, sizeof buf, "generated %s  source_version %lld", env->settings.target_schema, s->gen_ver);
	else
		snprintf(buf, sizeof buf, "generated %s: no snapshot", env->settings.target_schema);
	tui_put(y++, xr, half, ST_HEADER, buf);
	/* Metadata decides validity (the module version): always shown. */
	if (s->live_found)
		tui_putf(y, xl, half, ST_DIM, "metadata %s", s->live_meta ? s->live_meta : "-");
	if (s->gen_found)
		tui_putf(y, xr, half, ST_DIM, "metadata %s", s->gen_meta ? s->gen_meta : "-");
	if (s->live_found || s->gen_found)
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
	case TUI_CMD_NEXT_DIFF:
	case TUI_CMD_PREV_DIFF:
		line = next_diff(s, cmd == TUI_CMD_NEXT_DIFF ? 1 : -1);
		if (line < 0) {
			tui_message(app, ST_DIM, s->n_diff ? "No more differences that way" :
				    "The two snapshots do not differ");
			return TUI_REDRAW;
		}
		s->at_diff = line;
		show_line(s, line);
		return TUI_REDRAW;
	case TUI_CMD_YANK:
	case TUI_CMD_YANK_LIVE: {
		bool live = cmd == TUI_CMD_YANK_LIVE;
		const char *json = live ? s->live_json : s->gen_json;

		if (json)
			tui_yank(app, live ? "the live snapshot" : "the generated snapshot", json);
		else
			tui_message(app, ST_DIM, "No %s snapshot to copy", live ? "live" : "generated");
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
	free(s->uuid);
}

const tui_view_ops tui_view_snapshot = {
	.title = "Instance", .list = true, .cmds = snapshot_cmds,
	.reload = snapshot_reload, .key = snapshot_key, .draw = snapshot_draw,
	.poll = snapshot_poll, .leave = snapshot_leave,
};
