#!/bin/sh
# seed.sh TARGET CORPUS: fill a fuzz corpus directory from the fixtures.
# Every YAML file of tests/fixtures, examples/ and manifests/ becomes one
# seed; seeds already there are kept (libFuzzer adds its finds).
set -eu
target=$1
corpus=$2
mkdir -p "$corpus"
case $target in
fuzz_manifest | fuzz_yamledit | fuzz_traefik_yaml)
	find tests/fixtures examples manifests -type f \( -name '*.yaml' -o -name '*.yml' \) |
	while read -r f; do
		cp "$f" "$corpus/seed-$(printf '%s' "$f" | tr '/' '_')"
	done
	;;
fuzz_s3xml)
	for f in tests/fixtures/s3xml/*.xml; do
		cp "$f" "$corpus/seed-$(basename "$f")"
	done
	;;
fuzz_webhook)
	for f in tests/fixtures/webhooks/*.bin; do
		cp "$f" "$corpus/seed-$(basename "$f")"
	done
	;;
*)
	echo "seed.sh: unknown fuzz target '$target'" >&2
	exit 1
	;;
esac
