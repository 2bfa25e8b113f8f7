"""pytest configuration of the black-box integration tests.

The binary under test is named by the environment variable PRESSCTL
(`make integration` sets it). A missing or unset PRESSCTL fails every test
that needs the binary, loudly, instead of skipping it: a green run must mean
the binary was exercised. It must be a test build (`pressctl version` says
"(test build)"): the tests move its clock with PRESSCTL_NOW.

Sanitizer reports fail the test that saw them, whatever it asserts: every
pressctl the tests start (directly, through git hooks, or in the
background) writes its ASan/LSan/UBSan report to a file under one session
directory (ASAN_OPTIONS/UBSAN_OPTIONS log_path) and exits with a status of
its own (86 ASan, 87 UBSan), distinct from pressctl's exit codes; after
each test's call and teardown, a new report file makes that phase fail.
"""

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402
from services import services  # noqa: E402,F401  (session fixture)
from image_helpers import local_images, pressctl_image  # noqa: E402,F401

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "image: needs the images scripts/image.sh builds; run by "
        "`make test-image`, deselected by `make integration`")


SANITIZER_DIR = Path(os.environ.get("PRESS_SANITIZER_DIR") or
                     tempfile.mkdtemp(prefix="press-sanitizer-"))
os.environ["PRESS_SANITIZER_DIR"] = str(SANITIZER_DIR)
os.environ["ASAN_OPTIONS"] = (f"exitcode={helpers.ASAN_EXIT}:detect_leaks=1:"
                              f"log_path={SANITIZER_DIR}/asan")
os.environ["UBSAN_OPTIONS"] = (f"exitcode={helpers.UBSAN_EXIT}:halt_on_error=1:"
                               f"print_stacktrace=1:log_path={SANITIZER_DIR}/ubsan")
os.environ["LSAN_OPTIONS"] = f"exitcode={helpers.ASAN_EXIT}"


def _reports():
    return set(SANITIZER_DIR.iterdir()) if SANITIZER_DIR.is_dir() else set()


def pytest_runtest_setup(item):
    item._press_seen = _reports()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if call.when not in ("call", "teardown"):
        return
    seen = getattr(item, "_press_seen", set())
    new = sorted(_reports() - seen)
    if not new:
        return
    item._press_seen = seen | set(new)
    text = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-6000:]}"
                     for p in new)
    rep.outcome = "failed"
    rep.longrepr = (f"sanitizer report(s) from a pressctl this test ran "
                    f"({len(new)} file(s) in {SANITIZER_DIR}):\n{text}")


@pytest.fixture(scope="session")
def pressctl():
    """Absolute path of the pressctl binary, a test build; fails (never
    skips) without it."""
    path = helpers.pressctl_path()
    proc = helpers.run(path, "version")
    if proc.returncode != 0 or "(test build)" not in proc.stdout:
        pytest.fail(f"{path} is not a test build (`pressctl version` says "
                    f"{proc.stdout.strip()!r}); build one with "
                    f"`make SANITIZE=address,undefined` or `make TEST_HOOKS=1`",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def repo_root():
    return helpers.REPO


@pytest.fixture(scope="session")
def manifest_schema():
    import json
    if not helpers.MANIFEST_SCHEMA.is_file():
        pytest.fail(f"missing {helpers.MANIFEST_SCHEMA}", pytrace=False)
    return json.loads(helpers.MANIFEST_SCHEMA.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def validate_schema():
    import json
    if not helpers.VALIDATE_SCHEMA.is_file():
        pytest.fail(f"missing {helpers.VALIDATE_SCHEMA}", pytrace=False)
    return json.loads(helpers.VALIDATE_SCHEMA.read_text(encoding="utf-8"))
