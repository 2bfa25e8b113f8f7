"""Black-box tests of `pressctl validate`.

The bad-manifest corpus (tests/fixtures/bad/, expectation format in
helpers.py) pins every diagnostic's file, line, column and code; the good
fixtures, examples/* and manifests/ must validate without a single
diagnostic. Hostile input (alias bombs, deep nesting) must be refused fast
and in bounded memory.
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time

import jsonschema
import pytest

import helpers
from helpers import BAD, EXAMPLES, GOOD, MANIFESTS, REPO, describe, rel, run, validate_json

BAD_CASES = helpers.bad_cases()
GOOD_CASES = helpers.good_cases()
EXAMPLE_DIRS = helpers.example_repos()


def _ids(paths):
    return [p.name for p in paths]


def _fmt_diag(d):
    hint = f"  [hint: {d.get('hint')}]" if d.get("hint") else ""
    return (f"  {d['file']}:{d['line']}:{d['column']}: {d['severity']} "
            f"[{d['code']}] (doc {d.get('document')}, {d.get('path')!r}) "
            f"{d['message']}{hint}")


def _report(diags):
    return "\n".join(_fmt_diag(d) for d in diags) or "  (none)"


def _check_schema_of_report(report, validate_schema):
    try:
        jsonschema.Draft7Validator(validate_schema).validate(report)
    except jsonschema.ValidationError as e:
        pytest.fail("validate --format json does not match schema/validate.schema.json: "
                    f"{e.message} at {list(e.absolute_path)}\n"
                    + json.dumps(report, indent=1)[:4000])


def _text_diags(stderr):
    return helpers.text_diags(stderr)


# --- the corpus itself (needs no binary) ---------------------------------------

def test_corpus_is_large_enough_and_parses():
    assert len(BAD_CASES) >= 45, f"only {len(BAD_CASES)} bad cases in {BAD}"
    assert len(GOOD_CASES) >= 5, f"only {len(GOOD_CASES)} good cases in {GOOD}"
    for p in BAD_CASES:
        assert re.match(r"^\d\d-[a-z0-9-]+(\.yaml)?$", p.name), p.name
        case = helpers.parse_expectations(p)
        assert case.expects, p
    names = [p.name.split("-", 1)[0] for p in BAD_CASES]
    assert len(names) == len(set(names)), "two bad cases share a number"


# --- bad cases ----------------------------------------------------------------------

@pytest.mark.parametrize("case_path", BAD_CASES, ids=_ids(BAD_CASES))
def test_bad_case(pressctl, validate_schema, case_path):
    case = helpers.parse_expectations(case_path)
    proc, report = validate_json(pressctl, case.arg)
    diags = report["diagnostics"]
    where = (f"\ncase {case.name}; expected:\n  " + "\n  ".join(map(str, case.expects))
             + f"\nreported:\n{_report(diags)}" + describe(proc))

    assert proc.returncode == 1, "an invalid source must exit 1" + where
    assert report["valid"] is False, where
    _check_schema_of_report(report, validate_schema)

    # Every reported diagnostic is expected, every expectation is reported.
    unexpected = [d for d in diags if not any(e.matches(d) for e in case.expects)]
    missing = [e for e in case.expects if not any(e.matches(d) for d in diags)]
    assert not unexpected and not missing, (
        "diagnostics differ from the expectations"
        + ("\nunexpected:\n" + _report(unexpected) if unexpected else "")
        + ("\nmissing:\n  " + "\n  ".join(map(str, missing)) if missing else "")
        + where)

    # Each expectation's message (and hint) substring is in a diagnostic there.
    for e in case.expects:
        here = [d for d in diags if e.matches(d)]
        if not any(e.substring.lower() in d["message"].lower() for d in here):
            pytest.fail(f"no diagnostic at '{e}' has {e.substring!r} in its message" + where)
        if e.hint is not None and not any(
                e.substring.lower() in d["message"].lower()
                and e.hint.lower() in (d["hint"] or "").lower() for d in here):
            pytest.fail(f"no diagnostic at '{e}' has a hint with {e.hint!r}" + where)

    # The text format reports the same places, compiler style, on stderr.
    tproc = run(pressctl, "validate", case.arg)
    assert tproc.returncode == 1, describe(tproc)
    text = _text_diags(tproc.stderr)
    assert len(text) == len(diags), (
        "text format: one FILE:LINE:COL: error: MESSAGE line per diagnostic" + describe(tproc) + where)
    assert {(t["file"], t["line"], t["col"]) for t in text} == \
        {(d["file"], d["line"], d["column"]) for d in diags}, describe(tproc) + where
    # A "did you mean" hint ends the text line: "... (did you mean 'x'?)".
    for e in case.expects:
        if e.hint and e.hint.lower().startswith("did you mean"):
            lines = [t for t in text if t["file"] == e.file
                     and (e.line is None or t["line"] == e.line)
                     and (e.col is None or t["col"] == e.col)]
            assert any(t["message"].rstrip().lower().endswith(f"({e.hint.lower()})")
                       for t in lines), (
                f"text format: the line of '{e}' must end with ({e.hint})" + describe(tproc))


def test_five_errors_are_five(pressctl):
    [case_path] = [p for p in BAD_CASES if p.name.endswith("-five-errors.yaml")]
    case = helpers.parse_expectations(case_path)
    assert len(case.expects) == 5
    proc, report = validate_json(pressctl, case.arg)
    diags = report["diagnostics"]
    assert len(diags) == 5, "exactly five errors, each reported once:\n" + _report(diags)
    assert len({d["code"] for d in diags}) == 4  # schema twice, secret, cron, ref
    assert all(d["severity"] == "error" for d in diags)
    # Reading order: file, line, column.
    keys = [(d["file"], d["line"], d["column"]) for d in diags]
    assert keys == sorted(keys), "diagnostics must be sorted by file, line, column"
    # Document indexes are 0-based within the file; pointers locate the node.
    by_code = {d["code"]: d for d in diags}
    assert by_code["secret"]["path"] == "/spec/env/SMTP_PASSWORD"
    assert by_code["cron"]["path"] == "/spec/schedule"
    assert by_code["ref"]["path"] == "/spec/environment"
    assert by_code["ref"]["document"] == 7
    assert by_code["cron"]["document"] == 6
    unknown = [d for d in diags if d["code"] == "schema" and "imgae" in d["message"]]
    assert unknown and unknown[0]["path"] == "/spec/imgae" and unknown[0]["document"] == 3
    assert unknown[0]["hint"] == "did you mean 'image'?"


def test_json_locates_unknown_field(pressctl):
    proc, report = validate_json(pressctl, rel(BAD / "09-unknown-field-spec.yaml"))
    [d] = report["diagnostics"]
    assert d == {**d, "file": "tests/fixtures/bad/09-unknown-field-spec.yaml",
                 "line": 35, "column": 3, "severity": "error", "code": "schema",
                 "document": 2, "path": "/spec/imgae"}, _fmt_diag(d)
    assert "imgae" in d["message"] and d["hint"] == "did you mean 'image'?"
    assert report["source"] == "tests/fixtures/bad/09-unknown-field-spec.yaml"
    assert report["counts"] == {"documents": 3, "Platform": 1, "Site": 1,
                                "Environment": 1, "BackupPolicy": 0, "Domain": 0}


def test_duplicate_host_names_both_locations(pressctl):
    """A host claimed by Domains of two sites in two files: the error sits
    at the later claim and names the first one's file:line:col."""
    src = rel(BAD / "85-duplicate-host-across-files")
    proc, report = validate_json(pressctl, src)
    [d] = report["diagnostics"]
    assert (d["file"], d["line"], d["column"], d["code"]) == \
        (f"{src}/b.yaml", 16, 9, "host"), _fmt_diag(d)
    assert f"({src}/a.yaml:42:9)" in d["message"], _fmt_diag(d)
    assert "'rival-shop'" in d["message"] and "'shop'" in d["message"]


