"""The watcher's read-only dashboard (issue 12, acceptance 2 and 3;
docs/dashboard.md).

1. The JSON documents under /api/v1/ and the events of /api/v1/events
   validate against their schemas (schema/api-*.schema.json, with
   python3-jsonschema); on a non-loopback listen address (0.0.0.0, reached
   through 127.0.0.1) the page and the API answer 401 without the token and
   200 with it, while /healthz, /readyz and /metrics answer without it; no
   answer of any endpoint, headers included, holds a secret of the test.
2. Debian's chromium, driven by playwright-core (scripts/playwright.sh
   installs the version tests/browser/package-lock.json pins), loads the
   page of a live watcher on loopback: no console error, every environment
   listed, a container removed by hand shown as drift and then healed
   without a reload (server-sent events); the screenshot is kept as
   build/artifacts/dashboard.png (and in the test's tmp dir).
"""

import contextlib
import json
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

import jsonschema

import helpers
from converge_helpers import Platform, derived_password, dump, env_doc, site_doc
from watch_helpers import Watcher, running, wait_until, watching

QUICK = ["--debounce", "100ms", "--resync", "3600s"]
SCHEMA_DIR = helpers.REPO / "schema"
DOCS = ("environments", "runs", "journal", "drift")
ARTIFACTS = helpers.REPO / "build" / "artifacts"


def schemas():
    """{name: schema} of schema/*.json, and a resolver that finds them by
    their $id (the api schemas refer to one another and to status)."""
    store, named = {}, {}
    for p in SCHEMA_DIR.glob("*.schema.json"):
        s = json.loads(p.read_text(encoding="utf-8"))
        store[s["$id"]] = s
        named[p.name[:-len(".schema.json")]] = s
    return named, store


