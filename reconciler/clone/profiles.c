/*
 * profiles.c - what neutralizes a copy of each app (docs/clone.md,
 * "Neutralization"), and the checks that prove it.
 *
 * Every statement is guarded by the existence of its table and columns:
 * a copy of a partial app schema (an app's module not installed, an
 * older version) is neutralized as far as it goes. PL/pgSQL plans a
 * statement when it first runs it, so a statement in a branch that does
 * not run may name a table that does not exist.
 *
 * odoo follows the neutralize.sql files of Odoo's own modules (base,
 * mail, fetchmail, payment, iap, website): the same rows, the same
 * marks (the dummy mail server, the disabled webhook URL), so that Odoo
 * and its operators recognize a neutralized database.
 */
#include "internal.h"

#include <string.h>

#include "../util/sqltext.h"

/* EXISTS (column c of table t), for tables whose names need no quotes
 * in to_regclass (t is an SQL-quoted name when it needs them). */
#define HAS(t, c)                                                             \
	"EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('" t \
	"') AND attname = '" c "' AND attnum > 0 AND NOT attisdropped)"

/* Odoo's own marks: base/data/neutralize.sql inserts this mail server,
 * which delivers nowhere ("invalid" does not resolve), so that Odoo
 * does not fall back to the SMTP server of its command line. */
#define ODOO_DUMMY                                                   \
	"(name = 'neutralization - disable emails' AND smtp_host = " \
	"'invalid')"
#define ODOO_WEBHOOK "'neutralization - disable webhook'"
#define ODOO_AUTOVACUUM                                                     \
	"ARRAY(SELECT res_id FROM ir_model_data WHERE module = 'base' AND " \
	"name = 'autovacuum_job' AND model = 'ir.cron' AND res_id IS NOT "  \
	"NULL)"
#define ODOO_ROBOTS "'User-agent: *' || chr(10) || 'Disallow: /'"

