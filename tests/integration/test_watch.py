"""`pressctl watch`: pressctl as a service (docs/design.md §4, §7, §9; docs/watch.md,
pressctl-watch(1)).

Black-box tests against the session's private PostgreSQL, s3rver and
dockerd. Each test starts one or two watchers in the background
(watch_helpers.watching: JSON log in a file, HTTP on a free port, SIGTERM
and exit 0 at the end) on a platform of its own, and asserts the LIVE
state — containers, schemas, grants — and how long it took to get there:

1. git push to a config repository with the hooks installed: an invalid
   push is refused with file:line:col; a valid one is converged within 2 s
   of the push finishing (the post-receive hook wakes the watcher);
2. a saved file is converged, and an idle watcher uses ~0 CPU; a saved
   file that breaks the source changes nothing and is reported;
3. a managed container removed by hand, or killed, runs again within 2 s
   (Docker events);
4. two watchers on one platform: exactly one applies; kill -9 it and the
   other takes over at the next change;
5. the webhook: signature, replay, size limit, and a pass it triggers
   heals drift that nothing else sees (a revoked grant);
6. /metrics parses with prometheus_client and its counters move;
7. PostgreSQL down for a minute: the watcher stays up, /readyz says why,
   and it converges once the database is back;
8. SIGTERM releases the lock and exits 0; SIGHUP reloads;
plus what is refused at start (exit 1, not a watcher that fails forever).

Timings are printed (run with -s to see them). Every platform has its own
name, prefix, port slice and site names (schemas are <site>_<env> in one
shared database).
"""

import hashlib
import hmac
import secrets
import signal
import time
import uuid

from converge_helpers import Platform, cgi_env, dump, env_doc, host_port, site_doc
from helpers import describe, run
from resilience_helpers import dead_run, restart_backend, run_status, stop_backend
from watch_helpers import (ConfigRepo, has_create, inspect, label, post_raw, running, sample,
                           sample_sum, schema_exists, wait_until, watching)

QUICK = ["--debounce", "100ms", "--resync", "3600s"]


def platform(services, pressctl, tmp_path, name, nports=6):
    """A platform named and prefixed `name` in tmp_path/src."""
    return Platform(services, pressctl, tmp_path, name=name, prefix=name, nports=nports)


def write_site(p, site, envs, filename="site.yaml", **site_spec):
    return dump(p.src / filename, site_doc(site, timeout=20, **site_spec),
                *[env_doc(site, e) for e in envs])


def watch_env(p, extra=None):
    return {**p.services.env_vars(), **(extra or {})}


def converged_env(services, container, schema, want_env=None):
    """The container runs (with want_env's variables, when given) and the
    schema exists with its grant."""
    info = running(services, container)
    if not info or not schema_exists(services, schema) or not has_create(services, schema):
        return None
    if want_env:
        have = dict(e.split("=", 1) for e in info["Config"]["Env"] or [])
        if any(have.get(k) != v for k, v in want_env.items()):
            return None
    return info


# --- 1. git push -------------------------------------------------------------------

