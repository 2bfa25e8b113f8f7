"""Black-box tests of `pressctl diff --git REPO --base REF --head REF`.

A real git repository is built in a temporary directory with the git CLI:
the base commit is examples/frappe plus two environments of our own; the
head commit changes the site's image (which every environment without its
own image inherits), one field and one secret reference of an environment,
removes an environment and adds a domain. Secret *values* are set in the
environment of pressctl and must never appear in any output.
"""

import json
import re
import shutil

import jsonschema
import pytest
import yaml

import helpers
from helpers import EXAMPLES, describe, run

NEW_IMAGE = "registry.example.com/acme/erpnext:v16.9.9"
SECRET_A, SECRET_B = "PRESSCTL_TEST_SECRET_A", "PRESSCTL_TEST_SECRET_B"
SECRET_VALUE = "s3cr3t-value-XYZ"
ADDED_DOMAIN = "difftest-www"


def _overlay(site, removeme=True, replicas=1, secret=SECRET_A):
    text = f"""# Added by tests/integration/test_diff.py.
apiVersion: press/v1
kind: Environment
metadata:
  name: difftest
spec:
  site: {site}
  stage: development
  replicas: {replicas}
  env:
    MAIL_FROM: difftest@acme.example
    API_TOKEN: {{env: {secret}}}
"""
    if removeme:
        text += f"""---
apiVersion: press/v1
kind: Environment
metadata:
  name: removeme
spec:
  site: {site}
  stage: development
"""
    return text


def _first_site(config):
    """(file, name, image, scalar node) of the first Site, in source order."""
    for f in helpers.manifest_files(config):
        for node in yaml.compose_all(f.read_text(encoding="utf-8"), Loader=helpers.CoreLoader):
            if not isinstance(node, yaml.MappingNode):
                continue
            top = {k.value: v for k, v in node.value}
            if getattr(top.get("kind"), "value", None) != "Site":
                continue
            meta = {k.value: v for k, v in top["metadata"].value}
            spec = {k.value: v for k, v in top["spec"].value}
            return f, meta["name"].value, spec["image"].value, spec["image"]
    pytest.fail(f"no Site in {config}")


def _secret_env_names(config):
    """Every {env: NAME} reference of the config."""
    names = set()

    def walk(v):
        if isinstance(v, dict):
            if set(v) == {"env"} and isinstance(v["env"], str):
                names.add(v["env"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    for f in helpers.manifest_files(config):
        for _, d in helpers.iter_documents(f):
            walk(d)
    return names


def _envs_of(config, site):
    """{name: spec} of the environments of site in config."""
    out = {}
    for f in helpers.manifest_files(config):
        for _, d in helpers.iter_documents(f):
            if isinstance(d, dict) and d.get("kind") == "Environment" \
                    and d.get("spec", {}).get("site") == site:
                out[d["metadata"]["name"]] = d["spec"]
    return out


def _build(root, subdir):
    """The repository: returns a dict describing what the head changes."""
    repo = root
    config = repo / subdir if subdir else repo
    shutil.copytree(EXAMPLES / "frappe", config, dirs_exist_ok=True)
    if subdir:
        (repo / "junk.yaml").write_text("kind: [not a manifest of this config\n")
        (repo / "README.md").write_text("config lives in " + subdir + "\n")
    site_file, site, old_image, node = _first_site(config)
    (config / "zz-difftest.yaml").write_text(_overlay(site))
    helpers.git(repo, "init", "-q")
    base = helpers.git_commit_all(repo, "base", tag="base")

    # Same manifests, different commit: a README and a comment change only.
    (repo / "NOTES.md").write_text("nothing to see\n")
    with open(config / "zz-difftest.yaml", "a") as f:
        f.write("# a comment changes no object\n")
    same = helpers.git_commit_all(repo, "cosmetic", tag="cosmetic")

    text = site_file.read_text(encoding="utf-8")
    s, e = node.start_mark.index, node.end_mark.index
    site_file.write_text(text[:s] + NEW_IMAGE + text[e:], encoding="utf-8")
    (config / "zz-difftest.yaml").write_text(_overlay(site, removeme=False, replicas=2,
                                                      secret=SECRET_B))
    (config / "zz-added-domain.yaml").write_text(f"""apiVersion: press/v1
kind: Domain
metadata:
  name: {ADDED_DOMAIN}
spec:
  host: difftest.acme-diff.example
  environment: {site}/difftest
  tls: selfsigned
""")
    head = helpers.git_commit_all(repo, "head", tag="head")
    inheriting = sorted(n for n, spec in _envs_of(config, site).items() if "image" not in spec)
    assert "difftest" in inheriting

    helpers.git(repo, "checkout", "-q", "-b", "broken")
    (config / "zz-broken.yaml").write_text("apiVersion: press/v1\nkind: [oops\n")
    broken = helpers.git_commit_all(repo, "broken", tag="broken")
    helpers.git(repo, "checkout", "-q", "main")

    secrets = {name: f"{SECRET_VALUE}-{i}" for i, name in
               enumerate(sorted(_secret_env_names(config) | {SECRET_A, SECRET_B}))}
    secrets[SECRET_A] = SECRET_VALUE
    secrets[SECRET_B] = SECRET_VALUE + "-B"
    return dict(repo=repo, subdir=subdir, site=site, old_image=old_image, base=base,
                same=same, head=head, broken=broken, inheriting=inheriting, secrets=secrets)


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("flat"), None)


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("nested"), "deploy/press")


