"""pressctl plan/apply/status converge the live platform (docs/design.md §3–§5, §7;
docs/operations.md, docs/state.md, docs/drivers.md).

Black-box tests against the session's private PostgreSQL, s3rver and
dockerd (the `services` fixture). They assert the LIVE state — pg_catalog,
the S3 listing, the Docker engine — never just exit codes:

1. the demo (manifests/) converges, and a second apply changes nothing;
2. the multi-stage example converges: every role, schema, grant, bucket and
   container as declared, with the settings handed to each container;
3. drift (a container removed, a grant revoked, a bucket deleted by hand) is
   planned as exactly that drift and healed;
4. a site's role cannot reach another environment's schema nor public;
5. blue/green: a new image replaces the container on the other host port;
   a broken one is abandoned, the old container keeps serving, and the
   failed spec is held instead of retried;
6. soft delete, revive, purge after softDeleteDays (test clock), and the
   mass-delete guard;
plus --only, the JSON plan schema, markdown, status, secrets never in the
output, and an empty or unreadable source changing nothing.

Every test has its own platform name, naming prefix, port slice and site
names (schemas and roles are <site>_<env>, unprefixed, in one database), so
the tests are independent and run in any order.
"""

import os
import secrets
import shutil

import yaml

from converge_helpers import (PROFILE_VARS, Platform, address, cgi_env, clock, container,
                              derived_password, dump, empty_and_delete_bucket,
                              env_doc, env_of, host_port, http_get, lit, psql_as,
                              role_row, schema_exists, schema_grants, schema_owner,
                              sha256_hex, site_doc)
from helpers import EXAMPLES, MANIFESTS, describe
from services import free_port

MANAGED_LABELS = ("press.managed", "press.platform", "press.site", "press.env",
                  "press.spec", "press.revision")


def assert_managed(info, platform, env_id, revision=None):
    """A running container with pressctl's labels for env_id."""
    name = info["Name"].lstrip("/")
    labels = info["Config"]["Labels"] or {}
    for k in MANAGED_LABELS:
        assert k in labels, f"container {name} lacks label {k}: {labels}"
    site, env = env_id.split("/")
    assert labels["press.managed"] == "true", name
    assert labels["press.platform"] == platform, name
    assert labels["press.site"] == site, name
    assert labels["press.env"] == env_id or labels["press.env"] == env, \
        f"{name}: press.env={labels['press.env']!r}, want {env_id!r}"
    assert len(labels["press.spec"]) == 64 and int(labels["press.spec"], 16) >= 0, name
    if revision:
        assert labels["press.revision"] == revision, name
    assert info["State"]["Running"], f"container {name} is not running: {info['State']}"


def assert_env_data(services, role, schema, bucket, conn_limit=-1):
    """Role, schema, grants and bucket of one environment, as declared."""
    r = role_row(services, role)
    assert r is not None, f"role {role} does not exist"
    assert r["login"], f"role {role} cannot log in"
    assert r["connlimit"] == conn_limit, f"role {role}: rolconnlimit {r['connlimit']}, want {conn_limit}"
    assert r["elevated"] == [], f"role {role} has elevated attributes {r['elevated']}"
    assert schema_owner(services, schema) == role, \
        f"schema {schema}: owner {schema_owner(services, schema)!r}, want {role!r}"
    grants = schema_grants(services, schema)
    assert grants.get(role) == {"USAGE", "CREATE"}, f"schema {schema}: ACL {grants}"
    assert "PUBLIC" not in grants, f"schema {schema}: PUBLIC has {grants['PUBLIC']}"
    assert bucket in services.buckets(), f"bucket {bucket} missing from the S3 listing"


# --- 1. the demo -----------------------------------------------------------------

