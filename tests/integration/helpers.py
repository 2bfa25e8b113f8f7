"""Shared helpers for the black-box integration tests of pressctl.

Everything here treats pressctl as a black box: it runs the binary named by
the environment variable PRESSCTL (an absolute path, or a path relative to
the repository root) with the repository root as working directory, and
parses what it prints.

Expectation format of the bad-manifest corpus (tests/fixtures/bad/)
-------------------------------------------------------------------
A case is a file ``NN-name.yaml`` or a directory ``NN-name/``. Its
expectations are comment lines at the top of the case file; for a directory
case, at the top of its first manifest file in bytewise path order. Only the
leading block of ``#`` comment lines (blank lines allowed) is read:

    # free text describing the case
    # expect: LINE:COL CODE [message substring]
    # hint: substring of the hint of the diagnostic above
    # expect: RELPATH:LINE:COL CODE [message substring]     (directory cases)

LINE or COL may be ``?`` (any): YAML syntax errors are asserted by line only,
since the column is libyaml's business. RELPATH is relative to the case
directory. The test demands that the SET of reported (file, line, column,
code) equals the set of expectations, that each expectation's substring
occurs (case-insensitively) in the message of a diagnostic at that place,
and that its hint (if given) occurs in that diagnostic's hint. Warnings
count as reported diagnostics: a case must produce none besides the
expected ones.
"""

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
BAD = FIXTURES / "bad"
GOOD = FIXTURES / "good"
EXAMPLES = REPO / "examples"
MANIFESTS = REPO / "manifests"
# examples/ holds config repositories, and examples/ci/ the CI templates
# for one (not manifests).
EXAMPLE_NOT_REPOS = {"ci"}


def example_repos():
    """The example config repositories: examples/* but ci/."""
    if not EXAMPLES.is_dir():
        return []
    return sorted(p for p in EXAMPLES.iterdir()
                  if p.is_dir() and p.name not in EXAMPLE_NOT_REPOS)

MANIFEST_SCHEMA = REPO / "schema" / "manifest.schema.json"
VALIDATE_SCHEMA = REPO / "schema" / "validate.schema.json"

MANIFEST_SUFFIXES = (".yaml", ".yml")

# "FILE:LINE:COL: error: MESSAGE" (optionally " (did you mean 'x'?)");
# "FILE: error: MESSAGE" for a problem without a position (line 0).
TEXT_DIAG = re.compile(
    r"^(?P<file>[^:\n]*)(?::(?P<line>\d+):(?P<col>\d+))?: "
    r"(?P<severity>error|warning): (?P<message>.*)$")


def text_diags(stderr):
    """The diagnostics of the text format: dicts with file, line, col (ints;
    0 when the line has no position), severity, message."""
    out = []
    for m in map(TEXT_DIAG.match, stderr.splitlines()):
        if m:
            d = m.groupdict()
            d["line"], d["col"] = int(d["line"] or 0), int(d["col"] or 0)
            out.append(d)
    return out
# "::error file=F,line=L,col=C::MESSAGE"
GITHUB_DIAG = re.compile(
    r"^::(?P<severity>error|warning) file=(?P<file>[^,]*),line=(?P<line>\d+),"
    r"col=(?P<col>\d+)::(?P<message>.*)$")


# --- the binary --------------------------------------------------------------

# Exit statuses of a sanitizer report (conftest.py sets them): never one of
# pressctl's own (0-4), so no test can take a report for an expected error.
ASAN_EXIT = 86
UBSAN_EXIT = 87
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")

def pressctl_path():
    """The binary under test; fails the calling test (never skips) when the
    environment does not name an existing executable."""
    value = os.environ.get("PRESSCTL")
    if not value:
        pytest.fail("PRESSCTL is not set: point it at the pressctl binary "
                    "(e.g. `make integration` or "
                    "PRESSCTL=$PWD/bin/pressctl python3 -m pytest tests/integration)",
                    pytrace=False)
    path = Path(value)
    if not path.is_absolute():
        path = REPO / path
    if not path.is_file():
        pytest.fail(f"PRESSCTL={value!r}: no such file ({path}); build it with `make`",
                    pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"PRESSCTL={value!r}: {path} is not executable", pytrace=False)
    return str(path)


