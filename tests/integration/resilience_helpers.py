"""Helpers of test_resilience.py: platforms of many environments, running
pressctl in the background, and looking at what is live.

A platform here is one Platform manifest (services.write_platform) plus a
file of Sites and Environments written from a list of :class:`Env`. Live
names follow docs/design.md §3 (docs/manifest.md "Derived live names"):

    schema, role   <site>_<env> with '-' -> '_'
    bucket         <prefix>-<site>-<env>
    container      <prefix>-<site>-<env>  (one replica)

Schemas and roles live in the one shared database, so every test uses its
own site names (a per-test token), not only its own prefix and platform
name.
"""

import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import helpers
from services import PORT_AREA, free_port_block, write_platform

IMAGE1 = "local/press-test-app:1"
IMAGE2 = "local/press-test-app:2"


@dataclass
class Env:
    site: str
    name: str
    image: str = IMAGE1
    replicas: int = 1
    stage: str = "development"

    @property
    def id(self):
        return f"{self.site}/{self.name}"

    @property
    def schema(self):
        return f"{self.site}_{self.name}".replace("-", "_")

    role = schema

    def bucket(self, prefix):
        return f"{prefix}-{self.site}-{self.name}"

    def containers(self, prefix):
        base = f"{prefix}-{self.site}-{self.name}"
        if self.replicas == 1:
            return [base]
        return [f"{base}-{i}" for i in range(1, self.replicas + 1)]


# --- host ports --------------------------------------------------------------

_taken_blocks = []


def port_block(services, n):
    """(first, last): n host ports of our own for one platform.

    The session's block (services.ports, 200 ports) is shared by every test
    file, and a container holds two ports (its blue/green slots), so a
    platform of 50 environments alone would need half of it. Our blocks
    are taken elsewhere in the same area below the ephemeral range: free
    now, and overlapping neither the session's block nor a block handed
    out earlier in this process."""
    for _ in range(200):
        first, last = free_port_block(n, PORT_AREA)
        clash = [(a, b) for a, b in [tuple(services.ports), *_taken_blocks]
                 if first <= b and a <= last]
        if not clash:
            _taken_blocks.append((first, last))
            return first, last
    raise AssertionError(f"no free block of {n} host ports in {PORT_AREA}")


# --- manifests ---------------------------------------------------------------

def write_config(directory, services, *, name, prefix, ports, envs,
                 timeout=10, app="generic"):
    """Write the Platform and the Sites/Environments of envs (a list of
    Env) under directory, replacing any earlier sites file. One Site per
    distinct site name; each Environment carries its image, replicas and a
    health check with timeoutSeconds=timeout."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_platform(directory, services, prefix=prefix, name=name, ports=ports)
    docs = []
    for site in sorted({e.site for e in envs}):
        docs.append(f"""\
apiVersion: press/v1
kind: Site
metadata:
  name: {site}
spec:
  app: {app}
  image: {IMAGE1}
""")
    for e in envs:
        docs.append(f"""\
apiVersion: press/v1
kind: Environment
metadata:
  name: {e.name}
spec:
  site: {e.site}
  stage: {e.stage}
  image: {e.image}
  replicas: {e.replicas}
  health: {{path: /healthz, timeoutSeconds: {timeout}}}
