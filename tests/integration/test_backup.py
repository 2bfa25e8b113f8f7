"""Backups, verification and restore (docs/backup.md; pressctl-backup(1),
pressctl-restore(1)).

Against the session's PostgreSQL, s3rver and dockerd; the tests assert live
state: row checksums from the catalog, objects and their hashes in S3.

1. 100,000 rows in several tables and 200 files: backed up, restored --into
   another environment, identical row by row and byte by byte; a second
   backup after one file changed stores one new blob, not 200.
2. Encrypted: no table data readable in any stored object; the right key
   restores, a wrong key fails clearly and changes nothing.
3. A flipped byte, a truncated object, a missing object: verify and restore
   refuse, naming the object.
4. kill -9 at random moments of a backup and of a restore, and s3rver killed
   at random moments of a backup: no half backup is ever listed, the live
   schema is the old one or the restored one, multipart uploads are aborted
   or recorded, and the next run succeeds.
5. A reader in a loop during a restore sees old or new data, never a missing
   schema or table.
6. Schedules: `pressctl watch` backs up when the policy's cron fires, runs a
   window missed while no watcher ran once at start (not once per missed
   window), and a backup older than maxAgeHours makes the environment
   unhealthy in `status` and in /metrics. The clock is the test clock
   (PRESSCTL_NOW), so a day passes in a second.
"""

import json
import os
import random
import signal
import subprocess
import threading
import time
from datetime import datetime, timezone

import crash_helpers as crash
from backup_helpers import (backup, backups, cas_keys, fill, object_hashes, platform,
                            policy_doc, restore, table_sums)
from converge_helpers import derived_password, dump, psql_as, schema_exists
from helpers import describe
import resilience_helpers as R
from resilience_helpers import restart_backend
from watch_helpers import sample, wait_until, watching


# --- 1. round trip and incremental files ------------------------------------------

def test_backup_and_restore_into_another_environment(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "bkone", "bkone",
                 [("prod", "production"), ("copy", "staging")],
                 [policy_doc("daily", {"stage": "production"})])
    fill(services, "bkone_prod")
    bucket = "bkone-bkone-prod"
    for i in range(200):
        services.put_object(bucket, f"files/{i:03d}.bin", os.urandom(97 + i))
    before = table_sums(services, "bkone_prod")
    files = object_hashes(services, bucket)
    assert len(files) == 200 and len(before) == 3

    proc = backup(p, "run", "--env", "bkone/prod")
    listed = backups(p, "bkone/prod")
    assert len(listed) == 1, listed
    b1 = listed[0]
    assert b1["env"] == "bkone/prod" and b1["verified"] and not b1["encrypted"]
    assert b1["objects"] == 200 and b1["bytes"] > 0, b1
    cas1 = cas_keys(services, "bkone-backups")
    assert len(cas1) == 200, len(cas1)

    # A backup run that died left its run `running`: the restore, holding
    # the apply lock, closes it as interrupted (docs/state.md).
    dead = R.dead_run(services, "bkone")
    restore(p, "bkone/prod", b1["id"], into="bkone/copy")
    assert R.run_status(services, dead) == "interrupted"
    assert table_sums(services, "bkone_copy") == before
    assert object_hashes(services, "bkone-bkone-copy") == files
    # Handed to its own role, marked, and the source untouched.
    assert services.psql("SELECT pg_get_userbyid(nspowner) FROM pg_namespace "
                         "WHERE nspname = 'bkone_copy'") == "bkone_copy"
    assert services.psql("SELECT tableowner FROM pg_tables WHERE schemaname = "
                         "'bkone_copy' AND tablename = 'a'") == "bkone_copy"
    assert table_sums(services, "bkone_prod") == before
    pw = derived_password(services, "bkone_copy")
    got = psql_as(services, "bkone_copy", pw, "SELECT count(*) FROM a")
    assert got.returncode == 0 and got.stdout.strip() == "50000", got.stderr
    # The replaced (empty) schema of copy is kept aside.
    kept = services.psql("SELECT string_agg(nspname, ',') FROM pg_namespace "
                         "WHERE nspname LIKE 'bkone_copy__pre_restore_%'")
    assert kept, "the replaced schema was not kept"

    # One file changed: one new blob.
    services.put_object(bucket, "files/007.bin", b"changed\n")
    time.sleep(1.1)  # a new id (one per second)
    proc = backup(p, "run", "--env", "bkone/prod")
    assert "(1 new)" in proc.stderr, describe(proc)
    cas2 = cas_keys(services, "bkone-backups")
    assert len(cas2) == 201, len(cas2)
    assert len(backups(p, "bkone/prod")) == 2
    backup(p, "verify", "--env", "bkone/prod", "--restore-test")