def tool_path(name):
    """A helper of tests/tools/ (built by `make tools`, `make unit` and `make
    integration` into $(BUILD)/tests/tools/): in PRESS_TOOLS_DIR, which
    `make integration` sets, or else next to the test build named by
    PRESSCTL ($(BUILD)/bin/pressctl). Fails the calling test (never skips)
    when neither holds it."""
    value = os.environ.get("PRESS_TOOLS_DIR")
    if value:
        path = Path(value)
        if not path.is_absolute():
            path = REPO / path
        path = path / name
        where = f"PRESS_TOOLS_DIR={value!r}"
    else:
        binary = os.environ.get("PRESSCTL")
        if not binary:
            pytest.fail(f"neither PRESS_TOOLS_DIR nor PRESSCTL is set: cannot find "
                        f"the test tool {name!r} (`make integration` sets both; or "
                        f"PRESS_TOOLS_DIR=$PWD/build/test/tests/tools after "
                        f"`make TEST_HOOKS=1 tools`)", pytrace=False)
        build = Path(binary)
        if not build.is_absolute():
            build = REPO / build
        path = build.parent.parent / "tests" / "tools" / name
        where = f"PRESS_TOOLS_DIR is not set and PRESSCTL={binary!r}"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"{where}: no executable {path}; build it with `make tools` "
                    f"(with the same BUILD) or set PRESS_TOOLS_DIR", pytrace=False)
    return str(path)


def is_sanitized(binary):
    """True for an ASan build (slower, bigger RSS): limits get some slack."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def clean_env(extra=None):
    """The environment pressctl runs with: ours minus anything that could
    change its output, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PRESS_", "GIT_"))}
    env.setdefault("LC_ALL", "C.UTF-8")
    env.pop("NO_COLOR", None)
    if extra:
        env.update(extra)
    return env


