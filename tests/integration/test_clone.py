"""cloneFrom: environments created as copies of another (docs/clone.md).

Against the session's PostgreSQL, s3rver and dockerd; the tests assert
live state: row-by-row table checksums, object hashes, containers, the
clone record.

1. A clone holds its source's rows and files, from the backup the plan
   names; the source's rows, objects and container are untouched; with
   `fresh: true` a backup is taken now; cloneFrom is ignored once the
   environment exists.
2. kill -9 at random moments of an apply that clones: no half clone ever
   starts a container, a schema that exists is whole, and the next apply
   converges.
3. Each app profile (odoo, frappe, wordpress, generic with the Site's
   SQL): the copy pressctl makes is neutralized before its role gets it;
   a copy whose verification finds something live is never granted and
   its container never starts.
4. cloneFrom.anonymize on 10,000 partners: same rows, not one original
   email or phone, equal values mapped to equal values.
"""

import os
import time
from pathlib import Path

import pytest

import crash_helpers as crash
from backup_helpers import (backup, backups, fill, object_hashes, platform, policy_doc,
                            table_sums)
from converge_helpers import Platform, derived_password, dump, env_doc, psql_as, site_doc
from test_clone_sql import GENERIC, PARTNERS, RULES, SITE, psql

APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"


def clone_row(services, name, env_id):
    rows = services.psql_rows(
        "SELECT source_env, backup_id, state FROM pressctl.clones "
        f"WHERE platform = '{name}' AND env_id = '{env_id}'")
    return tuple(rows[0]) if rows else None


def test_a_clone_copies_its_source_and_leaves_it_untouched(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "clone-a", "cla", [("prod", "production")],
                 [policy_doc("daily", {"stage": "production"})], nports=8)
    fill(services, "cla_prod", rows=20000)
    for i in range(30):
        services.put_object("clone-a-cla-prod", f"media/{i:02d}.bin", bytes([i]) * (1000 + i))
    backup(p, "run", "--env", "cla/prod")
    (b1,) = backups(p, "cla/prod")
    prod_rows = table_sums(services, "cla_prod")
    prod_files = object_hashes(services, "clone-a-cla-prod")
    prod_container = p.containers()["clone-a-cla-prod"]["Id"]

    dump(p.src / "staging.yaml",
         env_doc("cla", "staging", stage="staging", cloneFrom={"environment": "prod"}))
    plan = p.plan_json()
    clones = [a for a in plan["actions"] if a["action"] == "clone"]
    assert [(a["kind"], a["name"], a["environment"]) for a in clones] == \
        [("schema", "cla_staging", "cla/staging")], plan
    assert b1["id"] in clones[0]["detail"], clones
    p.apply()

    assert table_sums(services, "cla_staging") == prod_rows
    assert object_hashes(services, "clone-a-cla-staging") == prod_files
    assert clone_row(services, "clone-a", "cla/staging") == ("cla/prod", b1["id"], "done")
    # The source: same rows, same files, same container.
    assert table_sums(services, "cla_prod") == prod_rows
    assert object_hashes(services, "clone-a-cla-prod") == prod_files
    assert p.containers()["clone-a-cla-prod"]["Id"] == prod_container
    # The clone is its role's, and the plan is clean.
    owners = services.psql_rows("SELECT DISTINCT tableowner FROM pg_tables "
                                "WHERE schemaname = 'cla_staging'")
    assert owners == [["cla_staging"]], owners
    assert p.plan("--detailed-exitcode").returncode == 0

    # fresh: a backup of the source taken now, with what it holds now.
    pw = derived_password(services, "cla_prod")
    assert psql_as(services, "cla_prod", pw, "DELETE FROM a WHERE id % 2 = 0").returncode == 0
    now_rows = table_sums(services, "cla_prod")
    dump(p.src / "dev.yaml", env_doc("cla", "dev", stage="development",
                                     cloneFrom={"environment": "prod", "fresh": True}))
    plan = p.plan_json()
    (c,) = [a for a in plan["actions"] if a["action"] == "clone"]
    assert "backup taken now" in c["detail"], c
    p.apply()
    assert table_sums(services, "cla_dev") == now_rows
    listed = backups(p, "cla/prod")
    assert len(listed) == 2 and listed[0]["reason"] == "clone", listed
    assert clone_row(services, "clone-a", "cla/dev") == ("cla/prod", listed[0]["id"], "done")

    # Once it exists, cloneFrom is ignored: no new copy over its data.
    dump(p.src / "staging.yaml",
         env_doc("cla", "staging", stage="staging",
                 cloneFrom={"environment": "prod", "fresh": True}))
    plan = p.plan_json()
    assert not [a for a in plan["actions"] if a["action"] == "clone"], plan
    p.apply()
    assert table_sums(services, "cla_staging") == prod_rows


