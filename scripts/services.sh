#!/bin/bash
# Private local services for the demo and the integration tests: a
# PostgreSQL 15 cluster, an S3 server (s3rver), a Docker engine and the
# ingress (Caddy), all under one directory, none of them system-wide.
#
#   scripts/services.sh start  [DIR]   start what is not running (idempotent)
#   scripts/services.sh stop   [DIR]   stop all four (safe to repeat)
#   scripts/services.sh status [DIR]   one line per service; exit 0 if all run
#   scripts/services.sh env    [DIR]   `export` lines for the shell (eval)
#   scripts/services.sh destroy DIR    remove every container and network of
#                                      the private engine, stop all four,
#                                      delete DIR (throwaway test dirs)
#   scripts/services.sh master-key [FILE]
#                                      create a random master key (0600) if
#                                      missing; default .press/master.key
#
# DIR defaults to .press/services (git-ignored). Ports and the Docker socket
# come from the environment at `start` and are recorded in DIR/services.env,
# which `env`, `status` and `stop` read:
#   PRESS_PG_PORT      PostgreSQL port on 127.0.0.1      (default 48589)
#   PRESS_S3_PORT      s3rver port on 127.0.0.1          (default 48590)
#   PRESS_DOCKER_SOCK  Docker engine socket (default /tmp/pressctl-demo/docker.sock
#                      for the default DIR, DIR/docker.sock otherwise)
#   PRESS_CADDY_ADMIN_PORT  Caddy's admin API on 127.0.0.1  (default 48599)
#   PRESS_CADDY_HTTP_PORT   the port pressctl's routes are served on, on
#                      every address (default 48580); Caddy listens there
#                      once pressctl has made its first route
#   PRESS_DOCKER_PRIVATE=1  always start a private engine, even when one
#                      already answers at PRESS_DOCKER_SOCK (tests)
#   PRESS_PG_FSYNC=off  run PostgreSQL without fsync (tests: faster)
#   PRESS_SERVICES_TIMEOUT  seconds to wait for each service (default 60)
# These defaults match manifests/platform.yaml. Logs are in DIR/logs/.
#
# PostgreSQL: superuser `postgres`, trusted on the unix socket and, for the
# user postgres only, on 127.0.0.1; every other role logs in over TCP with
# its password (scram-sha-256), so a derived password is really checked.
# Database `press` is created. s3rver's keys are S3RVER/S3RVER.
#
# Caddy (Debian's caddy) runs as a plain process, `caddy run` with a
# configuration that only opens its admin API; pressctl adds its server
# and routes through that API (docs/drivers.md, "Caddy"). Its HOME and
# XDG directories are private (DIR/caddy), so it reads and writes nothing
# of the user's. A restart starts from that configuration again: the
# next `pressctl apply` puts the routes back.
#
# Docker: the engine runs with its own socket, data-root, exec-root and
# pidfile, without a default bridge (--bridge=none) and without touching
# iptables (--iptables=false), so that it never collides with another
# engine on the same machine. Containers must join a user-defined network;
# published ports are served by docker-proxy. Networks get /24 subnets, not
# Docker's default /16s, of which a machine has only 16+16.
#
# A bridge interface outlives its engine: a data-root deleted with networks
# still in it leaks their bridges (and subnets) until reboot. So a
# throwaway DIR is removed with `destroy`, which deletes the networks first.
set -euo pipefail

# dockerd and runuser live in sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
REPO=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
DEFAULT_DIR=$REPO/.press/services
TIMEOUT=${PRESS_SERVICES_TIMEOUT:-60}

die() {
	echo "services: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

# --- setup -----------------------------------------------------------------

cmd=${1:-}
[ -n "$cmd" ] || usage
shift

if [ "$cmd" = master-key ]; then
	key=${1:-$REPO/.press/master.key}
	if [ -s "$key" ]; then
		exit 0
	fi
	mkdir -p "$(dirname "$key")"
	tmp=$(mktemp "$key.XXXXXX")
	chmod 600 "$tmp"
	head -c 32 /dev/urandom | base64 >"$tmp"
	# A concurrent creator may have won: keep its key.
	if ! ln "$tmp" "$key" 2>/dev/null; then
		[ -s "$key" ] || { rm -f "$tmp"; die "cannot create $key"; }
	fi
	rm -f "$tmp"
	echo "services: created master key $key" >&2
	exit 0
fi

case $cmd in
start|stop|status|env) ;;
destroy) [ -n "${1:-}" ] || die "destroy needs an explicit DIR" ;;
*) usage ;;
esac

