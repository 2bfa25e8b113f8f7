#!/bin/bash
# campaign.sh BUILD OUT TARGET...: a fuzzing campaign with a CPU-time
# budget (make fuzz; docs/reliability.md "Fuzzing").
#
# Each target runs until it has used FUZZ_SECONDS of CPU time (user +
# system of the fuzzer process, all its threads, measured with
# /usr/bin/time: on a busy or niced machine wall time says little), in
# rounds of libFuzzer's -max_total_time, FUZZ_JOBS targets at once.
# FUZZ_WALL (seconds, 0 none) bounds the whole campaign's wall time: a
# target still short of its budget then stops, and the report says so.
# A crash (or leak, timeout, out-of-memory) ends the round; its input is
# kept in OUT/TARGET/ and the target goes on (at most 3 crashes each).
#
# Corpora are BUILD/corpus-TARGET (seeded by seed.sh, grown by the run).
# OUT/report.md is the summary: CPU seconds, executions, coverage
# (cov: edges, ft: features), corpus files and bytes, crashes.
set -eu

if [ "${1:-}" = --one ]; then
	# --one BUILD OUT TARGET END: one target's rounds.
	build=$2 out=$3 t=$4 end=$5
	corpus=$build/corpus-$t
	dir=$out/$t
	mkdir -p "$dir"
	log=$out/$t.log
	: >"$log"
	cpu=0 execs=0 crashes=0 rounds=0 stop=budget
	while :; do
		left=$(awk -v b="$FUZZ_SECONDS" -v c="$cpu" 'BEGIN { l = b - c; print (l > 0 ? int(l + 0.999) : 0) }')
		[ "$left" -gt 0 ] || break
		now=$(date +%s)
		if [ "$end" -gt 0 ]; then
			if [ "$now" -ge "$end" ]; then
				stop=wall
				break
			fi
			[ $((end - now)) -lt "$left" ] && left=$((end - now))
		fi
		rounds=$((rounds + 1))
		rc=0
		/usr/bin/time -f '%U %S' -o "$dir/time" \
			"$build/$t" -max_total_time="$left" -max_len=65536 \
			-rss_limit_mb=1024 -timeout=30 -print_final_stats=1 \
			-artifact_prefix="$dir/" "$corpus" >>"$log" 2>&1 || rc=$?
		used=$(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { print $1 + $2 }' "$dir/time" | tail -n 1)
		cpu=$(awk -v c="$cpu" -v u="${used:-0}" 'BEGIN { print c + u }')
		n=$(awk '/^stat::number_of_executed_units:/ { n += $2 } END { print n + 0 }' "$log")
		execs=$n
		if [ "$rc" -ne 0 ]; then
			crashes=$((crashes + 1))
			if [ "$crashes" -ge 3 ]; then
				stop=crashes
				break
			fi
		fi
	done
	# One line for the report: the last status line has the coverage.
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
	cov=$(printf '%s\n' "$last" | sed -nE 's/.* cov: ([0-9]+).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -nE 's/.* ft: ([0-9]+).*/\1/p')
	files=$(find "$corpus" -type f | wc -l)
	bytes=$(du -sb "$corpus" | cut -f1)
	found=$(find "$dir" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	printf '%s %s %s %s %s %s %s %s %s\n' "$t" "$cpu" "$execs" "${cov:-?}" \
		"${ft:-?}" "$files" "$bytes" "$found" "$stop" >"$dir/summary"
	exit 0
fi

build=$1 out=$2
shift 2
: "${FUZZ_SECONDS:=300}" "${FUZZ_JOBS:=1}" "${FUZZ_WALL:=0}"
export FUZZ_SECONDS
mkdir -p "$out"
end=0
[ "$FUZZ_WALL" -gt 0 ] && end=$(($(date +%s) + FUZZ_WALL))
for t in "$@"; do
	tests/fuzz/seed.sh "$t" "$build/corpus-$t"
	rm -f "$out/$t/summary"
done
t0=$(date +%s)
printf '%s\n' "$@" | xargs -P "$FUZZ_JOBS" -I{} "$0" --one "$build" "$out" {} "$end"
wall=$(($(date +%s) - t0))

{
	echo "Fuzz campaign: FUZZ_SECONDS=$FUZZ_SECONDS of CPU per target," \
		"FUZZ_JOBS=$FUZZ_JOBS, FUZZ_WALL=$FUZZ_WALL; wall time ${wall} s;" \
		"ended $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "| target | CPU s | executions | cov | ft | corpus files | corpus bytes | crashes | ended by |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
	cat "$out"/*/summary | awk '{ printf "| %s | %.0f | %d | %s | %s | %d | %d | %d | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
	cat "$out"/*/summary | awk '{ c += $2; x += $3; k += $8 }
		END { printf "| **total** | %.0f | %d | | | | | %d | |\n", c, x, k }'
} >"$out/report.md"
cat "$out/report.md"
# Crashes fail the campaign (their inputs are under $out/TARGET/).
! cat "$out"/*/summary | awk '$8 > 0 { bad = 1 } END { exit !bad }'