""")
    (directory / "sites.yaml").write_text("---\n".join(docs), encoding="utf-8")
    return directory


def make_envs(token, n, per_site=5, **kw):
    """n environments e<i> spread over sites <token>s<k>, per_site each."""
    out = []
    for i in range(n):
        out.append(Env(f"{token}s{i // per_site:02d}", f"e{i % per_site}", **kw))
    return out


# --- running pressctl --------------------------------------------------------

class Pressctl:
    """pressctl bound to one config directory and the session's services."""

    def __init__(self, binary, services, config):
        self.binary = binary
        self.services = services
        self.config = Path(config)

    def env(self, extra=None):
        return helpers.clean_env({**self.services.env_vars(), **(extra or {})})

    def run(self, *args, timeout=600, extra_env=None):
        """Run `pressctl ARGS` (stdin closed, stderr not a terminal: JSON log
        lines); returns the CompletedProcess plus .seconds."""
        t0 = time.monotonic()
        proc = subprocess.run([self.binary, *map(str, args)], cwd=str(helpers.REPO),
                              env=self.env(extra_env), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        proc.seconds = time.monotonic() - t0
        return proc

    def start(self, *args, extra_env=None):
        """Start `pressctl ARGS` in the background; stdout/stderr go to files
        (read them with :func:`finish`)."""
        out = open(self.config.parent / f"bg-{time.monotonic_ns()}.out", "w+")
        err = open(self.config.parent / f"bg-{time.monotonic_ns()}.err", "w+")
        proc = subprocess.Popen([self.binary, *map(str, args)], cwd=str(helpers.REPO),
                                env=self.env(extra_env), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, text=True)
        proc.out_file, proc.err_file = out, err
        proc.args_text = " ".join(map(str, [self.binary, *args]))
        proc.t0 = time.monotonic()
        return proc

    def apply(self, *extra, **kw):
        return self.run("apply", self.config, *extra, **kw)

    def plan(self, *extra, **kw):
        return self.run("plan", self.config, *extra, **kw)


def finish(proc, timeout=600):
    """Wait for a background pressctl; returns (returncode, stdout, stderr,
    seconds)."""
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    secs = time.monotonic() - proc.t0
    texts = []
    for f in (proc.out_file, proc.err_file):
        f.flush()
        f.seek(0)
        texts.append(f.read())
        f.close()
    return rc, texts[0], texts[1], secs


def describe_bg(args_text, rc, out, err):
    return (f"\n$ {args_text}\nexit {rc}\n--- stdout\n{out[-4000:]}\n"
            f"--- stderr\n{err[-6000:]}")


def kill9(proc):
    """SIGKILL a background pressctl (if it still runs) and reap it."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return finish(proc)


# --- live state ----------------------------------------------------------------

class Live:
    """A snapshot of what one platform has live and recorded."""

    def __init__(self, services, name, prefix, token):
        self.containers = services.containers(f"label=press.platform={name}")
        self.running = services.containers(f"label=press.platform={name}", all=False)
        self.schemas = sorted(r[0] for r in services.psql_rows(
            f"SELECT nspname FROM pg_namespace WHERE nspname LIKE '{token}%'"))
        self.roles = sorted(r[0] for r in services.psql_rows(
            f"SELECT rolname FROM pg_roles WHERE rolname LIKE '{token}%'"))
        self.buckets = [b for b in services.buckets() if b.startswith(prefix + "-")]
        rows = services.psql_rows(
            "SELECT kind, name FROM pressctl.resources "
            f"WHERE platform = '{name}' ORDER BY kind, name")
        self.resources = sorted((k, n) for k, n in rows)
        self.labels = {}
        if self.containers:
            out = services.docker(
                "inspect", "--format",
                '{{.Name}} {{index .Config.Labels "press.env"}} {{.Config.Image}}',
                *self.containers)
            for line in out.splitlines():
                cname, env_id, image = line.split()
                self.labels[cname.lstrip("/")] = (env_id, image)

    def live_set(self):
        """{(kind, name)} of every live object of the platform."""
        return ({("role", r) for r in self.roles} | {("schema", s) for s in self.schemas}
                | {("bucket", b) for b in self.buckets}
                | {("container", c) for c in self.containers})


def desired_set(envs, prefix):
    out = set()
    for e in envs:
        out |= {("role", e.role), ("schema", e.schema), ("bucket", e.bucket(prefix))}
        out |= {("container", c) for c in e.containers(prefix)}
    return out


def assert_converged(px, services, *, name, prefix, token, envs, kept=(),
                     check=True):
    """The platform's live state is exactly envs (plus the soft-deleted
    environments of kept, whose role/schema/bucket stay), every container
    runs its desired image, pressctl.resources has one row per live object
    and none more, and `plan --detailed-exitcode` finds nothing to do.
    Returns the Live snapshot; with check=False, the list of problems
    instead of failing."""
    live = Live(services, name, prefix, token)
    want = desired_set(envs, prefix)
    data_kept = set()
    for e in kept:
        data_kept |= {("role", e.role), ("schema", e.schema), ("bucket", e.bucket(prefix))}
    have = live.live_set()
    problems = []
    # The backups bucket holds the final backups of soft deletes; it is
    # the platform's, in no plan and no resources row (docs/backup.md).
    have.discard(("bucket", f"{prefix}-backups"))
    for e in kept:
        final = services.psql(
            "SELECT coalesce(final_backup, '') FROM pressctl.deletions "
            f"WHERE platform = '{name}' AND env_id = '{e.id}'")
        if not final:
            problems.append(f"soft-deleted {e.id} has no final backup recorded")
    want_containers = sorted(n for k, n in want if k == "container")
    if live.containers != want_containers:
        problems.append(
            "managed containers differ from the desired set: "
            f"extra {sorted(set(live.containers) - set(want_containers))}, "
            f"missing {sorted(set(want_containers) - set(live.containers))}")
    if live.running != live.containers:
        problems.append(f"not running: {sorted(set(live.containers) - set(live.running))}")
    missing = sorted((want | data_kept) - have)
    if missing:
        problems.append(f"desired objects missing live: {missing}")
    extra = sorted(have - want - data_kept)
    if extra:
        problems.append(f"live objects nothing desires: {extra}")
    images = {e.id: e.image for e in envs}
    wrong = sorted((c, env_id, img) for c, (env_id, img) in live.labels.items()
                   if images.get(env_id) != img)
    if wrong:
        problems.append(f"containers with the wrong image: {wrong}")
    recorded = set(live.resources)
    if len(live.resources) != len(recorded):
        problems.append("duplicate pressctl.resources rows")
    no_live = sorted(recorded - have)
    if no_live:
        problems.append(f"pressctl.resources rows without a live object: {no_live}")
    no_row = sorted(have - recorded)
    if no_row:
        problems.append(f"live objects without a pressctl.resources row: {no_row}")
    plan = px.plan("--detailed-exitcode")
    if plan.returncode != 0:
        problems.append("plan --detailed-exitcode did not exit 0:" + helpers.describe(plan))
    if not check:
        return [f"platform {name}: {p}" for p in problems]
    assert not problems, (f"platform {name} did not converge:\n  - "
                          + "\n  - ".join(problems))
    return live


def journal_interrupted(services, name, since_run=0):
    """[(run_id, action, kind, target)] of the intent rows of this
    platform's runs marked interrupted, with run id > since_run."""
    return [tuple(r) for r in services.psql_rows(
        "SELECT j.run_id, j.action, j.kind, j.target FROM pressctl.journal j "
        "JOIN pressctl.runs r ON r.id = j.run_id "
        f"WHERE r.platform = '{name}' AND r.status = 'interrupted' "
        f"AND j.state = 'intent' AND r.id > {int(since_run)} ORDER BY j.id")]