def test_demo_converges_and_second_apply_changes_nothing(services, pressctl, tmp_path):
    """manifests/ with its Platform pointed at the session's services (same
    platform name `local`, an ingress on a port of its own; its Site,
    Environments and Domain as they are)."""
    shutil.copytree(MANIFESTS, tmp_path / "src")
    ingress_port = free_port()
    p = Platform(services, pressctl, tmp_path, name="local", prefix="demo-it", nports=4,
                 extra_platform=(f"  ingress:\n    driver: caddy\n"
                                 f"    admin: \"{services.caddy_admin}\"\n"
                                 f"    http: {ingress_port}\n"))
    envs = {"demo/production": "demo_production", "demo/staging": "demo_staging"}

    plan = p.plan_json()
    # staging declares cloneFrom: production, so its schema is a copy,
    # taken once production's schema exists; demo.localhost is a route.
    assert {(a["action"], a["kind"], a["environment"]) for a in plan["actions"]} == {
        ("clone" if (env, kind) == ("demo/staging", "schema") else verb, kind, env)
        for env in envs for verb, kind in
        [("create", "role"), ("create", "schema"), ("create", "bucket"),
         ("create", "container")]} | {("create", "route", "demo/production")}, \
        plan["actions"]
    assert all(a["reason"] == "new" for a in plan["actions"]), plan["actions"]
    ids = {(a["kind"], a["environment"]): a["id"] for a in plan["actions"]}
    clone = next(a for a in plan["actions"] if a["action"] == "clone")
    assert ids[("schema", "demo/production")] in clone["dependsOn"], clone

    p.apply()
    for env_id, schema in envs.items():
        env = env_id.split("/")[1]
        assert_env_data(services, schema, schema, f"demo-it-demo-{env}")
        info = container(services, f"demo-it-demo-{env}")
        assert info is not None, f"container demo-it-demo-{env} missing"
        assert_managed(info, "local", env_id, plan["revision"])
        assert info["Config"]["Image"] == "local/press-test-app:1"
        # Behind the ingress: no host port, reached on the network.
        assert not info["HostConfig"].get("PortBindings"), info["HostConfig"]
        ip = address(info, services.network)
        got = http_get(8080, "/", tries=10, host=ip)
        assert got and got[0] == 200 and "press-test-app 1" in got[1], got
        shown = cgi_env(8080, host=ip)
        assert shown["GREETING"] == ("hello from staging" if env == "staging"
                                     else "hello from pressctl"), shown
    # The README's curl: demo.localhost answers from demo/production.
    st, _, body = services.ingress_get(f"demo.localhost:{ingress_port}", "/cgi-bin/env",
                                       port=ingress_port)
    assert st == 200 and "GREETING=hello from pressctl" in body.decode(), (st, body[:300])
    p.assert_converged()

    def snapshot():
        return {
            "containers": {n: (i["Id"], i["Created"]) for n, i in p.containers().items()},
            "journal": p.journal_count(),
            "resources": services.psql_rows(
                "SELECT kind, name, spec_hash, applied_at FROM pressctl.resources "
                "WHERE platform = 'local' ORDER BY kind, name"),
            "schemas": [schema_owner(services, s) for s in envs.values()],
            "buckets": services.buckets(),
        }

    before = snapshot()
    assert len(before["containers"]) == 2, before
    second = p.apply()
    assert "no changes" in second.stdout, "the second apply should report no changes" + describe(second)
    assert snapshot() == before, "the second apply changed something"

    status = p.status_json()
    states = {e["environment"]: e["state"] for e in status["environments"]}
    assert states == {e: "converged" for e in envs}, status
    p.assert_no_secrets(envs.values())


# --- 2. the multi-stage example -----------------------------------------------------

def adapt_multi_stage(src):
    """Copy examples/multi-stage and adapt it to this machine, with PyYAML:
    its images do not exist here, so every `image:` becomes
    local/press-test-app:1, `command:` lines are removed (the test image has
    its own), Site ports become 8080 and every health path /healthz (with a
    short timeout). Its Platform is replaced by one pointing at the
    session's services, keeping the example's name, safety and domains."""
    shutil.copytree(EXAMPLES / "multi-stage", src)
    original = yaml.safe_load((src / "platform.yaml").read_text(encoding="utf-8"))
    for f in sorted(src.rglob("*.yaml")):
        if f.name == "platform.yaml" and f.parent == src:
            continue
        docs = [d for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d]
        for d in docs:
            if d["kind"] not in ("Site", "Environment"):
                continue
            s = d["spec"]
            if "image" in s:
                s["image"] = "local/press-test-app:1"
            s.pop("command", None)
            if d["kind"] == "Site":
                s["port"] = 8080
                s["health"] = {**s.get("health", {}), "path": "/healthz",
                               "timeoutSeconds": 20}
            elif "health" in s:
                s["health"]["path"] = "/healthz"
            if "port" in s and d["kind"] == "Environment":
                s["port"] = 8080
        f.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    spec = original["spec"]
    extra = "  safety:\n" + "".join(f"    {k}: {v}\n" for k, v in spec["safety"].items())
    extra += f"  domains:\n    previewWildcard: \"{spec['domains']['previewWildcard']}\"\n"
    return original["metadata"]["name"], extra


