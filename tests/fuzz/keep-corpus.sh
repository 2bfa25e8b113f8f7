#!/bin/sh
# keep-corpus.sh BUILD TARGET...: after a campaign, keep what it found.
# For each target, libFuzzer's -merge=1 picks from BUILD/corpus-TARGET
# the inputs that reach features the seeds (seed.sh, with what
# tests/fuzz/corpus/TARGET/ already holds) do not, and copies them to
# tests/fuzz/corpus/TARGET/ (named by their SHA-1, as libFuzzer names
# them). Review the size (git status, du) before committing.
set -eu
build=$1
shift
for t in "$@"; do
	base=$(mktemp -d)
	tests/fuzz/seed.sh "$t" "$base"
	before=$(mktemp)
	ls "$base" | sort >"$before"
	"$build/$t" -merge=1 -max_len=65536 -rss_limit_mb=1024 "$base" \
		"$build/corpus-$t" >"$base.log" 2>&1 ||
		{ cat "$base.log" >&2; exit 1; }
	mkdir -p "tests/fuzz/corpus/$t"
	n=0
	for f in $(ls "$base" | sort | comm -13 "$before" -); do
		cp "$base/$f" "tests/fuzz/corpus/$t/$f"
		n=$((n + 1))
	done
	echo "$t: $n inputs kept ($(du -sb "tests/fuzz/corpus/$t" | cut -f1) bytes in tests/fuzz/corpus/$t)"
	rm -rf "$base" "$base.log" "$before"
	rmdir "tests/fuzz/corpus/$t" 2>/dev/null || true
done
