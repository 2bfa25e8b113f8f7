#!/bin/sh
# seed.sh TARGET CORPUS: fill a fuzz corpus directory from the fixtures.
# Every YAML file of tests/fixtures, examples/ and manifests/ becomes one
# seed; seeds already there are kept (libFuzzer adds its finds).
# Each case below names a target's seeds; tests/fuzz/corpus/ adds more.
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
fuzz_cron)
	# 8 bytes of time, then the expression: every schedule of the
	# fixtures, and a few of cron's corners.
	i=0
	{ grep -rhoE 'schedule: *"[^"]*"' tests/fixtures examples manifests |
		sed -E 's/schedule: *"([^"]*)"/\1/'
	  printf '%s\n' '*/15 9-17 * * MON-FRI' '0 0 29 2 *' '0 0 31 4 *' \
		'0 0 1-31 * MON' '*/7 */5 */3 */2 FRI-SUN' '59 23 31 12 7'; } |
	while read -r expr; do
		i=$((i + 1))
		{ printf '\000\140\313\147\000\000\000\000'; printf '%s' "$expr"; } \
			>"$corpus/seed-$i"
	done
	;;
fuzz_crypt)
	# Mode byte, then data: plaintexts of a few sizes around the chunk
	# size, and the same bytes as (refused) ciphertext.
	for n in 0 1 100 65535 65536 65537; do
		{ printf '\001'; head -c "$n" /dev/zero | tr '\000' 'p'; } >"$corpus/seed-plain-$n"
		{ printf '\000'; head -c "$n" /dev/zero | tr '\000' 'c'; } >"$corpus/seed-cipher-$n"
	done
	printf '\000PRESSENC\001' >"$corpus/seed-header"
	;;
fuzz_docker)
	for f in tests/fixtures/docker/*; do
		cp "$f" "$corpus/seed-$(basename "$f")"
	done
	;;
fuzz_backup_manifest)
	for f in tests/fixtures/backup-manifests/*.json; do
		cp "$f" "$corpus/seed-$(basename "$f")"
	done
	;;
fuzz_dashboard)
	# Whole requests, as sent on the wire.
	for f in tests/fixtures/dashboard/*.http; do
		cp "$f" "$corpus/seed-$(basename "$f")"
	done
	;;
*)
	echo "seed.sh: unknown fuzz target '$target'" >&2
	exit 1
	;;
esac
# What earlier campaigns found, minimized (-merge=1), and the inputs of
# fixed crashes: tests/fuzz/corpus/TARGET/.
if [ -d "tests/fuzz/corpus/$target" ]; then
	cp tests/fuzz/corpus/"$target"/* "$corpus"/
fi
