"""Tests of the test harness itself, run by test_harness.py in a pytest of
their own (the file name keeps the main run from collecting them).

PRESS_HARNESS_FAULT names the fault a test build raises at start
(util/testhook.h). With a fault, every test here must FAIL: the first
would accept exit 1 (the status a sanitizer report had before), the
second any failure at all, the third runs pressctl in the background the
way the watch tests do and only looks at its output. Without a fault,
all pass.
"""

import os
import subprocess

import helpers


def fault():
    value = os.environ.get("PRESS_HARNESS_FAULT", "")
    return {"PRESSCTL_TEST_FAULT": value} if value else {}


def test_expects_exit_1(pressctl, tmp_path):
    proc = helpers.run(pressctl, "validate", str(tmp_path / "missing"), env=fault())
    assert proc.returncode == 1


def test_expects_any_failure(pressctl, tmp_path):
    proc = subprocess.run([pressctl, "validate", str(tmp_path / "missing")],
                          env=helpers.clean_env(fault()), capture_output=True, text=True)
    assert proc.returncode != 0


def test_background_process(pressctl, tmp_path):
    proc = subprocess.Popen([pressctl, "version"], env=helpers.clean_env(fault()),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out, _ = proc.communicate(timeout=60)
    assert "pressctl" in out or proc.returncode != 0
