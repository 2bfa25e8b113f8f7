"""pressctl touches only what carries its own ownership mark or its own state
rows (docs/design.md §3 "Derived live names", docs/state.md "Ownership").

Two platforms share one PostgreSQL database, one S3 server and one Docker
engine and declare the same site and environment: the second one's plan
names the first as the owner and the file:line of its own environment, its
apply refuses (exit 3), and the first platform's schema, role, rows, bucket
objects and containers are unchanged after every step, also when the second
one has (legacy) state rows for them and its soft-delete window passes.
Also: a purge refuses an object whose mark changed between plan and DROP,
a purge line counts rows of an unanalyzed table exactly, unmarked objects
holding data are adopted only with --adopt, and host ports are never handed
out twice across platforms, nor when a plain socket holds one.
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from converge_helpers import (Platform, clock, container, derived_password, dump,
                              env_doc, host_port, http_get, lit, psql_as,
                              schema_exists, site_doc)
from helpers import describe


def second_key(tmp_path, name):
    """A master key file of its own (another platform, another secret)."""
    path = Path(tmp_path) / f"{name}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return path


def use_key(platform, key):
    """Point a Platform's manifest at another master key file."""
    path = platform.src / "platform.yaml"
    text = path.read_text(encoding="utf-8")
    old = str(platform.services.master_key)
    assert old in text
    path.write_text(text.replace(old, str(key)), encoding="utf-8")
    platform.secrets.append(Path(key).read_text().strip())


def fingerprint(services, schema, role, bucket, containers):
    """Everything of one environment another platform must not change:
    the schema's owner, comment and every row (checksummed), the role's
    attributes, password verifier and comment, the bucket's objects with
    their content hashes, and the containers (id, state, start time)."""
    rows = services.psql(
        f"SELECT coalesce(string_agg(md5(t::text), ',' ORDER BY t::text), '')"
        f"  FROM {schema}.notes t")
    objects = {k: hashlib.sha256(services.get_object(bucket, k)).hexdigest()
               for k in services.objects(bucket)}
    return {
        "schema": services.psql_rows(
            f"SELECT pg_get_userbyid(nspowner), obj_description(oid, 'pg_namespace'),"
            f" nspacl::text FROM pg_namespace WHERE nspname = {lit(schema)}"),
        "rows": rows,
        "role": services.psql_rows(
            f"SELECT rolcanlogin, rolconnlimit, rolpassword,"
            f" shobj_description(a.oid, 'pg_authid'),"
            f" (SELECT setconfig::text FROM pg_db_role_setting WHERE setrole = a.oid)"
            f" FROM pg_authid a WHERE rolname = {lit(role)}"),
        "objects": objects,
        "containers": {n: (i["Id"], i["State"]["Status"], i["State"]["StartedAt"])
                       for n in containers
                       for i in [container(services, n)] if i},
    }


def make_owner(services, pressctl, tmp_path, name, prefix, site):
    """Platform `name` with site/staging applied, a row in its schema and an
    object in its bucket; returns (platform, schema, bucket, container)."""
    p = Platform(services, pressctl, tmp_path / name, name=name, prefix=prefix, nports=4)
    dump(p.src / "site.yaml", site_doc(site, timeout=20))
    dump(p.src / "staging.yaml", env_doc(site, "staging"))
    p.apply()
    schema, bucket, cname = f"{site}_staging", f"{prefix}-{site}-staging", f"{prefix}-{site}-staging"
    pw = derived_password(services, schema)
    for sql in ("CREATE TABLE notes (id int PRIMARY KEY, v text)",
                "INSERT INTO notes VALUES (1, 'the only row of platform ' || current_user)"):
        proc = psql_as(services, schema, pw, sql)
        assert proc.returncode == 0, proc.stderr
    services.put_object(bucket, "files/a.txt", b"owner's object\n")
    return p, schema, bucket, cname


# --- 1. two platforms, one cluster --------------------------------------------

