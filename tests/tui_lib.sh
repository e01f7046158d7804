# Shared by tests/test_tui_*.sh (sourced): drive the real snapmig binary in
# a private tmux server (send-keys / capture-pane) against the throwaway
# PostgreSQL of tests/with-pg.  Every wait polls the screen for the expected
# text until a deadline; nothing sleeps a fixed time.  The harness's helpers
# are tests/shell_lib.sh's.

. "${SNAPMIG_SRCDIR:?}/tests/shell_lib.sh"

need_tools tmux psql
make_tmpdir tui
SOCK="$T/tmux.sock"
unset TMUX
export XDG_CONFIG_HOME="$T/xdg"

tm() {
	tmux -S "$SOCK" -f /dev/null "$@"
}

cleanup() {
	tm kill-server >/dev/null 2>&1
	rm_tmpdir
}
# A signal (e.g. the harness's timeout) must still stop the tmux server.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# new_store NAME: a fresh database filled by tests/mkstore's "shop" store;
# sets DB and CONNINFO.
new_store() {
	DB=$1
	psql_db postgres "CREATE DATABASE \"$DB\"" >/dev/null || exit 99
	CONNINFO="host=$PGHOST dbname=$DB user=postgres"
	PGOPTIONS='-c client_min_messages=warning' \
		"$SNAPMIG_BUILDDIR/tests/mkstore" "$CONNINFO" bytea shop || exit 99
}

# The rules of the shop store's Cart: one entry of a configuration's
# aggregates list.
CART_RULES='  { type = "Elixir.Shop.Cart"; label = "Cart"; snapshot_version = 2;
    initial = "{id: null, items: []}";
    events = (
      { on = "Elixir.Shop.Cart.Events.Created"; do = "id = event.id"; },
      { on = "Elixir.Shop.Cart.Events.ItemAdded"; do = "append items event.sku"; }
    ); }'

# write_config: dev and prod (protected) both on the store, broken on a
# database that does not exist.
write_config() {
	cat >"$T/snapmig.conf" <<EOC
defaults = { jobs = 2; };
environments = (
  { name = "dev"; conninfo = "$CONNINFO"; },
  { name = "prod"; conninfo = "$CONNINFO"; protected = true; },
  { name = "broken"; conninfo = "host=$PGHOST dbname=no_such_db user=postgres"; }
);
aggregates = (
$CART_RULES,
  { type = "Elixir.Shop.Counter"; label = "Counter"; snapshot_version = 1;
    initial = "{n: 0}";
    events = (
      { on = "Elixir.Shop.Counter.Events.Incremented"; do = "n += event.by"; }
    ); }
);
EOC
}

# cli ARGS...: the command line on the test's configuration; its output is
# added to $T/cli.out (which expect_sql shows when it fails).
cli() {
	"$SNAPMIG_BIN" -c "$T/snapmig.conf" "$@" >>"$T/cli.out" 2>&1
}

# ui_start WIDTH HEIGHT [ARGS...]: runs snapmig in a new tmux session "ui"
# (with the variables assignments in UI_ENV, e.g. UI_ENV=NO_COLOR=1).
# When it exits, the pane prints "[exit N]" and the terminal settings (to
# check that the terminal was restored), then waits.
ui_start() {
	w=$1
	h=$2
	shift 2
	cat >"$T/run.sh" <<EOS
# Ctrl-C is for snapmig; this shell stays to report.
trap ':' INT
cd "$T"
"$SNAPMIG_BIN" -c "$T/snapmig.conf" $*
echo "[exit \$?]"
stty -a | tr ' ' '\n' | grep -E '^-?(icanon|echo)\$' | tr '\n' ' ' > "$T/stty.after"
echo "[stty saved]"
sleep 600
EOS
	tm new-session -d -s ui -x "$w" -y "$h" \
		"env TERM=screen-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 ${UI_ENV:-} sh $T/run.sh" || exit 99
}

# ui_start_clipboard WIDTH HEIGHT [ARGS...]: ui_start where y can copy:
# the clipboard file below $T/run (XDG_RUNTIME_DIR, also for later
# ui_starts) and tmux taking OSC 52 into its buffer.
ui_start_clipboard() {
	export XDG_RUNTIME_DIR="$T/run"
	mkdir -p "$XDG_RUNTIME_DIR"
	ui_start "$@"
	tm set-option -s set-clipboard on
}

