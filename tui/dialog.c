/*
 * Dialogs as modal views: a yes/no confirmation and a one-line text prompt
 * (used for typed confirmations, file names and filters).  The callback
 * runs after the dialog has left the stack, so it may push another view.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct dialog {
	char *title;
	char *text;
	tui_text_fn text_fn;       /* the text as things are now, or NULL */
	char *expect;              /* a typed confirmation: the word to type */
	char *refused;             /* ... and what did not happen otherwise */
	bool prompt;
	tui_confirm_fn on_yes;
	tui_prompt_fn on_submit;
	void *ctx;
	char input[512];
} dialog;

static const int confirm_cmds[] = { TUI_CMD_NONE };

/* A live dialog's text follows what it is about (a run that ends). */
static unsigned dialog_poll(tui_app *app, tui_view *v)
{
	dialog *d = v->state;
	char buf[2048];
	const char *now;

	if (!d->text_fn)
		return TUI_NONE;
	now = d->text_fn(app, d->ctx, buf, sizeof buf);
	if (strcmp(now, d->text) == 0)
		return TUI_NONE;
	free(d->text);
	d->text = sm_xstrdup(now);
	return TUI_REDRAW;
}

static void dialog_leave(tui_app *app, tui_view *v)
{
	dialog *d = v->state;

	(void)app;
	free(d->title);
	free(d->text);
	free(d->expect);
	free(d->refused);
}

static void dialog_draw(tui_app *app, tui_view *v, tui_rect r)
{
	dialog *d = v->state;
	int lines = 1, longest = tui_text_width(d->title) + 4;
	int w, h, y, x, row;
	const char *p = d->text;

	(void)app;
	for (const char *q = p;; q++) {
		if (*q == '\n' || !*q) {
			char *line = sm_xstrndup(p, (size_t)(q - p));
			int lw = tui_text_width(line);

			free(line);
			if (lw > longest)
				longest = lw;
			if (!*q)
				break;
			lines++;
			p = q + 1;
		}
	}
	w = longest + 6;
	if (w < 50)
		w = 50;
	if (w > r.w - 2)
		w = r.w - 2;
	h = lines + 4 + (d->prompt ? 2 : 0);
	if (h > r.h)
		h = r.h;
	y = r.y + (r.h - h) / 2;
	x = r.x + (r.w - w) / 2;
	tui_box(y, x, h, w, ST_DIALOG);
	tui_putf(y, x + 2, w - 4, ST_HEADER, " %s ", d->title);
	row = y + 1;
	p = d->text;
	for (const char *q = p;; q++) {
		if (*q == '\n' || !*q) {
			char *line = sm_xstrndup(p, (size_t)(q - p));

			if (row < y + h - 2)
				tui_put(row++, x + 3, w - 6, ST_DIALOG, line);
			free(line);
			if (!*q)
				break;
			p = q + 1;
		}
	}
	if (d->prompt) {
		int iw = w - 6, tw = tui_text_width(d->input);
		const char *shown = d->input;

		row++;
		tui_fill(row, x + 3, iw, ST_CURSOR);
		/* Show the end of a long input. */
		while (tw > iw - 1 && *shown) {
			shown++;
			tw = tui_text_width(shown);
		}
		tui_put(row, x + 3, iw, ST_CURSOR, shown);
		tui_put(row, x + 3 + tw, 1, ST_CURSOR, "_");
		tui_put(y + h - 2, x + 3, w - 6, ST_DIM, "Enter: confirm   Esc: cancel");
	} else {
		tui_put(y + h - 2, x + 3, w - 6, ST_DIM, "y: yes   n/Esc: no");
	}
}