def test_push_is_validated_then_converged(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "wt-git")
    write_site(p, "wgit", ["one"])
    repo = ConfigRepo(tmp_path, p.src)
    repo.commit("platform and wgit/one")
    proc = run(pressctl, "hook", "install", repo.server)
    assert proc.returncode == 0, describe(proc)
    proc = repo.push()
    assert proc.returncode == 0, describe(proc)
    good = repo.server_ref()
    sock = repo.server.resolve() / "pressctl-watch.sock"

    with watching(pressctl, ["--git", repo.server, *QUICK], watch_env(p),
                  tmp_path, "git") as w:
        w.wait_reconciled(timeout=60)
        assert sock.is_socket(), f"the watcher does not listen on {sock}" + w.describe()
        assert running(services, "wt-git-wgit-one"), w.describe()

        # An invalid push is refused, with the position, before git takes it.
        path = write_site(p, "wgit", ["one", "two"])
        text = path.read_text()
        line = next(i for i, s in enumerate(text.splitlines(), 1)
                    if s.strip() == "stage: staging")
        text = text.replace("stage: staging", "stage: stagng", 1)
        path.write_text(text)
        col = text.splitlines()[line - 1].index("stagng") + 1
        repo.commit("a typo")
        mark = w.mark()
        proc = repo.push()
        assert proc.returncode != 0, "the invalid push was accepted" + describe(proc)
        want = f"remote: site.yaml:{line}:{col}: error:"
        assert want in proc.stderr and "stagng" in proc.stderr, \
            f"no '{want}' in the pusher's stderr" + describe(proc)
        assert repo.server_ref() == good, "the server's main moved"
        time.sleep(0.5)
        assert not w.reconciled(after=mark), "a refused push triggered a pass" + w.describe()

        # The fix is pushed: the hook wakes the watcher, which converges it.
        write_site(p, "wgit", ["one", "two"])
        head = repo.commit("wgit/two")
        proc = repo.push()
        assert proc.returncode == 0, describe(proc)
        assert "remote: pressctl: notified the watcher at" in proc.stderr, describe(proc)
        took, info = wait_until(
            lambda: converged_env(services, "wt-git-wgit-two", "wgit_two"), 10)
        assert took is not None, "wgit/two was not converged within 10 s" + w.describe()
        print(f"\npush -> converged: {took:.2f} s after the push command finished "
              f"({proc.elapsed + took:.2f} s from its start)")
        assert took < 2.0, f"converged {took:.2f} s after the push, want < 2 s"
        assert label(info, "press.revision") == head, info["Config"]["Labels"]
        rec = w.wait_reconciled(after=mark)
        assert rec["revision"] == head and rec["trigger"] in ("push", "commit"), rec
    assert not sock.exists(), "the notify socket was left behind"


# --- 2. a saved file; idle -----------------------------------------------------------

def test_saved_file_is_converged_and_idle_costs_nothing(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "wt-file")
    write_site(p, "wfile", ["one"], env={"WATCH_MARK": "first"})
    with watching(pressctl, [p.src, *QUICK], watch_env(p), tmp_path, "file") as w:
        w.wait_reconciled(timeout=60)
        before = running(services, "wt-file-wfile-one")
        assert before, w.describe()
        assert cgi_env(host_port(before)).get("WATCH_MARK") == "first"

        mark = w.mark()
        write_site(p, "wfile", ["one"], env={"WATCH_MARK": "second"})
        took, after = wait_until(lambda: converged_env(
            services, "wt-file-wfile-one", "wfile_one", {"WATCH_MARK": "second"}), 30)
        assert took is not None, "the saved change was not converged within 30 s" + w.describe()
        print(f"\nfile saved -> converged: {took:.2f} s")
        assert took < 5.0, f"file saved -> converged took {took:.2f} s"
        assert label(after, "press.spec") != label(before, "press.spec")
        assert after["Id"] != before["Id"]
        assert cgi_env(host_port(after)).get("WATCH_MARK") == "second"
        rec = w.wait_reconciled(after=mark, trigger="file")
        assert rec["done"] >= 1, rec

        # Idle: no polling loop.
        w.wait_quiet(1.0)
        mark = w.mark()
        cpu0, t0 = w.cpu_seconds(), time.monotonic()
        time.sleep(30)
        cpu, wall = w.cpu_seconds() - cpu0, time.monotonic() - t0
        print(f"idle: {cpu:.3f} s CPU in {wall:.1f} s")
        assert cpu < 0.3, f"the idle watcher used {cpu:.3f} s CPU in {wall:.0f} s"
        assert not w.reconciled(after=mark), "passes while idle" + w.describe()


