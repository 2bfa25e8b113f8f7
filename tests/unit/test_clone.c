/*
 * Unit tests: the SQL text of a clone (clone/clone.h) and the quoting it
 * rests on (util/sqltext.h). What the SQL does to data is
 * tests/integration/test_clone_sql.py's part, against PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "clone/clone.h"
#include "util/sqltext.h"
#include "util/strbuf.h"

/* 32 bytes 00 01 02 ... 1f */
static const char salt[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static json_t *
js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);

	if (!v)
		fail_msg("bad JSON in the test: %s: %s", je.text, text);
	return v;
}

/* Build with the app, stage and cloneFrom (JSON); 0 or -1. */
static int
build(struct clone_sql *out, const char *app, const char *stage,
      const char *clone_from, const char *site_spec, struct err *e)
{
	json_t *cf = js(clone_from), *ss = site_spec ? js(site_spec) : NULL;
	struct clone_opts o = { .app = app,
				.stage = stage,
				.clone_from = cf,
				.site_spec = ss,
				.salt_hex = salt,
				.catchall_email = "catchall@press.invalid" };
	int ret = clone_sql_build(out, &o, e);

	json_decref(cf);
	json_decref(ss);
	return ret;
}

static void
assert_has(const char *text, const char *part)
{
	if (!text || !strstr(text, part))
		fail_msg("expected to find\n  %s\nin\n%s", part,
			 text ? text : "(null)");
}

static void
assert_lacks(const char *text, const char *part)
{
	if (text && strstr(text, part))
		fail_msg("did not expect\n  %s\nin\n%s", part, text);
}

/* How often part occurs in text. */
static int
count(const char *text, const char *part)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, part)); p += strlen(part))
		n++;
	return n;
}

/* Build must fail with a message holding want (and never the salt). */
static void
assert_refused(const char *app, const char *stage, const char *clone_from,
	       const char *site_spec, const char *want)
{
	struct clone_sql s;
	struct err e = { 0 };

	if (build(&s, app, stage, clone_from, site_spec, &e) == 0)
		fail_msg("built SQL for %s %s %s; expected '%s'", app, stage,
			 clone_from, want);
	assert_null(s.neutralize);
	assert_null(s.verify);
	assert_has(e.msg, want);
	assert_lacks(e.msg, salt);
	assert_lacks(e.msg, "0001020304");
}

/* --- util/sqltext ------------------------------------------------------ */

static void
identifiers_double_their_quotes(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	sqltext_ident(&sb, "tabEmail Account");
	strbuf_addch(&sb, ' ');
	sqltext_ident(&sb, "a\"b\"\"c'\\");
	assert_string_equal(sb.buf,
			    "\"tabEmail Account\" \"a\"\"b\"\"\"\"c'\\\"");
	strbuf_release(&sb);
}

static void
literals_with_a_backslash_are_escape_strings(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	sqltext_literal(&sb, "it's");
	strbuf_addch(&sb, ' ');
	sqltext_literal(&sb, "a\\'b");
	strbuf_addch(&sb, ' ');
	sqltext_literal(&sb, "");
	assert_string_equal(sb.buf, "'it''s' E'a\\\\''b' ''");
	strbuf_release(&sb);
}

static void
dollar_quotes_pick_a_tag_the_body_lacks(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	sqltext_dollar_quote(&sb, "t", "select 1");
	assert_string_equal(sb.buf, "$t$\nselect 1\n$t$");
	strbuf_reset(&sb);
	sqltext_dollar_quote(&sb, "t", "a $t$ b $t1$ c");
	assert_string_equal(sb.buf, "$t2$\na $t$ b $t1$ c\n$t2$");
	strbuf_reset(&sb);
	/* a body ending in part of the tag cannot close it early */
	sqltext_dollar_quote(&sb, "t", "x $t");
	assert_string_equal(sb.buf, "$t$\nx $t\n$t$");
	strbuf_release(&sb);
}

