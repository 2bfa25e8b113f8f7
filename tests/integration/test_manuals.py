"""The manuals as they are installed, and the bash completion.

1. `make install PREFIX=... DESTDIR=...` installs exactly bin/pressctl, a
   man page per docs/man/*.md in share/man/man<section>/ and the bash
   completion in share/bash-completion/completions/pressctl, under
   DESTDIR and nowhere else; the installed binary runs.
2. `man -l --warnings` renders every page with no warning (and so does
   `groff -ww`), at 80 columns and at 60; `man pressctl-plan` finds it
   in the installed tree.
3. Every command of `pressctl --help` has a page, and every option of
   `pressctl <command> --help` appears in the rendered page.
4. The completion file, sourced by bash and driven as bash drives it
   (COMP_WORDS, COMP_CWORD, then the function `complete -p` names),
   offers the commands, a command's options and their values, and the
   environments and selectors of a config repository named by a
   directory operand, by --git, or by the current directory.

PRESSCTL names the binary (a test build).
"""

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import helpers
from helpers import EXAMPLES, REPO, describe, run

MAN = REPO / "docs" / "man"
COMPLETION = REPO / "completion" / "pressctl.bash"
PAGES = sorted(p.stem for p in MAN.glob("pressctl*.md"))


def section(page):
    """The section of a docs/man page: its title line, `# NAME(N)`."""
    first = (MAN / f"{page}.md").read_text(encoding="utf-8").splitlines()[0]
    m = re.fullmatch(r"# ([a-z0-9-]+)\(([1-8])\)", first)
    assert m and m.group(1) == page, f"docs/man/{page}.md: title line {first!r}"
    return m.group(2)


