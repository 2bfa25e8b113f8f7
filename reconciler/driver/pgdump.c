/*
 * pgdump.c - schemas as data: dump, restore, describe (pgdump.h).
 *
 * The client tools run as child processes (fork and exec) with the DSN's
 * settings as PG* environment variables (from PQconninfoParse: the
 * password never appears on a command line), their other descriptors
 * closed, their standard error collected by a thread (bounded) for the
 * error message.
 *
 * A restore is one psql session fed by pressctl: a prologue (BEGIN, the
 * renames that free the names), then pg_restore's SQL output (pg_restore
 * reads the dump from pressctl and writes straight into psql's input),
 * then an epilogue (rename to the target, ownership, grants, mark,
 * verification, COMMIT). psql runs with ON_ERROR_STOP; input that ends
 * before the COMMIT (pressctl killed, pg_restore failed) ends the session
 * with the transaction open, which PostgreSQL rolls back.
 */
#include "pgdump.h"
#include "pgutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "../util/hash.h"
#include "../util/sqltext.h"
#include "../util/strbuf.h"

extern char **environ;

#define STDERR_CAP 16384
#define READ_CHUNK 65536
#define CONNECT_TIMEOUT_S 10
#define LOCK_CLASS "1886545267" /* driver/postgres.c's object locks */

/* A describe running beside the dump (pgdump_describe_begin). */
struct describe_bg {
	pthread_t tid;
	PGcancel *cancel; /* to stop its query when the backup fails */
	int ret;
	json_t *tables;
	char fingerprint[65];
	char *structure, *version;
	struct err err;
};

struct pgdump {
	PGconn *conn;
	char *dsn, *schema, *snapshot;
	struct describe_bg *bg; /* running, or NULL */
};

/* --- child processes ------------------------------------------------- */

struct child {
	const char *tool;
	pid_t pid;
	int err_fd;
	pthread_t drain;
	int draining;
	struct strbuf err; /* its standard error, the first STDERR_CAP */
};

static void *
drain_main(void *arg)
{
	struct child *c = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(c->err_fd, buf, sizeof(buf))) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0 && c->err.len < STDERR_CAP)
			strbuf_add(&c->err, buf, (size_t)n);
	return NULL;
}

/* The tool's path: PRESS_PG_BINDIR/tool, else the first on PATH; a new
 * string, or NULL when there is none. */
static char *
tool_path(const char *tool)
{
	const char *dir = getenv("PRESS_PG_BINDIR"), *path = getenv("PATH");
	char *p;

	if (dir && *dir)
		return xprintf("%s/%s", dir, tool);
	if (!path || !*path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		p = xprintf("%.*s/%s", (int)(n ? n : 1), n ? path : ".", tool);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
		path += n + (path[n] == ':');
	}
	return NULL;
}

