"""The SQL of a clone (reconciler/clone/clone.h) against PostgreSQL 15.

tests/tools/clone_sql prints what clone_sql_build() writes (helpers.tool_path
finds it). Each test loads an app's tables (tests/fixtures/apps/*.sql) into a
scratch schema of the session's private PostgreSQL, runs the neutralize text
and the verify query the way the restore does (one transaction, one psql
session, search_path set to the copy's schema), and asserts with SQL what
the copy holds afterwards: nothing live is left, the verification says so,
and it stops saying so when something is turned back on.

Anonymization runs on a 10,000-row table of partners whose original is kept
in another schema: the same number of rows, not one original email or phone
left, equal values still equal and different ones still different, the
shapes kept, and the verification catches a planted original. The hash rule
is checked against Python's own HMAC-SHA256 with the same key.
"""

import hashlib
import hmac
import os
import re
import secrets
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

import helpers

APPS = helpers.FIXTURES / "apps"
SALT = secrets.token_hex(32)
CATCHALL = "catchall@press.invalid"
DUMMY = "neutralization - disable emails"


@pytest.fixture(scope="module")
def tool():
    return helpers.tool_path("clone_sql")


def clone_sql(tool, app, clone_from, stage="staging", site_spec=None,
              catchall=CATCHALL, prefix=None, salt=SALT, check=True):
    """(neutralize, verify) from the tool; with check=False the
    CompletedProcess of a build that must fail."""
    import json

    def run(part):
        args = [tool, "--app", app, "--stage", stage,
                "--clone-from", json.dumps(clone_from), "--part", part]
        if site_spec is not None:
            args += ["--site-spec", json.dumps(site_spec)]
        if catchall:
            args += ["--catchall", catchall]
        if prefix:
            args += ["--prefix", prefix]
        env = {k: v for k, v in os.environ.items() if k != "PRESS_CLONE_SALT"}
        if salt:
            env["PRESS_CLONE_SALT"] = salt
        return subprocess.run(args, capture_output=True, text=True, env=env,
                              timeout=60)

    n = run("neutralize")
    if not check:
        return n
    assert n.returncode == 0, f"clone_sql failed: {n.stderr}"
    v = run("verify")
    assert v.returncode == 0, f"clone_sql failed: {v.stderr}"
    return n.stdout, v.stdout.strip()


def psql(services, script, check=True):
    """Run script (psql input) in one session; CompletedProcess."""
    dsn = f"postgresql://postgres@127.0.0.1:{services.pg_port}/press"
    proc = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", "-"],
        input=script, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    if check and proc.returncode != 0:
        raise AssertionError(f"psql failed (exit {proc.returncode}):\n"
                             f"{proc.stderr[-4000:]}")
    return proc


def load(services, schema, app, prefix=None):
    """A fresh schema holding the tables of tests/fixtures/apps/<app>.sql."""
    text = (APPS / f"{app}.sql").read_text(encoding="utf-8")
    if prefix:
        text = text.replace("wp_", prefix)
    psql(services, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE;\n'
                   f'CREATE SCHEMA "{schema}";\n'
                   f'SET search_path = "{schema}";\n{text}')


def in_clone(services, schema, neutralize, verify, between="", end="COMMIT",
             check=True):
    """The restore's way: one transaction, search_path on the copy,
    neutralize, anything in between, then the verification; returns
    (findings, CompletedProcess), findings "" when verified."""
    script = (f"BEGIN;\nSET LOCAL search_path = \"{schema}\";\n"
              f"SET LOCAL client_min_messages = warning;\n{neutralize}\n"
              f"{between}\n"
              f"SELECT 'VERIFY:' || coalesce(({verify}), '');\n{end};\n")
    proc = psql(services, script, check=check)
    found = [l[len("VERIFY:"):] for l in proc.stdout.splitlines()
             if l.startswith("VERIFY:")]
    return (found[-1] if found else None), proc


def rows(services, sql):
    return helpers_rows(psql(services, sql).stdout)


