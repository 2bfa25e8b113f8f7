"""Golden files for field-level plans (docs/man/pressctl-plan.md, OUTPUT):
`pressctl plan` in text, Markdown and JSON against the live services,
compared byte for byte with tests/golden/plan-fields.{txt,md,json}.

One platform, one site, an environment per kind of case, applied; then
the source changes and the live platform is changed by hand, and one plan
shows them all:

- app:    one container update with three fields: the image,
          local/press-test-app:1 → :2; a plain variable, GREETING hello →
          hi; a secret reference, {env: GOLDEN_TOKEN_A} → {env:
          GOLDEN_TOKEN_B} (the references are shown, marked sensitive,
          never a value)
- limits: the container's memory limit changed by hand (docker update),
          drift against the real engine
- grant:  CREATE on its schema revoked from its role in PostgreSQL, drift
- rotate: database.passwordGeneration 1 → 2, a derived password rotated
- gone:   the container removed by hand, drift

grant and rotate run no container (replicas 0): few containers keep the
applies short (the container of a rotation is unit-tested,
tests/unit/test_plan.c).

What differs between runs (the revision and the hashes of specs that
hold the session's ports) is replaced by placeholders before comparing.
The JSON plan validates against schema/plan.schema.json; no secret value
(the tokens, derived passwords of both generations, the master key, the
S3 secret key) is in any of the three outputs. Then apply heals and
rolls out everything: the memory limit and the grant are back.

`make golden` rewrites the files (PRESS_GOLDEN_UPDATE=1) for review.
"""

import json
import os
import re

import pytest

import helpers
from converge_helpers import (Platform, container, derived_password, dump, env_doc,
                              schema_grants, site_doc)
from helpers import describe

GOLDEN = helpers.REPO / "tests" / "golden"
UPDATE = os.environ.get("PRESS_GOLDEN_UPDATE") == "1"

SITE = "golden"
PREFIX = "gp"
TOKEN_A = "golden-token-value-A-7f3c9e"
TOKEN_B = "golden-token-value-B-51d0aa"
CASES = ("app", "limits", "grant", "rotate", "gone")
# Applies start containers; on a loaded machine that takes a while.
APPLY_TIMEOUT = 600


def _docs(after):
    """The source before (after=False) or after the changes."""
    site = site_doc(SITE, timeout=20, env={"GREETING": "hello"})
    envs = []
    for name in CASES:
        spec = {}
        if name == "app":
            spec["env"] = {"API_TOKEN": {"env": "GOLDEN_TOKEN_B" if after
                                         else "GOLDEN_TOKEN_A"}}
            if after:
                spec["image"] = "local/press-test-app:2"
                spec["env"]["GREETING"] = "hi"
        if name == "limits":
            spec["resources"] = {"memory": "64Mi"}
        if name in ("grant", "rotate"):
            spec["replicas"] = 0
        if name == "rotate" and after:
            spec["database"] = {"passwordGeneration": 2}
        envs.append(env_doc(SITE, name, **spec))
    return [site, *envs]


def _apply(p):
    proc = p.run("apply", timeout=APPLY_TIMEOUT)
    assert proc.returncode == 0, "apply failed" + describe(proc)


def _normalize(text):
    """The revision and spec hashes depend on the session's ports and
    paths (the Platform): placeholders instead."""
    text = re.sub(r"sha256:[0-9a-f]{12,64}", "sha256:<revision>", text)
    return re.sub(r"\b[0-9a-f]{64}\b", "<sha256>", text)


def _check(name, got):
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    if not path.is_file():
        pytest.fail(f"missing golden file {path}: run `make golden` and review it",
                    pytrace=False)
    want = path.read_text(encoding="utf-8")
    assert got == want, (f"the plan differs from {path}; if the change is intended, "
                         f"run `make golden` and review the diff\n--- got ---\n{got}")


def test_golden_field_level_plan(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="golden-it", prefix=PREFIX,
                 nports=2 * len(CASES),
                 env={"GOLDEN_TOKEN_A": TOKEN_A, "GOLDEN_TOKEN_B": TOKEN_B})
    p.add_secret(TOKEN_A, TOKEN_B)
    roles = [f"{SITE}_{n}" for n in CASES]
    dump(p.src / "site.yaml", *_docs(after=False))
    _apply(p)
    p.assert_converged()

    # The source changes...
    dump(p.src / "site.yaml", *_docs(after=True))
    # ... and the live platform is changed by hand.
    limits = f"{PREFIX}-{SITE}-limits"
    services.docker("update", "--memory", "96m", "--memory-swap", "192m", limits)
    assert container(services, limits)["HostConfig"]["Memory"] == 96 << 20
    services.psql(f"REVOKE CREATE ON SCHEMA {SITE}_grant FROM {SITE}_grant")
    services.docker("rm", "-f", f"{PREFIX}-{SITE}-gone")

    outputs = {}
    for fmt, name in (("text", "plan-fields.txt"), ("markdown", "plan-fields.md"),
                      ("json", "plan-fields.json")):
        proc = p.run("plan", "--format", fmt, "--detailed-exitcode")
        assert proc.returncode == 2, describe(proc)
        outputs[fmt] = proc.stdout
        _check(name, _normalize(proc.stdout))

    plan = p.plan_json()  # validated against schema/plan.schema.json
    changes = {(a["kind"], a["environment"].split("/")[1]): a["changes"]
               for a in plan["actions"]}
    assert changes[("container", "app")] == [
        {"path": "/env/API_TOKEN", "before": {"env": "GOLDEN_TOKEN_A"},
         "after": {"env": "GOLDEN_TOKEN_B"}, "sensitive": True},
        {"path": "/env/GREETING", "before": "hello", "after": "hi"},
        {"path": "/image", "before": "local/press-test-app:1",
         "after": "local/press-test-app:2"}]
    assert {"path": "/resources/memory", "before": "96Mi", "after": "64Mi"} \
        in changes[("container", "limits")]
    assert {"path": f"/grants/{SITE}_grant", "before": ["USAGE"],
            "after": ["CREATE", "USAGE"]} in changes[("schema", "grant")]
    assert {"path": "/passwordGeneration", "before": 1, "after": 2,
            "sensitive": True} in changes[("role", "rotate")]
    assert {"path": "/status", "before": "missing", "after": "running"} \
        in changes[("container", "gone")]

    # No secret value in any of the three outputs.
    secrets = [TOKEN_A, TOKEN_B, derived_password(services, f"{SITE}_rotate", 2)]
    for fmt, out in outputs.items():
        for s in secrets:
            assert s not in out, f"a secret appeared in the {fmt} plan:\n{out}"
    p.assert_no_secrets(roles)

    # Apply heals the drift and rolls out the changes.
    _apply(p)
    p.assert_converged()
    assert container(services, limits)["HostConfig"]["Memory"] == 64 << 20
    assert schema_grants(services, f"{SITE}_grant").get(f"{SITE}_grant") == \
        {"USAGE", "CREATE"}
    assert container(services, f"{PREFIX}-{SITE}-gone") is not None
    assert container(services, f"{PREFIX}-{SITE}-app")["Config"]["Image"] == \
        "local/press-test-app:2"
    p.assert_no_secrets(roles)
    assert json.loads(p.run("plan", "--format", "json").stdout)["actions"] == []