/* pipe(2) with both ends close-on-exec. */
static int
cloexec_pipe(int fd[2])
{
	if (pipe(fd) < 0)
		return -1;
	fcntl(fd[0], F_SETFD, FD_CLOEXEC);
	fcntl(fd[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

/* environ without PG* variables, plus the DSN's settings as theirs. A
 * new NULL-terminated array of new strings (env_free). */
static char **
child_env(const char *dsn, struct err *e)
{
	PQconninfoOption *opts;
	char *errmsg = NULL, **v;
	size_t n = 0, a = 0;

	if (!(opts = PQconninfoParse(dsn, &errmsg))) {
		PQfreemem(errmsg); /* may quote the DSN */
		err_set(e, "the PostgreSQL connection string (postgres.dsn) "
			   "is malformed; check its syntax");
		return NULL;
	}
	v = NULL;
	for (char **p = environ; *p; p++) {
		if (strncmp(*p, "PG", 2) == 0)
			continue;
		xgrow(&v, &a, n + 2, sizeof(*v));
		v[n++] = xstrdup(*p);
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val || !o->envvar)
			continue;
		xgrow(&v, &a, n + 2, sizeof(*v));
		v[n++] = xprintf("%s=%s", o->envvar, o->val);
	}
	xgrow(&v, &a, n + 2, sizeof(*v));
	v[n++] = xstrdup("PGAPPNAME=pressctl");
	v[n] = NULL;
	PQconninfoFree(opts);
	return v;
}

static void
env_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++) {
		/* PGPASSWORD among them: wipe, then free */
		memset(v[i], 0, strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

/*
 * Start tool with argv, standard input in_fd and output out_fd (-1:
 * /dev/null), standard error collected. The child keeps no other
 * descriptor (close_range), so no connection of pressctl leaks into it.
 * Between fork and exec only async-signal-safe calls. 0, or -1 with e.
 */
static int
spawn(struct child *c, const char *tool, char *const argv[], char *const envp[],
      int in_fd, int out_fd, struct err *e)
{
	int ep[2] = { -1, -1 }, null = -1;
	char *path = tool_path(tool);

	memset(c, 0, sizeof(*c));
	c->tool = tool;
	c->pid = -1;
	c->err_fd = -1;
	strbuf_init(&c->err, STDERR_CAP + 1);
	if (!path)
		return err_set(e,
			       "cannot start %s: it is not on PATH; install "
			       "the PostgreSQL client tools "
			       "(postgresql-client) or set PRESS_PG_BINDIR",
			       tool);
	if (cloexec_pipe(ep) < 0 ||
	    (null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		err_set(e, "cannot start %s: %s", tool, strerror(errno));
		goto fail;
	}
	c->pid = fork();
	if (c->pid < 0) {
		err_set(e, "cannot start %s: fork: %s", tool, strerror(errno));
		goto fail;
	}
	if (c->pid == 0) {
		if (dup2(in_fd >= 0 ? in_fd : null, 0) < 0 ||
		    dup2(out_fd >= 0 ? out_fd : null, 1) < 0 ||
		    dup2(ep[1], 2) < 0)
			_exit(127);
		syscall(SYS_close_range, 3U, ~0U, 0U);
		signal(SIGPIPE, SIG_DFL); /* main ignores it; exec keeps that */
		execve(path, argv, envp);
		_exit(127);
	}
	close(ep[1]);
	close(null);
	free(path);
	c->err_fd = ep[0];
	c->draining = pthread_create(&c->drain, NULL, drain_main, c) == 0;
	return 0;
fail:
	if (ep[0] >= 0)
		close(ep[0]);
	if (ep[1] >= 0)
		close(ep[1]);
	if (null >= 0)
		close(null);
	free(path);
	c->pid = -1;
	return -1;
}

/* Wait for the child; 0 when it exited 0, else -1 with e naming the tool,
 * how it ended and the last line of its standard error (secrets cleaned
 * out). */
static int
reap(struct child *c, const char *what, const char *secret, struct err *e)
{
	int status = 0, ret = 0;
	char msg[768];
	const char *secrets[1] = { secret };

	if (c->pid > 0)
		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
	if (c->draining)
		pthread_join(c->drain, NULL);
	if (c->err_fd >= 0)
		close(c->err_fd);
	if (c->pid > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		/* the message: its standard error, on one line */
		while (c->err.len && (c->err.buf[c->err.len - 1] == '\n' ||
				      c->err.buf[c->err.len - 1] == ' '))
			strbuf_setlen(&c->err, c->err.len - 1);
		pg_clean_msg(msg, sizeof(msg),
			     c->err.len ? c->err.buf : "no message", secrets,
			     secret ? 1 : 0);
		if (WIFSIGNALED(status))
			err_set(e, "%s: %s was killed by signal %d: %s", what,
				c->tool, WTERMSIG(status), msg);
		else
			err_set(e, "%s: %s failed (exit %d): %s", what, c->tool,
				WEXITSTATUS(status), msg);
		ret = -1;
	}
	strbuf_release(&c->err);
	c->pid = -1;
	return ret;
}

static void
stop(struct child *c)
{
	if (c->pid > 0)
		kill(c->pid, SIGTERM);
}

/* The DSN's password, for cleaning messages (a new string or NULL). */
static char *
dsn_password(const char *dsn)
{
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	char *pw = NULL;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			pw = xstrdup(o->val);
	PQconninfoFree(opts);
	return pw;
}

/* --- describe ---------------------------------------------------------- */

/* Ordinary tables and materialized views of $1, by name. */
static const char tables_sql[] =
	"SELECT c.relname FROM pg_class c"
	"  JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')"
	" ORDER BY c.relname COLLATE \"C\"";

/* The structure, one line per fact, in a stable order. */
static const char structure_sql[] =
	"SELECT string_agg(line, E'\\n' ORDER BY line COLLATE \"C\") FROM ("
	" SELECT 'col ' || c.relname || '.' || a.attname || ' ' ||"
	"        format_type(a.atttypid, a.atttypmod) ||"
	"        CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||"
	"        coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')"
	"        AS line"
	"   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
	"   JOIN pg_namespace n ON n.oid = c.relnamespace"
	"   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid"
	"        AND d.adnum = a.attnum"
	"  WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped"
	"    AND c.relkind IN ('r', 'p', 'm', 'v', 'f')"
	" UNION ALL"
	" SELECT 'con ' || c.relname || ' ' || k.conname || ' ' ||"
	"        pg_get_constraintdef(k.oid)"
	"   FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
	"   JOIN pg_namespace n ON n.oid = c.relnamespace"
	"  WHERE n.nspname = $1"
	" UNION ALL"
	" SELECT 'idx ' || i.indexname || ' ' ||"
	"        regexp_replace(i.indexdef, ' ON [^ ]+\\.', ' ON ')"
	"   FROM pg_indexes i WHERE i.schemaname = $1"
	" UNION ALL"
	" SELECT 'rel ' || c.relname || ' ' || c.relkind::text"
	"   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	"  WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm', 'v', 'S', 'f')"
	") facts";

/* Fill e from a failed result; -1. */
static int
fail(PGconn *c, const PGresult *r, const char *what, struct err *e)
{
	const char *p = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) :
			    NULL;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[768];

	pg_clean_msg(msg, sizeof(msg), p ? p : PQerrorMessage(c), NULL, 0);
	if (pg_transient(c, state, p))
		return err_transient(e, "%s: %s", what, msg);
	return err_set(e, "%s: %s", what, msg);
}

static PGresult *
query(PGconn *c, const char *sql, int n, const char *const *params,
      const char *what, struct err *e)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);

	if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
		return r;
	fail(c, r, what, e);
	PQclear(r);
	return NULL;
}

/* The fingerprint, and (text not NULL) the structure it hashes, one
 * fact per line (a new string). */
static int
fingerprint_of(PGconn *c, const char *schema, char out[65], char **text,
	       struct err *e)
{
	const char *p[1] = { schema };
	PGresult *r = query(c, structure_sql, 1, p,
			    "cannot read the schema's structure", e);

	if (!r)
		return -1;
	hash_sha256_hex(out, PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)));
	if (text)
		*text = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int
