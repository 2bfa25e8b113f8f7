"""Helpers of test_converge.py: a platform under test, the live state of
PostgreSQL, S3 and Docker as the tests read it, and the values pressctl
derives (passwords, names) computed independently in Python.

Every platform a test creates has its own name, naming prefix and slice of
host ports (services.take_ports), and its sites have names no other test
uses: schemas and roles are named <site>_<env> without the prefix, so two
tests declaring the same site would share them in the session's database.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

import helpers
from helpers import describe
from services import write_platform

PLAN_SCHEMA = helpers.REPO / "schema" / "plan.schema.json"

# The variables through which each app profile hands a container its
# database and S3 settings (reconciler/manifest/profile.c; docs/design.md §6).
PROFILE_VARS = {
    "frappe": dict(host="DB_HOST", port="DB_PORT", name="DB_NAME",
                   schema="DB_SCHEMA", user="DB_USER", password="DB_PASSWORD",
                   bucket="S3_BUCKET", endpoint="S3_ENDPOINT", region="S3_REGION"),
    "odoo": dict(host="HOST", port="PORT", name="PGDATABASE",
                 schema="PRESS_DB_SCHEMA", user="USER", password="PASSWORD",
                 bucket="PRESS_S3_BUCKET", endpoint="PRESS_S3_ENDPOINT",
                 region="PRESS_S3_REGION"),
    "wordpress": dict(host="WORDPRESS_DB_HOST", port="PRESS_DB_PORT",
                      name="WORDPRESS_DB_NAME", schema="PRESS_DB_SCHEMA",
                      user="WORDPRESS_DB_USER", password="WORDPRESS_DB_PASSWORD",
                      bucket="PRESS_S3_BUCKET", endpoint="PRESS_S3_ENDPOINT",
                      region="PRESS_S3_REGION"),
    "generic": dict(host="PRESS_DB_HOST", port="PRESS_DB_PORT", name="PRESS_DB_NAME",
                    schema="PRESS_DB_SCHEMA", user="PRESS_DB_USER",
                    password="PRESS_DB_PASSWORD", bucket="PRESS_S3_BUCKET",
                    endpoint="PRESS_S3_ENDPOINT", region="PRESS_S3_REGION"),
}


# --- derived values ------------------------------------------------------------

def master_key_bytes(services):
    """The master key as pressctl uses it: the file's bytes with one
    trailing newline removed (docs/manifest.md, {file: PATH})."""
    key = Path(services.master_key).read_bytes()
    return key[:-1] if key.endswith(b"\n") else key


def derived_password(services, schema, generation=1):
    """base64url without padding of HMAC-SHA256(masterKey,
    "pg:<schema>:<generation>") (docs/design.md §3, docs/operations.md)."""
    mac = hmac.new(master_key_bytes(services),
                   f"pg:{schema}:{generation}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


def clock(days=0):
    """An RFC 3339 UTC time `days` from now, for PRESSCTL_NOW."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def lit(s):
    """An SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


# --- manifests -------------------------------------------------------------------

def dump(path, *docs):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False), encoding="utf-8")
    return path


def site_doc(name, image="local/press-test-app:1", app="generic", timeout=20,
             env=None, **spec):
    s = {"app": app, "image": image, "port": 8080,
         "health": {"path": "/healthz", "timeoutSeconds": timeout}}
    if env:
        s["env"] = env
    s.update(spec)
    return {"apiVersion": "press/v1", "kind": "Site",
            "metadata": {"name": name}, "spec": s}


def env_doc(site, name, stage="staging", **spec):
    return {"apiVersion": "press/v1", "kind": "Environment",
            "metadata": {"name": name},
            "spec": {"site": site, "stage": stage, **spec}}


# --- a platform under test -----------------------------------------------------

class Platform:
    """A config directory with its own Platform, and pressctl run on it.

    Every output of pressctl is kept (self.outputs) so that a test can
    check at its end that no secret ever appeared in any of them."""

    def __init__(self, services, binary, root, name, prefix, nports=10,
                 safety=None, extra_platform="", env=None):
        self.services = services
        self.binary = binary
        self.name = name
        self.prefix = prefix
        self.src = Path(root) / "src"
        self.src.mkdir(parents=True, exist_ok=True)
        self.ports = services.take_ports(nports)
        self.extra_env = dict(env or {})
        self.outputs = []
        self.secrets = [master_key_bytes(services).decode(), services.secret_key]
        # All platforms share the session's network: a Docker network is a
        # host bridge and an address pool, both scarce (and a private engine
        # that stops leaves its bridges behind).
        write_platform(self.src, services, prefix=prefix, name=name, ports=self.ports,
                       network=services.network)
        text = ""
        if safety:
            text += "  safety:\n" + "".join(f"    {k}: {v}\n" for k, v in safety.items())
        text += extra_platform
        if text:
            p = self.src / "platform.yaml"
            p.write_text(p.read_text(encoding="utf-8") + text, encoding="utf-8")

    # running pressctl

    def run(self, *args, env=None, timeout=180, src=True):
        full = list(args)
        if src:
            full.insert(1, str(self.src))
        proc = helpers.run(self.binary, *full,
                           env={**self.services.env_vars(), **self.extra_env, **(env or {})},
                           timeout=timeout)
        self.outputs.append(proc.stdout + "\n" + proc.stderr)
        return proc

    def apply(self, *args, expect=0, env=None):
        t0 = time.monotonic()
        proc = self.run("apply", *args, env=env)
        proc.elapsed = time.monotonic() - t0
        if expect is not None:
            assert proc.returncode == expect, f"apply should exit {expect}" + describe(proc)
        return proc

    def plan(self, *args, env=None):
        return self.run("plan", *args, env=env)

    def plan_json(self, *args, env=None):
        """`plan --format json`: the parsed plan, validated against
        schema/plan.schema.json."""
        import jsonschema
        proc = self.run("plan", "--format", "json", *args, env=env)
        assert proc.returncode in (0, 2, 3), "plan --format json failed" + describe(proc)
        try:
            plan = json.loads(proc.stdout)
        except ValueError as e:
            raise AssertionError(f"plan --format json did not print JSON ({e})"
                                 + describe(proc))
        schema = json.loads(PLAN_SCHEMA.read_text(encoding="utf-8"))
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(plan),
                        key=lambda e: list(e.absolute_path))
        assert not errors, ("plan JSON does not match schema/plan.schema.json:\n"
                            + "\n".join(f"{list(e.absolute_path)}: {e.message}"
                                        for e in errors) + describe(proc))
        return plan

    def assert_converged(self, env=None):
        proc = self.plan("--detailed-exitcode", env=env)
        assert proc.returncode == 0, "plan --detailed-exitcode should exit 0 after apply" + describe(proc)

    def status_json(self, env=None):
        proc = self.run("status", "--format", "json", env=env)
        assert proc.returncode == 0, "status --format json failed" + describe(proc)
        return json.loads(proc.stdout)

    def add_secret(self, *values):
        self.secrets.extend(values)

    def assert_no_secrets(self, roles=()):
        """No output of pressctl in this test held the master key, the S3
        secret key, a derived password of `roles` or an added secret."""
        secrets = list(self.secrets) + [derived_password(self.services, r) for r in roles]
        for out in self.outputs:
            for s in secrets:
                assert s not in out, (f"a secret ({s[:3]}…, {len(s)} characters) "
                                      f"appeared in pressctl's output:\n{out[-3000:]}")

    # live state

    def journal_count(self):
        return int(self.services.psql(
            f"SELECT count(*) FROM pressctl.journal WHERE platform = {lit(self.name)}"))

    def containers(self):
        """{name: info} of every container carrying this platform's label."""
        return {n: container(self.services, n) for n in
                self.services.containers(f"label=press.platform={self.name}")}

    def allocations(self, owner):
        """{slot: port} of a container's host ports."""
        return {int(s): int(p) for s, p in self.services.psql_rows(
            f"SELECT slot, port FROM pressctl.allocations WHERE platform = {lit(self.name)}"
            f" AND owner = {lit(owner)}")}


