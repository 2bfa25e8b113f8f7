"""Private live backends for the integration tests: PostgreSQL 15, an S3
server (s3rver), a Docker engine and the ingress (Caddy), started once per
test session by
scripts/services.sh in a fresh directory under /tmp, on free loopback ports,
and at the end of the session, whatever happened, destroyed: every container
and network of the engine removed (a bridge outlives its engine otherwise),
the services stopped, the directory deleted. PRESS_KEEP_SERVICES=1 only
stops them and keeps the directory (logs under DIR/logs).

Register the fixture in conftest.py (after its sys.path line):

    from services import services  # noqa: F401  (session fixture)

A test then takes ``services`` (a :class:`Services`) and, to run pressctl
against it, writes a Platform manifest with :func:`write_platform` and passes
``services.env_vars()`` to helpers.run(..., env=...).

Nothing here skips: a backend that cannot start fails the tests that need it,
with the tail of its log.

The engine has no default bridge network (see scripts/services.sh): a test
that runs a container itself must pass ``--network services.network`` (a
user-defined network created at start) to reach it through a published port.
"""

import atexit
import base64
import datetime
import hashlib
import hmac
import http.client
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES_SH = REPO / "scripts" / "services.sh"
TEST_IMAGE_SH = REPO / "scripts" / "test-image.sh"

S3_ACCESS_KEY = "S3RVER"
S3_SECRET_KEY = "S3RVER"
S3_REGION = "us-east-1"

# Host ports handed to site containers: a block of PORT_BLOCK ports below
# Linux's ephemeral range (32768-60999), so that no outgoing connection of
# the machine takes one of them, chosen at random per session.
PORT_BLOCK = 1000
PORT_AREA = (20000, 29999)

TEST_IMAGES = ("local/press-test-app:1", "local/press-test-app:2",
               "local/press-test-app:broken")


class ServicesError(Exception):
    """A backend did not start or stop; the message has its log tail."""


def _bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port():
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_block(n=PORT_BLOCK, area=PORT_AREA, tries=50):
    """(first, last) of n consecutive ports of area that are all free now."""
    for _ in range(tries):
        first = random.randint(area[0], area[1] - n + 1)
        if all(_bindable(p) for p in range(first, first + n)):
            return first, first + n - 1
    raise ServicesError(f"no block of {n} free ports in {area[0]}-{area[1]}")


def _local(tag):
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _tail(path, n=40):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return f"({path}: no log)"
    return f"--- last lines of {path}:\n" + "\n".join(lines[-n:])


