#!/bin/sh
# Converge benchmarks against live backends (docs/design.md §9): apply of 100 new
# environments, the no-op plan of those environments with their containers
# running against the backends' floor (Docker's filtered container list,
# the S3 bucket list and a catalog query, timed in turns with it; floor.py)
# with pressctl's peak RSS and one `plan --timings` breakdown,
# plan of 1,000 environments with nothing to do, how the
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
# 1000,2000,5000), BENCH_APPLY_ENVS (default 100: the environments applied,
# and so the containers running in the no-op plan against the floor; the
# issue's figure is 1,000, which takes a long time to apply), BENCH_TF_BUCKETS (buckets
# of the Terraform anchor, default the first converge size; 0 skips it;
# another count is added to the plan sizes so that pressctl is measured at
# it too), BENCH_PRESSCTL_BASE (another pressctl binary, e.g. a build of
# the main branch, whose no-op plan of the same running containers is
# measured in turns with this one's: before and after in one run), TERRAFORM (default: terraform on PATH), BENCH_TF_PLUGINS (the
# provider mirror; default: Terraform's implied mirror directories, then
# /opt/tf-plugins), BENCH_KEEP=1 keeps the services' directory (stopped) and
# the generated configs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bench=converge
# shellcheck source=lib.sh
. "$here/lib.sh"

# The containers and networks go before the engine (lib.sh, bench_remove).
converge_cleanup() {
	status=$?
	bench_remove bench-apply ba
	bench_remove bench-plan bp
	set +e # (exit) must not end the shell before cleanup
	(exit $status)
	cleanup
}
trap converge_cleanup EXIT
bench_start
DOCKER_CONFIG=$svc/docker-config "$top/scripts/test-image.sh" "$svc/docker.sock" \
	local/press-test-app:1 </dev/null
bench_ready

record=${BENCH_RECORD:-$work/results.tsv}
mkdir -p "$work"
PRESSCTL=$PRESSCTL "$PYTHON" "$here/converge.py" \
	--pg-port "$pg_port" --s3-port "$s3_port" --docker-sock "$svc/docker.sock" \
	--master-key "$svc/master.key" --work "$work" --runs "$BENCH_RUNS" \
	--record "$record" --apply-envs "${BENCH_APPLY_ENVS:-100}" \
	--sizes "${BENCH_CONVERGE_SIZES:-1000,2000,5000}" \
	${BENCH_TF_BUCKETS:+--tf-buckets "$BENCH_TF_BUCKETS"} \
	${BENCH_PRESSCTL_BASE:+--base-pressctl "$BENCH_PRESSCTL_BASE"}