# --- Docker ----------------------------------------------------------------------

def container(services, name):
    """docker inspect of a container as a dict, or None when it does not
    exist."""
    proc = services.docker("inspect", "--type", "container", name, check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)[0]


def host_port(info, container_port=8080):
    binds = (info["HostConfig"].get("PortBindings") or {}).get(f"{container_port}/tcp")
    assert binds, f"container {info['Name']} publishes no port {container_port}"
    return int(binds[0]["HostPort"])


def env_of(info):
    return dict(e.split("=", 1) for e in info["Config"]["Env"] or [])


def address(info, network):
    """A container's address on network (behind an ingress, containers
    publish no host port: the host reaches them there)."""
    return info["NetworkSettings"]["Networks"][network]["IPAddress"]


def http_get(port, path="/", timeout=5, tries=1, host="127.0.0.1"):
    """(status, body) of GET http://host:port/path; None when nothing
    answers."""
    for i in range(tries):
        try:
            with urllib.request.urlopen(f"http://{host}:{port}{path}",
                                        timeout=timeout) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except OSError:
            if i + 1 < tries:
                time.sleep(0.3)
    return None


def cgi_env(port, host="127.0.0.1"):
    """What the test image's /cgi-bin/env reports: {NAME: value}."""
    got = http_get(port, "/cgi-bin/env", tries=10, host=host)
    assert got and got[0] == 200, f"GET {host}:{port}/cgi-bin/env answered {got!r}"
    out = {}
    for line in got[1].splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


