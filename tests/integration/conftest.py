"""pytest configuration of the black-box integration tests.

The binary under test is named by the environment variable PRESSCTL
(`make integration` sets it). A missing or unset PRESSCTL fails every test
that needs the binary, loudly, instead of skipping it: a green run must mean
the binary was exercised.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402
from services import services  # noqa: E402,F401  (session fixture)


@pytest.fixture(scope="session")
def pressctl():
    """Absolute path of the pressctl binary; fails (never skips) without it."""
    return helpers.pressctl_path()


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
