/*
 * state.c - pressctl's own state in schema "pressctl" (docs/state.md).
 *
 * One libpq connection per struct state, guarded by a mutex; every
 * statement goes through PQexecParams (values as parameters, never
 * formatted into SQL). Times that drive decisions come from clock_now()
 * (util/clock.h) and travel as parameters, so the test clock moves the
 * whole state's clock.
 *
 * A call that finds the connection broken resets it once (and re-takes
 * the apply lock the old session held); a statement that loses the
 * connection is retried once on the new one, then fails as transient.
 */
#include "state.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../driver/pgutil.h"
#include "../util/clock.h"
#include "../util/hash.h"
#include "../util/strbuf.h"
#include "../util/num.h"

#define CONNECT_TIMEOUT_S 10
#define STATEMENT_TIMEOUT_MS 60000
#define MAX_INTENTS "1000" /* rec_intent rows returned at most */

struct state {
	pthread_mutex_t mu;
	PGconn *conn;
	char *platform, *actor;
	char *appname; /* current application_name */
	int64_t lock_key;
	int locked;
	long long *runs; /* runs begun here and not yet ended */
	size_t nruns, aruns;
};

/* --- migrations --------------------------------------------------------- */

/*
 * Versioned, append-only: never edit a released migration, add the next
 * one. Each is a list of statements run in one transaction together with
 * its row in pressctl.migrations.
 */
static const char *const migration_1[] = {
	"CREATE TABLE pressctl.resources ("
	" platform text NOT NULL,"
	" kind text NOT NULL CHECK (kind IN ('role', 'schema', 'bucket',"
	"  'container')),"
	" name text NOT NULL,"
	" env_id text,"
	" spec_hash text NOT NULL,"
	" revision text,"
	" created_at timestamptz NOT NULL,"
	" applied_at timestamptz NOT NULL,"
	" PRIMARY KEY (platform, kind, name))",

	"CREATE TABLE pressctl.runs ("
	" id bigserial PRIMARY KEY,"
	" platform text NOT NULL,"
	" revision text,"
	" actor text NOT NULL,"
	" command text NOT NULL,"
	" status text NOT NULL CHECK (status IN ('running', 'ok', 'failed',"
	"  'refused', 'interrupted')),"
	" started_at timestamptz NOT NULL,"
	" finished_at timestamptz,"
	" summary jsonb,"
	" pid integer,"
	" backend_start timestamptz)",
	"CREATE INDEX runs_platform_status ON pressctl.runs (platform, status)",

	"CREATE TABLE pressctl.journal ("
	" id bigserial PRIMARY KEY,"
	" run_id bigint NOT NULL REFERENCES pressctl.runs (id)"
	"  ON DELETE CASCADE,"
	" platform text NOT NULL,"
	" revision text,"
	" action text NOT NULL,"
	" kind text NOT NULL,"
	" target text NOT NULL,"
	" env_id text,"
	" spec_hash text,"
	" state text NOT NULL DEFAULT 'intent' CHECK (state IN ('intent',"
	"  'done', 'failed', 'skipped')),"
	" error text,"
	" attempts integer NOT NULL DEFAULT 0,"
	" started_at timestamptz NOT NULL,"
	" finished_at timestamptz,"
	" actor text NOT NULL)",
	"CREATE INDEX journal_run ON pressctl.journal (run_id)",
	"CREATE INDEX journal_platform_started ON pressctl.journal"
	" (platform, started_at)",
	"CREATE INDEX journal_intents ON pressctl.journal (platform, run_id)"
	" WHERE state = 'intent'",

	"CREATE TABLE pressctl.allocations ("
	" platform text NOT NULL,"
	" port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" owner text NOT NULL,"
	" slot smallint NOT NULL CHECK (slot IN (0, 1)),"
	" env_id text,"
	" allocated_at timestamptz NOT NULL,"
	" PRIMARY KEY (platform, port),"
	" UNIQUE (platform, owner, slot))",

	"CREATE TABLE pressctl.deletions ("
	" platform text NOT NULL,"
	" env_id text NOT NULL,"
	" schema_name text,"
	" role_name text,"
	" bucket text,"
	" deleted_at timestamptz NOT NULL,"
	" purge_after timestamptz NOT NULL,"
	" PRIMARY KEY (platform, env_id))",

	"CREATE TABLE pressctl.rollouts ("
	" platform text NOT NULL,"
	" name text NOT NULL,"
	" spec_hash text NOT NULL,"
	" failures integer NOT NULL,"
	" last_error text,"
	" last_failed_at timestamptz NOT NULL,"
	" next_retry_at timestamptz NOT NULL,"
	" PRIMARY KEY (platform, name))",

	"CREATE TABLE pressctl.backups ("
	" platform text NOT NULL,"
	" id text NOT NULL,"
	" env_id text NOT NULL,"
	" created_at timestamptz NOT NULL,"
	" manifest jsonb,"
	" PRIMARY KEY (platform, id))",
	"CREATE INDEX backups_env ON pressctl.backups"
	" (platform, env_id, created_at)",

	"REVOKE ALL ON SCHEMA pressctl FROM PUBLIC",
	NULL
};

/*
 * Ownership (docs/state.md, "Ownership"): resources.marked says the
 * object carries the platform's mark (written by every create and update
 * since this version), so a bucket, whose mark costs a request to read,
 * is read only until it is marked. Other platforms' rows are looked up
 * by (kind, name). Host ports: port_holds are ports found taken by
 * something else when a container started, set aside for a while;
 * allocations are looked up by port across platforms.
 */
static const char *const migration_2[] = {
	"ALTER TABLE pressctl.resources ADD COLUMN marked boolean NOT NULL"
	" DEFAULT false",
	"CREATE INDEX resources_kind_name ON pressctl.resources (kind, name)",
	"CREATE INDEX allocations_port ON pressctl.allocations (port)",
	"CREATE TABLE pressctl.port_holds ("
	" platform text NOT NULL,"
	" port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" reason text,"
	" held_at timestamptz NOT NULL,"
	" held_until timestamptz NOT NULL,"
	" PRIMARY KEY (platform, port))",
	NULL
};

/*
 * Backups (docs/backup.md): the catalog mirrors the manifests in S3 with
 * when each was last verified and restore-tested; uploads records every
 * multipart upload a backup starts until it is completed or aborted
 * ("left" when the server could not abort it); a soft deletion names its
 * final backup; schemas a restore replaced are kept until purged.
 */
static const char *const migration_3[] = {
	"ALTER TABLE pressctl.backups ADD COLUMN verified_at timestamptz,"
	" ADD COLUMN drill_at timestamptz, ADD COLUMN bytes bigint,"
	" ADD COLUMN objects integer, ADD COLUMN reason text",
	"CREATE TABLE pressctl.uploads ("
	" platform text NOT NULL,"
	" upload_id text NOT NULL,"
	" bucket text NOT NULL,"
	" key text NOT NULL,"
	" state text NOT NULL CHECK (state IN ('open', 'left')),"
	" started_at timestamptz NOT NULL,"
	" PRIMARY KEY (platform, upload_id))",
	"ALTER TABLE pressctl.deletions ADD COLUMN final_backup text",
	"CREATE TABLE pressctl.kept_schemas ("
	" platform text NOT NULL,"
	" schema_name text NOT NULL,"
	" env_id text NOT NULL,"
	" kept_at timestamptz NOT NULL,"
	" purge_after timestamptz NOT NULL,"
	" PRIMARY KEY (platform, schema_name))",
	NULL
};

/*
 * 4: clones. An environment created as a copy of another records the
 * backup it is made from before anything is written (so a killed clone
 * resumes from the same one), with what the source looked like then (its
 * schema fingerprint and tables' rows and checksums, for the promotion
 * guards); "done" once its schema and files are in place.
 */
static const char *const migration_4[] = {
	"CREATE TABLE pressctl.clones ("
	" platform text NOT NULL,"
	" env_id text NOT NULL,"
	" source_env text NOT NULL,"
	" backup_id text NOT NULL,"
	" state text NOT NULL CHECK (state IN ('started', 'done')),"
	" source_fingerprint text,"
	" source_structure text,"
	" source_tables jsonb,"
	" started_at timestamptz NOT NULL,"
	" done_at timestamptz,"
	" PRIMARY KEY (platform, env_id))",
	NULL
};

/*
 * 5: previews. Each recorded object and each deletion says the stage of
 * its environment, so that a preview whose document is gone is still
 * known as one (it is purged at once, docs/previews.md); a deletion of
 * stage preview is the tombstone of an expired preview. NULL: recorded
 * before this version, not a preview.
 */
static const char *const migration_5[] = {
	"ALTER TABLE pressctl.resources ADD COLUMN stage text",
	"ALTER TABLE pressctl.deletions ADD COLUMN stage text", NULL
};

/*
 * 6: ingress routes (LIVE_ROUTE, docs/drivers.md "Caddy") are resources
 * like the others.
 */
static const char *const migration_6[] = {
	"ALTER TABLE pressctl.resources DROP CONSTRAINT resources_kind_check,"
	" ADD CONSTRAINT resources_kind_check CHECK (kind IN ('role',"
	" 'schema', 'bucket', 'container', 'route'))",
	NULL
};

/*
 * 7: the selfsigned certificates of Domains with `tls: selfsigned`
 * (docs/ingress.md), one per route, reused until renewed. The private
 * key is kept only sealed (tls/tls.h: AES-256-GCM under a key derived
 * from the master key), base64.
 */
static const char *const migration_7[] = {
	"CREATE TABLE pressctl.certificates ("
	" platform text NOT NULL,"
	" name text NOT NULL,"
	" env_id text,"
	" cert_pem text NOT NULL,"
	" key_sealed text NOT NULL,"
	" serial text NOT NULL,"
	" not_after timestamptz NOT NULL,"
	" made_at timestamptz NOT NULL,"
	" PRIMARY KEY (platform, name))",
	NULL,
};

/*
 * 8: the structure of each environment's schema after the applies that
 * touched it: its fingerprint, when it was first recorded with that
 * value (since) and last confirmed (recorded_at), so that a promotion
 * guard can say whether a change came through pressctl or after it.
 */
static const char *const migration_8[] = {
	"CREATE TABLE pressctl.structures ("
	" platform text NOT NULL,"
	" env_id text NOT NULL,"
	" fingerprint text NOT NULL,"
	" since timestamptz NOT NULL,"
	" recorded_at timestamptz NOT NULL,"
	" run_id bigint,"
	" PRIMARY KEY (platform, env_id))",
	NULL,
};

/*
 * 9: field-level plans (docs/man/pressctl-plan.md, OUTPUT). Each
 * recorded object keeps the spec it was last applied with, so that an
 * update shows the fields that change, old and new. Specs hold secret
 * references, never values. NULL: applied before this version.
 */
static const char *const migration_9[] = {
	"ALTER TABLE pressctl.resources ADD COLUMN spec jsonb", NULL
};

static const struct migration {
	int version;
	const char *const *stmts;
} migrations[] = {
	{ 1, migration_1 }, { 2, migration_2 }, { 3, migration_3 },
	{ 4, migration_4 }, { 5, migration_5 }, { 6, migration_6 },
	{ 7, migration_7 }, { 8, migration_8 }, { 9, migration_9 },
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(*migrations)))

