"""The backends' floor of a no-op plan (issue 15): what the three backends
take to answer the listings a plan needs, timed in the same run as the
plan, so that "plan / floor" means something on any machine:

- Docker: the platform's containers, one filtered listing
  (GET /containers/json?all=1&filters={"label": ["press.platform=NAME"]}
  on the engine's socket, in this process);
- S3: the bucket listing (GET / with SigV4, in this process);
- PostgreSQL: a connection and one catalog query over roles and schemas
  with their comments (the wire protocol spoken here, trust
  authentication as the benchmark's private cluster has: no psql process
  start in the figure; pressctl's own figure includes its connection
  too).

floor_once() runs the three at once (threads), as pressctl observes the
backends at once, and returns each one's time and the wall time of all
three. Standard library only.
"""

import hashlib
import hmac
import http.client
import json
import socket
import struct
import threading
import time
import urllib.parse

CATALOG_QUERY = (
    "SELECT r.rolname, r.rolcanlogin, r.rolconnlimit, "
    "shobj_description(r.oid, 'pg_authid') FROM pg_roles r; "
    "SELECT n.nspname, pg_get_userbyid(n.nspowner), "
    "obj_description(n.oid, 'pg_namespace') FROM pg_namespace n")


# The same small class as tests/integration/watch_helpers.py's: the
# benchmarks stay standard library only, without the test helpers.
class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def _get(conn, path, what, headers=None):
    """GET path on conn (closed after): the body of a 200 answer."""
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    if r.status != 200:
        raise RuntimeError(f"{what} answered {r.status}: {body[:200]!r}")
    return body


def docker_list(sock, platform):
    """The platform's containers (all states): how many."""
    filters = urllib.parse.quote(json.dumps({"label": [f"press.platform={platform}"]}))
    body = _get(_UnixHTTP(sock), f"/v1.41/containers/json?all=1&filters={filters}",
                "docker list")
    return len(json.loads(body))


def s3_list(port, key, secret, region="us-east-1"):
    """ListBuckets, signed with SigV4 with the keys pressctl is given: how
    many buckets."""
    host = f"127.0.0.1:{port}"
    amzdate = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    date = amzdate[:8]
    payload = hashlib.sha256(b"").hexdigest()
    signed = "host;x-amz-content-sha256;x-amz-date"
    canon = "\n".join(["GET", "/", "", f"host:{host}", f"x-amz-content-sha256:{payload}",
                       f"x-amz-date:{amzdate}", "", signed, payload])
    scope = f"{date}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                     hashlib.sha256(canon.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = (f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, "
            f"Signature={sig}")
    body = _get(http.client.HTTPConnection("127.0.0.1", port, timeout=60), "/",
                "S3 ListBuckets", {"Host": host, "x-amz-date": amzdate,
                                   "x-amz-content-sha256": payload,
                                   "Authorization": auth})
    return body.count(b"<Bucket>")


def catalog_query(pg_port, db="press", user="postgres"):
    """Connect (protocol 3.0, trust) and run CATALOG_QUERY as a simple
    query: the data rows read."""
    s = socket.create_connection(("127.0.0.1", pg_port), timeout=60)
    f = s.makefile("rb")

    def message():
        kind = f.read(1)
        if not kind:
            raise RuntimeError("PostgreSQL closed the connection")
        (n,) = struct.unpack("!I", f.read(4))
        return kind, f.read(n - 4)

    def until_ready():
        rows = 0
        while True:
            kind, body = message()
            if kind == b"E":
                raise RuntimeError(f"PostgreSQL: {body[:200]!r}")
            if kind == b"R" and struct.unpack("!I", body[:4])[0] != 0:
                raise RuntimeError("PostgreSQL asks for a password (the floor "
                                   "needs trust authentication)")
            if kind == b"D":
                rows += 1
            if kind == b"Z":
                return rows

    try:
        params = f"user\0{user}\0database\0{db}\0\0".encode()
        s.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
        until_ready()
        q = CATALOG_QUERY.encode() + b"\0"
        s.sendall(b"Q" + struct.pack("!I", len(q) + 4) + q)
        rows = until_ready()
        s.sendall(b"X" + struct.pack("!I", 4))
    finally:
        f.close()
        s.close()
    return rows


def floor_once(docker_sock, platform, s3_port, s3_keys, pg_port):
    """The three listings at once (s3_keys: the access and secret keys
    pressctl runs with): ({"docker": s, "s3": s, "catalog": s}, wall
    seconds of all three, {name: objects seen})."""
    calls = {"docker": lambda: docker_list(docker_sock, platform),
             "s3": lambda: s3_list(s3_port, *s3_keys),
             "catalog": lambda: catalog_query(pg_port)}
    took, seen, errors = {}, {}, []

    def one(name, fn):
        t0 = time.perf_counter()
        try:
            seen[name] = fn()
        except Exception as e:  # reported by the caller
            errors.append(f"{name}: {e}")
        took[name] = time.perf_counter() - t0

    threads = [threading.Thread(target=one, args=item) for item in calls.items()]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError("; ".join(errors))
    return took, wall, seen
