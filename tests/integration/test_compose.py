"""The compose stack (compose/compose.yaml + compose/compose.local.yaml)
brought up for real with Debian's docker-compose on the session's private
engine: PostgreSQL, s3rver, Redis, Caddy and pressctl watch, all from
images built here (scripts/image.sh local). A site committed to the
mounted config repository must come up as a sibling container of the
stack and answer through the ingress. Unique project name and ports per
session; `docker-compose down -v` afterwards.
"""

import base64
import os
import secrets
import shutil
import subprocess
import time
import urllib.request

import pytest

from helpers import REPO
from services import free_port

# `make test-image` runs these, not `make test` (Makefile: the first image
# build downloads a Debian base).
pytestmark = pytest.mark.image

COMPOSE = REPO / "compose"
TIMEOUT = 180  # generous: a bound on a hang, not a performance figure


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True,
                   capture_output=True, text=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


PLATFORM = """\
apiVersion: press/v1
kind: Platform
metadata:
  name: compose
spec:
  postgres:
    dsn: {{file: /run/secrets/pg_dsn}}
  s3:
    endpoint: "http://127.0.0.1:{s3}"
    region: us-east-1
    accessKey: {{file: /run/secrets/s3_access_key}}
    secretKey: {{file: /run/secrets/s3_secret_key}}
  runtime:
    driver: docker
    socket: /var/run/docker.sock
    network: {network}
  naming:
    prefix: fcs-press
  ports:
    from: {first}
    to: {last}
  secrets:
    masterKey: {{file: /run/secrets/master_key}}
  ingress:
    driver: caddy
    admin: "http://127.0.0.1:{admin}"
    http: {http}
"""

SITE = """\
apiVersion: press/v1
kind: Site
metadata:
  name: hello
spec:
  app: generic
  image: local/press-test-app:1
  port: 8080
  env:
    GREETING: hello from compose
  health:
    path: /healthz
    timeoutSeconds: 60
---
apiVersion: press/v1
kind: Environment
metadata:
  name: production
spec:
  site: hello
  stage: production
---
apiVersion: press/v1
kind: Domain
metadata:
  name: hello
spec:
  host: hello.compose.test
  environment: hello/production
  tls: none
"""