/* --- helpers ------------------------------------------------------------ */

/* pg_clean_msg with up to two secrets (a password, a DSN). */
static void
clean_msg(char *buf, size_t n, const char *msg, const char *secret1,
	  const char *secret2)
{
	const char *secrets[2] = { secret1, secret2 };

	pg_clean_msg(buf, n, msg, secrets, 2);
}

/* Fill e from the failed result r (may be NULL); returns -1. */
static int
fail(struct state *st, const PGresult *r, struct err *e, const char *what)
{
	const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *primary =
		r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char msg[768];

	clean_msg(msg, sizeof(msg),
		  primary ? primary : PQerrorMessage(st->conn), NULL, NULL);
	if (pg_transient(st->conn, code, primary))
		return code ? err_transient(e, "%s: %s (%s)", what, msg, code) :
			      err_transient(e, "%s: %s", what, msg);
	return code ? err_set(e, "%s: %s (%s)", what, msg, code) :
		      err_set(e, "%s: %s", what, msg);
}

/*
 * Run sql with n text parameters. On success the result (PQclear it);
 * on failure NULL with e filled from what.
 */
static PGresult *
sql_query(struct state *st, const char *sql, int n, const char *const *params,
	  struct err *e, const char *what)
{
	PGresult *r = PQexecParams(st->conn, sql, n, NULL, params, NULL, NULL,
				   0);
	ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return r;
	fail(st, r, e, what);
	PQclear(r);
	return NULL;
}

/* The same when no rows are wanted. */
static int
sql_exec(struct state *st, const char *sql, int n, const char *const *params,
	 struct err *e, const char *what)
{
	PGresult *r = sql_query(st, sql, n, params, e, what);

	PQclear(r);
	return r ? 0 : -1;
}

static void
rollback(struct state *st)
{
	PGTransactionStatusType t = PQtransactionStatus(st->conn);

	if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
		PQclear(PQexecParams(st->conn, "ROLLBACK", 0, NULL, NULL, NULL,
				     NULL, 0));
}

/* time_t as a timestamptz parameter ("2026-11-21 23:10:04+00"). */
static void
ts(char buf[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S+00", &tm);
}

static long long
ll(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ?
		       0 :
		       strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static char *
str_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL :
					  xstrdup(PQgetvalue(r, row, col));
}

/* A signed 64-bit advisory lock key: the first 8 bytes of SHA-256(s). */
static int64_t
key_of(const char *s)
{
	char hex[SHA256_HEX_LEN + 1];
	uint64_t k = 0;

	hash_sha256_hex(hex, s, strlen(s));
	for (int i = 0; i < 16; i++) {
		char c = hex[i];

		k = (k << 4) | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return (int64_t)k;
}

static int
kind_parse(const char *s, enum live_kind *out)
{
	for (int k = 0; k < LIVE_NKINDS; k++)
		if (strcmp(s, live_kind_name((enum live_kind)k)) == 0) {
			*out = (enum live_kind)k;
			return 0;
		}
	return -1;
}

/* --- connection --------------------------------------------------------- */

static int
lock_try(struct state *st, int *got, struct err *e)
{
	char key[24];
	const char *p[1] = { key };
	PGresult *r;

	snprintf(key, sizeof(key), "%lld", (long long)st->lock_key);
	r = sql_query(st, "SELECT pg_try_advisory_lock($1::bigint)", 1, p, e,
		      "cannot take the apply lock");
	if (!r)
		return -1;
	*got = *PQgetvalue(r, 0, 0) == 't';
	PQclear(r);
	return 0;
}

/* The session of the runs begun here changed (reconnect): record it, so
 * state_close_interrupted of another process does not take them for
 * crashed. Best effort. */
static void
runs_rebind(struct state *st)
{
	struct strbuf ids;
	const char *p[1];
	struct err ignored;

	if (st->nruns == 0)
		return;
	strbuf_init(&ids, 0);
	strbuf_addch(&ids, '{');
	for (size_t i = 0; i < st->nruns; i++)
		strbuf_addf(&ids, "%s%lld", i ? "," : "", st->runs[i]);
	strbuf_addch(&ids, '}');
	p[0] = ids.buf;
	sql_exec(st,
		 "UPDATE pressctl.runs SET pid = pg_backend_pid(),"
		 " backend_start = (SELECT backend_start FROM pg_stat_activity"
		 "  WHERE pid = pg_backend_pid()) WHERE id = ANY($1::bigint[])",
		 1, p, &ignored, "");
	strbuf_release(&ids);
}

/*
 * Make sure the connection works: reset a broken one once, restore the
 * session (application name, the apply lock, the runs' session). -1
 * (transient) if it stays broken; -1 (permanent) if the lock was lost to
 * another process meanwhile.
 */
static int
ensure(struct state *st, struct err *e)
{
	const char *p[1] = { st->appname };
	char msg[768];
	int got = 0;

	if (PQstatus(st->conn) == CONNECTION_OK)
		return 0;
	PQreset(st->conn);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		clean_msg(msg, sizeof(msg), PQerrorMessage(st->conn), NULL,
			  NULL);
		return err_transient(e, "cannot connect to PostgreSQL: %s",
				     msg);
	}
	if (sql_exec(st, "SELECT set_config('application_name', $1, false)", 1,
		     p, e, "cannot set up the state connection") < 0)
		return -1;
	if (st->locked) {
		if (lock_try(st, &got, e) < 0)
			return -1;
		if (!got) {
			st->locked = 0;
			return err_set(e,
				       "lost the apply lock of platform "
				       "'%s' while reconnecting to PostgreSQL; "
				       "another pressctl may be applying: run "
				       "again",
				       st->platform);
		}
	}
	runs_rebind(st);
	return 0;
}

typedef int (*state_fn)(struct state *st, void *arg, struct err *e);

/* Run fn under the mutex on a working connection; once more on a fresh
 * connection when the first try lost it. */
static int
run(struct state *st, state_fn fn, void *arg, struct err *e)
{
	int ret = -1;

	pthread_mutex_lock(&st->mu);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (ensure(st, e) < 0) {
			ret = -1;
			break;
		}
		ret = fn(st, arg, e);
		if (ret >= 0 || PQstatus(st->conn) != CONNECTION_BAD)
			break;
	}
	pthread_mutex_unlock(&st->mu);
	return ret;
}

static int
migrate(struct state *st, struct err *e)
{
	static const char what[] = "cannot migrate the state schema pressctl";
	char key[24], version[16];
	const char *p[1];
	PGresult *r = NULL;
	int have, ret = -1;

	snprintf(key, sizeof(key), "%lld",
		 (long long)key_of("pressctl:migrate"));
	p[0] = key;
	if (sql_exec(st, "BEGIN", 0, NULL, e, what) < 0 ||
	    sql_exec(st, "SELECT pg_advisory_xact_lock($1::bigint)", 1, p, e,
		     what) < 0)
		goto out;
	if (!(r = sql_query(st,
			    "SELECT to_regclass('pressctl.migrations')"
			    " IS NOT NULL",
			    0, NULL, e, what)))
		goto out;
	have = *PQgetvalue(r, 0, 0) == 't';
	PQclear(r);
	r = NULL;
	if (!have &&
	    (sql_exec(st, "CREATE SCHEMA IF NOT EXISTS pressctl", 0, NULL, e,
		      what) < 0 ||
	     sql_exec(st,
		      "CREATE TABLE IF NOT EXISTS pressctl.migrations ("
		      " version integer PRIMARY KEY,"
		      " applied_at timestamptz NOT NULL)",
		      0, NULL, e, what) < 0))
		goto out;
	if (!(r = sql_query(st,
			    "SELECT coalesce(max(version), 0) FROM "
			    "pressctl.migrations",
			    0, NULL, e, what)))
		goto out;
	have = (int)ll(r, 0, 0);
	if (have > migrations[NMIGRATIONS - 1].version) {
		err_set(e,
			"%s: it is at version %d, newer than this pressctl "
			"knows (%d); upgrade pressctl",
			what, have, migrations[NMIGRATIONS - 1].version);
		goto out;
	}
	for (int i = 0; i < NMIGRATIONS; i++) {
		const struct migration *m = &migrations[i];

		if (m->version <= have)
			continue;
		for (const char *const *s = m->stmts; *s; s++)
			if (sql_exec(st, *s, 0, NULL, e, what) < 0) {
				err_wrap(e, "migration %d", m->version);
				goto out;
			}
		snprintf(version, sizeof(version), "%d", m->version);
		p[0] = version;
		if (sql_exec(st,
			     "INSERT INTO pressctl.migrations (version,"
			     " applied_at) VALUES ($1::integer, now())",
			     1, p, e, what) < 0)
			goto out;
	}
	ret = sql_exec(st, "COMMIT", 0, NULL, e, what);
out:
	PQclear(r);
	rollback(st);
	return ret;
}

