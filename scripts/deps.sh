#!/bin/sh
# Install every Debian package that pressctl's build, tests and local
# services need. Idempotent: packages already present are not touched, and
# nothing is downloaded when all are installed.
#
#   scripts/deps.sh            build + test dependencies
#
# Run as root or with sudo available. No standard input is read.
set -eu

PKGS="
build-essential pkg-config clang llvm libclang-rt-14-dev
libyaml-dev libjansson-dev libgit2-dev libpq-dev libcurl4-openssl-dev
libexpat1-dev libssl-dev libmicrohttpd-dev libcmocka-dev
python3 python3-pytest python3-jsonschema python3-yaml json-schema-test-suite
git valgrind
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo -n"
fi

echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2 || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
