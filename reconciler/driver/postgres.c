/*
 * postgres.c - the PostgreSQL driver: one role and one schema per
 * environment (docs/design.md §3), observed in one catalog round trip.
 *
 * Conventions (docs/state.md, "The PostgreSQL driver"):
 * - Values travel as parameters (PQexecParams); identifiers are quoted
 *   with PQescapeIdentifier. The few values a utility statement cannot
 *   take as a parameter are integers we format, and the password, sent
 *   only as a SCRAM verifier computed here (PQencryptPasswordConn) and
 *   quoted with PQescapeLiteral: the plaintext never reaches the server.
 * - In observed ACLs the public pseudo-role is the grantee "PUBLIC".
 * - A password cannot be observed: it is set on every CREATE/UPDATE of the
 *   role, which the core issues when the spec hash changes (bumping
 *   passwordGeneration) or the role drifted.
 * - Each action is one transaction that first takes a transaction-level
 *   advisory lock on the object, so workers and processes acting on one
 *   role or schema at once take turns instead of failing.
 * - Errors carry the server's primary message and SQLSTATE; connection
 *   loss, admin shutdown, serialization failures, deadlocks, too many
 *   connections, statement/lock timeouts are transient. A broken
 *   connection is reset at the start of the next call.
 * - libpq's notices ("schema already exists, skipping") are swallowed:
 *   library code never prints.
 */
#include "driver.h"
#include "pgutil.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../manifest/manifest.h"
#include "../util/strbuf.h"

#define CONNECT_TIMEOUT_S 10
#define STATEMENT_TIMEOUT_MS 30000

struct pg {
	PGconn *conn;
	char *platform; /* for the ownership mark */
};

/* --- small helpers ------------------------------------------------------ */

static void
wipe(char *s)
{
	volatile char *v = s;

	while (v && *v)
		*v++ = '\0';
}

/*
 * Fill e from a failed result r (may be NULL) on p's connection, with the
 * prefix what ("cannot create schema 'x'"). Returns -1.
 */
static int
fail(struct pg *p, const PGresult *r, struct err *e, const char *what)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *primary =
		r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char msg[768];

	pg_clean_msg(msg, sizeof(msg),
		     primary ? primary : PQerrorMessage(p->conn), NULL, 0);
	if (pg_transient(p->conn, state, primary)) {
		if (state)
			return err_transient(e, "%s: %s (%s)", what, msg,
					     state);
		return err_transient(e, "%s: %s", what, msg);
	}
	if (state)
		return err_set(e, "%s: %s (%s)", what, msg, state);
	return err_set(e, "%s: %s", what, msg);
}

/* The SQLSTATE of a failed result, or "". */
static const char *
sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