pgdump_open(struct pgdump **out, const char *dsn, const char *schema,
	    struct err *e)
{
	struct pgdump *d = xcalloc(1, sizeof(*d));
	const char *p[1] = { schema };
	char what[256];
	PGresult *r = NULL;

	*out = NULL;
	snprintf(what, sizeof(what), "cannot open schema '%s' for a backup",
		 schema);
	d->dsn = xstrdup(dsn);
	d->schema = xstrdup(schema);
	if (!(d->conn = pg_connect(dsn, "pressctl backup", CONNECT_TIMEOUT_S, 0,
				   0, e))) {
		err_wrap(e, "%s", what);
		goto fail;
	}
	if (!(r = query(d->conn,
			"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
			NULL, what, e)))
		goto fail;
	PQclear(r);
	if (!(r = query(d->conn,
			"SELECT pg_export_snapshot(),"
			" EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
			1, p, what, e)))
		goto fail;
	if (*PQgetvalue(r, 0, 1) != 't') {
		err_set(e, "%s: it does not exist", what);
		goto fail;
	}
	d->snapshot = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	*out = d;
	return 0;
fail:
	PQclear(r);
	pgdump_close(d);
	return -1;
}

static void describe_bg_join(struct pgdump *d);

void
pgdump_close(struct pgdump *d)
{
	if (!d)
		return;
	if (d->bg) {
		char buf[256];

		/* A failed backup: its describe is of no use any more. */
		if (d->bg->cancel)
			PQcancel(d->bg->cancel, buf, sizeof(buf));
		describe_bg_join(d);
	}
	PQfinish(d->conn);
	if (d->dsn)
		memset(d->dsn, 0, strlen(d->dsn));
	free(d->dsn);
	free(d->schema);
	free(d->snapshot);
	free(d);
}

/* count and checksum of every table, in one statement. */
static int
sums(PGconn *c, const char *schema, PGresult *names, json_t *out, struct err *e)
{
	struct strbuf sql;
	PGresult *r = NULL;
	int n = PQntuples(names), ret = -1;

	if (n == 0)
		return 0;
	strbuf_init(&sql, 0);
	for (int i = 0; i < n; i++) {
		strbuf_addf(
			&sql,
			"%sSELECT %d, count(*), coalesce(sum("
			"hashtextextended((press_row.*)::text, 0)::numeric), 0)"
			" FROM ",
			i ? " UNION ALL " : "", i);
		sqltext_ident(&sql, schema);
		strbuf_addch(&sql, '.');
		sqltext_ident(&sql, PQgetvalue(names, i, 0));
		strbuf_addstr(&sql, " press_row");
	}
	if (!(r = query(c, sql.buf, 0, NULL, "cannot count the tables' rows",
			e)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		long t = strtol(PQgetvalue(r, i, 0), NULL, 10);

		if (t < 0 || t >= n)
			continue;
		json_array_append_new(
			out, json_pack("{s:s, s:I, s:s}", "name",
				       PQgetvalue(names, t, 0), "rows",
				       (json_int_t)strtoll(PQgetvalue(r, i, 1),
							   NULL, 10),
				       "checksum", PQgetvalue(r, i, 2)));
	}
	ret = 0;
out:
	PQclear(r);
	strbuf_release(&sql);
	return ret;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(
			      json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(
			      json_object_get(*(json_t *const *)b, "name")));
}

int
pgdump_describe(struct pgdump *d, json_t **tables, char fingerprint[65],
		char **structure, char **version, struct err *e)
{
	const char *p[1] = { d->schema };
	PGresult *names = NULL, *r = NULL;
	json_t *t = json_array(), **v = NULL;
	size_t n;
	int ret = -1;

	*tables = NULL;
	*version = NULL;
	*structure = NULL;
	if (!(names = query(d->conn, tables_sql, 1, p,
			    "cannot list the schema's tables", e)) ||
	    sums(d->conn, d->schema, names, t, e) < 0 ||
	    fingerprint_of(d->conn, d->schema, fingerprint, structure, e) < 0 ||
	    !(r = query(d->conn, "SHOW server_version", 0, NULL,
			"cannot read the server version", e)))
		goto out;
	/* sorted by name whatever UNION ALL returned */
	n = json_array_size(t);
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(t, i));
	qsort(v, n, sizeof(*v), by_name);
	json_array_clear(t);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(t, v[i]);
	*version = xstrdup(PQgetvalue(r, 0, 0));
	*tables = t;
	t = NULL;
	ret = 0;
out:
	free(v);
	json_decref(t);
	PQclear(names);
	PQclear(r);
	if (ret < 0) {
		free(*structure);
		*structure = NULL;
		err_wrap(e, "cannot describe schema '%s'", d->schema);
	}
	return ret;
}

