# shellcheck shell=sh disable=SC2154
# Sourced by the bench-*.sh scripts, with `here`, `top` and `bench` (NAME)
# set: the variables, the binary check, a temporary directory, and private
# services started on free ports (scripts/services.sh, fsync off) that are
# destroyed at exit, also on failure or interrupt (BENCH_KEEP=1: stopped
# and kept). Sets PRESSCTL, BENCH_RUNS, PYTHON, svc (the services'
# directory), work ($BENCH_TMP/NAME), pg_port, s3_port and t0.
# bench_start starts the services; bench_ready writes the master key and
# says how long it took. BENCH_RM_WORK=1 deletes $work at exit as well.

PRESSCTL=${PRESSCTL:-$top/bin/pressctl}
BENCH_RUNS=${BENCH_RUNS:-5}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
if [ ! -x "$PRESSCTL" ]; then
	echo "bench-$bench: no pressctl binary at '$PRESSCTL': run 'make' first, or set PRESSCTL" >&2
	exit 1
fi

# Not under a 0700 directory: PostgreSQL runs as user postgres and must
# reach its data directory.
svc=$(mktemp -d /tmp/press-bench-svc.XXXXXX)
chmod 755 "$svc"
own_tmp=""
if [ -z "${BENCH_TMP:-}" ]; then
	BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/press-bench-$bench.XXXXXX")
	own_tmp=$BENCH_TMP
fi
work=$BENCH_TMP/$bench

cleanup() {
	status=$?
	trap - EXIT INT TERM
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		"$top/scripts/services.sh" stop "$svc" >/dev/null 2>&1 || true
		echo "bench-$bench: kept $svc (services stopped) and $work"
	else
		"$top/scripts/services.sh" destroy "$svc" >/dev/null 2>&1 ||
			"$top/scripts/services.sh" stop "$svc" >/dev/null 2>&1 || true
		rm -rf "$svc"
		[ "${BENCH_RM_WORK:-0}" != 1 ] || rm -rf "$work"
		[ -z "$own_tmp" ] || rm -rf "$own_tmp"
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bench_remove PLATFORM NETWORK...: remove the platform's containers and
# the networks before the engine stops: a bridge outlives its engine, and
# its route would shadow a later network's. Best effort.
bench_remove() {
	[ -S "$svc/docker.sock" ] || return 0
	platform=$1
	shift
	ids=$(docker -H "unix://$svc/docker.sock" ps -aq --filter "label=press.platform=$platform" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || docker -H "unix://$svc/docker.sock" rm -f $ids >/dev/null 2>&1 || true
	for net in "$@"; do
		docker -H "unix://$svc/docker.sock" network rm "$net" >/dev/null 2>&1 || true
	done
}

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pg_port=$(free_port)
s3_port=$(free_port)
while [ "$s3_port" = "$pg_port" ]; do s3_port=$(free_port); done

bench_start() {
	t0=$(date +%s)
	PRESS_PG_PORT=$pg_port PRESS_S3_PORT=$s3_port PRESS_DOCKER_SOCK=$svc/docker.sock \
		PRESS_DOCKER_PRIVATE=1 PRESS_PG_FSYNC=off \
		"$top/scripts/services.sh" start "$svc" </dev/null
}

bench_ready() {
	"$top/scripts/services.sh" master-key "$svc/master.key" 2>/dev/null
	echo "bench-$bench: services up in $(( $(date +%s) - t0 )) s ($(nproc 2>/dev/null || echo '?') cores)"
}