def test_invalid_edit_keeps_the_last_good_revision(services, pressctl, tmp_path):
    """A saved file that breaks the source changes nothing: the diagnostic
    (file:line:col) is logged, /readyz says why, the watcher keeps
    watching, and the fix is converged."""
    p = platform(services, pressctl, tmp_path, "wt-bad")
    write_site(p, "wbad", ["one"], env={"WATCH_MARK": "first"})
    name = "wt-bad-wbad-one"
    with watching(pressctl, [p.src, *QUICK], watch_env(p), tmp_path, "bad") as w:
        first = w.wait_reconciled(timeout=60)
        before = running(services, name)
        w.wait_quiet(0.5)
        journal = p.journal_count()

        path = write_site(p, "wbad", ["one"], env={"WATCH_MARK": "second"})
        text = path.read_text().replace("stage: staging", "stage: stagng", 1)
        path.write_text(text)
        line = next(i for i, s in enumerate(text.splitlines(), 1) if "stagng" in s)
        col = text.splitlines()[line - 1].index("stagng") + 1
        w.wait_record(lambda r: "invalid" in str(r.get("message", "")), 10)
        took, got = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(w.readyz()), 5)
        assert took is not None, f"/readyz answers {got} for an invalid source"
        assert "invalid" in got[1], got
        assert f"site.yaml:{line}:{col}" in w.log_text(), \
            "the diagnostic's file:line:col is not in the log" + w.describe()
        time.sleep(1)
        assert running(services, name)["Id"] == before["Id"], "the container was touched"
        assert p.journal_count() == journal, "an invalid source was acted upon"
        assert w.alive()

        mark = w.mark()
        write_site(p, "wbad", ["one"], env={"WATCH_MARK": "second"})
        took, _ = wait_until(lambda: converged_env(services, name, "wbad_one",
                                                   {"WATCH_MARK": "second"}), 30)
        assert took is not None, "the fixed source was not converged" + w.describe()
        rec = w.wait_reconciled(after=mark)
        assert rec["revision"] != first["revision"]
        took, got = wait_until(lambda: w.readyz()[0] == 200, 5)
        assert took is not None, f"/readyz still {w.readyz()} after the fix"


# --- 3. a container removed by hand ---------------------------------------------------

def test_removed_container_is_recreated(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "wt-dock")
    write_site(p, "wdock", ["one"])
    name = "wt-dock-wdock-one"
    with watching(pressctl, [p.src, *QUICK], watch_env(p), tmp_path, "dock") as w:
        w.wait_reconciled(timeout=60)
        old = running(services, name)
        assert old, w.describe()
        w.wait_quiet(0.5)
        mark = w.mark()
        services.docker("rm", "-f", name)
        took, new = wait_until(lambda: (lambda i: i if i and i["Id"] != old["Id"]
                                        and i["State"]["Running"] else None)(
                                            inspect(services, name)), 10)
        assert took is not None, f"{name} was not recreated within 10 s" + w.describe()
        print(f"\ndocker rm -f -> running again: {took:.2f} s")
        assert took < 2.0, f"recreated after {took:.2f} s, want < 2 s"
        assert label(new, "press.platform") == "wt-dock"
        w.wait_record(lambda r: r.get("message") == "reconciled"
                      and r.get("trigger") == "docker" and r.get("done", 0) >= 1, 5, mark)


def test_killed_container_runs_again(services, pressctl, tmp_path):
    """A container that dies (killed, not removed: it stays, exited) runs
    again; the 'die' event must lead to a pass that sees it exited."""
    p = platform(services, pressctl, tmp_path, "wt-kill")
    write_site(p, "wkill", ["one"])
    name = "wt-kill-wkill-one"
    with watching(pressctl, [p.src, *QUICK], watch_env(p), tmp_path, "kill") as w:
        w.wait_reconciled(timeout=60)
        old = running(services, name)
        assert old, w.describe()
        w.wait_quiet(0.5)
        mark = w.mark()
        services.docker("kill", name)
        took, new = wait_until(lambda: (lambda i: i if i and i["State"]["Running"]
                                        and i["State"]["StartedAt"] !=
                                        old["State"]["StartedAt"] else None)(
                                            inspect(services, name)), 10)
        assert took is not None, (f"{name} was killed and is not running again within "
                                  f"10 s ({inspect(services, name)['State']})"
                                  + w.describe())
        print(f"\ndocker kill -> running again: {took:.2f} s")
        assert took < 2.0, f"running again after {took:.2f} s, want < 2 s"
        w.wait_record(lambda r: r.get("message") == "reconciled"
                      and r.get("trigger") == "docker" and r.get("done", 0) >= 1, 5, mark)