# --- good fixtures, examples, manifests ---------------------------------------------

def _assert_valid(pressctl, validate_schema, src):
    proc, report = validate_json(pressctl, src)
    assert proc.returncode == 0 and report["valid"] is True and report["diagnostics"] == [], (
        f"{src} must validate with no diagnostic at all:\n{_report(report['diagnostics'])}"
        + describe(proc))
    _check_schema_of_report(report, validate_schema)
    assert report["counts"]["Platform"] == 1, report["counts"]
    tproc = run(pressctl, "validate", src)
    assert tproc.returncode == 0, describe(tproc)
    assert not _text_diags(tproc.stderr), describe(tproc)
    return report


@pytest.mark.parametrize("case_path", GOOD_CASES, ids=_ids(GOOD_CASES))
def test_good_fixture(pressctl, validate_schema, case_path):
    _assert_valid(pressctl, validate_schema, rel(case_path))


def test_examples_exist():
    names = {p.name for p in EXAMPLE_DIRS}
    missing = {"frappe", "odoo", "wordpress", "multi-stage"} - names
    assert not missing, f"examples/ lacks {sorted(missing)} (docs/design.md §1)"


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=_ids(EXAMPLE_DIRS))
def test_example_validates(pressctl, validate_schema, example):
    report = _assert_valid(pressctl, validate_schema, rel(example))
    assert report["source"] == rel(example)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", report["revision"]), report["revision"]