int
state_open(struct state **out, const char *dsn, const char *platform,
	   const char *actor, struct err *e)
{
	struct state *st;
	char *lockname;

	*out = NULL;
	if (!dsn || !*dsn)
		return err_set(e, "cannot connect to PostgreSQL: no connection "
				  "string (postgres.dsn) given");
	st = xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	st->platform = xstrdup(platform);
	st->actor = xstrdup(actor ? actor : "unknown");
	st->appname = xprintf("pressctl %s", st->actor);
	lockname = xprintf("pressctl:lock:%s", platform);
	st->lock_key = key_of(lockname);
	free(lockname);
	st->conn = pg_connect(dsn, st->appname, CONNECT_TIMEOUT_S,
			      STATEMENT_TIMEOUT_MS, 0, e);
	if (!st->conn || migrate(st, e) < 0) {
		state_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

void
state_close(struct state *st)
{
	if (!st)
		return;
	PQfinish(st->conn); /* ends the session: releases the lock */
	pthread_mutex_destroy(&st->mu);
	free(st->platform);
	free(st->actor);
	free(st->appname);
	free(st->runs);
	free(st);
}

/* --- the apply lock ----------------------------------------------------- */

static const char holder_sql[] =
	"SELECT a.pid, coalesce(a.application_name, ''),"
	"       coalesce(host(a.client_addr), ''),"
	"       coalesce(to_char(a.backend_start AT TIME ZONE 'UTC',"
	"                        'YYYY-MM-DD HH24:MI:SS'), '')"
	"  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
	" WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
	"   AND l.database = (SELECT oid FROM pg_database"
	"                      WHERE datname = current_database())"
	"   AND l.classid = $1::oid AND l.objid = $2::oid"
	" LIMIT 1";

/* Say who holds the lock; 1 (busy) or -1 (error). */
static int
busy(struct state *st, struct err *e)
{
	uint64_t k = (uint64_t)st->lock_key;
	char hi[16], lo[16];
	const char *p[2] = { hi, lo };
	struct strbuf who;
	PGresult *r;

	snprintf(hi, sizeof(hi), "%lu", (unsigned long)(k >> 32));
	snprintf(lo, sizeof(lo), "%lu", (unsigned long)(k & 0xffffffffu));
	if (!(r = sql_query(st, holder_sql, 2, p, e,
			    "cannot find the holder of the apply lock")))
		return -1;
	strbuf_init(&who, 4096);
	if (PQntuples(r) == 1) {
		strbuf_addf(&who, " (pid %s", PQgetvalue(r, 0, 0));
		if (*PQgetvalue(r, 0, 1))
			strbuf_addf(&who, ", application '%s'",
				    PQgetvalue(r, 0, 1));
		if (*PQgetvalue(r, 0, 2))
			strbuf_addf(&who, ", from %s", PQgetvalue(r, 0, 2));
		if (*PQgetvalue(r, 0, 3))
			strbuf_addf(&who, ", since %s UTC",
				    PQgetvalue(r, 0, 3));
		strbuf_addch(&who, ')');
	}
	err_set(e,
		"platform '%s' is being applied by another pressctl%s; "
		"wait for it or use --wait",
		st->platform, who.buf);
	strbuf_release(&who);
	PQclear(r);
	return 1;
}

static int
do_lock(struct state *st, void *arg, struct err *e)
{
	int wait = *(int *)arg, got = 0;
	char key[24];
	const char *p[1] = { key };

	/* Held: make a round trip all the same. A server restart ends the
	 * session and its lock while an idle connection still looks fine;
	 * the failed query makes run() reconnect, and ensure() re-takes the
	 * lock or reports it lost. */
	if (st->locked)
		return sql_exec(st, "SELECT 1", 0, NULL, e,
				"cannot check the apply lock");
	if (lock_try(st, &got, e) < 0)
		return -1;
	if (!got && !wait) {
		/* The holder may have let go meanwhile: look, try again. */
		if (busy(st, e) < 0)
			return -1;
		if (lock_try(st, &got, e) < 0)
			return -1;
		if (!got)
			return 1;
	}
	if (!got) {
		snprintf(key, sizeof(key), "%lld", (long long)st->lock_key);
		if (sql_exec(st, "SET statement_timeout = 0", 0, NULL, e,
			     "cannot wait for the apply lock") < 0 ||
		    sql_exec(st, "SELECT pg_advisory_lock($1::bigint)", 1, p, e,
			     "cannot wait for the apply lock") < 0)
			return -1;
	}
	st->locked = 1;
	if (!got)
		return sql_exec(st, "RESET statement_timeout", 0, NULL, e,
				"cannot reset the statement timeout");
	return 0;
}

int
state_lock(struct state *st, int wait, struct err *e)
{
	return run(st, do_lock, &wait, e);
}

/* --- reading ------------------------------------------------------------ */

static int read_backups(struct state *st, struct rec_backup **out, size_t *nout,
			struct err *e);

static int
do_read(struct state *st, void *arg, struct err *e)
{
	static const char what[] = "cannot read the state of platform";
	struct recorded *out = arg;
	const char *p[1] = { st->platform };
	char msg[96];
	PGresult *r = NULL;
	int ret = -1, n;

	snprintf(msg, sizeof(msg), "%s '%.40s'", what, st->platform);
	recorded_release(out);
	if (sql_exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
		     NULL, e, msg) < 0)
		goto out;

	if (!(r = sql_query(st,
			    "SELECT kind, name, coalesce(env_id, ''), spec_hash,"
			    " coalesce(revision, ''),"
			    " extract(epoch FROM created_at)::bigint,"
			    " extract(epoch FROM applied_at)::bigint, marked,"
			    " stage, spec::text"
			    " FROM pressctl.resources WHERE platform = $1"
			    " ORDER BY kind COLLATE \"C\", name COLLATE \"C\"",
			    1, p, e, msg)))
		goto out;
	n = PQntuples(r);
	out->res = xcalloc((size_t)n, sizeof(*out->res));
	for (int i = 0; i < n; i++) {
		struct rec_resource *rr = &out->res[out->nres];

		if (kind_parse(PQgetvalue(r, i, 0), &rr->kind) < 0)
			continue;
		rr->name = xstrdup(PQgetvalue(r, i, 1));
		rr->env_id = str_or_null(r, i, 2);
		rr->spec_hash = xstrdup(PQgetvalue(r, i, 3));
		rr->revision = str_or_null(r, i, 4);
		rr->created_at = (time_t)ll(r, i, 5);
		rr->applied_at = (time_t)ll(r, i, 6);
		rr->marked = *PQgetvalue(r, i, 7) == 't';
		rr->stage = str_or_null(r, i, 8);
		rr->spec = str_or_null(r, i, 9);
		out->nres++;
	}
	/* The SQL order is by kind name; lookups want enum order. */
	recorded_sort(out);
	PQclear(r);

	if (!(r = sql_query(st,
			    "SELECT env_id, schema_name, role_name, bucket,"
			    " extract(epoch FROM deleted_at)::bigint,"
			    " extract(epoch FROM purge_after)::bigint,"
			    " final_backup, stage"
			    " FROM pressctl.deletions WHERE platform = $1"
			    " ORDER BY env_id COLLATE \"C\"",
			    1, p, e, msg)))
		goto out;
	n = PQntuples(r);
	out->del = xcalloc((size_t)n, sizeof(*out->del));
	for (int i = 0; i < n; i++) {
		struct rec_deletion *d = &out->del[out->ndel++];

		d->env_id = xstrdup(PQgetvalue(r, i, 0));
		d->schema = str_or_null(r, i, 1);
		d->role = str_or_null(r, i, 2);
		d->bucket = str_or_null(r, i, 3);
		d->deleted_at = (time_t)ll(r, i, 4);
		d->purge_after = (time_t)ll(r, i, 5);
		d->final_backup = str_or_null(r, i, 6);
		d->stage = str_or_null(r, i, 7);
	}
	PQclear(r);

	if (!(r = sql_query(st,
			    "SELECT name, spec_hash, last_error, failures,"
			    " extract(epoch FROM next_retry_at)::bigint"
			    " FROM pressctl.rollouts WHERE platform = $1"
			    " ORDER BY name COLLATE \"C\"",
			    1, p, e, msg)))
		goto out;
	n = PQntuples(r);
	out->rollouts = xcalloc((size_t)n, sizeof(*out->rollouts));
	for (int i = 0; i < n; i++) {
		struct rec_rollout *ro = &out->rollouts[out->nrollouts++];

		ro->name = xstrdup(PQgetvalue(r, i, 0));
		ro->spec_hash = xstrdup(PQgetvalue(r, i, 1));
		ro->error = str_or_null(r, i, 2);
		ro->failures = (int)ll(r, i, 3);
		ro->next_retry_at = (time_t)ll(r, i, 4);
	}
	PQclear(r);

	if (!(r = sql_query(
		      st,
		      "SELECT owner, slot, port FROM pressctl.allocations"
		      " WHERE platform = $1 ORDER BY owner COLLATE \"C\", slot",
		      1, p, e, msg)))
		goto out;
	n = PQntuples(r);
	out->ports = xcalloc((size_t)n, sizeof(*out->ports));
	for (int i = 0; i < n; i++) {
		struct rec_port *po = &out->ports[out->nports++];

		po->owner = xstrdup(PQgetvalue(r, i, 0));
		po->slot = (int)ll(r, i, 1);
		po->port = (int)ll(r, i, 2);
	}
	PQclear(r);

	if (!(r = sql_query(st,
			    "SELECT schema_name, env_id,"
			    " extract(epoch FROM purge_after)::bigint"
			    " FROM pressctl.kept_schemas WHERE platform = $1"
			    " ORDER BY schema_name COLLATE \"C\"",
			    1, p, e, msg)))
		goto out;
	n = PQntuples(r);
	out->kept = xcalloc((size_t)n + 1, sizeof(*out->kept));
	for (int i = 0; i < n; i++) {
		struct rec_kept *k = &out->kept[out->nkept++];

		k->schema = xstrdup(PQgetvalue(r, i, 0));
		k->env_id = xstrdup(PQgetvalue(r, i, 1));
		k->purge_after = (time_t)ll(r, i, 2);
	}
	PQclear(r);
	r = NULL; /* read_backups may fail: out clears r */

	if (read_backups(st, &out->backups, &out->nbackups, e) < 0)
		goto out;
	if (!(r = sql_query(st,
			    "SELECT env_id, source_env, backup_id,"
			    " state = 'done',"
			    " extract(epoch FROM started_at)::bigint"
			    " FROM pressctl.clones WHERE platform = $1"
			    " ORDER BY env_id COLLATE \"C\"",
			    1, p, e, msg)))
		goto out;
	n = PQntuples(r);
	out->clones = xcalloc((size_t)n + 1, sizeof(*out->clones));
	for (int i = 0; i < n; i++) {
		struct rec_clone *c = &out->clones[out->nclones++];

		c->env_id = xstrdup(PQgetvalue(r, i, 0));
		c->source_env = xstrdup(PQgetvalue(r, i, 1));
		c->backup_id = xstrdup(PQgetvalue(r, i, 2));
		c->done = strcmp(PQgetvalue(r, i, 3), "t") == 0;
		c->started_at = (time_t)ll(r, i, 4);
	}
	PQclear(r);

	/* Intents left by interrupted runs that no later run of the same
	 * command completed. */
	if (!(r = sql_query(st,
			    "SELECT j.id, j.run_id, j.action, j.target,"
			    " extract(epoch FROM j.started_at)::bigint"
			    " FROM pressctl.journal j"
			    " JOIN pressctl.runs r ON r.id = j.run_id"
			    " WHERE j.platform = $1 AND j.state = 'intent'"
			    "   AND r.status = 'interrupted'"
			    "   AND NOT EXISTS (SELECT 1 FROM pressctl.runs r2"
			    "     WHERE r2.platform = r.platform"
			    "       AND r2.command = r.command AND r2.id > r.id"
			    "       AND r2.status IN ('ok', 'failed'))"
			    " ORDER BY j.id LIMIT " MAX_INTENTS,
			    1, p, e, msg)))
		goto out;
	n = PQntuples(r);
	out->intents = xcalloc((size_t)n, sizeof(*out->intents));
	for (int i = 0; i < n; i++) {
		struct rec_intent *in = &out->intents[out->nintents++];

		in->id = ll(r, i, 0);
		in->run_id = ll(r, i, 1);
		in->action = xstrdup(PQgetvalue(r, i, 2));
		in->target = xstrdup(PQgetvalue(r, i, 3));
		in->started_at = (time_t)ll(r, i, 4);
	}
	PQclear(r);
	r = NULL;
	ret = sql_exec(st, "COMMIT", 0, NULL, e, msg);
out:
	PQclear(r);
	rollback(st);
	if (ret < 0)
		recorded_release(out);
	return ret;
}

int
state_read(struct state *st, struct recorded *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	return run(st, do_read, out, e);
}

/* --- other platforms' rows -------------------------------------------- */

struct foreign_args {
	const char *const *names[LIVE_NKINDS];
	const size_t *n;
	struct recorded *out;
};

static int
do_read_foreign(struct state *st, void *arg, struct err *e)
{
	struct foreign_args *a = arg;
	struct strbuf kinds, names;
	const char *p[3] = { st->platform, NULL, NULL };
	PGresult *r = NULL;
	int ret = -1, first = 1;

	strbuf_init(&kinds, 0);
	strbuf_init(&names, 0);
	strbuf_addch(&kinds, '{');
	strbuf_addch(&names, '{');
	for (int k = 0; k < LIVE_NKINDS; k++) {
		for (size_t i = 0; i < a->n[k]; i++) {
			strbuf_addf(&kinds, "%s%s", first ? "" : ",",
				    live_kind_name((enum live_kind)k));
			strbuf_addstr(&names, first ? "\"" : ",\"");
			for (const char *c = a->names[k][i]; *c; c++) {
				if (*c == '"' || *c == '\\')
					strbuf_addch(&names, '\\');
				strbuf_addch(&names, *c);
			}
			strbuf_addch(&names, '"');
			first = 0;
		}
	}
	strbuf_addch(&kinds, '}');
	strbuf_addch(&names, '}');
	if (kinds.overflow || names.overflow) {
		err_set(e,
			"cannot read other platforms' state: too many names");
		goto out;
	}
	p[1] = kinds.buf;
	p[2] = names.buf;
	if (!(r = sql_query(
		      st,
		      "SELECT r.kind, r.name, r.platform,"
		      "       coalesce(r.env_id, '')"
		      "  FROM unnest($2::text[], $3::text[]) AS w(kind, name)"
		      "  JOIN pressctl.resources r"
		      "    ON r.kind = w.kind AND r.name = w.name"
		      " WHERE r.platform <> $1",
		      3, p, e, "cannot read other platforms' state")))
		goto out;
	a->out->foreign = xcalloc((size_t)PQntuples(r) + 1,
				  sizeof(*a->out->foreign));
	for (int i = 0; i < PQntuples(r); i++) {
		struct rec_foreign *f = &a->out->foreign[a->out->nforeign];

		if (kind_parse(PQgetvalue(r, i, 0), &f->kind) < 0)
			continue;
		f->name = xstrdup(PQgetvalue(r, i, 1));
		f->platform = xstrdup(PQgetvalue(r, i, 2));
		f->env_id = xstrdup(PQgetvalue(r, i, 3));
		a->out->nforeign++;
	}
	recorded_sort(a->out);
	ret = 0;
out:
	PQclear(r);
	strbuf_release(&kinds);
	strbuf_release(&names);
	return ret;
}

int
state_read_foreign(struct state *st, const char *const *names[LIVE_NKINDS],
		   const size_t n[LIVE_NKINDS], struct recorded *out,
		   struct err *e)
{
	struct foreign_args a = { { NULL }, n, out };

	for (int k = 0; k < LIVE_NKINDS; k++)
		a.names[k] = names[k];

	for (size_t i = 0; i < out->nforeign; i++) {
		free(out->foreign[i].name);
		free(out->foreign[i].platform);
		free(out->foreign[i].env_id);
	}
	free(out->foreign);
	out->foreign = NULL;
	out->nforeign = 0;
	return run(st, do_read_foreign, &a, e);
}

/* --- runs --------------------------------------------------------------- */

struct run_begin_args {
	const char *revision, *command;
	long long *run_id;
};

static int
do_run_begin(struct state *st, void *arg, struct err *e)
{
	struct run_begin_args *a = arg;
	char now[32], *app;
	const char *p[5] = { st->platform, a->revision, st->actor, a->command,
			     now };
	const char *pa[1];
	PGresult *r;

	ts(now, clock_now());
	if (!(r = sql_query(
		      st,
		      "INSERT INTO pressctl.runs (platform, revision, actor,"
		      " command, status, started_at, pid, backend_start)"
		      " VALUES ($1, $2, $3, $4, 'running', $5::timestamptz,"
		      "  pg_backend_pid(), (SELECT backend_start FROM"
		      "  pg_stat_activity WHERE pid = pg_backend_pid()))"
		      " RETURNING id",
		      5, p, e, "cannot record the run")))
		return -1;
	*a->run_id = ll(r, 0, 0);
	PQclear(r);
	xgrow(&st->runs, &st->aruns, st->nruns + 1, sizeof(*st->runs));
	st->runs[st->nruns++] = *a->run_id;

	/* Name the command in pg_stat_activity: the lock holder's line. */
	app = xprintf("pressctl %s %s", a->command, st->actor);
	pa[0] = app;
	if (sql_exec(st, "SELECT set_config('application_name', $1, false)", 1,
		     pa, e, "cannot record the run") == 0) {
		free(st->appname);
		st->appname = app;
	} else {
		free(app);
	}
	return 0;
}

int
state_run_begin(struct state *st, const char *revision, const char *command,
		long long *run_id, struct err *e)
{
	struct run_begin_args a = { revision, command, run_id };

	*run_id = 0;
	return run(st, do_run_begin, &a, e);
}

struct run_end_args {
	long long run_id;
	const char *status;
	char *summary;
};

/* A run that ends accounts for every intent it wrote: one whose outcome
 * could not be recorded (the state connection failed right then) is
 * closed here as failed, and the run is not "ok". Only an interrupted run
 * keeps its intents: they show what was in flight. */
static const char run_end_sql[] =
	"WITH closed AS ("
	"  UPDATE pressctl.journal SET state = 'failed',"
	"         finished_at = $3::timestamptz,"
	"         error = 'its outcome could not be recorded when it ended;"
	" the next apply observes the object again'"
	"   WHERE platform = $5 AND run_id = $1::bigint AND state = 'intent'"
	"     AND $2 <> 'interrupted'"
	"  RETURNING 1)"
	" UPDATE pressctl.runs SET"
	"  status = CASE WHEN $2 = 'ok' AND EXISTS (SELECT 1 FROM closed)"
	"           THEN 'failed' ELSE $2 END,"
	"  finished_at = $3::timestamptz, summary = $4::jsonb"
	" WHERE id = $1::bigint AND platform = $5";

static int
do_run_end(struct state *st, void *arg, struct err *e)
{
	struct run_end_args *a = arg;
	char id[24], now[32];
	const char *p[5] = { id, a->status, now, a->summary, st->platform };
	PGresult *r;
	long long n;

	snprintf(id, sizeof(id), "%lld", a->run_id);
	ts(now, clock_now());
	if (!(r = sql_query(st, run_end_sql, 5, p, e,
			    "cannot record the end of the run")))
		return -1;
	if (num_parse(PQcmdTuples(r), 0, 1, &n) < 0)
		n = 0;
	PQclear(r);
	if (n != 1)
		return err_set(e,
			       "cannot record the end of run %lld: no such "
			       "run of platform '%s'",
			       a->run_id, st->platform);
	for (size_t i = 0; i < st->nruns; i++)
		if (st->runs[i] == a->run_id) {
			st->runs[i] = st->runs[--st->nruns];
			break;
		}
	return 0;
}

int
state_run_end(struct state *st, long long run_id, const char *status,
	      json_t *summary, struct err *e)
{
	static const char *const ok[] = { "ok", "failed", "refused",
					  "interrupted" };
	struct run_end_args a = { run_id, status, NULL };
	int valid = 0, ret;

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		valid |= status && strcmp(status, ok[i]) == 0;
	if (!valid)
		return err_set(e,
			       "cannot record the end of run %lld: invalid "
			       "status '%s'",
			       run_id, status ? status : "");
	if (summary)
		a.summary = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
	ret = run(st, do_run_end, &a, e);
	free(a.summary);
	return ret;
}

/* --- the journal -------------------------------------------------------- */

struct journal_begin_args {
	long long run_id;
	const char *revision, *action;
	enum live_kind kind;
	const char *target, *env_id, *spec_hash;
	long long *journal_id;
};

static const char journal_begin_sql[] =
	"INSERT INTO pressctl.journal (run_id, platform, revision, action,"
	"  kind, target, env_id, spec_hash, state, attempts, started_at,"
	"  actor)"
	" VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, 'intent', 0,"
	"  $9::timestamptz, $10)"
	" RETURNING id";

static int
do_journal_begin(struct state *st, void *arg, struct err *e)
{
	struct journal_begin_args *a = arg;
	char id[24], now[32], what[160];
	const char *p[10] = { id,
			      st->platform,
			      a->revision,
			      a->action,
			      live_kind_name(a->kind),
			      a->target,
			      a->env_id,
			      a->spec_hash,
			      now,
			      st->actor };
	PGresult *r;

	snprintf(id, sizeof(id), "%lld", a->run_id);
	snprintf(what, sizeof(what), "cannot record the intent to %s %s '%s'",
		 a->action, live_kind_name(a->kind), a->target);
	ts(now, clock_now());
	if (!(r = sql_query(st, journal_begin_sql, 10, p, e, what)))
		return -1;
	*a->journal_id = ll(r, 0, 0);
	PQclear(r);
	return 0;
}

int
state_journal_begin(struct state *st, long long run_id, const char *revision,
		    const char *action, enum live_kind kind, const char *target,
		    const char *env_id, const char *spec_hash,
		    long long *journal_id, struct err *e)
{
	struct journal_begin_args a = {
		run_id, revision, action,    kind,
		target, env_id,	  spec_hash, journal_id
	};

	*journal_id = 0;
	return run(st, do_journal_begin, &a, e);
}

struct journal_end_args {
	long long id;
	const char *outcome, *error;
	int attempts;
};

static int
do_journal_end(struct state *st, void *arg, struct err *e)
{
	struct journal_end_args *a = arg;
	char id[24], attempts[16], now[32];
	const char *p[5] = { id, a->outcome, a->error, attempts, now };

	snprintf(id, sizeof(id), "%lld", a->id);
	snprintf(attempts, sizeof(attempts), "%d", a->attempts);
	ts(now, clock_now());
	return sql_exec(st,
			"UPDATE pressctl.journal SET state = $2, error = $3,"
			" attempts = $4::integer, finished_at = $5::timestamptz"
			" WHERE id = $1::bigint",
			5, p, e, "cannot record the outcome of an action");
}

int
state_journal_end(struct state *st, long long journal_id, const char *outcome,
		  const char *error, int attempts, struct err *e)
{
	struct journal_end_args a = { journal_id, outcome, error, attempts };

	if (!outcome ||
	    (strcmp(outcome, "done") != 0 && strcmp(outcome, "failed") != 0 &&
	     strcmp(outcome, "skipped") != 0))
		return err_set(e,
			       "cannot record the outcome of journal entry "
			       "%lld: invalid outcome '%s'",
			       journal_id, outcome ? outcome : "");
	return run(st, do_journal_end, &a, e);
}

/* --- resources ---------------------------------------------------------- */

struct resource_args {
	enum live_kind kind;
	const char *name, *env_id, *spec_hash, *revision, *stage, *spec;
};

static int
do_resource_put(struct state *st, void *arg, struct err *e)
{
	struct resource_args *a = arg;
	char now[32], what[160];
	const char *p[9] = { st->platform, live_kind_name(a->kind),
			     a->name,	   a->env_id,
			     a->spec_hash, a->revision,
			     now,	   a->stage,
			     a->spec };

	ts(now, clock_now());
	snprintf(what, sizeof(what), "cannot record %s '%s' as applied",
		 live_kind_name(a->kind), a->name);
	return sql_exec(
		st,
		"INSERT INTO pressctl.resources (platform, kind, name,"
		" env_id, spec_hash, revision, created_at, applied_at, marked,"
		" stage, spec)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz,"
		"  $7::timestamptz, true, $8, $9::jsonb)"
		" ON CONFLICT (platform, kind, name) DO UPDATE SET"
		"  env_id = EXCLUDED.env_id, spec_hash = EXCLUDED.spec_hash,"
		"  revision = EXCLUDED.revision,"
		"  applied_at = EXCLUDED.applied_at, marked = true,"
		"  stage = EXCLUDED.stage, spec = EXCLUDED.spec",
		9, p, e, what);
}

int
state_resource_put(struct state *st, enum live_kind kind, const char *name,
		   const char *env_id, const char *spec_hash,
		   const json_t *spec, const char *revision, const char *stage,
		   struct err *e)
{
	char *text = spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) :
			    NULL;
	struct resource_args a = { kind,     name,  env_id, spec_hash,
				   revision, stage, text };
	int ret = run(st, do_resource_put, &a, e);

	free(text);
	return ret;
}

