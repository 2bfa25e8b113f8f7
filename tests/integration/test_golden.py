"""Golden files for the renderings of `pressctl diff` (text, Markdown,
JSON): the output for a fixed pair of commits is compared byte for byte
with tests/golden/. `make golden` rewrites them (PRESS_GOLDEN_UPDATE=1)
for review in the diff of the commit that changes the rendering.

The repository is built with fixed identities and dates, so its commit
ids, and the output, are the same on every machine.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import helpers

GOLDEN = helpers.REPO / "tests" / "golden"
UPDATE = os.environ.get("PRESS_GOLDEN_UPDATE") == "1"


def _git(repo, *args, when):
    env = dict(os.environ, GIT_AUTHOR_NAME="press", GIT_AUTHOR_EMAIL="press@example.com",
               GIT_COMMITTER_NAME="press", GIT_COMMITTER_EMAIL="press@example.com",
               GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when,
               GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_SYSTEM="/dev/null")
    subprocess.run(["git", *args], cwd=repo, env=env, check=True,
                   capture_output=True, text=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("golden") / "config"
    shutil.copytree(helpers.REPO / "examples" / "frappe", repo)
    _git(repo, "init", "-q", "-b", "main", when="2026-01-01T00:00:00Z")
    _git(repo, "add", "-A", when="2026-01-01T00:00:00Z")
    _git(repo, "commit", "-q", "-m", "base", when="2026-01-01T00:00:00Z")
    site = repo / "site.yaml"
    site.write_text(site.read_text().replace("v16.0.0", "v16.0.1"))
    envs = repo / "environments.yaml"
    text = envs.read_text()
    assert "replicas: 2" in text, "examples/frappe changed: update this test"
    envs.write_text(text.replace("replicas: 2", "replicas: 3", 1))
    (repo / "domain-docs.yaml").write_text(
        "apiVersion: press/v1\nkind: Domain\nmetadata: {name: docs}\n"
        "spec: {host: docs.acme.example, environment: acme/production, tls: none}\n")
    _git(repo, "add", "-A", when="2026-01-02T00:00:00Z")
    _git(repo, "commit", "-q", "-m", "head", when="2026-01-02T00:00:00Z")
    return repo


@pytest.mark.parametrize("fmt,name", [("text", "diff.txt"), ("markdown", "diff.md"),
                                      ("json", "diff.json")])
def test_golden_diff(pressctl, repo, fmt, name):
    proc = helpers.run(pressctl, "diff", "--git", str(repo), "--base", "HEAD~1",
                       "--head", "HEAD", "--format", fmt)
    assert proc.returncode == 2, helpers.describe(proc)
    got = proc.stdout
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    if not path.is_file():
        pytest.fail(f"missing golden file {path}: run `make golden` and review it",
                    pytrace=False)
    want = path.read_text(encoding="utf-8")
    assert got == want, (f"`pressctl diff --format {fmt}` differs from {path}; if the "
                         f"change is intended, run `make golden` and review the diff\n"
                         f"--- got ---\n{got}")
