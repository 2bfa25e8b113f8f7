"""Resilience of `pressctl apply` against live backends (docs/design.md §4.6, §4.7;
docs/operations.md "One applier at a time", "Recovering after a failed or
interrupted apply"):

- the apply lock: a second apply of a platform exits 1 and names the
  holder; with --wait it waits and then succeeds;
- --parallel 1 and --parallel 8 reach the same end state;
- kill -9 at random moments of an apply, then another apply, converges
  exactly (no "-next" leftovers, no duplicates, one state row per live
  object) and leaves the interrupted intents in the journal;
- PostgreSQL, S3 or Docker going away during an apply: the apply retries,
  fails naming the backend, records nothing half-done, and converges once
  the backend is back.

Every test has its own platform name, naming prefix, site names (schemas
and roles share one database) and host ports, and removes its containers
at the end. Timings are printed (pytest -s shows them).
"""

import json
import os
import re
import signal
import time

import pytest

import helpers
import resilience_helpers as R
from resilience_helpers import Env

# The executor's retry schedule (docs/operations.md: 5 attempts, backoff
# 250 ms doubling, with jitter of base/2 .. 3*base/2): four sleeps of at
# least 125 + 250 + 500 + 1000 ms before an action gives up.
MAX_ATTEMPTS = 5
MIN_RETRY_SECONDS = 1.875


@pytest.fixture
def platform(pressctl, services, tmp_path):
    """A factory of test platforms: platform(token, name, nports) returns
    (Pressctl, config dir, prefix). Their containers are removed at the
    end of the test."""
    made = []

    def make(token, name, nports):
        config = tmp_path / name
        ports = R.port_block(services, nports)
        made.append(name)
        px = R.Pressctl(pressctl, services, config)
        px.name, px.prefix, px.token, px.ports = name, token, token, ports
        return px

    yield make
    for name in made:
        R.remove_platform_containers(services, name)


def write(px, services, envs, timeout=10):
    R.write_config(px.config, services, name=px.name, prefix=px.prefix,
                   ports=px.ports, envs=envs, timeout=timeout)


def converged(px, services, envs, kept=(), check=True):
    return R.assert_converged(px, services, name=px.name, prefix=px.prefix,
                              token=px.token, envs=envs, kept=kept, check=check)