def _diff(pressctl, info, base, head, fmt=None, path=True, secrets=True):
    args = ["diff", "--git", info["repo"], "--base", base, "--head", head]
    if path and info["subdir"]:
        args += ["--path", info["subdir"]]
    if fmt:
        args += ["--format", fmt]
    return run(pressctl, *args, env=info["secrets"] if secrets else None)


def _json(proc):
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        pytest.fail(f"diff --format json did not print JSON ({e})" + describe(proc))


def _expected(info):
    """{(kind, name): (change, {path: (old, new)} or None)} for base -> head."""
    site, old, new = info["site"], info["old_image"], NEW_IMAGE
    exp = {("Site", site): ("changed", {"/spec/image": (old, new)}),
           ("Environment", f"{site}/removeme"): ("removed", None),
           ("Domain", ADDED_DOMAIN): ("added", None)}
    for env in info["inheriting"]:
        exp[("Environment", f"{site}/{env}")] = ("changed", {"/spec/image": (old, new)})
    exp[("Environment", f"{site}/difftest")][1]["/spec/replicas"] = (1, 2)
    return exp


def _check_secret_field(fields, where):
    """The renamed secret reference, as a reference (whole or by its key)."""
    whole = fields.pop("/spec/env/API_TOKEN", None)
    key = fields.pop("/spec/env/API_TOKEN/env", None)
    assert (whole is None) != (key is None), (
        "the secret reference change must be listed once" + where)
    if whole is not None:
        assert whole["op"] == "changed", where
        assert (whole["old"], whole["new"]) == ({"env": SECRET_A}, {"env": SECRET_B}), where
    else:
        assert key["op"] == "changed", where
        assert (key["old"], key["new"]) == (SECRET_A, SECRET_B), where


def _check_diff_schema(out):
    path = helpers.REPO / "schema" / "diff.schema.json"
    assert path.is_file(), f"missing {path}"
    try:
        jsonschema.Draft7Validator(json.loads(path.read_text())).validate(out)
    except jsonschema.ValidationError as e:
        pytest.fail(f"diff --format json does not match schema/diff.schema.json: "
                    f"{e.message} at {list(e.absolute_path)}")


