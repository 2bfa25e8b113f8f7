/*
 * clone.c - the two texts of a clone (clone.h): the options checked, the
 * profile's neutralization (profiles.c), the Site's own SQL, the
 * anonymization (anonymize.c) and the verification function that holds
 * all their checks.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "../util/sqltext.h"

/* The function verify calls; neutralize defines it, last. */
#define VERIFY_FN "pg_temp.press_clone_verify()"

static const char prologue[] = "#variable_conflict use_variable\n";

void
clone_do(struct strbuf *sb, const char *decls, const char *body)
{
	struct strbuf b;

	strbuf_init(&b, 0);
	strbuf_addstr(&b, prologue);
	if (*decls)
		strbuf_addf(&b, "DECLARE\n%s", decls);
	strbuf_addf(&b, "BEGIN\n%sEND", body);
	strbuf_addstr(sb, "DO ");
	sqltext_dollar_quote(sb, "press", b.buf);
	strbuf_addstr(sb, ";\n");
	strbuf_release(&b);
}

void
clone_regclass(struct strbuf *sb, const char *table)
{
	struct strbuf q;

	strbuf_init(&q, 0);
	sqltext_ident(&q, table);
	strbuf_addstr(sb, "to_regclass(");
	sqltext_literal(sb, q.buf);
	strbuf_addch(sb, ')');
	strbuf_release(&q);
}

void
clone_has_column(struct strbuf *sb, const char *table, const char *column)
{
	strbuf_addstr(sb,
		      "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = ");
	clone_regclass(sb, table);
	strbuf_addstr(sb, " AND attname = ");
	sqltext_literal(sb, column);
	strbuf_addstr(sb, " AND attnum > 0 AND NOT attisdropped)");
}

static const char *const stages[] = { "production", "staging", "development",
				      "preview" };

static int
known(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return 1;
	return 0;
}

/* WordPress's type of a copy of this stage (WP_ENVIRONMENT_TYPE). */
static const char *
wp_type(const char *stage)
{
	return strcmp(stage, "development") == 0 ? "development" : "staging";
}

int
clone_env_var(const char *app, const char *stage, const char **name,
	      const char **value)
{
	if (!app || !stage || strcmp(app, "wordpress") != 0 ||
	    !known(stage, stages, 4) || strcmp(stage, "production") == 0)
		return 0;
	*name = "WP_ENVIRONMENT_TYPE";
	*value = wp_type(stage);
	return 1;
}

/* A catch-all address: one '@' with text on both sides, printable ASCII
 * without spaces, at most 254 bytes. */
static int
email_ok(const char *s)
{
	const char *at = s ? strchr(s, '@') : NULL;
	size_t n = s ? strlen(s) : 0;

	if (!at || at == s || !at[1] || strchr(at + 1, '@') || n > 254)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return 0;
	return 1;
}

static int
prefix_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 50)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz"
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/* The Site's spec.neutralize: the SQL run as one EXECUTE (so that it
 * cannot end the transaction, and psql reads none of it as a backslash
 * command), with search_path and role put back after it. */
static void
site_sql(struct strbuf *sql, struct strbuf *checks, const char *run,
	 const char *verify)
{
	struct strbuf body;

	strbuf_init(&body, 0);
	strbuf_addstr(&body, "EXECUTE ");
	sqltext_dollar_quote(&body, "site", run);
	strbuf_addstr(&body, ";\n"
			     "PERFORM set_config('search_path', press_sp, "
			     "true);\n"
			     "PERFORM set_config('role', press_ro, true);\n");
	clone_do(sql,
		 "press_sp text := current_setting('search_path');\n"
		 "press_ro text := current_setting('role');\n",
		 body.buf);
	strbuf_release(&body);

	strbuf_addstr(checks, "press_sp := current_setting('search_path');\n"
			      "press_ro := current_setting('role');\n"
			      "EXECUTE ");
	sqltext_dollar_quote(checks, "site", verify);
	strbuf_addstr(checks,
		      " INTO press_r;\n"
		      "PERFORM set_config('search_path', press_sp, true);\n"
		      "PERFORM set_config('role', press_ro, true);\n"
		      "IF coalesce(press_r, '') <> '' THEN\n"
		      "  press_f := array_append(press_f, "
		      "'spec.neutralize.verify: ' || press_r);\n"
		      "END IF;\n");
}

/* The verification function, holding every check. */
static void
verify_function(struct strbuf *sql, const char *checks)
{
	struct strbuf body;

	strbuf_init(&body, 0);
	strbuf_addf(&body,
		    "%s"
		    "DECLARE\n"
		    "press_f text[] := '{}';\n"
		    "press_n bigint;\n"
		    "press_r text;\n"
		    "press_sp text;\n"
		    "press_ro text;\n"
		    "BEGIN\n%s"
		    "RETURN array_to_string(press_f, '; ');\n"
		    "END",
		    prologue, checks);
	strbuf_addstr(sql, "CREATE OR REPLACE FUNCTION " VERIFY_FN
			   " RETURNS text LANGUAGE plpgsql AS ");
	sqltext_dollar_quote(sql, "press", body.buf);
	strbuf_addstr(sql, ";\n");
	strbuf_release(&body);
}

