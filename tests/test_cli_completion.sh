#!/bin/sh
# Shell completion generated from the option tables (`snapmig completion
# bash|zsh`): the scripts load, and completing in a real bash (through its
# completion function, as readline calls it) and a real zsh (through its
# completion system, in a pseudo-terminal) offers the commands, each
# command's options, the environments and types of the configuration and
# the failure kinds.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_db cli_completion
write_config ',
  { name = "staging"; conninfo = "'"$CONNINFO"'"; }'

run completion bash
expect_rc 0
cp "$T/out" "$T/snapmig.bash"
if bash -n "$T/snapmig.bash" 2>"$T/err"; then ok; else fail "bash -n: $(cat "$T/err")"; fi

# complete WORD...: what bash offers for the last word, space-separated.
complete_bash() {
	bash -c '
		source "$1" || exit 99
		shift
		complete -p snapmig >/dev/null || exit 98
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_snapmig
		echo "${COMPREPLY[*]}"
	' complete "$T/snapmig.bash" "$@" 2>"$T/err"
}

expect_completion() {
	want=$1
	shift
	got=$(complete_bash "$@")
	if [ "$got" = "$want" ]; then ok; else
		fail "bash completion of '$*': got '$got', expected '$want'"
		sed 's/^/  err: /' "$T/err"
	fi
}

expect_completion "status" snapmig sta
expect_completion "rebuild rollback runs" snapmig r
expect_completion "status preflight verify rebuild failures copy rollback discard runs check fold help" snapmig ""
expect_completion "--dry-run" snapmig copy --dr
expect_completion "--force-version --force-failures --force-lag --force-empty" snapmig -q copy --force-
expect_completion "--only-failed" "$SNAPMIG_BIN" -c "$CONF" rebuild --on
# Global options after the command, a command's options not before it.
expect_completion "--json" snapmig status --js
expect_completion "" snapmig --dry
expect_completion "unknown_event" snapmig failures --kind unk
expect_completion "status" snapmig help st
# Environments and types from the configuration that -c names.
expect_completion "local staging" "$SNAPMIG_BIN" -c "$CONF" -e ""
expect_completion "staging" "$SNAPMIG_BIN" --config "$CONF" copy --confirm-env s
expect_completion "Counter" "$SNAPMIG_BIN" -c "$CONF" status -a C
# -c completes file names.
got=$(complete_bash snapmig -c "$T/snapmig." | tr ' ' '\n' | sort | tr '\n' ' ')
if [ "$got" = "$T/snapmig.bash $T/snapmig.conf " ]; then ok; else fail "bash completion of -c: '$got'"; fi
# An operand that is not completed.
expect_completion "" snapmig rollback ""

# The hidden helper the scripts call.
run -c "$CONF" completion words NAME
expect_rc 0
if [ "$(cat "$T/out")" = "local
staging" ]; then ok; else fail "completion words NAME: $(cat "$T/out")"; fi
run -c "$CONF" completion words TYPE
expect_rc 0
expect_out "Counter"
expect_out "Team"
run completion fish
expect_rc 2
expect_err "completion: expected bash or zsh"

# zsh: the script loads after compinit, and Tab in an interactive zsh
# completes a command and an option through it.
run completion zsh
expect_rc 0
cp "$T/out" "$T/_snapmig"
if ! command -v zsh >/dev/null 2>&1; then
	fail "zsh is not installed (scripts/deps.sh test installs it)"
	finish
fi
if zsh -n "$T/_snapmig" 2>"$T/err"; then ok; else fail "zsh -n: $(cat "$T/err")"; fi

# zsh_complete LINE: types LINE and Tab into an interactive zsh in a
# pseudo-terminal, then Enter; the command line that runs (snapmig is a
# function there that prints its arguments between markers that the echo
# of its own definition does not contain) is the completion's result.
zsh_complete() {
	HOME="$T" zsh -f -c '
		zmodload zsh/zpty || exit 99
		zpty -b z zsh -f -i
		zpty -w z "PS1=\"> \"; autoload -Uz compinit; compinit -u -D; source ${(q)1}; snapmig() { print -r -- \"R\${:-AN}:\$*:E\${:-ND}\" }"
		zpty -w -n z "$2"$'"'"'\t'"'"'
		out=
		# Return (as a terminal sends it) until the line has run: zsh
		# may drop what is typed while it completes, and an empty
		# line does nothing.
		for i in {1..100}; do
			if zpty -r -t z line; then
				out+=$line
				[[ $out == *RAN:*:END* ]] && break
			else
				(( i % 5 )) || zpty -w -n z $'"'"'\r'"'"'
				sleep 0.1
			fi
		done
		zpty -d z
		print -r -- ${${out##*RAN:}%%:END*}
	' zsh_complete "$T/_snapmig" "$1" 2>"$T/err"
}

got=$(zsh_complete "snapmig sta")
if [ "$got" = "status" ]; then ok; else fail "zsh completion of 'snapmig sta': '$got'"; fi
got=$(zsh_complete "snapmig copy --dry-r")
if [ "$got" = "copy --dry-run" ]; then ok; else fail "zsh completion of 'snapmig copy --dry-r': '$got'"; fi
got=$(zsh_complete "snapmig failures --kind no_m")
if [ "$got" = "failures --kind no_match" ]; then ok; else fail "zsh completion of --kind: '$got'"; fi
finish