def log_lines(stderr):
    """The JSON log lines pressctl writes on stderr when it is not a
    terminal."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def done_lines(proc, kind=None):
    """Actions the background pressctl reported done so far."""
    with open(proc.err_file.name, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return [j for j in log_lines(text) if j.get("outcome") == "done"
            and (kind is None or j.get("kind") == kind)]


# --- 9. the lock -------------------------------------------------------------

def test_lock_second_apply_is_refused_and_wait_waits(platform, services):
    px = platform("rsl", "res-lock", 60)
    envs = R.make_envs("rsl", 16)
    write(px, services, envs)

    t0 = time.monotonic()
    # --parallel 1: 64 actions one after the other keep the lock for a while.
    first = px.start("apply", px.config, "--parallel", "1")
    try:
        assert wait_until(lambda: done_lines(first) or first.poll() is not None, 60)
        assert first.poll() is None, "the first apply ended before the test could race it"

        second = px.apply(timeout=120)
        first_running = first.poll() is None
        assert second.returncode == 1, "a second apply must exit 1" + helpers.describe(second)
        assert first_running, "the first apply ended while the second ran: inconclusive"
        assert re.search(r"\bpid \d+", second.stderr), (
            "the refusal must name the holder's pid" + helpers.describe(second))
        # The holder's application name carries the pid of the pressctl process.
        assert f"pid {first.pid}" in second.stderr, (
            f"the refusal should name the holding pressctl (OS pid {first.pid})"
            + helpers.describe(second))
        assert "--wait" in second.stderr, helpers.describe(second)
        print("\nlock: the second apply said: " + second.stderr.strip().splitlines()[-1])

        # plan takes no lock: it runs while the apply holds it.
        plan = px.plan("--detailed-exitcode", timeout=120)
        assert plan.returncode in (0, 2), "plan must not need the lock" + helpers.describe(plan)

        third = px.start("apply", px.config, "--wait")
        time.sleep(1.0)
        if first.poll() is None:
            assert third.poll() is None, (
                "apply --wait ended while the first apply still held the lock:"
                + R.describe_bg(third.args_text, *R.finish(third)[:3]))
        rc1, out1, err1, _ = R.finish(first)
        t_first = time.monotonic()
        rc3, out3, err3, _ = R.finish(third)
        t_third = time.monotonic()
    finally:
        for p in ("first", "third"):
            proc = locals().get(p)
            if proc is not None and proc.poll() is None:
                R.kill9(proc)
    print(f"\nlock: first apply {t_first - t0:.1f} s, --wait apply done "
          f"{t_third - t_first:.2f} s after it")
    assert rc1 == 0, "the first apply" + R.describe_bg(first.args_text, rc1, out1, err1)
    assert rc3 == 0, "apply --wait" + R.describe_bg(third.args_text, rc3, out3, err3)
    assert t_third >= t_first
    converged(px, services, envs)


# --- 7. kill -9 at a random moment ------------------------------------------------

CRASH_ENVS = 50


class CrashPlatform:
    """The desired state of the crash test and how it changes per trial.

    A "mixed" trial revives the environments removed at random last time
    (their containers come back), removes the new ones of last time (for
    good: their data stays soft-deleted) and 3 others, adds 2 new ones
    (role, schema, bucket, container) and flips the image of 6 others
    (blue/green updates): creates, updates and revivals run first (phase
    0), the removals and soft deletes after them (phase 1).

    A "removals" trial only removes 5 environments (containers stopped and
    removed, soft deletes recorded): an apply that is all phase 1, so
    that kills land in deletes too. The next trial revives them."""

    def __init__(self, token, rnd):
        self.token, self.rnd = token, rnd
        self.desired = {e.id: e for e in R.make_envs(token, CRASH_ENVS)}
        self.kept = {}
        self.prev_removed, self.prev_new = [], []
        self.serial = 0

    def mutate(self, shape):
        rnd = self.rnd
        if shape == "removals":
            old = [i for i in sorted(self.desired) if i not in self.prev_new]
            removed, new = rnd.sample(old, 5), []
            for i in removed:
                self.kept[i] = self.desired.pop(i)
            self.prev_removed += removed
            return
        for i in self.prev_removed:             # revive
            self.desired[i] = self.kept.pop(i)
        old = [i for i in sorted(self.desired)
               if i not in self.prev_removed and i not in self.prev_new]
        removed = rnd.sample(old, 3)
        for i in removed + self.prev_new:
            self.kept[i] = self.desired.pop(i)
        new = []
        for _ in range(2):
            self.serial += 1
            e = Env(f"{self.token}s{self.serial % 10:02d}", f"n{self.serial:02d}",
                    rnd.choice([R.IMAGE1, R.IMAGE2]))
            self.desired[e.id] = e
            new.append(e.id)
        for i in rnd.sample([i for i in sorted(self.desired) if i not in new], 6):
            e = self.desired[i]
            e.image = R.IMAGE2 if e.image == R.IMAGE1 else R.IMAGE1
        self.prev_removed, self.prev_new = removed, new

    def envs(self):
        return [self.desired[i] for i in sorted(self.desired)]


def test_kill9_at_random_moments_then_apply_converges(platform, services):
    trials = int(os.environ.get("PRESS_CRASH_TRIALS", "22"))
    rnd = R.rng("crash")
    px = platform("rsk", "res-crash", 2 * (CRASH_ENVS + 12) + 20)
    cp = CrashPlatform("rsk", rnd)
    t_test = time.monotonic()

    write(px, services, cp.envs(), timeout=5)
    full = px.apply()
    assert full.returncode == 0, helpers.describe(full)
    converged(px, services, cp.envs(), cp.kept.values())
    print(f"\ncrash: full apply of {CRASH_ENVS} environments: {full.seconds:.1f} s")

    # One trial of each shape is not killed: it measures how long such an
    # apply takes.
    took = {}
    for shape in ("mixed", "removals"):
        cp.mutate(shape)
        write(px, services, cp.envs(), timeout=5)
        t0 = px.apply()
        assert t0.returncode == 0, helpers.describe(t0)
        converged(px, services, cp.envs(), cp.kept.values())
        took[shape] = t0.seconds
        print(f"crash: a '{shape}' trial's apply takes {t0.seconds:.1f} s")

    # Two mixed trials, then one of removals. Per shape, stratified delays
    # over [0, 1.2 x its apply time]: every phase of an apply (load, lock,
    # observe, creates, blue/green rollouts, deletes, the run's end, and a
    # few just after it) gets kills, in random order.
    shapes = [("mixed", "mixed", "removals")[i % 3] for i in range(trials)]
    delays = []
    for shape in ("mixed", "removals"):
        k = shapes.count(shape)
        d = [(i + rnd.random()) / k * 1.2 * took[shape] for i in range(k)]
        rnd.shuffle(d)
        delays.append(d)
    delays = [delays[0].pop() if s == "mixed" else delays[1].pop() for s in shapes]

    outcomes = {"finished before the kill": 0, "killed before its run began": 0,
                "killed mid-apply": 0}
    open_intents_total = 0
    recovery_times = []
    for n, (shape, delay) in enumerate(zip(shapes, delays), 1):
        cp.mutate(shape)
        envs = cp.envs()
        write(px, services, envs, timeout=5)
        before = R.runs(services, px.name)

        proc = px.start("apply", px.config)
        time.sleep(max(0.0, delay - (time.monotonic() - proc.t0)))
        exited = proc.poll() is not None
        rc, out, err, _ = R.kill9(proc)
        after_kill = R.runs(services, px.name)
        new_runs = [i for i in after_kill if i not in before]
        killed = [i for i in new_runs if after_kill[i] == "running"]
        intents = {}
        if killed:
            intents = {int(r[0]): r[1:] for r in services.psql_rows(
                "SELECT id, run_id, action, kind, target FROM pressctl.journal "
                f"WHERE run_id IN ({','.join(map(str, killed))}) AND state = 'intent'")}
        if exited:
            what = "finished before the kill"
            assert rc == 0, f"trial {n}: apply failed without a kill" + \
                R.describe_bg(proc.args_text, rc, out, err)
        elif killed:
            what = "killed mid-apply"
        else:
            what = "killed before its run began"
        outcomes[what] += 1
        open_intents_total += len(intents)

        rec = px.apply()
        recovery_times.append(rec.seconds)
        print(f"crash: trial {n:2d} ({shape}): kill after {delay:4.2f} s: {what}"
              + (f" (run {killed[0]}, {len(intents)} open intents: "
                 f"{sorted({v[1] + ' ' + v[2] for v in intents.values()})})" if killed else "")
              + f"; recovery apply {rec.seconds:.1f} s")
        assert rec.returncode == 0, (f"trial {n}: the apply after kill -9 at "
                                     f"{delay:.2f} s did not converge"
                                     + helpers.describe(rec))
        if killed:
            assert "interrupted" in rec.stderr, (
                f"trial {n}: the next apply should say that run {killed} was "
                "interrupted" + helpers.describe(rec))
        status = R.runs(services, px.name)
        for i in killed:
            assert status[i] == "interrupted", (
                f"trial {n}: run {i} killed mid-apply is {status[i]!r}, not 'interrupted'")
        if intents:
            still = {int(r[0]) for r in services.psql_rows(
                "SELECT id FROM pressctl.journal "
                f"WHERE id IN ({','.join(map(str, intents))}) AND state = 'intent'")}
            assert still == set(intents), (
                f"trial {n}: the interrupted intents must stay in the journal: "
                f"{sorted(set(intents) - still)} changed")
            shown = {tuple(r) for r in R.journal_interrupted(services, px.name)}
            assert {(str(v[0]), *v[1:]) for v in intents.values()} <= shown
        converged(px, services, envs, cp.kept.values())

    elapsed = time.monotonic() - t_test
    print(f"crash: {trials} trials: {outcomes}; {open_intents_total} open intents "
          f"left by killed runs; recovery applies median "
          f"{sorted(recovery_times)[len(recovery_times) // 2]:.1f} s; "
          f"test {elapsed:.0f} s")
    assert outcomes["killed mid-apply"] >= trials // 2, (
        f"too few kills landed mid-apply to mean anything: {outcomes}")
    assert open_intents_total > 0, "no kill left an open intent in the journal"
    assert R.journal_interrupted(services, px.name), \
        "the journal shows no intents of interrupted runs"


# --- 8. backends going away ----------------------------------------------------------

BACKEND_WORD = {"postgres": "PostgreSQL", "s3": "S3", "docker": "Docker"}


@pytest.mark.parametrize("backend", ["s3", "postgres", "docker"])
def test_backend_goes_away_during_apply(platform, services, backend):
    tok = {"postgres": "rsbp", "s3": "rsbs", "docker": "rsbd"}[backend]
    px = platform(tok, f"res-{backend}", 60)
    envs = R.make_envs(tok, 20)
    if backend == "postgres":
        # PostgreSQL holds both the sites' roles and schemas and pressctl's
        # own state (journal, resources). Its role and schema actions take
        # milliseconds; what an apply does most of its time is record
        # container rollouts in the state. So the environments' roles,
        # schemas and buckets exist first (replicas: 0), and PostgreSQL
        # goes away while the apply starts their 20 containers and records
        # them: deterministic, whichever action is in flight.
        for e in envs:
            e.replicas = 0
        write(px, services, envs, timeout=5)
        pre = px.apply()
        assert pre.returncode == 0, helpers.describe(pre)
        for e in envs:
            e.replicas = 1
    write(px, services, envs, timeout=5)
    word = BACKEND_WORD[backend]
    others = R.running_containers(services) if backend == "docker" else []

    proc = px.start("apply", px.config)
    stopped = None
    try:
        # Stop the backend once the apply is well under way (for Docker,
        # once containers are being created).
        def under_way():
            done = done_lines(proc)
            return proc.poll() is not None or (
                len(done) >= (3 if backend == "postgres" else 8)
                and (backend == "s3" or any(j["kind"] == "container" for j in done)))
        assert wait_until(under_way, 120)
        assert proc.poll() is None, (
            "the apply ended before the backend could be stopped: inconclusive"
            + R.describe_bg(proc.args_text, *R.finish(proc)[:3]))
        if backend == "docker":
            # dockerd stops its listener at SIGTERM but keeps serving the
            # connections already open (pressctl's workers keep theirs
            # alive) while it stops every container, for up to 10 s or
            # more: the apply might finish before the engine is gone. So
            # the apply is frozen while the engine shuts down and resumes
            # facing no engine at all.
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                stopped = R.stop_backend(services, backend)
                R.wait_gone(stopped, 90)
            finally:
                os.kill(proc.pid, signal.SIGCONT)
        else:
            stopped = R.stop_backend(services, backend)
        t_stop = time.monotonic()
        rc, out, err, secs = R.finish(proc, timeout=900)
        since_stop = time.monotonic() - t_stop
    finally:
        if proc.poll() is None:
            R.kill9(proc)
        R.restart_backend(services, backend, stopped, others)
    print(f"\n{backend}: apply exit {rc} after {secs:.1f} s, "
          f"{since_stop:.1f} s after the backend was stopped")

    problems = []
    errors = [j.get("error", "") for j in log_lines(err) if j.get("outcome") == "failed"]
    errors += [line for line in err.splitlines() if line.startswith("pressctl: error")]
    if rc not in (1, 4):
        problems.append(f"apply exited {rc}, want 1 or 4 (failed actions)")
    if not any(word in e for e in errors):
        problems.append(f"no error names {word}")
    if since_stop < MIN_RETRY_SECONDS:
        problems.append(
            f"apply gave up {since_stop:.2f} s after {word} went away: a transient "
            f"error retried {MAX_ATTEMPTS} times with backoff takes at least "
            f"{MIN_RETRY_SECONDS} s (no retry?)")
    run_id = re.search(r"\(run (\d+)\)", out)
    if backend != "postgres":
        # The journal (in PostgreSQL, which stayed up) holds the attempts.
        rows = services.psql_rows(
            "SELECT attempts, error FROM pressctl.journal j JOIN pressctl.runs r "
            f"ON r.id = j.run_id WHERE r.platform = '{px.name}' AND j.state = 'failed'"
            + (f" AND r.id = {run_id.group(1)}" if run_id else ""))
        retried = [e for a, e in rows if int(a) >= MAX_ATTEMPTS and word in e]
        if not retried:
            problems.append(f"no failed action of the journal shows {MAX_ATTEMPTS} "
                            f"attempts with an error naming {word}: {rows[:5]}")

    # Nothing half-recorded: every state row has its live object.
    live = R.Live(services, px.name, px.prefix, tok)
    orphan_rows = sorted(set(live.resources) - live.live_set())
    if orphan_rows:
        problems.append(f"pressctl.resources rows without a live object: {orphan_rows}")

    again = px.apply()
    print(f"{backend}: apply after the restart: exit {again.returncode}, {again.seconds:.1f} s")
    if again.returncode != 0:
        problems.append("apply after the backend came back did not exit 0"
                        + helpers.describe(again))
    else:
        try:
            converged(px, services, envs)
        except AssertionError as e:
            problems.append(str(e))
    assert not problems, (f"{backend} went away during an apply:\n  - "
                          + "\n  - ".join(problems)
                          + R.describe_bg(proc.args_text, rc, out, err))


# --- --parallel 1 and 8 ---------------------------------------------------------

def normalized_state(services, px):
    """The live and recorded state of a platform with its token replaced by
    'T', for comparing two platforms built alike."""
    tok, name = px.token, px.name

    def norm(s):
        return s.replace(tok, "T")

    live = R.Live(services, name, px.prefix, tok)
    roles = services.psql_rows(
        "SELECT rolname, rolcanlogin, rolconnlimit, rolsuper, rolcreatedb, "
        "coalesce(array_to_string(s.setconfig, ','), '') FROM pg_roles r "
        "LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid "
        f"WHERE rolname LIKE '{tok}%' ORDER BY 1")
    schemas = services.psql_rows(
        "SELECT n.nspname, pg_get_userbyid(n.nspowner), coalesce(n.nspacl::text, '') "
        f"FROM pg_namespace n WHERE nspname LIKE '{tok}%' ORDER BY 1")
    deletions = services.psql_rows(
        "SELECT env_id, schema_name, role_name, bucket FROM pressctl.deletions "
        f"WHERE platform = '{name}' ORDER BY 1")
    alloc = services.psql_rows(
        "SELECT owner, count(*) FROM pressctl.allocations "
        f"WHERE platform = '{name}' GROUP BY 1 ORDER BY 1")
    return {
        "containers": sorted((norm(c), norm(env), img, c in live.running)
                             for c, (env, img) in live.labels.items()),
        "roles": sorted(tuple(map(norm, r)) for r in roles),
        "schemas": sorted(tuple(map(norm, r)) for r in schemas),
        "buckets": sorted(map(norm, live.buckets)),
        "resources": sorted((k, norm(n)) for k, n in live.resources),
        "deletions": sorted(tuple(map(norm, r)) for r in deletions),
        "allocations": sorted((norm(o), int(n)) for o, n in alloc),
    }


def test_parallel_1_and_8_reach_the_same_state(platform, services):
    def shape(tok):
        envs = R.make_envs(tok, 12, per_site=4)
        envs[1].replicas = 2
        envs[5].replicas = 0
        envs[6].image = envs[9].image = R.IMAGE2
        return envs

    def change(envs):
        envs = [Env(e.site, e.name, e.image, e.replicas) for e in envs]
        for i in (0, 6, 7):
            envs[i].image = R.IMAGE2 if envs[i].image == R.IMAGE1 else R.IMAGE1
        envs[1].replicas = 1
        envs[5].replicas = 1
        envs[10].replicas = 2
        gone = [envs[3], envs[8]]
        envs = [e for e in envs if e not in gone]
        envs.append(Env(envs[0].site, "x1"))
        return envs, gone

    states, timing, problems = {}, {}, []
    for par, tok in ((1, "rspa"), (8, "rspb")):
        px = platform(tok, f"res-par{par}", 40)
        envs = shape(tok)
        write(px, services, envs)
        a = px.apply("--parallel", par)
        assert a.returncode == 0, helpers.describe(a)
        problems += converged(px, services, envs, check=False)
        first = normalized_state(services, px)
        envs2, gone = change(envs)
        write(px, services, envs2)
        b = px.apply("--parallel", par)
        assert b.returncode == 0, helpers.describe(b)
        problems += converged(px, services, envs2, kept=gone, check=False)
        summary = services.psql_rows(
            "SELECT summary FROM pressctl.runs WHERE platform = "
            f"'res-par{par}' AND command = 'apply' ORDER BY id")
        states[par] = (first, normalized_state(services, px), summary)
        timing[par] = (a.seconds, b.seconds)
    print(f"\nparallel: --parallel 1 {timing[1][0]:.1f}+{timing[1][1]:.1f} s, "
          f"--parallel 8 {timing[8][0]:.1f}+{timing[8][1]:.1f} s")
    for step, what in enumerate(("after the first apply", "after the change")):
        a, b = states[1][step], states[8][step]
        diffs = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
        assert not diffs, f"--parallel 1 and 8 differ {what}: {diffs}"
    assert states[1][2] == states[8][2], "the runs' summaries differ"
    # Equal, and also right: each converged (replicas 2 -> 1 and 1 -> 2
    # included).
    assert not problems, "\n".join(problems)