# --- kill -9 during a clone ----------------------------------------------------------

def test_kill9_during_a_clone_never_starts_a_half_clone(services, pressctl, tmp_path):
    n = crash.trials("clone", 2)
    seed, rng = crash.seeded("clone", 5)
    p = platform(services, pressctl, tmp_path, "clone-k", "clk", [("prod", "production")],
                 [policy_doc("daily", {"stage": "production"})], nports=2 * n + 4)
    fill(services, "clk_prod", rows=30000)
    for i in range(40):
        services.put_object("clone-k-clk-prod", f"f{i:02d}", os.urandom(30_000))
    backup(p, "run", "--env", "clk/prod")
    prod_rows = table_sums(services, "clk_prod")
    prod_files = object_hashes(services, "clone-k-clk-prod")
    env = {**os.environ, **services.env_vars(), **p.extra_env}
    started = time.monotonic()
    finished = 0
    for t in range(n):
        name = f"c{t:02d}"
        dump(p.src / f"{name}.yaml",
             env_doc("clk", name, stage="development", cloneFrom={"environment": "prod"}))
        finished += crash.kill_after([pressctl, "apply", str(p.src)], env,
                                     rng.uniform(0.05, 2.5)) == 0
        # No half clone ever runs: a container of the clone means the
        # clone is done and whole.
        container = p.containers().get(f"clone-k-clk-{name}")
        row = services.psql_rows("SELECT state FROM pressctl.clones WHERE "
                                 f"platform = 'clone-k' AND env_id = 'clk/{name}'")
        if container:
            assert row == [["done"]], (t, row)
            assert table_sums(services, f"clk_{name}") == prod_rows, t
            assert object_hashes(services, f"clone-k-clk-{name}") == prod_files, t
        # The schema, if it exists, is whole (one transaction); the
        # source is untouched; the next apply converges; then the clone
        # is whole.
        whole = {"clk_prod": [prod_rows]}
        if services.psql(f"SELECT count(*) FROM pg_namespace WHERE nspname = 'clk_{name}'") == "1":
            whole[f"clk_{name}"] = [prod_rows]
        crash.assert_after_kill(p, services, t, schemas=whole, backup_envs=["clk/prod"])
        assert table_sums(services, f"clk_{name}") == prod_rows, t
        assert object_hashes(services, f"clone-k-clk-{name}") == prod_files, t
        assert services.psql_rows("SELECT state FROM pressctl.clones WHERE "
                                  f"platform = 'clone-k' AND env_id = 'clk/{name}'") == [["done"]]
    crash.report("clone", n, seed, started, finished_first=finished)
    assert table_sums(services, "clk_prod") == prod_rows
    assert object_hashes(services, "clone-k-clk-prod") == prod_files


# --- neutralization by app profile, end to end -------------------------------------

def one(services, sql):
    rows = services.psql_rows(sql)
    return rows[0][0] if rows else None