# --- 4. two watchers --------------------------------------------------------------------

def test_one_leader_applies_and_the_other_takes_over(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "wt-lead")
    write_site(p, "wlead", ["one"])
    env = watch_env(p)
    with watching(pressctl, [p.src, *QUICK], env, tmp_path, "a") as a, \
            watching(pressctl, [p.src, *QUICK], env, tmp_path, "b") as b:
        took, _ = wait_until(lambda: all(x.readyz()[0] == 200 for x in (a, b)), 60, 0.1)
        assert took is not None, "both watchers should become ready" + a.describe() + b.describe()
        assert running(services, "wt-lead-wlead-one")
        leaders = [x for x in (a, b) if sample(x.metrics(), "pressctl_leader") == 1]
        assert len(leaders) == 1, (f"pressctl_leader is 1 on {len(leaders)} watchers"
                                   + a.describe() + b.describe())
        leader = leaders[0]
        standby = b if leader is a else a
        assert sample(standby.metrics(), "pressctl_leader") == 0
        assert leader.is_leader_logged() and not standby.is_leader_logged(), \
            a.describe() + b.describe()
        assert leader.reconciled() and not standby.reconciled(), \
            "the standby reconciled" + standby.describe()
        actors = {r[0] for r in services.psql_rows(
            "SELECT DISTINCT actor FROM pressctl.journal WHERE platform = 'wt-lead'")}
        assert actors and all(f"pid {leader.pid}" in x for x in actors), \
            f"journal actors {actors}, leader pid {leader.pid}"

        leader.kill9()
        mark = standby.mark()
        write_site(p, "wlead", ["one", "two"])
        took, _ = wait_until(
            lambda: converged_env(services, "wt-lead-wlead-two", "wlead_two"), 30)
        assert took is not None, "the standby did not take over" + standby.describe()
        print(f"\nkill -9 leader, source edited -> converged by the other: {took:.2f} s")
        assert took < 5.0, f"take-over took {took:.2f} s"
        assert standby.wait_record(lambda r: str(r.get("message", "")).startswith("leader"),
                                   5, mark)
        assert sample(standby.metrics(), "pressctl_leader") == 1
        actors = {r[0] for r in services.psql_rows(
            "SELECT DISTINCT actor FROM pressctl.journal WHERE platform = 'wt-lead' "
            "AND env_id = 'wlead/two'")}
        assert actors and all(f"pid {standby.pid}" in x for x in actors), actors


# --- 5. the webhook ---------------------------------------------------------------------