def test_the_backups_bucket_is_taken_only_when_unmarked_and_empty(services, pressctl, tmp_path):
    """A backups bucket created but not yet marked (a run killed between
    the two, or a second backup racing the first) is taken; an unmarked
    one holding data is not pressctl's and is refused, untouched."""
    p = platform(services, pressctl, tmp_path, "bkmrk", "bkmrk", [("prod", "production")],
                 [policy_doc("daily", {"stage": "production"})])
    services.create_bucket("bkmrk-backups")
    backup(p, "run", "--env", "bkmrk/prod")
    assert services.get_object("bkmrk-backups", ".press-owner") == b"press.platform=bkmrk\n"
    assert len(backups(p, "bkmrk/prod")) == 1

    q = platform(services, pressctl, tmp_path / "q", "bkmrq", "bkmrq", [("prod", "production")],
                 [policy_doc("daily", {"stage": "production"})])
    services.create_bucket("bkmrq-backups")
    services.put_object("bkmrq-backups", "someone-elses.txt", b"keep me")
    proc = backup(q, "run", "--env", "bkmrq/prod", expect=1)
    assert "bkmrq-backups" in proc.stderr and "without an ownership mark and holds objects" in proc.stderr, describe(proc)
    assert services.objects("bkmrq-backups") == ["someone-elses.txt"]
    assert services.get_object("bkmrq-backups", "someone-elses.txt") == b"keep me"


def test_the_replaced_schema_is_kept_then_purged_after_the_window(services, pressctl, tmp_path):
    """restore keeps the schema it replaced for safety.softDeleteDays (30),
    on record before the swap; then the plan purges it, saying so, and the
    apply drops it and its row, nothing else."""
    p = platform(services, pressctl, tmp_path, "bkkept", "bkkept", [("prod", "production")],
                 [policy_doc("daily", {"stage": "production"})])
    fill(services, "bkkept_prod", rows=1000, marker="old")
    backup(p, "run", "--env", "bkkept/prod")
    (b1,) = backups(p, "bkkept/prod")
    old = table_sums(services, "bkkept_prod")
    proc = psql_as(services, "bkkept_prod", derived_password(services, "bkkept_prod"),
                   "DELETE FROM a WHERE id <= 100")
    assert proc.returncode == 0, proc.stderr
    damaged = table_sums(services, "bkkept_prod")
    out = restore(p, "bkkept/prod", b1["id"])
    (kept,) = services.psql_rows("SELECT schema_name FROM pressctl.kept_schemas "
                                 "WHERE platform = 'bkkept'")
    kept = kept[0]
    assert kept.startswith("bkkept_prod__pre_restore_") and kept in out.stdout, out.stdout
    assert table_sums(services, kept) == damaged and table_sums(services, "bkkept_prod") == old

    in_window = p.plan_json(env={"PRESSCTL_NOW": "2026-12-20T00:00:00Z"})
    assert not [a for a in in_window["actions"] if a["name"] == kept], in_window
    late = {"PRESSCTL_NOW": "2027-02-01T00:00:00Z"}
    plan = p.plan_json(env=late)
    purges = [a for a in plan["actions"] if a["name"] == kept]
    assert [(a["action"], a["kind"], a["reason"], a["environment"]) for a in purges] == \
        [("purge", "schema", "purge", "bkkept/prod")], plan
    text = p.plan(env=late).stdout
    assert kept in text and "DESTROYS schema" in text, text
    p.apply(env=late)
    assert not schema_exists(services, kept)
    assert services.psql("SELECT count(*) FROM pressctl.kept_schemas "
                         "WHERE platform = 'bkkept'") == "0"
    assert table_sums(services, "bkkept_prod") == old
    assert p.plan("--detailed-exitcode", env=late).returncode == 0


