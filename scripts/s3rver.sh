#!/bin/sh
# Install the pinned S3 test server (s3rver, from the npm registry) into the
# project-local folder .press/npm/ and print the path of its executable.
#
#   scripts/s3rver.sh          install if missing, print the executable
#
# Idempotent and offline once installed: the registry is asked only when the
# pinned version is not already in .press/npm/. Needs node and npm
# (scripts/deps.sh installs them when missing).
set -eu

VERSION=3.7.1
REPO=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=$REPO/.press/npm
BIN=$PREFIX/node_modules/s3rver/bin/s3rver.js
PKG=$PREFIX/node_modules/s3rver/package.json

installed_version() {
	[ -f "$PKG" ] || return 0
	node -e 'process.stdout.write(require(process.argv[1]).version)' "$PKG" \
		2>/dev/null || true
}

if [ -f "$BIN" ] && [ "$(installed_version)" = "$VERSION" ]; then
	echo "$BIN"
	exit 0
fi

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "s3rver: $tool is not installed; run scripts/deps.sh first" >&2
		exit 1
	fi
done

mkdir -p "$PREFIX"
log=$PREFIX/install.log
echo "s3rver: installing s3rver@$VERSION into $PREFIX" >&2
if ! npm install --prefix "$PREFIX" --no-audit --no-fund --no-save \
	--loglevel=error "s3rver@$VERSION" >"$log" 2>&1 </dev/null; then
	echo "s3rver: npm install s3rver@$VERSION failed; last lines of $log:" >&2
	tail -n 20 "$log" >&2
	echo "s3rver: check that the npm registry is reachable, then retry" >&2
	exit 1
fi
if [ ! -f "$BIN" ] || [ "$(installed_version)" != "$VERSION" ]; then
	echo "s3rver: npm finished but $BIN (version $VERSION) is missing; see $log" >&2
	exit 1
fi
echo "$BIN"