def load_app(services, schema, app):
    if app == "generic":
        psql(services, GENERIC.format(s=schema).replace(
            f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};", ""))
        return
    text = (APPS / f"{app}.sql").read_text(encoding="utf-8")
    psql(services, f'SET search_path = "{schema}";\n{text}')


# What each profile leaves in the copy (docs/clone.md), as (query, value).
NEUTRALIZED = {
    "odoo": [
        ("SELECT count(*) FROM {s}.ir_mail_server WHERE active", 1),
        ("SELECT smtp_host FROM {s}.ir_mail_server WHERE active", "invalid"),
        ("SELECT count(*) FROM {s}.ir_mail_server WHERE smtp_pass IS NOT NULL", 0),
        ("SELECT string_agg(cron_name, ',') FROM {s}.ir_cron WHERE active",
         "Base: Auto-vacuum internal data"),
        ("SELECT value FROM {s}.ir_config_parameter WHERE key = 'database.is_neutralized'",
         "true"),
        ("SELECT count(*) FROM {s}.payment_provider WHERE state = 'enabled'", 0),
        ("SELECT count(*) FROM {s}.fetchmail_server WHERE active", 0),
    ],
    "frappe": [
        ('SELECT sum(enable_outgoing) + sum(enable_incoming) FROM {s}."tabEmail Account"', 0),
        ("SELECT value FROM {s}.\"tabSingles\" WHERE doctype = 'System Settings' "
         "AND field = 'enable_scheduler'", "0"),
    ],
    "wordpress": [
        ("SELECT option_value FROM {s}.wp_options WHERE option_name = 'blog_public'", "0"),
        ("SELECT option_value FROM {s}.wp_options WHERE option_name = 'admin_email'",
         "admin@{site}-staging.invalid"),
        ("SELECT option_value FROM {s}.wp_options WHERE option_name = 'cron'",
         'a:1:{{s:7:"version";i:2;}}'),
    ],
    "generic": [
        ("SELECT count(*) FROM {s}.jobs WHERE enabled", 0),
        ("SELECT value FROM {s}.settings WHERE key = 'mail.url'", "smtp://127.0.0.1:1025"),
    ],
}


@pytest.mark.parametrize("app", sorted(NEUTRALIZED))
def test_a_clone_of_each_profile_is_neutralized_before_its_role_sees_it(
        services, pressctl, tmp_path, app):
    site = f"nz{app[:4]}"
    p = Platform(services, pressctl, tmp_path, name=f"nz-{app}", prefix=f"nz-{app}",
                 nports=8)
    spec = SITE if app == "generic" else {}
    dump(p.src / "site.yaml", site_doc(site, app=app, **spec))
    dump(p.src / "prod.yaml", env_doc(site, "prod", stage="production"))
    p.apply()
    prod = f"{site}_prod"
    load_app(services, prod, app)
    prod_rows = table_sums(services, prod)
    prod_files = object_hashes(services, f"nz-{app}-{site}-prod")
    prod_container = p.containers()[f"nz-{app}-{site}-prod"]["Id"]

    dump(p.src / "staging.yaml",
         env_doc(site, "staging", stage="staging", cloneFrom={"environment": "prod"}))
    p.apply()
    staging = f"{site}_staging"
    for query, want in NEUTRALIZED[app]:
        got = one(services, query.format(s=f'"{staging}"', site=site))
        assert str(got) == str(want).format(site=site), (query, got)
    # The copy is its role's, and the source is as it was.
    owners = services.psql_rows("SELECT DISTINCT tableowner FROM pg_tables "
                                f"WHERE schemaname = '{staging}'")
    assert owners == [[staging]], owners
    assert table_sums(services, prod) == prod_rows
    assert object_hashes(services, f"nz-{app}-{site}-prod") == prod_files
    assert p.containers()[f"nz-{app}-{site}-prod"]["Id"] == prod_container
    env = [v for v in p.containers()[f"nz-{app}-{site}-staging"]["Config"]["Env"]
           if v.startswith("WP_")]
    # WordPress takes an unset type for production.
    assert env == (["WP_ENVIRONMENT_TYPE=staging"] if app == "wordpress" else []), env
    assert p.plan("--detailed-exitcode").returncode == 0
    p.assert_no_secrets([staging])


def test_a_clone_that_fails_its_verification_is_never_granted_nor_started(
        services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="nz-fail", prefix="nz-fail", nports=8)
    # The Site's verification always finds the nightly export live.
    spec = {"neutralize": {"sql": SITE["neutralize"]["sql"],
                           "verify": "SELECT 'nightly-export still enabled'"}}
    dump(p.src / "site.yaml", site_doc("nzf", app="generic", **spec))
    dump(p.src / "prod.yaml", env_doc("nzf", "prod", stage="production"))
    p.apply()
    load_app(services, "nzf_prod", "generic")
    prod_rows = table_sums(services, "nzf_prod")

    dump(p.src / "dev.yaml",
         env_doc("nzf", "dev", stage="development", cloneFrom={"environment": "prod"}))
    proc = p.apply(expect=4)
    assert "nightly-export still enabled" in proc.stderr, proc.stderr
    # Rolled back: no copy, nothing granted, no container.
    assert services.psql_rows(
        "SELECT 1 FROM pg_namespace WHERE nspname = 'nzf_dev'") == []
    assert "nz-fail-nzf-dev" not in p.containers()
    assert table_sums(services, "nzf_prod") == prod_rows
    status = p.status_json()
    dev = next(e for e in status["environments"] if e["environment"] == "nzf/dev")
    assert dev["state"] != "converged", dev
    # Mended in the Site, the next apply makes the copy.
    dump(p.src / "site.yaml", site_doc("nzf", app="generic", **SITE))
    p.apply()
    assert one(services, "SELECT count(*) FROM nzf_dev.jobs WHERE enabled") == "0"
    assert "nz-fail-nzf-dev" in p.containers()


# --- anonymization, end to end ---------------------------------------------------

def test_an_anonymized_clone_of_10000_partners_keeps_no_original(
        services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="nz-anon", prefix="nz-anon", nports=8)
    dump(p.src / "site.yaml", site_doc("nza", app="odoo"))
    dump(p.src / "prod.yaml", env_doc("nza", "prod", stage="production"))
    p.apply()
    psql(services, PARTNERS.format(s="nza_prod").replace(
        "DROP SCHEMA IF EXISTS nza_prod CASCADE; CREATE SCHEMA nza_prod;", ""))
    prod_rows = table_sums(services, "nza_prod")

    dump(p.src / "dev.yaml",
         env_doc("nza", "dev", stage="development",
                 cloneFrom={"environment": "prod", "anonymize": RULES}))
    p.apply()
    q = lambda sql: one(services, sql)
    assert q("SELECT count(*) FROM nza_dev.res_partner") == "10000"
    assert q("SELECT count(*) FROM nza_dev.res_partner c WHERE c.email IN "
             "(SELECT email FROM nza_prod.res_partner WHERE email IS NOT NULL)") == "0"
    assert q("SELECT count(*) FROM nza_dev.res_partner c WHERE c.phone IN "
             "(SELECT phone FROM nza_prod.res_partner)") == "0"
    assert q("SELECT count(*) FROM nza_dev.res_users c WHERE c.login IN "
             "(SELECT login FROM nza_prod.res_users)") == "0"
    # Equal source values map to equal values, different to different.
    assert q("SELECT count(*) FROM (SELECT o.email FROM nza_prod.res_partner o "
             "JOIN nza_dev.res_partner c USING (id) GROUP BY o.email "
             "HAVING count(DISTINCT c.email) > 1) x") == "0"
    assert q("SELECT count(DISTINCT email) FROM nza_dev.res_partner") == \
        q("SELECT count(DISTINCT email) FROM nza_prod.res_partner")
    assert q("SELECT count(*) FROM nza_dev.res_users u JOIN nza_dev.res_partner r "
             "USING (id) WHERE u.login <> r.email") == "0"
    assert q("SELECT count(*) FROM nza_dev.res_partner WHERE comment IS NOT NULL") == "0"
    # The source is untouched.
    assert table_sums(services, "nza_prod") == prod_rows


def test_clones_of_one_source_made_at_once_are_all_whole(services, pressctl, tmp_path):
    """Four copies of one source in one apply, on parallel workers: each
    restore moves the live schema of the dump's name aside meanwhile, so
    they take turns on the source, and each is whole."""
    p = platform(services, pressctl, tmp_path, "clone-m", "clm", [("prod", "production")],
                 nports=14)
    fill(services, "clm_prod", rows=20000)
    prod_rows = table_sums(services, "clm_prod")
    names = [f"pr{i}" for i in range(4)]
    for n in names:
        dump(p.src / f"{n}.yaml",
             env_doc("clm", n, stage="development", cloneFrom={"environment": "prod"}))
    p.apply("--parallel", "4")
    for n in names:
        assert table_sums(services, f"clm_{n}") == prod_rows, n
    assert table_sums(services, "clm_prod") == prod_rows
    assert services.psql_rows("SELECT nspname FROM pg_namespace "
                              "WHERE nspname LIKE 'pressctl_hold_%'") == []
    p.assert_converged()