def helpers_rows(out):
    return [line.split("|") for line in out.splitlines()] if out else []


def one(services, sql):
    return psql(services, sql).stdout.strip()


# --- odoo ---------------------------------------------------------------------

def test_odoo_copy_is_neutralized_and_verified(services, tool):
    load(services, "c_odoo", "odoo")
    n, v = clone_sql(tool, "odoo", {"environment": "production"})
    found, _ = in_clone(services, "c_odoo", n, v)
    assert found == ""
    q = lambda sql: one(services, f'SET search_path = c_odoo; {sql}')
    # mail: every real server off, without its password; the dummy on
    assert q("SELECT count(*) FROM ir_mail_server WHERE active") == "1"
    assert q("SELECT name || '|' || smtp_host || '|' || smtp_port || '|' || "
             "smtp_encryption FROM ir_mail_server WHERE active") == \
        f"{DUMMY}|invalid|1025|none"
    assert q("SELECT count(*) FROM ir_mail_server WHERE smtp_pass IS NOT NULL") == "0"
    # crons: only the autovacuum job (ir_model_data base.autovacuum_job)
    assert q("SELECT string_agg(cron_name, ',') FROM ir_cron WHERE active") == \
        "Base: Auto-vacuum internal data"
    assert q("SELECT value FROM ir_config_parameter "
             "WHERE key = 'database.is_neutralized'") == "true"
    assert q("SELECT count(*) FROM fetchmail_server WHERE active OR password "
             "IS NOT NULL") == "0"
    assert q("SELECT string_agg(code || '=' || state, ',' ORDER BY id) "
             "FROM payment_provider") == \
        "stripe=disabled,paypal=disabled,demo=test,adyen=disabled"
    assert q("SELECT string_agg(coalesce(webhook_url, '-'), ',' ORDER BY id) "
             "FROM ir_act_server") == \
        "neutralization - disable webhook,neutralization - disable webhook,-"
    assert q("SELECT count(*) FROM mail_template WHERE mail_server_id "
             "IS NOT NULL") == "0"
    assert q("SELECT string_agg(account_token, ',' ORDER BY id) "
             "FROM iap_account") == "6f1c4b0e2a9d+disabled,a1b2c3+disabled"
    assert q("SELECT coalesce(domain, '-') || '|' || cdn_activated || '|' || "
             "replace(robots_txt, chr(10), '/') FROM website") == \
        "-|false|User-agent: */Disallow: /"
    # what neutralization does not touch stays as it was
    assert q("SELECT string_agg(email, ',' ORDER BY id) FROM res_partner") == \
        "billing@acme.example,jane@doe.example"
    assert q("SELECT value FROM ir_config_parameter WHERE key = "
             "'web.base.url'") == "https://erp.acme.example"
    # nothing of the verification outlives the session
    assert one(services, "SELECT count(*) FROM pg_proc WHERE proname = "
                         "'press_clone_verify'") == "0"


def test_odoo_verification_lists_what_is_live(services, tool):
    """On the untouched copy (the function defined on an empty schema
    first), the verification names every live thing; after neutralization,
    a server and the crons turned back on are named again."""
    load(services, "c_odoo_live", "odoo")
    psql(services, 'DROP SCHEMA IF EXISTS c_empty CASCADE; CREATE SCHEMA c_empty;')
    n, v = clone_sql(tool, "odoo", {"environment": "production"})
    found, _ = in_clone(services, "c_empty", n, v,
                        between="SET LOCAL search_path = c_odoo_live;",
                        end="ROLLBACK")
    assert found.split("; ") == [
        "ir_mail_server: 2 active besides the neutralization server",
        "ir_mail_server: the neutralization server (smtp_host invalid) is "
        "missing or inactive",
        "ir_mail_server: 2 with a password",
        "ir_cron: 4 active besides autovacuum",
        "ir_config_parameter: database.is_neutralized is not true",
        "fetchmail_server: 2 active",
        "fetchmail_server: 2 with a password",
        "payment_provider: 2 enabled",
        "ir_act_server: 2 webhooks with a live URL",
        "mail_template: 1 with a mail server",
        "iap_account: 2 tokens not disabled",
        "website: 1 with a domain",
        "website: 1 with the CDN on",
        "website: 1 allowing crawling",
    ]

    found, _ = in_clone(services, "c_odoo_live", n, v, between="""
        UPDATE ir_mail_server SET active = true WHERE name = 'Postmark';
        UPDATE ir_cron SET active = true;
        UPDATE payment_provider SET state = 'enabled' WHERE code = 'stripe';
    """, end="ROLLBACK")
    assert found == ("ir_mail_server: 1 active besides the neutralization "
                     "server; ir_cron: 5 active besides autovacuum; "
                     "payment_provider: 1 enabled")
    # rolled back: production's copy is as loaded
    assert one(services, "SELECT count(*) FROM c_odoo_live.ir_mail_server "
                         "WHERE active") == "2"