DIR=${1:-$DEFAULT_DIR}
if [ -d "$DIR" ]; then
	DIR=$(cd "$DIR" && pwd)
elif [ "$cmd" = start ]; then
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
else
	case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
fi
CONF=$DIR/services.env
LOGS=$DIR/logs
PGDATA=$DIR/pg
PGRUN=$DIR/pg-run
S3DATA=$DIR/s3
S3PID=$DIR/s3rver.pid
DKDIR=$DIR/docker
DKPID=$DKDIR/docker.pid
CADDYDIR=$DIR/caddy
CADDYPID=$CADDYDIR/caddy.pid

# Recorded settings of a previous start, then the environment, then defaults.
rec_pg_port="" rec_s3_port="" rec_docker_sock="" rec_docker_own=""
rec_caddy_admin="" rec_caddy_http=""
if [ -f "$CONF" ]; then
	while IFS='=' read -r k v; do
		case $k in
		PG_PORT) rec_pg_port=$v ;;
		S3_PORT) rec_s3_port=$v ;;
		CADDY_ADMIN_PORT) rec_caddy_admin=$v ;;
		CADDY_HTTP_PORT) rec_caddy_http=$v ;;
		DOCKER_SOCK) rec_docker_sock=$v ;;
		DOCKER_OWN) rec_docker_own=$v ;;
		esac
	done <"$CONF"
fi
if [ "$DIR" = "$DEFAULT_DIR" ]; then
	default_sock=/tmp/pressctl-demo/docker.sock
else
	default_sock=$DIR/docker.sock
fi
PG_PORT=${PRESS_PG_PORT:-${rec_pg_port:-48589}}
S3_PORT=${PRESS_S3_PORT:-${rec_s3_port:-48590}}
CADDY_ADMIN_PORT=${PRESS_CADDY_ADMIN_PORT:-${rec_caddy_admin:-48599}}
CADDY_HTTP_PORT=${PRESS_CADDY_HTTP_PORT:-${rec_caddy_http:-48580}}
DOCKER_SOCK=${PRESS_DOCKER_SOCK:-${rec_docker_sock:-$default_sock}}
DOCKER_OWN=${rec_docker_own:-1}
DK_LAUNCHED=""

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"

# Run a PostgreSQL tool as the cluster's owner: initdb and pg_ctl refuse
# root, so root runs them as user postgres.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Is this pid a live process (any owner; a zombie is not alive)?
alive() {
	local st
	[ -n "${1:-}" ] || return 1
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in Z*|"") return 1 ;; esac
}
pidof_file() { if [ -s "$1" ]; then tr -dc 0-9 <"$1"; fi; }

# The last lines of a log, for an error message.
tail_log() {
	if [ -s "$1" ]; then
		echo "--- last lines of $1:" >&2
		tail -n 25 "$1" >&2
		echo "---" >&2
	else
		echo "(log $1 is empty or missing)" >&2
	fi
}

fail_service() { # NAME LOG MESSAGE
	echo "services: $1: $3" >&2
	tail_log "$2"
	echo "services: the others may still run: '$0 stop $DIR' stops them" >&2
	exit 1
}

# --- PostgreSQL ------------------------------------------------------------