# --- 2. encryption -------------------------------------------------------------------

def test_encrypted_backups_hide_the_data_and_need_the_key(services, pressctl, tmp_path):
    key = "k-" + os.urandom(16).hex()
    p = platform(services, pressctl, tmp_path, "bkenc", "bkenc",
                 [("prod", "production"), ("copy", "staging")],
                 [policy_doc("safe", {"stage": "production"}, encrypt="BK_KEY")],
                 env={"BK_KEY": key})
    p.add_secret(key)
    marker = "PLAINTEXT-MARKER-7f3a"
    fill(services, "bkenc_prod", rows=2000, marker=marker)
    services.put_object("bkenc-bkenc-prod", "doc.txt", (marker + "\n") * 50)
    before = table_sums(services, "bkenc_prod")
    backup(p, "run", "--env", "bkenc/prod")
    (b1,) = backups(p, "bkenc/prod")
    assert b1["encrypted"], b1
    for k in services.objects("bkenc-backups"):
        body = services.get_object("bkenc-backups", k)
        if k.endswith("manifest.json"):
            assert marker.encode() not in body
            continue
        assert marker.encode() not in body, f"{k} holds readable data"
        assert b"bkenc-a" not in body and b"INSERT" not in body

    copy_before = table_sums(services, "bkenc_copy")
    wrong = restore(p, "bkenc/prod", b1["id"], into="bkenc/copy", expect=1,
                    env_vars={"BK_KEY": "another key"})
    assert "encrypted with key" in wrong.stderr and "nothing was changed" in wrong.stderr, \
        describe(wrong)
    assert table_sums(services, "bkenc_copy") == copy_before
    restore(p, "bkenc/prod", b1["id"], into="bkenc/copy")
    assert table_sums(services, "bkenc_copy") == before
    assert services.get_object("bkenc-bkenc-copy", "doc.txt") == ((marker + "\n") * 50).encode()
    p.assert_no_secrets(["bkenc_prod", "bkenc_copy"])


# --- 3. damage is found and named ---------------------------------------------------------