def test_a_platform_never_adopts_or_purges_another_platforms_objects(
        services, pressctl, tmp_path):
    acc, schema, bucket, cname = make_owner(services, pressctl, tmp_path, "own-acc",
                                            "ownacc", "ownac")
    # The marks pressctl wrote.
    assert services.psql(f"SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace"
                         f" WHERE nspname = {lit(schema)}") == "press.platform=own-acc"
    assert services.psql(f"SELECT shobj_description(oid, 'pg_authid') FROM pg_roles"
                         f" WHERE rolname = {lit(schema)}") == "press.platform=own-acc"
    assert services.get_object(bucket, ".press-owner") == b"press.platform=own-acc\n"
    acc.assert_converged()

    def state():
        return fingerprint(services, schema, schema, bucket, [cname])

    before = state()
    assert before["rows"] and before["objects"] and before["containers"], before

    # rival: same site and environment, another prefix and master key; its
    # schema and role are the same names, its bucket and container not.
    rival = Platform(services, pressctl, tmp_path / "rival", name="own-rival",
                     prefix="ownrival", nports=4)
    use_key(rival, second_key(tmp_path, "rival"))
    dump(rival.src / "site.yaml", site_doc("ownac", timeout=20))
    env_file = dump(rival.src / "staging.yaml", env_doc("ownac", "staging"))

    text = rival.plan()
    assert text.returncode == 3, "plan must say apply would be refused" + describe(text)
    out = text.stdout
    assert "conflict" in out and "own-acc" in out, describe(text)
    assert "adopt" not in out.split("conflict")[0], "plan still adopts" + describe(text)
    loc = f"{env_file}:"
    assert loc in out, f"the plan does not name {loc}" + describe(text)

    plan = rival.plan_json()
    conflicts = {(c["kind"], c["name"]): c for c in plan["conflicts"]}
    assert set(conflicts) == {("role", schema), ("schema", schema)}, plan["conflicts"]
    for c in conflicts.values():
        assert c["owner"] == "own-acc" and c["environment"] == "ownac/staging", c
        assert c["declared"]["file"] == str(env_file) and c["declared"]["line"] >= 1, c
    assert not [a for a in plan["actions"] if a["environment"] == "ownac/staging"], \
        plan["actions"]
    assert plan["summary"]["conflicts"] == 2

    applied = rival.apply(expect=3)
    assert "own-acc" in applied.stderr, describe(applied)
    assert state() == before, "rival's refused apply changed acc's objects"
    assert services.psql("SELECT count(*) FROM pressctl.resources WHERE platform = 'own-rival'") == "0"
    assert not services.bucket_exists("ownrival-ownac-staging"), "rival created a bucket"
    assert container(services, "ownrival-ownac-staging") is None, "rival started a container"

    # rival removes the environment; 40 days later nothing is purged: it
    # never recorded acc's objects.
    env_file.unlink()
    later = {"PRESSCTL_NOW": clock(days=40)}
    rival.apply(expect=0, env=later)
    assert state() == before

    # The held-out case: rival recorded acc's schema and role (as the old
    # code did by "adopting" them) and soft-deleted the environment; the
    # purge window has passed. It must refuse, naming acc, and drop nothing.
    for kind in ("role", "schema"):
        services.psql(
            "INSERT INTO pressctl.resources (platform, kind, name, env_id, spec_hash,"
            " revision, created_at, applied_at)"
            f" VALUES ('own-rival', '{kind}', {lit(schema)}, 'ownac/staging', 'x', 'r',"
            " now() - interval '60 days', now() - interval '60 days')")
    services.psql(
        "INSERT INTO pressctl.deletions (platform, env_id, schema_name, role_name,"
        f" bucket, deleted_at, purge_after) VALUES ('own-rival', 'ownac/staging',"
        f" {lit(schema)}, {lit(schema)}, 'ownrival-ownac-staging',"
        " now() - interval '40 days', now() - interval '10 days')")
    plan = rival.plan_json(env=later)
    assert not [a for a in plan["actions"] if a["action"] == "purge"], plan["actions"]
    owners = {(c["kind"], c["name"]): c["owner"] for c in plan["conflicts"]}
    assert owners == {("role", schema): "own-acc", ("schema", schema): "own-acc"}, \
        plan["conflicts"]
    text = rival.plan(env=later)
    assert text.returncode == 3 and "own-acc" in text.stdout, describe(text)
    applied = rival.apply(expect=3, env=later)
    assert state() == before, "rival purged or changed acc's objects"
    assert schema_exists(services, schema)

    # acc is unaffected throughout and still converged.
    acc.assert_converged()
    got = http_get(host_port(container(services, cname)), "/", tries=10)
    assert got and got[0] == 200, got
    acc.assert_no_secrets([schema])
    rival.assert_no_secrets()