/* --- profiles ---------------------------------------------------------- */

static void
odoo_neutralizes_what_odoo_does(void **state)
{
	struct clone_sql s;
	struct err e;

	(void)state;
	assert_int_equal(build(&s, "odoo", "staging",
			       "{\"environment\": \"production\"}", NULL, &e),
			 0);
	assert_has(s.neutralize, "UPDATE ir_mail_server SET active = false");
	assert_has(s.neutralize, "VALUES ('neutralization - disable emails', "
				 "'invalid', 1025,");
	assert_has(s.neutralize, "name = 'autovacuum_job' AND model = "
				 "'ir.cron'");
	assert_has(s.neutralize, "'database.is_neutralized', 'true'");
	assert_has(s.neutralize, "UPDATE fetchmail_server SET active = false");
	assert_has(s.neutralize, "UPDATE payment_provider SET state = "
				 "'disabled'");
	assert_has(s.neutralize, "'neutralization - disable webhook'");
	assert_has(s.neutralize, "to_regclass('ir_cron') IS NOT NULL");
	/* the verification is the function neutralize defines, last */
	assert_string_equal(s.verify, "SELECT pg_temp.press_clone_verify()");
	assert_has(s.neutralize, "CREATE OR REPLACE FUNCTION "
				 "pg_temp.press_clone_verify() RETURNS text");
	assert_true(strstr(s.neutralize, "CREATE OR REPLACE FUNCTION") >
		    strstr(s.neutralize, "DO $press$"));
	assert_has(s.neutralize, "ir_cron: %s active besides autovacuum");
	/* nothing to anonymize: no key in the text */
	assert_lacks(s.neutralize, "press_ki");
	clone_sql_release(&s);
	assert_null(s.neutralize);
	clone_sql_release(NULL);
}

static void
frappe_quotes_its_doctype_tables(void **state)
{
	struct clone_sql s;
	struct err e;

	(void)state;
	assert_int_equal(build(&s, "frappe", "development",
			       "{\"environment\": \"production\", "
			       "\"neutralize\": true}",
			       NULL, &e),
			 0);
	assert_has(s.neutralize,
		   "UPDATE \"tabEmail Account\" SET enable_outgoing = 0");
	assert_has(s.neutralize,
		   "UPDATE \"tabEmail Account\" SET enable_incoming = 0");
	assert_has(s.neutralize, "to_regclass('\"tabSingles\"') IS NOT NULL");
	assert_has(s.neutralize, "VALUES ('System Settings', "
				 "'enable_scheduler', '0')");
	assert_has(s.neutralize, "UPDATE \"tabWebhook\" SET enabled = 0");
	assert_lacks(s.neutralize, "ir_mail_server");
	clone_sql_release(&s);
}

static void
wordpress_uses_its_prefix_and_the_catchall(void **state)
{
	json_t *cf = js("{\"environment\": \"production\"}");
	struct clone_opts o = { .app = "wordpress",
				.stage = "preview",
				.clone_from = cf,
				.catchall_email = "o'brien@press.invalid" };
	struct clone_sql s;
	struct err e;

	(void)state;
	assert_int_equal(clone_sql_build(&s, &o, &e), 0);
	assert_has(s.neutralize, "UPDATE \"wp_options\" SET option_value = "
				 "'0' WHERE option_name = 'blog_public'");
	assert_has(s.neutralize, "to_regclass('\"wp_options\"')");
	assert_has(s.neutralize, "'o''brien@press.invalid'");
	assert_has(s.neutralize, "'a:1:{s:7:\"version\";i:2;}'");
	assert_has(s.neutralize, "'press_environment_type', 'staging'");
	clone_sql_release(&s);

	o.table_prefix = "shop2_";
	o.stage = "development";
	assert_int_equal(clone_sql_build(&s, &o, &e), 0);
	assert_has(s.neutralize, "UPDATE \"shop2_options\" SET");
	assert_lacks(s.neutralize, "wp_options");
	assert_has(s.neutralize, "'press_environment_type', 'development'");
	clone_sql_release(&s);

	o.table_prefix = "wp_'; DROP TABLE x; --";
	assert_int_equal(clone_sql_build(&s, &o, &e), -1);
	assert_has(e.msg, "table prefix");
	o.table_prefix = NULL;
	o.catchall_email = NULL;
	assert_int_equal(clone_sql_build(&s, &o, &e), -1);
	assert_has(e.msg, "catch-all address");
	o.catchall_email = "two words@x";
	assert_int_equal(clone_sql_build(&s, &o, &e), -1);
	json_decref(cf);
}

