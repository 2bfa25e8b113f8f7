"""`pressctl hook`: the git hooks of a config repository.

Black-box: a bare "server" repository in tmp_path gets its hooks from
`pressctl hook install`, and a work tree holding a copy of examples/frappe
pushes to it with the git CLI. What the hooks print reaches the pusher's
stderr prefixed with `remote: `, as it would over ssh.

PRESSCTL names the binary; without it every test fails (never skips).
"""

import os
import shutil
import socket
import subprocess

import pytest

import helpers
from helpers import EXAMPLES, describe, run

SANITIZER_MARKS = helpers.SANITIZER_MARKS


def git_env(home):
    return helpers.clean_env({
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(home),
        "GIT_AUTHOR_NAME": "pressctl tests", "GIT_AUTHOR_EMAIL": "tests@example.com",
        "GIT_COMMITTER_NAME": "pressctl tests",
        "GIT_COMMITTER_EMAIL": "tests@example.com",
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "init.defaultBranch",
        "GIT_CONFIG_VALUE_0": "main"})


class Setup:
    """A bare server repository and a work tree with examples/frappe
    (under SUBDIR when given), one commit, not pushed yet."""

    def __init__(self, pressctl, tmp_path, subdir=None):
        self.pressctl = pressctl
        self.tmp = tmp_path
        self.env = git_env(tmp_path)
        self.server = tmp_path / "server.git"
        self.work = tmp_path / "work"
        self.config = self.work / subdir if subdir else self.work
        self.git(tmp_path, "init", "-q", "--bare", str(self.server))
        self.git(tmp_path, "init", "-q", str(self.work))
        shutil.copytree(EXAMPLES / "frappe", self.config, dirs_exist_ok=True)
        self.commit("acme")

    def git(self, cwd, *args, check=True):
        proc = subprocess.run(["git", *map(str, args)], cwd=str(cwd), env=self.env,
                              capture_output=True, text=True, timeout=120)
        for mark in SANITIZER_MARKS:
            assert mark not in proc.stderr, "sanitizer report in a hook" + describe(proc)
        if check:
            assert proc.returncode == 0, describe(proc)
        return proc

    def install(self, *args, check=True):
        proc = run(self.pressctl, "hook", "install", self.server, *args)
        if check:
            assert proc.returncode == 0, describe(proc)
        return proc

    def commit(self, message):
        self.git(self.work, "add", "-A")
        self.git(self.work, "commit", "-q", "-m", message)
        return self.head()

    def head(self):
        return self.git(self.work, "rev-parse", "HEAD").stdout.strip()

    def server_ref(self, ref="main"):
        proc = self.git(self.server, "rev-parse", "--verify", "-q", ref, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def push(self, *refspecs):
        return self.git(self.work, "push", str(self.server), *(refspecs or ["main"]),
                        check=False)

    def config_get(self, name):
        proc = self.git(self.server, "config", "--get", name, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def default_socket(self):
        return str(self.server.resolve() / "pressctl-watch.sock")


def break_stage(config_dir):
    """Make the staging environment's stage invalid; returns the 1-based
    (line, column) of the bad value in environments.yaml."""
    path = config_dir / "environments.yaml"
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() == "stage: staging":
            lines[i] = line.replace("stage: staging", "stage: stagng")
            path.write_text("".join(lines))
            return i + 1, lines[i].index("stagng") + 1
    pytest.fail("examples/frappe/environments.yaml has no 'stage: staging' line")


class Listener:
    """A datagram socket bound at path, as pressctl watch binds it."""

    def __init__(self, path):
        self.path = str(path)
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(10)

    def receive(self):
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            pytest.fail(f"no datagram arrived at {self.path} within 10 s")

    def close(self):
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


# --- install -----------------------------------------------------------------

def test_install_writes_executable_hooks_and_settings(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    proc = s.install()
    for name in ("pre-receive", "post-receive"):
        hook = s.server / "hooks" / name
        assert hook.is_file(), f"no {hook}" + describe(proc)
        mode = hook.stat().st_mode
        assert mode & 0o111 == 0o111, f"{hook} is not executable ({oct(mode)})"
        text = hook.read_text()
        assert text.startswith("#!/bin/sh\n"), text
        assert f"hook {name}" in text and os.path.realpath(pressctl) in text, text
    assert s.config_get("pressctl.branch") == "main"
    assert s.config_get("pressctl.apply") == "false"
    assert s.config_get("pressctl.path") is None
    assert s.config_get("pressctl.notify") is None

    sock = tmp_path / "watch.sock"
    s.install("--branch", "live", "--path", "config", "--notify", sock, "--apply")
    assert s.config_get("pressctl.branch") == "live"
    assert s.config_get("pressctl.path") == "config"
    assert s.config_get("pressctl.notify") == str(sock)
    assert s.config_get("pressctl.apply") == "true"


def test_install_is_idempotent(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    s.install("--path", "config")
    hooks = s.server / "hooks"
    before = {p.name: (p.read_bytes(), p.stat().st_mode) for p in hooks.iterdir()}
    config_before = (s.server / "config").read_text()
    proc = s.install("--path", "config")
    assert "unchanged" in proc.stdout, describe(proc)
    after = {p.name: (p.read_bytes(), p.stat().st_mode) for p in hooks.iterdir()}
    assert after == before, "a second install changed the hooks directory"
    assert (s.server / "config").read_text() == config_before


def test_install_into_a_work_tree(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    proc = run(pressctl, "hook", "install", s.work)
    assert proc.returncode == 0, describe(proc)
    assert os.access(s.work / ".git" / "hooks" / "pre-receive", os.X_OK)
    assert s.git(s.work, "config", "--get", "pressctl.branch").stdout.strip() == "main"


def test_install_refuses_a_foreign_hook(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    hook = s.server / "hooks" / "pre-receive"
    foreign = "#!/bin/sh\n# the site's own checks\nexit 0\n"
    hook.write_text(foreign)
    hook.chmod(0o755)
    proc = s.install(check=False)
    assert proc.returncode == 1, describe(proc)
    assert "not written by pressctl" in proc.stderr and "--force" in proc.stderr, \
        describe(proc)
    assert hook.read_text() == foreign, "the foreign hook was changed"

    proc = s.install("--force")
    assert "hook pre-receive" in hook.read_text()
    backup = s.server / "hooks" / "pre-receive.before-pressctl"
    assert backup.read_text() == foreign, "--force did not keep the old hook"
    # Ours now: a plain install rewrites it without --force.
    assert s.install().returncode == 0


def test_install_fails_on_a_missing_repository(pressctl, tmp_path):
    proc = run(pressctl, "hook", "install", tmp_path / "nope.git")
    assert proc.returncode == 1, describe(proc)
    assert "cannot open repository" in proc.stderr, describe(proc)


def test_hooks_outside_git_fail(pressctl):
    for name in ("pre-receive", "post-receive"):
        proc = run(pressctl, "hook", name)
        assert proc.returncode == 1, describe(proc)
        assert "GIT_DIR" in proc.stderr, describe(proc)


# --- pre-receive -------------------------------------------------------------

def test_invalid_push_is_rejected_with_the_position(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    s.install()
    proc = s.push()
    assert proc.returncode == 0, describe(proc)
    good = s.head()
    assert s.server_ref() == good

    line, col = break_stage(s.work)
    s.commit("a typo")
    proc = s.push()
    assert proc.returncode != 0, "the invalid push was accepted" + describe(proc)
    want = f"remote: environments.yaml:{line}:{col}: error:"
    assert want in proc.stderr, f"no '{want}'" + describe(proc)
    assert "stagng" in proc.stderr
    assert "remote: pressctl: push rejected: 1 error in refs/heads/main" in proc.stderr, \
        describe(proc)
    assert s.server_ref() == good, "the server's main moved"


def test_invalid_push_under_a_path(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path, subdir="config")
    (s.work / "README.md").write_text("not a manifest\n")
    s.commit("readme")
    s.install("--path", "config")
    assert s.push().returncode == 0
    line, col = break_stage(s.config)
    s.commit("a typo")
    proc = s.push()
    assert proc.returncode != 0, describe(proc)
    want = f"remote: config/environments.yaml:{line}:{col}: error:"
    assert want in proc.stderr, f"no '{want}'" + describe(proc)


def test_push_without_the_config_path_is_rejected(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    s.install("--path", "config")
    proc = s.push()
    assert proc.returncode != 0, describe(proc)
    assert "push rejected" in proc.stderr and "config" in proc.stderr, describe(proc)
    assert s.server_ref() is None


def test_valid_push_is_accepted(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    s.install()
    proc = s.push()
    assert proc.returncode == 0, describe(proc)
    assert s.server_ref() == s.head()
    assert "remote: pressctl: refs/heads/main at" in proc.stderr and "valid" in proc.stderr, \
        describe(proc)
    assert "error" not in proc.stderr, describe(proc)


def test_deleting_the_branch_is_rejected(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    s.install()
    assert s.push().returncode == 0
    head = s.head()
    proc = s.push(":main")
    assert proc.returncode != 0, "the branch was deleted" + describe(proc)
    assert "remote: pressctl: push rejected: deleting refs/heads/main is refused" \
        in proc.stderr, describe(proc)
    assert s.server_ref() == head


def test_other_branches_pass(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    s.install()
    assert s.push().returncode == 0
    s.git(s.work, "checkout", "-q", "-b", "feature")
    break_stage(s.work)
    s.commit("work in progress")
    proc = s.push("feature")
    assert proc.returncode == 0, "a push to another branch was validated" + describe(proc)
    assert s.server_ref("feature") == s.head()
    proc = s.push(":feature")
    assert proc.returncode == 0, describe(proc)


# --- post-receive ------------------------------------------------------------

def test_post_receive_notifies_the_watcher(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    s.install()
    listener = Listener(s.default_socket())
    try:
        proc = s.push()
        assert proc.returncode == 0, describe(proc)
        assert listener.receive().strip() == s.head()
        assert "remote: pressctl: notified the watcher at" in proc.stderr, describe(proc)
    finally:
        listener.close()


def test_post_receive_notifies_a_configured_socket(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    sock = tmp_path / "w.sock"
    s.install("--notify", sock)
    listener = Listener(sock)
    try:
        assert s.push().returncode == 0
        assert listener.receive().strip() == s.head()
        (s.work / "site.yaml").write_text((s.work / "site.yaml").read_text() + "# more\n")
        second = s.commit("second")
        assert s.push().returncode == 0
        assert listener.receive().strip() == second
    finally:
        listener.close()


def test_post_receive_without_a_watcher(pressctl, tmp_path):
    s = Setup(pressctl, tmp_path)
    s.install()
    proc = s.push()
    assert proc.returncode == 0, describe(proc)
    want = (f"remote: pressctl: no watcher listening on {s.default_socket()}; "
            "the change will be applied at the next resync")
    assert want in proc.stderr, describe(proc)
    assert s.server_ref() == s.head()

    # A socket file nobody is bound to any more (a watcher that died).
    stale = Listener(s.default_socket())
    stale.sock.close()
    (s.work / "site.yaml").write_text((s.work / "site.yaml").read_text() + "# more\n")
    s.commit("second")
    proc = s.push()
    assert proc.returncode == 0, describe(proc)
    assert want in proc.stderr, describe(proc)


def test_post_receive_applies_when_asked(pressctl, tmp_path):
    """--apply without a watcher runs `pressctl apply` for the pushed
    commit. Without the platform's secrets (the test environment has no
    PRESS_* variables) that apply fails, and says so to the pusher; the
    push itself stands."""
    s = Setup(pressctl, tmp_path)
    s.install("--apply")
    proc = s.push()
    assert proc.returncode == 0, describe(proc)
    head = s.head()
    assert f"; applying refs/heads/main at {head[:12]} now" in proc.stderr, describe(proc)
    after = proc.stderr.split("applying", 1)[1]
    assert "remote: pressctl: error:" in after, "no output of the apply" + describe(proc)
    assert s.server_ref() == head