def dead_run(services, name, command="backup"):
    """Record a run of platform name as a pressctl that died would leave
    it: `running`, its session gone (a pid no backend has). Its id."""
    return int(services.psql_rows(
        "INSERT INTO pressctl.runs (platform, actor, command, status, started_at,"
        " pid, backend_start) VALUES"
        f" ('{name}', 'tests (a process that died)', '{command}', 'running', now(),"
        " 2147483000, now()) RETURNING id")[0][0])


def run_status(services, run_id):
    return services.psql(f"SELECT status FROM pressctl.runs WHERE id = {int(run_id)}")


def runs(services, name):
    """{run id: status} of the platform's runs."""
    return {int(i): s for i, s in services.psql_rows(
        f"SELECT id, status FROM pressctl.runs WHERE platform = '{name}' ORDER BY id")}


def remove_platform_containers(services, name):
    """Remove every container of platform name (test cleanup; frees the
    host ports for the rest of the session)."""
    names = services.containers(f"label=press.platform={name}")
    if names:
        services.docker("rm", "-f", *names, check=False, timeout=300)


def rng(seed_name):
    """A random.Random seeded from PRESS_TEST_SEED (printed) or the time."""
    seed = int(os.environ.get("PRESS_TEST_SEED", "0")) or int(time.time() * 1000) % 10**9
    print(f"{seed_name}: seed {seed} (set PRESS_TEST_SEED={seed} to repeat)")
    return random.Random(seed)