def test_unmarked_objects_with_data_are_adopted_only_with_adopt(services, pressctl, tmp_path):
    """A schema made by hand (no mark, no platform records it) that holds a
    table: a conflict, until --adopt names its environment; an empty one is
    adopted (and marked) without asking."""
    services.psql("CREATE SCHEMA adopt_staging; CREATE TABLE adopt_staging.t (v int);"
                  " INSERT INTO adopt_staging.t VALUES (42)")
    p = Platform(services, pressctl, tmp_path, name="adopt-it", prefix="adoptit", nports=4)
    dump(p.src / "site.yaml", site_doc("adopt", timeout=20))
    dump(p.src / "staging.yaml", env_doc("adopt", "staging"))
    plan = p.plan_json()
    assert [(c["kind"], c["name"], c["owner"]) for c in plan["conflicts"]] == \
        [("schema", "adopt_staging", None)], plan["conflicts"]
    assert "--adopt" in plan["conflicts"][0]["reason"]
    p.apply(expect=3)
    assert services.psql("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace"
                         " WHERE nspname = 'adopt_staging'") == ""
    bad = p.run("plan", "--adopt", "nosuch/env")
    assert bad.returncode == 1 and "--adopt 'nosuch/env' matches no environment" in bad.stderr, \
        describe(bad)
    plan = p.plan_json("--adopt", "adopt/staging")
    assert plan["conflicts"] == [], plan["conflicts"]
    adopted = [a for a in plan["actions"] if a["kind"] == "schema"]
    assert [(a["action"], a["reason"]) for a in adopted] == [("update", "adopt")], adopted
    p.apply("--adopt", "adopt/staging")
    assert services.psql("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace"
                         " WHERE nspname = 'adopt_staging'") == "press.platform=adopt-it"
    assert services.psql("SELECT v FROM adopt_staging.t") == "42"
    p.assert_converged()


def test_legacy_objects_are_marked_on_the_next_apply(services, pressctl, tmp_path):
    """Objects recorded before marks existed: the platform that records
    them marks them (plan says so), and nothing else changes."""
    p = Platform(services, pressctl, tmp_path, name="legacy-it", prefix="legacyit", nports=4)
    dump(p.src / "site.yaml", site_doc("legacy", timeout=20))
    dump(p.src / "staging.yaml", env_doc("legacy", "staging"))
    p.apply()
    # Back to the state of a platform applied before marks existed.
    services.psql("COMMENT ON SCHEMA legacy_staging IS NULL; COMMENT ON ROLE legacy_staging IS NULL;"
                  " UPDATE pressctl.resources SET marked = false WHERE platform = 'legacy-it'")
    services.s3("DELETE", "/legacyit-legacy-staging/.press-owner")
    cid = container(services, "legacyit-legacy-staging")["Id"]
    plan = p.plan_json()
    heals = {(a["kind"], a["action"], a.get("detail")) for a in plan["actions"]}
    assert heals == {("role", "heal", "ownership mark missing"),
                     ("schema", "heal", "ownership mark missing"),
                     ("bucket", "heal", "ownership mark missing")}, plan["actions"]
    p.apply()
    assert services.psql("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace"
                         " WHERE nspname = 'legacy_staging'") == "press.platform=legacy-it"
    assert services.get_object("legacyit-legacy-staging", ".press-owner") == \
        b"press.platform=legacy-it\n"
    assert container(services, "legacyit-legacy-staging")["Id"] == cid
    p.assert_converged()


# --- 2. purge re-checks the mark ----------------------------------------------