def test_odoo_neutralization_twice_keeps_one_dummy_server(services, tool):
    load(services, "c_odoo_twice", "odoo")
    n, v = clone_sql(tool, "odoo", {"environment": "production"})
    found, _ = in_clone(services, "c_odoo_twice", n + "\n" + n, v)
    assert found == ""
    assert one(services, "SELECT count(*) FROM c_odoo_twice.ir_mail_server "
                         f"WHERE name = '{DUMMY}'") == "1"


def test_partial_app_schema_is_neutralized_as_far_as_it_goes(services, tool):
    """An Odoo without ir_model_data, payment, website...; an
    ir_mail_server of an old version (no smtp_authentication, no
    smtp_pass): what exists is neutralized, the rest is skipped."""
    psql(services, """
        DROP SCHEMA IF EXISTS c_partial CASCADE; CREATE SCHEMA c_partial;
        SET search_path = c_partial;
        CREATE TABLE ir_cron (id serial PRIMARY KEY, active boolean);
        INSERT INTO ir_cron (active) VALUES (true), (true);
        CREATE TABLE ir_mail_server (id serial PRIMARY KEY, name varchar NOT NULL,
            smtp_host varchar, smtp_port integer, smtp_encryption varchar,
            active boolean);
        INSERT INTO ir_mail_server (name, smtp_host, active) VALUES ('m', 'smtp.x', true);
    """)
    n, v = clone_sql(tool, "odoo", {"environment": "production"})
    found, _ = in_clone(services, "c_partial", n, v)
    assert found == ""
    assert one(services, "SELECT count(*) FROM c_partial.ir_cron WHERE active") == "0"
    assert one(services, "SELECT string_agg(name, ',') FROM "
                         "c_partial.ir_mail_server WHERE active") == DUMMY
    # and every profile on a schema with none of its tables
    psql(services, 'DROP SCHEMA IF EXISTS c_none CASCADE; CREATE SCHEMA c_none;')
    for app in ("odoo", "frappe", "wordpress"):
        n, v = clone_sql(tool, app, {"environment": "production"})
        found, _ = in_clone(services, "c_none", n, v)
        assert found == "", app
    assert one(services, "SELECT count(*) FROM pg_tables WHERE schemaname = "
                         "'c_none'") == "0"


# --- frappe -------------------------------------------------------------------