bool tui_text_edit(char *s, size_t cap, int key)
{
	char mb[MB_LEN_MAX + 1];
	mbstate_t st;
	size_t n, len = strlen(s);

	if (key == TK_FN(KEY_BACKSPACE) || key == 127 || key == 8) {
		/* Drop one UTF-8 character: continuation bytes are 10xxxxxx. */
		while (len > 0) {
			len--;
			if (((unsigned char)s[len] & 0xC0) != 0x80)
				break;
		}
		s[len] = 0;
		return true;
	}
	if (key == TK_CTRL('u')) {
		s[0] = 0;
		return true;
	}
	if (key < 32)
		return false;
	memset(&st, 0, sizeof st);
	n = wcrtomb(mb, (wchar_t)key, &st);
	if (n == (size_t)-1 || len + n + 1 > cap)
		return false;
	memcpy(s + len, mb, n);
	s[len + n] = 0;
	return true;
}

static unsigned dialog_key(tui_app *app, tui_view *v, int cmd, int key)
{
	dialog *d = v->state;
	void *ctx = d->ctx;

	(void)cmd;
	if (!d->prompt) {
		tui_confirm_fn fn = d->on_yes;

		if (key == 'y' || key == 'Y') {
			tui_pop(app);
			if (fn)
				fn(app, ctx);
		} else if (key == 'n' || key == 'N' || key == 'q' || key == 27) {
			tui_pop(app);
		}
		return TUI_REDRAW;
	}
	if ((key == '\r' || key == '\n' || key == TK_FN(KEY_ENTER)) && d->expect) {
		tui_confirm_fn fn = d->on_yes;
		bool typed = strcmp(d->input, d->expect) == 0;
		char *refused = sm_xstrdup(d->refused);

		tui_pop(app);
		if (!typed)
			tui_message(app, ST_WARN, "The name does not match: %s", refused);
		else if (fn)
			fn(app, ctx);
		free(refused);
	} else if (key == '\r' || key == '\n' || key == TK_FN(KEY_ENTER)) {
		tui_prompt_fn fn = d->on_submit;
		char *text = sm_xstrdup(d->input);

		tui_pop(app);
		if (fn)
			fn(app, ctx, text);
		free(text);
	} else if (key == 27) {
		tui_pop(app);
	} else {
		tui_text_edit(d->input, sizeof d->input, key);
	}
	return TUI_REDRAW;
}

static const tui_view_ops dialog_ops = {
	.title = "Confirm", .cmds = confirm_cmds, .modal = true,
	.draw = dialog_draw, .poll = dialog_poll, .key = dialog_key,
	.leave = dialog_leave,
};

void tui_confirm(tui_app *app, const char *title, const char *text,
		 tui_confirm_fn on_yes, void *ctx)
{
	dialog *d = sm_xcalloc(1, sizeof *d);

	d->title = sm_xstrdup(title);
	d->text = sm_xstrdup(text);
	d->on_yes = on_yes;
	d->ctx = ctx;
	tui_push(app, &dialog_ops, d);
}

void tui_confirm_live(tui_app *app, const char *title, tui_text_fn text,
		      tui_confirm_fn on_yes, void *ctx)
{
	char buf[2048];

	tui_confirm(app, title, text(app, ctx, buf, sizeof buf), on_yes, ctx);
	((dialog *)tui_top(app)->state)->text_fn = text;
}

void tui_confirm_typed(tui_app *app, const char *title, const char *text,
		       const char *expect, const char *refused, tui_confirm_fn on_yes, void *ctx)
{
	tui_prompt(app, title, text, "", NULL, ctx);
	{
		dialog *d = tui_top(app)->state;

		d->expect = sm_xstrdup(expect);
		d->refused = sm_xstrdup(refused);
		d->on_yes = on_yes;
	}
}

void tui_prompt(tui_app *app, const char *title, const char *text,
		const char *initial, tui_prompt_fn on_submit, void *ctx)
{
	dialog *d = sm_xcalloc(1, sizeof *d);

	d->title = sm_xstrdup(title);
	d->text = sm_xstrdup(text);
	d->prompt = true;
	d->on_submit = on_submit;
	d->ctx = ctx;
	if (initial)
		snprintf(d->input, sizeof d->input, "%s", initial);
	tui_push(app, &dialog_ops, d);
}
