"""Previews: environments of stage preview leave at once, data included
(docs/previews.md).

Against the session's PostgreSQL, s3rver and dockerd; the tests assert
live state after each apply: the PostgreSQL catalog (pg_namespace,
pg_roles), the S3 listing, Docker, and pressctl's own rows (resources,
allocations, deletions, clones).

1. A preview whose document is removed: the plan names what it destroys
   (rows, objects, bytes) without a final backup; the mass-delete guard
   counts it; apply leaves no schema, role, bucket, container, port or
   state row; the next apply is a no-op.
2. A preview cloned from production with expiresAfterHours: cloned at
   creation; once the test clock passes its expiry it is tombstoned and
   purged in one apply (the guard does not count it); it is not created
   again while its document stays; removing the document forgets the
   tombstone, and adding it again clones it afresh.
"""

from backup_helpers import fill, policy_doc, table_sums
from converge_helpers import (Platform, clock, derived_password, dump, env_doc, lit, psql_as,
                              role_row, schema_exists, site_doc)
from helpers import describe

WILDCARD = "  domains:\n    previewWildcard: \"*.preview.test.example\"\n"


def env_rows(services, table, platform, env_id):
    return services.psql_rows(
        f"SELECT * FROM pressctl.{table} WHERE platform = {lit(platform)}"
        f" AND env_id = {lit(env_id)}")


def assert_gone(p, services, env_id, schema, bucket, container):
    """Nothing of the environment is left live or recorded."""
    assert not schema_exists(services, schema), f"schema {schema} is still there"
    assert role_row(services, schema) is None, f"role {schema} is still there"
    assert services.psql(
        f"SELECT count(*) FROM pg_namespace WHERE nspname LIKE {lit(schema + '%')}") == "0"
    assert bucket not in services.buckets(), f"bucket {bucket} is still there"
    assert container not in p.containers(), f"container {container} is still there"
    assert p.allocations(container) == {}, "its host ports are still allocated"
    for table in ("resources", "allocations", "clones"):
        assert env_rows(services, table, p.name, env_id) == [], \
            f"pressctl.{table} still has rows of {env_id}"


def test_removed_preview_leaves_nothing_behind(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="prev-r", prefix="prev-r", nports=8,
                 extra_platform=WILDCARD)
    dump(p.src / "site.yaml", site_doc("pv", timeout=20))
    dump(p.src / "prod.yaml", env_doc("pv", "prod", stage="production"))
    dump(p.src / "stg.yaml", env_doc("pv", "stg", stage="staging"))
    dump(p.src / "pr-1.yaml", env_doc("pv", "pr-1", stage="preview"))
    p.apply()
    assert schema_exists(services, "pv_pr_1") and "prev-r-pv-pr-1" in services.buckets()
    assert "prev-r-pv-pr-1" in p.containers() and p.allocations("prev-r-pv-pr-1")
    pw = derived_password(services, "pv_pr_1")
    for sql in ("CREATE TABLE t (id int, v text)",
                "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 250) g"):
        proc = psql_as(services, "pv_pr_1", pw, sql)
        assert proc.returncode == 0, proc.stderr
    payload = b"a file the preview's tester uploaded\n"
    services.put_object("prev-r-pv-pr-1", "files/upload.txt", payload)
    others = {n: i["Id"] for n, i in p.containers().items() if "pr-1" not in n}

    (p.src / "pr-1.yaml").unlink()
    plan = p.plan_json()
    mine = [a for a in plan["actions"] if a["environment"] == "pv/pr-1"]
    assert mine == plan["actions"], plan["actions"]
    assert sorted((a["action"], a["kind"]) for a in mine) == [
        ("forget", "environment"), ("purge", "bucket"), ("purge", "role"),
        ("purge", "schema"), ("remove", "container")], mine
    assert all(a["reason"] == "removed" for a in mine), mine
    purges = {a["kind"]: a for a in mine if a["action"] == "purge"}
    assert all(a["detail"] == "preview: no backup is taken" for a in purges.values())
    d = purges["schema"]["data"]
    assert d["destroyed"] and d["schemaRows"] == 250 and d["schemaBytes"] > 0, d
    d = purges["bucket"]["data"]
    assert d["destroyed"] and d["bucketObjects"] == 1 and d["bucketBytes"] == len(payload), d
    # The removed preview counts for the mass-delete guard: 1 of 3 is
    # more than the default 20 %.
    assert "refusing to remove 1 of 3" in plan.get("refused", ""), plan
    text = p.plan()
    assert text.returncode == 3, describe(text)
    assert "DESTROYS schema" in text.stdout and "(250 rows)" in text.stdout, text.stdout
    assert "DESTROYS bucket 1 objects" in text.stdout, text.stdout
    p.apply(expect=3)
    assert schema_exists(services, "pv_pr_1"), "a refused apply changed something"

    p.apply("--allow-mass-delete")
    assert_gone(p, services, "pv/pr-1", "pv_pr_1", "prev-r-pv-pr-1", "prev-r-pv-pr-1")
    assert env_rows(services, "deletions", "prev-r", "pv/pr-1") == []
    # No final backup was taken of it.
    if services.bucket_exists("prev-r-backups"):
        assert services.objects("prev-r-backups", "pv/pr-1/") == []
    assert env_rows(services, "backups", "prev-r", "pv/pr-1") == []
    assert {n: i["Id"] for n, i in p.containers().items()} == others

    # The next apply is a no-op.
    p.apply()
    plan = p.plan_json()
    assert plan["actions"] == [] and plan["notes"] == [], plan
    p.assert_converged()
    assert {n: i["Id"] for n, i in p.containers().items()} == others
    p.assert_no_secrets(["pv_prod", "pv_stg", "pv_pr_1"])