def test_webhook(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "wt-hook")
    write_site(p, "whook", ["one"])
    secret = secrets.token_hex(20)
    env = watch_env(p, {"PRESS_WEBHOOK_SECRET": secret})
    body = '{"ref":"refs/heads/main","after":"0123456789abcdef"}'
    with watching(pressctl, [p.src, *QUICK, "--webhook-secret", "env:PRESS_WEBHOOK_SECRET"],
                  env, tmp_path, "hook") as w:
        w.wait_reconciled(timeout=60)
        assert has_create(services, "whook_one")
        w.wait_quiet(0.5)

        # Drift that neither inotify nor Docker events see.
        services.psql("REVOKE CREATE ON SCHEMA whook_one FROM whook_one")
        assert not has_create(services, "whook_one")

        mark = w.mark()
        status, text = w.post_hook(body, signature="sha256=" + "0" * 64,
                                   delivery=str(uuid.uuid4()))
        assert status == 401, (status, text)
        status, text = w.post_hook(body, secret=secret + "x", delivery=str(uuid.uuid4()))
        assert status == 401, (status, text)
        status, text = w.post_hook(body, delivery=str(uuid.uuid4()))   # unsigned
        assert status == 401, (status, text)
        time.sleep(3)
        assert not has_create(services, "whook_one"), "a refused webhook healed the drift"
        assert not w.reconciled(after=mark), "a refused webhook triggered a pass" + w.describe()

        # A `backup run` that died while this watcher leads: its next
        # pass closes the run as interrupted (docs/state.md).
        dead = dead_run(services, "wt-hook")
        delivery = str(uuid.uuid4())
        t0 = time.monotonic()
        status, text = w.post_hook(body, secret=secret, delivery=delivery)
        assert (status, text.strip()) == (202, "accepted"), (status, text)
        took, _ = wait_until(lambda: has_create(services, "whook_one"), 10)
        assert took is not None, "the webhook's pass did not heal the grant" + w.describe()
        print(f"\nwebhook 202 -> grant healed: {time.monotonic() - t0:.2f} s")
        rec = w.wait_reconciled(after=mark, trigger="webhook")
        assert rec["drift"] >= 1 and rec["done"] >= 1, rec
        assert run_status(services, dead) == "interrupted", w.describe()
        assert w.find(lambda r: r.get("message") == "earlier runs were interrupted"
                      and r.get("runs") == 1, mark), w.describe()

        # The same delivery again: ignored.
        w.wait_quiet(0.5)
        services.psql("REVOKE CREATE ON SCHEMA whook_one FROM whook_one")
        mark = w.mark()
        status, text = w.post_hook(body, secret=secret, delivery=delivery)
        assert status == 200 and "duplicate" in text, (status, text)
        time.sleep(3)
        assert not has_create(services, "whook_one"), "a replayed delivery healed the drift"
        assert not w.reconciled(after=mark), "a replayed delivery triggered a pass"

        # ping: answered, nothing triggered.
        status, text = w.post_hook("{}", secret=secret, delivery=str(uuid.uuid4()),
                                   event="ping")
        assert (status, text.strip()) == (200, "pong"), (status, text)

        # Over 1 MiB: 413, whether announced by Content-Length or not (a
        # valid signature: the size is checked first).
        big = b"{" + b" " * (1 << 20) + b"}"
        for chunked in (False, True):
            headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
                       "X-Hub-Signature-256": "sha256=" + hmac.new(
                           secret.encode(), big, hashlib.sha256).hexdigest()}
            status, text = post_raw(w.port, "/hooks/git", big, headers, chunked=chunked)
            assert status == 413, (f"{len(big)} bytes, chunked={chunked}", status, text)
        assert w.status("/healthz") == 200
        assert not w.reconciled(after=mark), "a replay, ping or big body triggered a pass"
    assert secret not in w.log_text(), "the webhook secret appeared in the log"


# --- 6. metrics -------------------------------------------------------------------------