# --- stopping and starting one backend ------------------------------------------
#
# scripts/services.sh starts and stops all three services together; here one
# is stopped the way the script stops it (pg_ctl stop -m fast; SIGTERM to
# s3rver; SIGTERM to dockerd, which stops its containers) and then
# `services.sh start DIR` with the session's settings starts what is not
# running: same ports, same data directories, same socket.

PGBIN = "/usr/lib/postgresql/15/bin"
SERVICES_SH = helpers.REPO / "scripts" / "services.sh"


def _as_pg(cmd):
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _signal(pid, sig):
    if os.geteuid() == 0:
        os.kill(pid, sig)
    else:
        subprocess.run(["sudo", "-n", "kill", f"-{int(sig)}", str(pid)], check=False)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


def _pid_file(path):
    try:
        return int(Path(path).read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def running_containers(services):
    """Names of every running container of the engine (all platforms)."""
    return services.containers(all=False)


def stop_backend(services, backend):
    """Stop one backend now; returns the pid that is going away (None for
    PostgreSQL, which is stopped when this returns)."""
    if backend == "postgres":
        proc = subprocess.run(
            _as_pg([f"{PGBIN}/pg_ctl", "-D", str(services.dir / "pg"), "-m", "fast",
                    "-w", "-t", "60", "stop"]),
            capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"pg_ctl stop failed:\n{proc.stdout}{proc.stderr}"
        return None
    path = (services.dir / "s3rver.pid" if backend == "s3"
            else services.dir / "docker" / "docker.pid")
    pid = _pid_file(path)
    assert pid and _alive(pid), f"no running {backend} (pid file {path})"
    _signal(pid, signal.SIGTERM)
    return pid


def wait_gone(pid, grace):
    """Wait up to grace seconds for a process to end, then SIGKILL it."""
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        _signal(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)


def restart_backend(services, backend, pid=None, containers=()):
    """Wait for a stopped backend's process to end, then start the services
    again as the session started them; for Docker, start again any of the
    containers (of every platform) that ran before and do not now."""
    if pid:
        wait_gone(pid, 90 if backend == "docker" else 10)
    if backend == "docker":
        # services.sh truncates the engine's log when it starts it: keep
        # the log of the shutdown next to it.
        log = services.dir / "logs" / "dockerd.log"
        if log.exists():
            shutil.copyfile(log, log.with_name(f"dockerd.{int(time.time())}.log"))
    t0 = time.monotonic()
    proc = subprocess.run([str(SERVICES_SH), "start", str(services.dir)],
                          env=services.script_env(), capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (f"scripts/services.sh start failed:\n{proc.stderr}\n"
                                  + services.log_tail("dockerd" if backend == "docker"
                                                      else "postgres" if backend == "postgres"
                                                      else "s3rver"))
    if containers:
        down = sorted(set(containers) - set(running_containers(services)))
        if down:
            services.docker("start", *down, check=False, timeout=300)
    print(f"{backend}: started again in {time.monotonic() - t0:.1f} s")
