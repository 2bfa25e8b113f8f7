#!/bin/sh
# Backup and restore benchmarks against live backends (docs/design.md §9,
# docs/backup.md "Performance"): on a schema of 1 GiB (BENCH_BACKUP_MB),
# `pressctl backup run` against `pg_dump -Fc --schema` (throughput ratio,
# target >= 0.8), pressctl's own peak RSS during it (target <= 64 MiB),
# `pressctl restore` against `pg_restore` of a local dump file (ratio,
# target <= 1.5), and the backup of one small environment among 1,000
# environments' schemas (BENCH_BACKUP_ENVS) against the same backup alone.
# What each figure includes is in tests/bench/backup.py's header.
#
# Run by tests/bench/run.sh (see its header for the variables), or alone:
#   PRESSCTL=$PWD/bin/pressctl tests/bench/bench-backup.sh
# small:  BENCH_BACKUP_MB=64 BENCH_BACKUP_ENVS=50 BENCH_RUNS=3 tests/bench/bench-backup.sh
#
# Starts its own private PostgreSQL, s3rver and dockerd (scripts/services.sh,
# on free ports, fsync off) in a temporary directory, runs backup.py, and
# destroys the services at the end, also on failure or interrupt. No
# container is created (every environment has `replicas: 0`). Timing never
# fails the benchmark; a failing command does (exit 1). At the default
# sizes it takes about 10 minutes on 2 cores (1 to fill the schema, 4.5 of
# backups, 4 of restores, 1 for the 1,000 environments).
#
# Environment (besides run.sh's): BENCH_BACKUP_MB (size of the big schema
# in MiB, default 1024), BENCH_BACKUP_ENVS (environments around the small
# one, default 1000), BENCH_BACKUP_RUNS (runs of the big measurements,
# default the smaller of 3 and BENCH_RUNS), BENCH_KEEP=1 keeps the
# services' directory (stopped) and the generated configs. It needs about
# 3 x BENCH_BACKUP_MB of free disk under /tmp and BENCH_TMP.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BENCH_RM_WORK=1
bench=backup
# shellcheck source=lib.sh
. "$here/lib.sh"

bench_start
bench_ready

record=${BENCH_RECORD:-$work/results.tsv}
mkdir -p "$work"
PRESSCTL=$PRESSCTL "$PYTHON" "$here/backup.py" \
	--pg-port "$pg_port" --s3-port "$s3_port" --docker-sock "$svc/docker.sock" \
	--master-key "$svc/master.key" --work "$work" --runs "$BENCH_RUNS" \
	--record "$record" --mb "${BENCH_BACKUP_MB:-1024}" \
	--envs "${BENCH_BACKUP_ENVS:-1000}" \
	${BENCH_BACKUP_RUNS:+--big-runs "$BENCH_BACKUP_RUNS"}
echo "bench-backup: done in $(( $(date +%s) - t0 )) s"