def test_expired_cloned_preview_is_purged_and_stays_gone(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="prev-x", prefix="prev-x", nports=8,
                 extra_platform=WILDCARD)
    dump(p.src / "site.yaml", site_doc("px", timeout=20))
    dump(p.src / "prod.yaml", env_doc("px", "prod", stage="production"))
    dump(p.src / "policy.yaml", policy_doc("daily", {"stage": "production"}))
    p.apply()
    fill(services, "px_prod", rows=3000)
    services.put_object("prev-x-px-prod", "media/logo.bin", b"\x01" * 4096)
    prod_rows = table_sums(services, "px_prod")
    prod_container = p.containers()["prev-x-px-prod"]["Id"]

    preview = env_doc("px", "pr-2", stage="preview", expiresAfterHours=2,
                      cloneFrom={"environment": "prod"})
    dump(p.src / "pr-2.yaml", preview)
    plan = p.plan_json()
    assert [a["action"] for a in plan["actions"] if a["action"] == "clone"] == ["clone"], plan
    p.apply()
    assert table_sums(services, "px_pr_2") == prod_rows, "the preview is not a copy of prod"
    assert env_rows(services, "clones", "prev-x", "px/pr-2"), "no clone record"
    assert "prev-x-px-pr-2" in p.containers()

    # One hour on: not expired yet.
    soon = {"PRESSCTL_NOW": clock(days=1 / 24)}
    assert p.plan_json(env=soon)["actions"] == []

    # Twelve hours on: expired. The tombstone comes first, then every
    # object goes, without a backup; expiry is not a mass delete.
    later = {"PRESSCTL_NOW": clock(days=0.5)}
    plan = p.plan_json(env=later)
    assert "refused" not in plan, plan
    acts = plan["actions"]
    assert all(a["environment"] == "px/pr-2" and a["reason"] == "expired" for a in acts), acts
    assert sorted((a["action"], a["kind"]) for a in acts) == [
        ("purge", "bucket"), ("purge", "role"), ("purge", "schema"),
        ("remove", "container"), ("tombstone", "environment")], acts
    tomb = [a for a in acts if a["action"] == "tombstone"][0]
    assert all(tomb["id"] in a["dependsOn"] for a in acts if a is not tomb), acts
    d = [a for a in acts if a["action"] == "purge" and a["kind"] == "schema"][0]["data"]
    assert d["destroyed"] and d["schemaRows"] == 3000, d
    d = [a for a in acts if a["action"] == "purge" and a["kind"] == "bucket"][0]["data"]
    assert d["bucketObjects"] == 1 and d["bucketBytes"] == 4096, d
    p.apply(env=later)
    assert_gone(p, services, "px/pr-2", "px_pr_2", "prev-x-px-pr-2", "prev-x-px-pr-2")
    rows = services.psql_rows("SELECT env_id, stage, final_backup FROM pressctl.deletions "
                              "WHERE platform = 'prev-x'")
    assert rows == [["px/pr-2", "preview", ""]], rows
    # The source is untouched.
    assert table_sums(services, "px_prod") == prod_rows
    assert p.containers()["prev-x-px-prod"]["Id"] == prod_container

    # Its document stays: it stays gone, now and days later.
    for when in (later, {"PRESSCTL_NOW": clock(days=3)}):
        p.apply(env=when)
        plan = p.plan_json(env=when)
        assert plan["actions"] == [], plan
        assert [n["environment"] for n in plan["notes"]] == ["px/pr-2"], plan["notes"]
        assert "expired preview" in plan["notes"][0]["text"]
        assert_gone(p, services, "px/pr-2", "px_pr_2", "prev-x-px-pr-2", "prev-x-px-pr-2")

    # The document goes: the tombstone is forgotten, nothing is left.
    (p.src / "pr-2.yaml").unlink()
    plan = p.plan_json(env=later)
    assert [(a["action"], a["environment"]) for a in plan["actions"]] == \
        [("forget", "px/pr-2")], plan
    assert "refused" not in plan, plan
    p.apply(env=later)
    assert env_rows(services, "deletions", "prev-x", "px/pr-2") == []
    assert_gone(p, services, "px/pr-2", "px_pr_2", "prev-x-px-pr-2", "prev-x-px-pr-2")
    p.apply(env=later)
    p.assert_converged(env=later)

    # Added again: a new preview, cloned afresh.
    dump(p.src / "pr-2.yaml", preview)
    plan = p.plan_json(env=later)
    assert "clone" in [a["action"] for a in plan["actions"]], plan
    p.apply(env=later)
    assert table_sums(services, "px_pr_2") == prod_rows
    assert "prev-x-px-pr-2" in p.containers()
    p.assert_converged(env=later)
    p.assert_no_secrets(["px_prod", "px_pr_2"])
