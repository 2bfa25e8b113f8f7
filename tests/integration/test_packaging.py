"""The ways to run pressctl (docs/deploy.md), checked with real tools:

- the image that scripts/image.sh builds (`make image`) runs `pressctl
  version` and holds no compiler;
- both k8s/ overlays render with `kubectl kustomize` into what the guide
  promises (2 replicas, probes on /healthz and /readyz, secrets only
  referenced, PodDisruptionBudget, NetworkPolicy, requests and limits);
- the alert rules pass `promtool check rules` and `promtool test rules`
  (one unit test per alert), name only metrics that pressctl exports, and
  the PrometheusRule carries the same groups;
- the CI templates of examples/ci/ are valid YAML of the expected shape.

The compose stack is test_compose.py's.
"""

import re
import shutil
import subprocess

import pytest
import yaml

from helpers import REPO

K8S = REPO / "k8s"
ALERTS = K8S / "base" / "alerts.yaml"
ALERT_TESTS = K8S / "tests" / "alerts_test.yaml"
METRICS_C = REPO / "reconciler" / "serve" / "metrics.c"
CMD_H = REPO / "reconciler" / "cmd" / "cmd.h"


def _tool(name):
    path = shutil.which(name)
    assert path, f"{name} is missing: run scripts/deps.sh"
    return path


def _run(*args, timeout=120):
    proc = subprocess.run(list(map(str, args)), capture_output=True, text=True,
                          timeout=timeout, cwd=str(REPO))
    assert proc.returncode == 0, (f"$ {' '.join(map(str, args))}\nexit {proc.returncode}\n"
                                  f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def _version():
    m = re.search(r'#define PRESSCTL_VERSION "([^"]+)"', CMD_H.read_text())
    assert m, "no PRESSCTL_VERSION in reconciler/cmd/cmd.h"
    return m.group(1)


# --- the image ----------------------------------------------------------------

@pytest.mark.image  # `make test-image`, not `make test` (Makefile)
def test_image_runs_version_and_holds_no_compiler(services, pressctl_image):
    version = _version()
    tags = services.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                           "pressctl")
    assert {f"pressctl:{version}", "pressctl:latest"} <= set(tags.split()), tags
    out = services.docker("run", "--rm", "--network", "none",
                          f"pressctl:{version}", "pressctl", "version")
    assert out == f"pressctl {version}", out
    out = services.docker("run", "--rm", "--network", "none", pressctl_image,
                          "pressctl", "version")
    assert out == f"pressctl {version}", out
    # No compiler: none of them is on PATH.
    # (dash's `command -v` looks at its first name only: one each.)
    out = services.docker("run", "--rm", "--network", "none", pressctl_image,
                          "sh", "-c", "for c in cc gcc clang c99 tcc; do command -v $c; done; true")
    assert out == "", f"a compiler in the image: {out}"
    proc = services.docker("run", "--rm", "--network", "none", pressctl_image,
                           "sh", "-c", "ls /usr/bin | grep -E '^(g?cc|c\\+\\+|g\\+\\+|clang|ld|as)(-[0-9]+)?$'",
                           check=False)
    assert proc.stdout.strip() == "", f"compiler tools in the image: {proc.stdout}"
    # The tools backups and clones run are there.
    out = services.docker("run", "--rm", "--network", "none", pressctl_image,
                          "sh", "-c", "pg_dump --version && pg_restore --version")
    assert "15." in out, out


# --- Kubernetes -----------------------------------------------------------------

def _render(overlay):
    out = _run(_tool("kubectl"), "kustomize", K8S / "overlays" / overlay)
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize("overlay,namespace,ref",
                         [("staging", "pressctl-staging", "staging"),
                          ("production", "pressctl", "main")])