static int
do_resource_drop(struct state *st, void *arg, struct err *e)
{
	struct resource_args *a = arg;
	char what[160];
	const char *p[3] = { st->platform, live_kind_name(a->kind), a->name };

	snprintf(what, sizeof(what), "cannot forget %s '%s'",
		 live_kind_name(a->kind), a->name);
	return sql_exec(st,
			"DELETE FROM pressctl.resources WHERE platform = $1"
			" AND kind = $2 AND name = $3",
			3, p, e, what);
}

int
state_resource_drop(struct state *st, enum live_kind kind, const char *name,
		    struct err *e)
{
	struct resource_args a = { kind, name, NULL, NULL, NULL, NULL, NULL };

	return run(st, do_resource_drop, &a, e);
}

/* --- deletions ---------------------------------------------------------- */

struct deletion_args {
	const char *env_id, *schema, *role, *bucket;
	int days;
	const char *stage;
};

static int
do_deletion_put(struct state *st, void *arg, struct err *e)
{
	struct deletion_args *a = arg;
	time_t now = clock_now();
	char at[32], after[32], what[160];
	const char *p[8] = { st->platform, a->env_id, a->schema, a->role,
			     a->bucket,	   at,	      after,	 a->stage };

	ts(at, now);
	ts(after, now + (time_t)a->days * 86400);
	snprintf(what, sizeof(what),
		 "cannot record the soft deletion of "
		 "environment '%s'",
		 a->env_id);
	/* Recording it again keeps the first deletion time: re-running an
	 * interrupted delete must not postpone the purge. */
	return sql_exec(
		st,
		"INSERT INTO pressctl.deletions (platform, env_id,"
		" schema_name, role_name, bucket, deleted_at, purge_after,"
		" stage)"
		" VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7::timestamptz,"
		"  $8)"
		" ON CONFLICT (platform, env_id) DO UPDATE SET"
		"  schema_name = EXCLUDED.schema_name,"
		"  role_name = EXCLUDED.role_name, bucket = EXCLUDED.bucket,"
		"  stage = EXCLUDED.stage",
		8, p, e, what);
}