def _assert_json_diff(proc, info):
    where = describe(proc)
    assert proc.returncode == 2, "a diff with changes exits 2" + where
    out = _json(proc)
    _check_diff_schema(out)
    assert out["base"] == {"ref": "base", "revision": info["base"]}, where
    assert out["head"] == {"ref": "head", "revision": info["head"]}, where
    assert out["changed"] is True, where
    exp = _expected(info)
    got = {(o["kind"], o["name"]): o for o in out["objects"]}
    assert len(got) == len(out["objects"]), "an object is listed twice" + where
    assert set(got) == set(exp), (f"objects: expected {sorted(exp)}, got {sorted(got)}" + where)
    counts = {"added": 0, "removed": 0, "changed": 0}
    for key, (change, fields) in exp.items():
        o = got[key]
        counts[change] += 1
        assert o["change"] == change, f"{key}: {o}" + where
        if fields is None:
            continue
        have = {f["path"]: f for f in o["fields"]}
        assert len(have) == len(o["fields"]), f"{key}: a field is listed twice" + where
        if key == ("Environment", f"{info['site']}/difftest"):
            _check_secret_field(have, where)
        assert set(have) == set(fields), f"{key}: fields {sorted(have)} != {sorted(fields)}" + where
        for p, (old, new) in fields.items():
            assert (have[p]["op"], have[p]["old"], have[p]["new"]) == ("changed", old, new), \
                f"{key} {p}: {have[p]}" + where
    assert out["summary"] == counts, where
    return out


def _assert_no_secret_values(proc, info):
    for name, value in info["secrets"].items():
        assert value not in proc.stdout and value not in proc.stderr, (
            f"the value of ${name} leaked into the output" + describe(proc))


def test_diff_json(pressctl, flat):
    proc = _diff(pressctl, flat, "base", "head", "json")
    _assert_json_diff(proc, flat)
    _assert_no_secret_values(proc, flat)


def test_diff_json_by_commit_id(pressctl, flat):
    proc = _diff(pressctl, flat, flat["base"], flat["head"], "json")
    assert proc.returncode == 2, describe(proc)
    out = _json(proc)
    assert out["base"]["revision"] == flat["base"] and out["head"]["revision"] == flat["head"]


def test_diff_text(pressctl, flat):
    proc = _diff(pressctl, flat, "base", "head")
    assert proc.returncode == 2, describe(proc)
    _assert_no_secret_values(proc, flat)
    site, lines = flat["site"], proc.stdout.splitlines()
    for line in (f"~ Site {site}", f"- Environment {site}/removeme",
                 f"+ Domain {ADDED_DOMAIN}", f"~ Environment {site}/difftest"):
        assert line in [x.rstrip() for x in lines], f"missing line {line!r}" + describe(proc)
    # The field lines follow their object, indented.
    i = [x.rstrip() for x in lines].index(f"~ Site {site}")
    block = []
    for x in lines[i + 1:]:
        if not x.startswith((" ", "\t")):
            break
        block.append(x)
    pattern = re.compile(r"^\s+spec\.image: " + re.escape(json.dumps(flat["old_image"]))
                         + r" -> " + re.escape(json.dumps(NEW_IMAGE)) + r"$")
    assert any(pattern.match(x.rstrip()) for x in block), (
        f"expected '    spec.image: \"{flat['old_image']}\" -> \"{NEW_IMAGE}\"' under the Site"
        + describe(proc))
    for env in flat["inheriting"]:
        assert f"~ Environment {site}/{env}" in [x.rstrip() for x in lines], describe(proc)
    unchanged = set(helpers_envs(flat)) - set(flat["inheriting"]) - {"removeme"}
    for env in unchanged:
        assert not any(x.rstrip().endswith(f"Environment {site}/{env}") for x in lines), (
            f"{site}/{env} has its own image and did not change" + describe(proc))
    assert SECRET_A in proc.stdout and SECRET_B in proc.stdout, (
        "the secret reference (its name) is shown" + describe(proc))


def helpers_envs(info):
    config = info["repo"] / info["subdir"] if info["subdir"] else info["repo"]
    return _envs_of(config, info["site"])