static int
res_ok(const PGresult *r)
{
	ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

static void rollback(struct pg *p);

/* Append the text[] literal of names[0..n) to sb: {"a","b"}. */
static void
array_literal(struct strbuf *sb, const char *const *names, size_t n)
{
	strbuf_addch(sb, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_addch(sb, '"');
		for (const char *s = names[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				strbuf_addch(sb, '\\');
			strbuf_addch(sb, *s);
		}
		strbuf_addch(sb, '"');
	}
	strbuf_addch(sb, '}');
}

/* A quoted identifier (new string, PQfreemem it), or NULL with e set. */
static char *
ident(struct pg *p, const char *name, struct err *e, const char *what)
{
	char *q = PQescapeIdentifier(p->conn, name, strlen(name));

	if (!q)
		fail(p, NULL, e, what);
	return q;
}

/* --- connection --------------------------------------------------------- */

/* Reset a broken connection; -1 (transient) if it stays broken. */
static int
ensure(struct pg *p, struct err *e)
{
	char msg[768];

	if (PQstatus(p->conn) == CONNECTION_OK)
		return 0;
	PQreset(p->conn);
	if (PQstatus(p->conn) == CONNECTION_OK)
		return 0;
	pg_clean_msg(msg, sizeof(msg), PQerrorMessage(p->conn), NULL, 0);
	return err_transient(e, "cannot connect to PostgreSQL: %s", msg);
}

static int
pg_open(void **h, const struct driver_env *env, struct err *e)
{
	struct pg *p;
	PGconn *c;
	int stmt_ms;

	*h = NULL;
	if (!env->pg_dsn || !*env->pg_dsn)
		return err_set(e, "cannot connect to PostgreSQL: no connection "
				  "string (postgres.dsn) given");
	stmt_ms = env->timeout_ms > 0 ? env->timeout_ms : STATEMENT_TIMEOUT_MS;
	c = pg_connect(env->pg_dsn, "pressctl",
		       env->timeout_ms > 0 ? (env->timeout_ms + 999) / 1000 :
					     CONNECT_TIMEOUT_S,
		       stmt_ms, stmt_ms, e);
	if (!c)
		return -1;
	p = xcalloc(1, sizeof(*p));
	p->conn = c;
	p->platform = xstrdup(env->platform && env->platform->name ?
				      env->platform->name :
				      "");
	*h = p;
	return 0;
}

static void
pg_close(void *h)
{
	struct pg *p = h;

	if (!p)
		return;
	PQfinish(p->conn);
	free(p->platform);
	free(p);
}

/* --- observe ------------------------------------------------------------ */

/*
 * One round trip for every requested role and schema. Roles: login,
 * connection limit, search_path (the database-specific setting wins over
 * the all-databases one, as at login), elevated attributes, and whether
 * the role can create in schema public. Schemas: owner and the ACL (a
 * NULL ACL is the default: the owner holds USAGE and CREATE), privileges
 * merged per grantee as "U", "C" or "UC"; size only for the sized ones
 * (a CASE runs the subqueries for those alone; rows are counted by
 * count_rows). Both: the comment that holds the ownership mark, and for
 * the checked ones whether they hold anything: a role on which any
 * object depends (owner, grants, in any database), a schema that
 * contains any object.
 */
static const char observe_sql[] =
	"WITH wr AS (SELECT DISTINCT unnest($1::text[])::name AS n),"
	"  ws AS (SELECT DISTINCT unnest($2::text[])::name AS n),"
	"  sz AS (SELECT DISTINCT unnest($3::text[])::name AS n),"
	"  cr AS (SELECT DISTINCT unnest($4::text[])::name AS n),"
	"  cs AS (SELECT DISTINCT unnest($5::text[])::name AS n),"
	"  pub AS (SELECT oid FROM pg_namespace WHERE nspname = 'public'),"
	"  db AS (SELECT oid FROM pg_database"
	"          WHERE datname = current_database())"
	" SELECT 'r', r.rolname::text, r.rolcanlogin, r.rolconnlimit,"
	"   (SELECT c FROM pg_db_role_setting s, unnest(s.setconfig) c"
	"     WHERE s.setrole = r.oid AND c LIKE 'search\\_path=%'"
	"       AND (s.setdatabase = 0 OR s.setdatabase = (SELECT oid FROM db))"
	"     ORDER BY s.setdatabase DESC LIMIT 1),"
	"   concat_ws(',', CASE WHEN r.rolsuper THEN 'superuser' END,"
	"     CASE WHEN r.rolcreatedb THEN 'createdb' END,"
	"     CASE WHEN r.rolcreaterole THEN 'createrole' END,"
	"     CASE WHEN r.rolreplication THEN 'replication' END,"
	"     CASE WHEN r.rolbypassrls THEN 'bypassrls' END),"
	"   coalesce(has_schema_privilege(r.oid, (SELECT oid FROM pub),"
	"                                 'CREATE'), false),"
	"   NULL::text, NULL::text, NULL::numeric, NULL::numeric,"
	"   shobj_description(r.oid, 'pg_authid'),"
	"   CASE WHEN cr.n IS NOT NULL THEN EXISTS (SELECT 1 FROM pg_shdepend d"
	"     WHERE d.refclassid = 'pg_authid'::regclass"
	"       AND d.refobjid = r.oid) END"
	"  FROM pg_roles r JOIN wr ON r.rolname = wr.n"
	"  LEFT JOIN cr ON cr.n = r.rolname"
	" UNION ALL"
	" SELECT 's', n.nspname::text, NULL, NULL, NULL, NULL, NULL,"
	"   pg_get_userbyid(n.nspowner)::text,"
	"   (SELECT coalesce(json_agg(json_build_object("
	"             'grantee', g.grantee, 'privileges', g.privs)"
	"             ORDER BY g.grantee COLLATE \"C\"), '[]')::text"
	"      FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
	"                   ELSE pg_get_userbyid(a.grantee)::text"
	"                   END AS grantee,"
	"                   CASE WHEN bool_or(a.privilege_type = 'USAGE')"
	"                        THEN 'U' ELSE '' END ||"
	"                   CASE WHEN bool_or(a.privilege_type = 'CREATE')"
	"                        THEN 'C' ELSE '' END AS privs"
	"              FROM aclexplode(coalesce(n.nspacl,"
	"                              acldefault('n', n.nspowner))) a"
	"             GROUP BY 1) g),"
	"   CASE WHEN sz.n IS NOT NULL THEN"
	"     (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)"
	"        FROM pg_class c WHERE c.relnamespace = n.oid"
	"         AND c.relkind IN ('r', 'm', 'S')) END,"
	"   NULL::numeric,"
	"   obj_description(n.oid, 'pg_namespace'),"
	"   CASE WHEN cs.n IS NOT NULL THEN EXISTS (SELECT 1 FROM pg_depend d"
	"     WHERE d.refclassid = 'pg_namespace'::regclass"
	"       AND d.refobjid = n.oid) END"
	"  FROM pg_namespace n JOIN ws ON n.nspname = ws.n"
	"  LEFT JOIN sz ON sz.n = n.nspname"
	"  LEFT JOIN cs ON cs.n = n.nspname";

/*
 * The search_path setting "search_path=acme_staging" as the schema name
 * it names: a single identifier is unquoted ("a""b" -> a"b); a list is
 * kept as written.
 */
static char *
search_path_value(const char *setting)
{
	const char *v = strchr(setting, '=');
	struct strbuf sb;

	v = v ? v + 1 : setting;
	if (*v != '"')
		return xstrdup(v);
	strbuf_init(&sb, 0);
	for (const char *s = v + 1; *s; s++) {
		if (*s == '"' && s[1] == '"') {
			strbuf_addch(&sb, '"');
			s++;
		} else if (*s == '"') {
			if (s[1] != '\0') { /* more than one entry */
				strbuf_release(&sb);
				return xstrdup(v);
			}
			break;
		} else {
			strbuf_addch(&sb, *s);
		}
	}
	return strbuf_detach(&sb, NULL);
}

static long long
num_or(const PGresult *r, int row, int col, long long dflt)
{
	if (PQgetisnull(r, row, col))
		return dflt;
	return (long long)strtod(PQgetvalue(r, row, col), NULL);
}

/* Columns 11 and 12 of observe_sql: the mark, and whether the object
 * holds anything (NULL when not asked). */
static void
ownership(struct live_item *it, const PGresult *r, int i)
{
	it->mark_seen = 1;
	it->mark = PQgetisnull(r, i, 11) ?
			   NULL :
			   driver_mark_owner(PQgetvalue(r, i, 11));
	it->has_data = PQgetisnull(r, i, 12) ? -1 :
					       *PQgetvalue(r, i, 12) == 't';
}

static void
add_role(struct live *out, const PGresult *r, int i)
{
	struct live_item *it = live_add(out, LIVE_ROLE, PQgetvalue(r, i, 1));
	json_t *st = json_object(), *attrs = json_array();
	const char *a = PQgetvalue(r, i, 5);
	char *sp;

	json_object_set_new(st, "login",
			    json_boolean(*PQgetvalue(r, i, 2) == 't'));
	json_object_set_new(st, "connectionLimit",
			    json_integer(num_or(r, i, 3, -1)));
	if (PQgetisnull(r, i, 4)) {
		json_object_set_new(st, "searchPath", json_null());
	} else {
		sp = search_path_value(PQgetvalue(r, i, 4));
		json_object_set_new(st, "searchPath", json_string(sp));
		free(sp);
	}
	while (*a) { /* "superuser,createdb" */
		size_t l = strcspn(a, ",");

		json_array_append_new(attrs, json_stringn(a, l));
		a += l + (a[l] == ',');
	}
	json_object_set_new(st, "attributes", attrs);
	json_object_set_new(st, "publicCreate",
			    json_boolean(*PQgetvalue(r, i, 6) == 't'));
	it->state = st;
	ownership(it, r, i);
}

static void
add_schema(struct live *out, const PGresult *r, int i)
{
	struct live_item *it = live_add(out, LIVE_SCHEMA, PQgetvalue(r, i, 1));
	json_t *st = json_object(), *acl;

	json_object_set_new(st, "owner", json_string(PQgetvalue(r, i, 7)));
	acl = json_loads(PQgetvalue(r, i, 8), 0, NULL);
	json_object_set_new(st, "acl", acl ? acl : json_array());
	it->state = st;
	it->bytes = num_or(r, i, 9, -1);
	ownership(it, r, i);
}

/*
 * Exact row counts of the sized schemas (items from first on), so that a
 * plan never calls "~0 rows" a table that holds data (reltuples is an
 * estimate, and -1 or 0 until the table is analyzed). Every table is
 * counted with a LIMIT, all in one statement under a statement timeout;
 * the stages lower the limit when the timeout hits, down to one row per
 * table (does it hold anything at all). A table that reaches its limit
 * makes the schema's count a lower bound (count_more). A schema the
 * connection may not read keeps count -1 (unknown): observation goes on.
 */
static const struct count_stage {
	long long limit;
	int timeout_ms;
} count_stages[] = {
	{ 1000000, 3000 },
	{ 1000, 3000 },
	{ 1, 10000 },
};

static const char tables_sql[] =
	"SELECT n.nspname, quote_ident(n.nspname) || '.' ||"
	"       quote_ident(c.relname)"
	"  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'm')"
	" ORDER BY 1, 2";

/* One stage: 1 done, 0 timed out, -1 failed (counts stay unknown). */
static int
count_stage(struct pg *p, const PGresult *tables, long long *counts,
	    const struct count_stage *st)
{
	struct strbuf sql;
	PGresult *r = NULL;
	int ret = -1, n = PQntuples(tables);
	char setting[64];

	strbuf_init(&sql, 0);
	for (int i = 0; i < n; i++)
		strbuf_addf(&sql,
			    "%sSELECT %d, count(*) FROM (SELECT 1 FROM %s"
			    " LIMIT %lld) x",
			    i ? " UNION ALL " : "", i, PQgetvalue(tables, i, 1),
			    st->limit + 1);
	snprintf(setting, sizeof(setting), "SET LOCAL statement_timeout = %d",
		 st->timeout_ms);
	if (sql.overflow || !res_ok(r = PQexec(p->conn, "BEGIN READ ONLY")))
		goto out;
	PQclear(r);
	if (!res_ok(r = PQexec(p->conn, setting)))
		goto out;
	PQclear(r);
	r = PQexec(p->conn, sql.buf);
	if (!res_ok(r)) {
		ret = strcmp(sqlstate(r), "57014") == 0 ? 0 : -1;
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		long t = strtol(PQgetvalue(r, i, 0), NULL, 10);

		if (t >= 0 && t < n)
			counts[t] = strtoll(PQgetvalue(r, i, 1), NULL, 10);
	}
	ret = 1;
out:
	PQclear(r);
	rollback(p);
	strbuf_release(&sql);
	return ret;
}

static void
count_rows(struct pg *p, const char *sized_literal, struct live *out,
	   size_t first)
{
	const char *params[1] = { sized_literal };
	const struct count_stage *st = NULL;
	PGresult *tables;
	long long *counts = NULL;
	int n, rc = -1;

	tables = PQexecParams(p->conn, tables_sql, 1, NULL, params, NULL, NULL,
			      0);
	if (PQresultStatus(tables) != PGRES_TUPLES_OK)
		goto out;
	n = PQntuples(tables);
	counts = xcalloc((size_t)n + 1, sizeof(*counts));
	for (size_t k = 0;
	     n > 0 && k < sizeof(count_stages) / sizeof(count_stages[0]); k++) {
		st = &count_stages[k];
		if ((rc = count_stage(p, tables, counts, st)) != 0)
			break;
	}
	if (n > 0 && rc != 1)
		goto out;
	for (size_t i = first; i < out->n; i++) {
		struct live_item *it = &out->v[i];

		if (it->kind != LIVE_SCHEMA || it->bytes < 0)
			continue; /* not sized */
		it->count = 0;
		for (int t = 0; t < n; t++) {
			if (strcmp(PQgetvalue(tables, t, 0), it->name))
				continue;
			if (counts[t] > st->limit) {
				it->count += st->limit;
				it->count_more = 1;
			} else {
				it->count += counts[t];
			}
		}
	}
out:
	PQclear(tables);
	free(counts);
}

static int
pg_observe(void *h, const struct observe_req *q, struct live *out,
	   struct err *e)
{
	struct pg *p = h;
	struct strbuf roles, schemas, sized, croles, cschemas;
	const char *params[5];
	PGresult *r = NULL;
	size_t first = out->n;
	int ret = -1;

	if (q->nnames[LIVE_ROLE] == 0 && q->nnames[LIVE_SCHEMA] == 0)
		return 0;
	if (ensure(p, e) < 0)
		return -1;
	strbuf_init(&roles, 0);
	strbuf_init(&schemas, 0);
	strbuf_init(&sized, 0);
	strbuf_init(&croles, 0);
	strbuf_init(&cschemas, 0);
	array_literal(&roles, q->names[LIVE_ROLE], q->nnames[LIVE_ROLE]);
	array_literal(&schemas, q->names[LIVE_SCHEMA], q->nnames[LIVE_SCHEMA]);
	array_literal(&sized, q->sized[LIVE_SCHEMA], q->nsized[LIVE_SCHEMA]);
	array_literal(&croles, q->check[LIVE_ROLE], q->ncheck[LIVE_ROLE]);
	array_literal(&cschemas, q->check[LIVE_SCHEMA], q->ncheck[LIVE_SCHEMA]);
	if (roles.overflow || schemas.overflow || sized.overflow ||
	    croles.overflow || cschemas.overflow) {
		err_set(e, "cannot observe PostgreSQL: too many names");
		goto out;
	}
	params[0] = roles.buf;
	params[1] = schemas.buf;
	params[2] = sized.buf;
	params[3] = croles.buf;
	params[4] = cschemas.buf;
	r = PQexecParams(p->conn, observe_sql, 5, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fail(p, r, e, "cannot observe roles and schemas in PostgreSQL");
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if (*PQgetvalue(r, i, 0) == 'r')
			add_role(out, r, i);
		else
			add_schema(out, r, i);
	}
	if (q->nsized[LIVE_SCHEMA])
		count_rows(p, sized.buf, out, first);
	ret = 0;
out:
	PQclear(r);
	strbuf_release(&roles);
	strbuf_release(&schemas);
	strbuf_release(&sized);
	strbuf_release(&croles);
	strbuf_release(&cschemas);
	return ret;
}

/* --- conforms ----------------------------------------------------------- */

/* Append "; "-separated reasons to why (n bytes). */
static void reason(char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
reason(char *why, size_t n, const char *fmt, ...)
{
	size_t l;
	va_list ap;

	if (!why || n == 0)
		return;
	l = strnlen(why, n);
	if (l && l + 2 < n) {
		why[l++] = ';';
		why[l++] = ' ';
		why[l] = '\0';
	}
	if (l + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(why + l, n - l, fmt, ap);
	va_end(ap);
}

static const char *
str_or(json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static int
role_conforms(const struct live_item *have, const struct live_object *want,
	      char *why, size_t n)
{
	json_t *st = have->state, *ws = want->spec, *a;
	long long limit = json_integer_value(
		json_object_get(st, "connectionLimit"));
	long long wlimit = -1;
	const char *sp = str_or(json_object_get(st, "searchPath"), NULL);
	const char *wsp = str_or(json_object_get(ws, "searchPath"), want->name);
	size_t i;

	if (json_is_integer(json_object_get(ws, "connectionLimit")))
		wlimit = json_integer_value(
			json_object_get(ws, "connectionLimit"));
	if (!json_is_true(json_object_get(st, "login")))
		reason(why, n, "login disabled");
	if (limit != wlimit)
		reason(why, n, "connection limit %lld, want %lld", limit,
		       wlimit);
	if (!sp)
		reason(why, n, "search_path not set, want '%s'", wsp);
	else if (strcmp(sp, wsp) != 0)
		reason(why, n, "search_path '%s', want '%s'", sp, wsp);
	json_array_foreach(json_object_get(st, "attributes"), i, a)
		reason(why, n, "has attribute %s", str_or(a, "?"));
	if (json_is_true(json_object_get(st, "publicCreate")))
		reason(why, n, "can create in schema public");
	return !why || !*why;
}

static int
schema_conforms(const struct live_item *have, const struct live_object *want,
		char *why, size_t n)
{
	json_t *st = have->state, *g;
	const char *owner = str_or(json_object_get(st, "owner"), "");
	const char *wowner = str_or(json_object_get(want->spec, "owner"),
				    want->name);
	int usage = 0, create = 0;
	size_t i;

	if (strcmp(owner, wowner) != 0)
		reason(why, n, "owner '%s', want '%s'", owner, wowner);
	json_array_foreach(json_object_get(st, "acl"), i, g) {
		const char *who = str_or(json_object_get(g, "grantee"), "");
		const char *privs = str_or(json_object_get(g, "privileges"),
					   "");
		int is_public = strcmp(who, "PUBLIC") == 0;

		if (strcmp(who, wowner) == 0) {
			usage = strchr(privs, 'U') != NULL;
			create = strchr(privs, 'C') != NULL;
			continue;
		}
		if (strchr(privs, 'U'))
			reason(why, n, "extra grant: USAGE for %s%s%s",
			       is_public ? "" : "'", who, is_public ? "" : "'");
		if (strchr(privs, 'C'))
			reason(why, n, "extra grant: CREATE for %s%s%s",
			       is_public ? "" : "'", who, is_public ? "" : "'");
	}
	if (!usage)
		reason(why, n, "grant missing: USAGE for '%s'", wowner);
	if (!create)
		reason(why, n, "grant missing: CREATE for '%s'", wowner);
	return !why || !*why;
}

static int
pg_conforms(const struct live_item *have, const struct live_object *want,
	    char *why, size_t n)
{
	char dummy[8];

	if (!why || n == 0) {
		why = dummy;
		n = sizeof(dummy);
	}
	why[0] = '\0';
	if (!have || !want)
		return 0;
	if (have->kind == LIVE_ROLE)
		return role_conforms(have, want, why, n);
	if (have->kind == LIVE_SCHEMA)
		return schema_conforms(have, want, why, n);
	reason(why, n, "not a PostgreSQL object");
	return 0;
}

/* --- apply -------------------------------------------------------------- */

/*
 * Actions on one object are serialized across workers and processes by a
 * transaction-level advisory lock (class LOCK_CLASS, key hashtext of
 * "<kind>:<name>"): concurrent DDL on one catalog row otherwise fails
 * with "tuple concurrently updated". The two-key form keeps these apart
 * from the state's 64-bit keys. A role action that changes schema
 * public's ACL also takes the lock of "schema:public" (always after its
 * own: no deadlock).
 */
#define LOCK_CLASS "1886545267" /* 0x70726573, "pres" */

/* Run sql (no parameters; may hold several statements). Sets state to
 * the SQLSTATE on failure when not NULL. */
static int
exec_sql(struct pg *p, const char *sql, char *state, struct err *e,
	 const char *what)
{
	PGresult *r = PQexec(p->conn, sql);
	int ret = 0;

	if (!res_ok(r)) {
		if (state)
			snprintf(state, 6, "%s", sqlstate(r));
		ret = fail(p, r, e, what);
	}
	PQclear(r);
	return ret;
}

/* Roll back an explicit transaction left open by an error. */
static void
rollback(struct pg *p)
{
	if (PQtransactionStatus(p->conn) == PQTRANS_INTRANS ||
	    PQtransactionStatus(p->conn) == PQTRANS_INERROR)
		PQclear(PQexec(p->conn, "ROLLBACK"));
}

/* BEGIN, then wait for the lock of kind:name. */
static int
begin_locked(struct pg *p, enum live_kind kind, const char *name, struct err *e,
	     const char *what)
{
	const char *params[2] = { live_kind_name(kind), name };
	PGresult *r;
	int ret = 0;

	if (exec_sql(p, "BEGIN", NULL, e, what) < 0)
		return -1;
	r = PQexecParams(p->conn,
			 "SELECT pg_advisory_xact_lock(" LOCK_CLASS
			 ", hashtext($1 || ':' || $2))",
			 2, NULL, params, NULL, NULL, 0);
	if (!res_ok(r))
		ret = fail(p, r, e, what);
	PQclear(r);
	return ret;
}

/* --- ownership ------------------------------------------------------- */

static const char mark_sql[] =
	"SELECT CASE WHEN $1 = 'role'"
	"   THEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)"
	"   ELSE EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2) END,"
	" CASE WHEN $1 = 'role'"
	"   THEN (SELECT shobj_description(oid, 'pg_authid') FROM pg_roles"
	"          WHERE rolname = $2)"
	"   ELSE (SELECT obj_description(oid, 'pg_namespace')"
	"           FROM pg_namespace WHERE nspname = $2) END";

/*
 * Inside the action's transaction, after its object lock: may the object
 * be touched? (driver_may_touch). 0 yes, -1 no.
 */
static int
check_mark(struct pg *p, const struct driver_action *a, const char *what,
	   struct err *e)
{
	const char *params[2] = { live_kind_name(a->kind), a->name };
	PGresult *r = PQexecParams(p->conn, mark_sql, 2, NULL, params, NULL,
				   NULL, 0);
	char *owner = NULL;
	int ret = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		fail(p, r, e, what);
	} else {
		owner = PQgetisnull(r, 0, 1) ?
				NULL :
				driver_mark_owner(PQgetvalue(r, 0, 1));
		ret = driver_may_touch(a, p->platform,
				       *PQgetvalue(r, 0, 0) == 't', owner, what,
				       e);
	}
	free(owner);
	PQclear(r);
	return ret;
}

/* The ownership mark as a quoted literal (PQfreemem it), or NULL. */
static char *
mark_literal(struct pg *p, struct err *e, const char *what)
{
	char *mark = xprintf(DRIVER_MARK_PREFIX "%s", p->platform);
	char *lit = PQescapeLiteral(p->conn, mark, strlen(mark));

	free(mark);
	if (!lit)
		fail(p, NULL, e, what);
	return lit;
}

/*
 * What the role action needs to know first: exists, elevated attributes,
 * a direct grant on schema public, PUBLIC's CREATE on public, and whether
 * we (a non-superuser admin) are a member of the role (needed to hand it
 * schemas in PostgreSQL 15).
 */
static const char role_check_sql[] =
	"SELECT r.oid IS NOT NULL,"
	"   coalesce(r.rolsuper OR r.rolcreatedb OR r.rolcreaterole"
	"            OR r.rolreplication OR r.rolbypassrls, false),"
	"   coalesce(r.rolsuper, false), coalesce(r.rolreplication, false),"
	"   coalesce(r.rolbypassrls, false),"
	"   EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a"
	"            WHERE n.nspname = 'public' AND a.grantee = r.oid),"
	"   EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a"
	"            WHERE n.nspname = 'public' AND a.grantee = 0"
	"              AND a.privilege_type = 'CREATE'),"
	"   (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
	"     OR (r.oid IS NOT NULL"
	"         AND pg_has_role(current_user, r.oid, 'MEMBER'))"
	"  FROM (SELECT 1) x LEFT JOIN pg_roles r ON r.rolname = $1";

enum {
	RC_EXISTS,
	RC_ELEVATED,
	RC_SUPER,
	RC_REPL,
	RC_BYPASS,
	RC_PUBGRANT,
	RC_PUBCREATE,
	RC_MEMBER
};

static int
role_check(struct pg *p, const char *name, int out[8], struct err *e,
	   const char *what)
{
	const char *params[1] = { name };
	PGresult *r = PQexecParams(p->conn, role_check_sql, 1, NULL, params,
				   NULL, NULL, 0);
	int ret = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		ret = fail(p, r, e, what);
	} else {
		for (int i = 0; i < 8; i++)
			out[i] = *PQgetvalue(r, 0, i) == 't';
	}
	PQclear(r);
	return ret;
}

/* The SCRAM verifier of the password as a quoted literal (PQfreemem it),
 * or NULL with e set. */
static char *
password_literal(struct pg *p, const char *role, const char *password,
		 struct err *e, const char *what)
{
	char *verifier, *lit;

	verifier = PQencryptPasswordConn(p->conn, password, role,
					 "scram-sha-256");
	if (!verifier) {
		fail(p, NULL, e, what);
		return NULL;
	}
	lit = PQescapeLiteral(p->conn, verifier, strlen(verifier));
	wipe(verifier);
	PQfreemem(verifier);
	if (!lit)
		fail(p, NULL, e, what);
	return lit;
}

static int
role_apply_once(struct pg *p, const struct driver_action *a, const char *what,
		char *state, struct err *e)
{
	json_t *spec = a->want ? a->want->spec : NULL;
	const char *sp = str_or(json_object_get(spec, "searchPath"), a->name);
	json_t *lim = json_object_get(spec, "connectionLimit");
	long long limit = json_is_integer(lim) ? json_integer_value(lim) : -1;
	char *role = NULL, *schema = NULL, *lit = NULL, *mark = NULL;
	struct strbuf sql;
	int chk[8], ret = -1;

	strbuf_init(&sql, 0);
	if (!(role = ident(p, a->name, e, what)) ||
	    !(schema = ident(p, sp, e, what)) ||
	    !(mark = mark_literal(p, e, what)))
		goto out;
	if (a->args && a->args->password &&
	    !(lit = password_literal(p, a->name, a->args->password, e, what)))
		goto out;
	if (begin_locked(p, LIVE_ROLE, a->name, e, what) < 0 ||
	    check_mark(p, a, what, e) < 0 ||
	    role_check(p, a->name, chk, e, what) < 0)
		goto out;
	if (!chk[RC_EXISTS])
		strbuf_addf(&sql, "CREATE ROLE %s LOGIN; ", role);
	strbuf_addf(&sql, "ALTER ROLE %s WITH LOGIN CONNECTION LIMIT %lld",
		    role, limit);
	/* Naming SUPERUSER/REPLICATION/BYPASSRLS needs a superuser: only
	 * when they are set (drift), so a CREATEROLE admin converges too. */
	if (chk[RC_ELEVATED])
		strbuf_addf(&sql, " NOCREATEDB NOCREATEROLE%s%s%s",
			    chk[RC_SUPER] ? " NOSUPERUSER" : "",
			    chk[RC_REPL] ? " NOREPLICATION" : "",
			    chk[RC_BYPASS] ? " NOBYPASSRLS" : "");
	if (lit)
		strbuf_addf(&sql, " PASSWORD %s", lit);
	strbuf_addf(&sql, "; ALTER ROLE %s SET search_path = %s", role, schema);
	strbuf_addf(&sql, "; COMMENT ON ROLE %s IS %s", role, mark);
	if (chk[RC_PUBGRANT] || chk[RC_PUBCREATE])
		strbuf_addstr(&sql, "; SELECT pg_advisory_xact_lock(" LOCK_CLASS
				    ", hashtext('schema:public'))");
	if (chk[RC_PUBGRANT])
		strbuf_addf(&sql,
			    "; REVOKE ALL ON SCHEMA public FROM %s CASCADE",
			    role);
	if (chk[RC_PUBCREATE])
		strbuf_addstr(&sql,
			      "; REVOKE CREATE ON SCHEMA public FROM PUBLIC");
	if (!chk[RC_MEMBER])
		strbuf_addf(&sql, "; GRANT %s TO CURRENT_USER", role);
	strbuf_addstr(&sql, "; COMMIT");
	ret = exec_sql(p, sql.buf, state, e, what);
out:
	rollback(p);
	if (sql.buf)
		wipe(sql.buf);
	strbuf_release(&sql);
	if (lit) {
		wipe(lit);
		PQfreemem(lit);
	}
	PQfreemem(role);
	PQfreemem(schema);
	PQfreemem(mark);
	return ret;
}

/* Grantees on schema $1 other than its owner and PUBLIC (PUBLIC is always
 * revoked), as quoted identifiers. */
static const char schema_grantees_sql[] =
	"SELECT DISTINCT quote_ident(pg_get_userbyid(a.grantee))"
	"  FROM pg_namespace n, aclexplode(n.nspacl) a"
	" WHERE n.nspname = $1 AND a.grantee <> 0 AND a.grantee <> n.nspowner";

static int
schema_apply_once(struct pg *p, const struct driver_action *a, const char *what,
		  char *state, struct err *e)
{
	const char *owner =
		str_or(json_object_get(a->want ? a->want->spec : NULL, "owner"),
		       a->name);
	const char *params[1] = { a->name };
	char *schema = NULL, *role = NULL, *mark = NULL;
	PGresult *r = NULL;
	struct strbuf sql;
	int ret = -1;

	strbuf_init(&sql, 0);
	if (!(schema = ident(p, a->name, e, what)) ||
	    !(role = ident(p, owner, e, what)) ||
	    !(mark = mark_literal(p, e, what)))
		goto out;
	if (begin_locked(p, LIVE_SCHEMA, a->name, e, what) < 0 ||
	    check_mark(p, a, what, e) < 0)
		goto out;
	strbuf_addf(&sql,
		    "CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s; "
		    "ALTER SCHEMA %s OWNER TO %s; COMMENT ON SCHEMA %s IS %s",
		    schema, role, schema, role, schema, mark);
	if (exec_sql(p, sql.buf, state, e, what) < 0)
		goto out;
	r = PQexecParams(p->conn, schema_grantees_sql, 1, NULL, params, NULL,
			 NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(state, 6, "%s", sqlstate(r));
		fail(p, r, e, what);
		goto out;
	}
	strbuf_reset(&sql);
	strbuf_addf(&sql, "REVOKE ALL ON SCHEMA %s FROM PUBLIC CASCADE",
		    schema);
	for (int i = 0; i < PQntuples(r); i++)
		strbuf_addf(&sql, "; REVOKE ALL ON SCHEMA %s FROM %s CASCADE",
			    schema, PQgetvalue(r, i, 0));
	strbuf_addf(&sql, "; GRANT USAGE, CREATE ON SCHEMA %s TO %s; COMMIT",
		    schema, role);
	ret = exec_sql(p, sql.buf, state, e, what);
out:
	rollback(p);
	PQclear(r);
	strbuf_release(&sql);
	PQfreemem(schema);
	PQfreemem(role);
	PQfreemem(mark);
	return ret;
}

/*
 * Role or schema CREATE/UPDATE. pressctl's own workers are serialized by
 * the object lock; someone else creating the object at the same moment
 * makes ours fail on the catalog's unique index (23505) or as a
 * duplicate (42710 role, 42P06 schema): the second try finds it and
 * converges it in place.
 */
static int
converge(struct pg *p, const struct driver_action *a, const char *what,
	 struct err *e)
{
	char state[6] = "";
	int ret;

	ret = a->kind == LIVE_ROLE ? role_apply_once(p, a, what, state, e) :
				     schema_apply_once(p, a, what, state, e);
	if (ret < 0 &&
	    (strcmp(state, "23505") == 0 || strcmp(state, "42710") == 0 ||
	     strcmp(state, "42P06") == 0)) {
		state[0] = '\0';
		ret = a->kind == LIVE_ROLE ?
			      role_apply_once(p, a, what, state, e) :
			      schema_apply_once(p, a, what, state, e);
	}
	return ret;
}

/*
 * Schema: DROP SCHEMA IF EXISTS ... CASCADE. Role: DROP OWNED BY (the
 * role's objects and grants in this database; its schema may be gone
 * already) and DROP ROLE. The ownership mark is checked in the same
 * transaction, under the object's lock, right before the DROP. No statement timeout (a large schema takes
 * time); the session's lock timeout still applies.
 */
static int
purge(struct pg *p, const struct driver_action *a, const char *what,
      struct err *e)
{
	char *id = NULL, *sql = NULL, state[6] = "";
	int chk[8], ret = -1;

	if (!(id = ident(p, a->name, e, what)))
		goto out;
	if (begin_locked(p, a->kind, a->name, e, what) < 0 ||
	    check_mark(p, a, what, e) < 0)
		goto out;
	if (a->kind == LIVE_SCHEMA) {
		sql = xprintf("SET LOCAL statement_timeout = 0; "
			      "DROP SCHEMA IF EXISTS %s CASCADE; COMMIT",
			      id);
	} else {
		if (role_check(p, a->name, chk, e, what) < 0)
			goto out;
		if (!chk[RC_EXISTS]) {
			ret = exec_sql(p, "COMMIT", NULL, e, what);
			goto out;
		}
		sql = xprintf("SET LOCAL statement_timeout = 0; "
			      "DROP OWNED BY %s; DROP ROLE IF EXISTS %s; "
			      "COMMIT",
			      id, id);
	}
	ret = exec_sql(p, sql, state, e, what);
	if (ret < 0 && strcmp(state, "42704") == 0) /* dropped meanwhile */
		ret = 0;
out:
	rollback(p);
	free(sql);
	PQfreemem(id);
	return ret;
}

static int
pg_apply(void *h, const struct driver_action *a, struct err *e)
{
	struct pg *p = h;
	const char *kind = live_kind_name(a->kind);
	char what[160];

	snprintf(what, sizeof(what), "cannot %s %s '%s'", driver_op_name(a->op),
		 kind, a->name);
	if (a->kind != LIVE_ROLE && a->kind != LIVE_SCHEMA)
		return err_set(e, "%s: not a PostgreSQL object", what);
	if (a->op == OP_REMOVE)
		return err_set(e,
			       "%s: remove is not an operation on a %s; "
			       "use purge",
			       what, kind);
	if (ensure(p, e) < 0)
		return err_wrap(e, "%s", what);
	if (a->op == OP_PURGE)
		return purge(p, a, what, e);
	return converge(p, a, what, e);
}

const struct driver driver_postgres = {
	.name = "postgres",
	.kinds = (1u << LIVE_ROLE) | (1u << LIVE_SCHEMA),
	.open = pg_open,
	.close = pg_close,
	.observe = pg_observe,
	.conforms = pg_conforms,
	.apply = pg_apply,
};

/* --- pg_dsn_parts ------------------------------------------------------- */

/* The first entry of a comma-separated libpq list ("h1,h2"). */
static char *
first_of(const char *list)
{
	const char *comma = strchr(list, ',');

	return comma ? xstrndup(list, (size_t)(comma - list)) : xstrdup(list);
}

static const char *
opt(const PQconninfoOption *opts, const char *kw, const char *envvar)
{
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, kw) == 0 && o->val && *o->val)
			return o->val;
	if (envvar) {
		const char *v = getenv(envvar);

		if (v && *v)
			return v;
	}
	return NULL;
}

/*
 * As libpq would resolve them: the DSN's value, else the PG* environment
 * variable, else the default. A host that is a socket directory (or
 * unset) cannot be reached from a container: then hostaddr, else
 * 127.0.0.1 (set the platform's postgres.siteHost in that case).
 */
int
pg_dsn_parts(const char *dsn, char **host, char **port, char **dbname,
	     struct err *e)
{
	PQconninfoOption *opts;
	char *errmsg = NULL, pwbuf[1024];
	const char *h, *v;
	struct passwd pw, *pwp = NULL;

	*host = *port = *dbname = NULL;
	if (!dsn || !(opts = PQconninfoParse(dsn, &errmsg))) {
		PQfreemem(errmsg); /* may quote the DSN */
		return err_set(e,
			       "the PostgreSQL connection string "
			       "(postgres.dsn) is malformed; check its syntax");
	}
	h = opt(opts, "host", "PGHOST");
	if (h && (h[0] == '/' || h[0] == '@'))
		h = NULL;
	if (!h)
		h = opt(opts, "hostaddr", "PGHOSTADDR");
	*host = first_of(h ? h : "127.0.0.1");
	v = opt(opts, "port", "PGPORT");
	*port = first_of(v && *v != ',' ? v : "5432");
	if ((v = opt(opts, "dbname", "PGDATABASE")))
		*dbname = xstrdup(v);
	else if ((v = opt(opts, "user", "PGUSER")))
		*dbname = xstrdup(v);
	else if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 &&
		 pwp)
		*dbname = xstrdup(pwp->pw_name);
	else
		*dbname = xstrdup("postgres");
	PQconninfoFree(opts);
	return 0;
}