def test_manifests_validate(pressctl, validate_schema):
    assert MANIFESTS.is_dir(), "manifests/ (the demo platform) is missing"
    _assert_valid(pressctl, validate_schema, rel(MANIFESTS))


def test_counts_of_a_many_document_file(pressctl):
    proc, report = validate_json(pressctl, rel(GOOD / "many-documents.yaml"))
    assert proc.returncode == 0, describe(proc)
    assert report["counts"] == {"documents": 21, "Platform": 1, "Site": 3,
                                "Environment": 12, "BackupPolicy": 2, "Domain": 3}


def test_revision_is_a_content_hash(pressctl, tmp_path):
    src = tmp_path / "cfg"
    shutil.copytree(EXAMPLES / "frappe", src)
    _, r1 = validate_json(pressctl, src)
    _, r2 = validate_json(pressctl, src)
    assert r1["revision"] == r2["revision"], "the revision must be deterministic"
    site = src / "site.yaml"
    site.write_text(site.read_text() + "# touched\n")
    _, r3 = validate_json(pressctl, src)
    assert r3["revision"] != r1["revision"], "the revision must change with the content"


# --- output formats -----------------------------------------------------------------

def _github_check(pressctl, src, expect_exit):
    _, report = validate_json(pressctl, src)
    proc = run(pressctl, "validate", src, "--format", "github")
    assert proc.returncode == expect_exit, describe(proc)
    lines = [m.groupdict() for m in map(helpers.GITHUB_DIAG.match, proc.stdout.splitlines()) if m]
    assert len(lines) == len(report["diagnostics"]), (
        "one ::error (or ::warning) line per diagnostic" + describe(proc))
    assert {(g["file"], int(g["line"]), int(g["col"]), g["severity"]) for g in lines} == \
        {(d["file"], d["line"], d["column"], d["severity"]) for d in report["diagnostics"]}, \
        describe(proc)
    for g in lines:
        assert "\n" not in g["message"] and g["message"].strip(), describe(proc)
    return lines


def test_github_format_file(pressctl):
    lines = _github_check(pressctl, rel(BAD / "80-five-errors.yaml"), 1)
    assert len(lines) == 5
    assert all(g["file"] == "tests/fixtures/bad/80-five-errors.yaml" for g in lines)


def test_github_format_directory(pressctl):
    lines = _github_check(pressctl, rel(BAD / "44-duplicate-site-bytewise"), 1)
    assert {g["file"] for g in lines} == {"tests/fixtures/bad/44-duplicate-site-bytewise/sites/acme.yaml"}


