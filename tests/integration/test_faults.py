"""Fault injection (docs/reliability.md; reconciler/util/fault.c): the
CI-sized part. The whole walk is `make faults` (tests/faults/walk.py).

1. An allocation that fails ends pressctl with exit 1 and a message, not
   a signal (it aborted before: a crash by the walk's rules).
2. The fault variables are counted into the log: every family, the call
   sites, and the site of the failure injected.
3. A smoke of the walk: one operation (apply of a new platform), one
   failed query (the journal update after the last action, the bug this
   walk found); the run ends cleanly and the rerun converges with the
   journal accounting for every intent.
"""

import sys
from pathlib import Path

import helpers

sys.path.insert(0, str(helpers.REPO / "tests" / "faults"))

import walk  # noqa: E402


def run(pressctl, *args, env=None):
    return helpers.run(pressctl, *args, env=env)


def test_out_of_memory_exits_1_with_a_message_not_a_signal(pressctl, tmp_path):
    for n in (1, 5, 40):
        proc = run(pressctl, "validate", "manifests",
                   env={"PRESSCTL_TEST_FAULT": f"malloc:{n}"})
        assert proc.returncode == 1, f"malloc:{n}" + helpers.describe(proc)
        assert "out of memory" in proc.stderr, helpers.describe(proc)


def test_the_fault_log_counts_families_and_sites(pressctl, tmp_path):
    log = tmp_path / "clean.log"
    proc = run(pressctl, "validate", "manifests",
               env={"PRESSCTL_TEST_FAULT_LOG": str(log)})
    assert proc.returncode == 0, helpers.describe(proc)
    calls, sites, injected = walk.parse_log(log)
    assert set(calls) == set(walk.KINDS.values()), calls
    assert calls["open"] >= 1 and calls["read"] >= 1 and calls["malloc"] > 100, calls
    assert sum(s["calls"] for s in sites["read"].values()) == calls["read"]
    assert min(s["first"] for s in sites["read"].values()) == 1
    assert not injected

    log2 = tmp_path / "fault.log"
    proc = run(pressctl, "validate", "manifests",
               env={"PRESSCTL_TEST_FAULT": f"read:{calls['read']}",
                    "PRESSCTL_TEST_FAULT_LOG": str(log2)})
    assert proc.returncode == 1, helpers.describe(proc)
    assert "Input/output error" in proc.stderr, helpers.describe(proc)
    _, _, injected = walk.parse_log(log2)
    assert [(k, n) for k, n, _ in injected] == [("read", calls["read"])]
    assert injected[0][2] in sites["read"]


def test_walk_smoke_a_failed_journal_update_is_accounted_for(services, pressctl, tmp_path):
    """The walk of one operation and one call: apply of a new platform
    whose last journal update fails (PGRES_FATAL_ERROR on the 5th query
    from the end, after the container was created). It used to end "ok"
    with the intent open for ever; now the action fails (exit 4), the
    run's end closes the intent saying why, and a rerun converges."""
    lines = []
    w = walk.Walk(services, Path(pressctl), tmp_path, sites=False, ends=[5],
                  out=lines.append)
    w.op("apply-create", ["pq-result"])
    text, ok = w.report()
    print(text)
    (res,) = w.results
    assert res["runs"] == 1 and res["outcomes"] == {"clean-error": 1}, text
    assert ok, text
    rows = services.psql_rows(
        "SELECT j.action, j.kind, j.state, r.status FROM pressctl.journal j "
        "JOIN pressctl.runs r ON r.id = j.run_id WHERE r.platform = 'fwc1' "
        "AND j.error LIKE 'its outcome could not be recorded%'")
    assert [tuple(r) for r in rows] == [("create", "container", "failed", "failed")], rows