def test_metrics_parse_and_move(services, pressctl, tmp_path):
    try:
        import prometheus_client.parser  # noqa: F401
    except ImportError as e:
        raise AssertionError("python3-prometheus-client is missing: run "
                             f"scripts/deps.sh ({e})") from None
    p = platform(services, pressctl, tmp_path, "wt-metr")
    write_site(p, "wmetr", ["one"])
    with watching(pressctl, [p.src, *QUICK], watch_env(p), tmp_path, "metr") as w:
        first = w.wait_reconciled(timeout=60)
        w.wait_quiet(0.5)
        m0 = w.metrics()
        assert m0["families"] == {
            "pressctl_reconcile_duration_seconds": "histogram",
            "pressctl_reconciles": "counter",
            "pressctl_actions": "counter",
            "pressctl_drift_objects": "gauge",
            "pressctl_last_success_timestamp_seconds": "gauge",
            "pressctl_applied_revision_info": "gauge",
            "pressctl_leader": "gauge",
            "pressctl_pass_seconds": "gauge",
            "pressctl_pass_phase_seconds": "gauge",
            "pressctl_pass_part_seconds": "gauge",
            "pressctl_pass_part_count": "gauge",
            "pressctl_pass_part_max_seconds": "gauge"}, m0["families"]
        assert sample(m0, "pressctl_leader") == 1
        n0 = sample(m0, "pressctl_reconcile_duration_seconds_count")
        assert n0 >= 1
        assert sample(m0, "pressctl_reconcile_duration_seconds_bucket", le="+Inf") == n0
        assert sample(m0, "pressctl_reconciles_total", result="ok") >= 1
        created = sample(m0, "pressctl_actions_total", action="create", result="done")
        assert created and created >= 4, m0     # role, schema, bucket, container
        assert sample(m0, "pressctl_applied_revision_info",
                      revision=first["revision"]) == 1, m0
        assert sample(m0, "pressctl_last_success_timestamp_seconds") > time.time() - 120
        assert sample(m0, "pressctl_drift_objects") == 0

        mark = w.mark()
        write_site(p, "wmetr", ["one", "two"])
        rec = w.wait_reconciled(after=mark, timeout=30)
        w.wait_quiet(0.5)
        m1 = w.metrics()
        assert sample_sum(m1, "pressctl_actions_total") >= \
            sample_sum(m0, "pressctl_actions_total") + 4, (m0, m1)
        assert sample(m1, "pressctl_actions_total", action="create", result="done") >= \
            created + 4
        assert sample(m1, "pressctl_reconcile_duration_seconds_count") > n0
        assert sample(m1, "pressctl_reconciles_total", result="ok") > \
            sample(m0, "pressctl_reconciles_total", result="ok")
        assert sample(m1, "pressctl_applied_revision_info", revision=rec["revision"]) == 1
        assert rec["revision"] != first["revision"]
        assert sample(m1, "pressctl_applied_revision_info",
                      revision=first["revision"]) is None, "the old revision is still shown"


# --- 7. PostgreSQL away for a minute ---------------------------------------------------------

def test_postgres_down_for_a_minute(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "wt-pg")
    write_site(p, "wpg", ["one"], env={"WATCH_MARK": "before"})
    with watching(pressctl, [p.src, *QUICK], watch_env(p), tmp_path, "pg") as w:
        w.wait_reconciled(timeout=60)
        assert w.readyz()[0] == 200
        w.wait_quiet(0.5)
        stopped = False
        try:
            stop_backend(services, "postgres")
            stopped = True
            t_down = time.monotonic()
            write_site(p, "wpg", ["one"], env={"WATCH_MARK": "after"})
            took, got = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(
                w.readyz()), 15, 0.1)
            assert took is not None, f"/readyz still answers {got}" + w.describe()
            assert "postgres" in got[1].lower(), f"/readyz 503 says {got[1]!r}"
            print(f"\nPostgreSQL down: /readyz 503 after {took:.2f} s: {got[1].strip()}")
            while time.monotonic() - t_down < 60:
                assert w.alive(), "the watcher died while PostgreSQL was down" + w.describe()
                assert w.status("/healthz") == 200
                assert w.readyz()[0] == 503
                time.sleep(2)
        finally:
            if stopped:
                restart_backend(services, "postgres")
        assert services.psql("SELECT 1") == "1"
        took, _ = wait_until(lambda: converged_env(
            services, "wt-pg-wpg-one", "wpg_one", {"WATCH_MARK": "after"})
            and w.readyz()[0] == 200, 90, 0.2)
        assert took is not None, ("the change made while PostgreSQL was down was "
                                  "not converged within 90 s of its return" + w.describe())
        print(f"PostgreSQL back -> converged and ready: {took:.2f} s")
        assert took < 35, f"took {took:.1f} s after PostgreSQL came back"
        assert w.alive()
        # It leads again for real: it holds the platform's lock.
        locks = services.psql_rows(
            "SELECT l.pid, a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory'")
        proc = p.run("apply")
        assert proc.returncode == 1 and "being applied by another pressctl" in proc.stderr, \
            (f"the watcher (pid {w.pid}) applies without holding the lock; advisory "
             f"locks now: {locks}" + describe(proc))