static void
generic_runs_the_sites_sql_as_one_execute(void **state)
{
	struct clone_sql s;
	struct err e;

	(void)state;
	/* without spec.neutralize, generic has nothing to do */
	assert_int_equal(build(&s, "generic", "staging",
			       "{\"environment\": \"production\"}", "{}", &e),
			 0);
	assert_null(s.neutralize);
	assert_null(s.verify);

	/* SQL that holds every tag, a backslash command and a COMMIT
	 * stays one dollar-quoted string */
	assert_int_equal(
		build(&s, "generic", "staging",
		      "{\"environment\": \"production\"}",
		      "{\"neutralize\": {\"sql\": \"UPDATE jobs SET on = "
		      "false; $site$ $press$ \\\\! touch /tmp/x\\nCOMMIT\", "
		      "\"verify\": \"SELECT 'x' WHERE false\"}}",
		      &e),
		0);
	assert_has(s.neutralize, "EXECUTE $site1$\nUPDATE jobs SET on = "
				 "false; $site$ $press$ \\! touch /tmp/x\n"
				 "COMMIT\n$site1$;");
	assert_has(s.neutralize, "DO $press1$");
	assert_has(s.neutralize, "EXECUTE $site$\nSELECT 'x' WHERE false\n"
				 "$site$ INTO press_r;");
	assert_has(s.neutralize, "set_config('search_path', press_sp, true)");
	clone_sql_release(&s);

	/* odoo plus the Site's own SQL */
	assert_int_equal(build(&s, "odoo", "staging",
			       "{\"environment\": \"production\"}",
			       "{\"neutralize\": {\"sql\": \"UPDATE x SET y = "
			       "1\", \"verify\": \"SELECT ''\"}}",
			       &e),
			 0);
	assert_has(s.neutralize, "UPDATE ir_cron SET active = false");
	assert_has(s.neutralize, "UPDATE x SET y = 1");
	clone_sql_release(&s);

	assert_refused("generic", "staging", "{\"environment\": \"p\"}",
		       "{\"neutralize\": {\"sql\": \"UPDATE x SET y = 1\"}}",
		       "needs both 'sql' and 'verify'");
}

static void
neutralize_false_copies_as_is(void **state)
{
	struct clone_sql s;
	struct err e;

	(void)state;
	assert_int_equal(build(&s, "odoo", "staging",
			       "{\"environment\": \"production\", "
			       "\"neutralize\": false}",
			       "{\"neutralize\": {\"sql\": \"UPDATE x SET y = "
			       "1\", \"verify\": \"SELECT ''\"}}",
			       &e),
			 0);
	assert_null(s.neutralize);
	assert_null(s.verify);
}

static void
production_is_never_neutralized(void **state)
{
	struct clone_sql s;
	struct err e;

	(void)state;
	assert_refused("odoo", "production", "{\"environment\": \"old\"}", NULL,
		       "refusing to neutralize a production environment");
	assert_refused("generic", "production",
		       "{\"environment\": \"old\", \"neutralize\": true}", NULL,
		       "set cloneFrom.neutralize: false");
	assert_int_equal(build(&s, "odoo", "production",
			       "{\"environment\": \"old\", \"neutralize\": "
			       "false}",
			       NULL, &e),
			 0);
	assert_null(s.neutralize);
}

