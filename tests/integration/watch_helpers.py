"""Helpers of test_watch.py: `pressctl watch` run in the background, its
HTTP endpoints, its JSON log, and fast looks at the live state.

A :class:`Watcher` is one `pressctl watch` process: its standard error
(JSON lines, since it is not a terminal) goes to a file that the test reads
while it runs, its HTTP server listens on a free loopback port. Use it
through :func:`watching`, which waits for /healthz before handing it out
and, when the block ends, sends SIGTERM and checks that the process exits
0 within a few seconds (unless the test killed it itself).

Docker is read through the engine's API on its unix socket rather than the
docker CLI: a test that measures how fast something converges polls
often, and one CLI call costs tens of milliseconds.
"""

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import helpers

SANITIZER_MARKS = helpers.SANITIZER_MARKS
STOP_SECONDS = 10.0      # SIGTERM -> exit, when the block ends


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.02):
    """Call pred until it returns something true or timeout seconds pass:
    (seconds it took, value), or (None, last value) on timeout."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        value = pred()
        if value:
            return time.monotonic() - t0, value
        if time.monotonic() >= deadline:
            return None, value
        time.sleep(interval)


# --- the watcher -------------------------------------------------------------

class Watcher:
    """One `pressctl watch` process (see the module doc)."""

    def __init__(self, binary, args, env, log, cwd, port=None):
        self.port = port or free_port()
        self.argv = [binary, "watch", *map(str, args),
                     "--listen", f"127.0.0.1:{self.port}"]
        self.env = helpers.clean_env(env)
        self.log_path = Path(log)
        self.cwd = str(cwd)
        self.proc = None
        self.killed = False          # killed on purpose: no exit check
        self.returncode = None

    # process

    def start(self, timeout=20):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        took, ok = wait_until(lambda: self.proc.poll() is not None
                              or self.status("/healthz") == 200, timeout, 0.05)
        assert self.proc.poll() is None, \
            f"pressctl watch exited {self.proc.returncode} at start" + self.describe()
        assert took is not None, f"/healthz did not answer 200 within {timeout} s" \
            + self.describe()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=STOP_SECONDS):
        """SIGTERM, then wait: (exit status, seconds it took). SIGKILL and
        an assertion when it does not end within timeout."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"pressctl watch did not exit within {timeout} s "
                                 "of SIGTERM" + self.describe())
        self.returncode = rc
        return rc, time.monotonic() - t0

    def kill9(self):
        self.killed = True
        self.proc.kill()
        self.returncode = self.proc.wait()

    def cpu_seconds(self):
        """utime + stime of the process (all its threads), in seconds."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state): utime and stime are fields 14, 15.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # log

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def records(self):
        """Every line of the log parsed as JSON (a line that is not JSON
        becomes {"raw": line})."""
        out = []
        for line in self.log_text().splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                rec = {"raw": line}
            out.append(rec if isinstance(rec, dict) else {"raw": line})
        return out

    def mark(self):
        """A position in the log: records after it are new."""
        return len(self.records())

    def find(self, pred, after=0):
        return [r for r in self.records()[after:] if pred(r)]

    def wait_record(self, pred, timeout, after=0):
        """The first record after `after` matching pred; fails the test
        when none comes within timeout."""
        took, got = wait_until(lambda: self.find(pred, after), timeout, 0.05)
        assert took is not None, (f"no matching log record within {timeout} s"
                                  + self.describe())
        return got[0]

    def reconciled(self, after=0, trigger=None):
        return self.find(lambda r: r.get("message") == "reconciled"
                         and (trigger is None or r.get("trigger") == trigger), after)

    def wait_reconciled(self, timeout=60, after=0, trigger=None, ok=True):
        """The first "reconciled" record after `after` (with that trigger);
        with ok, it must report no failed action."""
        rec = self.wait_record(lambda r: r.get("message") == "reconciled"
                               and (trigger is None or r.get("trigger") == trigger),
                               timeout, after)
        if ok:
            assert rec.get("level") == "info" and rec.get("failed") == 0, \
                f"the pass failed: {rec}" + self.describe()
        return rec

    def wait_quiet(self, quiet=1.0, timeout=30):
        """Wait until the log has not grown for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self.log_path.stat().st_size
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)
        raise AssertionError(f"the watcher's log did not go quiet within {timeout} s"
                             + self.describe())

    def is_leader_logged(self):
        return bool(self.find(lambda r: str(r.get("message", "")).startswith("leader")))

    def check_log(self):
        """Every line a JSON object with time, level and message; no
        sanitizer report."""
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            assert mark not in text, "sanitizer report in the watcher's log" + self.describe()
        for rec in self.records():
            assert "raw" not in rec, (f"a log line that is not a JSON object: "
                                      f"{rec['raw']!r}" + self.describe())
            for k in ("time", "level", "message"):
                assert k in rec, f"log record without {k}: {rec}"

    def describe(self, n=60):
        lines = self.log_text().splitlines() if self.log_path.exists() else []
        state = ("running" if self.proc and self.proc.poll() is None
                 else f"exit {self.proc.returncode if self.proc else '?'}")
        return (f"\n$ {' '.join(self.argv)}\n({state}, pid "
                f"{self.proc.pid if self.proc else '?'})\n--- last {n} lines of "
                f"{self.log_path}:\n" + "\n".join(lines[-n:]))

    # HTTP

    def request(self, method, path, body=None, headers=None, timeout=10):
        """(status, headers, body text); (None, {}, error) when nothing
        answers."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, \
                r.read().decode(errors="replace")
        except OSError as e:
            return None, {}, str(e)
        finally:
            conn.close()

    def status(self, path):
        return self.request("GET", path, timeout=2)[0]

    def readyz(self):
        s, _, body = self.request("GET", "/readyz", timeout=5)
        return s, body

    def metrics_text(self):
        s, h, body = self.request("GET", "/metrics")
        assert s == 200, f"GET /metrics answered {s}: {body}" + self.describe()
        assert h.get("content-type", "").startswith("text/plain; version=0.0.4"), h
        return body

    def metrics(self):
        """{(sample name, frozenset of label pairs): value}, parsed by
        prometheus_client's parser; plus the families under key
        "families" as {name: type}."""
        from prometheus_client.parser import text_string_to_metric_families
        text = self.metrics_text()
        out, fams = {}, {}
        for fam in text_string_to_metric_families(text):
            fams[fam.name] = fam.type
            for s in fam.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        out["families"] = fams
        return out

    def post_hook(self, body, secret=None, delivery=None, event="push",
                  signature=None):
        """POST /hooks/git as GitHub sends it: (status, body text)."""
        body = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": "application/json", "X-GitHub-Event": event}
        if signature is None and secret is not None:
            signature = "sha256=" + hmac.new(secret.encode(), body,
                                             hashlib.sha256).hexdigest()
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        if delivery is not None:
            headers["X-GitHub-Delivery"] = delivery
        s, _, text = self.request("POST", "/hooks/git", body=body, headers=headers)
        return s, text


def post_raw(port, path, body, headers, chunked=False, timeout=10):
    """POST over a plain socket, for bodies the server may refuse before
    reading them (http.client fails with a broken pipe there): the head,
    then as much of the body as the server takes, then the answer.
    (status, body text), or (None, error) when no answer came. chunked
    sends the body without Content-Length, in chunks."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked
                else f"Content-Length: {len(body)}")
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            step = 64 << 10
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except OSError:
            pass                  # refused early: the answer is waiting
        data = b""
        try:
            while True:
                got = s.recv(65536)
                if not got:
                    break
                data += got
        except OSError as e:
            if not data:
                return None, str(e)
    finally:
        s.close()
    if not data.startswith(b"HTTP/1."):
        return None, data[:200].decode(errors="replace")
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")


