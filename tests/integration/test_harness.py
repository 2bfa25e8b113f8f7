"""The test harness fails a test whose pressctl raised a sanitizer report,
whatever that test asserts (conftest.py). A test build raises one on
purpose (PRESSCTL_TEST_FAULT); harness/check_sanitizer.py holds tests that
would pass if the harness let the report through: all of them must fail,
each for its sanitizer report. The same tests without the fault pass.
"""

import os
import re
import subprocess
import sys

import pytest

import helpers
from helpers import REPO

CHECKS = REPO / "tests" / "integration" / "harness" / "check_sanitizer.py"


def inner_run(pressctl, fault):
    """Run the harness checks in a pytest of their own; (exit, output)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PRESS_SANITIZER_DIR", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                        "LSAN_OPTIONS")}
    env.update({"PRESSCTL": pressctl, "PRESS_HARNESS_FAULT": fault})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-o", "python_files=check_*.py", "-rf", str(CHECKS)],
        cwd=str(REPO), env=env, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("fault", ["ubsan", "asan"])
def test_a_sanitizer_report_fails_the_test_that_saw_it(pressctl, fault):
    if not helpers.is_sanitized(pressctl):
        pytest.fail(f"{pressctl} is not built with ASan+UBSan: the harness test "
                    "needs `make SANITIZE=address,undefined`", pytrace=False)
    code, out = inner_run(pressctl, fault)
    assert code == 1, f"the inner run should fail (exit 1), exited {code}:\n{out}"
    failed = set(re.findall(r"^FAILED \S+::(\w+)", out, re.M))
    assert failed == {"test_expects_exit_1", "test_expects_any_failure",
                      "test_background_process"}, out
    assert "sanitizer report" in out, out
    assert "3 failed" in out, out


def test_without_a_fault_the_same_tests_pass(pressctl):
    code, out = inner_run(pressctl, "")
    assert code == 0 and "3 passed" in out, out
