#!/bin/sh
# Install the pinned browser driver of the dashboard test (playwright-core,
# from the npm registry, as tests/browser/package-lock.json pins it) into the
# project-local cache .press/browser/ and print its node_modules folder.
# The browser itself is Debian's chromium (scripts/deps.sh); playwright-core
# never downloads one.
#
#   scripts/playwright.sh      install if missing, print the node_modules path
#
# Idempotent and offline once installed: the registry is asked only when the
# cache does not hold exactly what the lock file pins.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
SRC=$REPO/tests/browser
PREFIX=$REPO/.press/browser
MODULES=$PREFIX/node_modules

if [ -f "$MODULES/playwright-core/package.json" ] &&
	cmp -s "$SRC/package-lock.json" "$PREFIX/package-lock.json" &&
	cmp -s "$SRC/package.json" "$PREFIX/package.json"; then
	echo "$MODULES"
	exit 0
fi

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "playwright: $tool is not installed; run scripts/deps.sh first" >&2
		exit 1
	fi
done

mkdir -p "$PREFIX"
cp "$SRC/package.json" "$SRC/package-lock.json" "$PREFIX/"
log=$PREFIX/install.log
echo "playwright: installing playwright-core into $PREFIX" >&2
# npm ci installs exactly the lock file's versions and integrity hashes.
if ! (cd "$PREFIX" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit \
	--no-fund --loglevel=error) >"$log" 2>&1 </dev/null; then
	echo "playwright: npm ci failed; last lines of $log:" >&2
	tail -n 20 "$log" >&2
	rm -f "$PREFIX/package-lock.json"
	exit 1
fi
echo "$MODULES"