/* The SQL below is laid out as SQL, not as clang-format would. */
/* clang-format off */
static const char odoo_body[] =
	/* outgoing mail: every server off (and its password gone), the
	 * dummy server on */
	"IF to_regclass('ir_mail_server') IS NOT NULL THEN\n"
	"  UPDATE ir_mail_server SET active = false\n"
	"   WHERE active AND NOT " ODOO_DUMMY ";\n"
	"  IF " HAS("ir_mail_server", "smtp_pass") " THEN\n"
	"    UPDATE ir_mail_server SET smtp_pass = NULL\n"
	"     WHERE smtp_pass IS NOT NULL AND NOT " ODOO_DUMMY ";\n"
	"  END IF;\n"
	"  UPDATE ir_mail_server SET active = true WHERE " ODOO_DUMMY ";\n"
	"  IF NOT FOUND THEN\n"
	"    IF " HAS("ir_mail_server", "smtp_authentication") " THEN\n"
	"      INSERT INTO ir_mail_server (name, smtp_host, smtp_port,\n"
	"             smtp_encryption, smtp_authentication, active)\n"
	"      VALUES ('neutralization - disable emails', 'invalid', 1025,\n"
	"              'none', 'login', true);\n"
	"    ELSE\n"
	"      INSERT INTO ir_mail_server (name, smtp_host, smtp_port,\n"
	"             smtp_encryption, active)\n"
	"      VALUES ('neutralization - disable emails', 'invalid', 1025,\n"
	"              'none', true);\n"
	"    END IF;\n"
	"  END IF;\n"
	"END IF;\n"
	/* scheduled actions: all off but the autovacuum job */
	"IF to_regclass('ir_cron') IS NOT NULL THEN\n"
	"  IF to_regclass('ir_model_data') IS NOT NULL THEN\n"
	"    UPDATE ir_cron SET active = false\n"
	"     WHERE active AND id <> ALL (" ODOO_AUTOVACUUM ");\n"
	"  ELSE\n"
	"    UPDATE ir_cron SET active = false WHERE active;\n"
	"  END IF;\n"
	"END IF;\n"
	/* the flag Odoo shows its banner for */
	"IF to_regclass('ir_config_parameter') IS NOT NULL THEN\n"
	"  UPDATE ir_config_parameter SET value = 'true'\n"
	"   WHERE key = 'database.is_neutralized';\n"
	"  IF NOT FOUND THEN\n"
	"    IF " HAS("ir_config_parameter", "type") " THEN\n"
	"      INSERT INTO ir_config_parameter (key, value, type)\n"
	"      VALUES ('database.is_neutralized', 'true', 'str');\n"
	"    ELSE\n"
	"      INSERT INTO ir_config_parameter (key, value)\n"
	"      VALUES ('database.is_neutralized', 'true');\n"
	"    END IF;\n"
	"  END IF;\n"
	"END IF;\n"
	/* incoming mail */
	"IF to_regclass('fetchmail_server') IS NOT NULL THEN\n"
	"  UPDATE fetchmail_server SET active = false WHERE active;\n"
	"  IF " HAS("fetchmail_server", "password") " THEN\n"
	"    UPDATE fetchmail_server SET password = NULL\n"
	"     WHERE password IS NOT NULL;\n"
	"  END IF;\n"
	"END IF;\n"
	/* payment providers (payment_acquirer before Odoo 16): no live
	 * mode; test mode stays */
	"IF " HAS("payment_provider", "state") " THEN\n"
	"  UPDATE payment_provider SET state = 'disabled'\n"
	"   WHERE state NOT IN ('test', 'disabled');\n"
	"END IF;\n"
	"IF " HAS("payment_provider", "is_live") " THEN\n"
	"  UPDATE payment_provider SET is_live = false WHERE is_live;\n"
	"END IF;\n"
	"IF " HAS("payment_acquirer", "state") " THEN\n"
	"  UPDATE payment_acquirer SET state = 'disabled'\n"
	"   WHERE state NOT IN ('test', 'disabled');\n"
	"END IF;\n"
	/* webhooks of server actions */
	"IF " HAS("ir_act_server", "webhook_url") "\n"
	"   AND " HAS("ir_act_server", "state") " THEN\n"
	"  UPDATE ir_act_server SET webhook_url = " ODOO_WEBHOOK "\n"
	"   WHERE state = 'webhook'\n"
	"     AND webhook_url IS DISTINCT FROM " ODOO_WEBHOOK ";\n"
	"END IF;\n"
	/* mail templates that name a server use the default (the dummy) */
	"IF " HAS("mail_template", "mail_server_id") " THEN\n"
	"  UPDATE mail_template SET mail_server_id = NULL\n"
	"   WHERE mail_server_id IS NOT NULL;\n"
	"END IF;\n"
	/* paid services (SMS, OCR, ...): tokens marked disabled */
	"IF " HAS("iap_account", "account_token") " THEN\n"
	"  UPDATE iap_account\n"
	"     SET account_token = regexp_replace(account_token,\n"
	"                                        '([+].*)?$', '+disabled')\n"
	"   WHERE account_token NOT LIKE '%+disabled';\n"
	"END IF;\n"
	/* websites: no production domain, no CDN, no crawling */
	"IF " HAS("website", "domain") " THEN\n"
	"  UPDATE website SET domain = NULL WHERE domain IS NOT NULL;\n"
	"END IF;\n"
	"IF " HAS("website", "cdn_activated") " THEN\n"
	"  UPDATE website SET cdn_activated = false WHERE cdn_activated;\n"
	"END IF;\n"
	"IF " HAS("website", "robots_txt") " THEN\n"
	"  UPDATE website SET robots_txt = " ODOO_ROBOTS "\n"
	"   WHERE robots_txt IS DISTINCT FROM " ODOO_ROBOTS ";\n"
	"END IF;\n";