static void *
describe_main(void *arg)
{
	struct pgdump *d = arg;
	struct describe_bg *bg = d->bg;

	bg->ret = pgdump_describe(d, &bg->tables, bg->fingerprint,
				  &bg->structure, &bg->version, &bg->err);
	return NULL;
}

/* Free what the (joined) describe thread made and did not hand on. */
static void
describe_bg_free(struct pgdump *d)
{
	struct describe_bg *bg = d->bg;

	if (bg->cancel)
		PQfreeCancel(bg->cancel);
	json_decref(bg->tables);
	free(bg->structure);
	free(bg->version);
	free(bg);
	d->bg = NULL;
}

/* Wait for the describe thread and free what it made. */
static void
describe_bg_join(struct pgdump *d)
{
	pthread_join(d->bg->tid, NULL);
	describe_bg_free(d);
}

int
pgdump_describe_begin(struct pgdump *d, struct err *e)
{
	struct describe_bg *bg = xcalloc(1, sizeof(*bg));

	/* Made here, before the thread owns the connection. */
	bg->cancel = PQgetCancel(d->conn);
	d->bg = bg;
	if (pthread_create(&bg->tid, NULL, describe_main, d) != 0) {
		if (bg->cancel)
			PQfreeCancel(bg->cancel);
		free(bg);
		d->bg = NULL;
		return err_set(e,
			       "cannot describe schema '%s': cannot start a "
			       "thread",
			       d->schema);
	}
	return 0;
}

int
pgdump_describe_end(struct pgdump *d, json_t **tables, char fingerprint[65],
		    char **structure, char **version, struct err *e)
{
	struct describe_bg *bg = d->bg;
	int ret;

	*tables = NULL;
	*structure = NULL;
	*version = NULL;
	if (!bg)
		return err_set(e, "cannot describe schema '%s': not started",
			       d->schema);
	pthread_join(bg->tid, NULL);
	ret = bg->ret;
	if (ret < 0) {
		if (e)
			*e = bg->err;
	} else {
		*tables = bg->tables;
		*structure = bg->structure;
		*version = bg->version;
		memcpy(fingerprint, bg->fingerprint, 65);
		bg->tables = NULL;
		bg->structure = bg->version = NULL;
	}
	describe_bg_free(d);
	return ret;
}

int
pgdump_exists(const char *dsn, const char *schema, int *exists, struct err *e)
{
	PGconn *c = pg_connect(dsn, "pressctl", CONNECT_TIMEOUT_S, 0, 0, e);
	const char *p[1] = { schema };
	PGresult *r;

	*exists = 0;
	if (!c)
		return -1;
	r = query(c,
		  "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname"
		  " = $1)",
		  1, p, "cannot look the schema up", e);
	if (r)
		*exists = *PQgetvalue(r, 0, 0) == 't';
	PQclear(r);
	PQfinish(c);
	return r ? 0 : -1;
}

int
pgdump_structure(const char *dsn, const char *schema, char fingerprint[65],
		 char **structure, struct err *e)
{
	PGconn *c = pg_connect(dsn, "pressctl", CONNECT_TIMEOUT_S, 0, 0, e);
	int ret;

	if (structure)
		*structure = NULL;
	if (!c)
		return -1;
	ret = fingerprint_of(c, schema, fingerprint, structure, e);
	PQfinish(c);
	return ret;
}