pg_pid() { if [ -f "$PGDATA/postmaster.pid" ]; then head -n 1 "$PGDATA/postmaster.pid"; fi; }
pg_running() { alive "$(pg_pid)" 2>/dev/null && "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

# Before anything starts: the cluster's directories, owned by its user.
pg_prepare() {
	local log=$LOGS/postgres.log
	[ -x "$PGBIN/postgres" ] || die "postgres: $PGBIN/postgres is missing; run scripts/deps.sh"
	mkdir -p "$PGDATA" "$PGRUN"
	touch "$log"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "postgres: no user postgres; run scripts/deps.sh"
		chown postgres:postgres "$PGDATA" "$PGRUN" "$log"
		runuser -u postgres -- test -x "$PGDATA" ||
			die "postgres: user postgres cannot enter $PGDATA; use a DIR whose parents are world-searchable (not a 0700 temp dir)"
	fi
	chmod 700 "$PGDATA"
}

pg_start() {
	local log=$LOGS/postgres.log
	if pg_running; then
		pg_ensure_db
		return 0
	fi
	if [ ! -f "$PGDATA/PG_VERSION" ]; then
		if ! as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
			--locale=C.UTF-8 -N >"$LOGS/initdb.log" 2>&1; then
			fail_service postgres "$LOGS/initdb.log" "initdb of $PGDATA failed"
		fi
		cat >"$PGDATA/pg_hba.conf" <<-'EOF'
		# scripts/services.sh: trust the superuser locally; every other
		# role must present its password.
		local all all                 trust
		host  all postgres 127.0.0.1/32 trust
		host  all all      127.0.0.1/32 scram-sha-256
		EOF
		[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$PGDATA/pg_hba.conf"
	fi
	# A cluster that died leaves a postmaster.pid: postgres itself handles it.
	local opts="-p $PG_PORT -k $PGRUN -c listen_addresses=127.0.0.1 -c max_connections=200"
	if [ "${PRESS_PG_FSYNC:-on}" = off ]; then
		opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$log" -o "$opts" -w -t "$TIMEOUT" \
		start >"$LOGS/pg_ctl.log" 2>&1 </dev/null; then
		cat "$LOGS/pg_ctl.log" >&2
		fail_service postgres "$log" "did not start on 127.0.0.1:$PG_PORT (waited at most ${TIMEOUT}s)"
	fi
	pg_ensure_db
}

pg_ensure_db() {
	local log=$LOGS/postgres.log have i
	for ((i = 0; i < TIMEOUT * 5; i++)); do
		"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
		sleep 0.2
	done
	have=$("$PGBIN/psql" -X -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
		-c "SELECT 1 FROM pg_database WHERE datname = 'press'" 2>>"$log") ||
		fail_service postgres "$log" "not answering queries on 127.0.0.1:$PG_PORT"
	if [ "$have" != 1 ]; then
		"$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
			-c "CREATE DATABASE press" >>"$log" 2>&1 ||
			fail_service postgres "$log" "cannot create database press"
	fi
}

pg_stop() {
	[ -f "$PGDATA/PG_VERSION" ] || return 0
	alive "$(pg_pid)" || return 0
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t "$TIMEOUT" stop \
		>>"$LOGS/pg_ctl.log" 2>&1 </dev/null ||
		fail_service postgres "$LOGS/postgres.log" "pg_ctl stop failed"
}

# wait_service NAME PIDFILE ANSWERS LOG STARTED TIMEOUT: until the process
# of PIDFILE lives and the function ANSWERS succeeds; fails with LOG's tail
# and STARTED (it exited) or TIMEOUT (no answer in time).
wait_service() {
	local name=$1 pidfile=$2 answers=$3 log=$4 i pid
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		pid=$(pidof_file "$pidfile")
		if "$answers" && alive "$pid"; then
			return 0
		fi
		if [ "$i" -gt 10 ] && [ -n "$pid" ] && ! alive "$pid"; then
			fail_service "$name" "$log" "$5"
		fi
		sleep 0.1
	done
	fail_service "$name" "$log" "$6"
}

# stop_pidfile PIDFILE: TERM, up to 10 s, then KILL; the file goes.
stop_pidfile() {
	local pid i
	pid=$(pidof_file "$1")
	if alive "$pid"; then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$1"
}

# --- s3rver ----------------------------------------------------------------

s3_answers() {
	local code
	code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" 2>/dev/null) || true
	[ -n "$code" ] && [ "$code" != 000 ]
}
s3_running() { alive "$(pidof_file "$S3PID")" && s3_answers; }

# Launch only; s3_wait checks readiness.
s3_launch() {
	local log=$LOGS/s3rver.log bin
	if s3_running; then
		return 0
	fi
	s3_stop
	bin=$("$REPO/scripts/s3rver.sh") || die "s3rver: installation failed (see above)"
	mkdir -p "$S3DATA"
	: >"$log"
	# setsid: the server outlives this script and make's process group.
	# s3rver signs its list continuation tokens with DES, which Node's
	# OpenSSL 3 only has in the legacy provider: without it every listing
	# past 1,000 objects answers 500.
	# shellcheck disable=SC2016
	NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider" \
	setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$S3PID" \
		node "$bin" -d "$S3DATA" -a 127.0.0.1 -p "$S3_PORT" \
		</dev/null >>"$log" 2>&1 &
}

s3_wait() {
	wait_service s3rver "$S3PID" s3_answers "$LOGS/s3rver.log" \
		"exited during startup on 127.0.0.1:$S3_PORT" \
		"not answering on http://127.0.0.1:$S3_PORT within ${TIMEOUT}s"
}

s3_stop() { stop_pidfile "$S3PID"; }

# --- caddy (the ingress) -----------------------------------------------------

caddy_answers() {
	[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' \
		"http://127.0.0.1:$CADDY_ADMIN_PORT/config/" 2>/dev/null)" = 200 ]
}
caddy_running() { alive "$(pidof_file "$CADDYPID")" && caddy_answers; }

# Launch only; caddy_wait checks readiness.
caddy_launch() {
	local log=$LOGS/caddy.log
	if caddy_running; then
		return 0
	fi
	caddy_stop
	command -v caddy >/dev/null 2>&1 || die "caddy: caddy is missing; run scripts/deps.sh"
	mkdir -p "$CADDYDIR/home" "$CADDYDIR/data" "$CADDYDIR/config"
	printf '{"admin": {"listen": "127.0.0.1:%s"}}\n' "$CADDY_ADMIN_PORT" \
		>"$CADDYDIR/caddy.json"
	: >"$log"
	# shellcheck disable=SC2016
	HOME=$CADDYDIR/home XDG_DATA_HOME=$CADDYDIR/data \
	XDG_CONFIG_HOME=$CADDYDIR/config \
	setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$CADDYPID" \
		caddy run --config "$CADDYDIR/caddy.json" </dev/null >>"$log" 2>&1 &
}

caddy_wait() {
	wait_service caddy "$CADDYPID" caddy_answers "$LOGS/caddy.log" \
		"exited during startup (admin 127.0.0.1:$CADDY_ADMIN_PORT)" \
		"its admin API does not answer on http://127.0.0.1:$CADDY_ADMIN_PORT within ${TIMEOUT}s"
}

caddy_stop() { stop_pidfile "$CADDYPID"; }

# --- dockerd ---------------------------------------------------------------

docker_answers() {
	[ -S "$DOCKER_SOCK" ] &&
		[ "$(curl -s -m 2 --unix-socket "$DOCKER_SOCK" http://d/_ping 2>/dev/null)" = OK ]
}
dk_pid() { pidof_file "$DKPID"; }

# The engine's exec-root holds containerd's socket, whose path must stay
# under the 108-byte limit of a unix socket address.
dk_exec_root() {
	local e=$DKDIR/exec
	if [ ${#e} -gt 60 ]; then
		e=/tmp/press-exec-$(printf %s "$DIR" | cksum | cut -d' ' -f1)
	fi
	echo "$e"
}

dk_launch() {
	local log=$LOGS/dockerd.log group=""
	if alive "$(dk_pid)" && docker_answers; then
		DOCKER_OWN=1
		return 0
	fi
	if ! alive "$(dk_pid)" && [ "${PRESS_DOCKER_PRIVATE:-0}" != 1 ] && docker_answers; then
		# Somebody else's engine answers at the configured socket: use it.
		DOCKER_OWN=0
		return 0
	fi
	DOCKER_OWN=1
	command -v dockerd >/dev/null 2>&1 || die "docker: dockerd is missing; run scripts/deps.sh"
	[ ${#DOCKER_SOCK} -lt 100 ] || die "docker: socket path $DOCKER_SOCK is too long for a unix socket; set PRESS_DOCKER_SOCK"
	dk_stop
	mkdir -p "$DKDIR/data" "$(dirname "$DOCKER_SOCK")"
	rm -f "$DOCKER_SOCK"
	: >"$log"
	[ -z "$SUDO" ] || group="--group $(id -gn)"
	# shellcheck disable=SC2086
	setsid $SUDO dockerd --host "unix://$DOCKER_SOCK" \
		--data-root "$DKDIR/data" --exec-root "$(dk_exec_root)" \
		--pidfile "$DKPID" --bridge=none --iptables=false --ip-masq=false \
		--default-address-pool base=172.16.0.0/12,size=24 \
		--default-address-pool base=192.168.0.0/16,size=24 \
		$group </dev/null >>"$log" 2>&1 &
	DK_LAUNCHED=$!
}

dk_wait() {
	local log=$LOGS/dockerd.log i
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		docker_answers && return 0
		if [ -n "$DK_LAUNCHED" ] && ! alive "$DK_LAUNCHED"; then
			fail_service dockerd "$log" "exited during startup (socket $DOCKER_SOCK)"
		fi
		sleep 0.1
	done
	fail_service dockerd "$log" "no OK from $DOCKER_SOCK/_ping within ${TIMEOUT}s"
}

dk_stop() {
	local pid i
	pid=$(dk_pid)
	[ "$DOCKER_OWN" = 1 ] || return 0
	if alive "$pid"; then
		# SIGTERM: the engine stops its containers (their own stop signal,
		# then SIGKILL after their timeout) and containerd, then exits.
		$SUDO kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 600; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			echo "services: dockerd (pid $pid) did not stop within 60s; killing it" >&2
			$SUDO kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	$SUDO rm -f "$DKPID"
}

# --- commands --------------------------------------------------------------

write_conf() {
	local tmp=$CONF.tmp
	printf 'PG_PORT=%s\nS3_PORT=%s\nDOCKER_SOCK=%s\nDOCKER_OWN=%s\n' \
		"$PG_PORT" "$S3_PORT" "$DOCKER_SOCK" "$DOCKER_OWN" >"$tmp"
	printf 'CADDY_ADMIN_PORT=%s\nCADDY_HTTP_PORT=%s\n' \
		"$CADDY_ADMIN_PORT" "$CADDY_HTTP_PORT" >>"$tmp"
	mv "$tmp" "$CONF"
}

do_start() {
	local t0=$SECONDS
	mkdir -p "$LOGS"
	chmod 755 "$DIR" "$LOGS"
	if [ -n "$rec_pg_port" ] && [ "$rec_pg_port" != "$PG_PORT" ] &&
		alive "$(pg_pid)"; then
		die "postgres already runs on port $rec_pg_port under $DIR; run '$0 stop $DIR' first"
	fi
	if [ -n "$rec_s3_port" ] && [ "$rec_s3_port" != "$S3_PORT" ] &&
		alive "$(pidof_file "$S3PID")"; then
		die "s3rver already runs on port $rec_s3_port under $DIR; run '$0 stop $DIR' first"
	fi
	if [ -n "$rec_docker_sock" ] && [ "$rec_docker_sock" != "$DOCKER_SOCK" ] &&
		alive "$(dk_pid)"; then
		die "dockerd already runs at $rec_docker_sock under $DIR; run '$0 stop $DIR' first"
	fi
	if [ -n "$rec_caddy_admin" ] && [ "$rec_caddy_admin" != "$CADDY_ADMIN_PORT" ] &&
		alive "$(pidof_file "$CADDYPID")"; then
		die "caddy already runs with admin port $rec_caddy_admin under $DIR; run '$0 stop $DIR' first"
	fi
	pg_prepare
	# dockerd and s3rver start in the background while initdb runs.
	dk_launch
	write_conf
	s3_launch
	caddy_launch
	pg_start
	s3_wait
	caddy_wait
	dk_wait
	if [ "$DIR" = "$DEFAULT_DIR" ]; then
		"$0" master-key "$REPO/.press/master.key"
	fi
	echo "services: running under $DIR (postgres 127.0.0.1:$PG_PORT, s3rver 127.0.0.1:$S3_PORT, docker $DOCKER_SOCK$([ "$DOCKER_OWN" = 1 ] || echo ' (existing engine)'), caddy admin 127.0.0.1:$CADDY_ADMIN_PORT, ingress port $CADDY_HTTP_PORT) in $((SECONDS - t0))s" >&2
}

do_stop() {
	[ -d "$DIR" ] || return 0
	mkdir -p "$LOGS" 2>/dev/null || true
	dk_stop
	caddy_stop
	s3_stop
	pg_stop
	echo "services: stopped under $DIR" >&2
}

# Remove every container and user-defined network of our own engine (their
# bridge interfaces would outlive a deleted data-root), stop, delete DIR.
do_destroy() {
	[ -d "$DIR" ] || return 0
	[ -f "$CONF" ] || [ -f "$PGDATA/PG_VERSION" ] || [ -d "$DKDIR" ] ||
		die "$DIR does not look like a services directory; not deleting it"
	if [ "$DOCKER_OWN" = 1 ] && alive "$(dk_pid)" && docker_answers; then
		local ids
		ids=$(docker -H "unix://$DOCKER_SOCK" ps -aq 2>/dev/null || true)
		if [ -n "$ids" ]; then
			# shellcheck disable=SC2086
			docker -H "unix://$DOCKER_SOCK" rm -f -v $ids >/dev/null 2>&1 ||
				echo "services: could not remove every container of $DOCKER_SOCK" >&2
		fi
		docker -H "unix://$DOCKER_SOCK" network prune -f >/dev/null 2>&1 ||
			echo "services: could not remove the networks of $DOCKER_SOCK" >&2
	fi
	do_stop
	# What outlived the engine under DIR (a mount of a killed container
	# or engine): unmounted, deepest first, so that DIR can go.
	local m
	for m in $(findmnt -rn -o TARGET 2>/dev/null | grep -F "$DIR/" | sort -r); do
		$SUDO umount -l "$m" 2>/dev/null || true
	done
	$SUDO rm -rf "$DIR"
	local e
	e=$(dk_exec_root)
	case $e in "$DIR"/*) ;; *) $SUDO rm -rf "$e" ;; esac
	echo "services: deleted $DIR" >&2
}

do_status() {
	local ok=0
	if pg_running; then
		echo "postgres: running on 127.0.0.1:$PG_PORT (pid $(pg_pid))"
	else
		echo "postgres: stopped"; ok=1
	fi
	if s3_running; then
		echo "s3rver: running on 127.0.0.1:$S3_PORT (pid $(pidof_file "$S3PID"))"
	else
		echo "s3rver: stopped"; ok=1
	fi
	if caddy_running; then
		echo "caddy: running, admin 127.0.0.1:$CADDY_ADMIN_PORT, ingress port $CADDY_HTTP_PORT (pid $(pidof_file "$CADDYPID"))"
	else
		echo "caddy: stopped"; ok=1
	fi
	if docker_answers; then
		if [ "$DOCKER_OWN" = 1 ]; then
			echo "dockerd: running at $DOCKER_SOCK (pid $(dk_pid))"
		else
			echo "dockerd: existing engine at $DOCKER_SOCK"
		fi
	else
		echo "dockerd: stopped"; ok=1
	fi
	return $ok
}

do_env() {
	cat <<-EOF
	export PRESS_PG_DSN='postgresql://postgres@127.0.0.1:$PG_PORT/press'
	export PRESS_PG_PORT='$PG_PORT'
	export PRESS_S3_ENDPOINT='http://127.0.0.1:$S3_PORT'
	export PRESS_S3_PORT='$S3_PORT'
	export PRESS_S3_ACCESS_KEY='S3RVER'
	export PRESS_S3_SECRET_KEY='S3RVER'
	export PRESS_DOCKER_SOCK='$DOCKER_SOCK'
	export DOCKER_HOST='unix://$DOCKER_SOCK'
	export PRESS_CADDY_ADMIN='http://127.0.0.1:$CADDY_ADMIN_PORT'
	export PRESS_CADDY_HTTP_PORT='$CADDY_HTTP_PORT'
	EOF
}

case $cmd in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
env) do_env ;;
destroy) do_destroy ;;
esac