def test_k8s_overlay_renders(overlay, namespace, ref):
    docs = _render(overlay)
    kinds = {d["kind"]: d for d in docs}
    for kind in ("Deployment", "ServiceAccount", "ConfigMap", "Service",
                 "PodDisruptionBudget", "NetworkPolicy", "PrometheusRule"):
        assert kind in kinds, f"{overlay}: no {kind} in {sorted(kinds)}"
    for d in docs:
        assert d["metadata"].get("namespace") == namespace, d["metadata"]

    dep = kinds["Deployment"]
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == kinds["ServiceAccount"]["metadata"]["name"]
    (c,) = pod["containers"]
    assert c["command"][:2] == ["pressctl", "watch"], c["command"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    # Secrets are references only: no literal value of a secret-looking name.
    for e in c["env"]:
        assert "valueFrom" in e and "value" not in e, e
    assert not any(d["kind"] == "Secret" for d in docs), "a Secret's values in the repository"

    cm = kinds["ConfigMap"]
    assert cm["data"]["PRESS_GIT_REF"] == ref
    assert cm["data"]["PRESS_GIT_URL"] and cm["data"]["PRESS_GIT_PATH"]
    env_from = [s["configMapRef"]["name"] for s in c["envFrom"]]
    assert cm["metadata"]["name"] in env_from, (cm["metadata"]["name"], env_from)

    labels = dep["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget",):
        sel = kinds[kind]["spec"]["selector"]["matchLabels"]
        assert sel.items() <= labels.items(), (kind, sel, labels)
    sel = kinds["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"]
    assert sel.items() <= labels.items(), sel
    assert kinds["PodDisruptionBudget"]["spec"]["minAvailable"] == 1


def test_k8s_overlays_differ_in_resources():
    res = {o: next(d for d in _render(o) if d["kind"] == "Deployment")
           ["spec"]["template"]["spec"]["containers"][0]["resources"]
           for o in ("staging", "production")}
    assert res["staging"] != res["production"], res


# --- alert rules ---------------------------------------------------------------

def _rules():
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def test_alert_rules_check():
    out = _run(_tool("promtool"), "check", "rules", ALERTS)
    assert "SUCCESS" in out, out


def test_alert_rules_unit_tests():
    out = _run(_tool("promtool"), "test", "rules", ALERT_TESTS)
    assert "SUCCESS" in out, out


def test_every_alert_has_a_unit_test():
    tested = {t["alertname"] for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
              for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    alerts = {r["alert"] for r in _rules()}
    assert alerts == tested, f"alerts without a firing test: {alerts - tested}"
    for want in ("PressctlReconcileFailing", "PressctlDriftOpen",
                 "PressctlBackupRPOExceeded", "PressctlCertificateExpiring"):
        assert want in alerts, want


def test_alerts_name_real_metrics():
    exported = set(re.findall(r'"(pressctl_[a-z_]+)"', METRICS_C.read_text()))
    exported |= {m + "_total" for m in exported if not m.endswith("_total")}
    for r in _rules():
        used = set(re.findall(r"\bpressctl_[a-z_]+", r["expr"]))
        assert used, r
        assert used <= exported, f"{r['alert']} uses {used - exported}, not in metrics.c"


def test_prometheusrule_matches_alerts():
    rendered = [d for d in yaml.safe_load_all((K8S / "base" / "prometheusrule.yaml").read_text()) if d]
    (rule,) = rendered
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]


# --- CI templates --------------------------------------------------------------

def test_ci_templates():
    gh = yaml.safe_load((REPO / "examples/ci/github/.github/workflows/pressctl.yml").read_text())
    on = gh.get("on", gh.get(True))  # YAML 1.1 reads the key `on` as true
    assert set(on) == {"pull_request", "push"}, on
    plan, apply_ = gh["jobs"]["plan"], gh["jobs"]["apply"]
    runs = "\n".join(s.get("run", "") for s in plan["steps"])
    assert "pressctl validate" in runs and "--format markdown" in runs, runs
    assert any("github-script" in s.get("uses", "") for s in plan["steps"])
    assert "pressctl apply" in "\n".join(s.get("run", "") for s in apply_["steps"])

    gl = yaml.safe_load((REPO / "examples/ci/gitlab/.gitlab-ci.yml").read_text())
    assert gl["stages"] == ["validate", "plan", "apply"]
    script = lambda job: "\n".join(x if isinstance(x, str) else "\n".join(x)
                                   for x in gl[job]["script"])
    assert "pressctl validate" in script("validate")
    assert "--format markdown" in script("plan") and "/notes" in script("plan")
    assert "pressctl apply" in script("apply")
    # No secret value in either file: only references.
    for f in ("examples/ci/github/.github/workflows/pressctl.yml",
              "examples/ci/gitlab/.gitlab-ci.yml"):
        text = (REPO / f).read_text()
        assert "S3RVER" not in text and "postgresql://" not in text, f