def test_diff_markdown(pressctl, flat):
    proc = _diff(pressctl, flat, "base", "head", "markdown")
    assert proc.returncode == 2, describe(proc)
    _assert_no_secret_values(proc, flat)
    md = proc.stdout
    for name in (flat["site"], f"{flat['site']}/removeme", ADDED_DOMAIN, f"{flat['site']}/difftest"):
        assert name in md, f"{name!r} missing from the markdown" + describe(proc)
    assert re.search(r"^\s*\|.*\|\s*$", md, re.M) or re.search(r"^\s*[-*] ", md, re.M), (
        "markdown: a table or a list" + describe(proc))
    assert NEW_IMAGE in md, describe(proc)


def test_secret_values_never_appear(pressctl, flat):
    for fmt in (None, "json", "markdown"):
        for base, head in (("base", "head"), ("head", "base"), ("base", "base")):
            proc = _diff(pressctl, flat, base, head, fmt)
            assert proc.returncode in (0, 2), describe(proc)
            _assert_no_secret_values(proc, flat)


def test_reverse_diff(pressctl, flat):
    proc = _diff(pressctl, flat, "head", "base", "json")
    assert proc.returncode == 2, describe(proc)
    out = _json(proc)
    got = {(o["kind"], o["name"]): o["change"] for o in out["objects"]}
    site = flat["site"]
    assert got[("Environment", f"{site}/removeme")] == "added", out
    assert got[("Domain", ADDED_DOMAIN)] == "removed", out
    assert got[("Site", site)] == "changed", out
    assert out["summary"] == {"added": 1, "removed": 1, "changed": 1 + len(flat["inheriting"])}


@pytest.mark.parametrize("fmt", [None, "json", "markdown"])
def test_identical_refs(pressctl, flat, fmt):
    for base, head in (("base", "base"), ("head", "head"), ("base", "cosmetic")):
        proc = _diff(pressctl, flat, base, head, fmt)
        assert proc.returncode == 0, f"{base}..{head} has no changes: exit 0" + describe(proc)
        if fmt == "json":
            out = _json(proc)
            _check_diff_schema(out)
            assert out["changed"] is False and out["objects"] == [], describe(proc)
            assert out["summary"] == {"added": 0, "removed": 0, "changed": 0}, describe(proc)
        elif fmt is None:
            assert not re.search(r"^[-+~] ", proc.stdout, re.M), describe(proc)


def test_path_subdir(pressctl, nested):
    proc = _diff(pressctl, nested, "base", "head", "json")
    _assert_json_diff(proc, nested)
    _assert_no_secret_values(proc, nested)
    proc = _diff(pressctl, nested, "base", "cosmetic", "json")
    assert proc.returncode == 0, describe(proc)
    # Without --path the whole tree is read, including the broken junk.yaml.
    proc = _diff(pressctl, nested, "base", "head", "json", path=False)
    assert proc.returncode == 1, describe(proc)
    assert "junk.yaml" in proc.stderr + proc.stdout, describe(proc)
    # A --path that does not exist is an error, never "everything was removed".
    proc = run(pressctl, "diff", "--git", nested["repo"], "--base", "base", "--head", "head",
               "--path", "no/such/dir")
    assert proc.returncode == 1, describe(proc)


@pytest.mark.parametrize("which", ["base", "head"])
def test_bad_ref(pressctl, flat, which):
    refs = {"base": "base", "head": "head", which: "no-such-ref"}
    proc = _diff(pressctl, flat, refs["base"], refs["head"], "json")
    assert proc.returncode == 1, describe(proc)
    assert "no-such-ref" in proc.stderr, "name the ref that is missing" + describe(proc)


def test_invalid_head_is_an_error(pressctl, flat):
    proc = _diff(pressctl, flat, "base", "broken")
    assert proc.returncode == 1, "an invalid head cannot be diffed" + describe(proc)
    assert "zz-broken.yaml" in proc.stderr, describe(proc)


def test_not_a_repository(pressctl, tmp_path):
    proc = run(pressctl, "diff", "--git", tmp_path, "--base", "a", "--head", "b")
    assert proc.returncode == 1, describe(proc)
    assert proc.stderr.strip(), describe(proc)
