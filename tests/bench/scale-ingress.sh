#!/bin/sh
# Scale check of the ingress without host ports (docs/design.md §9): N
# environments (SCALE_ENVS, default 1000) behind Caddy, on a platform
# whose port range holds 4 ports, converge and every host answers from
# its own environment (tests/bench/scale_ingress.py). `make scale` runs it;
# it is not part of `make test` or `make bench` (1,000 containers take
# about 20 minutes to start here).
#
#   PRESSCTL=$PWD/bin/pressctl SCALE_ENVS=200 tests/bench/scale-ingress.sh
#
# Starts its own private PostgreSQL, s3rver, dockerd and Caddy
# (scripts/services.sh, on free ports) in a temporary directory, builds the
# test image, and destroys everything at the end, also on failure or
# interrupt (BENCH_KEEP=1 keeps it, stopped). SCALE_PARALLEL sets apply's
# --parallel (default 8).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bench=scale-ingress
# shellcheck source=lib.sh
. "$here/lib.sh"
# The containers and the network go before the engine: a bridge outlives
# its engine, and its route would shadow a later network's.
scale_cleanup() {
	status=$?
	bench_remove scale scale
	set +e # (exit) must not end the shell before cleanup
	(exit $status)
	cleanup
}
trap scale_cleanup EXIT
PRESS_CADDY_ADMIN_PORT=$(free_port)
PRESS_CADDY_HTTP_PORT=$(free_port)
export PRESS_CADDY_ADMIN_PORT PRESS_CADDY_HTTP_PORT
bench_start
DOCKER_CONFIG=$svc/docker-config "$top/scripts/test-image.sh" "$svc/docker.sock" \
	local/press-test-app:1 </dev/null
bench_ready
mkdir -p "$work"
PRESSCTL=$PRESSCTL "$PYTHON" "$here/scale_ingress.py" \
	--pg-port "$pg_port" --s3-port "$s3_port" --docker-sock "$svc/docker.sock" \
	--master-key "$svc/master.key" --work "$work" --svc "$svc" \
	--caddy-admin "http://127.0.0.1:$PRESS_CADDY_ADMIN_PORT" \
	--http "$PRESS_CADDY_HTTP_PORT" --envs "${SCALE_ENVS:-1000}" \
	--parallel "${SCALE_PARALLEL:-8}"
