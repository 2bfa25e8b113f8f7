/*
 * clone.h - a copy of an environment's data made safe before anyone uses
 * it (docs/clone.md; design §3 cloneFrom, §5, §6).
 *
 * A non-production environment created with cloneFrom starts as a copy
 * of another environment's schema. Before its role gets the schema and
 * before its container starts, the copy is NEUTRALIZED by its app
 * profile (mail servers, scheduled jobs, payment providers, webhooks...
 * disabled) and ANONYMIZED by the rules of cloneFrom.anonymize, and both
 * are VERIFIED. This module writes that as SQL text; the restore runs it.
 *
 * How the caller runs the two texts: in the restore's one transaction,
 * in one session, with search_path set to the copy's schema (every name
 * in the text is unqualified), before the GRANTs:
 *
 *     <neutralize>            -- statements; raises on a broken rule
 *     SELECT (<verify>);      -- one row, one text column
 *
 * and rolls the transaction back (the environment is marked failed)
 * when verify's value is neither NULL nor empty: it then lists what is
 * still live, e.g. "ir_mail_server: 2 active besides the neutralization
 * server; ir_cron: 12 active besides autovacuum". verify calls a
 * temporary function (pg_temp) that neutralize defines last, and reads
 * temporary tables (ON COMMIT DROP) that neutralize fills: run it in
 * the same session, after neutralize. Nothing of either outlives the
 * transaction but the changes to the copy.
 *
 * The profile's statements skip a table or column the copy does not
 * have (a partial app schema is not an error); an anonymize rule that
 * names a missing table or column, or a column of the wrong type, is.
 *
 * The key (salt) is a secret: it is in the neutralize text (as HMAC
 * pads, in DECLARE lines of DO blocks, never in a statement PostgreSQL
 * would quote in an error), which is acceptable for text fed to psql.
 * No function here prints it, logs it, or puts it in an error message;
 * the caller must not print the neutralize text either.
 */
#ifndef PRESS_CLONE_H
#define PRESS_CLONE_H

#include <jansson.h>

#include "../util/err.h"

/* The two texts; each a new string (free with clone_sql_release), or
 * NULL when there is nothing to do (then both are NULL). */
struct clone_sql {
	char *neutralize; /* statements, to run first */
	char *verify;	  /* one query: one row, one text column */
};

struct clone_opts {
	const char *app;	    /* the Site's app: frappe | odoo |
				    * wordpress | generic */
	const char *stage;	    /* the new environment's stage */
	const json_t *site_spec;    /* the Site's spec (its neutralize:
				    * {sql, verify}), or NULL */
	const json_t *clone_from;   /* the Environment's cloneFrom */
	const char *salt_hex;	    /* the anonymization key, hex, at least
				    * 32 digits (16 bytes); needed only when
				    * cloneFrom.anonymize has rules */
	const char *catchall_email; /* where a wordpress copy's admin mail
				     * goes; needed for wordpress */
	const char *table_prefix;   /* wordpress's table prefix (letters,
				    * digits, '_'); NULL: "wp_" */
};

/*
 * Build the SQL of o into *out (zeroed first). Everything in o is
 * borrowed. What runs, in order:
 *
 * 1. when cloneFrom.neutralize is true (the default): the app profile's
 *    neutralization (odoo, frappe, wordpress; none for generic), then
 *    the Site's own spec.neutralize.sql (any app), whose
 *    spec.neutralize.verify joins the verification;
 * 2. cloneFrom.anonymize, table by table (sorted by name), each table
 *    in one UPDATE;
 * 3. the verification function.
 *
 * -1 with e when the input cannot be turned into safe SQL: an unknown
 * app or rule, a bad table.column name, a missing or short salt, a
 * missing catch-all address (wordpress), a bad table prefix, or
 * neutralization asked for a production environment. The message names
 * the field and never holds the salt.
 */
int clone_sql_build(struct clone_sql *out, const struct clone_opts *o,
		    struct err *e);

/* Free the texts (wiping neutralize, which holds the key); s may be
 * NULL. The struct itself is the caller's. */
void clone_sql_release(struct clone_sql *s);

/*
 * The container variable that tells the app what kind of copy it runs
 * in, for a clone of this app and stage: 1 with *name and *value (static
 * strings) set, 0 when the app has none (or the stage is production).
 * wordpress: WP_ENVIRONMENT_TYPE = "staging" (staging, preview) or
 * "development" (development): WordPress takes an unset type for
 * production. Setting it on the container is the caller's job.
 */
int clone_env_var(const char *app, const char *stage, const char **name,
		  const char **value);

#endif