int
state_deletion_put(struct state *st, const char *env_id, const char *schema,
		   const char *role, const char *bucket, int days,
		   const char *stage, struct err *e)
{
	struct deletion_args a = {
		env_id, schema, role, bucket, days < 0 ? 0 : days, stage
	};

	return run(st, do_deletion_put, &a, e);
}

static int
do_deletion_drop(struct state *st, void *arg, struct err *e)
{
	struct deletion_args *a = arg;
	char what[160];
	const char *p[2] = { st->platform, a->env_id };

	snprintf(what, sizeof(what),
		 "cannot forget the soft deletion of "
		 "environment '%s'",
		 a->env_id);
	return sql_exec(st,
			"DELETE FROM pressctl.deletions WHERE platform = $1"
			" AND env_id = $2",
			2, p, e, what);
}

int
state_deletion_drop(struct state *st, const char *env_id, struct err *e)
{
	struct deletion_args a = { env_id, NULL, NULL, NULL, 0, NULL };

	return run(st, do_deletion_drop, &a, e);
}

/* --- ports -------------------------------------------------------------- */

struct ports_args {
	const char *owner, *env_id;
	int from, to;
	int *out;
	const int *busy; /* ports published on the engine */
	size_t nbusy;
	int port; /* hold / adopt: the port */
	const char *reason;
};

/*
 * Host ports are one resource of the machine, whatever the platform: a
 * claim looks at every platform's allocations and at the ports set aside,
 * and claims run one at a time across platforms (a transaction-level
 * advisory lock), so two platforms sharing a database never take one
 * port. Ports published on the engine by anyone (observed) are skipped
 * too, which covers platforms that share the engine but not the database.
 */
static const char ports_lock_sql[] =
	"SELECT pg_advisory_xact_lock(1886545267, hashtext('host-ports'))";

static const char ports_get_sql[] =
	"SELECT slot, port FROM pressctl.allocations"
	" WHERE platform = $1 AND owner = $2";

static const char ports_claim_sql[] =
	"INSERT INTO pressctl.allocations (platform, port, owner, slot,"
	"  env_id, allocated_at)"
	" SELECT $1, p, $2, $3::smallint, $4, $5::timestamptz"
	"   FROM generate_series($6::integer, $7::integer) p"
	"  WHERE NOT EXISTS (SELECT 1 FROM pressctl.allocations a"
	"                     WHERE a.port = p)"
	"    AND NOT EXISTS (SELECT 1 FROM pressctl.port_holds h"
	"                     WHERE h.port = p"
	"                       AND h.held_until > $5::timestamptz)"
	"    AND p <> ALL ($8::integer[])"
	"  ORDER BY p LIMIT 1"
	" ON CONFLICT DO NOTHING"
	" RETURNING port";

/* "{1,2,3}" of the busy ports. */
static void
int_array(struct strbuf *sb, const int *v, size_t n)
{
	strbuf_addch(sb, '{');
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s%d", i ? "," : "", v[i]);
	strbuf_addch(sb, '}');
}

/* Begin a transaction holding the host-port lock. */
static int
ports_begin(struct state *st, struct err *e, const char *what)
{
	if (sql_exec(st, "BEGIN", 0, NULL, e, what) < 0)
		return -1;
	return sql_exec(st, ports_lock_sql, 0, NULL, e, what);
}

/* Read the owner's slots; claim the lowest free port for each missing
 * one, all under the host-port lock. */
