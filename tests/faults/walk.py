#!/usr/bin/python3
"""The fault-injection walk (docs/reliability.md): for each operation,
count the calls of each family and their call sites in a clean run, then
make the Nth call of a family fail (PRESSCTL_TEST_FAULT=KIND:N,
reconciler/util/fault.c) for N = the first call of every call site (so
that every site's error path runs) and, with --stride K, N = 1, 1 + K,
... over every call (K = 1: all of them), and check each run:

- it ends with an exit code of pressctl (0, 1, 3 or 4), not a signal
  nor a sanitizer report, and a failure says what failed on stderr;
- a clean rerun of the same operation converges: apply and watch leave
  `plan --detailed-exitcode` at 0; every backup listed after a backup,
  restore or promotion verifies; the schema a restore replaces is the old
  one or the restored one, never missing; a promotion commit names a
  pre-promotion backup that verifies;
- the journal accounts for every intent: none left `intent` in a run not
  marked `interrupted`, no run left `running`.

Then it prints a report: per operation and kind, the runs, the calls of
a clean run, the call sites reached (where a failure was injected, out of
those a clean run calls), and the outcomes. It exits 1 on any crash,
sanitizer report, silent failure or unconverged rerun.

Usage (the make target `faults` runs it with the sanitized build):

    PRESSCTL=build/san/bin/pressctl tests/faults/walk.py
        [--ops apply-create,apply-update,backup,restore,promote,watch]
        [--kinds pq-connect,pq-exec,...] [--no-sites] [--stride K]
        [--end K]... [--cap M] [--no-regressions]
        [--report FILE.json]

It starts its own PostgreSQL, s3rver, dockerd and Caddy (the integration
harness's tests/integration/services.py) and stops them at the end.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import helpers  # noqa: E402
from backup_helpers import fill, policy_doc, table_sums  # noqa: E402
from converge_helpers import dump, env_doc, site_doc  # noqa: E402
from services import write_platform  # noqa: E402

# What PRESSCTL_TEST_FAULT may name, and the family each one counts on
# (the names of fault.c's log).
KINDS = {
    "pq-connect": "pq-connect", "pq-exec": "pq", "pq-result": "pq",
    "curl": "curl", "http500": "curl", "http503": "curl", "http404": "curl",
    "http403": "curl", "http409": "curl",
    "open": "open", "read": "read", "write": "write", "rename": "rename",
    "fsync": "fsync", "malloc": "malloc",
}
OPS = ["apply-create", "apply-update", "backup", "restore", "promote", "watch"]
# pressctl's exit codes (docs/man/pressctl.md); 2 is plan's alone.
CLEAN_EXITS = {0, 1, 3, 4}
IMAGE2 = "local/press-test-app:2"


def later(minutes=120):
    import datetime
    t = (datetime.datetime.now(datetime.timezone.utc)
         + datetime.timedelta(minutes=minutes))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(rc, out, err):
    return f"exit {rc}\n--- stdout\n{out[-1500:]}\n--- stderr\n{err[-3000:]}"


def error_text(err, out=""):
    """The failure pressctl reported: its `error:` lines, the error
    fields of its JSON log lines, and the evidence of the guards that
    refused (promote --format json prints them on stdout)."""
    found = []
    try:
        doc = json.loads(out) if out.lstrip().startswith("{") else {}
    except ValueError:
        doc = {}
    for g in doc.get("guards", []) if isinstance(doc, dict) else []:
        if not g.get("pass"):
            found.append(f"guard {g.get('name')}: {g.get('evidence', {}).get('text', '')}")
    for line in err.splitlines():
        if line.startswith("{"):
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("level") == "error" or j.get("outcome") == "failed":
                found.append(str(j.get("error") or j.get("msg") or ""))
        elif "error" in line or "fatal" in line:
            found.append(line.strip())
    return [f for f in found if f.strip()]


class Runner:
    """pressctl with the session's services, one sanitizer directory per
    run, and the fault variables."""

    def __init__(self, services, binary, work):
        self.services = services
        self.binary = str(binary)
        self.work = Path(work)
        self.seq = 0

    def run(self, args, fault=None, log=None, extra=None, timeout=240):
        """(rc, stdout, stderr, sanitizer reports (text or ''))."""
        self.seq += 1
        san = self.work / f"san-{self.seq}"
        san.mkdir(parents=True, exist_ok=True)
        env = {**self.services.env_vars(), **(extra or {}),
               "ASAN_OPTIONS": (f"exitcode={helpers.ASAN_EXIT}:detect_leaks=1:"
                                f"log_path={san}/asan"),
               "UBSAN_OPTIONS": (f"exitcode={helpers.UBSAN_EXIT}:halt_on_error=1:"
                                 f"print_stacktrace=1:log_path={san}/ubsan"),
               "LSAN_OPTIONS": f"exitcode={helpers.ASAN_EXIT}"}
        if fault:
            env["PRESSCTL_TEST_FAULT"] = fault
        if log:
            env["PRESSCTL_TEST_FAULT_LOG"] = str(log)
        try:
            proc = subprocess.run([self.binary, *map(str, args)], cwd=str(helpers.REPO),
                                  env=helpers.clean_env(env), capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as e:
            rc = "timeout"
            out, err = (x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                        for x in (e.stdout, e.stderr))
        reports = "".join(p.read_text(errors="replace") for p in sorted(san.iterdir()))
        shutil.rmtree(san, ignore_errors=True)
        return rc, out, err, reports


# --- the platforms the operations run on -----------------------------------------

class Scenario:
    """One operation: prepare() makes the state it starts from (once, or
    for every run when fresh is set), command() is the operation,
    before()/after() check what it left, rerun() converges it again and
    checks, cleanup() removes what a fresh platform made."""

    fresh = False

    def __init__(self, walk, tag):
        self.walk, self.tag = walk, tag
        self.services = walk.services
        self.ports = walk.ports

    def platform(self, name, docs, extra_platform=""):
        src = self.walk.work / name / "src"
        if src.exists():
            shutil.rmtree(src.parent)
        src.mkdir(parents=True)
        write_platform(src, self.services, prefix=name, name=name, ports=self.ports,
                       network=self.services.network)
        if extra_platform:
            p = src / "platform.yaml"
            p.write_text(p.read_text(encoding="utf-8") + extra_platform, encoding="utf-8")
        for fname, doc in docs:
            dump(src / fname, doc)
        return src

    def clean(self, args, what, extra=None):
        rc, out, err, rep = self.walk.runner.run(args, extra=extra)
        if rc != 0 or rep:
            raise RuntimeError(f"{what} failed in a clean run:\n" + describe(rc, out, err)
                               + rep[-3000:])
        return out

    def journal_problems(self, name, closer=None):
        """What the journal does not account for. With closer (a config
        directory), a run still `running` is first given to the next
        command that holds the apply lock, `apply` (or a watch pass),
        which closes a run whose process is gone as `interrupted`
        (docs/state.md): a `backup run` or `promote` that could not
        record its own end leaves that to it."""
        s = self.services
        if closer is not None and s.psql(
                f"SELECT count(*) FROM pressctl.runs WHERE platform = '{name}' "
                "AND status = 'running'") != "0":
            rc, out, err, rep = self.walk.runner.run(["apply", closer, "--parallel", "1"])
            if rc != 0 or rep:
                return ["the apply after the rerun failed:\n" + describe(rc, out, err)
                        + rep[-2000:]]
        open_ = s.psql(
            "SELECT count(*) FROM pressctl.journal j JOIN pressctl.runs r "
            f"ON r.id = j.run_id WHERE r.platform = '{name}' AND j.state = 'intent' "
            "AND r.status <> 'interrupted'")
        running = s.psql(f"SELECT count(*) FROM pressctl.runs WHERE platform = '{name}' "
                         "AND status = 'running'")
        out = []
        if open_ != "0":
            out.append(f"{open_} journal intent(s) open in runs not marked interrupted")
        if running != "0":
            out.append(f"{running} run(s) still 'running'")
        return out

    def plan_clean(self, src):
        rc, out, err, rep = self.walk.runner.run(["plan", src, "--detailed-exitcode"])
        if rc != 0 or rep:
            return ["plan --detailed-exitcode did not exit 0:\n" + describe(rc, out, err)
                    + rep[-2000:]]
        return []

    def drop_platform(self, name, schemas):
        from resilience_helpers import remove_platform_containers
        remove_platform_containers(self.services, name)
        sql = "".join(f'DROP SCHEMA IF EXISTS "{x}" CASCADE; DROP ROLE IF EXISTS "{x}"; '
                      for x in schemas)
        sql += f"DELETE FROM pressctl.allocations WHERE platform = '{name}';"
        self.services.psql(sql)

    def before(self, ctx):
        return []

    def after(self, ctx):
        return []

    def cleanup(self, ctx):
        pass


class ApplyCreate(Scenario):
    """apply of a small platform from nothing: one site, one production
    environment (role, schema, bucket, container)."""

    fresh = True

    def prepare(self, i):
        name = f"{self.tag}{i}" if i >= 0 else f"{self.tag}w{-i}"
        src = self.platform(name, [("site.yaml", site_doc(name, timeout=20)),
                                   ("prod.yaml", env_doc(name, "prod", stage="production"))])
        return {"name": name, "src": src}

    def command(self, ctx):
        return ["apply", ctx["src"], "--parallel", "1"]

    def rerun(self, ctx):
        # An apply, also after a watch pass.
        rc, out, err, rep = self.walk.runner.run(["apply", ctx["src"], "--parallel", "1"])
        if rc != 0 or rep:
            return ["the clean rerun failed:\n" + describe(rc, out, err) + rep[-2000:]]
        return self.plan_clean(ctx["src"]) + self.journal_problems(ctx["name"])

    def cleanup(self, ctx):
        self.drop_platform(ctx["name"], [f"{ctx['name']}_prod"])


class ApplyUpdate(ApplyCreate):
    """apply of a change: a new image (the container's blue/green
    rollout) and a new connection limit (the role's update)."""

    def prepare(self, i):
        ctx = super().prepare(i)
        self.clean(["apply", ctx["src"], "--parallel", "1"], "the first apply")
        dump(ctx["src"] / "prod.yaml",
             env_doc(ctx["name"], "prod", stage="production", image=IMAGE2,
                     database={"connectionLimit": 7}))
        return ctx


class Watch(ApplyCreate):
    """One pass of `pressctl watch` (PRESSCTL_TEST_WATCH_PASSES=1) over a
    new platform: what it leaves must converge like an apply."""

    env = {"PRESSCTL_TEST_WATCH_PASSES": "1"}

    def command(self, ctx):
        return ["watch", ctx["src"], "--listen", "none", "--resync", "1h",
                "--parallel", "1", "--cache", str(self.walk.work / "cache")]


class Backup(Scenario):
    """`backup run` of one environment with rows and files, on a platform
    made once. A backup listed afterwards that was not listed before must
    verify."""

    def prepare(self, i):
        name = self.tag
        src = self.platform(name, [
            ("site.yaml", site_doc(name, timeout=20)),
            ("prod.yaml", env_doc(name, "prod", stage="production")),
            ("copy.yaml", env_doc(name, "copy", stage="staging")),
            ("policy.yaml", policy_doc("daily", {"stage": "production"}))])
        self.clean(["apply", src], "the first apply")
        fill(self.services, f"{name}_prod", rows=400)
        for k in range(3):
            self.services.put_object(f"{name}-{name}-prod", f"files/{k}.bin",
                                     os.urandom(200 + k))
        self.src, self.name, self.env_id = src, name, f"{name}/prod"
        self.verified = set(self.listed())
        return {"name": name, "src": src}

    def listed(self):
        out = self.clean(["backup", "list", self.src, "--env", self.env_id,
                          "--format", "json"], "backup list")
        return [b["id"] for b in json.loads(out)]

    def verify_new(self):
        problems = []
        for bid in self.listed():
            if bid in self.verified:
                continue
            rc, out, err, rep = self.walk.runner.run(
                ["backup", "verify", self.src, "--env", self.env_id, "--backup", bid])
            if rc != 0 or rep:
                problems.append(f"backup {bid} is listed and does not verify:\n"
                                + describe(rc, out, err))
            else:
                self.verified.add(bid)
        return problems

    def command(self, ctx):
        time.sleep(1.05)  # backup ids are one per second
        return ["backup", "run", self.src, "--env", self.env_id]

    def after(self, ctx):
        return self.verify_new()

    def rerun(self, ctx):
        rc, out, err, rep = self.walk.runner.run(self.command(ctx))
        if rc != 0 or rep:
            return ["the clean rerun failed:\n" + describe(rc, out, err) + rep[-2000:]]
        return self.verify_new() + self.journal_problems(self.name, closer=self.src)


class Restore(Backup):
    """`restore --into` another environment of a backup made once: right
    after each run the target schema is the old or the restored one."""

    def prepare(self, i):
        ctx = super().prepare(i)
        self.clean(["backup", "run", self.src, "--env", self.env_id], "the backup")
        self.backup_id = self.listed()[0]
        self.target = f"{self.name}_copy"
        self.want = table_sums(self.services, f"{self.name}_prod")
        return ctx

    def command(self, ctx):
        return ["restore", self.src, self.env_id, "--backup", self.backup_id,
                "--into", f"{self.name}/copy"]

    def sums(self):
        if self.services.psql(f"SELECT count(*) FROM pg_namespace "
                              f"WHERE nspname = '{self.target}'") != "1":
            return None
        return table_sums(self.services, self.target)

    def before(self, ctx):
        ctx["old"] = self.sums()
        return []

    def after(self, ctx):
        now = self.sums()
        if now is None:
            return [f"schema {self.target} is missing after the run"]
        if now not in (ctx["old"], self.want):
            return [f"schema {self.target} is neither the old one nor the restored one"]
        return []

    def rerun(self, ctx):
        rc, out, err, rep = self.walk.runner.run(self.command(ctx))
        if rc != 0 or rep:
            return ["the clean rerun failed:\n" + describe(rc, out, err) + rep[-2000:]]
        problems = self.journal_problems(self.name)
        if self.sums() != self.want:
            problems.append(f"schema {self.target} is not the restored one after a rerun")
        return problems

    def cleanup(self, ctx):
        # The replaced schemas restore keeps aside (docs/backup.md).
        rows = self.services.psql_rows(
            f"SELECT nspname FROM pg_namespace WHERE nspname LIKE '{self.target}__pre_restore_%'")
        if rows:
            self.services.psql("".join(f'DROP SCHEMA "{r[0]}" CASCADE;' for r in rows))


class Promote(Backup):
    """`promote --commit` from staging to production in a git config
    repository made once: a promotion commit always names a backup that
    verifies; after each run the repository is reset to the base commit."""

    def prepare(self, i):
        name = self.tag
        src = self.platform(name, [
            ("site.yaml", site_doc(name, timeout=20)),
            ("prod.yaml", env_doc(name, "prod", stage="production")),
            ("policy.yaml", policy_doc("daily", {"stage": "production"}))])
        self.clean(["apply", src], "the first apply")
        fill(self.services, f"{name}_prod", rows=400)
        dump(src / "prod.yaml", env_doc(name, "prod", stage="production",
                                        promotion={"from": "staging", "minSoakMinutes": 10}))
        dump(src / "staging.yaml", env_doc(name, "staging", stage="staging", image=IMAGE2,
                                           cloneFrom={"environment": "prod"}))
        self.clean(["apply", src], "the apply of staging")
        helpers.git(src, "init", "-q")
        helpers.git_commit_all(src, "platform")
        self.src, self.name, self.env_id = src, name, f"{name}/prod"
        self.base = helpers.git(src, "rev-parse", "HEAD")
        self.verified = set(self.listed())
        return {"name": name, "src": src}

    env = property(lambda self: {"PRESSCTL_NOW": later()})

    def command(self, ctx):
        time.sleep(1.05)  # backup ids are one per second
        return ["promote", self.src, "--from", f"{self.name}/staging",
                "--to", self.env_id, "--commit", "--format", "json"]

    def committed(self):
        """Problems of a promotion commit at HEAD (none when HEAD is the
        base), and whether there is one."""
        head = helpers.git(self.src, "rev-parse", "HEAD")
        if head == self.base:
            return [], False
        out = helpers.git(self.src, "log", "-1", "--format=%(trailers:unfold,only)")
        t = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        bid = t.get("Pre-Promotion-Backup")
        if not bid:
            return ["a promotion commit without a Pre-Promotion-Backup trailer"], True
        problems = self.verify_new()
        if bid not in self.verified:
            problems.append(f"the promotion commit names backup {bid}, which is not "
                            "listed or does not verify")
        return problems, True

    def after(self, ctx):
        problems, ctx["done"] = self.committed()
        return problems + self.verify_new()

    def rerun(self, ctx):
        problems = []
        if not ctx.get("done"):
            rc, out, err, rep = self.walk.runner.run(self.command(ctx),
                                                     extra=self.env)
            if rc != 0 or rep:
                return ["the clean rerun failed:\n" + describe(rc, out, err) + rep[-2000:]]
            problems, done = self.committed()
            if not done:
                problems.append("the clean rerun wrote no promotion commit")
        return problems + self.journal_problems(self.name, closer=self.src)

    def cleanup(self, ctx):
        helpers.git(self.src, "reset", "-q", "--hard", self.base)


# Failures the walk found, run first by every walk (--no-regressions
# leaves them out): (operation, kind, N) or (operation, kind, -K) for the
# Kth call from the end. Fixed; docs/reliability.md, "Bugs it found".
REGRESSIONS = [
    # the journal update after the last action: its intent stayed open
    ("apply-create", "pq-result", -5),
    # a failed read of the backup catalog freed a result twice (state.c
    # do_read)
    ("backup", "pq-result", 12),
]

SCENARIOS = {"apply-create": ApplyCreate, "apply-update": ApplyUpdate,
             "backup": Backup, "restore": Restore, "promote": Promote,
             "watch": Watch}
TAGS = {"apply-create": "fwc", "apply-update": "fwu", "backup": "fwb",
        "restore": "fwr", "promote": "fwp", "watch": "fww"}


# --- the walk ----------------------------------------------------------------------

def parse_log(path):
    """{family: calls}, {family: {site: {"calls", "first"}}} (first: the
    family's count at the site's first call), [(kind, n, site)]."""
    calls, sites, injected = {}, defaultdict(dict), []
    if not Path(path).exists():
        return calls, sites, injected
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if f[0] == "calls":
            calls[f[1]] = int(f[2])
        elif f[0] == "site":
            sites[f[1]][f[2]] = {"calls": int(f[3]), "first": int(f[4])}
        elif f[0] == "injected":
            injected.append((f[1], int(f[2]), f[3]))
    return calls, sites, injected


class Walk:
    def __init__(self, services, binary, work, sites=True, stride=0, cap=0, out=print,
                 ends=(), at=(), tag=""):
        self.services = services
        self.binary = binary
        self.work = Path(work)
        self.runner = Runner(services, binary, self.work)
        self.by_site, self.stride, self.cap, self.out = sites, stride, cap, out
        self.ends, self.at, self.tag = ends, at, tag
        self.ports = services.take_ports(24)
        self.results = []
        self.clean_sites = defaultdict(dict)   # (op, family) -> {site: calls}
        self.symbols = {}

    def op(self, op, kinds):
        sc = SCENARIOS[op](self, self.tag + TAGS[op])
        env = getattr(sc, "env", None)
        # Clean runs: the calls of each family and their sites, counted
        # in the second one. The first does what only a first run does
        # (the state schema's migrations, the backups bucket), which would
        # shift every later call.
        log = self.work / f"{op}-clean.log"
        ctx = None
        for i in (0, 1):
            if sc.fresh or ctx is None:
                ctx = sc.prepare(-1 - i)
            log.unlink(missing_ok=True)
            sc.before(ctx)
            rc, out, err, rep = self.runner.run(sc.command(ctx), log=log, extra=env)
            if rc != 0 or rep:
                raise RuntimeError(f"{op}: a clean run failed:\n" + describe(rc, out, err)
                                   + rep)
            problems = sc.after(ctx)
            if problems:
                raise RuntimeError(f"{op}: a clean run left problems: {problems}")
            sc.cleanup(ctx)
        try:
            self.walk_kinds(sc, env, op, kinds, log)
        finally:
            if not sc.fresh:
                sc.drop_platform(sc.name, [f"{sc.name}_{e}" for e in
                                           ("prod", "copy", "staging")])

    def walk_kinds(self, sc, env, op, kinds, log):
        calls, sites, _ = parse_log(log)
        for fam, s in sites.items():
            self.clean_sites[(op, fam)] = s
        i = 0
        for kind in kinds:
            fam = KINDS[kind]
            total = calls.get(fam, 0)
            res = {"op": op, "kind": kind, "family": fam, "calls": total,
                   "runs": 0, "sites": set(), "outcomes": Counter(), "failures": [],
                   "messages": Counter()}
            self.results.append(res)
            for n in self.points(total, sites.get(fam, {})):
                if self.cap and res["runs"] >= self.cap:
                    break
                i += 1
                self.one(sc, env, op, kind, n, i, res)
            self.out(f"{op:13} {kind:10} calls {total:6}  runs {res['runs']:4}  "
                     f"sites {len(res['sites']):3}/{len(sites.get(fam, {})):3}  "
                     + " ".join(f"{k} {v}" for k, v in sorted(res["outcomes"].items())))

    def points(self, total, sites):
        """The calls to fail, in order: 1, 1 + stride, ... (with a
        stride), the kth call from the end for each k of ends, then (with
        sites) "@ADDR" for every site a clean run reached: the first call
        from that site, whatever its number (PRESSCTL_TEST_FAULT=KIND@ADDR:
        the numbers of some calls depend on timing, the health probes of a
        starting container or the reads of pg_dump's pipes)."""
        want = set()
        if self.stride:
            want |= set(range(1, total + 1, self.stride))
        want |= {total - k + 1 for k in self.ends}
        want |= set(self.at)
        points = sorted(n for n in want if 1 <= n <= total)
        if self.by_site:
            points += [f"@{a}" for a, _ in sorted(sites.items(),
                                                  key=lambda kv: kv[1]["first"])]
        return points

    def one(self, sc, env, op, kind, n, i, res):
        ctx = sc.prepare(i) if sc.fresh else {"name": sc.name, "src": sc.src}
        log = self.work / f"{op}-{kind}-{n}.log"
        log.unlink(missing_ok=True)
        problems = sc.before(ctx)
        spec = f"{kind}{n}" if isinstance(n, str) else f"{kind}:{n}"
        rc, out, err, rep = self.runner.run(sc.command(ctx), fault=spec,
                                            log=log, extra=env)
        _, _, injected = parse_log(log)
        log.unlink(missing_ok=True)
        res["runs"] += 1
        site = injected[0][2] if injected else None
        if site:
            res["sites"].add(site)
        errors = error_text(err, out)
        if rep:
            outcome = "sanitizer"
        elif rc == "timeout" or not isinstance(rc, int) or rc < 0 or rc not in CLEAN_EXITS:
            outcome = "crash"
        elif not injected:
            outcome = "not-reached"
        elif rc == 0 and not errors:
            outcome = "tolerated"
        elif rc == 0:
            outcome = "reported"
        elif errors:
            outcome = "clean-error"
            res["messages"][errors[-1][:160]] += 1
        else:
            outcome = "silent-error"
        problems += sc.after(ctx)
        if outcome in ("crash", "sanitizer"):
            problems.append(f"{outcome}:\n" + describe(rc, out, err) + rep[-4000:])
        elif outcome == "silent-error":
            problems.append(f"exit {rc} without an error message:\n" + describe(rc, out, err))
        try:
            problems += sc.rerun(ctx)
        finally:
            sc.cleanup(ctx)
        if problems:
            outcome = outcome if outcome in ("crash", "sanitizer") else "unconverged"
            res["failures"].append({"n": n, "fault": spec, "site": site,
                                    "problems": problems})
            self.out(f"!! {op} {spec} (site {self.symbol(site)}): "
                     + "\n   ".join(p[:4000] for p in problems))
        res["outcomes"][outcome] += 1

    def symbol(self, addr):
        """function (file:line) of a site address, by addr2line."""
        if not addr:
            return "?"
        if addr not in self.symbols:
            proc = subprocess.run(["addr2line", "-f", "-C", "-e", str(self.binary),
                                   hex(int(addr, 16) - 1)], capture_output=True, text=True)
            lines = proc.stdout.split("\n")
            fn = lines[0] if lines else "?"
            loc = lines[1].replace(str(helpers.REPO) + "/", "") if len(lines) > 1 else "?"
            self.symbols[addr] = f"{fn} ({loc})"
        return self.symbols[addr]

    def report(self):
        """The report (text) and whether the walk passed."""
        lines = ["", "fault-injection walk: " + str(self.binary),
                 f"first call of every site: {'yes' if self.by_site else 'no'}, "
                 f"stride {self.stride or 'none'}, cap {self.cap or 'none'}", "",
                 f"{'operation':13} {'kind':10} {'calls':>6} {'runs':>5} "
                 f"{'sites':>9}  outcomes"]
        ok = True
        total_runs = 0
        reached = defaultdict(set)
        for r in self.results:
            total_runs += r["runs"]
            reached[(r["op"], r["family"])] |= r["sites"]
            n_sites = len(self.clean_sites.get((r["op"], r["family"]), {}))
            lines.append(f"{r['op']:13} {r['kind']:10} {r['calls']:6} {r['runs']:5} "
                         f"{len(r['sites']):4}/{n_sites:<4}  "
                         + ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items())))
            if r["failures"]:
                ok = False
        lines += ["", "call sites reached per operation and family "
                  "(a failure injected there / sites a clean run calls):"]
        for (op, fam), s in sorted(reached.items()):
            clean = self.clean_sites.get((op, fam), {})
            missed = sorted(set(clean) - s)
            lines.append(f"  {op:13} {fam:10} {len(s & set(clean)):3}/{len(clean):<3}"
                         + (f"  not reached: {', '.join(self.symbol(a) for a in missed[:6])}"
                            + (" ..." if len(missed) > 6 else "") if missed else ""))
        bad = Counter()
        for r in self.results:
            for k in ("crash", "sanitizer", "unconverged", "silent-error"):
                bad[k] += r["outcomes"].get(k, 0)
        lines += ["", f"runs {total_runs}; crashes {bad['crash']}, sanitizer reports "
                  f"{bad['sanitizer']}, unconverged reruns {bad['unconverged']}, "
                  f"silent failures {bad['silent-error']}"]
        failures = [(r, f) for r in self.results for f in r["failures"]]
        for r, f in failures[:40]:
            lines.append(f"FAIL {r['op']} {f['fault']} at {self.symbol(f['site'])}: "
                         + f["problems"][0].splitlines()[0])
        return "\n".join(lines), ok and not failures

    def json(self):
        return [{**r, "sites": sorted(self.symbol(s) for s in r["sites"]),
                 "outcomes": dict(r["outcomes"]), "messages": dict(r["messages"])}
                for r in self.results]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--no-sites", action="store_true",
                    help="do not fail the first call of every call site")
    ap.add_argument("--stride", type=int, default=0,
                    help="also fail N = 1, 1+K, 1+2K, ... (1: every call; "
                         "default 0: none)")
    ap.add_argument("--end", type=int, action="append", default=[],
                    help="also fail the Kth call from the end (repeatable)")
    ap.add_argument("--cap", type=int, default=0,
                    help="at most this many runs per operation and kind (0: no cap)")
    ap.add_argument("--no-regressions", action="store_true",
                    help="do not run the recorded cases of bugs found (REGRESSIONS)")
    ap.add_argument("--report", help="also write the results as JSON here")
    a = ap.parse_args()
    binary = os.environ.get("PRESSCTL")
    if not binary or not Path(binary).is_file():
        sys.exit("walk.py: set PRESSCTL to a test build of pressctl (make faults does)")
    ops = [o for o in a.ops.split(",") if o]  # --ops "": the regressions only
    kinds = a.kinds.split(",")
    for o in ops:
        if o not in SCENARIOS:
            sys.exit(f"walk.py: unknown operation {o!r} (one of {', '.join(OPS)})")
    for k in kinds:
        if k not in KINDS:
            sys.exit(f"walk.py: unknown kind {k!r} (one of {', '.join(KINDS)})")
    from services import start_services
    import signal

    def stop(sig, frame):
        raise SystemExit(f"walk.py: signal {sig}: stopping the services")
    signal.signal(signal.SIGTERM, stop)
    t0 = time.monotonic()
    services = start_services()
    work = Path(tempfile.mkdtemp(prefix="press-faults-"))
    walk = Walk(services, Path(binary).resolve(), work, not a.no_sites, a.stride, a.cap,
                out=lambda s: print(s, flush=True), ends=a.end)
    try:
        if not a.no_regressions:
            for op, kind, n in REGRESSIONS:
                case = Walk(services, Path(binary).resolve(), work / "regressions", False,
                            0, 0, out=lambda s: print(s, flush=True),
                            ends=[-n] if n < 0 else [], at=[n] if n > 0 else [],
                            tag="r")
                case.op(op, [kind])
                text, ok = case.report()
                if not ok:
                    print(text)
                    walk.results += [dict(r, op=f"regression {r['op']}")
                                     for r in case.results]
        for o in ops:
            walk.op(o, kinds)
    finally:
        text, ok = walk.report()
        print(text)
        print(f"walk time {time.monotonic() - t0:.0f} s")
        if a.report:
            Path(a.report).write_text(json.dumps(walk.json(), indent=1))
        services.stop()
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
