#!/bin/sh
# Installs the Debian packages snapmig needs to build, test and run its demo,
# when they are missing.  As root: apt-get.  Otherwise: prints the exact
# apt-get line and fails.
#   scripts/deps.sh [build|test|demo]
set -eu

what=${1:-test}
pkgs="build-essential autoconf autoconf-archive automake pkg-config
      libncurses-dev libpq-dev libconfig-dev libjson-c-dev
      postgresql postgresql-client"
case "$what" in
test) pkgs="$pkgs check tmux python3 clang libclang-rt-14-dev valgrind zsh elixir" ;;
demo) pkgs="$pkgs python3 elixir" ;;
build) ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "snapmig: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "snapmig: missing packages. Install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