class Stack:
    def __init__(self, services, tmp):
        self.services = services
        self.project = f"fcs-press-{secrets.token_hex(3)}"
        self.ports = {k: free_port() for k in (
            "PRESS_HTTP_PORT", "PRESS_PG_PORT", "PRESS_S3_PORT",
            "PRESS_S3_CONSOLE_PORT", "PRESS_REDIS_PORT",
            "PRESS_CADDY_ADMIN_PORT", "PRESS_LISTEN_PORT")}
        self.config = tmp / "config"
        self.secrets = tmp / "secrets"
        self.secrets.mkdir(mode=0o700)
        pw = secrets.token_hex(16)
        for name, value in {
                "pg_password": pw,
                "pg_dsn": (f"postgresql://postgres:{pw}@127.0.0.1:"
                           f"{self.ports['PRESS_PG_PORT']}/press"),
                "s3_access_key": "S3RVER",
                "s3_secret_key": "S3RVER",
                "master_key": base64.b64encode(os.urandom(32)).decode()}.items():
            p = self.secrets / name
            p.write_text(value)
            p.chmod(0o600)
        first, last = services.take_ports(20)
        self.config.mkdir()
        _git(self.config, "init", "-q", "-b", "main")
        (self.config / "platform.yaml").write_text(PLATFORM.format(
            s3=self.ports["PRESS_S3_PORT"], network=f"{self.project}-sites",
            first=first, last=last, admin=self.ports["PRESS_CADDY_ADMIN_PORT"],
            http=self.ports["PRESS_HTTP_PORT"]))
        _git(self.config, "add", ".")
        _git(self.config, "commit", "-q", "-m", "platform")
        self.env = {**os.environ, **{k: str(v) for k, v in self.ports.items()},
                    "DOCKER_HOST": services.docker_host,
                    "DOCKER_CONFIG": str(services.dir / "docker-config"),
                    "PRESS_SECRETS_DIR": str(self.secrets),
                    "PRESS_CONFIG_REPO": str(self.config),
                    "PRESS_CONFIG_REF": "main",
                    "PRESS_DOCKER_SOCK": services.docker_sock}

    def compose(self, *args, check=True, timeout=600):
        proc = subprocess.run(
            [shutil.which("docker-compose") or "docker-compose", "-p", self.project,
             "-f", str(COMPOSE / "compose.yaml"), "-f", str(COMPOSE / "compose.local.yaml"),
             *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, (f"docker-compose {' '.join(args)}: exit "
                                          f"{proc.returncode}\n{proc.stdout[-4000:]}\n"
                                          f"{proc.stderr[-4000:]}")
        return proc

    def logs(self):
        return self.compose("logs", "--no-color", "--tail", "60", check=False).stdout[-8000:]

    def get(self, path):
        url = f"http://127.0.0.1:{self.ports['PRESS_LISTEN_PORT']}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode()
        except OSError:
            return None, ""


def _poll(what, check, stack):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    pytest.fail(f"{what} not within {TIMEOUT}s\n--- docker-compose logs\n{stack.logs()}",
                pytrace=False)


def _metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return line.rsplit(" ", 1)[1]
    return None


@pytest.fixture
def stack(services, local_images, tmp_path):
    assert shutil.which("docker-compose"), "docker-compose is missing: run scripts/deps.sh"
    s = Stack(services, tmp_path)
    try:
        yield s
    finally:
        s.compose("down", "-v", "--remove-orphans", check=False, timeout=300)


def test_compose_stack_runs_a_committed_site(stack, services):
    stack.compose("up", "-d", "--no-build")
    ps = stack.compose("ps").stdout
    for svc in ("postgres", "minio", "redis", "caddy", "pressctl"):
        assert f"fcs-press-{svc}" in ps, ps

    # The stack's own health: every container healthy, pressctl ready.
    def healthy():
        out = services.docker("ps", "--filter", f"label=com.docker.compose.project={stack.project}",
                               "--format", "{{.Names}} {{.Status}}")
        lines = out.splitlines()
        return len(lines) == 5 and all("(healthy)" in line for line in lines) and lines
    _poll("all five containers healthy", healthy, stack)
    _poll("pressctl's first successful pass",
          lambda: (_metric(stack.get("/metrics")[1], "pressctl_last_success_timestamp_seconds")
                   or "0") != "0", stack)
    assert _metric(stack.get("/metrics")[1], "pressctl_leader") == "1"

    # A site committed to the mounted config repository.
    (stack.config / "hello.yaml").write_text(SITE)
    _git(stack.config, "add", "hello.yaml")
    _git(stack.config, "commit", "-q", "-m", "site hello")

    def site_running():
        out = services.docker("ps", "--filter", "name=^fcs-press-hello-production",
                              "--format", "{{.Names}} {{.Labels}}")
        return out or None
    out = _poll("the site's container", site_running, stack)
    # A sibling of the stack: on the same engine, not one of its services.
    assert f"com.docker.compose.project={stack.project}" not in out, out

    def answers():
        try:
            status, _, body = services.ingress_get(
                "hello.compose.test", port=stack.ports["PRESS_HTTP_PORT"], timeout=5)
        except OSError:
            return None
        return status == 200 and body
    body = _poll("the site through the ingress", answers, stack)
    assert b"press-test-app 1" in body, body

    # Its environment reached the container through pressctl's secrets path.
    status, _, env = services.ingress_get("hello.compose.test", "/cgi-bin/env",
                                          port=stack.ports["PRESS_HTTP_PORT"])
    assert status == 200 and b"GREETING=hello from compose" in env, env
    # The environment's schema exists in the stack's PostgreSQL (reached on
    # its published port, with the password of the compose secret).
    proc = subprocess.run(
        ["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(stack.ports["PRESS_PG_PORT"]),
         "-U", "postgres", "-d", "press", "-c",
         "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'hello%'"],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "PGPASSWORD": (stack.secrets / "pg_password").read_text()})
    assert proc.returncode == 0 and "hello_production" in proc.stdout, proc.stdout + proc.stderr