def sample(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def sample_sum(metrics, name):
    return sum(v for k, v in metrics.items()
               if k != "families" and k[0] == name)


@contextlib.contextmanager
def watching(binary, args, env, tmp_path, name="watch", port=None):
    """Start `pressctl watch ARGS --listen 127.0.0.1:PORT` (cwd tmp_path,
    log tmp_path/NAME.log) and wait for /healthz; at the end, SIGTERM and
    exit 0 within a few seconds, and a log of JSON lines."""
    w = Watcher(binary, args, env, Path(tmp_path) / f"{name}.log", tmp_path, port)
    try:
        w.start()
    except BaseException:
        if w.proc and w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()
        raise
    try:
        yield w
    except BaseException:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
            try:
                w.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
        print(w.describe(200))
        raise
    if not w.killed:
        if w.proc.poll() is None:
            rc, took = w.stop()
            assert rc == 0, f"SIGTERM: pressctl watch exited {rc}" + w.describe()
            assert took < STOP_SECONDS
        else:
            assert w.proc.returncode == 0, \
                f"pressctl watch exited {w.proc.returncode}" + w.describe()
    w.check_log()


# --- live state, fast --------------------------------------------------------

class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def inspect(services, name):
    """GET /containers/NAME/json of the session's engine: the dict, or
    None when there is no such container."""
    conn = _UnixHTTP(services.docker_sock)
    try:
        conn.request("GET", f"/containers/{urllib.parse.quote(name)}/json")
        r = conn.getresponse()
        body = r.read()
        if r.status == 404:
            return None
        assert r.status == 200, f"docker inspect {name}: {r.status} {body[:300]!r}"
        return json.loads(body)
    finally:
        conn.close()


def running(services, name):
    """The inspect dict of a running container, else None."""
    info = inspect(services, name)
    return info if info and info["State"]["Running"] else None


def label(info, key):
    return ((info or {}).get("Config") or {}).get("Labels", {}).get(key)


def schema_exists(services, schema):
    return services.psql(
        f"SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'") == "1"


def has_create(services, schema):
    """Does the environment's role hold CREATE on its schema (the grant
    pressctl gives it)?"""
    return services.psql(
        f"SELECT has_schema_privilege('{schema}', '{schema}', 'CREATE')") == "t"


# --- a config repository served by a bare repository with hooks ----------------

class ConfigRepo:
    """A work tree (an existing directory) pushing to a bare repository
    SERVER, with the git CLI isolated from the user's configuration."""

    def __init__(self, tmp_path, work):
        self.tmp = Path(tmp_path)
        self.work = Path(work)
        self.server = self.tmp / "server.git"
        self.env = helpers.clean_env({
            "HOME": str(self.tmp), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CEILING_DIRECTORIES": str(self.tmp),
            "GIT_AUTHOR_NAME": "pressctl tests", "GIT_AUTHOR_EMAIL": "tests@example.com",
            "GIT_COMMITTER_NAME": "pressctl tests",
            "GIT_COMMITTER_EMAIL": "tests@example.com",
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "init.defaultBranch",
            "GIT_CONFIG_VALUE_0": "main"})
        self.git(self.tmp, "init", "-q", "--bare", self.server)
        self.git(self.tmp, "init", "-q", self.work)

    def git(self, cwd, *args, check=True):
        proc = subprocess.run(["git", *map(str, args)], cwd=str(cwd), env=self.env,
                              capture_output=True, text=True, timeout=120)
        for mark in SANITIZER_MARKS:
            assert mark not in proc.stderr, "sanitizer report" + helpers.describe(proc)
        if check:
            assert proc.returncode == 0, helpers.describe(proc)
        return proc

    def commit(self, message):
        self.git(self.work, "add", "-A")
        self.git(self.work, "commit", "-q", "-m", message)
        return self.git(self.work, "rev-parse", "HEAD").stdout.strip()

    def push(self):
        """`git push SERVER main`: the CompletedProcess, with .elapsed."""
        t0 = time.monotonic()
        proc = self.git(self.work, "push", self.server, "main", check=False)
        proc.elapsed = time.monotonic() - t0
        return proc

    def server_ref(self):
        proc = self.git(self.server, "rev-parse", "--verify", "-q", "main", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None
