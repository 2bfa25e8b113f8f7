#!/bin/sh
# Benchmarks (docs/design.md §9): `make bench` runs this with PRESSCTL set to the
# binary's absolute path.
#
# Prints the median wall time and peak RSS of each benchmark next to its
# target as a ratio. Timing never fails the run (machines differ); a
# benchmark fails only when the command it measures fails.
#
# Since targets alone say little across machines, the no-op plan also has
# an anchor measured in the same run (bench-converge.sh, tfanchor.py):
# Terraform's no-op plan of the same buckets (1,000, BENCH_TF_BUCKETS) on
# the same s3rver, printed as both medians and their ratio (terraform /
# pressctl). Without terraform or its hashicorp/aws provider in a local
# mirror the anchor prints why it was skipped; that is not a failure.
#
# The converge benchmarks (live backends, the anchor) also run alone, e.g.
# small:  BENCH_CONVERGE_SIZES=50 BENCH_APPLY_ENVS=5 tests/bench/bench-converge.sh
# So do the backup benchmarks (bench-backup.sh: backup against pg_dump,
# pressctl's own peak RSS, restore against pg_restore, a small backup among
# many environments), e.g. small:
#         BENCH_BACKUP_MB=64 BENCH_BACKUP_ENVS=50 tests/bench/bench-backup.sh
#
# Environment:
#   PRESSCTL      the binary (default: bin/pressctl of this checkout)
#   BENCH_RUNS    timed runs per measurement (default 5, after 1 warm-up)
#   BENCH_ENVS    environments of the large case (default 10000)
#   BENCH_BACKUP_MB    size of the backup benchmarks' schema in MiB
#                      (default 1024)
#   BENCH_BACKUP_ENVS  environments around the small one whose backup is
#                      timed in a crowded database (default 1000)
#   PYTHON        Debian's python3 (default /usr/bin/python3)
#   BENCH_KEEP=1  keep the generated trees (their path is printed)
#
# Adding a benchmark (plan, apply, watch): drop an executable
# tests/bench/bench-NAME.sh next to this file. It runs after the built-in
# validate benchmark, in name order, with these variables exported:
#   PRESSCTL, PYTHON, BENCH_RUNS, BENCH_TMP (a scratch directory),
#   BENCH_GEN (gen.py), BENCH_MEASURE (measure.py), BENCH_RECORD (a file
#   measure.py --record appends to), and BENCH_SMALL / BENCH_LARGE
#   (generated config repos of 1000 and BENCH_ENVS environments).
# It prints its own lines (use "$PYTHON" "$BENCH_MEASURE" ...) and exits
# non-zero only when something it runs fails. A benchmark that needs live
# backends starts them itself (scripts/) or prints why it was skipped.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

PRESSCTL=${PRESSCTL:-$top/bin/pressctl}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_ENVS=${BENCH_ENVS:-10000}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

if [ ! -x "$PRESSCTL" ]; then
	echo "bench: no pressctl binary at '$PRESSCTL': run 'make' first, or set PRESSCTL" >&2
	exit 1
fi

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/press-bench.XXXXXX")
cleanup() {
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $BENCH_TMP"
	else
		rm -rf "$BENCH_TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_GEN=$here/gen.py
BENCH_MEASURE=$here/measure.py
BENCH_RECORD=$BENCH_TMP/results.tsv
BENCH_SMALL=$BENCH_TMP/envs-1000
BENCH_LARGE=$BENCH_TMP/envs-$BENCH_ENVS
export PRESSCTL PYTHON BENCH_RUNS BENCH_TMP BENCH_GEN BENCH_MEASURE \
	BENCH_RECORD BENCH_SMALL BENCH_LARGE

echo "bench: $PRESSCTL ($(uname -m), $(nproc 2>/dev/null || echo '?') cores), $BENCH_RUNS runs each"
"$PYTHON" "$BENCH_GEN" --environments 1000 "$BENCH_SMALL" 2>/dev/null
"$PYTHON" "$BENCH_GEN" --environments "$BENCH_ENVS" "$BENCH_LARGE" 2>/dev/null

# validate: schema + semantic checks of the whole tree, no backends.
"$PYTHON" "$BENCH_MEASURE" --label "validate 1000 environments" \
	--runs "$BENCH_RUNS" --record "$BENCH_RECORD" \
	-- "$PRESSCTL" validate "$BENCH_SMALL"
"$PYTHON" "$BENCH_MEASURE" --label "validate $BENCH_ENVS environments" \
	--runs "$BENCH_RUNS" --target 1.0 --record "$BENCH_RECORD" \
	-- "$PRESSCTL" validate "$BENCH_LARGE"
awk -F '\t' -v n="$BENCH_ENVS" '
	NR == 1 { t = $2; r = $3 }
	NR == 2 && t > 0 && r > 0 {
		printf "validate scaling 1000 -> %d environments: time x%.1f, RSS x%.1f\n",
			n, $2 / t, $3 / r
	}' "$BENCH_RECORD"

# Later benchmarks: tests/bench/bench-*.sh (see the header).
status=0
for b in "$here"/bench-*.sh; do
	[ -x "$b" ] || continue
	if ! "$b"; then
		echo "bench: $(basename "$b") failed" >&2
		status=1
	fi
done
exit $status
