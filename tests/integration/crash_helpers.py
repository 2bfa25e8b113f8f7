"""kill -9 trials of backup, restore, clone and promotion: their seeds and
counts, the kill, and the one invariant every trial ends with
(docs/reliability.md "Kill -9 trials").

Counts and seeds come from the environment, per operation first:
PRESS_KILL_TRIALS_BACKUP (RESTORE, CLONE, PROMOTE), else
PRESS_KILL_TRIALS, else the test's small default (make test keeps it
cheap; make crash sets 25 each). Seeds likewise with PRESS_KILL_SEED_*
and PRESS_KILL_SEED. Each test prints one line, "kill9 OP: N trials,
seed S, ...", that make crash collects.
"""

import os
import random
import signal
import subprocess
import time

from backup_helpers import backups, table_sums
from converge_helpers import container, lit, schema_exists
from helpers import describe


def trials(op, default):
    """How many trials of op (backup, restore, clone, promote)."""
    v = os.environ.get(f"PRESS_KILL_TRIALS_{op.upper()}") or os.environ.get("PRESS_KILL_TRIALS")
    return int(v) if v else default


def seeded(op, default):
    """(seed, random.Random(seed)) of op's trials."""
    v = os.environ.get(f"PRESS_KILL_SEED_{op.upper()}") or os.environ.get("PRESS_KILL_SEED")
    s = int(v) if v else default
    return s, random.Random(s)


def kill_after(cmd, env, delay):
    """Run cmd, SIGKILL it after delay seconds; its exit status (0 or an
    error when it ended first, -9 when the kill landed)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return proc.wait()


def assert_after_kill(p, services, trial, *, schemas=None, backup_envs=(), containers=None):
    """The invariant after one kill, then after one clean apply.

    At once, before anything repairs: every schema of `schemas` ({name:
    [acceptable table checksums]}: the old and the new content) exists and
    is one of them, never absent or mixed; every backup listed for
    `backup_envs` verifies (no half backup is ever listed).

    Then a clean `apply` succeeds and afterwards: `plan
    --detailed-exitcode` exits 0 (the live objects are the desired set);
    no run of the platform is still `running`, and every journal intent
    that is not closed (done, failed, skipped) belongs to a run marked
    `interrupted`; each container of `containers` ({name: (old image, new
    image)}) runs one of the two, with press.revision equal to the
    revision pressctl.resources records for it (the caller checks which
    image the manifest names).
    """
    where = f"trial {trial}"
    for schema, good in (schemas or {}).items():
        assert schema_exists(services, schema), f"{where}: schema {schema} is missing"
        now = table_sums(services, schema)
        assert now in good, f"{where}: schema {schema} is neither old nor new: {now}"
    for env_id in backup_envs:
        for b in backups(p, env_id):
            v = p.run("backup", "verify", str(p.src), "--env", env_id, "--backup", b["id"],
                      src=False)
            assert v.returncode == 0, f"{where}: listed backup {b['id']} is broken" + describe(v)

    p.apply()
    plan = p.plan("--detailed-exitcode")
    assert plan.returncode == 0, f"{where}: not converged after a clean apply" + describe(plan)
    name = lit(p.name)
    running = services.psql_rows(
        f"SELECT id, command FROM pressctl.runs WHERE platform = {name} AND status = 'running'")
    assert not running, f"{where}: runs still 'running' after a clean apply: {running}"
    open_ = services.psql_rows(
        "SELECT j.id, j.action, j.kind, j.target, r.command, r.status "
        "FROM pressctl.journal j JOIN pressctl.runs r ON r.id = j.run_id "
        f"WHERE j.platform = {name} AND j.state = 'intent' AND r.status <> 'interrupted'")
    assert not open_, f"{where}: intents neither closed nor marked interrupted: {open_}"
    for cname, images in (containers or {}).items():
        info = container(services, cname)
        assert info, f"{where}: container {cname} is missing"
        image = info["Config"]["Image"]
        assert image in images, f"{where}: {cname} runs {image}, not one of {images}"
        labels = info["Config"]["Labels"]
        rev = services.psql(
            "SELECT revision FROM pressctl.resources WHERE "
            f"platform = {name} AND kind = 'container' AND name = {lit(cname)}")
        assert labels.get("press.revision") == rev, \
            f"{where}: {cname} carries revision {labels.get('press.revision')}, the state {rev}"


def report(op, n, seed, started, **outcomes):
    """The line make crash collects: trials, seed, outcomes, wall time."""
    extra = ", ".join(f"{k} {v}" for k, v in outcomes.items())
    print(f"\nkill9 {op}: {n} trials, seed {seed}, 0 invariant failures, "
          f"{time.monotonic() - started:.0f} s" + (f"; {extra}" if extra else ""))