static int
do_ports(struct state *st, void *arg, struct err *e)
{
	struct ports_args *a = arg;
	char slot[4], from[16], to[16], now[32], what[160];
	const char *sel[2] = { st->platform, a->owner };
	const char *ins[8] = { st->platform, a->owner, slot, a->env_id,
			       now,	     from,     to,   NULL };
	struct strbuf busy;
	PGresult *r = NULL;
	int have[2] = { 0, 0 }, ret = -1;

	snprintf(what, sizeof(what), "cannot allocate host ports for '%s'",
		 a->owner);
	snprintf(from, sizeof(from), "%d", a->from);
	snprintf(to, sizeof(to), "%d", a->to);
	ts(now, clock_now());
	strbuf_init(&busy, 0);
	int_array(&busy, a->busy, a->nbusy);
	ins[7] = busy.buf;
	if (ports_begin(st, e, what) < 0 ||
	    !(r = sql_query(st, ports_get_sql, 2, sel, e, what)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		long long sl = ll(r, i, 0);

		if (sl == 0 || sl == 1)
			have[sl] = (int)ll(r, i, 1);
	}
	PQclear(r);
	r = NULL;
	for (int sl = 0; sl < 2; sl++) {
		if (have[sl])
			continue;
		snprintf(slot, sizeof(slot), "%d", sl);
		if (!(r = sql_query(st, ports_claim_sql, 8, ins, e, what)))
			goto out;
		if (PQntuples(r) != 1) {
			err_set(e,
				"%s: every port of %d-%d is allocated, set "
				"aside or published on the engine; widen the "
				"platform's spec.ports",
				what, a->from, a->to);
			goto out;
		}
		have[sl] = (int)ll(r, 0, 0);
		PQclear(r);
		r = NULL;
	}
	if (sql_exec(st, "COMMIT", 0, NULL, e, what) < 0)
		goto out;
	a->out[0] = have[0];
	a->out[1] = have[1];
	ret = 0;
out:
	PQclear(r);
	rollback(st);
	strbuf_release(&busy);
	return ret;
}

int
state_ports(struct state *st, const char *owner, const char *env_id, int from,
	    int to, const int *busy, size_t nbusy, int out[2], struct err *e)
{
	struct ports_args a = { owner, env_id, from, to,  out,
				busy,  nbusy,  0,    NULL };

	out[0] = out[1] = 0;
	if (from < 1 || to > 65535 || from >= to)
		return err_set(e,
			       "cannot allocate host ports for '%s': invalid "
			       "range %d-%d",
			       owner, from, to);
	return run(st, do_ports, &a, e);
}

/* Set a port aside for PORT_HOLD and take it from the owner. */
#define PORT_HOLD "1 hour"

static int
do_port_hold(struct state *st, void *arg, struct err *e)
{
	struct ports_args *a = arg;
	char port[16], now[32], what[160];
	const char *p[4] = { st->platform, port, a->reason, now };
	const char *d[3] = { st->platform, port, a->owner };

	snprintf(port, sizeof(port), "%d", a->port);
	ts(now, clock_now());
	snprintf(what, sizeof(what), "cannot set host port %d aside", a->port);
	if (ports_begin(st, e, what) < 0 ||
	    sql_exec(st,
		     "INSERT INTO pressctl.port_holds (platform, port, reason,"
		     "  held_at, held_until)"
		     " VALUES ($1, $2::integer, $3, $4::timestamptz,"
		     "  $4::timestamptz + interval '" PORT_HOLD "')"
		     " ON CONFLICT (platform, port) DO UPDATE SET"
		     "  reason = EXCLUDED.reason, held_at = EXCLUDED.held_at,"
		     "  held_until = EXCLUDED.held_until",
		     4, p, e, what) < 0 ||
	    sql_exec(st,
		     "DELETE FROM pressctl.allocations WHERE platform = $1"
		     " AND port = $2::integer AND owner = $3",
		     3, d, e, what) < 0 ||
	    sql_exec(st, "COMMIT", 0, NULL, e, what) < 0) {
		rollback(st);
		return -1;
	}
	return 0;
}

int
state_port_hold(struct state *st, const char *owner, int port,
		const char *reason, struct err *e)
{
	struct ports_args a = { owner, NULL, 0, 0, NULL, NULL, 0, port, reason };

	return run(st, do_port_hold, &a, e);
}

static int
do_port_adopt(struct state *st, void *arg, struct err *e)
{
	struct ports_args *a = arg;
	char port[16], now[32], what[160];
	const char *p[5] = { st->platform, port, a->owner, a->env_id, now };

	snprintf(port, sizeof(port), "%d", a->port);
	ts(now, clock_now());
	snprintf(what, sizeof(what), "cannot record host port %d of '%s'",
		 a->port, a->owner);
	if (ports_begin(st, e, what) < 0 ||
	    sql_exec(st,
		     "INSERT INTO pressctl.allocations (platform, port, owner,"
		     "  slot, env_id, allocated_at)"
		     " SELECT $1, $2::integer, $3, 0, $4, $5::timestamptz"
		     "  WHERE NOT EXISTS (SELECT 1 FROM pressctl.allocations"
		     "   WHERE port = $2::integer"
		     "      OR (platform = $1 AND owner = $3 AND slot = 0))"
		     " ON CONFLICT DO NOTHING",
		     5, p, e, what) < 0 ||
	    sql_exec(st, "COMMIT", 0, NULL, e, what) < 0) {
		rollback(st);
		return -1;
	}
	return 0;
}

int
state_ports_adopt(struct state *st, const char *owner, const char *env_id,
		  int port, struct err *e)
{
	struct ports_args a = { owner, env_id, 0, 0, NULL, NULL, 0, port, NULL };

	if (port <= 0 || port > 65535)
		return 0;
	return run(st, do_port_adopt, &a, e);
}

static int
do_ports_release(struct state *st, void *arg, struct err *e)
{
	struct ports_args *a = arg;
	char what[160];
	const char *p[2] = { st->platform, a->owner };

	snprintf(what, sizeof(what), "cannot release the host ports of '%s'",
		 a->owner);
	return sql_exec(st,
			"DELETE FROM pressctl.allocations WHERE platform = $1"
			" AND owner = $2",
			2, p, e, what);
}

int
state_ports_release(struct state *st, const char *owner, struct err *e)
{
	struct ports_args a = { owner, NULL, 0, 0, NULL, NULL, 0, 0, NULL };

	return run(st, do_ports_release, &a, e);
}

/* --- rollouts ----------------------------------------------------------- */

struct rollout_args {
	const char *name, *spec_hash, *error;
};

/* A new spec hash starts counting again. Backoff: 2^failures minutes,
 * at most 6 hours. */
static const char rollout_failed_sql[] =
	"INSERT INTO pressctl.rollouts AS r (platform, name, spec_hash,"
	"  failures, last_error, last_failed_at, next_retry_at)"
	" VALUES ($1, $2, $3, 1, $4, $5::timestamptz,"
	"  $5::timestamptz + interval '2 minutes')"
	" ON CONFLICT (platform, name) DO UPDATE SET"
	"  failures = CASE WHEN r.spec_hash = EXCLUDED.spec_hash"
	"   THEN r.failures + 1 ELSE 1 END,"
	"  spec_hash = EXCLUDED.spec_hash,"
	"  last_error = EXCLUDED.last_error,"
	"  last_failed_at = EXCLUDED.last_failed_at,"
	"  next_retry_at = EXCLUDED.last_failed_at + make_interval(mins =>"
	"   least(power(2, least(CASE WHEN r.spec_hash = EXCLUDED.spec_hash"
	"    THEN r.failures + 1 ELSE 1 END, 16)), 360)::integer)";

static int
do_rollout_failed(struct state *st, void *arg, struct err *e)
{
	struct rollout_args *a = arg;
	char now[32], what[160];
	const char *p[5] = { st->platform, a->name, a->spec_hash, a->error,
			     now };

	ts(now, clock_now());
	snprintf(what, sizeof(what), "cannot record the failed rollout of '%s'",
		 a->name);
	return sql_exec(st, rollout_failed_sql, 5, p, e, what);
}

int
state_rollout_failed(struct state *st, const char *name, const char *spec_hash,
		     const char *error, struct err *e)
{
	struct rollout_args a = { name, spec_hash, error };

	return run(st, do_rollout_failed, &a, e);
}

static int
do_rollout_clear(struct state *st, void *arg, struct err *e)
{
	struct rollout_args *a = arg;
	char what[160];
	const char *p[2] = { st->platform, a->name };

	snprintf(what, sizeof(what), "cannot clear the failed rollout of '%s'",
		 a->name);
	return sql_exec(st,
			"DELETE FROM pressctl.rollouts WHERE platform = $1"
			" AND name = $2",
			2, p, e, what);
}

int
state_rollout_clear(struct state *st, const char *name, struct err *e)
{
	struct rollout_args a = { name, NULL, NULL };

	return run(st, do_rollout_clear, &a, e);
}

/* --- certificates ---------------------------------------------------------- */

struct cert_args {
	const char *name, *env_id, *cert_pem, *key_sealed, *serial;
	time_t not_after;
	char **out_cert, **out_key;
};

static int
do_cert_get(struct state *st, void *arg, struct err *e)
{
	struct cert_args *a = arg;
	const char *p[2] = { st->platform, a->name };
	char what[200];
	PGresult *r;

	snprintf(what, sizeof(what), "cannot read the certificate of '%s'",
		 a->name);
	if (!(r = sql_query(st,
			    "SELECT cert_pem, key_sealed FROM "
			    "pressctl.certificates WHERE platform = $1"
			    " AND name = $2",
			    2, p, e, what)))
		return -1;
	if (PQntuples(r) == 1) {
		*a->out_cert = xstrdup(PQgetvalue(r, 0, 0));
		*a->out_key = xstrdup(PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return 0;
}

int
state_cert_get(struct state *st, const char *name, char **cert_pem,
	       char **key_sealed, struct err *e)
{
	struct cert_args a = { .name = name,
			       .out_cert = cert_pem,
			       .out_key = key_sealed };

	*cert_pem = *key_sealed = NULL;
	return run(st, do_cert_get, &a, e);
}

static int
do_cert_put(struct state *st, void *arg, struct err *e)
{
	struct cert_args *a = arg;
	char now[32], until[32], what[200];
	const char *p[8] = { st->platform,  a->name,   a->env_id, a->cert_pem,
			     a->key_sealed, a->serial, until,	  now };

	ts(now, clock_now());
	ts(until, a->not_after);
	snprintf(what, sizeof(what), "cannot record the certificate of '%s'",
		 a->name);
	return sql_exec(
		st,
		"INSERT INTO pressctl.certificates (platform, name, env_id,"
		" cert_pem, key_sealed, serial, not_after, made_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz,"
		" $8::timestamptz)"
		" ON CONFLICT (platform, name) DO UPDATE SET"
		" env_id = EXCLUDED.env_id, cert_pem = EXCLUDED.cert_pem,"
		" key_sealed = EXCLUDED.key_sealed, serial = EXCLUDED.serial,"
		" not_after = EXCLUDED.not_after, made_at = EXCLUDED.made_at",
		8, p, e, what);
}

int
state_cert_put(struct state *st, const char *name, const char *env_id,
	       const char *cert_pem, const char *key_sealed, const char *serial,
	       time_t not_after, struct err *e)
{
	struct cert_args a = { name,   env_id,	  cert_pem, key_sealed,
			       serial, not_after, NULL,	    NULL };

	return run(st, do_cert_put, &a, e);
}

static int
do_cert_drop(struct state *st, void *arg, struct err *e)
{
	struct cert_args *a = arg;
	const char *p[2] = { st->platform, a->name };
	char what[200];

	snprintf(what, sizeof(what), "cannot forget the certificate of '%s'",
		 a->name);
	return sql_exec(st,
			"DELETE FROM pressctl.certificates WHERE platform = $1"
			" AND name = $2",
			2, p, e, what);
}

int
state_cert_drop(struct state *st, const char *name, struct err *e)
{
	struct cert_args a = { .name = name };

	return run(st, do_cert_drop, &a, e);
}

/* --- crashed runs ------------------------------------------------------- */

/*
 * Runs still "running" whose session is gone (no backend with their pid
 * and start time) crashed: close them as "interrupted". Their journal
 * intents stay "intent" for the audit trail; state_read reports them.
 * The runs begun through this handle are left alone.
 */
static const char close_interrupted_sql[] =
	"UPDATE pressctl.runs r"
	"   SET status = 'interrupted', finished_at = $2::timestamptz"
	" WHERE r.platform = $1 AND r.status = 'running'"
	"   AND r.id <> ALL ($3::bigint[])"
	"   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
	"                    WHERE a.pid = r.pid"
	"                      AND a.backend_start = r.backend_start)";

static int
do_close_interrupted(struct state *st, void *arg, struct err *e)
{
	int *count = arg;
	struct strbuf ids;
	char now[32];
	const char *p[3] = { st->platform, now, NULL };
	long long tuples;
	PGresult *r;

	if (!st->locked)
		return err_set(e,
			       "cannot close interrupted runs of platform "
			       "'%s': the apply lock is not held",
			       st->platform);
	ts(now, clock_now());
	strbuf_init(&ids, 0);
	strbuf_addch(&ids, '{');
	for (size_t i = 0; i < st->nruns; i++)
		strbuf_addf(&ids, "%s%lld", i ? "," : "", st->runs[i]);
	strbuf_addch(&ids, '}');
	p[2] = ids.buf;
	r = sql_query(st, close_interrupted_sql, 3, p, e,
		      "cannot close interrupted runs");
	strbuf_release(&ids);
	if (!r)
		return -1;
	if (num_parse(PQcmdTuples(r), 0, INT_MAX, &tuples) < 0)
		tuples = 0;
	*count = (int)tuples;
	PQclear(r);
	return 0;
}

int
state_close_interrupted(struct state *st, int *count, struct err *e)
{
	*count = 0;
	return run(st, do_close_interrupted, count, e);
}

/* --- backups ------------------------------------------------------------ */

struct backup_args {
	const char *env_id, *id, *manifest, *reason;
	long long bytes, objects;
	time_t when;
	int drill;
	struct rec_backup **out;
	size_t *n;
};

static int
do_backup_put(struct state *st, void *arg, struct err *e)
{
	struct backup_args *a = arg;
	char when[32], now[32], bytes[24], objects[24], key[256];
	const char *p[9] = { st->platform, key, a->env_id, when, a->manifest,
			     now, bytes, objects, a->reason };

	snprintf(key, sizeof(key), "%s@%s", a->env_id, a->id);
	ts(when, a->when);
	ts(now, clock_now());
	snprintf(bytes, sizeof(bytes), "%lld", a->bytes);
	snprintf(objects, sizeof(objects), "%lld", a->objects);
	return sql_exec(st,
			"INSERT INTO pressctl.backups (platform, id, env_id,"
			" created_at, manifest, verified_at, bytes, objects,"
			" reason) VALUES ($1, $2, $3, $4::timestamptz,"
			" $5::jsonb, $6::timestamptz, $7::bigint,"
			" $8::integer, $9)"
			" ON CONFLICT (platform, id) DO UPDATE SET"
			"  manifest = EXCLUDED.manifest,"
			"  verified_at = EXCLUDED.verified_at,"
			"  bytes = EXCLUDED.bytes, objects = EXCLUDED.objects",
			9, p, e, "cannot record the backup in the catalog");
}

int
state_backup_put(struct state *st, const char *env_id, const char *id,
		 time_t when, json_t *manifest, const char *reason,
		 long long bytes, long long objects, struct err *e)
{
	char *text = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS);
	struct backup_args a = { env_id, id, text, reason, bytes, objects,
				 when, 0, NULL, NULL };
	int rc = run(st, do_backup_put, &a, e);

	free(text);
	return rc;
}

static int
do_backup_verified(struct state *st, void *arg, struct err *e)
{
	struct backup_args *a = arg;
	char now[32], key[256];
	const char *p[3] = { st->platform, key, now };

	snprintf(key, sizeof(key), "%s@%s", a->env_id, a->id);
	ts(now, clock_now());
	return sql_exec(st,
			a->drill ? "UPDATE pressctl.backups SET verified_at ="
				   " $3::timestamptz, drill_at = $3::timestamptz"
				   " WHERE platform = $1 AND id = $2" :
				   "UPDATE pressctl.backups SET verified_at ="
				   " $3::timestamptz WHERE platform = $1"
				   " AND id = $2",
			3, p, e, "cannot record the verification");
}

int
state_backup_verified(struct state *st, const char *env_id, const char *id,
		      int drill, struct err *e)
{
	struct backup_args a = { .env_id = env_id, .id = id, .drill = drill };

	return run(st, do_backup_verified, &a, e);
}

static int
do_backup_drop(struct state *st, void *arg, struct err *e)
{
	struct backup_args *a = arg;
	char key[256];
	const char *p[2] = { st->platform, key };

	snprintf(key, sizeof(key), "%s@%s", a->env_id, a->id);
	return sql_exec(st,
			"DELETE FROM pressctl.backups WHERE platform = $1"
			" AND id = $2",
			2, p, e, "cannot drop the backup from the catalog");
}

int
state_backup_drop(struct state *st, const char *env_id, const char *id,
		  struct err *e)
{
	struct backup_args a = { .env_id = env_id, .id = id };

	return run(st, do_backup_drop, &a, e);
}

/* Per environment: the newest backup, and the newest verification and
 * restore drill of any of its backups. */
static int
read_backups(struct state *st, struct rec_backup **out, size_t *nout,
	     struct err *e)
{
	const char *p[1] = { st->platform };
	PGresult *r;
	int n;

	if (!(r = sql_query(
		      st,
		      "SELECT env_id, max(extract(epoch FROM created_at))::bigint,"
		      " coalesce(max(extract(epoch FROM verified_at)), 0)::bigint,"
		      " coalesce(max(extract(epoch FROM drill_at)), 0)::bigint,"
		      " (array_agg(split_part(id, '@', 2) ORDER BY created_at"
		      "  DESC))[1], count(*)"
		      " FROM pressctl.backups WHERE platform = $1"
		      " GROUP BY env_id ORDER BY env_id COLLATE \"C\"",
		      1, p, e, "cannot read the backup catalog")))
		return -1;
	n = PQntuples(r);
	*out = xcalloc((size_t)n + 1, sizeof(**out));
	for (int i = 0; i < n; i++) {
		struct rec_backup *b = &(*out)[i];

		b->env_id = xstrdup(PQgetvalue(r, i, 0));
		b->newest = (time_t)ll(r, i, 1);
		b->verified = (time_t)ll(r, i, 2);
		b->drill = (time_t)ll(r, i, 3);
		b->newest_id = xstrdup(PQgetvalue(r, i, 4));
		b->count = (int)ll(r, i, 5);
	}
	*nout = (size_t)n;
	PQclear(r);
	return 0;
}

static int
do_backups_newest(struct state *st, void *arg, struct err *e)
{
	struct backup_args *a = arg;

	return read_backups(st, a->out, a->n, e);
}

int
state_backups_newest(struct state *st, struct rec_backup **out, size_t *n,
		     struct err *e)
{
	struct backup_args a = { .out = out, .n = n };

	*out = NULL;
	*n = 0;
	return run(st, do_backups_newest, &a, e);
}

struct upload_args {
	const char *id, *bucket, *key;
	int left;
};

static int
do_upload_open(struct state *st, void *arg, struct err *e)
{
	struct upload_args *a = arg;
	char now[32];
	const char *p[5] = { st->platform, a->id, a->bucket, a->key, now };

	ts(now, clock_now());
	return sql_exec(st,
			"INSERT INTO pressctl.uploads (platform, upload_id,"
			" bucket, key, state, started_at) VALUES ($1, $2, $3,"
			" $4, 'open', $5::timestamptz) ON CONFLICT DO NOTHING",
			5, p, e, "cannot record the upload");
}

int
state_upload_open(struct state *st, const char *bucket, const char *key,
		  const char *id, struct err *e)
{
	struct upload_args a = { id, bucket, key, 0 };

	return run(st, do_upload_open, &a, e);
}

static int
do_upload_end(struct state *st, void *arg, struct err *e)
{
	struct upload_args *a = arg;
	const char *p[2] = { st->platform, a->id };

	return sql_exec(st,
			a->left ? "UPDATE pressctl.uploads SET state = 'left'"
				  " WHERE platform = $1 AND upload_id = $2" :
				  "DELETE FROM pressctl.uploads WHERE"
				  " platform = $1 AND upload_id = $2",
			2, p, e, "cannot record the end of the upload");
}

int
state_upload_end(struct state *st, const char *id, int left, struct err *e)
{
	struct upload_args a = { id, NULL, NULL, left };

	return run(st, do_upload_end, &a, e);
}

struct uploads_args {
	struct rec_upload **out;
	size_t *n;
};

static int
do_uploads(struct state *st, void *arg, struct err *e)
{
	struct uploads_args *a = arg;
	const char *p[1] = { st->platform };
	PGresult *r = sql_query(st,
				"SELECT bucket, key, upload_id, state"
				" FROM pressctl.uploads WHERE platform = $1"
				" ORDER BY started_at, upload_id",
				1, p, e, "cannot read the uploads");
	int n;

	if (!r)
		return -1;
	n = PQntuples(r);
	*a->out = xcalloc((size_t)n + 1, sizeof(**a->out));
	for (int i = 0; i < n; i++) {
		struct rec_upload *u = &(*a->out)[i];

		u->bucket = xstrdup(PQgetvalue(r, i, 0));
		u->key = xstrdup(PQgetvalue(r, i, 1));
		u->id = xstrdup(PQgetvalue(r, i, 2));
		u->left = strcmp(PQgetvalue(r, i, 3), "left") == 0;
	}
	*a->n = (size_t)n;
	PQclear(r);
	return 0;
}

int
state_uploads(struct state *st, struct rec_upload **out, size_t *n,
	      struct err *e)
{
	struct uploads_args a = { out, n };

	*out = NULL;
	*n = 0;
	return run(st, do_uploads, &a, e);
}

void
rec_uploads_free(struct rec_upload *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].bucket);
		free(v[i].key);
		free(v[i].id);
	}
	free(v);
}

