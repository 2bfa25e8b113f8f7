/*
 * internal.h - what the files of clone/ share (clone.h is the public
 * surface): the SQL conventions, the app profiles' neutralization
 * (profiles.c) and the anonymization rules (anonymize.c).
 *
 * Conventions of the generated PL/pgSQL:
 * - every DO block and the verification function start with
 *   "#variable_conflict use_variable", and every variable is named
 *   press_*, so that no column of an app's table can be mistaken for a
 *   variable or the reverse; columns of user-named tables are always
 *   qualified by an alias press_*;
 * - a check of the verification function adds one finding to the text[]
 *   press_f with array_append (press_n bigint and press_r text are its
 *   scratch variables) and never raises;
 * - names come through sqltext_ident / sqltext_literal, bodies through
 *   sqltext_dollar_quote (util/sqltext.h).
 */
#ifndef PRESS_CLONE_INTERNAL_H
#define PRESS_CLONE_INTERNAL_H

#include "clone.h"

#include "../util/strbuf.h"

/* A DO block: declarations decls (may be ""), then body. */
void clone_do(struct strbuf *sb, const char *decls, const char *body);

/* EXISTS (...): table (unqualified, resolved by search_path) exists and
 * has column; false when the table does not exist. */
void clone_has_column(struct strbuf *sb, const char *table, const char *column);

/* to_regclass('"table"'): the table, or NULL when it does not exist. */
void clone_regclass(struct strbuf *sb, const char *table);

/* --- profiles.c: neutralization by app profile ------------------------ */

struct profile_sql {
	const char *catchall; /* wordpress: the admin address */
	const char *env_type; /* wordpress: staging | development */
	const char *prefix;   /* wordpress: table prefix */
};

/*
 * The neutralization of app (odoo, frappe, wordpress) as the
 * declarations and body of a DO block (into decls and body), and its
 * checks for the verification function (into checks). 1 when app has
 * one, 0 when it has none (generic).
 */
int profile_neutralize(const char *app, const struct profile_sql *p,
		       struct strbuf *decls, struct strbuf *body,
		       struct strbuf *checks);

/* --- anonymize.c: cloneFrom.anonymize --------------------------------- */

enum anon_kind {
	ANON_HASH,
	ANON_MASK,
	ANON_SHIFT,
	ANON_NULL
};

struct anon_rule {
	char *key;   /* "table.column" as written */
	char *table; /* its two parts */
	char *column;
	enum anon_kind kind;
	int bound; /* shift: percent, 1-99 */
};

struct anon_rules {
	struct anon_rule *v; /* sorted by table, then column (bytewise) */
	size_t n, alloc;
};

/*
 * Parse cloneFrom.anonymize (an object "table.column": rule, or NULL)
 * into *r (zeroed first; anon_release frees it). -1 with e naming the
 * key on a bad name or rule.
 */
int anon_parse(struct anon_rules *r, const json_t *anonymize, struct err *e);
void anon_release(struct anon_rules *r);

/*
 * The anonymization of r, keyed by salt_hex (at least 32 hex digits),
 * as DO blocks into sql and checks for the verification function into
 * checks. -1 with e on a bad salt (the message never holds it).
 */
int anon_sql(struct strbuf *sql, struct strbuf *checks,
	     const struct anon_rules *r, const char *salt_hex, struct err *e);

#endif
