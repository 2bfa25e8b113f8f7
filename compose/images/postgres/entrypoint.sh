#!/bin/sh
# First start: initdb with the password of POSTGRES_PASSWORD_FILE (a
# compose secret), then the database POSTGRES_DB. Every start: postgres as
# user postgres, listening on every address of the container.
set -eu
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-press}
bin=/usr/lib/postgresql/15/bin
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	[ -r "${POSTGRES_PASSWORD_FILE:-}" ] || {
		echo "press-postgres: POSTGRES_PASSWORD_FILE must name a readable file (a compose secret)" >&2
		exit 1
	}
	pw=$(mktemp)
	tr -d '\n' <"$POSTGRES_PASSWORD_FILE" >"$pw"
	chown postgres "$pw"
	runuser -u postgres -- "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$pw" \
		-A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
	rm -f "$pw"
	printf 'local all all scram-sha-256\nhost all all all scram-sha-256\n' >"$PGDATA/pg_hba.conf"
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	runuser -u postgres -- "$bin/postgres" --single -D "$PGDATA" -j postgres \
		<<-SQL >/dev/null  # --single must come first
	CREATE DATABASE "$db";
	SQL
fi
# setpriv execs postgres as PID 1 (runuser would stay in between).
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA"