def parse_memory(s):
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
    for u, m in units.items():
        if s.endswith(u):
            return int(float(s[:-2]) * m)
    return int(s)


def test_multi_stage_example_converges_as_declared(services, pressctl, tmp_path):
    src = tmp_path / "src"
    name, extra = adapt_multi_stage(src)
    admin_pw = secrets.token_hex(16)
    sentry = "https://key@sentry.example/42"
    p = Platform(services, pressctl, tmp_path, name=name, prefix="msx", nports=24,
                 extra_platform=extra,
                 env={"ACME_ADMIN_PASSWORD": admin_pw, "ACME_SENTRY_DSN": sentry,
                      "PRESS_BACKUP_KEY": secrets.token_hex(32)})
    p.add_secret(admin_pw)

    # The desired state, read from the adapted manifests.
    sites, envs = {}, []
    for f in sorted(src.rglob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if d and d["kind"] == "Site":
                sites[d["metadata"]["name"]] = d["spec"]
            elif d and d["kind"] == "Environment":
                envs.append(d)
    assert len(envs) == 8 and set(sites) == {"acme", "initech"}

    plan = p.plan_json()
    assert plan["platform"] == name and plan["changed"], plan
    p.apply()
    p.assert_converged()

    roles = []
    all_containers = p.containers()
    assert len(all_containers) == sum(d["spec"].get("replicas", 1) for d in envs), \
        sorted(all_containers)
    for d in envs:
        spec, env = d["spec"], d["metadata"]["name"]
        site = spec["site"]
        sspec = sites[site]
        env_id = f"{site}/{env}"
        schema = spec.get("database", {}).get("schema") or f"{site}_{env}".replace("-", "_")
        bucket = spec.get("storage", {}).get("bucket") or f"msx-{site}-{env}"
        limit = spec.get("database", {}).get("connectionLimit", -1)
        roles.append(schema)
        assert_env_data(services, schema, schema, bucket, conn_limit=limit)

        password = derived_password(services, schema)
        assert services.can_login(schema, password), f"{schema} cannot log in with its derived password"
        assert not services.can_login(schema, password + "x"), f"{schema} logs in with a wrong password"

        replicas = spec.get("replicas", 1)
        base = f"msx-{site}-{env}"
        names = ([base] if replicas == 1 else
                 [f"{base}-{i}" for i in range(1, replicas + 1)])
        live = sorted(n for n, i in all_containers.items()
                      if i["Config"]["Labels"].get("press.site") == site
                      and i["Config"]["Labels"].get("press.env") in (env_id, env))
        assert live == sorted(names), f"{env_id}: containers {live}, want {sorted(names)}"
        resources = {**sspec.get("resources", {}), **spec.get("resources", {})}
        wanted_env = {**sspec.get("env", {}), **spec.get("env", {})}
        profile = PROFILE_VARS[sspec["app"]]
        for cname in names:
            info = container(services, cname)
            assert_managed(info, name, env_id, plan["revision"])
            assert info["Config"]["Image"] == "local/press-test-app:1", cname
            if "memory" in resources:
                assert info["HostConfig"]["Memory"] == parse_memory(resources["memory"]), cname
            if "cpus" in resources:
                assert info["HostConfig"]["NanoCpus"] == int(float(resources["cpus"]) * 1e9), cname
            shown = cgi_env(host_port(info))
            expect = {profile["host"]: "127.0.0.1", profile["port"]: str(services.pg_port),
                      profile["name"]: "press", profile["schema"]: schema,
                      profile["user"]: schema, profile["bucket"]: bucket,
                      profile["endpoint"]: services.s3_endpoint,
                      profile["region"]: services.region}
            for k, v in expect.items():
                assert shown.get(k) == v, f"{cname}: {k}={shown.get(k)!r}, want {v!r}\n{shown}"
            assert shown.get("password-sha256") == sha256_hex(password), \
                f"{cname}: the container's password is not the derived one"
            for k, v in wanted_env.items():
                if isinstance(v, dict):     # a secret reference
                    value = {"ACME_ADMIN_PASSWORD": admin_pw,
                             "ACME_SENTRY_DSN": sentry}[v["env"]]
                    if k.upper().endswith("_KEY") or any(
                            w in k.upper() for w in ("PASSWORD", "PASSWD", "SECRET", "TOKEN")):
                        assert shown.get(f"{k}.sha256") == sha256_hex(value), (cname, k, shown)
                    else:
                        assert shown.get(k) == value, (cname, k, shown)
                else:
                    assert shown.get(k) == str(v), (cname, k, shown)
            # Platform credentials never reach a site container.
            cenv = env_of(info)
            assert not any(services.secret_key in v or services.access_key in v
                           or "postgres@" in v for v in cenv.values()), \
                f"{cname} was given platform credentials: {sorted(cenv)}"

    status = p.status_json()
    states = {e["environment"]: e["state"] for e in status["environments"]}
    assert states == {f"{d['spec']['site']}/{d['metadata']['name']}": "converged"
                      for d in envs}, status
    p.assert_no_secrets(roles)


# --- 3. drift ----------------------------------------------------------------------

def test_drift_is_planned_exactly_and_healed(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="drift-it", prefix="drift-it", nports=4)
    dump(p.src / "site.yaml", site_doc("drift", timeout=20),
         env_doc("drift", "one"), env_doc("drift", "two"))
    p.apply()
    p.assert_converged()

    # By hand: a container removed, a grant revoked, a bucket deleted.
    assert services.docker("rm", "-f", "drift-it-drift-one")
    services.psql("REVOKE CREATE ON SCHEMA drift_two FROM drift_two")
    services.put_object("drift-it-drift-two", "uploads/a.txt", b"hello")
    empty_and_delete_bucket(services, "drift-it-drift-two")

    plan = p.plan_json()
    got = {(a["kind"], a["name"]) for a in plan["actions"]}
    assert got == {("container", "drift-it-drift-one"), ("schema", "drift_two"),
                   ("bucket", "drift-it-drift-two")}, plan["actions"]
    assert all(a["reason"] == "drift" for a in plan["actions"]), plan["actions"]
    assert plan["summary"] == {"actions": 3, "changes": 0, "drift": 3, "conflicts": 0}, plan["summary"]
    assert plan["notes"] == [], plan["notes"]
    md = p.plan("--format", "markdown")
    assert md.returncode == 0, describe(md)
    assert "|" in md.stdout and all(n in md.stdout for _, n in got), describe(md)
    assert p.plan("--detailed-exitcode").returncode == 2
    states = {e["environment"]: e["state"] for e in p.status_json()["environments"]}
    assert states == {"drift/one": "drift", "drift/two": "drift"}, states

    p.apply()
    p.assert_converged()
    states = {e["environment"]: e["state"] for e in p.status_json()["environments"]}
    assert states == {"drift/one": "converged", "drift/two": "converged"}, states
    info = container(services, "drift-it-drift-one")
    assert info is not None, "the removed container was not recreated"
    assert_managed(info, "drift-it", "drift/one")
    got = http_get(host_port(info), "/healthz", tries=10)
    assert got and got[0] == 200, got
    assert schema_grants(services, "drift_two").get("drift_two") == {"USAGE", "CREATE"}
    assert "drift-it-drift-two" in services.buckets()
    p.assert_no_secrets(["drift_one", "drift_two"])


# --- 4. isolation --------------------------------------------------------------------

def test_site_role_is_confined_to_its_own_schema(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="iso-it", prefix="iso-it", nports=4)
    dump(p.src / "site.yaml", site_doc("iso", timeout=20),
         env_doc("iso", "prod", stage="production"), env_doc("iso", "stage"))
    p.apply()
    prod_pw = derived_password(services, "iso_prod")
    stage_pw = derived_password(services, "iso_stage")

    # The owner of the other environment's schema creates a table there.
    for sql in ("CREATE TABLE iso_stage.secrets (v text)",
                "INSERT INTO iso_stage.secrets VALUES ('staging data')"):
        proc = psql_as(services, "iso_stage", stage_pw, sql)
        assert proc.returncode == 0, f"iso_stage: {sql}: {proc.stderr}"

    def denied(sql):
        proc = psql_as(services, "iso_prod", prod_pw, sql)
        assert proc.returncode != 0, f"iso_prod could run: {sql}\n{proc.stdout}"
        assert "permission denied" in proc.stderr, f"{sql}: {proc.stderr}"

    denied("SELECT * FROM iso_stage.secrets")
    denied("INSERT INTO iso_stage.secrets VALUES ('x')")
    denied("CREATE TABLE iso_stage.t (x int)")
    denied("CREATE TABLE public.t (x int)")
    denied("SELECT count(*) FROM pressctl.journal")
    assert not services.can_login("iso_stage", prod_pw)

    for sql in ("CREATE TABLE iso_prod.mine (x int)",
                "INSERT INTO iso_prod.mine VALUES (1), (2)",
                "CREATE TABLE plain (x int)"):      # search_path: its own schema
        proc = psql_as(services, "iso_prod", prod_pw, sql)
        assert proc.returncode == 0, f"iso_prod: {sql}: {proc.stderr}"
    proc = psql_as(services, "iso_prod", prod_pw, "SELECT sum(x) FROM mine")
    assert proc.returncode == 0 and proc.stdout.strip() == "3", proc.stderr
    assert services.psql("SELECT schemaname FROM pg_tables WHERE tablename = 'plain'") == "iso_prod"
    assert services.psql("SELECT count(*) FROM iso_stage.secrets") == "1"
    p.assert_no_secrets(["iso_prod", "iso_stage"])


# --- 5. blue/green -------------------------------------------------------------------

def test_blue_green_rollout_failure_and_hold(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="bg-it", prefix="bg-it", nports=2)
    name = "bg-it-bg-web"
    health = 4

    def declare(image, timeout=20, env=None):
        dump(p.src / "site.yaml", site_doc("bg", image=image, timeout=timeout, env=env),
             env_doc("bg", "web", stage="production"))

    declare("local/press-test-app:1")
    p.apply()
    first = container(services, name)
    slots = p.allocations(name)
    assert sorted(slots) == [0, 1] and len(set(slots.values())) == 2, slots
    port1 = host_port(first)
    assert port1 in slots.values()
    assert "press-test-app 1" in http_get(port1, "/", tries=10)[1]

    # A new image: replaced blue/green on the other slot's port.
    declare("local/press-test-app:2")
    p.apply()
    second = container(services, name)
    assert second is not None and second["Id"] != first["Id"], "the container was not replaced"
    assert container(services, first["Id"]) is None, "the old container is still there"
    port2 = host_port(second)
    assert {port1, port2} == set(slots.values()), f"ports {port1} -> {port2}, slots {slots}"
    assert p.allocations(name) == slots, "the allocations changed"
    got = http_get(port2, "/", tries=10)
    assert got and got[0] == 200 and "press-test-app 2" in got[1], got
    assert http_get(port1, "/") is None, "the old port still answers"
    assert sorted(p.containers()) == [name]
    p.assert_converged()

    # A broken image (/healthz is 404): abandoned, the old one kept.
    declare("local/press-test-app:broken", timeout=health)
    failed_sql = ("SELECT count(*) FROM pressctl.journal WHERE platform = 'bg-it' "
                  f"AND target = {lit(name)} AND state = 'failed'")
    assert services.psql(failed_sql) == "0"
    broken = p.apply(expect=4)
    assert broken.elapsed >= health - 0.5, f"gave up after {broken.elapsed:.1f}s"
    now = container(services, name)
    assert now["Id"] == second["Id"], "the running container was replaced by a broken one"
    got = http_get(port2, "/", tries=3)
    assert got and got[0] == 200 and "press-test-app 2" in got[1], got
    assert sorted(p.containers()) == [name], f"left over: {sorted(p.containers())}"
    assert not [n for n in services.containers() if n.endswith("-next")], services.containers()
    assert services.psql(failed_sql) == "1", services.psql_rows(
        "SELECT run_id, action, target, state, error FROM pressctl.journal "
        "WHERE platform = 'bg-it' ORDER BY id")

    # Again at once: held, not retried.
    held = p.apply(expect=4)
    assert "held" in held.stderr + held.stdout, describe(held)
    assert held.elapsed < health - 1.5, f"the held apply took {held.elapsed:.1f}s"
    assert services.psql(failed_sql) == "1", "the held rollout was attempted again"
    assert container(services, name)["Id"] == second["Id"]
    notes = p.plan_json()["notes"]
    assert [n["name"] for n in notes] == [name] and "held" in notes[0]["text"], notes
    status = p.status_json()["environments"]
    assert [(e["environment"], e["state"]) for e in status] == [("bg/web", "held")], status

    # A new spec (back to :2, with a new variable) is tried at once.
    declare("local/press-test-app:2", timeout=health, env={"RELEASE": "2b"})
    p.apply()
    third = container(services, name)
    assert third["Id"] != second["Id"], "the fixed spec was not rolled out"
    port3 = host_port(third)
    assert port3 == port1, f"port {port3}, want the other slot {port1}"
    got = http_get(port3, "/", tries=10)
    assert got and "press-test-app 2" in got[1], got
    assert cgi_env(port3).get("RELEASE") == "2b"
    assert sorted(p.containers()) == [name]
    assert p.plan_json()["notes"] == []
    p.assert_converged()
    status = p.status_json()["environments"]
    assert [(e["environment"], e["state"]) for e in status] == [("bg/web", "converged")], status
    p.assert_no_secrets(["bg_web"])


# --- 6. soft delete, revive, purge, mass-delete guard ----------------------------------

def test_soft_delete_revive_and_purge(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="soft-it", prefix="soft-it", nports=6,
                 safety={"maxDeletePercent": 50, "softDeleteDays": 30})
    dump(p.src / "site.yaml", site_doc("soft", timeout=20))
    for e in ("alpha", "beta", "gone"):
        dump(p.src / f"env-{e}.yaml", env_doc("soft", e))
    gone_doc = (p.src / "env-gone.yaml").read_text()
    p.apply()
    pw = derived_password(services, "soft_gone")
    for sql in ("CREATE TABLE keep (id int, v text)",
                "INSERT INTO keep VALUES (1, 'a'), (2, 'b'), (3, 'c')"):
        proc = psql_as(services, "soft_gone", pw, sql)
        assert proc.returncode == 0, proc.stderr
    services.psql("ANALYZE soft_gone.keep")
    payload = b"object kept by the soft delete\n"
    services.put_object("soft-it-soft-gone", "files/kept.txt", payload)
    others = {n: i["Id"] for n, i in p.containers().items() if "gone" not in n}

    # Remove the manifest: soft delete.
    (p.src / "env-gone.yaml").unlink()
    plan = p.plan_json()
    mine = [a for a in plan["actions"] if a["environment"] == "soft/gone"]
    assert {(a["action"], a["kind"]) for a in plan["actions"]} == {
        ("backup", "environment"), ("remove", "container"),
        ("soft-delete", "environment")}, plan["actions"]
    assert len(mine) == 3 and all(a["reason"] == "removed" for a in mine), mine
    # The final backup comes first: the container goes only after it.
    final = [a for a in mine if a["action"] == "backup"][0]
    assert all(final["id"] in a["dependsOn"] for a in mine if a is not final), mine
    kept = [a for a in mine if a["action"] == "soft-delete"][0]["data"]
    assert kept["destroyed"] is False and kept["schemaRows"] == 3 and \
        kept["bucketObjects"] == 1 and kept["bucketBytes"] == len(payload) and \
        kept["schemaBytes"] > 0, kept
    p.apply()
    assert container(services, "soft-it-soft-gone") is None, "the container was not removed"
    assert {n: i["Id"] for n, i in p.containers().items()} == others
    assert schema_exists(services, "soft_gone") and role_row(services, "soft_gone")
    assert services.psql("SELECT string_agg(v, ',' ORDER BY id) FROM soft_gone.keep") == "a,b,c"
    assert services.site_objects("soft-it-soft-gone") == ["files/kept.txt"]
    assert services.get_object("soft-it-soft-gone", ".press-owner") == b"press.platform=soft-it\n"
    rows = services.psql_rows("SELECT env_id, schema_name, role_name, bucket FROM pressctl.deletions "
                              "WHERE platform = 'soft-it'")
    assert rows == [["soft/gone", "soft_gone", "soft_gone", "soft-it-soft-gone"]], rows
    assert p.allocations("soft-it-soft-gone") == {}, "the ports were not released"
    final_id = services.psql("SELECT final_backup FROM pressctl.deletions "
                             "WHERE platform = 'soft-it'")
    assert final_id, "the soft delete has no final backup"
    assert services.get_object("soft-it-backups", f"soft/gone/{final_id}/manifest.json"), \
        "the final backup's manifest is missing"
    plan = p.plan_json()
    assert plan["actions"] == [] and not plan["changed"], plan
    assert [n["environment"] for n in plan["notes"]] == ["soft/gone"], plan["notes"]
    p.assert_converged()
    states = {e["environment"]: e["state"] for e in p.status_json()["environments"]}
    assert states == {"soft/alpha": "converged", "soft/beta": "converged",
                      "soft/gone": "soft-deleted"}, states

    # Re-add it: revived with its data.
    (p.src / "env-gone.yaml").write_text(gone_doc)
    plan = p.plan_json()
    assert "revive" in {a["reason"] for a in plan["actions"]}, plan["actions"]
    assert not [a for a in plan["actions"] if a["kind"] in ("role", "schema", "bucket")], \
        plan["actions"]
    p.apply()
    info = container(services, "soft-it-soft-gone")
    assert info is not None, "the revived environment has no container"
    assert_managed(info, "soft-it", "soft/gone")
    assert services.psql("SELECT string_agg(v, ',' ORDER BY id) FROM soft_gone.keep") == "a,b,c"
    assert services.get_object("soft-it-soft-gone", "files/kept.txt") == payload
    assert services.psql("SELECT count(*) FROM pressctl.deletions WHERE platform = 'soft-it'") == "0"
    p.assert_converged()

    # Remove it again; 40 days later it is purged.
    (p.src / "env-gone.yaml").unlink()
    p.apply()
    later = {"PRESSCTL_NOW": clock(days=40)}
    plan = p.plan_json(env=later)
    purges = {a["kind"]: a for a in plan["actions"] if a["action"] == "purge"}
    assert set(purges) == {"schema", "role", "bucket"}, plan["actions"]
    assert all(a["environment"] == "soft/gone" and a["reason"] == "purge"
               for a in plan["actions"]), plan["actions"]
    assert purges["schema"]["name"] == "soft_gone" and purges["bucket"]["name"] == "soft-it-soft-gone"
    d = purges["schema"]["data"]
    assert d["destroyed"] and d["schemaRows"] == 3 and d["schemaBytes"] > 0, d
    d = purges["bucket"]["data"]
    assert d["destroyed"] and d["bucketObjects"] == 1 and d["bucketBytes"] == len(payload), d
    text = p.plan(env=later)
    assert text.returncode == 0 and "purge" in text.stdout, describe(text)
    p.apply(env=later)
    assert not schema_exists(services, "soft_gone"), "schema not purged"
    assert role_row(services, "soft_gone") is None, "role not purged"
    assert "soft-it-soft-gone" not in services.buckets(), "bucket not purged"
    assert services.psql("SELECT count(*) FROM pressctl.deletions WHERE platform = 'soft-it'") == "0"
    assert services.psql("SELECT count(*) FROM pressctl.resources WHERE platform = 'soft-it' "
                         "AND env_id = 'soft/gone'") == "0", "the purged objects are still recorded"
    for e in ("alpha", "beta"):
        assert_env_data(services, f"soft_{e}", f"soft_{e}", f"soft-it-soft-{e}")
    assert {n: i["Id"] for n, i in p.containers().items()} == others
    p.assert_converged(env=later)
    p.assert_no_secrets(["soft_alpha", "soft_beta", "soft_gone"])


def test_mass_delete_is_refused_unless_allowed(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="mass-it", prefix="mass-it", nports=10)
    names = ["e1", "e2", "e3", "e4", "e5"]
    dump(p.src / "site.yaml", site_doc("mass", timeout=20))
    for e in names:
        dump(p.src / f"env-{e}.yaml", env_doc("mass", e))
    p.apply()

    def snapshot():
        return {"containers": {n: i["Id"] for n, i in p.containers().items()},
                "schemas": services.psql_rows(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'mass\\_%' ORDER BY 1"),
                "buckets": [b for b in services.buckets() if b.startswith("mass-it-")],
                "journal": p.journal_count(),
                "deletions": services.psql("SELECT count(*) FROM pressctl.deletions "
                                           "WHERE platform = 'mass-it'")}

    before = snapshot()
    assert len(before["containers"]) == 5 and len(before["schemas"]) == 5, before
    for e in names[:3]:
        (p.src / f"env-{e}.yaml").unlink()
    plan = p.plan_json()
    assert plan.get("refused"), "plan should say apply would be refused"
    assert p.plan("--detailed-exitcode").returncode == 3
    refused = p.apply(expect=3)
    assert snapshot() == before, "a refused apply changed something" + describe(refused)

    p.apply("--allow-mass-delete")
    after = snapshot()
    assert sorted(after["containers"]) == ["mass-it-mass-e4", "mass-it-mass-e5"], after
    assert after["schemas"] == before["schemas"], "a soft delete dropped a schema"
    # ... and each took a final backup into the platform's backups bucket.
    assert after["buckets"] == sorted(before["buckets"] + ["mass-it-backups"]), \
        "a soft delete dropped a bucket"
    finals = services.psql_rows(
        "SELECT env_id, final_backup FROM pressctl.deletions WHERE platform = 'mass-it' "
        "ORDER BY env_id")
    assert [r[0] for r in finals] == ["mass/e1", "mass/e2", "mass/e3"] and \
        all(r[1] for r in finals), finals
    for env_id, backup_id in finals:
        key = f"{env_id}/{backup_id}/manifest.json"
        assert services.get_object("mass-it-backups", key), f"no final backup {key}"
    assert after["deletions"] == "3"
    p.assert_no_secrets([f"mass_{e}" for e in names])


# --- --only, sources, secrets ----------------------------------------------------------

def test_apply_only_touches_the_selected_environment(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="only-it", prefix="only-it", nports=4)
    dump(p.src / "site.yaml", site_doc("only", timeout=20),
         env_doc("only", "aa"), env_doc("only", "bb"))
    p.apply("--only", "only/aa")
    assert_env_data(services, "only_aa", "only_aa", "only-it-only-aa")
    assert sorted(p.containers()) == ["only-it-only-aa"]
    assert role_row(services, "only_bb") is None and not schema_exists(services, "only_bb")
    assert "only-it-only-bb" not in services.buckets()
    touched = services.psql_rows("SELECT DISTINCT env_id FROM pressctl.journal "
                                 "WHERE platform = 'only-it'")
    assert touched == [["only/aa"]], touched

    plan = p.plan_json()
    assert {a["environment"] for a in plan["actions"]} == {"only/bb"}, plan["actions"]
    assert p.plan_json("--only", "only/aa")["actions"] == []
    p.apply()
    assert sorted(p.containers()) == ["only-it-only-aa", "only-it-only-bb"]
    p.assert_converged()
    p.assert_no_secrets(["only_aa", "only_bb"])


def test_empty_or_unreadable_source_changes_nothing(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="src-it", prefix="src-it", nports=4)
    dump(p.src / "site.yaml", site_doc("srcs", timeout=20))
    dump(p.src / "env-one.yaml", env_doc("srcs", "one"))
    dump(p.src / "env-two.yaml", env_doc("srcs", "two"))
    p.apply()

    def snapshot():
        return {"containers": {n: i["Id"] for n, i in p.containers().items()},
                "schemas": [schema_owner(services, s) for s in ("srcs_one", "srcs_two")],
                "buckets": [b for b in services.buckets() if b.startswith("src-it-")],
                "journal": p.journal_count(),
                "runs": services.psql("SELECT count(*) FROM pressctl.runs WHERE platform = 'src-it'"),
                "deletions": services.psql("SELECT count(*) FROM pressctl.deletions "
                                           "WHERE platform = 'src-it'")}

    before = snapshot()
    assert len(before["containers"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    for cmd in ("plan", "apply"):
        for src in (empty, tmp_path / "does-not-exist"):
            proc = p.run(cmd, str(src), src=False)
            assert proc.returncode == 1, f"{cmd} of {src} should fail" + describe(proc)
            assert snapshot() == before

    # One environment's manifest unreadable (a dangling symbolic link): an
    # error, never a soft delete of that environment.
    two = (p.src / "env-two.yaml").read_text()
    (p.src / "env-two.yaml").unlink()
    os.symlink(tmp_path / "nowhere" / "env-two.yaml", p.src / "env-two.yaml")
    for cmd in ("plan", "apply"):
        proc = p.run(cmd)
        assert proc.returncode == 1, f"{cmd} with an unreadable file should fail" + describe(proc)
        assert "env-two.yaml" in proc.stderr, describe(proc)
    assert snapshot() == before

    # Only the Platform left: deleting every environment is refused (a
    # refused run may be recorded in pressctl.runs; nothing else changes).
    (p.src / "env-two.yaml").unlink()
    (p.src / "env-one.yaml").unlink()
    (p.src / "site.yaml").unlink()
    proc = p.apply(expect=None)
    assert proc.returncode in (1, 3), "removing every environment must not proceed" + describe(proc)
    after = snapshot()
    after["runs"] = before["runs"]
    assert after == before

    (p.src / "site.yaml").write_text(yaml.safe_dump(site_doc("srcs", timeout=20)))
    dump(p.src / "env-one.yaml", env_doc("srcs", "one"))
    (p.src / "env-two.yaml").write_text(two)
    p.assert_converged()
    p.assert_no_secrets(["srcs_one", "srcs_two"])