/* The options that do not depend on the app; -1 with e. */
static int
check_opts(const struct clone_opts *o, int *neutralize, struct err *e)
{
	json_t *n;

	if (!o->app || !known(o->app,
			      (const char *const[]){ "frappe", "odoo",
						     "wordpress", "generic" },
			      4))
		return err_set(e,
			       "cannot build the clone's SQL: unknown app "
			       "'%s' (frappe, odoo, wordpress or generic)",
			       o->app ? o->app : "(none)");
	if (!known(o->stage, stages, 4))
		return err_set(e,
			       "cannot build the clone's SQL: unknown stage "
			       "'%s'",
			       o->stage ? o->stage : "(none)");
	if (!json_is_object(o->clone_from))
		return err_set(e, "cannot build the clone's SQL: cloneFrom is "
				  "missing or not an object");
	n = json_object_get(o->clone_from, "neutralize");
	if (n && !json_is_boolean(n))
		return err_set(e, "cloneFrom.neutralize must be true or false");
	*neutralize = !n || json_is_true(n);
	if (*neutralize && strcmp(o->stage, "production") == 0)
		return err_set(e, "refusing to neutralize a production "
				  "environment: its mail, jobs and payments "
				  "would stop (set cloneFrom.neutralize: false "
				  "to copy production data into production)");
	return 0;
}

/* The Site's spec.neutralize, into *run and *verify (borrowed), or
 * both NULL; -1 with e when it is malformed. */
static int
site_neutralize(const json_t *spec, const char **run, const char **verify,
		struct err *e)
{
	json_t *n = spec ? json_object_get(spec, "neutralize") : NULL;

	*run = *verify = NULL;
	if (!n)
		return 0;
	*run = json_string_value(json_object_get(n, "sql"));
	*verify = json_string_value(json_object_get(n, "verify"));
	if (!json_is_object(n) || !*run || !**run || !*verify || !**verify)
		return err_set(e, "the Site's spec.neutralize needs both 'sql' "
				  "and 'verify', non-empty strings");
	return 0;
}

int
clone_sql_build(struct clone_sql *out, const struct clone_opts *o,
		struct err *e)
{
	struct strbuf sql, checks, decls, body;
	struct anon_rules rules = { 0 };
	struct profile_sql p = { 0 };
	const char *run, *verify;
	int neutralize, ret = -1, any = 0;

	memset(out, 0, sizeof(*out));
	strbuf_init(&sql, 0);
	strbuf_init(&checks, 0);
	strbuf_init(&decls, 0);
	strbuf_init(&body, 0);
	if (check_opts(o, &neutralize, e) < 0 ||
	    site_neutralize(o->site_spec, &run, &verify, e) < 0 ||
	    anon_parse(&rules, json_object_get(o->clone_from, "anonymize"), e) <
		    0)
		goto out;
	if (neutralize && strcmp(o->app, "wordpress") == 0) {
		p.prefix = o->table_prefix ? o->table_prefix : "wp_";
		p.catchall = o->catchall_email;
		p.env_type = wp_type(o->stage);
		if (!prefix_ok(p.prefix)) {
			err_set(e,
				"cannot neutralize the wordpress copy: table "
				"prefix '%s' is not 1 to 50 letters, digits "
				"or '_'",
				p.prefix);
			goto out;
		}
		if (!email_ok(p.catchall)) {
			err_set(e, "cannot neutralize the wordpress copy: "
				   "it needs a catch-all address for its "
				   "administrator mail (user@domain)");
			goto out;
		}
	}
	strbuf_addf(&sql, "-- pressctl: a clone's SQL (app %s, stage %s)\n",
		    o->app, o->stage);
	if (neutralize &&
	    profile_neutralize(o->app, &p, &decls, &body, &checks)) {
		strbuf_addf(&sql, "-- neutralization: the %s profile\n",
			    o->app);
		clone_do(&sql, decls.buf, body.buf);
		any = 1;
	}
	if (neutralize && run) {
		strbuf_addstr(&sql, "-- neutralization: the Site's "
				    "spec.neutralize.sql\n");
		site_sql(&sql, &checks, run, verify);
		any = 1;
	}
	if (rules.n) {
		strbuf_addstr(&sql, "-- anonymization: cloneFrom.anonymize\n");
		if (anon_sql(&sql, &checks, &rules, o->salt_hex, e) < 0)
			goto out;
		any = 1;
	}
	if (!any) {
		ret = 0;
		goto out;
	}
	strbuf_addstr(&sql, "-- verification: " VERIFY_FN "\n");
	verify_function(&sql, checks.buf);
	if (sql.overflow) {
		err_set(e, "cannot build the clone's SQL: it is larger than "
			   "its buffer's limit");
		goto out;
	}
	out->neutralize = strbuf_detach(&sql, NULL);
	out->verify = xstrdup("SELECT " VERIFY_FN);
	ret = 0;
out:
	if (sql.len)
		memset(sql.buf, 0, sql.len);
	strbuf_release(&sql);
	strbuf_release(&checks);
	strbuf_release(&decls);
	strbuf_release(&body);
	anon_release(&rules);
	return ret;
}

void
clone_sql_release(struct clone_sql *s)
{
	if (!s)
		return;
	if (s->neutralize)
		memset(s->neutralize, 0, strlen(s->neutralize));
	free(s->neutralize);
	free(s->verify);
	s->neutralize = s->verify = NULL;
}