def make_env(extra=None):
    """An environment for a nested make: none of the outer make's flags
    (a sanitizer build's SANITIZE=... would pick another binary)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env.update(extra or {})
    return env


@pytest.fixture(scope="module")
def installed(pressctl, tmp_path_factory):
    """(destdir, prefix): `make install` of this binary into a scratch
    staging root."""
    root = tmp_path_factory.mktemp("install")
    destdir, prefix = root / "stage", "/opt/pressctl"
    # BIN is the binary under test; -o: make does not rebuild it.
    proc = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "-o", pressctl,
         f"BIN={pressctl}", f"PREFIX={prefix}", f"DESTDIR={destdir}",
         "install"],
        env=make_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, "make install failed" + describe(proc)
    return destdir, Path(str(destdir) + prefix)


def help_commands(pressctl):
    proc = run(pressctl, "--help")
    assert proc.returncode == 0, describe(proc)
    cmds = re.findall(r"^  ([a-z][a-z-]*)  ", proc.stdout, re.M)
    assert len(cmds) > 10, "no command table in `pressctl --help`" + describe(proc)
    return cmds


def help_options(pressctl, cmd):
    proc = run(pressctl, cmd, "--help")
    assert proc.returncode == 0, describe(proc)
    return set(re.findall(r"--[a-z][a-z-]*", proc.stdout))


# --- 1: make install ---------------------------------------------------------

def test_install_puts_binary_pages_and_completion_under_destdir(installed, pressctl):
    destdir, root = installed
    want = {"bin/pressctl",
            "share/bash-completion/completions/pressctl"}
    want |= {f"share/man/man{section(p)}/{p}.{section(p)}" for p in PAGES}
    got = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert got == want, (f"installed files differ: missing {sorted(want - got)}, "
                         f"unexpected {sorted(got - want)}")
    outside = [p for p in destdir.rglob("*")
               if p.is_file() and root not in p.parents]
    assert not outside, f"files outside PREFIX: {outside}"
    modes = {f: stat.S_IMODE((root / f).stat().st_mode) for f in want}
    assert modes.pop("bin/pressctl") == 0o755
    assert set(modes.values()) == {0o644}, modes
    assert (root / "bin/pressctl").read_bytes() == Path(pressctl).read_bytes()
    assert (root / "share/bash-completion/completions/pressctl").read_text() \
        == COMPLETION.read_text()
    proc = run(root / "bin/pressctl", "version")
    assert proc.returncode == 0 and proc.stdout.startswith("pressctl "), describe(proc)


def test_installed_page_is_generated_from_docs(installed):
    _, root = installed
    page = (root / "share/man/man1/pressctl-plan.1").read_text(encoding="utf-8")
    assert re.search(r'^\.TH "pressctl-plan" "1" ', page, re.M), page[:400]
    # Each "## " heading of the Markdown is a section of the page.
    md = (MAN / "pressctl-plan.md").read_text(encoding="utf-8")
    for title in re.findall(r"^## (.+)$", md, re.M):
        assert re.search(rf"^\.SH\s*\n?{re.escape(title)}\s*$", page, re.M), \
            f"pressctl-plan.1 has no section {title!r}"


# --- 2: rendering ------------------------------------------------------------

def render_env(width):
    return {**helpers.clean_env(), "MANWIDTH": str(width), "MANPAGER": "cat",
            "PAGER": "cat", "MANOPT": "", "LC_ALL": "C.UTF-8"}


@pytest.mark.parametrize("page", PAGES)
def test_man_renders_without_warnings(installed, page):
    _, root = installed
    path = root / f"share/man/man{section(page)}/{page}.{section(page)}"
    for width in (80, 60):
        proc = subprocess.run(["man", "-l", "--warnings", str(path)],
                              env=render_env(width), capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0 and proc.stderr == "", \
            f"man -l {path.name} at {width} columns:" + describe(proc)
        text = proc.stdout
        assert re.search(r"^NAME\n\s+" + re.escape(page) + " - ", text, re.M), text[:500]
        for title in ("SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS",
                      "SEE ALSO"):
            assert re.search(rf"^{title}$", text, re.M), \
                f"{page}: no {title} in the rendered page"
        assert "\\f" not in text and "\\(" not in text, \
            f"{page}: escapes left in the rendered text"
    proc = subprocess.run(["groff", "-k", "-t", "-ww", "-z", "-man", "-Tutf8",
                           str(path)], env=render_env(80), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", describe(proc)


def test_man_finds_installed_pages(installed):
    _, root = installed
    proc = subprocess.run(["man", "-M", str(root / "share/man"), "-w",
                           "pressctl-plan"], env=render_env(80),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip() == str(root / "share/man/man1/pressctl-plan.1")


# --- 3: commands and options -------------------------------------------------

def rendered(root, page):
    """The page as text: no hyphenation, wide lines, ASCII hyphens."""
    proc = subprocess.run(["groff", "-k", "-t", "-man", "-Tutf8", "-rHY=0",
                           "-rLL=400n", str(root / f"share/man/man1/{page}.1")],
                          env=render_env(80), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, describe(proc)
    text = re.sub(r".\x08", "", proc.stdout)
    return text.replace("\u2010", "-").replace("\u2212", "-")


def test_every_command_has_an_installed_page_with_its_options(installed, pressctl):
    _, root = installed
    missing = []
    for cmd in help_commands(pressctl):
        page = root / f"share/man/man1/pressctl-{cmd}.1"
        if not page.is_file():
            missing.append(f"{cmd}: no page {page.name}")
            continue
        text = rendered(root, f"pressctl-{cmd}")
        for opt in sorted(help_options(pressctl, cmd)):
            if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text):
                missing.append(f"{cmd}: {opt} is not in pressctl-{cmd}(1)")
    assert not missing, "\n".join(missing)
    overview = rendered(root, "pressctl")
    for cmd in help_commands(pressctl):
        assert f"pressctl-{cmd}(1)" in overview, f"pressctl(1) does not name pressctl-{cmd}(1)"


# --- 4: bash completion ------------------------------------------------------

DRIVER = r"""
source "$COMPLETION_FILE"
spec=$(complete -p pressctl) || exit 3
fn=$(sed -n 's/.* -F \([^ ]*\) .*/\1/p' <<<"$spec")
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$fn" pressctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


@pytest.fixture(scope="module")
def shell(pressctl, tmp_path_factory):
    """complete(cwd, *words): what bash offers for the last word (a list),
    with `pressctl` on PATH as the binary under test."""
    bindir = tmp_path_factory.mktemp("bin")
    (bindir / "pressctl").symlink_to(pressctl)

    def complete(cwd, *words):
        env = helpers.clean_env({"PATH": f"{bindir}:{os.environ['PATH']}",
                                 "COMPLETION_FILE": str(COMPLETION),
                                 "HOME": str(bindir)})
        proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER,
                               "bash", "pressctl", *words], cwd=str(cwd),
                              env=env, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0 and proc.stderr == "", \
            f"completing {words}:" + describe(proc)
        return [w for w in proc.stdout.splitlines() if w]

    return complete


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    """A config repository (examples/frappe), and a git repository that
    holds it under frappe/."""
    root = tmp_path_factory.mktemp("config")
    shutil.copytree(EXAMPLES / "frappe", root / "config")
    shutil.copytree(EXAMPLES / "frappe", root / "git" / "frappe")
    helpers.git(root / "git", "init", "-q")
    helpers.git_commit_all(root / "git", "frappe")
    return root / "config"