def test_damaged_backups_are_refused_by_name(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "bkbad", "bkbad",
                 [("prod", "production"), ("copy", "staging")],
                 [policy_doc("daily", {"stage": "production"})])
    fill(services, "bkbad_prod", rows=1000)
    for i in range(3):
        services.put_object("bkbad-bkbad-prod", f"f{i}", f"file {i}\n" * 100)
    backup(p, "run", "--env", "bkbad/prod")
    (b1,) = backups(p, "bkbad/prod")
    manifest = json.loads(services.get_object(
        "bkbad-backups", f"bkbad/prod/{b1['id']}/manifest.json"))
    dbkey = manifest["database"]["key"]
    blobs = [o["blob"] for o in manifest["files"]["objects"]]
    copy_before = table_sums(services, "bkbad_copy")

    def damage(key, how):
        """Damage the object; returns its intact bytes."""
        body = services.get_object("bkbad-backups", key)
        if how == "flip":
            i = len(body) // 2
            services.put_object("bkbad-backups", key,
                                body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:])
        elif how == "truncate":
            services.put_object("bkbad-backups", key, body[:len(body) // 2])
        else:
            services.s3("DELETE", f"/bkbad-backups/{key}")
        return body

    for key, how in ((dbkey, "flip"), (blobs[0], "truncate"), (blobs[1], "delete")):
        good = damage(key, how)
        v = p.run("backup", "verify", str(p.src), "--env", "bkbad/prod", src=False)
        assert v.returncode == 1 and key in v.stderr, describe(v)
        r = restore(p, "bkbad/prod", b1["id"], into="bkbad/copy", expect=1)
        assert key in r.stderr or "verification failed" in r.stderr, describe(r)
        assert table_sums(services, "bkbad_copy") == copy_before, "a refused restore changed data"
        services.put_object("bkbad-backups", key, good)
    backup(p, "verify", "--env", "bkbad/prod")


# --- 4. kill -9 ----------------------------------------------------------------------------

def test_kill9_during_backup_and_restore_leaves_no_half(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "bkkill", "bkkill",
                 [("prod", "production"), ("copy", "staging")],
                 [policy_doc("daily", {"stage": "production"})])
    fill(services, "bkkill_prod", rows=20000)
    for i in range(20):
        services.put_object("bkkill-bkkill-prod", f"f{i}", os.urandom(20000))
    backup(p, "run", "--env", "bkkill/prod")
    (good,) = backups(p, "bkkill/prod")
    prod = table_sums(services, "bkkill_prod")
    env = {**os.environ, **services.env_vars(), **p.extra_env}

    started = time.monotonic()
    n = crash.trials("backup", 3)
    seed, rng = crash.seeded("backup", 7)
    killed = 0
    for t in range(n):
        rc = crash.kill_after([pressctl, "backup", "run", str(p.src), "--env", "bkkill/prod"],
                              env, rng.uniform(0.05, 1.5))
        killed += rc == -signal.SIGKILL
        # Every listed backup verifies: no half backup is ever listed.
        crash.assert_after_kill(p, services, t, schemas={"bkkill_prod": [prod]},
                                backup_envs=["bkkill/prod"])
    crash.report("backup", n, seed, started, killed=killed)

    started = time.monotonic()
    copy = table_sums(services, "bkkill_copy")
    n = crash.trials("restore", 3)
    seed, rng = crash.seeded("restore", 8)
    killed = 0
    for t in range(n):
        rc = crash.kill_after([pressctl, "restore", str(p.src), "bkkill/prod", "--backup",
                               good["id"], "--into", "bkkill/copy"], env,
                              rng.uniform(0.05, 2.0))
        killed += rc == -signal.SIGKILL
        time.sleep(0.2)  # the server ends the killed session
        # The copy is the old one or the restored one, never missing or mixed.
        crash.assert_after_kill(p, services, t,
                                schemas={"bkkill_copy": [copy, prod], "bkkill_prod": [prod]},
                                backup_envs=["bkkill/prod"])
        copy = table_sums(services, "bkkill_copy")
    crash.report("restore", n, seed, started, killed=killed)
    restore(p, "bkkill/prod", good["id"], into="bkkill/copy")
    assert table_sums(services, "bkkill_copy") == prod
    backup(p, "run", "--env", "bkkill/prod")


def test_s3rver_killed_mid_backup_leaves_no_half(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "bks3k", "bks3k", [("prod", "production")],
                 [policy_doc("daily", {"stage": "production"})])
    # A dump of more than one 8 MiB part, so that parts are in flight.
    proc = psql_as(services, "bks3k_prod", derived_password(services, "bks3k_prod"),
                   "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5(random()::text)"
                   " || md5(random()::text) AS v FROM generate_series(1, 250000) g")
    assert proc.returncode == 0, proc.stderr
    for i in range(30):
        services.put_object("bks3k-bks3k-prod", f"f{i:02d}", os.urandom(50_000 + i))
    t0 = time.monotonic()
    backup(p, "run", "--env", "bks3k/prod")
    full = time.monotonic() - t0
    (first,) = backups(p, "bks3k/prod")
    assert first["bytes"] > 8 << 20, first
    rng = random.Random(int(os.environ.get("PRESS_KILL_SEED", "11")))
    env = {**os.environ, **services.env_vars(), **p.extra_env}
    pid_file = services.dir / "s3rver.pid"
    verified = {first["id"]}
    outcomes = []

    trials = int(os.environ.get("PRESS_KILL_TRIALS", "20"))
    for t in range(trials):
        run = subprocess.Popen([pressctl, "backup", "run", str(p.src), "--env", "bks3k/prod"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        time.sleep(rng.uniform(0.05, full))
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        out, err = run.communicate(timeout=300)
        restart_backend(services, "s3", pid)
        listed = backups(p, "bks3k/prod")
        new = [b for b in listed if b["id"] not in verified]
        outcomes.append(run.returncode)
        if run.returncode == 0:
            assert len(new) == 1, (t, listed)       # it finished before the kill
        else:
            assert not new, f"trial {t}: a failed run listed {new}\n{err}"
            assert "error" in err, err
        # Every listed backup reads back whole: none is half.
        for b in new:
            v = p.run("backup", "verify", str(p.src), "--env", "bks3k/prod",
                      "--backup", b["id"], src=False)
            assert v.returncode == 0, f"trial {t}: listed backup {b['id']} is broken" + describe(v)
            verified.add(b["id"])
    assert outcomes.count(0) < trials, "s3rver was never killed mid-backup"

    # The next run succeeds; every upload a dead run left was aborted or is
    # recorded as left (s3rver cannot abort), and the run says so.
    last = backup(p, "run", "--env", "bks3k/prod")
    open_uploads = services.psql("SELECT count(*) FROM pressctl.uploads "
                                 "WHERE platform = 'bks3k' AND state = 'open'")
    assert open_uploads == "0", open_uploads
    left = int(services.psql("SELECT count(*) FROM pressctl.uploads "
                             "WHERE platform = 'bks3k' AND state = 'left'"))
    if left:
        assert f"{left} multipart upload" in last.stderr, describe(last)
    print(f"s3rver killed {trials} times: {outcomes.count(0)} runs finished first, "
          f"{trials - outcomes.count(0)} failed; uploads left on record: {left}")
    backup(p, "verify", "--env", "bks3k/prod")
    (newest, *_) = backups(p, "bks3k/prod")
    copy = p.run("backup", "verify", str(p.src), "--env", "bks3k/prod", "--backup",
                 newest["id"], "--restore-test", src=False)
    assert copy.returncode == 0, describe(copy)


# --- 5. readers during a restore ----------------------------------------------------------

def test_a_reader_sees_old_or_new_never_missing(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "bkread", "bkread",
                 [("prod", "production"), ("copy", "staging")],
                 [policy_doc("daily", {"stage": "production"})])
    fill(services, "bkread_prod", rows=50000)
    pw = derived_password(services, "bkread_copy")
    proc = psql_as(services, "bkread_copy", pw,
                   "CREATE TABLE a (id int PRIMARY KEY, v text);"
                   " INSERT INTO a SELECT g, 'old' FROM generate_series(1, 10) g")
    assert proc.returncode == 0, proc.stderr
    backup(p, "run", "--env", "bkread/prod")
    (b1,) = backups(p, "bkread/prod")
    seen, errors, stop = set(), [], threading.Event()

    def reader():
        while not stop.is_set():
            r = psql_as(services, "bkread_copy", pw, "SELECT count(*) FROM a")
            if r.returncode != 0:
                errors.append(r.stderr.strip())
            else:
                seen.add(r.stdout.strip())

    th = threading.Thread(target=reader)
    th.start()
    try:
        time.sleep(0.5)
        restore(p, "bkread/prod", b1["id"], into="bkread/copy")
        time.sleep(0.5)
    finally:
        stop.set()
        th.join()
    assert not errors, errors[:3]
    assert seen <= {"10", "25000"} and "25000" in seen, seen


# --- 6. schedules, staleness --------------------------------------------------------

def epoch(rfc3339):
    return int(datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=timezone.utc).timestamp())


def status_of(p, env, now):
    import jsonschema
    proc = p.run("status", "--format", "json", env={"PRESSCTL_NOW": now})
    assert proc.returncode == 0, describe(proc)
    doc = json.loads(proc.stdout)
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "schema",
                           "status.schema.json")) as f:
        jsonschema.validate(doc, json.load(f))
    (e,) = [e for e in doc["environments"] if e["environment"] == env]
    return e


def test_watch_runs_the_schedule_and_staleness_is_unhealthy(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "bksch", "bksch",
                 [("prod", "production"), ("dev", "development")],
                 [policy_doc("nightly", {"stage": "production"}, max_age_hours=26)])
    fill(services, "bksch_prod", rows=1000)
    t1 = "2026-12-03T02:30:00Z"          # the 02:00 window of the 3rd has fired

    st = status_of(p, "bksch/prod", t1)
    assert st["backup"] == {"policy": "nightly", "newest": 0, "drill": 0,
                            "maxAgeHours": 26, "stale": True, "ageSeconds": None}, st
    assert st["healthy"] is False and any("no backup yet" in n for n in st["notes"]), st
    assert status_of(p, "bksch/dev", t1)["backup"] is None   # no policy covers dev

    def run_watch(now, want, name, quiet=1.0):
        """A watcher at the test clock `now` until `want` backups of prod
        are listed and its log is quiet for `quiet` seconds: (its metrics,
        the listed backups, its log)."""
        with watching(pressctl, [p.src, "--debounce", "100ms", "--resync", "3600s"],
                      {**services.env_vars(), **p.extra_env, "PRESSCTL_NOW": now},
                      tmp_path, name) as w:
            w.wait_reconciled(timeout=60)
            took, got = wait_until(lambda: len(backups(p, "bksch/prod")) >= want, 120, 0.5)
            assert took is not None, f"{len(got or [])} backups, want {want}" + w.describe()
            w.wait_quiet(quiet)
            return w.metrics(), backups(p, "bksch/prod"), w.log_text()

    # The first watcher backs up at start (the window has fired, no backup yet).
    m, listed, log = run_watch(t1, 1, "w1")
    assert len(listed) == 1 and listed[0]["reason"] == "scheduled", listed
    assert listed[0]["time"] == t1, listed
    assert sample(m, "pressctl_backup_last_success_timestamp_seconds",
                  env="bksch/prod") == epoch(t1), m
    assert sample(m, "pressctl_backup_stale", env="bksch/prod") == 0, m
    assert sample(m, "pressctl_backup_failures_total", env="bksch/prod") == 0, m
    assert sample(m, "pressctl_backup_bytes", env="bksch/prod") > 0, m
    assert sample(m, "pressctl_backup_stale", env="bksch/dev") is None, m
    assert "scheduled backup" in log

    # Again at the same time: that window is covered, nothing new.
    m, listed, _ = run_watch(t1, 1, "w2", quiet=3.0)
    assert len(listed) == 1, listed

    # Two days later: two windows were missed while no watcher ran; one
    # backup at start, not two.
    t2 = "2026-12-05T09:00:00Z"
    m, listed, _ = run_watch(t2, 2, "w3")
    assert [b["time"] for b in listed] == [t2, t1], listed
    assert sample(m, "pressctl_backup_last_success_timestamp_seconds",
                  env="bksch/prod") == epoch(t2), m

    # The restored data behind the scheduled backup is the live data.
    restore(p, "bksch/prod", listed[0]["id"], into="bksch/dev")
    assert table_sums(services, "bksch_dev") == table_sums(services, "bksch_prod")

    # 26 h later it is still healthy; 27 h later it is not.
    st = status_of(p, "bksch/prod", "2026-12-06T11:00:00Z")
    assert st["healthy"] is True and st["backup"]["stale"] is False, st
    assert st["backup"]["newest"] == epoch(t2), st
    st = status_of(p, "bksch/prod", "2026-12-06T12:00:01Z")
    assert st["healthy"] is False and st["backup"]["stale"] is True, st
    assert any(n.startswith("unhealthy: newest backup is 27.0 h old, policy 'nightly' "
                            "allows 26 h") for n in st["notes"]), st
    assert st["state"] == "converged", st      # unhealthy is not a reconcile state
    proc = p.run("status", env={"PRESSCTL_NOW": "2026-12-06T12:00:01Z"})
    row = [l for l in proc.stdout.splitlines() if l.startswith("bksch/prod")]
    assert row and " 27h! " in row[0], proc.stdout

    # A watcher at that time reports it stale on /metrics too. (The policy
    # now fires monthly: its last window, the 1st, is older than the newest
    # backup, so the watcher has nothing due.)
    dump(p.src / "policy-0.yaml",
         policy_doc("nightly", {"stage": "production"}, schedule="0 2 1 * *",
                    max_age_hours=26))
    m, listed, _ = run_watch("2026-12-06T12:00:01Z", 2, "w4", quiet=3.0)
    assert len(listed) == 2, listed
    assert sample(m, "pressctl_backup_stale", env="bksch/prod") == 1, m
    assert sample(m, "pressctl_backup_last_success_timestamp_seconds",
                  env="bksch/prod") == epoch(t2), m