/* A finding when press_n > 0: format(f, press_n). */
#define COUNT_FINDING(f)                                              \
	"  IF press_n > 0 THEN press_f := array_append(press_f, "      \
	"format('" f "', press_n)); END IF;\n"
/* A finding, always (under its IF). */
#define FINDING(f) "press_f := array_append(press_f, '" f "'::text);"

static const char odoo_checks[] =
	"IF to_regclass('ir_mail_server') IS NOT NULL THEN\n"
	"  SELECT count(*) INTO press_n FROM ir_mail_server\n"
	"   WHERE active AND NOT " ODOO_DUMMY ";\n"
	COUNT_FINDING("ir_mail_server: %s active besides the neutralization server")
	"  SELECT count(*) INTO press_n FROM ir_mail_server\n"
	"   WHERE active AND " ODOO_DUMMY ";\n"
	"  IF press_n = 0 THEN "
	FINDING("ir_mail_server: the neutralization server (smtp_host invalid) is missing or inactive")
	" END IF;\n"
	"  IF " HAS("ir_mail_server", "smtp_pass") " THEN\n"
	"    SELECT count(*) INTO press_n FROM ir_mail_server\n"
	"     WHERE smtp_pass <> '' AND NOT " ODOO_DUMMY ";\n"
	COUNT_FINDING("ir_mail_server: %s with a password")
	"  END IF;\n"
	"END IF;\n"
	"IF to_regclass('ir_cron') IS NOT NULL THEN\n"
	"  IF to_regclass('ir_model_data') IS NOT NULL THEN\n"
	"    SELECT count(*) INTO press_n FROM ir_cron\n"
	"     WHERE active AND id <> ALL (" ODOO_AUTOVACUUM ");\n"
	"  ELSE\n"
	"    SELECT count(*) INTO press_n FROM ir_cron WHERE active;\n"
	"  END IF;\n"
	COUNT_FINDING("ir_cron: %s active besides autovacuum")
	"END IF;\n"
	/* (nested IFs: a condition that names a missing table fails
	 * when it is planned, whatever comes before it) */
	"IF to_regclass('ir_config_parameter') IS NOT NULL THEN\n"
	"  IF NOT EXISTS (SELECT 1 FROM ir_config_parameter\n"
	"                  WHERE key = 'database.is_neutralized'\n"
	"                    AND lower(value) IN ('true', '1')) THEN\n"
	"    " FINDING("ir_config_parameter: database.is_neutralized is not true") "\n"
	"  END IF;\n"
	"END IF;\n"
	"IF to_regclass('fetchmail_server') IS NOT NULL THEN\n"
	"  SELECT count(*) INTO press_n FROM fetchmail_server WHERE active;\n"
	COUNT_FINDING("fetchmail_server: %s active")
	"  IF " HAS("fetchmail_server", "password") " THEN\n"
	"    SELECT count(*) INTO press_n FROM fetchmail_server\n"
	"     WHERE password <> '';\n"
	COUNT_FINDING("fetchmail_server: %s with a password")
	"  END IF;\n"
	"END IF;\n"
	"IF " HAS("payment_provider", "state") " THEN\n"
	"  SELECT count(*) INTO press_n FROM payment_provider\n"
	"   WHERE state NOT IN ('test', 'disabled');\n"
	COUNT_FINDING("payment_provider: %s enabled")
	"END IF;\n"
	"IF " HAS("payment_provider", "is_live") " THEN\n"
	"  SELECT count(*) INTO press_n FROM payment_provider WHERE is_live;\n"
	COUNT_FINDING("payment_provider: %s live")
	"END IF;\n"
	"IF " HAS("payment_acquirer", "state") " THEN\n"
	"  SELECT count(*) INTO press_n FROM payment_acquirer\n"
	"   WHERE state NOT IN ('test', 'disabled');\n"
	COUNT_FINDING("payment_acquirer: %s enabled")
	"END IF;\n"
	"IF " HAS("ir_act_server", "webhook_url") "\n"
	"   AND " HAS("ir_act_server", "state") " THEN\n"
	"  SELECT count(*) INTO press_n FROM ir_act_server\n"
	"   WHERE state = 'webhook'\n"
	"     AND webhook_url IS DISTINCT FROM " ODOO_WEBHOOK ";\n"
	COUNT_FINDING("ir_act_server: %s webhooks with a live URL")
	"END IF;\n"
	"IF " HAS("mail_template", "mail_server_id") " THEN\n"
	"  SELECT count(*) INTO press_n FROM mail_template\n"
	"   WHERE mail_server_id IS NOT NULL;\n"
	COUNT_FINDING("mail_template: %s with a mail server")
	"END IF;\n"
	"IF " HAS("iap_account", "account_token") " THEN\n"
	"  SELECT count(*) INTO press_n FROM iap_account\n"
	"   WHERE account_token NOT LIKE '%+disabled';\n"
	COUNT_FINDING("iap_account: %s tokens not disabled")
	"END IF;\n"
	"IF " HAS("website", "domain") " THEN\n"
	"  SELECT count(*) INTO press_n FROM website WHERE domain <> '';\n"
	COUNT_FINDING("website: %s with a domain")
	"END IF;\n"
	"IF " HAS("website", "cdn_activated") " THEN\n"
	"  SELECT count(*) INTO press_n FROM website WHERE cdn_activated;\n"
	COUNT_FINDING("website: %s with the CDN on")
	"END IF;\n"
	"IF " HAS("website", "robots_txt") " THEN\n"
	"  SELECT count(*) INTO press_n FROM website\n"
	"   WHERE robots_txt IS DISTINCT FROM " ODOO_ROBOTS ";\n"
	COUNT_FINDING("website: %s allowing crawling")
	"END IF;\n";