int
pgdump_fingerprints(const char *dsn, const char *const *schemas, size_t n,
		    char (*fingerprints)[65], struct err *e)
{
	PGconn *c;
	int ret = 0;

	if (!n)
		return 0;
	if (!(c = pg_connect(dsn, "pressctl", CONNECT_TIMEOUT_S, 0, 0, e)))
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *p[1] = { schemas[i] };
		PGresult *r = query(c,
				    "SELECT 1 FROM pg_namespace"
				    " WHERE nspname = $1",
				    1, p, "cannot look up a schema", e);

		fingerprints[i][0] = '\0';
		if (!r) {
			ret = -1;
			break;
		}
		if (PQntuples(r) == 1)
			ret = fingerprint_of(c, schemas[i], fingerprints[i],
					     NULL, e);
		PQclear(r);
		if (ret < 0)
			err_wrap(e, "schema '%s'", schemas[i]);
	}
	PQfinish(c);
	return ret;
}

int
pgdump_table_sums(const char *dsn, const char *schema, const char *const *names,
		  size_t n, json_t **out, struct err *e)
{
	PGconn *c = pg_connect(dsn, "pressctl", CONNECT_TIMEOUT_S, 0, 0, e);
	const char *p[2] = { schema, NULL };
	struct strbuf list;
	PGresult *have = NULL;
	json_t *t = json_array();
	int ret = -1;

	*out = NULL;
	strbuf_init(&list, 0);
	if (!c)
		goto out;
	/* Those of names that exist, as sums() wants them. */
	strbuf_addch(&list, '{');
	for (size_t i = 0; i < n; i++) {
		strbuf_addstr(&list, i ? ",\"" : "\"");
		for (const char *s = names[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				strbuf_addch(&list, '\\');
			strbuf_addch(&list, *s);
		}
		strbuf_addch(&list, '"');
	}
	strbuf_addch(&list, '}');
	p[1] = list.buf;
	if (!(have = query(c,
			   "SELECT c.relname FROM pg_class c JOIN pg_namespace"
			   " s ON s.oid = c.relnamespace WHERE s.nspname = $1"
			   " AND c.relkind IN ('r', 'm')"
			   " AND c.relname = ANY ($2::text[])"
			   " ORDER BY c.relname COLLATE \"C\"",
			   2, p, "cannot look the tables up", e)) ||
	    sums(c, schema, have, t, e) < 0)
		goto out;
	*out = t;
	t = NULL;
	ret = 0;
out:
	json_decref(t);
	PQclear(have);
	PQfinish(c);
	strbuf_release(&list);
	if (ret < 0)
		err_wrap(e, "cannot checksum tables of schema '%s'", schema);
	return ret;
}

/* --- dump ------------------------------------------------------------ */

int
pgdump_stream(struct pgdump *d, blob_sink sink, void *arg, struct err *e)
{
	char **env = child_env(d->dsn, e), *pw = dsn_password(d->dsn);
	char *schema_arg = NULL, *snap_arg = NULL, what[256];
	int out[2] = { -1, -1 }, ret = -1, failed = 0;
	unsigned char *buf = xmalloc(READ_CHUNK);
	struct child c = { .pid = -1, .err_fd = -1 };
	struct err se;
	ssize_t n;

	snprintf(what, sizeof(what), "cannot dump schema '%s'", d->schema);
	if (!env)
		goto out;
	/* --schema takes a pattern: quote the name so that it is one. */
	{
		struct strbuf q;

		strbuf_init(&q, 0);
		sqltext_ident(&q, d->schema);
		schema_arg = xprintf("--schema=%s", q.buf);
		strbuf_release(&q);
	}
	snap_arg = xprintf("--snapshot=%s", d->snapshot);
	{
		char *argv[] = { (char *)"pg_dump",
				 (char *)"-Fc",
				 (char *)"--no-password",
				 schema_arg,
				 snap_arg,
				 NULL };

		if (cloexec_pipe(out) < 0) {
			err_set(e, "%s: pipe: %s", what, strerror(errno));
			goto out;
		}
		if (spawn(&c, "pg_dump", argv, env, -1, out[1], e) < 0)
			goto out;
	}
	close(out[1]);
	out[1] = -1;
	for (;;) {
		n = read(out[0], buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(e, "%s: reading pg_dump's output: %s", what,
				strerror(errno));
			failed = 1;
			break;
		}
		if (n == 0)
			break;
		if (sink(arg, buf, (size_t)n, e) < 0) {
			failed = 1;
			break;
		}
	}
	if (failed) {
		stop(&c);
		reap(&c, what, pw, &se);
		goto out;
	}
	if (reap(&c, what, pw, e) < 0)
		goto out;
	ret = 0;
out:
	if (c.pid > 0) {
		stop(&c);
		reap(&c, what, pw, &se);
	}
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	free(buf);
	free(schema_arg);
	free(snap_arg);
	env_free(env);
	if (pw)
		memset(pw, 0, strlen(pw));
	free(pw);
	return ret;
}

/* --- restore --------------------------------------------------------- */

/* write all of data to fd; 0 or -1 (errno). */
static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct feed_fd {
	int fd;
	const char *tool;
	int broken; /* the tool stopped reading (EPIPE) */
};

static int
to_fd(void *arg, const void *data, size_t len, struct err *e)
{
	struct feed_fd *f = arg;

	if (write_all(f->fd, data, len) < 0) {
		f->broken = errno == EPIPE;
		return err_set(e, "cannot write to %s: %s", f->tool,
			       strerror(errno));
	}
	return 0;
}

/* "IF EXISTS name THEN ALTER SCHEMA name RENAME TO to" as a DO block. */
static void
rename_if_exists(struct strbuf *sb, const char *from, const char *to)
{
	strbuf_addstr(sb, "DO $press$ BEGIN IF EXISTS (SELECT 1 FROM "
			  "pg_namespace WHERE nspname = ");
	sqltext_literal(sb, from);
	strbuf_addstr(sb, ") THEN ALTER SCHEMA ");
	sqltext_ident(sb, from);
	strbuf_addstr(sb, " RENAME TO ");
	sqltext_ident(sb, to);
	strbuf_addstr(sb, "; END IF; END $press$;\n");
}

static void
prologue(struct strbuf *sb, const struct pgrestore_opts *o, const char *hold)
{
	strbuf_addstr(sb, "SET client_min_messages = warning;\nBEGIN;\n"
			  "SET LOCAL statement_timeout = 0;\n");
	/* pressctl's lock of the target, as its schema actions take it, and
	 * of the source's name when the live schema of that name is moved
	 * aside meanwhile (a clone): two clones of one source take turns.
	 * Both in name order, so that two restores never wait on each
	 * other. */
	strbuf_addstr(sb, "SELECT pg_advisory_xact_lock(" LOCK_CLASS
			  ", hashtext('schema:' || n)) FROM (VALUES (");
	sqltext_literal(sb, o->target_schema);
	strbuf_addstr(sb, ")");
	if (strcmp(o->source_schema, o->target_schema) != 0) {
		strbuf_addstr(sb, ", (");
		sqltext_literal(sb, o->source_schema);
		strbuf_addstr(sb, ")");
	}
	strbuf_addstr(sb, ") v(n) ORDER BY n COLLATE \"C\";\n");
	if (o->keep_as) {
		strbuf_addstr(sb, "ALTER SCHEMA ");
		sqltext_ident(sb, o->target_schema);
		strbuf_addstr(sb, " RENAME TO ");
		sqltext_ident(sb, o->keep_as);
		strbuf_addstr(sb, ";\n");
	}
	if (strcmp(o->source_schema, o->target_schema) != 0 || !o->keep_as)
		rename_if_exists(sb, o->source_schema, hold);
}

/* Hand every object of the target to its owner (pg_restore --no-owner
 * made them the admin's): relations (owned sequences follow their
 * table), routines, standalone types; then the schema, as the driver
 * does. */
static void
ownership(struct strbuf *sb, const struct pgrestore_opts *o)
{
	strbuf_addstr(sb, "DO $press$ DECLARE r record; o text := ");
	sqltext_literal(sb, o->owner);
	strbuf_addstr(sb, "; n oid := (SELECT oid FROM pg_namespace WHERE "
			  "nspname = ");
	sqltext_literal(sb, o->target_schema);
	strbuf_addstr(
		sb,
		"); BEGIN\n"
		" FOR r IN SELECT c.oid::regclass AS x, c.relkind FROM pg_class c"
		" WHERE c.relnamespace = n AND c.relkind IN ('r','p','v','m','S','f')"
		" AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid ="
		" 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN"
		" ('a','i')) LOOP EXECUTE format('ALTER %s %s OWNER TO %I',"
		" CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'"
		" WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'"
		" ELSE 'TABLE' END, r.x, o); END LOOP;\n"
		" FOR r IN SELECT p.oid::regprocedure AS x, p.prokind FROM pg_proc p"
		" WHERE p.pronamespace = n LOOP EXECUTE format('ALTER %s %s OWNER"
		" TO %I', CASE r.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN"
		" 'AGGREGATE' ELSE 'FUNCTION' END, r.x, o); END LOOP;\n"
		" FOR r IN SELECT t.oid::regtype AS x, t.typtype FROM pg_type t"
		" WHERE t.typnamespace = n AND (t.typtype IN ('d','e','r') OR"
		" (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid ="
		" t.typrelid) = 'c')) LOOP EXECUTE format('ALTER %s %s OWNER TO %I',"
		" CASE r.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, r.x, o);"
		" END LOOP;\nEND $press$;\n");
	strbuf_addstr(sb, "ALTER SCHEMA ");
	sqltext_ident(sb, o->target_schema);
	strbuf_addstr(sb, " OWNER TO ");
	sqltext_ident(sb, o->owner);
	strbuf_addstr(sb, ";\nREVOKE ALL ON SCHEMA ");
	sqltext_ident(sb, o->target_schema);
	strbuf_addstr(sb, " FROM PUBLIC;\nGRANT USAGE, CREATE ON SCHEMA ");
	sqltext_ident(sb, o->target_schema);
	strbuf_addstr(sb, " TO ");
	sqltext_ident(sb, o->owner);
	strbuf_addstr(sb, ";\n");
}

static void
epilogue(struct strbuf *sb, const struct pgrestore_opts *o, const char *hold,
	 int commit)
{
	json_t *t;
	size_t i;

	if (strcmp(o->source_schema, o->target_schema) != 0) {
		strbuf_addstr(sb, "ALTER SCHEMA ");
		sqltext_ident(sb, o->source_schema);
		strbuf_addstr(sb, " RENAME TO ");
		sqltext_ident(sb, o->target_schema);
		strbuf_addstr(sb, ";\n");
	}
	if (strcmp(o->source_schema, o->target_schema) != 0 || !o->keep_as)
		rename_if_exists(sb, hold, o->source_schema);
	/* Verification: every table of the backup, its rows and checksum,
	 * and no other table. */
	strbuf_addstr(sb, "DO $press$ DECLARE n bigint; s numeric; BEGIN\n");
	json_array_foreach(o->tables, i, t) {
		const char *name = json_string_value(
			json_object_get(t, "name"));
		const char *sum = json_string_value(
			json_object_get(t, "checksum"));
		json_int_t rows = json_integer_value(
			json_object_get(t, "rows"));

		if (!name || !sum)
			continue;
		strbuf_addstr(
			sb,
			" SELECT count(*), coalesce(sum("
			"hashtextextended((press_row.*)::text, 0)::numeric), 0)"
			" INTO n, s FROM ");
		sqltext_ident(sb, o->target_schema);
		strbuf_addch(sb, '.');
		sqltext_ident(sb, name);
		strbuf_addf(sb, " press_row;\n IF n <> %lld OR s <> ",
			    (long long)rows);
		sqltext_literal(sb, sum);
		strbuf_addstr(sb,
			      "::numeric THEN RAISE EXCEPTION 'restore "
			      "verification failed: table % has % rows "
			      "(checksum %), the backup says % (checksum %)', ");
		sqltext_literal(sb, name);
		strbuf_addf(sb, ", n, s, %lld, ", (long long)rows);
		sqltext_literal(sb, sum);
		strbuf_addstr(sb, "; END IF;\n");
	}
	strbuf_addstr(sb, " SELECT count(*) INTO n FROM pg_class c JOIN "
			  "pg_namespace ns ON ns.oid = c.relnamespace WHERE "
			  "ns.nspname = ");
	sqltext_literal(sb, o->target_schema);
	strbuf_addf(sb, " AND c.relkind IN ('r', 'm');\n IF n <> %zu THEN ",
		    json_array_size(o->tables));
	strbuf_addf(sb,
		    "RAISE EXCEPTION 'restore verification failed: %% "
		    "tables, the backup has %%', n, %zu; END IF;\n"
		    "END $press$;\n",
		    json_array_size(o->tables));
	/* A clone: neutralized and checked before anyone may use it. */
	if (o->neutralize) {
		strbuf_addstr(sb, "SET LOCAL search_path TO ");
		sqltext_ident(sb, o->target_schema);
		strbuf_addstr(sb, ", pg_catalog;\n");
		strbuf_addstr(sb, o->neutralize);
		strbuf_addstr(sb, "\n;\n");
	}
	if (o->neutralize_check) {
		strbuf_addstr(sb, "DO $press$ DECLARE v text; BEGIN EXECUTE ");
		sqltext_literal(sb, o->neutralize_check);
		strbuf_addstr(sb,
			      " INTO v; IF coalesce(v, '') <> '' THEN RAISE "
			      "EXCEPTION 'neutralization verification failed: "
			      "%', v; END IF; END $press$;\n");
	}
	if (o->neutralize || o->neutralize_check)
		strbuf_addstr(sb, "SET LOCAL search_path = '';\n");
	if (o->owner)
		ownership(sb, o);
	if (o->mark) {
		strbuf_addstr(sb, "COMMENT ON SCHEMA ");
		sqltext_ident(sb, o->target_schema);
		strbuf_addstr(sb, " IS ");
		sqltext_literal(sb, o->mark);
		strbuf_addstr(sb, ";\n");
	}
	strbuf_addstr(sb, commit ? "COMMIT;\n" : "ROLLBACK;\n");
}

struct restore_run {
	const struct pgrestore_opts *o;
	int (*feed)(void *, blob_sink, void *, struct err *);
	void *arg;
	int commit;
};

static int
restore(const struct restore_run *rr, struct err *e)
{
	const struct pgrestore_opts *o = rr->o;
	char **env = child_env(o->dsn, e), *pw = dsn_password(o->dsn);
	char *hold, what[256], th[SHA256_HEX_LEN + 1];
	int in[2] = { -1, -1 }, sql[2] = { -1, -1 }, ret = -1;
	struct child pr = { .pid = -1, .err_fd = -1 },
		     ps = { .pid = -1, .err_fd = -1 };
	struct strbuf text;
	struct feed_fd f;
	struct err se, fe;
	int fed;

	snprintf(what, sizeof(what), "cannot restore into schema '%s'",
		 o->target_schema);
	/* Where a live schema of the dump's name waits meanwhile: one name
	 * per restore, also among the workers of one process. */
	hash_sha256_hex(th, o->target_schema, strlen(o->target_schema));
	hold = xprintf("pressctl_hold_%ld_%.12s", (long)getpid(), th);
	strbuf_init(&text, 0);
	if (!env)
		goto out;
	if (cloexec_pipe(in) < 0 || cloexec_pipe(sql) < 0) {
		err_set(e, "%s: pipe: %s", what, strerror(errno));
		goto out;
	}
	{
		char *argv[] = { (char *)"psql",
				 (char *)"-X",
				 (char *)"-q",
				 (char *)"--no-password",
				 (char *)"-v",
				 (char *)"ON_ERROR_STOP=1",
				 (char *)"-f",
				 (char *)"-",
				 NULL };

		if (spawn(&ps, "psql", argv, env, sql[0], -1, e) < 0)
			goto out;
	}
	close(sql[0]);
	sql[0] = -1;
	prologue(&text, o, hold);
	if (write_all(sql[1], text.buf, text.len) < 0) {
		err_set(e, "%s: cannot write to psql: %s", what,
			strerror(errno));
		goto out;
	}
	{
		char *argv[] = { (char *)"pg_restore",
				 (char *)"--no-owner",
				 (char *)"--no-privileges",
				 (char *)"-f",
				 (char *)"-",
				 NULL };

		if (spawn(&pr, "pg_restore", argv, env, in[0], sql[1], e) < 0)
			goto out;
	}
	close(in[0]);
	in[0] = -1;
	f.fd = in[1];
	f.tool = "pg_restore";
	f.broken = 0;
	fed = rr->feed(rr->arg, to_fd, &f, &fe);
	close(in[1]);
	in[1] = -1;
	if (reap(&pr, what, pw, &se) < 0 || fed < 0) {
		struct err pe;

		/* psql gets no COMMIT: closing its input rolls back. A feed
		 * that failed on its own (a damaged object) says why; when
		 * psql stopped first (an SQL error), pg_restore and the feed
		 * failed on their pipes, and psql's error says why. */
		*e = fed < 0 ? fe : se;
		close(sql[1]);
		sql[1] = -1;
		if (reap(&ps, what, pw, &pe) < 0 && (fed == 0 || f.broken))
			*e = pe;
		goto out;
	}
	strbuf_reset(&text);
	epilogue(&text, o, hold, rr->commit);
	if (write_all(sql[1], text.buf, text.len) < 0) {
		err_set(e, "%s: cannot write to psql: %s", what,
			strerror(errno));
		goto out;
	}
	close(sql[1]);
	sql[1] = -1;
	if (reap(&ps, what, pw, e) < 0)
		goto out;
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (sql[i] >= 0)
			close(sql[i]);
	}
	if (pr.pid > 0) {
		stop(&pr);
		reap(&pr, what, pw, &se);
	}
	if (ps.pid > 0) /* input closed: it rolls back and ends */
		reap(&ps, what, pw, &se);
	strbuf_release(&text);
	env_free(env);
	free(hold);
	if (pw)
		memset(pw, 0, strlen(pw));
	free(pw);
	return ret;
}

int
pgrestore_run(const struct pgrestore_opts *o,
	      int (*feed)(void *, blob_sink, void *, struct err *), void *arg,
	      struct err *e)
{
	struct restore_run rr = { o, feed, arg, 1 };

	return restore(&rr, e);
}

int
pgrestore_test(const char *dsn, const char *source_schema, json_t *tables,
	       int (*feed)(void *, blob_sink, void *, struct err *), void *arg,
	       struct err *e)
{
	char *scratch = xprintf("pressctl_drill_%ld", (long)getpid());
	struct pgrestore_opts o = { .dsn = dsn,
				    .source_schema = source_schema,
				    .target_schema = scratch,
				    .tables = tables };
	struct restore_run rr = { &o, feed, arg, 0 };
	int ret = restore(&rr, e);

	free(scratch);
	return ret;
}