# --- PostgreSQL ------------------------------------------------------------------

def role_row(services, role):
    """pg_roles facts of a role, or None."""
    rows = services.psql_rows(
        "SELECT rolcanlogin, rolconnlimit, rolsuper, rolcreatedb, rolcreaterole, "
        f"rolreplication, rolbypassrls FROM pg_roles WHERE rolname = {lit(role)}")
    if not rows:
        return None
    r = rows[0]
    return {"login": r[0] == "t", "connlimit": int(r[1]),
            "elevated": [n for n, v in zip(("super", "createdb", "createrole",
                                            "replication", "bypassrls"), r[2:])
                         if v == "t"]}


def schema_owner(services, schema):
    out = services.psql(
        f"SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = {lit(schema)}")
    return out or None


def schema_grants(services, schema):
    """{grantee: set of privileges} of a schema's effective ACL (the
    default ACL when nspacl is NULL); the public pseudo-role is 'PUBLIC'."""
    rows = services.psql_rows(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
        "a.privilege_type FROM pg_namespace n, "
        "aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
        f"WHERE n.nspname = {lit(schema)}")
    out = {}
    for grantee, priv in rows:
        out.setdefault(grantee.strip('"'), set()).add(priv)
    return out


def schema_exists(services, schema):
    return services.psql(
        f"SELECT count(*) FROM pg_namespace WHERE nspname = {lit(schema)}") == "1"


def psql_as(services, role, password, sql, db="press"):
    """Run one statement as `role`, logged in over TCP with `password`
    (scram-sha-256): the CompletedProcess."""
    return subprocess.run(
        ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
         "-p", str(services.pg_port), "-U", role, "-d", db, "-c", sql],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"})


# --- S3 ----------------------------------------------------------------------------

def empty_and_delete_bucket(services, bucket):
    for key in services.objects(bucket):
        status, _, body = services.s3("DELETE", f"/{bucket}/{key}")
        assert status in (200, 204), f"delete {bucket}/{key}: {status} {body[:200]!r}"
    status, _, body = services.s3("DELETE", f"/{bucket}")
    assert status in (200, 204), f"delete bucket {bucket}: {status} {body[:200]!r}"
    assert bucket not in services.buckets()