# expect_clipboard TEXT: the clipboard file (ui_start_clipboard) holds
# exactly TEXT.
expect_clipboard() {
	if [ "$(cat "$T/run/snapmig/clipboard")" = "$1" ]; then
		ok "clipboard file holds $1"
	else
		fail "clipboard file: $(cat "$T/run/snapmig/clipboard" 2>&1)"
	fi
}

screen() {
	tm capture-pane -p -t ui
}

# lock TABLE: a session holds an exclusive lock on TABLE for a minute; sets
# LOCKER.  unlock: ends it.
lock() {
	psql -X -q -d "$DB" -c "BEGIN; LOCK TABLE $1 IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;" \
		>/dev/null 2>&1 &
	LOCKER=$!
	deadline=$(( $(date +%s) + 10 ))
	until [ "$(sql "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted
	              AND relation = '$1'::regclass")" -ge 1 ] || [ "$(date +%s)" -ge "$deadline" ]; do
		sleep 0.1
	done
}
unlock() {
	sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	     WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
	wait "$LOCKER" 2>/dev/null
}

# has_colour: whether the screen uses colours (SGR foreground/background
# codes in the pane's contents with their attributes).
has_colour() {
	esc=$(printf '\033')
	tm capture-pane -p -e -t ui |
		grep -qE "$esc\\[([0-9;]*;)?([34][0-7]|[34]8;5;[0-9]+)(;[0-9;]*)?m"
}

# wait_screen GREP_MODE PATTERN SECONDS PASSED FAILED: polls the screen
# until grep -q$GREP_MODE (F: fixed string, E: extended regex) finds
# PATTERN; a failure prints the screen.
wait_screen() {
	deadline=$(( $(date +%s) + $3 ))
	while :; do
		if screen | grep -q"$1" -- "$2"; then
			ok "$4"
			return 0
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "$5"
			echo "----- screen -----"
			screen
			echo "------------------"
			return 1
		fi
		sleep 0.1
	done
}

# wait_for TEXT [SECONDS]: until the screen shows TEXT (fixed string).
wait_for() {
	wait_screen F "$1" "${2:-20}" "screen shows: $1" "screen never showed: $1"
}

# wait_line REGEX [SECONDS]: until one line matches the extended regex.
wait_line() {
	wait_screen E "$1" "${2:-20}" "screen has a line matching: $1" "no line matching: $1"
}

# wait_gone TEXT [SECONDS]: waits until the screen no longer shows TEXT
# (a spinner: the screen keeps showing the old data while it turns).
wait_gone() {
	deadline=$(( $(date +%s) + ${2:-20} ))
	while screen | grep -qF -- "$1"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "screen still shows: $1"
			screen
			return 1
		fi
		sleep 0.1
	done
	ok "screen no longer shows: $1"
}

# not_on_screen TEXT: the screen does not show TEXT right now.
not_on_screen() {
	if screen | grep -qF -- "$1"; then
		fail "screen shows unexpected: $1"
		screen
	else
		ok "screen does not show: $1"
	fi
}

keys() {
	tm send-keys -t ui "$@"
}

# type_text TEXT: literal characters.
type_text() {
	tm send-keys -t ui -l "$1"
}

resize() {
	tm resize-window -t ui -x "$1" -y "$2"
}

# sizes REGEX: wide, 80x24, too small, 80x24 again; REGEX matches a line
# each time the screen is big enough.
sizes() {
	resize 160 40
	wait_line "$1"
	resize 80 24
	wait_line "$1"
	resize 70 20
	wait_for "Window too small: 70x20"
	resize 80 24
	wait_line "$1"
}

# ui_signal SIG: sends SIG to the snapmig process of the session (the
# child of the pane's shell).
ui_signal() {
	shell_pid=$(tm display-message -p -t ui '#{pane_pid}')
	ui_pid=$(pgrep -P "$shell_pid" | head -n 1)
	if [ -z "$ui_pid" ]; then
		fail "no snapmig process to signal"
		return 1
	fi
	kill -"$1" "$ui_pid"
}

# expect_exit CODE: the program ended with CODE and left the terminal in
# its normal mode (canonical input and echo back on).
expect_exit() {
	wait_for "[exit $1]" 20 || return 1
	wait_for "[stty saved]" 10 || return 1
	if grep -q -- '-icanon' "$T/stty.after" || grep -q -- '-echo ' "$T/stty.after" ||
	   ! grep -q 'icanon' "$T/stty.after"; then
		fail "terminal not restored: $(cat "$T/stty.after")"
	else
		ok "terminal restored: $(cat "$T/stty.after")"
	fi
}