static void
unknown_app_stage_or_input_is_an_error(void **state)
{
	(void)state;
	assert_refused("joomla", "staging", "{\"environment\": \"p\"}", NULL,
		       "unknown app 'joomla'");
	assert_refused("odoo", "qa", "{\"environment\": \"p\"}", NULL,
		       "unknown stage 'qa'");
	assert_refused("odoo", "staging", "[]", NULL,
		       "cloneFrom is missing or not an object");
	assert_refused("odoo", "staging",
		       "{\"environment\": \"p\", \"neutralize\": \"yes\"}",
		       NULL, "cloneFrom.neutralize must be true or false");
}

static void
env_var_tells_wordpress_its_type(void **state)
{
	const char *n = NULL, *v = NULL;

	(void)state;
	assert_int_equal(clone_env_var("wordpress", "staging", &n, &v), 1);
	assert_string_equal(n, "WP_ENVIRONMENT_TYPE");
	assert_string_equal(v, "staging");
	assert_int_equal(clone_env_var("wordpress", "preview", &n, &v), 1);
	assert_string_equal(v, "staging");
	assert_int_equal(clone_env_var("wordpress", "development", &n, &v), 1);
	assert_string_equal(v, "development");
	assert_int_equal(clone_env_var("wordpress", "production", &n, &v), 0);
	assert_int_equal(clone_env_var("odoo", "staging", &n, &v), 0);
	assert_int_equal(clone_env_var(NULL, NULL, &n, &v), 0);
}

/* --- anonymization ----------------------------------------------------- */

static void
rules_parse_and_unknown_ones_are_named(void **state)
{
	struct clone_sql s;
	struct err e;

	(void)state;
	assert_int_equal(
		build(&s, "generic", "staging",
		      "{\"environment\": \"p\", \"anonymize\": {"
		      "\"t.a\": \"hash\", \"t.b\": \"mask\", \"t.c\": "
		      "\"null\", \"t.d\": \"shift\", \"t.e\": \"shift:5\", "
		      "\"t.f\": \"shift:99\"}}",
		      NULL, &e),
		0);
	assert_has(s.neutralize, "(10::numeric / 100)");
	assert_has(s.neutralize, "(5::numeric / 100)");
	assert_has(s.neutralize, "(99::numeric / 100)");
	assert_has(s.neutralize, "\"c\" = NULL");
	clone_sql_release(&s);

	static const char *const bad[] = { "shift:0", "shift:100", "shift:05",
					   "shift:",  "shift:5x",  "HASH",
					   "",	      "hash ",	   "blank" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char cf[256], want[128];

		snprintf(cf, sizeof(cf),
			 "{\"environment\": \"p\", \"anonymize\": "
			 "{\"res_partner.email\": \"%s\"}}",
			 bad[i]);
		snprintf(want, sizeof(want),
			 "cloneFrom.anonymize 'res_partner.email': unknown "
			 "rule '%s'",
			 bad[i]);
		assert_refused("odoo", "staging", cf, NULL, want);
	}
	assert_refused("odoo", "staging",
		       "{\"environment\": \"p\", \"anonymize\": {\"t.c\": 1}}",
		       NULL, "'t.c': the rule must be a string");
	assert_refused("odoo", "staging",
		       "{\"environment\": \"p\", \"anonymize\": [\"t.c\"]}",
		       NULL, "must be an object");
}

