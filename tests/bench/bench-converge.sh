#!/bin/sh
# Converge benchmarks against live backends (docs/design.md §9): apply of 100 new
# environments, plan of 1,000 environments with nothing to do, how the
# plan scales (2,000 and 5,000 environments, extrapolated to 10,000), and
# an anchor measured in the same run: Terraform's no-op plan of the same
# 1,000 buckets on the same s3rver, with the ratio of the two medians
# (tests/bench/tfanchor.py; skipped, saying why, without terraform or its
# hashicorp/aws provider in a local mirror).
#
# Run by tests/bench/run.sh (see its header for the variables), or alone:
#   PRESSCTL=$PWD/bin/pressctl tests/bench/bench-converge.sh
#
# Starts its own private PostgreSQL, s3rver and dockerd (scripts/services.sh,
# on free ports, fsync off) in a temporary directory, builds the test image
# (scripts/test-image.sh), runs converge.py, and destroys the services at
# the end, also on failure or interrupt. Timing never fails the benchmark;
# a failing command does (exit 1).
#
# Environment (besides run.sh's): BENCH_CONVERGE_SIZES (default
# 1000,2000,5000), BENCH_APPLY_ENVS (default 100), BENCH_TF_BUCKETS (buckets
# of the Terraform anchor, default the first converge size; 0 skips it;
# another count is added to the plan sizes so that pressctl is measured at
# it too), TERRAFORM (default: terraform on PATH), BENCH_TF_PLUGINS (the
# provider mirror; default: Terraform's implied mirror directories, then
# /opt/tf-plugins), BENCH_KEEP=1 keeps the services' directory (stopped) and
# the generated configs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PRESSCTL=${PRESSCTL:-$top/bin/pressctl}
BENCH_RUNS=${BENCH_RUNS:-5}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
if [ ! -x "$PRESSCTL" ]; then
	echo "bench-converge: no pressctl binary at '$PRESSCTL': run 'make' first, or set PRESSCTL" >&2
	exit 1
fi

# Not under a 0700 directory: PostgreSQL runs as user postgres and must
# reach its data directory.
svc=$(mktemp -d /tmp/press-bench-svc.XXXXXX)
chmod 755 "$svc"
own_tmp=""
if [ -z "${BENCH_TMP:-}" ]; then
	BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/press-bench-converge.XXXXXX")
	own_tmp=$BENCH_TMP
fi
work=$BENCH_TMP/converge

cleanup() {
	status=$?
	trap - EXIT INT TERM
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		"$top/scripts/services.sh" stop "$svc" >/dev/null 2>&1 || true
		echo "bench-converge: kept $svc (services stopped) and $work"
	else
		"$top/scripts/services.sh" destroy "$svc" >/dev/null 2>&1 ||
			"$top/scripts/services.sh" stop "$svc" >/dev/null 2>&1 || true
		rm -rf "$svc"
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
DOCKER_CONFIG=$svc/docker-config "$top/scripts/test-image.sh" "$svc/docker.sock" \
	local/press-test-app:1 </dev/null
"$top/scripts/services.sh" master-key "$svc/master.key" 2>/dev/null
echo "bench-converge: services up in $(( $(date +%s) - t0 )) s ($(nproc 2>/dev/null || echo '?') cores)"

record=${BENCH_RECORD:-$work/results.tsv}
mkdir -p "$work"
PRESSCTL=$PRESSCTL "$PYTHON" "$here/converge.py" \
	--pg-port "$pg_port" --s3-port "$s3_port" --docker-sock "$svc/docker.sock" \
	--master-key "$svc/master.key" --work "$work" --runs "$BENCH_RUNS" \
	--record "$record" --apply-envs "${BENCH_APPLY_ENVS:-100}" \
	--sizes "${BENCH_CONVERGE_SIZES:-1000,2000,5000}" \
	${BENCH_TF_BUCKETS:+--tf-buckets "$BENCH_TF_BUCKETS"}
