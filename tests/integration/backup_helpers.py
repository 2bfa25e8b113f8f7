"""Helpers of the backup and clone tests (test_backup.py, test_clone.py):
a platform with BackupPolicies, data to fill a schema with, row-by-row
table checksums and object hashes, and the backup commands."""

import hashlib
import json

from converge_helpers import Platform, derived_password, dump, env_doc, lit, psql_as, site_doc
from helpers import describe


def policy_doc(name, selector, schedule="0 2 * * *", retention=None, encrypt=None,
               include=None, max_age_hours=None):
    spec = {"selector": selector, "schedule": schedule,
            "retention": retention or {"daily": 7, "weekly": 4, "monthly": 3}}
    if max_age_hours:
        spec["maxAgeHours"] = max_age_hours
    if encrypt:
        spec["encrypt"] = {"key": {"env": encrypt}}
    if include:
        spec["include"] = include
    return {"apiVersion": "press/v1", "kind": "BackupPolicy",
            "metadata": {"name": name}, "spec": spec}


def table_sums(services, schema):
    """{table: md5 of its rows in order}: row by row, not a count."""
    out = {}
    for (t,) in services.psql_rows(
            f"SELECT tablename FROM pg_tables WHERE schemaname = {lit(schema)} "
            f"ORDER BY tablename"):
        out[t] = services.psql(
            f"SELECT count(*) || ':' || coalesce(md5(string_agg(md5(x::text), '' "
            f"ORDER BY x::text)), '') FROM \"{schema}\".\"{t}\" x")
    return out


def object_hashes(services, bucket):
    return {k: hashlib.sha256(services.get_object(bucket, k)).hexdigest()
            for k in services.site_objects(bucket)}


def backup(p, *args, expect=0):
    proc = p.run("backup", *args[:1], str(p.src), *args[1:], src=False, timeout=600)
    assert proc.returncode == expect, describe(proc)
    return proc


def backups(p, env):
    proc = p.run("backup", "list", str(p.src), "--env", env, "--format", "json",
                 src=False)
    assert proc.returncode == 0, describe(proc)
    return json.loads(proc.stdout)


def restore(p, env, backup_id, into=None, expect=0, env_vars=None):
    args = ["restore", str(p.src), env, "--backup", backup_id]
    if into:
        args += ["--into", into]
    proc = p.run(*args, src=False, env=env_vars, timeout=600)
    assert proc.returncode == expect, describe(proc)
    return proc


def fill(services, schema, rows=100_000, marker="row"):
    pw = derived_password(services, schema)
    sql = (f"CREATE TABLE a (id int PRIMARY KEY, v text);"
           f" INSERT INTO a SELECT g, '{marker}-' || g FROM generate_series(1, {rows // 2}) g;"
           f" CREATE TABLE b (id serial PRIMARY KEY, n numeric, t timestamptz);"
           f" INSERT INTO b (n, t) SELECT g * 1.5, '2026-01-01'::timestamptz + g * interval '1 min'"
           f"  FROM generate_series(1, {rows // 4}) g;"
           f" CREATE TABLE c (k text PRIMARY KEY, j jsonb);"
           f" INSERT INTO c SELECT 'k' || g, jsonb_build_object('g', g, 'm', '{marker}')"
           f"  FROM generate_series(1, {rows - rows // 2 - rows // 4}) g;")
    proc = psql_as(services, schema, pw, sql)
    assert proc.returncode == 0, proc.stderr


def cas_keys(services, bucket):
    return [k for k in services.objects(bucket, "cas/")]


def platform(services, pressctl, tmp_path, name, site, envs, policies=(), env=None,
             nports=None):
    p = Platform(services, pressctl, tmp_path, name=name, prefix=name,
                 nports=nports or 2 * len(envs) + 2, env=env)
    dump(p.src / "site.yaml", site_doc(site, timeout=20))
    for e, stage in envs:
        dump(p.src / f"{e}.yaml", env_doc(site, e, stage=stage))
    for i, pol in enumerate(policies):
        dump(p.src / f"policy-{i}.yaml", pol)
    p.apply()
    return p
