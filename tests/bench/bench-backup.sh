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
PRESSCTL=${PRESSCTL:-$top/bin/pressctl}
BENCH_RUNS=${BENCH_RUNS:-5}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
if [ ! -x "$PRESSCTL" ]; then
	echo "bench-backup: no pressctl binary at '$PRESSCTL': run 'make' first, or set PRESSCTL" >&2
	exit 1
fi

# Not under a 0700 directory: PostgreSQL runs as user postgres and must
# reach its data directory.
svc=$(mktemp -d /tmp/press-bench-svc.XXXXXX)
chmod 755 "$svc"
own_tmp=""
if [ -z "${BENCH_TMP:-}" ]; then
	BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/press-bench-backup.XXXXXX")
	own_tmp=$BENCH_TMP
fi
work=$BENCH_TMP/backup

cleanup() {
	status=$?
	trap - EXIT INT TERM
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		"$top/scripts/services.sh" stop "$svc" >/dev/null 2>&1 || true
		echo "bench-backup: kept $svc (services stopped) and $work"
	else
		"$top/scripts/services.sh" destroy "$svc" >/dev/null 2>&1 ||
			"$top/scripts/services.sh" stop "$svc" >/dev/null 2>&1 || true
		rm -rf "$svc" "$work"
		[ -z "$own_tmp" ] || rm -rf "$own_tmp"
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pg_port=$(free_port)
s3_port=$(free_port)
while [ "$s3_port" = "$pg_port" ]; do s3_port=$(free_port); done

t0=$(date +%s)
PRESS_PG_PORT=$pg_port PRESS_S3_PORT=$s3_port PRESS_DOCKER_SOCK=$svc/docker.sock \
	PRESS_DOCKER_PRIVATE=1 PRESS_PG_FSYNC=off \
	"$top/scripts/services.sh" start "$svc" </dev/null
"$top/scripts/services.sh" master-key "$svc/master.key" 2>/dev/null
echo "bench-backup: services up in $(( $(date +%s) - t0 )) s ($(nproc 2>/dev/null || echo '?') cores)"

record=${BENCH_RECORD:-$work/results.tsv}
mkdir -p "$work"
PRESSCTL=$PRESSCTL "$PYTHON" "$here/backup.py" \
	--pg-port "$pg_port" --s3-port "$s3_port" --docker-sock "$svc/docker.sock" \
	--master-key "$svc/master.key" --work "$work" --runs "$BENCH_RUNS" \
	--record "$record" --mb "${BENCH_BACKUP_MB:-1024}" \
	--envs "${BENCH_BACKUP_ENVS:-1000}" \
	${BENCH_BACKUP_RUNS:+--big-runs "$BENCH_BACKUP_RUNS"}
echo "bench-backup: done in $(( $(date +%s) - t0 )) s"