static void
names_need_one_dot_and_postgres_lengths(void **state)
{
	char cf[512], name[80];

	(void)state;
	static const char *const bad[] = { "nodot", "a.b.c", ".col", "tab.",
					   "tab.co\\u0001l" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(cf, sizeof(cf),
			 "{\"environment\": \"p\", \"anonymize\": "
			 "{\"%s\": \"hash\"}}",
			 bad[i]);
		assert_refused("odoo", "staging", cf, NULL,
			       "expected \"table.column\"");
	}
	memset(name, 'x', 64);
	name[64] = '\0';
	snprintf(cf, sizeof(cf),
		 "{\"environment\": \"p\", \"anonymize\": {\"t.%s\": "
		 "\"hash\"}}",
		 name);
	assert_refused("odoo", "staging", cf, NULL, "1 to 63 bytes");
	name[63] = '\0'; /* 63 bytes is PostgreSQL's limit: accepted */
	snprintf(cf, sizeof(cf),
		 "{\"environment\": \"p\", \"anonymize\": {\"t.%s\": "
		 "\"hash\"}}",
		 name);
	{
		struct clone_sql s;
		struct err e;

		assert_int_equal(build(&s, "odoo", "staging", cf, NULL, &e), 0);
		clone_sql_release(&s);
	}
}

static void
hostile_names_stay_names(void **state)
{
	struct clone_sql s;
	struct err e;

	(void)state;
	/* table  we"ird tab'le$press$   column  e"m'ail\x */
	assert_int_equal(
		build(&s, "generic", "staging",
		      "{\"environment\": \"p\", \"anonymize\": {"
		      "\"we\\\"ird tab'le$press$.e\\\"m'ail\\\\x\": \"hash\"}}",
		      NULL, &e),
		0);
	/* the identifier, quotes doubled, backslash as is */
	assert_has(s.neutralize, "FROM \"we\"\"ird tab'le$press$\" press_x");
	assert_has(s.neutralize, "press_x.\"e\"\"m'ail\\x\"::text");
	/* the literals, quotes doubled, the backslash one an E'' string */
	assert_has(s.neutralize, "to_regclass('\"we\"\"ird tab''le$press$\"')");
	assert_has(s.neutralize, "attname = E'e\"m''ail\\\\x'");
	assert_has(s.neutralize, "E'we\"ird tab''le$press$.e\"m''ail\\\\x'");
	/* the name holds $press$: the blocks use another tag */
	assert_lacks(s.neutralize, "DO $press$");
	assert_has(s.neutralize, "DO $press1$");
	assert_int_equal(count(s.neutralize, "$press1$"), 4);
	clone_sql_release(&s);
}

static void
one_block_per_table_in_name_order(void **state)
{
	struct clone_sql s;
	struct err e;
	const char *a, *b;

	(void)state;
	assert_int_equal(
		build(&s, "generic", "staging",
		      "{\"environment\": \"p\", \"anonymize\": {"
		      "\"res_users.login\": \"hash\", \"res_partner.phone\": "
		      "\"mask\", \"res_partner.email\": \"hash\"}}",
		      NULL, &e),
		0);
	assert_int_equal(count(s.neutralize, "DO $press$"), 2);
	assert_int_equal(count(s.neutralize, "UPDATE \"res_partner\" AS "
					     "press_t"),
			 1);
	a = strstr(s.neutralize, "UPDATE \"res_partner\" AS press_t");
	b = strstr(s.neutralize, "UPDATE \"res_users\" AS press_t");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	/* email before phone: press_anon_1 is email, 2 phone, 3 login */
	assert_has(s.neutralize, "press_m1 ON press_m1.old = "
				 "press_x.\"email\"::text");
	assert_has(s.neutralize, "press_m2 ON press_m2.old = "
				 "press_x.\"phone\"::text");
	assert_has(s.neutralize, "press_m3 ON press_m3.old = "
				 "press_x.\"login\"::text");
	clone_sql_release(&s);
}