/*
 * Frappe keeps a doctype in table "tab<Doctype>"; a Single doctype
 * (System Settings) as rows (doctype, field, value) of "tabSingles".
 * Check fields are smallints. The scheduler runs only when System
 * Settings' enable_scheduler is 1 (frappe.utils.scheduler); a missing
 * row reads as 0.
 */
#define TAB_EA "\"tabEmail Account\""
#define TAB_SINGLES "\"tabSingles\""
#define TAB_WEBHOOK "\"tabWebhook\""
#define FRAPPE_SCHED "doctype = 'System Settings' AND field = 'enable_scheduler'"

static const char frappe_body[] =
	"IF " HAS(TAB_EA, "enable_outgoing") " THEN\n"
	"  UPDATE " TAB_EA " SET enable_outgoing = 0\n"
	"   WHERE enable_outgoing <> 0;\n"
	"END IF;\n"
	"IF " HAS(TAB_EA, "enable_incoming") " THEN\n"
	"  UPDATE " TAB_EA " SET enable_incoming = 0\n"
	"   WHERE enable_incoming <> 0;\n"
	"END IF;\n"
	"IF to_regclass('" TAB_SINGLES "') IS NOT NULL THEN\n"
	"  UPDATE " TAB_SINGLES " SET value = '0' WHERE " FRAPPE_SCHED ";\n"
	"  IF NOT FOUND THEN\n"
	"    INSERT INTO " TAB_SINGLES " (doctype, field, value)\n"
	"    VALUES ('System Settings', 'enable_scheduler', '0');\n"
	"  END IF;\n"
	"END IF;\n"
	"IF " HAS(TAB_WEBHOOK, "enabled") " THEN\n"
	"  UPDATE " TAB_WEBHOOK " SET enabled = 0 WHERE enabled <> 0;\n"
	"END IF;\n";