struct final_args {
	const char *env_id, *id;
};

static int
do_deletion_backup(struct state *st, void *arg, struct err *e)
{
	struct final_args *a = arg;
	const char *p[3] = { st->platform, a->env_id, a->id };

	return sql_exec(st,
			"UPDATE pressctl.deletions SET final_backup = $3"
			" WHERE platform = $1 AND env_id = $2",
			3, p, e, "cannot record the final backup");
}

int
state_deletion_backup(struct state *st, const char *env_id, const char *id,
		      struct err *e)
{
	struct final_args a = { env_id, id };

	return run(st, do_deletion_backup, &a, e);
}

struct kept_args {
	const char *schema, *env_id;
	int days;
};

static int
do_kept_put(struct state *st, void *arg, struct err *e)
{
	struct kept_args *a = arg;
	time_t now = clock_now();
	char at[32], after[32];
	const char *p[5] = { st->platform, a->schema, a->env_id, at, after };

	ts(at, now);
	ts(after, now + (time_t)a->days * 86400);
	return sql_exec(st,
			"INSERT INTO pressctl.kept_schemas (platform,"
			" schema_name, env_id, kept_at, purge_after) VALUES"
			" ($1, $2, $3, $4::timestamptz, $5::timestamptz)"
			" ON CONFLICT DO NOTHING",
			5, p, e, "cannot record the replaced schema");
}

int
state_kept_schema(struct state *st, const char *schema, const char *env_id,
		  int days, struct err *e)
{
	struct kept_args a = { schema, env_id, days };

	return run(st, do_kept_put, &a, e);
}

static int
do_kept_forget(struct state *st, void *arg, struct err *e)
{
	const char *p[2] = { st->platform, arg };

	return sql_exec(st,
			"DELETE FROM pressctl.kept_schemas WHERE platform = $1"
			" AND schema_name = $2",
			2, p, e, "cannot forget the replaced schema");
}

int
state_kept_forget(struct state *st, const char *schema, struct err *e)
{
	return run(st, do_kept_forget, (void *)schema, e);
}

struct clone_args {
	const char *env_id, *source_env, *backup_id, *fingerprint, *structure,
		*tables;
};

static int
do_clone_start(struct state *st, void *arg, struct err *e)
{
	struct clone_args *a = arg;
	char now[32];
	const char *p[8] = { st->platform, a->env_id,	   a->source_env,
			     a->backup_id, a->fingerprint, a->structure,
			     a->tables,	   now };

	ts(now, clock_now());
	return sql_exec(st,
			"INSERT INTO pressctl.clones (platform, env_id,"
			" source_env, backup_id, state, source_fingerprint,"
			" source_structure, source_tables, started_at)"
			" VALUES ($1, $2, $3, $4, 'started', $5, $6, $7::jsonb,"
			" $8::timestamptz)"
			" ON CONFLICT (platform, env_id) DO UPDATE SET"
			"  source_env = EXCLUDED.source_env,"
			"  backup_id = EXCLUDED.backup_id, state = 'started',"
			"  source_fingerprint = EXCLUDED.source_fingerprint,"
			"  source_structure = EXCLUDED.source_structure,"
			"  source_tables = EXCLUDED.source_tables,"
			"  started_at = EXCLUDED.started_at, done_at = NULL",
			8, p, e, "cannot record the clone");
}

int
state_clone_start(struct state *st, const char *env_id,
		  const char *source_env, const char *backup_id,
		  const char *fingerprint, const char *structure,
		  const char *tables_json, struct err *e)
{
	struct clone_args a = { env_id,	     source_env, backup_id,
				fingerprint, structure,	 tables_json };

	return run(st, do_clone_start, &a, e);
}

static int
do_clone_done(struct state *st, void *arg, struct err *e)
{
	char now[32];
	const char *p[3] = { st->platform, arg, now };

	ts(now, clock_now());
	return sql_exec(st,
			"UPDATE pressctl.clones SET state = 'done',"
			" done_at = $3::timestamptz"
			" WHERE platform = $1 AND env_id = $2",
			3, p, e, "cannot record the end of the clone");
}

struct last_promotion_args {
	const char *env_id;
	json_t **out;
};