static void
the_key_is_checked_and_never_shown(void **state)
{
	json_t *cf = js("{\"environment\": \"p\", \"anonymize\": "
			"{\"t.c\": \"hash\"}}");
	struct clone_opts o = { .app = "odoo",
				.stage = "staging",
				.clone_from = cf };
	struct clone_sql s;
	struct err e;
	static const char *const bad[] = {
		NULL, "00112233445566778899aabbccddee", /* 15 bytes */
		"00112233445566778899aabbccddeeff0",	/* odd */
		"zz112233445566778899aabbccddeeff0011", /* not hex */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		o.salt_hex = bad[i];
		assert_int_equal(clone_sql_build(&s, &o, &e), -1);
		assert_has(e.msg, "cannot anonymize the copy: its key");
		if (bad[i])
			assert_lacks(e.msg, bad[i] + 2);
		assert_null(s.neutralize);
	}

	/* the pads of 00 01 02 ... 1f: k ^ 0x36, k ^ 0x5c, zero-padded */
	o.salt_hex = salt;
	assert_int_equal(clone_sql_build(&s, &o, &e), 0);
	assert_has(s.neutralize, "press_ki bytea := decode('3637343532333031"
				 "3e3f3c3d3a3b38392627242522232021");
	assert_has(s.neutralize, "2e2f2c2d2a2b28293636363636");
	assert_has(s.neutralize, "press_ko bytea := decode('5c5d5e5f58595a5b");
	assert_lacks(s.neutralize, salt);
	assert_lacks(s.verify, "press_k");
	/* the checks, in the function, name no key either */
	assert_lacks(strstr(s.neutralize, "CREATE OR REPLACE FUNCTION"),
		     "press_ki");
	clone_sql_release(&s);

	/* a key longer than a block is hashed first (HMAC): still built */
	{
		char longkey[257];

		memset(longkey, 'a', 256);
		longkey[256] = '\0';
		o.salt_hex = longkey;
		assert_int_equal(clone_sql_build(&s, &o, &e), 0);
		assert_lacks(s.neutralize, "aaaaaaaaaaaaaaaa");
		clone_sql_release(&s);
	}
	json_decref(cf);
}

static void
the_same_input_gives_the_same_text(void **state)
{
	const char *cf = "{\"environment\": \"p\", \"anonymize\": {"
			 "\"b.x\": \"shift:20\", \"a.y\": \"mask\"}}";
	struct clone_sql s1, s2;
	struct err e;

	(void)state;
	assert_int_equal(build(&s1, "frappe", "staging", cf, NULL, &e), 0);
	assert_int_equal(build(&s2, "frappe", "staging", cf, NULL, &e), 0);
	assert_string_equal(s1.neutralize, s2.neutralize);
	assert_string_equal(s1.verify, s2.verify);
	clone_sql_release(&s1);
	clone_sql_release(&s2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identifiers_double_their_quotes),
		cmocka_unit_test(literals_with_a_backslash_are_escape_strings),
		cmocka_unit_test(dollar_quotes_pick_a_tag_the_body_lacks),
		cmocka_unit_test(odoo_neutralizes_what_odoo_does),
		cmocka_unit_test(frappe_quotes_its_doctype_tables),
		cmocka_unit_test(wordpress_uses_its_prefix_and_the_catchall),
		cmocka_unit_test(generic_runs_the_sites_sql_as_one_execute),
		cmocka_unit_test(neutralize_false_copies_as_is),
		cmocka_unit_test(production_is_never_neutralized),
		cmocka_unit_test(unknown_app_stage_or_input_is_an_error),
		cmocka_unit_test(env_var_tells_wordpress_its_type),
		cmocka_unit_test(rules_parse_and_unknown_ones_are_named),
		cmocka_unit_test(names_need_one_dot_and_postgres_lengths),
		cmocka_unit_test(hostile_names_stay_names),
		cmocka_unit_test(one_block_per_table_in_name_order),
		cmocka_unit_test(the_key_is_checked_and_never_shown),
		cmocka_unit_test(the_same_input_gives_the_same_text),
	};

	return cmocka_run_group_tests_name("clone", tests, NULL, NULL);
}