static const char frappe_checks[] =
	"IF " HAS(TAB_EA, "enable_outgoing") " THEN\n"
	"  SELECT count(*) INTO press_n FROM " TAB_EA "\n"
	"   WHERE enable_outgoing <> 0;\n"
	COUNT_FINDING("tabEmail Account: %s send mail (enable_outgoing)")
	"END IF;\n"
	"IF " HAS(TAB_EA, "enable_incoming") " THEN\n"
	"  SELECT count(*) INTO press_n FROM " TAB_EA "\n"
	"   WHERE enable_incoming <> 0;\n"
	COUNT_FINDING("tabEmail Account: %s fetch mail (enable_incoming)")
	"END IF;\n"
	"IF to_regclass('" TAB_SINGLES "') IS NOT NULL THEN\n"
	"  IF EXISTS (SELECT 1 FROM " TAB_SINGLES " WHERE " FRAPPE_SCHED "\n"
	"                AND coalesce(value, '0') NOT IN ('0', '')) THEN\n"
	"    " FINDING("tabSingles: System Settings enable_scheduler is on") "\n"
	"  END IF;\n"
	"END IF;\n"
	"IF " HAS(TAB_WEBHOOK, "enabled") " THEN\n"
	"  SELECT count(*) INTO press_n FROM " TAB_WEBHOOK " WHERE enabled <> 0;\n"
	COUNT_FINDING("tabWebhook: %s enabled")
	"END IF;\n";
/* clang-format on */

/* WordPress's serialized cron array with no event: its "version" entry
 * alone (_set_cron_array writes version 2). An event is keyed by its
 * timestamp: "i:<seconds>;a:". */
static const char wp_no_cron[] = "a:1:{s:7:\"version\";i:2;}";
/* wp-mail.php refuses to run while mailserver_url is this, its
 * default: post by email off. */
static const char wp_no_mailserver[] = "mail.example.com";

/* UPDATE the option; with insert, add it when missing (with autoload
 * when the table has that column: press_al). */
static void
wp_set(struct strbuf *sb, const char *t, const char *name, const char *value,
       int insert)
{
	strbuf_addf(sb, "  UPDATE %s SET option_value = ", t);
	sqltext_literal(sb, value);
	strbuf_addstr(sb, " WHERE option_name = ");
	sqltext_literal(sb, name);
	strbuf_addstr(sb, ";\n");
	if (!insert)
		return;
	strbuf_addf(sb,
		    "  IF NOT FOUND THEN\n"
		    "    IF press_al THEN\n"
		    "      INSERT INTO %s (option_name, option_value, autoload)"
		    " VALUES (",
		    t);
	sqltext_literal(sb, name);
	strbuf_addstr(sb, ", ");
	sqltext_literal(sb, value);
	strbuf_addf(sb,
		    ", 'yes');\n"
		    "    ELSE\n"
		    "      INSERT INTO %s (option_name, option_value) VALUES (",
		    t);
	sqltext_literal(sb, name);
	strbuf_addstr(sb, ", ");
	sqltext_literal(sb, value);
	strbuf_addstr(sb, ");\n    END IF;\n  END IF;\n");
}

/* A finding unless the option is value (missing counts as not). */
static void
wp_check(struct strbuf *sb, const char *t, const char *table, const char *name,
	 const char *value, int missing_ok, const char *what)
{
	strbuf_addstr(sb, "  IF ");
	if (missing_ok)
		strbuf_addf(sb,
			    "EXISTS (SELECT 1 FROM %s WHERE option_name = ", t);
	else
		strbuf_addf(sb,
			    "NOT EXISTS (SELECT 1 FROM %s WHERE option_name = ",
			    t);
	sqltext_literal(sb, name);
	strbuf_addstr(sb, missing_ok ? " AND option_value IS DISTINCT FROM " :
				       " AND option_value = ");
	sqltext_literal(sb, value);
	strbuf_addstr(sb, ") THEN\n    press_f := array_append(press_f, ");
	sqltext_literal(sb, table);
	strbuf_addstr(sb, " || ");
	sqltext_literal(sb, what);
	strbuf_addstr(sb, ");\n  END IF;\n");
}