static int
do_last_promotion(struct state *st, void *arg, struct err *e)
{
	struct last_promotion_args *a = arg;
	const char *p[2] = { st->platform, a->env_id };
	PGresult *r = sql_query(
		st,
		"SELECT summary::text FROM pressctl.runs WHERE platform = $1"
		" AND command = 'promote' AND status = 'ok'"
		" AND summary->>'to' = $2 AND summary->>'commit' IS NOT NULL"
		" ORDER BY id DESC LIMIT 1",
		2, p, e, "cannot read the promotions");

	if (!r)
		return -1;
	if (PQntuples(r) == 1)
		*a->out = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	PQclear(r);
	return 0;
}

int
state_last_promotion(struct state *st, const char *env_id, json_t **out,
		     struct err *e)
{
	struct last_promotion_args a = { env_id, out };

	*out = NULL;
	return run(st, do_last_promotion, &a, e);
}

struct structure_args {
	const char *env_id, *fingerprint;
	long long run_id;
	struct rec_structure *out;
};

static int
do_record_structure(struct state *st, void *arg, struct err *e)
{
	struct structure_args *a = arg;
	char now[32], run[32];
	const char *p[5] = { st->platform, a->env_id, a->fingerprint, now,
			     run };

	ts(now, clock_now());
	snprintf(run, sizeof(run), "%lld", a->run_id);
	return sql_exec(st,
			"INSERT INTO pressctl.structures (platform, env_id,"
			" fingerprint, since, recorded_at, run_id)"
			" VALUES ($1, $2, $3, $4::timestamptz, $4::timestamptz,"
			" $5::bigint)"
			" ON CONFLICT (platform, env_id) DO UPDATE SET"
			"  since = CASE WHEN structures.fingerprint ="
			"   EXCLUDED.fingerprint THEN structures.since"
			"   ELSE EXCLUDED.since END,"
			"  fingerprint = EXCLUDED.fingerprint,"
			"  recorded_at = EXCLUDED.recorded_at,"
			"  run_id = EXCLUDED.run_id",
			5, p, e, "cannot record the schema's structure");
}

int
state_record_structure(struct state *st, const char *env_id,
		       const char *fingerprint, long long run_id, struct err *e)
{
	struct structure_args a = { env_id, fingerprint, run_id, NULL };

	return run(st, do_record_structure, &a, e);
}

static int
do_structure(struct state *st, void *arg, struct err *e)
{
	struct structure_args *a = arg;
	const char *p[2] = { st->platform, a->env_id };
	PGresult *r = sql_query(st,
				"SELECT fingerprint,"
				" extract(epoch FROM since)::bigint,"
				" extract(epoch FROM recorded_at)::bigint"
				" FROM pressctl.structures"
				" WHERE platform = $1 AND env_id = $2",
				2, p, e, "cannot read the recorded structure");

	if (!r)
		return -1;
	if (PQntuples(r) == 1) {
		a->out->found = 1;
		snprintf(a->out->fingerprint, sizeof(a->out->fingerprint), "%s",
			 PQgetvalue(r, 0, 0));
		a->out->since = (time_t)ll(r, 0, 1);
		a->out->recorded_at = (time_t)ll(r, 0, 2);
	}
	PQclear(r);
	return 0;
}

int
state_structure(struct state *st, const char *env_id, struct rec_structure *out,
		struct err *e)
{
	struct structure_args a = { env_id, NULL, 0, out };

	memset(out, 0, sizeof(*out));
	return run(st, do_structure, &a, e);
}

struct clone_detail_args {
	const char *env_id;
	struct clone_detail *out;
};

static int
do_clone_detail(struct state *st, void *arg, struct err *e)
{
	struct clone_detail_args *a = arg;
	const char *p[2] = { st->platform, a->env_id };
	PGresult *r = sql_query(st,
				"SELECT source_fingerprint, source_structure,"
				" source_tables::text,"
				" extract(epoch FROM done_at)::bigint"
				" FROM pressctl.clones WHERE platform = $1"
				" AND env_id = $2 AND state = 'done'",
				2, p, e, "cannot read the clone record");

	if (!r)
		return -1;
	if (PQntuples(r) == 1) {
		a->out->found = 1;
		a->out->fingerprint = str_or_null(r, 0, 0);
		a->out->structure = str_or_null(r, 0, 1);
		a->out->tables = PQgetisnull(r, 0, 2) ?
					 NULL :
					 json_loads(PQgetvalue(r, 0, 2), 0,
						    NULL);
		a->out->done_at = (time_t)ll(r, 0, 3);
	}
	PQclear(r);
	return 0;
}

int
state_clone_detail(struct state *st, const char *env_id,
		   struct clone_detail *out, struct err *e)
{
	struct clone_detail_args a = { env_id, out };

	memset(out, 0, sizeof(*out));
	return run(st, do_clone_detail, &a, e);
}

void
clone_detail_release(struct clone_detail *d)
{
	free(d->fingerprint);
	free(d->structure);
	json_decref(d->tables);
	memset(d, 0, sizeof(*d));
}

int
state_clone_done(struct state *st, const char *env_id, struct err *e)
{
	return run(st, do_clone_done, (void *)env_id, e);
}

static int
do_clone_forget(struct state *st, void *arg, struct err *e)
{
	const char *p[2] = { st->platform, arg };
	char what[160];

	snprintf(what, sizeof(what),
		 "cannot forget the clone record of environment '%s'",
		 (const char *)arg);
	return sql_exec(st,
			"DELETE FROM pressctl.clones"
			" WHERE platform = $1 AND env_id = $2",
			2, p, e, what);
}

int
state_clone_forget(struct state *st, const char *env_id, struct err *e)
{
	return run(st, do_clone_forget, (void *)env_id, e);
}

static int
do_lock_backups(struct state *st, void *arg, struct err *e)
{
	char key[24], *name = xprintf("pressctl:backup:%s", st->platform);
	const char *p[1] = { key };

	(void)arg;
	snprintf(key, sizeof(key), "%lld", (long long)key_of(name));
	free(name);
	if (sql_exec(st, "SET statement_timeout = 0", 0, NULL, e,
		     "cannot take the backup lock") < 0 ||
	    sql_exec(st, "SELECT pg_advisory_lock($1::bigint)", 1, p, e,
		     "cannot take the backup lock") < 0)
		return -1;
	return sql_exec(st, "RESET statement_timeout", 0, NULL, e,
			"cannot take the backup lock");
}

int
state_lock_backups(struct state *st, struct err *e)
{
	return run(st, do_lock_backups, NULL, e);
}

/* --- history ------------------------------------------------------------- */

struct history_args {
	int nruns, njournal;
	json_t **out;
};

/* One statement builds the whole document (docs/dashboard.md): the
 * database does the JSON, the columns are renamed as the API spells
 * them. The journal's columns as the API names them. Newest first by
 * started_at, which journal_platform_started indexes. */
#define JOURNAL_COLUMNS                                              \
	"SELECT id, run_id AS run, action, kind, target,"            \
	" env_id AS environment, state, error, attempts,"            \
	" extract(epoch FROM started_at)::bigint AS \"startedAt\","  \
	" extract(epoch FROM finished_at)::bigint AS \"finishedAt\"" \
	" FROM pressctl.journal"

static const char history_sql[] =
	"SELECT json_build_object("
	" 'runs', coalesce((SELECT json_agg(r ORDER BY r.id DESC) FROM"
	"  (SELECT id, command, status, revision, actor,"
	"   extract(epoch FROM started_at)::bigint AS \"startedAt\","
	"   extract(epoch FROM finished_at)::bigint AS \"finishedAt\","
	"   CASE WHEN jsonb_typeof(summary->'done') = 'number'"
	"    THEN (summary->>'done')::bigint END AS done,"
	"   CASE WHEN jsonb_typeof(summary->'failed') = 'number'"
	"    THEN (summary->>'failed')::bigint END AS failed,"
	"   CASE WHEN jsonb_typeof(summary->'skipped') = 'number'"
	"    THEN (summary->>'skipped')::bigint END AS skipped"
	"   FROM pressctl.runs WHERE platform = $1"
	"   ORDER BY id DESC LIMIT $2::int) r), '[]'::json),"
	" 'journal', coalesce((SELECT json_agg(x ORDER BY x.\"startedAt\" DESC,"
	"  x.id DESC) FROM (" JOURNAL_COLUMNS " WHERE platform = $1"
	"  ORDER BY started_at DESC, id DESC LIMIT $3::int) x), '[]'::json),"
	" 'errors', coalesce((SELECT json_agg(x ORDER BY x.\"startedAt\" DESC,"
	"  x.id DESC) FROM (" JOURNAL_COLUMNS " WHERE platform = $1"
	"  AND state IN ('failed', 'skipped')"
	"  ORDER BY started_at DESC, id DESC LIMIT $3::int) x), '[]'::json),"
	" 'lastReconcile', (SELECT json_build_object('run', id, 'status',"
	"   status, 'revision', revision,"
	"   'startedAt', extract(epoch FROM started_at)::bigint,"
	"   'finishedAt', extract(epoch FROM finished_at)::bigint)"
	"  FROM pressctl.runs WHERE platform = $1 AND command = 'apply'"
	"  AND status <> 'running' ORDER BY id DESC LIMIT 1),"
	" 'promotions', coalesce((SELECT json_object_agg(t, p) FROM"
	"  (SELECT DISTINCT ON (summary->>'to') summary->>'to' AS t,"
	"   json_build_object('run', id, 'status', status,"
	"    'at', extract(epoch FROM coalesce(finished_at,"
	"     started_at))::bigint,"
	"    'from', summary->>'from', 'allowed',"
	"    coalesce(summary->'allowed', 'false'::jsonb),"
	"    'commit', summary->>'commit', 'guards',"
	"    CASE WHEN jsonb_typeof(summary->'guards') = 'array' THEN"
	"     coalesce((SELECT json_agg(json_build_object('name',"
	"      g->>'name', 'pass', coalesce(g->'pass', 'false'::jsonb)))"
	"      FROM jsonb_array_elements(summary->'guards') g), '[]'::json)"
	"     ELSE '[]'::json END) AS p"
	"   FROM pressctl.runs WHERE platform = $1 AND command = 'promote'"
	"   AND jsonb_typeof(summary) = 'object'"
	"   AND jsonb_typeof(summary->'to') = 'string'"
	"   ORDER BY summary->>'to', id DESC) y), '{}'::json))::text";

static int
do_history(struct state *st, void *arg, struct err *e)
{
	struct history_args *a = arg;
	char nruns[16], njournal[16];
	const char *p[3] = { st->platform, nruns, njournal };
	json_error_t je;
	PGresult *r;

	snprintf(nruns, sizeof(nruns), "%d", a->nruns);
	snprintf(njournal, sizeof(njournal), "%d", a->njournal);
	r = sql_query(st, history_sql, 3, p, e, "cannot read the runs");
	if (!r)
		return -1;
	*a->out = json_loads(PQgetvalue(r, 0, 0), 0, &je);
	PQclear(r);
	if (!*a->out)
		return err_set(e, "cannot read the runs: %s", je.text);
	return 0;
}

int
state_history(struct state *st, int nruns, int njournal, json_t **out,
	      struct err *e)
{
	struct history_args a = { nruns, njournal, out };

	*out = NULL;
	return run(st, do_history, &a, e);
}