def test_purge_refuses_when_the_mark_changed_after_the_plan(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="remark-it", prefix="remarkit", nports=4,
                 safety={"maxDeletePercent": 100, "softDeleteDays": 30})
    dump(p.src / "site.yaml", site_doc("remark", timeout=20))
    dump(p.src / "keep.yaml", env_doc("remark", "keep"))
    env_file = dump(p.src / "gone.yaml", env_doc("remark", "gone"))
    p.apply()
    pw = derived_password(services, "remark_gone")
    proc = psql_as(services, "remark_gone", pw,
                   "CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2)")
    assert proc.returncode == 0, proc.stderr
    env_file.unlink()
    p.apply()                                   # soft delete
    later = {"PRESSCTL_NOW": clock(days=40)}
    plan = p.plan_json(env=later)
    assert {a["kind"] for a in plan["actions"] if a["action"] == "purge"} == \
        {"schema", "role", "bucket"}, plan["actions"]

    go = tmp_path / "go"
    env = {**p.services.env_vars(), **later, "PRESSCTL_TEST_WAIT": f"purge:{go}"}
    proc = subprocess.Popen([pressctl, "apply", str(p.src)], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reached = Path(f"{go}.reached")
        for _ in range(600):
            if reached.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert reached.exists(), "apply never reached its first purge"
        # Someone else's mark now, between the plan and the DROP.
        services.psql("COMMENT ON SCHEMA remark_gone IS 'press.platform=someone-else';"
                      " COMMENT ON ROLE remark_gone IS 'press.platform=someone-else'")
        go.write_text("")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 4, f"apply should fail the purge (exit 4), exited {proc.returncode}\n{err}"
    assert "ownership mark changed since the plan" in err, err
    assert schema_exists(services, "remark_gone"), "the schema was dropped"
    assert services.psql("SELECT count(*) FROM remark_gone.t") == "2"
    failed = services.psql(
        "SELECT count(*) FROM pressctl.journal WHERE platform = 'remark-it'"
        " AND state = 'failed' AND error LIKE '%ownership mark changed%'")
    assert int(failed) >= 1


# --- 3. exact rows in the purge line ------------------------------------------

def test_purge_line_counts_rows_of_an_unanalyzed_table(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="rows-it", prefix="rowsit", nports=4,
                 safety={"maxDeletePercent": 100, "softDeleteDays": 30})
    dump(p.src / "site.yaml", site_doc("rowsx", timeout=20))
    dump(p.src / "keep.yaml", env_doc("rowsx", "keep"))
    env_file = dump(p.src / "gone.yaml", env_doc("rowsx", "gone"))
    p.apply()
    pw = derived_password(services, "rowsx_gone")
    proc = psql_as(services, "rowsx_gone", pw,
                   "CREATE TABLE t (v int) WITH (autovacuum_enabled = false);"
                   " INSERT INTO t SELECT generate_series(1, 1000)")
    assert proc.returncode == 0, proc.stderr
    assert float(services.psql("SELECT reltuples FROM pg_class WHERE oid = 'rowsx_gone.t'::regclass")) <= 0, \
        "the table was analyzed: the test needs an estimate that says nothing"
    env_file.unlink()
    text = p.plan()
    assert "keeps schema" in text.stdout and "(1,000 rows)" in text.stdout, describe(text)
    p.apply()
    later = {"PRESSCTL_NOW": clock(days=40)}
    text = p.plan(env=later)
    line = [ln for ln in text.stdout.splitlines() if "DESTROYS" in ln]
    assert line and "(1,000 rows)" in line[0], describe(text)
    plan = p.plan_json(env=later)
    data = [a["data"] for a in plan["actions"] if a["action"] == "purge" and a["kind"] == "schema"]
    assert data and data[0]["schemaRows"] == 1000 and data[0]["schemaRowsAtLeast"] is False, data


# --- 4. host ports ---------------------------------------------------------------

def published_ports(services):
    out = services.docker("ps", "--format", "{{.Ports}}")
    ports = set()
    for line in out.splitlines():
        for part in line.split(","):
            part = part.strip()
            if "->" in part:
                ports.add(int(part.split("->")[0].rsplit(":", 1)[1]))
    return ports


def test_ports_are_never_handed_out_twice(services, pressctl, tmp_path):
    """p1 and p2 share the database, p3 has a database of its own (only the
    engine tells it which ports are taken); all three draw from one range.
    A port held by a plain listening socket is skipped."""
    services.psql("DROP DATABASE IF EXISTS press_ports", check=False)
    services.psql("CREATE DATABASE press_ports")
    first, last = services.take_ports(24)
    platforms = []
    for i, (name, db) in enumerate((("ports-a", "press"), ("ports-b", "press"),
                                    ("ports-c", "press_ports"))):
        p = Platform(services, pressctl, tmp_path / name, name=name, prefix=f"portsit{i}",
                     nports=1)
        path = p.src / "platform.yaml"
        text = path.read_text(encoding="utf-8")
        text = text.replace(f"from: {p.ports[0]}", f"from: {first}").replace(
            f"to: {p.ports[1]}", f"to: {last}")
        path.write_text(text, encoding="utf-8")
        if db != "press":
            p.extra_env["PRESS_PG_DSN"] = services.dsn.rsplit("/", 1)[0] + f"/{db}"
        dump(p.src / "site.yaml", site_doc(f"ports{i}", timeout=20))
        platforms.append(p)

    # p1: two environments.
    for e in ("one", "two"):
        dump(platforms[0].src / f"{e}.yaml", env_doc("ports0", e))
    platforms[0].apply()
    # A plain socket on the lowest port nobody has taken yet.
    taken = {int(x) for x in services.psql(
        "SELECT port FROM pressctl.allocations").split()} | published_ports(services)
    free = min(set(range(first, last + 1)) - taken)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", free))
    sock.listen(1)
    try:
        for i in (1, 2):
            for e in ("one", "two"):
                dump(platforms[i].src / f"{e}.yaml", env_doc(f"ports{i}", e))
            platforms[i].apply()
            platforms[i].assert_converged()
        seen = {}
        for i, p in enumerate(platforms):
            for n, info in p.containers().items():
                port = host_port(info)
                assert port != free, f"{n} got port {free}, held by a plain socket"
                assert port not in seen, f"{n} and {seen[port]} share host port {port}"
                assert first <= port <= last
                seen[port] = n
                got = http_get(port, "/", tries=10)
                assert got and got[0] == 200, (n, got)
        assert len(seen) == 6, seen
        # The busy port was set aside by whichever platform met it.
        held = services.psql(f"SELECT count(*) FROM pressctl.port_holds WHERE port = {free}",
                             ) + services.psql(
            f"SELECT count(*) FROM pressctl.port_holds WHERE port = {free}", db="press_ports")
        assert "1" in held, "the busy port is not set aside"
    finally:
        sock.close()