static void
wordpress(const struct profile_sql *p, struct strbuf *decls,
	  struct strbuf *body, struct strbuf *checks)
{
	char *table = xprintf("%soptions", p->prefix);
	struct strbuf t, reg;

	strbuf_init(&t, 0);
	strbuf_init(&reg, 0);
	sqltext_ident(&t, table);
	clone_regclass(&reg, table);

	strbuf_addstr(decls, "press_al boolean;\n");
	strbuf_addf(body, "IF %s IS NOT NULL THEN\n  press_al := ", reg.buf);
	clone_has_column(body, table, "autoload");
	strbuf_addstr(body, ";\n");
	/* search engines: "discourage" (the copy is not the site) */
	wp_set(body, t.buf, "blog_public", "0", 1);
	/* WP-Cron: the scheduled events of production are dropped;
	 * recurring ones that WordPress or a plugin schedules again on
	 * the next request come back empty-handed of production's work
	 * (DISABLE_WP_CRON is a constant of wp-config.php, not data) */
	wp_set(body, t.buf, "cron", wp_no_cron, 1);
	/* mail to the administrator goes to the catch-all */
	wp_set(body, t.buf, "admin_email", p->catchall, 1);
	wp_set(body, t.buf, "new_admin_email", p->catchall, 0);
	/* post by email: off (wp-mail.php checks this default) and the
	 * mailbox password gone */
	wp_set(body, t.buf, "mailserver_url", wp_no_mailserver, 0);
	wp_set(body, t.buf, "mailserver_pass", "", 0);
	/* what the copy is, for plugins and people reading the data;
	 * WordPress itself reads WP_ENVIRONMENT_TYPE (clone_env_var) */
	wp_set(body, t.buf, "press_environment_type", p->env_type, 1);
	strbuf_addstr(body, "END IF;\n");

	strbuf_addf(checks, "IF %s IS NOT NULL THEN\n", reg.buf);
	wp_check(checks, t.buf, table, "blog_public", "0", 0,
		 ": blog_public is not 0 (search engines may index the copy)");
	strbuf_addf(checks,
		    "  IF EXISTS (SELECT 1 FROM %s WHERE option_name = 'cron'"
		    " AND option_value ~ 'i:[0-9]{9,};a:') THEN\n"
		    "    press_f := array_append(press_f, ",
		    t.buf);
	sqltext_literal(checks, table);
	strbuf_addstr(checks, " || ': cron holds scheduled events');\n"
			      "  END IF;\n");
	wp_check(checks, t.buf, table, "admin_email", p->catchall, 0,
		 ": admin_email is not the catch-all address");
	wp_check(checks, t.buf, table, "new_admin_email", p->catchall, 1,
		 ": new_admin_email is not the catch-all address");
	wp_check(checks, t.buf, table, "mailserver_url", wp_no_mailserver, 1,
		 ": mailserver_url is set (post by email is on)");
	wp_check(checks, t.buf, table, "mailserver_pass", "", 1,
		 ": mailserver_pass is set");
	wp_check(checks, t.buf, table, "press_environment_type", p->env_type, 0,
		 ": press_environment_type is not the copy's type");
	strbuf_addstr(checks, "END IF;\n");
	strbuf_release(&t);
	strbuf_release(&reg);
	free(table);
}

int
profile_neutralize(const char *app, const struct profile_sql *p,
		   struct strbuf *decls, struct strbuf *body,
		   struct strbuf *checks)
{
	if (strcmp(app, "odoo") == 0) {
		strbuf_addstr(body, odoo_body);
		strbuf_addstr(checks, odoo_checks);
		return 1;
	}
	if (strcmp(app, "frappe") == 0) {
		strbuf_addstr(body, frappe_body);
		strbuf_addstr(checks, frappe_checks);
		return 1;
	}
	if (strcmp(app, "wordpress") == 0) {
		wordpress(p, decls, body, checks);
		return 1;
	}
	return 0;
}