class Services:
    """The running backends of one session, and helpers to look at them.

    Attributes: dir, pg_port, s3_port, docker_sock (str), network (a
    user-defined Docker network), ports ((first, last) host ports for site
    containers), master_key (Path of a random key file), caddy_admin_port
    (Caddy's admin API on 127.0.0.1) and ingress_port (where the routes
    pressctl makes answer, once it has made one).
    """

    def __init__(self, directory, pg_port, s3_port, ports, caddy_admin_port,
                 ingress_port):
        self.dir = Path(directory)
        self.pg_port = pg_port
        self.s3_port = s3_port
        self.caddy_admin_port = caddy_admin_port
        self.ingress_port = ingress_port
        self.docker_sock = str(self.dir / "docker.sock")
        self.ports = ports
        self.master_key = self.dir / "master.key"
        self.network = "press-it"
        self.access_key = S3_ACCESS_KEY
        self.secret_key = S3_SECRET_KEY
        self.region = S3_REGION
        self._next_port = ports[0]
        self._stopped = False

    # --- addresses ---------------------------------------------------------

    @property
    def dsn(self):
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/press"

    @property
    def s3_endpoint(self):
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def caddy_admin(self):
        return f"http://127.0.0.1:{self.caddy_admin_port}"

    @property
    def docker_host(self):
        return f"unix://{self.docker_sock}"

    def env_vars(self):
        """The secret references a Platform from write_platform() uses, plus
        DOCKER_HOST: pass to helpers.run(..., env=services.env_vars())."""
        return {"PRESS_PG_DSN": self.dsn,
                "PRESS_S3_ACCESS_KEY": self.access_key,
                "PRESS_S3_SECRET_KEY": self.secret_key,
                "DOCKER_HOST": self.docker_host}

    def script_env(self):
        """Environment of scripts/services.sh for this directory."""
        return {**os.environ,
                "PRESS_PG_PORT": str(self.pg_port),
                "PRESS_S3_PORT": str(self.s3_port),
                "PRESS_DOCKER_SOCK": self.docker_sock,
                "PRESS_CADDY_ADMIN_PORT": str(self.caddy_admin_port),
                "PRESS_CADDY_HTTP_PORT": str(self.ingress_port),
                "PRESS_DOCKER_PRIVATE": "1",
                "PRESS_PG_FSYNC": "off"}

    def take_ports(self, n):
        """A (first, last) slice of n ports of the session block not handed
        out before: for platforms that must not share host ports."""
        first = self._next_port
        if first + n - 1 > self.ports[1]:
            raise ServicesError(f"the session's port block {self.ports} is used up")
        self._next_port += n
        return first, first + n - 1

    def log_tail(self, name, n=40):
        """The last n lines of a service's log (postgres, s3rver, dockerd,
        caddy)."""
        return _tail(self.dir / "logs" / f"{name}.log", n)

    # --- PostgreSQL --------------------------------------------------------

    def psql(self, sql, db="press", check=True):
        """Run SQL with psql -At as the superuser; returns stdout without
        the final newline. Fails with psql's message unless check=False (then
        returns the CompletedProcess)."""
        dsn = f"postgresql://postgres@127.0.0.1:{self.pg_port}/{db}"
        proc = subprocess.run(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
        if not check:
            return proc
        if proc.returncode != 0:
            raise AssertionError(f"psql failed (exit {proc.returncode}) on:\n{sql}\n"
                                 f"{proc.stderr}")
        return proc.stdout.rstrip("\n")

    def psql_rows(self, sql, db="press"):
        """Rows of a query as lists of strings (psql -At, '|' separated)."""
        out = self.psql(sql, db=db)
        return [line.split("|") for line in out.splitlines()] if out else []

    def can_login(self, role, password, db="press"):
        """True if role can log in over TCP with password (scram-sha-256)."""
        proc = subprocess.run(
            ["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(self.pg_port),
             "-U", role, "-d", db, "-c", "SELECT 1"],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"})
        return proc.returncode == 0 and proc.stdout.strip() == "1"

    # --- S3 ----------------------------------------------------------------

    def s3(self, method, path="/", query=None, body=b"", headers=None):
        """One SigV4-signed request to the S3 server, path-style
        (``/bucket/key``); query is a dict. Returns (status, headers, body)."""
        query = query or {}
        body = body.encode() if isinstance(body, str) else (body or b"")
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        host = f"127.0.0.1:{self.s3_port}"
        payload = hashlib.sha256(body).hexdigest()
        canon_path = urllib.parse.quote(path, safe="/-_.~")
        canon_query = "&".join(
            f"{urllib.parse.quote(str(k), safe='-_.~')}="
            f"{urllib.parse.quote(str(v), safe='-_.~')}"
            for k, v in sorted(query.items()))
        hdrs = {"host": host, "x-amz-date": amz_date,
                "x-amz-content-sha256": payload}
        for k, v in (headers or {}).items():
            hdrs[k.lower()] = str(v)
        signed = sorted(hdrs)
        canon_headers = "".join(f"{k}:{hdrs[k].strip()}\n" for k in signed)
        creq = "\n".join([method, canon_path, canon_query, canon_headers,
                          ";".join(signed), payload])
        scope = f"{day}/{self.region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        hdrs["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={';'.join(signed)}, Signature={sig}")
        url = canon_path + (f"?{canon_query}" if canon_query else "")
        conn = http.client.HTTPConnection("127.0.0.1", self.s3_port, timeout=30)
        try:
            conn.request(method, url, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def _s3_ok(self, what, status, body):
        if status >= 300:
            raise AssertionError(f"S3 {what}: HTTP {status}: {body[:500]!r}")

    def buckets(self):
        """Names of all buckets, sorted."""
        status, _, body = self.s3("GET", "/")
        self._s3_ok("list buckets", status, body)
        root = ET.fromstring(body)
        return sorted(n.text for b in root.iter() if _local(b.tag) == "Bucket"
                      for n in b if _local(n.tag) == "Name")

    def objects(self, bucket, prefix=""):
        """Keys of the objects of a bucket (ListObjectsV2, all pages)."""
        keys, token = [], None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            status, _, body = self.s3("GET", f"/{bucket}", query=q)
            self._s3_ok(f"list {bucket}", status, body)
            root = ET.fromstring(body)
            for c in root:
                if _local(c.tag) == "Contents":
                    keys.extend(k.text for k in c if _local(k.tag) == "Key")
            trunc = [e.text for e in root if _local(e.tag) == "IsTruncated"]
            nxt = [e.text for e in root if _local(e.tag) == "NextContinuationToken"]
            if trunc and trunc[0] == "true" and nxt:
                token = nxt[0]
                continue
            return sorted(keys)

    def site_objects(self, bucket, prefix=""):
        """The bucket's keys but pressctl's ownership mark (.press-owner,
        docs/state.md "Ownership"): what the site stored."""
        return [k for k in self.objects(bucket, prefix) if k != ".press-owner"]

    def bucket_exists(self, bucket):
        return self.s3("HEAD", f"/{bucket}")[0] == 200

    def put_object(self, bucket, key, data):
        status, _, body = self.s3("PUT", f"/{bucket}/{key}", body=data)
        self._s3_ok(f"put {bucket}/{key}", status, body)

    def get_object(self, bucket, key):
        """The object's bytes, or None when it does not exist."""
        status, _, body = self.s3("GET", f"/{bucket}/{key}")
        if status == 404:
            return None
        self._s3_ok(f"get {bucket}/{key}", status, body)
        return body

    def create_bucket(self, bucket):
        status, _, body = self.s3("PUT", f"/{bucket}")
        self._s3_ok(f"create bucket {bucket}", status, body)

    # --- Caddy -------------------------------------------------------------

    def caddy(self, method, path, body=None):
        """One request to Caddy's admin API (path from /config/ or /id/);
        body is JSON-encoded. Returns (status, decoded JSON or None)."""
        import json
        data = None if body is None else json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.caddy_admin_port,
                                          timeout=30)
        try:
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw) if raw.strip() else None
        except ValueError:
            return resp.status, raw.decode(errors="replace")

    def ingress_get(self, host, path="/", port=None, timeout=30):
        """GET path on the ingress port (port, default ingress_port) with
        the Host header host, as a browser that resolves host to this
        machine would send it. Returns (status, headers dict with lowercase
        keys, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.ingress_port,
                                          timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            return (resp.status, {k.lower(): v for k, v in resp.getheaders()},
                    resp.read())
        finally:
            conn.close()

    # --- Docker ------------------------------------------------------------

    def docker(self, *args, check=True, input=None, timeout=120):
        """Run the docker CLI against the private engine; returns stripped
        stdout (or the CompletedProcess when check=False)."""
        proc = subprocess.run(
            ["docker", "-H", self.docker_host, *map(str, args)],
            capture_output=True, text=True, input=input, timeout=timeout,
            env={**os.environ, "DOCKER_CONFIG": str(self.dir / "docker-config")})
        if not check:
            return proc
        if proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(map(str, args))} failed "
                                 f"(exit {proc.returncode}):\n{proc.stderr}")
        return proc.stdout.strip()

    def containers(self, *filters, all=True):
        """Names of containers (all, or running only), sorted; filters are
        docker ps filters such as 'label=press.site=demo'."""
        args = ["ps", "--format", "{{.Names}}"]
        if all:
            args.append("-a")
        for f in filters:
            args += ["--filter", f]
        out = self.docker(*args)
        return sorted(out.splitlines()) if out else []

    # --- lifecycle ---------------------------------------------------------

    def _script(self, *args, timeout=180):
        return subprocess.run([str(SERVICES_SH), *args, str(self.dir)],
                              env=self.script_env(), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self):
        proc = self._script("start")
        if proc.returncode != 0:
            raise ServicesError(
                f"scripts/services.sh start {self.dir} failed "
                f"(exit {proc.returncode}):\n{proc.stderr}")
        proc = subprocess.run([str(TEST_IMAGE_SH), self.docker_sock],
                              capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL,
                              env={**os.environ,
                                   "DOCKER_CONFIG": str(self.dir / "docker-config")})
        if proc.returncode != 0:
            raise ServicesError(f"scripts/test-image.sh failed "
                                f"(exit {proc.returncode}):\n{proc.stderr}\n"
                                + self.log_tail("dockerd"))
        self.docker("network", "create", self.network)
        if not self.master_key.exists():
            fd = os.open(self.master_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(os.urandom(32)).decode() + "\n")

    def stop(self, remove=True):
        """Stop the three services (safe to repeat). With remove (and
        without PRESS_KEEP_SERVICES=1), first delete every container and
        network of the engine, whose bridges would otherwise outlive it,
        then the directory (scripts/services.sh destroy)."""
        if self._stopped:
            return
        self._stopped = True
        if not self.dir.exists():
            return
        keep = not remove or os.environ.get("PRESS_KEEP_SERVICES") == "1"
        what = "stop" if keep else "destroy"
        proc = self._script(what)
        if proc.returncode != 0:
            raise ServicesError(f"scripts/services.sh {what} {self.dir} failed "
                                f"(exit {proc.returncode}):\n{proc.stderr}")


def start_services(attempts=3):
    """Start the backends in a new directory under /tmp; returns Services.
    Retries on fresh ports when one was taken meanwhile; raises
    ServicesError (with the log tails) when they cannot start."""
    errors = []
    for attempt in range(attempts):
        # Not pytest's tmp_path: its parents are 0700, and PostgreSQL runs as
        # user postgres, which must reach its data directory.
        directory = tempfile.mkdtemp(prefix="press-it-", dir="/tmp")
        os.chmod(directory, 0o755)
        taken = set()
        for _ in range(4):
            p = free_port()
            while p in taken:
                p = free_port()
            taken.add(p)
        s3_port, pg_port, caddy_admin_port, ingress_port = sorted(taken)
        svc = Services(directory, pg_port, s3_port, free_port_block(),
                       caddy_admin_port, ingress_port)
        try:
            svc.start()
        except (ServicesError, AssertionError, subprocess.TimeoutExpired) as e:
            msg = str(e)
            try:
                svc.stop(remove=False)
            except ServicesError as stop_error:
                msg += "\n" + str(stop_error)
            if (("already in use" in msg or "EADDRINUSE" in msg)
                    and attempt + 1 < attempts):
                shutil.rmtree(directory, ignore_errors=True)
                errors.append(f"attempt {attempt + 1}: a port was taken; retrying")
                continue
            errors.append(msg + f"\n(logs kept in {directory}/logs)")
            raise ServicesError("\n".join(errors)) from None
        atexit.register(svc.stop)
        return svc
    raise ServicesError("\n".join(errors))


@pytest.fixture(scope="session")
def services():
    """Session-wide private PostgreSQL, s3rver and dockerd (see module doc)."""
    t0 = time.monotonic()
    svc, error = None, None
    try:
        svc = start_services()
    except ServicesError as e:
        error = str(e)
    if svc is None:
        pytest.fail(f"the live test backends did not start:\n{error}", pytrace=False)
    svc.start_seconds = time.monotonic() - t0
    try:
        yield svc
    finally:
        svc.stop()


def write_platform(directory, services, prefix="fcs-test", name="test",
                   network=None, ports=None, master_key=None,
                   filename="platform.yaml", ingress=False):
    """Write a Platform manifest pointing at the session's services into
    directory/filename; returns its Path. Secrets are references: pressctl
    needs services.env_vars() in its environment. network defaults to the
    prefix, ports to the session's whole block, master_key to the session's
    key file; with ingress, the platform routes its Domains through the
    session's Caddy."""
    first, last = ports or services.ports
    path = Path(directory) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""\
apiVersion: press/v1
kind: Platform
metadata:
  name: {name}
spec:
  postgres:
    dsn: {{env: PRESS_PG_DSN}}
    maxConnections: 8
  s3:
    endpoint: "{services.s3_endpoint}"
    region: {services.region}
    accessKey: {{env: PRESS_S3_ACCESS_KEY}}
    secretKey: {{env: PRESS_S3_SECRET_KEY}}
  runtime:
    driver: docker
    socket: "{services.docker_sock}"
    network: {network or prefix}
  naming:
    prefix: {prefix}
  ports:
    from: {first}
    to: {last}
  secrets:
    masterKey: {{file: "{master_key or services.master_key}"}}
""" + (f"""\
  ingress:
    driver: caddy
    admin: "{services.caddy_admin}"
    http: {services.ingress_port}
""" if ingress else ""), encoding="utf-8")
    return path