ENVS = ["acme/production", "acme/staging"]
SELECTORS = ["acme", "acme/production", "acme/staging", "customer=acme-gmbh",
             "purpose=release-testing", "tier=gold"]


def test_completion_offers_commands(shell, pressctl, tmp_path):
    assert shell(tmp_path, "") == help_commands(pressctl)
    assert shell(tmp_path, "pl") == ["plan"]
    assert sorted(shell(tmp_path, "--")) == ["--help", "--version"]


def test_completion_offers_options_and_their_values(shell, pressctl, tmp_path):
    for cmd in help_commands(pressctl):
        assert set(shell(tmp_path, cmd, "--")) == \
            help_options(pressctl, cmd) | {"--help"}, cmd
    assert shell(tmp_path, "plan", "--format", "") == ["text", "json", "markdown"]
    assert shell(tmp_path, "validate", "--format", "g") == ["github"]
    assert shell(tmp_path, "watch", "--listen", "") == ["none"]
    assert sorted(shell(tmp_path, "backup", "")) == ["list", "prune", "run", "verify"]
    assert sorted(shell(tmp_path, "hook", "")) == ["install", "post-receive", "pre-receive"]


def test_completion_offers_environments_of_the_config_repo(shell, config, tmp_path):
    # The current directory is the config repository.
    assert shell(config, "plan", "--only", "") == SELECTORS
    assert shell(config, "apply", "--adopt", "acme/") == ENVS
    assert shell(config, "backup", "run", "--env", "t") == ["tier=gold"]
    assert shell(config, "promote", "--from", "acme/s") == ["acme/staging"]
    # bash splits KEY=VALUE and --option=VALUE at '=' (COMP_WORDBREAKS):
    # the words after it are offered.
    assert shell(config, "plan", "--only", "tier", "=") == ["gold"]
    assert shell(config, "plan", "--only", "customer", "=", "acme-") == ["acme-gmbh"]
    assert shell(config, "plan", "--only", "=", "acme/") == ENVS
    assert shell(config, "plan", "--format", "=", "j") == ["json"]
    # A directory operand names it, before or after the option.
    assert shell(tmp_path, "plan", str(config), "--only", "") == SELECTORS
    assert shell(tmp_path, "status", str(config), "--format", "") == ["text", "json"]
    assert shell(tmp_path, "promote", str(config), "--from", "acme/staging",
                 "--to", "") == ENVS
    assert shell(tmp_path, "restore", str(config), "acme/st") == ["acme/staging"]
    # rollback's --to is a revision, not an environment.
    assert shell(config, "rollback", "acme/production", "--to", "") == []
    # A git repository: --git with --ref and --path.
    git = config.parent / "git"
    assert shell(tmp_path, "plan", "--git", str(git), "--path", "frappe",
                 "--only", "acme/p") == ["acme/production"]
    assert shell(tmp_path, "apply", "--git", str(git), "--ref", "HEAD",
                 "--path", "frappe", "--adopt", "acme/") == ENVS
    assert shell(tmp_path, "apply", "--git", str(git), "--ref", "no-such-ref",
                 "--only", "") == [], "a ref that does not exist has no environments"


def test_completion_of_an_invalid_or_absent_source_offers_nothing(shell, tmp_path):
    bad = helpers.BAD / "80-five-errors.yaml"
    assert shell(tmp_path, "plan", str(bad), "--only", "") == []
    assert shell(tmp_path, "plan", "--only", "") == []


def test_complete_command(pressctl, config):
    proc = run(pressctl, "complete", "envs", config)
    assert proc.returncode == 0 and proc.stdout.splitlines() == ENVS, describe(proc)
    proc = run(pressctl, "complete", "selectors", "--git", config.parent / "git",
               "--path", "frappe")
    assert proc.returncode == 0 and proc.stdout.splitlines() == SELECTORS, describe(proc)
    # No secret is needed, no backend is contacted: the Platform's
    # references point nowhere.
    proc = run(pressctl, "complete", "envs", config,
               env={"PRESS_PG_DSN": "postgres://nobody@127.0.0.1:1/none"})
    assert proc.returncode == 0 and proc.stdout.splitlines() == ENVS, describe(proc)
    proc = run(pressctl, "complete", "sites", config)
    assert proc.returncode == 1 and proc.stdout == "", describe(proc)
    assert "unknown word list 'sites'" in proc.stderr