def test_frappe_copy_is_neutralized_and_verified(services, tool):
    load(services, "c_frappe", "frappe")
    n, v = clone_sql(tool, "frappe", {"environment": "production"})
    found, _ = in_clone(services, "c_frappe", n, v)
    assert found == ""
    q = lambda sql: one(services, f'SET search_path = c_frappe; {sql}')
    assert q('SELECT sum(enable_outgoing) + sum(enable_incoming) '
             'FROM "tabEmail Account"') == "0"
    assert q('SELECT string_agg(field || \'=\' || value, \',\' ORDER BY field) '
             'FROM "tabSingles" WHERE doctype = \'System Settings\'') == \
        "country=India,enable_scheduler=0,time_zone=Asia/Kolkata"
    assert q('SELECT sum(enabled) FROM "tabWebhook"') == "0"
    assert q('SELECT count(*) FROM "tabSingles"') == "4"

    found, _ = in_clone(services, "c_frappe", n, v, between="""
        UPDATE "tabEmail Account" SET enable_outgoing = 1 WHERE name = 'Support';
        UPDATE "tabSingles" SET value = '1' WHERE field = 'enable_scheduler';
        UPDATE "tabWebhook" SET enabled = 1;
    """, end="ROLLBACK")
    assert found == ("tabEmail Account: 1 send mail (enable_outgoing); "
                     "tabSingles: System Settings enable_scheduler is on; "
                     "tabWebhook: 2 enabled")


def test_frappe_scheduler_row_is_written_when_missing(services, tool):
    load(services, "c_frappe_nosched", "frappe")
    psql(services, "DELETE FROM c_frappe_nosched.\"tabSingles\" "
                   "WHERE field = 'enable_scheduler'")
    n, v = clone_sql(tool, "frappe", {"environment": "production"})
    found, _ = in_clone(services, "c_frappe_nosched", n, v)
    assert found == ""
    assert one(services, "SELECT value FROM c_frappe_nosched.\"tabSingles\" "
                         "WHERE doctype = 'System Settings' AND "
                         "field = 'enable_scheduler'") == "0"


# --- wordpress ----------------------------------------------------------------

@pytest.mark.parametrize("prefix", [None, "shop2_"])
def test_wordpress_copy_is_neutralized_and_verified(services, tool, prefix):
    schema = f"c_wp_{prefix or 'default'}"
    table = f"{prefix or 'wp_'}options"
    load(services, schema, "wordpress", prefix=prefix)
    n, v = clone_sql(tool, "wordpress", {"environment": "production"},
                     stage="development", prefix=prefix)
    found, _ = in_clone(services, schema, n, v)
    assert found == ""
    opts = dict(rows(services, f'SELECT option_name, option_value FROM '
                               f'"{schema}"."{table}"'))
    assert opts["blog_public"] == "0"
    assert opts["cron"] == 'a:1:{s:7:"version";i:2;}'
    assert opts["admin_email"] == CATCHALL
    assert opts["new_admin_email"] == CATCHALL
    assert opts["mailserver_url"] == "mail.example.com"
    assert opts["mailserver_pass"] == ""
    assert opts["press_environment_type"] == "development"
    assert opts["siteurl"] == "https://www.acme.example"
    assert opts["mailserver_login"] == "posts@acme.example"
    env = subprocess.run([tool, "--app", "wordpress", "--stage", "development",
                          "--part", "env"], capture_output=True, text=True)
    assert env.stdout == "WP_ENVIRONMENT_TYPE=development\n"

    found, _ = in_clone(services, schema, n, v, between=f"""
        UPDATE "{table}" SET option_value = '1' WHERE option_name = 'blog_public';
        UPDATE "{table}" SET option_value = 'a:2:{{i:1733130000;a:0:{{}}s:7:"version";i:2;}}'
         WHERE option_name = 'cron';
    """, end="ROLLBACK")
    assert found == (f"{table}: blog_public is not 0 (search engines may index "
                     f"the copy); {table}: cron holds scheduled events")


def test_wordpress_needs_a_catchall(services, tool):
    proc = clone_sql(tool, "wordpress", {"environment": "production"},
                     catchall=None, check=False)
    assert proc.returncode == 1
    assert "catch-all address" in proc.stderr


# --- generic: the Site's own SQL ----------------------------------------------