def test_github_format_valid(pressctl):
    proc = run(pressctl, "validate", rel(EXAMPLES / "frappe"), "--format", "github")
    assert proc.returncode == 0, describe(proc)
    assert "::error" not in proc.stdout, describe(proc)


def test_text_format_directory_paths(pressctl):
    src = rel(BAD / "43-duplicate-env-across-files")
    proc = run(pressctl, "validate", src)
    assert proc.returncode == 1, describe(proc)
    text = _text_diags(proc.stderr)
    assert text and all(t["file"] == f"{src}/b.yaml" for t in text), describe(proc)
    assert all(t["severity"] == "error" for t in text)


def test_unknown_format_is_an_error(pressctl):
    proc = run(pressctl, "validate", rel(EXAMPLES / "frappe"), "--format", "xml")
    assert proc.returncode == 1, describe(proc)
    assert proc.stderr.strip(), "a usage error must say what is wrong" + describe(proc)


def test_list(pressctl):
    proc = run(pressctl, "validate", "--list", rel(EXAMPLES / "frappe"))
    assert proc.returncode == 0, describe(proc)
    out = proc.stdout + proc.stderr
    for name in ("acme/production", "acme/staging"):
        assert name in out, f"--list must name {name!r}" + describe(proc)


# --- sources --------------------------------------------------------------------------

def test_single_file_source(pressctl):
    proc, report = validate_json(pressctl, rel(GOOD / "flow-style.yaml"))
    assert proc.returncode == 0 and report["valid"], describe(proc)
    assert report["source"] == "tests/fixtures/good/flow-style.yaml"


@pytest.mark.parametrize("content", [None, "notes.txt", "comments.yaml"])
def test_empty_source_is_an_error(pressctl, tmp_path, content):
    src = tmp_path / "empty"
    src.mkdir()
    if content == "notes.txt":
        (src / "notes.txt").write_text("kind: Site\n")
    elif content == "comments.yaml":
        (src / "comments.yaml").write_text("# nothing here\n")
    proc = run(pressctl, "validate", src)
    assert proc.returncode == 1, "an empty source must never pass" + describe(proc)
    msg = proc.stderr.lower()
    assert re.search(r"no manifest|no (yaml|\.yaml|\*\.yaml)|empty|no documents", msg), (
        "an empty source needs a clear message (e.g. 'no manifests found')" + describe(proc))
    _, report = validate_json(pressctl, src)
    assert report["valid"] is False and report["diagnostics"], report


def test_nonexistent_path(pressctl, tmp_path):
    missing = tmp_path / "does-not-exist"
    proc = run(pressctl, "validate", missing)
    assert proc.returncode == 1, describe(proc)
    assert "does-not-exist" in proc.stderr, "name the path that is missing" + describe(proc)


def test_git_source(pressctl, validate_schema, tmp_path):
    repo = tmp_path / "cfg"
    shutil.copytree(EXAMPLES / "frappe", repo / "config")
    (repo / "junk.yaml").write_text("kind: [broken\n")  # outside --path
    helpers.git(repo, "init", "-q")
    good = helpers.git_commit_all(repo, "good")
    (repo / "config" / "zz-bad.yaml").write_text(
        "apiVersion: press/v1\nkind: Environment\nmetadata:\n  name: qa\n"
        "spec:\n  site: acme\n  stage: development\n  imgae: x\n")
    bad = helpers.git_commit_all(repo, "bad")
    # A dirty work tree is not what is validated: the tree at the ref is.
    (repo / "config" / "zz-bad.yaml").write_text("kind: [dirty\n")

    proc, report = validate_json(pressctl, "--git", repo, "--ref", good, "--path", "config")
    assert proc.returncode == 0 and report["valid"], _report(report["diagnostics"]) + describe(proc)
    assert report["revision"] == good
    _check_schema_of_report(report, validate_schema)

    proc, report = validate_json(pressctl, "--git", repo, "--ref", "main", "--path", "config")
    assert proc.returncode == 1, describe(proc)
    assert report["revision"] == bad
    [d] = report["diagnostics"]
    # Git sources show paths relative to the repository root.
    assert (d["file"], d["line"], d["column"], d["code"]) == \
        ("config/zz-bad.yaml", 8, 3, "schema"), _fmt_diag(d)

    # Without --path the broken file at the root is read too.
    proc = run(pressctl, "validate", "--git", repo, "--ref", good)
    assert proc.returncode == 1, describe(proc)
    assert "junk.yaml" in proc.stderr, describe(proc)

    proc = run(pressctl, "validate", "--git", repo, "--ref", "no-such-ref", "--path", "config")
    assert proc.returncode == 1, describe(proc)
    assert "no-such-ref" in proc.stderr, describe(proc)