def run(binary, *args, cwd=REPO, env=None, timeout=60):
    """Run pressctl; returns the CompletedProcess (text mode). A sanitizer
    report's exit status fails the calling test at once."""
    proc = subprocess.run([binary, *map(str, args)], cwd=str(cwd),
                          env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode in (ASAN_EXIT, UBSAN_EXIT):
        pytest.fail(f"pressctl exited {proc.returncode}: a sanitizer report "
                    f"(see {os.environ.get('PRESS_SANITIZER_DIR', '?')})"
                    + describe(proc), pytrace=False)
    return proc


def describe(proc):
    return (f"\n$ {' '.join(proc.args)}\nexit {proc.returncode}\n"
            f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")


def validate_json(binary, *src, env=None):
    """`pressctl validate SRC --format json`: (process, parsed report)."""
    import json
    proc = run(binary, "validate", *src, "--format", "json", env=env)
    assert proc.returncode in (0, 1), "validate must exit 0 or 1" + describe(proc)
    try:
        report = json.loads(proc.stdout)
    except ValueError as e:
        pytest.fail(f"validate --format json did not print JSON ({e})" + describe(proc))
    return proc, report


def rel(path):
    """A path as passed on the command line: relative to the repo root."""
    return os.path.relpath(path, REPO)


def manifest_files(root):
    """Manifest files under root (or root itself), sorted bytewise by their
    path relative to root, as pressctl orders them."""
    root = Path(root)
    if root.is_file():
        return [root]
    files = [p for p in root.rglob("*")
             if p.is_file() and p.name.endswith(MANIFEST_SUFFIXES)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix().encode())


def git(cwd, *args):
    """Run the git CLI in cwd, isolated from the user's and system's config;
    returns its stripped stdout."""
    env = {**clean_env(), "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "pressctl tests", "GIT_AUTHOR_EMAIL": "tests@example.com",
           "GIT_COMMITTER_NAME": "pressctl tests", "GIT_COMMITTER_EMAIL": "tests@example.com"}
    proc = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "core.autocrlf=false",
                           *map(str, args)], cwd=str(cwd), env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc.stdout.strip()


def git_commit_all(repo, message, tag=None):
    """Commit everything in the work tree; returns the commit id."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    if tag:
        git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD")


# --- expectations of the bad corpus ------------------------------------------

@dataclass
class Expect:
    file: str            # path as pressctl shows it (repo-relative)
    line: object         # int or None (any)
    col: object          # int or None (any)
    code: str
    substring: str = ""
    hint: str = None
    origin: str = ""     # the comment line, for messages

    def matches(self, d):
        return (d["file"] == self.file and d["code"] == self.code
                and (self.line is None or d["line"] == self.line)
                and (self.col is None or d["column"] == self.col))

    def __str__(self):
        return self.origin


@dataclass
class Case:
    name: str
    path: Path           # the file or directory
    header_file: Path    # where the expectations are
    expects: list = field(default_factory=list)

    @property
    def arg(self):
        return rel(self.path)


def _num(s):
    return None if s == "?" else int(s)


def parse_expectations(case_path):
    case_path = Path(case_path)
    files = manifest_files(case_path)
    if not files:
        raise ValueError(f"{case_path}: no manifest files")
    header = files[0]
    case = Case(case_path.name, case_path, header)
    for raw in header.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if body.startswith("expect:"):
            spec = body[len("expect:"):].strip()
            parts = spec.split(None, 2)
            if len(parts) < 2:
                raise ValueError(f"{header}: malformed {raw!r}")
            loc, code = parts[0], parts[1]
            sub = parts[2] if len(parts) > 2 else ""
            bits = loc.split(":")
            if case_path.is_dir():
                if len(bits) != 3:
                    raise ValueError(f"{header}: directory case needs "
                                     f"RELPATH:LINE:COL in {raw!r}")
                shown = rel(case_path / bits[0])
            else:
                if len(bits) != 2:
                    raise ValueError(f"{header}: file case needs LINE:COL in {raw!r}")
                shown = rel(case_path)
            case.expects.append(Expect(shown, _num(bits[-2]), _num(bits[-1]),
                                       code, sub, None, body))
        elif body.startswith("hint:"):
            if not case.expects:
                raise ValueError(f"{header}: '# hint:' before any '# expect:'")
            case.expects[-1].hint = body[len("hint:"):].strip()
    if not case.expects:
        raise ValueError(f"{header}: no '# expect:' lines")
    return case


def bad_cases():
    if not BAD.is_dir():
        return []
    out = []
    for p in sorted(BAD.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() or p.name.endswith(MANIFEST_SUFFIXES):
            out.append(p)
    return out


def good_cases():
    if not GOOD.is_dir():
        return []
    return [p for p in sorted(GOOD.iterdir())
            if not p.name.startswith(".")
            and (p.is_dir() or p.name.endswith(MANIFEST_SUFFIXES))]


# --- YAML as pressctl reads it -------------------------------------------------

class CoreLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader narrowed to the YAML 1.2 core schema, as pressctl
    types plain scalars: null (~, null, empty), bool (true/false only; yes,
    no, on, off stay strings), int (decimal, 0o octal, 0x hex), float
    (decimal/exponent, .inf, .nan); everything else is a string (no
    timestamps, no sexagesimal numbers, no '<<' merge keys, no '=')."""


CoreLoader.yaml_implicit_resolvers = {}


def _add(tag, pattern, first):
    CoreLoader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


_add("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_add("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_add("tag:yaml.org,2002:int",
     r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789")
_add("tag:yaml.org,2002:float",
     r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
         |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", "-+0123456789.")


def _construct_int(loader, node):
    v = loader.construct_scalar(node)
    if v.startswith("0o"):
        return int(v[2:], 8)
    if v.startswith("0x"):
        return int(v[2:], 16)
    return int(v, 10)


def _construct_float(loader, node):
    v = loader.construct_scalar(node).lower()
    if v.endswith(".inf"):
        return float("-inf") if v.startswith("-") else float("inf")
    if v == ".nan":
        return float("nan")
    return float(v)


def _construct_mapping(loader, node):
    # JSON object keys are strings: pressctl keys are always the scalar text.
    loader.flatten_mapping(node)
    out = {}
    for k, v in node.value:
        key = k.value if isinstance(k, yaml.ScalarNode) else loader.construct_object(k, deep=True)
        out[str(key)] = loader.construct_object(v, deep=True)
    return out


CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
CoreLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
CoreLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_documents(text):
    """All documents of text with the 1.2 core typing: a list of
    (index, value) with empty documents included as None. Raises
    yaml.YAMLError on a document PyYAML cannot parse; the documents before
    it are returned in the exception's .partial attribute."""
    docs = []
    try:
        for i, d in enumerate(yaml.load_all(text, Loader=CoreLoader)):
            docs.append((i, d))
    except yaml.YAMLError as e:
        e.partial = docs
        raise
    return docs


def iter_documents(path):
    """Every non-empty document of the file at path: (index, value)."""
    return [(i, d) for i, d in load_documents(Path(path).read_text(encoding="utf-8"))
            if d is not None]
