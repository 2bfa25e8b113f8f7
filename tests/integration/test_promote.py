"""pressctl promote and rollback (docs/promotion.md).

The config repository is a git repository in the platform's source
directory; pressctl reads the manifests at its branch and writes the
promotion as one commit there. Against the session's PostgreSQL, s3rver
and dockerd; the tests assert the commits (count, trailers, files), the
containers, the rows and the backups.

1. Every guard passes: exactly one commit, naming source, target and
   revision, with the verdicts and the pre-promotion backup as trailers;
   the next apply runs staging's image in production.
2. Each guard blocks on its own, named with its evidence: exit 3 and no
   commit (production drift, staging unhealthy, soak time not met, S3
   down when the backup is due, a protected table changed, production's
   schema altered).
3. rollback --with-data brings production's image and rows back to
   before the promotion; the replaced schema is kept.
4. kill -9 at random moments of promote --commit: a promotion commit
   never exists without its verified backup, and a rerun promotes.
"""

import datetime
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import crash_helpers as crash
from backup_helpers import backups, fill, policy_doc, table_sums
from converge_helpers import Platform, container, dump, env_doc, host_port, http_get, site_doc
from helpers import describe, git, git_commit_all
from resilience_helpers import restart_backend

IMAGE1 = "local/press-test-app:1"
IMAGE2 = "local/press-test-app:2"