# --- hostile input --------------------------------------------------------------------

def _measured(binary, args, tmp_path, limit_s):
    """Run binary; returns (exit code, wall seconds, max RSS bytes, stdout, stderr)."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        start = time.monotonic()
        p = subprocess.Popen([binary, *map(str, args)], cwd=str(REPO), stdout=fo, stderr=fe,
                             env=helpers.clean_env())
        killer = threading.Timer(max(10.0, 10 * limit_s), p.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            killer.cancel()
        elapsed = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)
    return (p.returncode, elapsed, usage.ru_maxrss * 1024,
            out.read_text(errors="replace"), err.read_text(errors="replace"))


def _alias_bomb():
    lines = ["apiVersion: press/v1", "kind: Site", "metadata:", "  name: bomb", "spec:",
             "  app: generic", "  image: x", "  env:", '    L0: &a0 "lol"']
    for i in range(1, 10):
        lines.append(f"    L{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]")
    body = "\n".join(lines) + "\n    BOOM: ["
    n = (1024 * 1024 - len(body)) // 5
    return body + ", ".join(["*a9"] * n) + "]\n"


def _flow_seq(depth):
    return ("apiVersion: press/v1\nkind: Site\nmetadata: {name: deep}\nspec:\n  command: "
            + "[" * depth + "]" * depth + "\n")


def _flow_map(depth):
    return ("apiVersion: press/v1\nkind: Site\nmetadata: {name: deep}\nspec:\n  env: "
            + "{a: " * depth + "x" + "}" * depth + "\n")


def _block_seq(depth):
    return ("apiVersion: press/v1\nkind: Site\nmetadata: {name: deep}\nspec:\n  command:\n    "
            + "- " * depth + "x\n")


def _block_map(depth):
    # One space more per level: depth 2,000 is ~2 MB (10,000 would be 50 MB).
    return "".join(" " * i + "a:\n" for i in range(depth)) + " " * depth + "b: x\n"


HOSTILE = {
    "alias-bomb-1mb": _alias_bomb,
    "flow-seq-10000": lambda: _flow_seq(10000),
    "flow-map-10000": lambda: _flow_map(10000),
    "block-seq-10000": lambda: _block_seq(10000),
    "block-map-2000": lambda: _block_map(2000),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_yaml_is_refused_fast(pressctl, tmp_path, name):
    text = HOSTILE[name]()
    if name.startswith("alias"):
        assert len(text) >= 1024 * 1024 - 16
    src = tmp_path / f"{name}.yaml"
    src.write_text(text)
    slack = 2.0 if helpers.is_sanitized(pressctl) else 1.0
    rc, elapsed, rss, out, err = _measured(
        pressctl, ["validate", src, "--format", "json"], tmp_path, slack)
    assert rc == 1, f"{name}: must be refused with exit 1, got {rc}\n{out[-2000:]}\n{err[-2000:]}"
    assert elapsed < 1.0 * slack, f"{name}: took {elapsed:.2f} s (limit {slack:.0f} s)"
    assert rss < 200 * 1024 * 1024, f"{name}: max RSS {rss >> 20} MiB (limit 200 MiB)"
    report = json.loads(out)
    codes = {d["code"] for d in report["diagnostics"]}
    assert "yaml" in codes, f"{name}: expected a 'yaml' diagnostic, got {report['diagnostics'][:5]}"
    assert len(out) < 1024 * 1024, f"{name}: the report must stay small ({len(out)} bytes)"