# --- 8. signals ---------------------------------------------------------------------------------

def test_sighup_reloads_and_sigterm_releases_the_lock(services, pressctl, tmp_path):
    p = platform(services, pressctl, tmp_path, "wt-sig")
    write_site(p, "wsig", ["one"])
    with watching(pressctl, [p.src, *QUICK], watch_env(p), tmp_path, "sig") as w:
        w.wait_reconciled(timeout=60)
        w.wait_quiet(0.5)

        # While it runs and leads, apply is refused the lock.
        proc = p.run("apply")
        assert proc.returncode == 1 and "being applied by another pressctl" in proc.stderr \
            and "watch" in proc.stderr, describe(proc)

        mark = w.mark()
        w.signal(signal.SIGHUP)
        w.wait_record(lambda r: "reload" in str(r.get("message", "")).lower(), 5, mark)
        rec = w.wait_reconciled(after=mark, trigger="reload", timeout=10)
        assert rec["actions"] == 0, rec
        assert w.alive()

        w.wait_quiet(0.5)
        rc, took = w.stop()
        print(f"\nSIGTERM while idle -> exit {rc} in {took:.2f} s")
        assert rc == 0, w.describe()
        assert took < 3.0, f"SIGTERM took {took:.2f} s to exit"
        assert w.find(lambda r: "lock released" in str(r.get("message", ""))), w.describe()

        t0 = time.monotonic()
        proc = p.run("apply")
        elapsed = time.monotonic() - t0
        assert proc.returncode == 0, "apply after the watcher stopped" + describe(proc)
        print(f"apply after SIGTERM: exit 0 in {elapsed:.2f} s")
        assert elapsed < 10, describe(proc)


# --- the command line ------------------------------------------------------------------------

def test_refuses_to_start_on_a_bad_command_line(pressctl, tmp_path):
    """What cannot work is refused at start (exit 1, one message), not
    logged at every pass of a watcher that runs forever."""
    import socket
    import subprocess
    src = "examples/frappe"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = [
            ([src, "--resync", "0s"], "--resync"),
            ([src, "--debounce", "soon"], "--debounce"),
            ([src, "--parallel", "0"], "--parallel"),
            ([src, "--listen", "localhost"], "invalid listen address"),
            ([src, "--listen", f"127.0.0.1:{port}"], "cannot listen on"),
            ([src, "--webhook-secret", "hunter2"], "never the secret itself"),
            ([src, "--webhook-secret", "env:PRESS_NO_SUCH_VARIABLE"], "PRESS_NO_SUCH_VARIABLE"),
            ([tmp_path / "nonexistent"], "cannot watch"),
            (["--git", tmp_path / "nonexistent.git", "--listen", "none"], "cannot open repository"),
            ([src, "--ref", "main", "--listen", "none"], "--git"),
            ([src, "--path", "x", "--listen", "none"], "--git"),
        ]
        for args, want in cases:
            try:
                proc = run(pressctl, "watch", *args, timeout=5)
            except subprocess.TimeoutExpired as e:
                raise AssertionError(f"`pressctl watch {' '.join(map(str, args))}` did not "
                                     f"exit within 5 s: it should refuse to start "
                                     f"(stderr: {e.stderr!r})") from None
            assert proc.returncode == 1, describe(proc)
            assert want in proc.stderr, f"no {want!r} in the error" + describe(proc)