def validate(doc, name):
    named, store = schemas()
    schema = named[name]
    resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    errors = sorted(jsonschema.Draft7Validator(schema, resolver=resolver).iter_errors(doc),
                    key=lambda e: list(e.absolute_path))
    assert not errors, (f"the answer does not match schema/{name}.schema.json:\n"
                        + "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:20]))


def platform(services, pressctl, tmp_path, name, envs):
    p = Platform(services, pressctl, tmp_path, name=name, prefix=name, nports=2 * len(envs) + 2)
    site = name.replace("-", "")
    dump(p.src / "site.yaml", site_doc(site, timeout=20), *[env_doc(site, e) for e in envs])
    return p, site


@contextlib.contextmanager
def watching_on(binary, args, env, tmp_path, name, host):
    """watch_helpers.watching, listening on host:PORT (reached through
    127.0.0.1)."""
    w = Watcher(binary, args, env, Path(tmp_path) / f"{name}.log", tmp_path)
    w.argv[w.argv.index("--listen") + 1] = f"{host}:{w.port}"
    w.start()
    try:
        yield w
    finally:
        if w.proc.poll() is None:
            rc, _ = w.stop()
            assert rc == 0, f"SIGTERM: pressctl watch exited {rc}" + w.describe()
    w.check_log()


def first_event(port, headers, timeout=30):
    """The data of the first 'snapshot' event of /api/v1/events, and the
    raw bytes read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = ["GET /api/v1/events HTTP/1.1", f"Host: 127.0.0.1:{port}",
                "Accept: text/event-stream"] + [f"{k}: {v}" for k, v in headers.items()]
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        data = b""
        while b"\ndata: " not in data or not data.split(b"\ndata: ", 1)[1].count(b"\n"):
            got = s.recv(65536)
            assert got, f"the event stream ended: {data[:500]!r}"
            data += got
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:300]
    assert b"text/event-stream" in data.split(b"\r\n\r\n", 1)[0], data[:300]
    line = data.split(b"\ndata: ", 1)[1].split(b"\n", 1)[0]
    return json.loads(line), data.decode(errors="replace")


# --- 1. the API, the token, no secrets -----------------------------------------

def test_api_schemas_token_and_no_secrets(services, pressctl, tmp_path):
    p, site = platform(services, pressctl, tmp_path, "dash-api", ["one", "two"])
    token = "tok-" + secrets.token_hex(20)
    hook = "hook-" + secrets.token_hex(20)
    env = {**services.env_vars(), "PRESS_DASH_TOKEN": token, "PRESS_DASH_HOOK": hook}
    secret_values = [token, hook, services.secret_key,
                     Path(services.master_key).read_text().strip(),
                     *[derived_password(services, f"{site}_{e}") for e in ("one", "two")]]
    answers = []

    # Listen on every address: not loopback, so the token is needed.
    with watching_on(pressctl, [p.src, *QUICK, "--api-token", "env:PRESS_DASH_TOKEN",
                                "--webhook-secret", "env:PRESS_DASH_HOOK"],
                     env, tmp_path, "api", "0.0.0.0") as w:
        w.wait_reconciled(timeout=90)
        auth = {"Authorization": f"Bearer {token}"}

        def get(path, headers=None):
            status, h, body = w.request("GET", path, headers=headers)
            answers.append(f"{path} {status}\n{json.dumps(h)}\n{body}")
            return status, h, body

        for path in ["/", "/index.html"] + [f"/api/v1/{d}" for d in DOCS]:
            status, h, _ = get(path)
            assert status == 401, f"GET {path} without the token answered {status}"
            assert h.get("www-authenticate", "").startswith("Bearer"), h
            status, _, _ = get(path, {"Authorization": "Bearer " + "x" * len(token)})
            assert status == 401, f"GET {path} with a wrong token answered {status}"
            status, h, body = get(path, auth)
            assert status == 200, f"GET {path} with the token answered {status}: {body[:300]}"
            assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), h
        status, h, body = get("/", auth)
        assert h["content-type"].startswith("text/html") and "/assets/app.js" in body
        for path in ("/assets/app.js", "/assets/app.css", "/healthz", "/readyz", "/metrics"):
            status, _, _ = get(path)
            assert status == 200, f"GET {path} without the token answered {status}"
        assert get("/api/v1/nothing", auth)[0] == 404

        docs = {}
        for d in DOCS:
            status, h, body = get(f"/api/v1/{d}", auth)
            assert h["content-type"].startswith("application/json"), h
            docs[d] = json.loads(body)
            validate(docs[d], f"api-{d}")
        envs = {e["environment"]: e for e in docs["environments"]["environments"]}
        assert set(envs) == {f"{site}/one", f"{site}/two"}, envs
        assert all(e["state"] == "converged" and e["healthy"] for e in envs.values()), envs
        assert docs["environments"]["watcher"]["leader"] is True
        assert docs["runs"]["runs"] and docs["runs"]["runs"][0]["command"] == "apply"
        assert docs["runs"]["runs"][0]["status"] == "ok" and docs["runs"]["runs"][0]["done"] > 0
        assert docs["journal"]["entries"] and docs["journal"]["errors"] == []
        assert docs["drift"]["drift"] == []

        event, raw = first_event(w.port, auth)
        answers.append(raw)
        validate(event, "api-events")
        assert event["environments"]["platform"] == p.name
        status, raw = first_event_status(w.port)
        assert status == 401, raw

        # `status --format json` has the same environments, with the
        # same schema.
        st = p.status_json(env=env)
        validate(st, "status")
        assert st["lastReconcile"]["status"] == "ok", st["lastReconcile"]
        assert [e["environment"] for e in st["environments"]] == sorted(envs)
        answers.append(json.dumps(st))

    for text in answers + [w.log_text()]:
        for s in secret_values:
            assert s not in text, f"a secret ({s[:4]}…) appeared in an answer:\n{text[:2000]}"


def first_event_status(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
    finally:
        s.close()
    return int(data.split(b" ", 2)[1]), data.decode(errors="replace")


def test_short_or_inline_token_is_refused(pressctl, tmp_path):
    for args, env, want in (
            (["--api-token", "hunter2"], {}, "never the secret itself"),
            (["--api-token", "env:PRESS_SHORT"], {"PRESS_SHORT": "short"},
             "shorter than 16 characters")):
        proc = helpers.run(pressctl, "watch", helpers.EXAMPLES / "frappe", "--listen",
                           "127.0.0.1:0", *args, env=env, timeout=30)
        assert proc.returncode == 1 and want in proc.stderr, helpers.describe(proc)


# --- 2. a real browser ----------------------------------------------------------

def playwright_modules():
    proc = subprocess.run([str(helpers.REPO / "scripts" / "playwright.sh")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"scripts/playwright.sh failed:\n{proc.stderr}"
    return proc.stdout.strip().splitlines()[-1]


def test_browser_shows_drift_then_heal_live(services, pressctl, tmp_path):
    assert shutil.which("chromium"), "Debian's chromium is not installed (scripts/deps.sh)"
    assert shutil.which("node"), "node is not installed (scripts/deps.sh)"
    modules = playwright_modules()
    p, site = platform(services, pressctl, tmp_path, "dash-web", ["one", "two", "three"])
    container = f"dash-web-{site}-two"
    with watching(pressctl, [p.src, *QUICK], services.env_vars(), tmp_path, "web") as w:
        w.wait_reconciled(timeout=120)
        assert running(services, container), w.describe()
        shot = Path(tmp_path) / "dashboard.png"
        cfg = {"modules": modules, "url": f"http://127.0.0.1:{w.port}/",
               "envs": [f"{site}/{e}" for e in ("one", "two", "three")],
               "container": container, "screenshot": str(shot), "timeoutMs": 60000,
               "docker": ["docker", "-H", services.docker_host, "rm", "-f", container]}
        cfg_path = Path(tmp_path) / "browser.json"
        cfg_path.write_text(json.dumps(cfg))
        proc = subprocess.run(["node", str(helpers.REPO / "tests" / "browser" / "dashboard.js"),
                               str(cfg_path)], capture_output=True, text=True, timeout=300,
                              env={**helpers.clean_env({}),
                                   "DOCKER_CONFIG": str(services.dir / "docker-config")})
        assert proc.returncode == 0, helpers.describe(proc)
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"\nbrowser: {out['steps']}; states seen: {out.get('states')}")
        assert "error" not in out, out["error"] + w.describe()
        assert out["consoleErrors"] == [] and out["pageErrors"] == [], out
        assert sorted(out["listed"]) == sorted(cfg["envs"]), out["listed"]
        assert out["driftSeen"] and out["healed"], out
        assert out["navigations"] == 1, f"the page was loaded {out['navigations']} times"
        assert f"{site}/two=drift" in out["states"], out["states"]
        took, _ = wait_until(lambda: running(services, container), 30)
        assert took is not None, "the container was not healed" + w.describe()
        assert shot.stat().st_size > 10000, "the screenshot is empty"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ARTIFACTS / "dashboard.png")