GENERIC = """
    DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; SET search_path = {s};
    CREATE TABLE jobs (name text PRIMARY KEY, enabled boolean NOT NULL);
    INSERT INTO jobs VALUES ('nightly-export', true), ('invoice-reminders', true);
    CREATE TABLE settings (key text PRIMARY KEY, value text);
    INSERT INTO settings VALUES ('mail.url', 'smtp://mail.acme.example:587');
"""
SITE = {"neutralize": {
    "sql": "UPDATE jobs SET enabled = false;\n"
           "UPDATE settings SET value = 'smtp://127.0.0.1:1025' WHERE key = 'mail.url';\n"
           "SET LOCAL search_path = public",
    "verify": "SELECT string_agg(name, ', ' ORDER BY name) FROM jobs WHERE enabled"}}


def test_generic_site_sql_runs_and_its_query_verifies(services, tool):
    psql(services, GENERIC.format(s="c_generic"))
    n, v = clone_sql(tool, "generic", {"environment": "production"},
                     site_spec=SITE)
    # the Site's SQL changed search_path: what follows still sees the copy
    found, proc = in_clone(services, "c_generic", n, v, between="""
        SELECT 'PATH:' || current_setting('search_path');
    """)
    assert found == ""
    assert "PATH:c_generic\n" in proc.stdout
    assert one(services, "SELECT count(*) FROM c_generic.jobs WHERE enabled") == "0"
    assert one(services, "SELECT value FROM c_generic.settings") == \
        "smtp://127.0.0.1:1025"

    found, _ = in_clone(services, "c_generic", n, v, between="""
        UPDATE jobs SET enabled = true WHERE name = 'nightly-export';
    """, end="ROLLBACK")
    assert found == "spec.neutralize.verify: nightly-export"

    # without spec.neutralize a generic copy has nothing to run
    assert clone_sql(tool, "generic", {"environment": "production"}) == ("", "")


def test_generic_site_sql_cannot_end_the_transaction_or_run_psql_commands(
        services, tool, tmp_path):
    marker = tmp_path / "marker"
    for sql in ("UPDATE jobs SET enabled = false; COMMIT",
                f"UPDATE jobs SET enabled = false;\n\\! touch {marker}\n"):
        psql(services, GENERIC.format(s="c_generic_bad"))
        site = {"neutralize": {"sql": sql, "verify": "SELECT ''"}}
        n, v = clone_sql(tool, "generic", {"environment": "production"},
                         site_spec=site)
        found, proc = in_clone(services, "c_generic_bad", n, v, check=False)
        assert proc.returncode != 0 and found is None, proc.stdout
        # the whole transaction is gone: the jobs are as loaded
        assert one(services, "SELECT count(*) FROM c_generic_bad.jobs "
                             "WHERE enabled") == "2"
    assert not marker.exists()


# --- anonymization ------------------------------------------------------------

PARTNERS = """
    DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; SET search_path = {s};
    CREATE TABLE res_partner (
        id integer PRIMARY KEY,
        name varchar NOT NULL,
        email varchar(240),
        phone varchar(32),
        credit_limit numeric(16, 2),
        visits integer,
        comment text,
        ref varchar(12)
    );
    -- 10,000 rows; fewer distinct emails (so that equal ones exist),
    -- phones in four national shapes, amounts with zeros and negatives
    INSERT INTO res_partner
    SELECT g, 'Partner ' || g,
           CASE WHEN g % 50 = 0 THEN NULL
                ELSE 'user' || (g % 4001) || '@' ||
                     (ARRAY['gmail.com', 'acme.example', 'web.de'])[g % 4001 % 3 + 1]
                END,
           CASE g % 4
             WHEN 0 THEN '+1 (555) ' || lpad((g % 1000)::text, 3, '0') || '-'
                          || lpad((g * 7 % 10000)::text, 4, '0')
             WHEN 1 THEN '030 ' || lpad((g * 13 % 10000000)::text, 7, '0')
             WHEN 2 THEN '+44 20 7946 ' || lpad((g % 10000)::text, 4, '0')
             ELSE '+91 98' || lpad((g * 31 % 100000000)::text, 8, '0') END,
           CASE WHEN g % 10 = 0 THEN 0 ELSE ((g % 4000) - 500) * 1.37 END,
           g % 40,
           'called on ' || g,
           'R' || g
      FROM generate_series(1, 10000) g;
    CREATE TABLE res_users (id integer PRIMARY KEY, login varchar NOT NULL);
    INSERT INTO res_users SELECT id, email FROM res_partner WHERE email IS NOT NULL
       AND id % 5 = 0;
"""
RULES = {"res_partner.email": "hash", "res_partner.phone": "mask",
         "res_partner.credit_limit": "shift:20", "res_partner.visits": "shift",
         "res_partner.comment": "null", "res_users.login": "hash"}