def later(minutes=120):
    """A test clock past every soak time."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return {"PRESSCTL_NOW": t.strftime("%Y-%m-%dT%H:%M:%SZ")}


def promo_platform(services, pressctl, tmp_path, name, site, nports=10):
    """prod (production, promotion from staging, soak 10 min, table c
    protected) filled with rows, staging cloned from it with image 2,
    the whole directory one git commit."""
    p = Platform(services, pressctl, tmp_path, name=name, prefix=name, nports=nports)
    dump(p.src / "site.yaml", site_doc(site, image=IMAGE1))
    dump(p.src / "policy.yaml", policy_doc("daily", {"stage": "production"}))
    dump(p.src / "prod.yaml", env_doc(site, "prod", stage="production"))
    p.apply()
    fill(p.services, f"{site}_prod", rows=4000)
    dump(p.src / "prod.yaml",
         env_doc(site, "prod", stage="production",
                 promotion={"from": "staging", "minSoakMinutes": 10, "protect": ["c"]}))
    dump(p.src / "staging.yaml",
         env_doc(site, "staging", stage="staging", image=IMAGE2,
                 cloneFrom={"environment": "prod"}))
    p.apply()
    git(p.src, "init", "-q")
    git_commit_all(p.src, "platform")
    return p


def promote(p, site, *args, env=None):
    """promote --format json, on the test clock unless env clears it."""
    e = {**later(), **(env or {})}
    if not e["PRESSCTL_NOW"]:
        del e["PRESSCTL_NOW"]
    return p.run("promote", "--from", f"{site}/staging", "--to", f"{site}/prod",
                 "--format", "json", *args, env=e)


def verdicts(proc):
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("promote did not print JSON" + describe(proc))
    return out, {g["name"]: g for g in out["guards"]}


def head(p):
    return git(p.src, "rev-parse", "HEAD")


def trailers(p, rev="HEAD"):
    out = git(p.src, "log", "-1", "--format=%(trailers:unfold,only)", rev)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def assert_blocked_by(p, site, guard, *args, env=None, evidence=None):
    before = head(p)
    proc = promote(p, site, "--commit", *args, env=env)
    assert proc.returncode == 3, f"promote should be refused (exit 3)" + describe(proc)
    out, g = verdicts(proc)
    blocking = sorted(n for n, v in g.items() if not v["pass"])
    assert blocking == [guard], (guard, {n: g[n]["evidence"]["text"] for n in blocking})
    assert out["allowed"] is False and out["commit"] is None, out
    assert head(p) == before, "a refused promotion wrote a commit"
    assert git(p.src, "status", "--porcelain") == "", "a refused promotion changed files"
    if evidence:
        assert evidence in g[guard]["evidence"]["text"], g[guard]["evidence"]
    return g[guard]


# --- 1. the promotion ----------------------------------------------------------------

def test_a_promotion_is_one_commit_and_the_next_apply_runs_the_source_image(
        services, pressctl, tmp_path):
    p = promo_platform(services, pressctl, tmp_path, "promo-a", "pra")
    base = head(p)

    # A dry run (the default) reports and writes nothing.
    proc = promote(p, "pra")
    assert proc.returncode == 0, describe(proc)
    out, g = verdicts(proc)
    assert out["allowed"] and all(v["pass"] for v in g.values()), g
    assert set(g) == {"target-no-drift", "source-soak", "schema-unchanged",
                      "protected-tables", "fresh-backup"}
    assert head(p) == base and out["commit"] is None
    assert not [b for b in backups(p, "pra/prod") if b["reason"] == "pre-promotion"]

    proc = promote(p, "pra", "--commit")
    assert proc.returncode == 0, describe(proc)
    out, g = verdicts(proc)
    assert out["commit"] == head(p)
    assert git(p.src, "rev-list", "--count", f"{base}..HEAD") == "1"
    assert git(p.src, "rev-parse", "HEAD^") == base
    # The commit sets the target's image, nothing else.
    assert git(p.src, "diff", "--name-only", base, "HEAD") == "prod.yaml"
    assert f"image: {IMAGE2}" in (p.src / "prod.yaml").read_text(encoding="utf-8")
    assert git(p.src, "status", "--porcelain") == ""
    t = trailers(p)
    assert t["Promoted-From"] == "pra/staging" and t["Promoted-To"] == "pra/prod", t
    assert t["Source-Revision"] and t["Source-Revision"] in git(p.src, "log", "-1", "--format=%B")
    assert t["Pre-Promotion-Backup"] == out["backup"], (t, out)
    for name in g:
        assert t[name].startswith("pass: "), t
    subject = git(p.src, "log", "-1", "--format=%s")
    assert subject == "Promote pra/staging to pra/prod", subject
    # The pre-promotion backup exists and reads back whole.
    pre = [b for b in backups(p, "pra/prod") if b["id"] == out["backup"]]
    assert pre and pre[0]["reason"] == "pre-promotion", backups(p, "pra/prod")
    v = p.run("backup", "verify", str(p.src), "--env", "pra/prod", "--backup", out["backup"],
              src=False)
    assert v.returncode == 0, describe(v)
    # Journaled with its evidence.
    (row,) = services.psql_rows(
        "SELECT status, summary FROM pressctl.runs WHERE platform = 'promo-a' "
        "AND command = 'promote' ORDER BY id DESC LIMIT 1")
    assert row[0] == "ok"
    summary = json.loads(row[1])
    assert summary["commit"] == out["commit"] and summary["previousImage"] == IMAGE1
    assert {x["name"] for x in summary["guards"]} == set(g)

    # The next reconcile: production runs staging's image.
    p.apply()
    info = container(services, "promo-a-pra-prod")
    assert info["Config"]["Image"] == IMAGE2
    got = http_get(host_port(info), "/", tries=10)
    assert got and got[0] == 200 and "press-test-app 2" in got[1], got
    p.assert_converged()
    p.assert_no_secrets(["pra_prod", "pra_staging"])


def container_env(services, name):
    return dict(x.split("=", 1) for x in container(services, name)["Config"]["Env"])


def test_promotion_moves_the_listed_variables_and_rollback_returns_them(
        services, pressctl, tmp_path):
    """promotion.env: the variables it names move with the image (set, or
    removed when the source has none); the others stay; rollback gives
    both back; a secret reference is never promoted."""
    token = "prs-token-value-41d2"
    p = Platform(services, pressctl, tmp_path, name="promo-s", prefix="promo-s",
                 env={"PRS_TOKEN": token})
    p.secrets.append(token)
    dump(p.src / "site.yaml", site_doc("prs", image=IMAGE1))
    dump(p.src / "policy.yaml", policy_doc("daily", {"stage": "production"}))
    prod = dict(stage="production", promotion={"from": "staging", "minSoakMinutes": 10,
                                               "env": ["FEATURE", "CHANNEL", "GONE"]},
                env={"FEATURE": "off", "GONE": "old", "KEEP": "prod-only"})
    dump(p.src / "prod.yaml", env_doc("prs", "prod", **{k: v for k, v in prod.items() if k != "promotion"}))
    p.apply()
    dump(p.src / "prod.yaml", env_doc("prs", "prod", **prod))
    dump(p.src / "staging.yaml",
         env_doc("prs", "staging", stage="staging", image=IMAGE2,
                 cloneFrom={"environment": "prod"},
                 env={"FEATURE": "on", "CHANNEL": "beta", "KEEP": "staging-only",
                      "API_TOKEN": {"env": "PRS_TOKEN"}}))
    p.apply()
    git(p.src, "init", "-q")
    git_commit_all(p.src, "platform")
    base = head(p)

    # The dry run says what the commit would set.
    proc = p.run("promote", "--from", "prs/staging", "--to", "prs/prod", env=later())
    assert proc.returncode == 0, describe(proc)
    for line in (f"image: {IMAGE1} -> {IMAGE2}", "env.FEATURE: off -> on",
                 "env.CHANNEL: (none) -> beta", "env.GONE: old -> (none)"):
        assert line in proc.stdout, proc.stdout
    assert "KEEP" not in proc.stdout and head(p) == base

    proc = promote(p, "prs", "--commit")
    assert proc.returncode == 0, describe(proc)
    out, _ = verdicts(proc)
    assert [(c["name"], c["before"], c["after"]) for c in out["changes"]] == [
        ("image", IMAGE1, IMAGE2), ("env.FEATURE", "off", "on"),
        ("env.CHANNEL", None, "beta"), ("env.GONE", "old", None)], out["changes"]
    assert git(p.src, "rev-list", "--count", f"{base}..HEAD") == "1"
    assert git(p.src, "diff", "--name-only", base, "HEAD") == "prod.yaml"
    assert "Also moved: env.FEATURE, env.CHANNEL, env.GONE." in git(
        p.src, "log", "-1", "--format=%B")
    p.apply()
    env = container_env(services, "promo-s-prs-prod")
    assert (env["FEATURE"], env["CHANNEL"], env["KEEP"]) == ("on", "beta", "prod-only"), env
    assert "GONE" not in env and "API_TOKEN" not in env
    assert container(services, "promo-s-prs-prod")["Config"]["Image"] == IMAGE2

    # Rollback: the image and the three variables as they were.
    proc = p.run("rollback", "prs/prod")
    assert proc.returncode == 0, describe(proc)
    assert "env.CHANNEL: beta -> (none)" in proc.stdout, proc.stdout
    p.apply()
    env = container_env(services, "promo-s-prs-prod")
    assert (env["FEATURE"], env["GONE"], env["KEEP"]) == ("off", "old", "prod-only"), env
    assert "CHANNEL" not in env
    assert container(services, "promo-s-prs-prod")["Config"]["Image"] == IMAGE1
    p.assert_converged()

    # A secret reference named in promotion.env: refused, nothing written.
    prod["promotion"]["env"].append("API_TOKEN")
    dump(p.src / "prod.yaml", env_doc("prs", "prod", **prod))
    git_commit_all(p.src, "promote the token too")
    before = head(p)
    proc = promote(p, "prs", "--commit")
    assert proc.returncode not in (0, 3), describe(proc)
    assert "API_TOKEN, a secret reference in 'prs/staging'" in proc.stderr, describe(proc)
    assert head(p) == before and git(p.src, "status", "--porcelain") == ""
    p.assert_no_secrets(["prs_prod", "prs_staging"])


# --- 2. each guard on its own --------------------------------------------------------

def test_each_guard_blocks_on_its_own_with_its_evidence(services, pressctl, tmp_path):
    p = promo_platform(services, pressctl, tmp_path, "promo-g", "prg")
    prod, staging = "promo-g-prg-prod", "promo-g-prg-staging"

    # Production drift: its container stopped by hand.
    services.docker("stop", "-t", "1", prod)
    g = assert_blocked_by(p, "prg", "target-no-drift", evidence="prg/prod differs")
    assert any(prod in a for a in g["evidence"]["actions"]), g
    p.apply()

    # Staging unhealthy: running, but its health check fails.
    services.docker("exec", staging, "rm", "/www/healthz")
    g = assert_blocked_by(p, "prg", "source-soak", evidence="not healthy")
    assert g["evidence"]["healthy"] == 0 and g["evidence"]["running"] == 1, g
    services.docker("rm", "-f", staging)
    p.apply()

    # Soak time not met: the real clock, minutes after the last apply.
    g = assert_blocked_by(p, "prg", "source-soak", env={"PRESSCTL_NOW": ""},
                          evidence="minSoakMinutes is 10")
    assert g["evidence"]["soakedMinutes"] < 10, g

    # S3 down when the backup is due: every other guard passed.
    go = p.src.parent / "go"
    env = {**os.environ, **services.env_vars(), **p.extra_env, **later(),
           "PRESSCTL_TEST_WAIT": f"promote-backup:{go}"}
    before = head(p)
    run = subprocess.Popen([pressctl, "promote", str(p.src), "--from", "prg/staging",
                            "--to", "prg/prod", "--commit", "--format", "json"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reached = Path(f"{go}.reached")
        for _ in range(600):
            if reached.exists() or run.poll() is not None:
                break
            time.sleep(0.1)
        assert reached.exists(), "promote never reached its backup"
        pid = int((services.dir / "s3rver.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        go.write_text("")
        out, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    restart_backend(services, "s3", pid)
    assert run.returncode == 3, f"exit {run.returncode}\n{err}"
    res = json.loads(out)
    blocking = [x["name"] for x in res["guards"] if not x["pass"]]
    assert blocking == ["fresh-backup"], res["guards"]
    assert "no verified backup of prg/prod could be taken" in res["guards"][-1]["evidence"]["text"]
    assert head(p) == before and res["commit"] is None

    # A protected production table changed since the clone.
    services.psql("UPDATE prg_prod.c SET j = j || '{\"x\": 1}' WHERE k = 'k7'")
    g = assert_blocked_by(p, "prg", "protected-tables", evidence="c: 1000 rows")
    assert g["evidence"]["changes"], g
    services.psql("UPDATE prg_prod.c SET j = j - 'x' WHERE k = 'k7'")

    # Production's schema altered after the clone.
    services.psql("ALTER TABLE prg_prod.a ADD COLUMN note text")
    g = assert_blocked_by(p, "prg", "schema-unchanged", evidence="changed since")
    assert any(c.startswith("+ ") and "note" in c for c in g["evidence"]["changes"]), g
    # The last apply recorded the structure it left: the ALTER came after it.
    (rec,) = services.psql_rows(
        "SELECT fingerprint, run_id FROM pressctl.structures "
        "WHERE platform = 'promo-g' AND env_id = 'prg/prod'")
    assert rec[0] == g["evidence"]["clonedFingerprint"], (rec, g["evidence"])
    assert g["evidence"]["changedAfterApply"] is True, g["evidence"]
    assert "changed outside pressctl, after the apply of" in g["evidence"]["text"], g
    # An apply that touches production records the altered structure: the
    # guard still blocks, and now says the change came through an apply.
    dump(p.src / "prod.yaml",
         env_doc("prg", "prod", stage="production", env={"NOTE": "1"},
                 promotion={"from": "staging", "minSoakMinutes": 10, "protect": ["c"]}))
    p.apply()
    git_commit_all(p.src, "prod: NOTE")
    g = assert_blocked_by(p, "prg", "schema-unchanged", evidence="as the apply of")
    assert g["evidence"]["changedAfterApply"] is False, g["evidence"]
    (rec2,) = services.psql_rows(
        "SELECT fingerprint, run_id FROM pressctl.structures "
        "WHERE platform = 'promo-g' AND env_id = 'prg/prod'")
    assert rec2[0] == g["evidence"]["fingerprint"] and int(rec2[1]) > int(rec[1]), (rec, rec2)
    services.psql("ALTER TABLE prg_prod.a DROP COLUMN note")
    # Refusals are journaled, with their evidence.
    refused = services.psql_rows(
        "SELECT count(*) FROM pressctl.runs WHERE platform = 'promo-g' "
        "AND command = 'promote' AND status = 'refused' AND summary IS NOT NULL")
    assert int(refused[0][0]) >= 6, refused


# --- 3. rollback --with-data -------------------------------------------------------

def test_rollback_with_data_returns_image_and_rows(services, pressctl, tmp_path):
    p = promo_platform(services, pressctl, tmp_path, "promo-r", "prr")
    before_rows = table_sums(services, "prr_prod")
    proc = promote(p, "prr", "--commit")
    assert proc.returncode == 0, describe(proc)
    promoted = head(p)
    p.apply()
    assert container(services, "promo-r-prr-prod")["Config"]["Image"] == IMAGE2
    # The new release writes.
    services.psql("DELETE FROM prr_prod.a WHERE id % 3 = 0; INSERT INTO prr_prod.c VALUES "
                  "('new', '{}')")
    assert table_sums(services, "prr_prod") != before_rows

    proc = p.run("rollback", "prr/prod", "--with-data")
    assert proc.returncode == 0, describe(proc)
    assert git(p.src, "rev-parse", "HEAD^") == promoted
    t = trailers(p)
    assert t["Rolled-Back"] == "prr/prod" and t["Promotion-Commit"] == promoted, t
    assert t["Restored-Backup"] == json.loads(
        services.psql_rows("SELECT summary FROM pressctl.runs WHERE platform = 'promo-r' "
                           "AND command = 'promote' AND status = 'ok'")[0][0])["backup"]
    assert f"image: {IMAGE1}" in (p.src / "prod.yaml").read_text(encoding="utf-8")
    assert table_sums(services, "prr_prod") == before_rows
    kept = services.psql_rows("SELECT nspname FROM pg_namespace "
                              "WHERE nspname LIKE 'prr_prod__pre_restore_%'")
    assert len(kept) == 1, kept
    assert services.psql(f"SELECT count(*) FROM {kept[0][0]}.c WHERE k = 'new'") == "1"
    p.apply()
    assert container(services, "promo-r-prr-prod")["Config"]["Image"] == IMAGE1
    p.assert_converged()


# --- 4. kill -9 during a promotion ---------------------------------------------------

def test_kill9_during_promotion_never_commits_without_its_backup(services, pressctl, tmp_path):
    n = crash.trials("promote", 3)
    seed, rng = crash.seeded("promote", 13)
    p = promo_platform(services, pressctl, tmp_path, "promo-k", "prk")
    base = head(p)
    prod_rows = table_sums(services, "prk_prod")
    env = {**os.environ, **services.env_vars(), **p.extra_env, **later()}
    cmd = [pressctl, "promote", str(p.src), "--from", "prk/staging", "--to", "prk/prod",
           "--commit"]
    t0 = time.monotonic()
    full = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr
    took = time.monotonic() - t0
    git(p.src, "reset", "-q", "--hard", base)
    started = time.monotonic()
    committed = 0
    for t in range(n):
        crash.kill_after(cmd, env, rng.uniform(0.02, took))
        # The work tree is never left half edited.
        assert git(p.src, "status", "--porcelain") == "", t
        moved = head(p) != base
        if moved:
            committed += 1
            tr = trailers(p)
            listed = {b["id"]: b for b in backups(p, "prk/prod")}
            assert tr["Pre-Promotion-Backup"] in listed, (t, tr, list(listed))
            v = p.run("backup", "verify", str(p.src), "--env", "prk/prod", "--backup",
                      tr["Pre-Promotion-Backup"], src=False)
            assert v.returncode == 0, f"trial {t}" + describe(v)
        # Then the platform converges on what the branch says: the new
        # image after a commit, the old one without.
        crash.assert_after_kill(p, services, t, schemas={"prk_prod": [prod_rows]},
                                backup_envs=["prk/prod"],
                                containers={"promo-k-prk-prod": (IMAGE1, IMAGE2)})
        want = IMAGE2 if moved else IMAGE1
        assert container(services, "promo-k-prk-prod")["Config"]["Image"] == want, t
        if moved:
            git(p.src, "reset", "-q", "--hard", base)
            p.apply()
    crash.report("promote", n, seed, started, committed_first=committed)
    # (A handful of CI trials may all land after the commit by chance.)
    assert committed < n or n < 5, "promote was never killed before its commit"
    # A rerun promotes, and the platform converges on it.
    proc = promote(p, "prk", "--commit")
    assert proc.returncode == 0, describe(proc)
    p.apply()
    assert container(services, "promo-k-prk-prod")["Config"]["Image"] == IMAGE2
    p.assert_converged()