def anonymized_copy(services, tool, schema, salt=SALT, between=""):
    psql(services, PARTNERS.format(s=schema))
    n, v = clone_sql(tool, "odoo", {"environment": "production",
                                    "neutralize": False, "anonymize": RULES},
                     salt=salt)
    return in_clone(services, schema, n, v, between=between)


def test_anonymization_of_10000_partners(services, tool):
    psql(services, PARTNERS.format(s="a_orig"))
    planted = """
        SELECT 'INTEMP:' || string_agg(DISTINCT relpersistence::text, '')
          FROM pg_class WHERE relname LIKE 'press_anon_%';
        SAVEPOINT plant;
        UPDATE res_partner p SET email = o.email, phone = o.phone
          FROM a_orig.res_partner o WHERE o.id = 17 AND p.id = 4242;
        UPDATE res_partner p SET credit_limit = o.credit_limit
          FROM a_orig.res_partner o WHERE o.id = 4243 AND p.id = 4243;
        SELECT 'PLANTED:' || pg_temp.press_clone_verify();
        ROLLBACK TO SAVEPOINT plant;
    """
    found, proc = anonymized_copy(services, tool, "a_copy", between=planted)
    assert found == ""
    out = proc.stdout
    # the originals were held in temporary tables only
    assert "INTEMP:t" in out
    assert one(services, "SELECT count(*) FROM pg_class WHERE relname LIKE "
                         "'press_anon_%'") == "0"
    # a planted original email and phone, a row changed afterwards: named
    planted_found = [l for l in out.splitlines() if l.startswith("PLANTED:")][0]
    assert "res_partner.email: 1 values equal an original (rule hash)" in planted_found
    assert "res_partner.phone: 1 values equal an original (rule mask)" in planted_found
    # (an UPDATE moves a row: a shifted value put back is found as a row
    # changed after the anonymization, 4242 and 4243 here)
    assert ("res_partner.credit_limit: 2 rows were changed after the "
            "anonymization and cannot be checked (rule shift)") in planted_found

    q = lambda sql: one(services, sql)
    assert q("SELECT count(*) FROM a_copy.res_partner") == "10000"
    # not one original value is left, in any row
    assert q("SELECT count(*) FROM a_copy.res_partner c WHERE c.email IN "
             "(SELECT email FROM a_orig.res_partner WHERE email IS NOT NULL)") == "0"
    assert q("SELECT count(*) FROM a_copy.res_partner c WHERE c.phone IN "
             "(SELECT phone FROM a_orig.res_partner)") == "0"
    # equal stays equal, different stays different
    assert q("SELECT count(*) FROM (SELECT o.email FROM a_orig.res_partner o "
             "JOIN a_copy.res_partner c USING (id) GROUP BY o.email "
             "HAVING count(DISTINCT c.email) > 1) x") == "0"
    distinct = q("SELECT count(DISTINCT email) FROM a_orig.res_partner")
    assert 3900 < int(distinct) <= 4001
    assert q("SELECT count(DISTINCT email) FROM a_copy.res_partner") == distinct
    assert q("SELECT count(DISTINCT phone) FROM a_copy.res_partner") == \
        q("SELECT count(DISTINCT phone) FROM a_orig.res_partner")
    # NULL stays NULL
    assert q("SELECT count(*) FROM a_copy.res_partner WHERE email IS NULL") == "200"
    # the same address in another table gets the same replacement
    assert q("SELECT count(*) FROM a_copy.res_users u JOIN a_copy.res_partner p "
             "USING (id) WHERE u.login <> p.email") == "0"
    assert q("SELECT count(*) FROM a_copy.res_users") == "1800"
    # the null rule
    assert q("SELECT count(*) FROM a_copy.res_partner WHERE comment IS NOT NULL") == "0"

    pairs = rows(services, """
        SELECT o.id, o.email, c.email, o.phone, c.phone, o.credit_limit,
               c.credit_limit, o.visits, c.visits
          FROM a_orig.res_partner o JOIN a_copy.res_partner c USING (id)""")
    assert len(pairs) == 10000
    email_re = re.compile(r"^u[0-9a-f]{16}@anon\.invalid$")
    key = bytes.fromhex(SALT)
    redrawn = 0
    for (pid, oe, ce, op, cp, oc, cc, ov, cv) in pairs:
        if oe:
            assert email_re.match(ce), ce
            # the hash rule is HMAC-SHA256(key, "hash:0:" || value)
            want = "u" + hmac.new(key, f"hash:0:{oe}".encode(),
                                  hashlib.sha256).digest()[:8].hex()
            if ce != want + "@anon.invalid":
                redrawn += 1
        else:
            assert ce == ""
        # mask: same length and punctuation, every digit another digit
        assert len(cp) == len(op)
        for a, b in zip(op, cp):
            if a.isdigit():
                assert b.isdigit() and b != a, (op, cp)
            else:
                assert a == b, (op, cp)
        # shift: zero stays zero; otherwise changed, same sign, two
        # decimals, within 20 % (or one cent off when 20 % is less)
        o, c = Decimal(oc), Decimal(cc)
        if o == 0:
            assert c == 0
        else:
            assert c != o and (c > 0) == (o > 0) and c == c.quantize(Decimal("0.01"))
            assert abs(c - o) <= max(abs(o) * Decimal("0.20") + Decimal("0.005"),
                                     Decimal("0.01")), (o, c)
        o, c = int(ov), int(cv)
        if o == 0:
            assert c == 0
        else:
            assert c != o and c > 0
            assert abs(c - o) <= max(o // 10 + 1, 1), (o, c)
    assert redrawn == 0, f"{redrawn} emails differ from HMAC round 0"


def test_anonymization_is_keyed_and_repeatable(services, tool):
    for schema, salt in (("a_k1", SALT), ("a_k2", SALT), ("a_k3", secrets.token_hex(32))):
        found, _ = anonymized_copy(services, tool, schema, salt=salt)
        assert found == ""
    digest = lambda s: one(services, f"SELECT md5(string_agg(email || phone || "
                                     f"credit_limit || visits, ',' ORDER BY id)) "
                                     f"FROM {s}.res_partner")
    assert digest("a_k1") == digest("a_k2")
    assert digest("a_k1") != digest("a_k3")


def test_anonymization_refuses_what_it_cannot_do(services, tool):
    cases = [
        ({"res_partnr.email": "hash"},
         "cannot anonymize res_partnr.email: the copy has no table res_partnr"),
        ({"res_partner.mail": "hash"},
         "cannot anonymize res_partner.mail: the copy's table has no such column"),
        ({"res_partner.credit_limit": "mask"},
         "cannot anonymize res_partner.credit_limit: rule mask needs a text "
         "column, and it is numeric(16,2)"),
        ({"res_partner.email": "shift"},
         "rule shift needs a number column"),
        ({"res_partner.name": "null"},
         "cannot anonymize res_partner.name: rule null cannot empty a NOT NULL "
         "column (use hash or mask)"),
        ({"res_partner.ref": "hash"},
         "cannot anonymize res_partner.ref: its type character varying(12) "
         "is too short for the values of rule hash"),
    ]
    psql(services, PARTNERS.format(s="a_err"))
    before = one(services, "SELECT md5(string_agg(p::text, ',' ORDER BY id)) "
                           "FROM a_err.res_partner p")
    for rules, message in cases:
        n, v = clone_sql(tool, "odoo", {"environment": "production",
                                        "neutralize": False,
                                        "anonymize": {"res_partner.visits": "shift",
                                                      **rules}})
        found, proc = in_clone(services, "a_err", n, v, check=False)
        assert proc.returncode != 0 and found is None
        assert message in proc.stderr, proc.stderr
        assert SALT not in proc.stderr
    after = one(services, "SELECT md5(string_agg(p::text, ',' ORDER BY id)) "
                          "FROM a_err.res_partner p")
    assert before == after


def test_anonymization_of_hostile_names(services, tool):
    psql(services, """
        DROP SCHEMA IF EXISTS a_names CASCADE; CREATE SCHEMA a_names;
        SET search_path = a_names;
        CREATE TABLE "we""ird tab'le$press$" (
            press_x integer, "e""m'ail\\x" text, "tel $site$" text);
        INSERT INTO "we""ird tab'le$press$"
        SELECT g, 'p' || g || '@x.example', '+1 555 01' || lpad(g::text, 2, '0')
          FROM generate_series(1, 50) g;
    """)
    n, v = clone_sql(tool, "odoo", {
        "environment": "production", "neutralize": False,
        "anonymize": {"we\"ird tab'le$press$.e\"m'ail\\x": "hash",
                      "we\"ird tab'le$press$.tel $site$": "mask"}})
    found, _ = in_clone(services, "a_names", n, v)
    assert found == ""
    got = rows(services, """SELECT press_x, "e""m'ail\\x", "tel $site$"
                              FROM a_names."we""ird tab'le$press$" ORDER BY 1""")
    assert len(got) == 50
    for i, e, t in got:
        assert re.match(r"^u[0-9a-f]{16}@anon\.invalid$", e)
        assert t.startswith("+") and len(t) == len("+1 555 0100")
        assert t != f"+1 555 01{int(i):02d}"


def test_replacements_that_collide_are_drawn_again(services, tool):
    """A replacement may not equal an original of its column nor another
    replacement: with three one-digit values, mask must find three other
    digits, all different (drawing again as often as needed); with all
    ten digits taken it cannot, and says so instead of leaving one."""
    psql(services, """
        DROP SCHEMA IF EXISTS a_redraw CASCADE; CREATE SCHEMA a_redraw;
        SET search_path = a_redraw;
        CREATE TABLE t (id integer PRIMARY KEY, code text, label text);
        INSERT INTO t SELECT g, (g % 3 + 1)::text, 'label ' || (g % 3)
          FROM generate_series(1, 30) g;
        CREATE TABLE u (id integer PRIMARY KEY, code text);
        INSERT INTO u SELECT g, (g % 10)::text FROM generate_series(1, 30) g;
    """)
    n, v = clone_sql(tool, "odoo", {"environment": "production", "neutralize": False,
                                    "anonymize": {"t.code": "mask", "t.label": "hash"}})
    found, _ = in_clone(services, "a_redraw", n, v)
    assert found == ""
    got = rows(services, "SELECT id, code, label FROM a_redraw.t ORDER BY id")
    codes = {int(i) % 3 + 1: c for i, c, _ in got}
    assert len(set(codes.values())) == 3
    for orig, new in codes.items():
        assert new.isdigit() and len(new) == 1 and new not in "123", codes
    # equal stays equal across the 30 rows
    assert len({(int(i) % 3, c) for i, c, _ in got}) == 3
    assert all(re.match(r"^anon-[0-9a-f]{16}$", l) for _, _, l in got)

    n, v = clone_sql(tool, "odoo", {"environment": "production", "neutralize": False,
                                    "anonymize": {"u.code": "mask"}})
    found, proc = in_clone(services, "a_redraw", n, v, check=False)
    assert found is None
    assert "cannot anonymize u.code: " in proc.stderr
    assert "values still equal an original or each other after 16 rounds" in proc.stderr
