"""The soak of `pressctl watch` (docs/reliability.md "Soak"; `make soak`).

Not collected by `make integration` (the file name does not start with
test_): `make soak` names it. One watcher runs for PRESS_SOAK_SECONDS
(default 3,600) against a platform of PRESS_SOAK_ENVS environments
(default 100) in a config repository with pressctl's hooks installed,
while a seeded random schedule (PRESS_SOAK_SEED) does what operators and
hosts do to it:

- push: a commit that flips one environment's image (a blue/green
  rollout), adds an environment or removes one the soak added (a soft
  delete), pushed to the repository; the push's hook wakes the watcher.
  Latency: from the end of `git push` to the first "reconciled" log record
  of that revision with no failed action, and the live container then
  carries that revision;
- rm: `docker rm -f` of a managed container; latency: until a container
  of that name runs again;
- burst: 30 signed webhook deliveries at once;
- restart: PostgreSQL, s3rver or dockerd stopped and started again; the
  next event waits until /readyz is 200.

Between events it idles 0.5 to 6 s. Every 2 s it samples the watcher's
resident memory and open descriptors (/proc). After the first
PRESS_SOAK_WARMUP seconds (default a sixth of the run), it judges:

- RSS: no sample after the warm-up above the warm-up's highest by more
  than 10 %;
- descriptors: the count the watcher rests at (the most frequent one
  sampled) no higher after the warm-up than during it (the highest
  counts belong to passes in flight, with their backend connections,
  and say nothing of a leak);
- p99 of push -> converged under 2 s;
- every event converged within its timeout, the watcher never exited,
  and at the end the live state is exactly the desired set.

The report (percentiles, RSS and descriptor series, counts) is printed
and written as JSON to PRESS_SOAK_REPORT (default build/soak.json).
"""

import json
import os
import random
import threading
import time
import uuid
from pathlib import Path

import helpers
import resilience_helpers as R
from helpers import describe, run
from watch_helpers import ConfigRepo, label, running, watching

SECONDS = float(os.environ.get("PRESS_SOAK_SECONDS", "3600"))
ENVS = int(os.environ.get("PRESS_SOAK_ENVS", "100"))
SEED = int(os.environ.get("PRESS_SOAK_SEED", "1"))
WARMUP = float(os.environ.get("PRESS_SOAK_WARMUP", str(SECONDS / 6)))
REPORT = Path(os.environ.get("PRESS_SOAK_REPORT",
                             str(helpers.REPO / "build" / "soak.json")))
SAMPLE_EVERY = 2.0
BURST = 30
PUSH_P99 = 2.0          # acceptance: p99 push -> converged under 2 s
RSS_GROWTH = 0.10       # acceptance: no growth beyond 10 % after warm-up
WEIGHTS = {"push": 55, "rm": 25, "burst": 12, "restart": 8}
RESTARTS = {"postgres": 3, "s3": 3, "docker": 1}
TIMEOUT = {"push": 120, "rm": 120, "burst": 120, "restart": 300}
QUICK = ["--debounce", "100ms", "--resync", "600s"]


# --- the watcher's log, read as it grows ----------------------------------

class LogTail:
    """The JSON records of a growing log file, read incrementally."""

    def __init__(self, path):
        self.path = Path(path)
        self.pos = 0
        self.buf = b""
        self.records = []

    def poll(self):
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            chunk = f.read()
        self.pos += len(chunk)
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                self.records.append(rec)
        return len(self.records)

    def wait(self, pred, after, timeout):
        """(seconds, record) of the first record after index `after`
        matching pred, polled every 10 ms; (None, None) on timeout."""
        t0 = time.monotonic()
        i = after
        while True:
            self.poll()
            while i < len(self.records):
                if pred(self.records[i]):
                    return time.monotonic() - t0, self.records[i]
                i += 1
            if time.monotonic() - t0 > timeout:
                return None, None
            time.sleep(0.01)


def reconciled_at(revision):
    return lambda r: (r.get("message") == "reconciled" and r.get("failed") == 0
                      and str(r.get("revision", "")).startswith(revision[:12]))


# --- samples of the watcher's process -------------------------------------

def proc_sample(pid):
    """(RSS in KiB, open descriptors) of a process."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Sampler(threading.Thread):
    def __init__(self, pid, t0):
        super().__init__(daemon=True)
        self.pid, self.t0 = pid, t0
        self.samples = []           # (seconds since start, rss KiB, fds)
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(SAMPLE_EVERY):
            try:
                rss, fds = proc_sample(self.pid)
            except OSError:
                return
            self.samples.append((time.monotonic() - self.t0, rss, fds))


def percentile(values, p):
    """The nearest-rank percentile (p in 0..100) of a list."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def mode(values):
    """The most frequent value (the lowest of equals), or None."""
    if not values:
        return None
    return min(set(values), key=lambda v: (-values.count(v), v))


def summary(values):
    return {"n": len(values), "p50": percentile(values, 50),
            "p90": percentile(values, 90), "p99": percentile(values, 99),
            "max": max(values) if values else None}


# --- the soak -------------------------------------------------------------

def alive(services, name):
    """The inspect dict of a running container, else None; None as well
    when the engine does not answer in time (it is being restarted, or
    busy): the caller polls again."""
    try:
        return running(services, name)
    except (OSError, AssertionError, ValueError):
        return None


class Soak:
    def __init__(self, services, pressctl, tmp_path):
        self.services, self.pressctl = services, pressctl
        self.rng = random.Random(SEED)
        self.token = f"sk{SEED % 100:02d}"
        self.name = self.prefix = f"soak{SEED % 100:02d}"
        self.envs = R.make_envs(self.token, ENVS, per_site=5)
        self.added = []             # environments the soak added (may remove)
        self.removed = []           # soft-deleted: their data stays
        self.next_add = 0
        self.config = Path(tmp_path) / "config"
        self.ports = R.port_block(services, 2 * (ENVS + 40))
        self.px = R.Pressctl(pressctl, services, self.config)
        self.repo = None
        self.lat = {"push": [], "rm": [], "burst": [], "restart": []}
        self.by_kind = {}
        self.failures = []
        self.quiet_fds = []         # (seconds, fds) after an event converged
        self.secret = os.urandom(16).hex()

    def write(self):
        R.write_config(self.config, self.services, name=self.name, prefix=self.prefix,
                       ports=self.ports, envs=self.envs, timeout=30)

    def fail(self, what):
        print(f"soak: FAILED {what}", flush=True)
        self.failures.append(what)

    # events

    def push(self, w, tail):
        kinds = ["image"] * 6 + ["add"] * 2 + (["remove"] * 2 if self.added else [])
        kind = self.rng.choice(kinds)
        if kind == "image":
            e = self.rng.choice(self.envs)
            e.image = R.IMAGE2 if e.image == R.IMAGE1 else R.IMAGE1
            target = e
        elif kind == "add":
            target = R.Env(f"{self.token}x{self.next_add // 5:02d}", f"a{self.next_add % 5}")
            self.next_add += 1
            self.envs.append(target)
            self.added.append(target)
        else:
            target = self.added.pop(self.rng.randrange(len(self.added)))
            self.envs.remove(target)
            self.removed.append(target)
        self.write()
        head = self.repo.commit(f"soak: {kind} {target.id}")
        after = tail.poll()
        proc = self.repo.push()
        if proc.returncode != 0:
            self.fail(f"push of {kind} {target.id} refused" + describe(proc))
            return None
        took, rec = tail.wait(reconciled_at(head), after, TIMEOUT["push"])
        if took is None:
            self.fail(f"push {kind} {target.id}: no converged pass of {head[:12]} "
                      f"within {TIMEOUT['push']} s")
            return None
        name = target.containers(self.prefix)[0]
        info = alive(self.services, name)
        if kind == "remove":
            if info:
                self.fail(f"push remove {target.id}: {name} still runs after the pass")
        elif not info or label(info, "press.revision") != head:
            self.fail(f"push {kind} {target.id}: {name} does not run revision "
                      f"{head[:12]} after the pass")
        return f"push-{kind}", took

    def rm(self, w, tail):
        e = self.rng.choice(self.envs)
        name = e.containers(self.prefix)[0]
        self.services.docker("rm", "-f", name, check=False)
        t0 = time.monotonic()
        while time.monotonic() - t0 < TIMEOUT["rm"]:
            info = alive(self.services, name)
            if info:
                return "rm", time.monotonic() - t0
            time.sleep(0.02)
        self.fail(f"rm -f {name}: not running again within {TIMEOUT['rm']} s")
        return None

    def burst(self, w, tail):
        head = self.repo.server_ref()
        body = json.dumps({"ref": "refs/heads/main", "after": head})
        after = tail.poll()
        t0 = time.monotonic()
        for _ in range(BURST):
            status, text = w.post_hook(body, secret=self.secret,
                                       delivery=str(uuid.uuid4()))
            if status not in (200, 202):
                self.fail(f"webhook answered {status}: {text[:200]}")
                return None
        took, rec = tail.wait(lambda r: r.get("message") == "reconciled"
                              and r.get("trigger") == "webhook", after,
                              TIMEOUT["burst"])
        if took is None:
            self.fail(f"webhook burst: no pass within {TIMEOUT['burst']} s")
            return None
        took = time.monotonic() - t0
        time.sleep(1.0)
        tail.poll()
        passes = sum(1 for r in tail.records[after:]
                     if r.get("message") == "reconciled" and r.get("trigger") == "webhook")
        self.burst_passes.append(passes)
        return "burst", took

    def restart(self, w, tail):
        backend = self.rng.choices(list(RESTARTS), weights=list(RESTARTS.values()))[0]
        before = [c for e in self.envs for c in e.containers(self.prefix)]
        pid = R.stop_backend(self.services, backend)
        time.sleep(self.rng.uniform(1, 10))
        R.restart_backend(self.services, backend, pid=pid,
                          containers=before if backend == "docker" else ())
        t0 = time.monotonic()
        while time.monotonic() - t0 < TIMEOUT["restart"]:
            if w.status("/readyz") == 200 and (
                    backend != "docker" or all(alive(self.services, c) for c in before)):
                return f"restart-{backend}", time.monotonic() - t0
            time.sleep(0.1)
        self.fail(f"restart of {backend}: not ready within {TIMEOUT['restart']} s"
                  + w.describe(20))
        return None

    # the run

    def go(self, tmp_path):
        self.write()
        self.repo = ConfigRepo(tmp_path, self.config)
        self.repo.commit(f"soak: {ENVS} environments")
        proc = run(self.pressctl, "hook", "install", self.repo.server)
        assert proc.returncode == 0, describe(proc)
        proc = self.repo.push()
        assert proc.returncode == 0, describe(proc)
        self.burst_passes = []
        env = {**self.services.env_vars(), "PRESS_SOAK_HOOK_SECRET": self.secret}
        t_setup = time.monotonic()
        with watching(self.pressctl, ["--git", self.repo.server, *QUICK,
                                      "--webhook-secret", "env:PRESS_SOAK_HOOK_SECRET"],
                      env, tmp_path, "soak") as w:
            tail = LogTail(w.log_path)
            took, rec = tail.wait(reconciled_at(self.repo.server_ref()), 0, 1800)
            assert took is not None, "the first pass did not converge" + w.describe()
            print(f"soak: {ENVS} environments converged in "
                  f"{time.monotonic() - t_setup:.1f} s; soaking {SECONDS:.0f} s "
                  f"(seed {SEED}, warm-up {WARMUP:.0f} s)", flush=True)
            t0 = time.monotonic()
            sampler = Sampler(w.pid, t0)
            sampler.start()
            events = 0
            try:
                while time.monotonic() - t0 < SECONDS:
                    if not w.alive():
                        self.fail(f"the watcher exited {w.proc.returncode}")
                        break
                    kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
                    got = getattr(self, kind)(w, tail)
                    events += 1
                    if got:
                        sub, took = got
                        self.lat[kind].append(took)
                        self.by_kind.setdefault(sub, []).append(took)
                        # At rest: wait for the pass an event may still
                        # cause, then count descriptors.
                        time.sleep(0.5)
                        try:
                            self.quiet_fds.append((time.monotonic() - t0,
                                                   proc_sample(w.pid)[1]))
                        except OSError:
                            pass
                    if len(self.failures) > 20:
                        break
                    if events % 25 == 0:
                        self.progress(t0, sampler, events)
                    time.sleep(self.rng.uniform(0.5, 6.0))
            finally:
                sampler.stopping.set()
                sampler.join()
            elapsed = time.monotonic() - t0
            assert w.alive(), "the watcher exited" + w.describe()
            # The end: what is live is exactly what the repository says.
            took, rec = tail.wait(reconciled_at(self.repo.server_ref()), 0, 1)
            R.assert_converged(self.px, self.services, name=self.name, prefix=self.prefix,
                               token=self.token, envs=self.envs, kept=self.removed)
        return self.report(elapsed, events, sampler.samples)

    def progress(self, t0, sampler, events):
        s = sampler.samples[-1] if sampler.samples else (0, 0, 0)
        push = self.lat["push"]
        print(f"soak: {time.monotonic() - t0:7.0f} s, {events} events, "
              f"{len(self.envs)} environments, RSS {s[1] / 1024:.1f} MiB, {s[2]} fds, "
              f"push p50 {percentile(push, 50) or 0:.2f} s "
              f"p99 {percentile(push, 99) or 0:.2f} s", flush=True)

    def report(self, elapsed, events, samples):
        warm = [s for s in samples if s[0] <= WARMUP]
        late = [s for s in samples if s[0] > WARMUP]
        rss_base = max(s[1] for s in warm) if warm else None
        rss_late = max(s[1] for s in late) if late else None
        quiet_warm = [f for t, f in self.quiet_fds if t <= WARMUP]
        quiet_late = [f for t, f in self.quiet_fds if t > WARMUP]
        fds_warm = [s[2] for s in warm]
        fds_late = [s[2] for s in late]
        slope = None
        if len(late) >= 2:
            n = len(late)
            mt = sum(s[0] for s in late) / n
            mr = sum(s[1] for s in late) / n
            var = sum((s[0] - mt) ** 2 for s in late)
            if var:
                slope = sum((s[0] - mt) * (s[1] - mr) for s in late) / var * 3600 / 1024
        rep = {
            "seconds": round(elapsed, 1), "seed": SEED, "environments": ENVS,
            "environments_at_end": len(self.envs), "events": events,
            "warmup_seconds": WARMUP,
            "latency": {k: summary(v) for k, v in {**self.lat, **self.by_kind}.items()},
            "webhook_burst_passes": self.burst_passes,
            "rss_kib": {"warmup_max": rss_base, "after_max": rss_late,
                        "first": samples[0][1] if samples else None,
                        "last": samples[-1][1] if samples else None,
                        "after_slope_mib_per_hour": slope},
            "fds": {"warmup_mode": mode(fds_warm), "after_mode": mode(fds_late),
                    "after_min": min(fds_late, default=None),
                    "warmup_max_at_rest": max(quiet_warm) if quiet_warm else None,
                    "after_max_at_rest": max(quiet_late) if quiet_late else None,
                    "max_sampled": max((s[2] for s in samples), default=None),
                    "first": samples[0][2] if samples else None,
                    "last": samples[-1][2] if samples else None},
            "samples": samples,
            "failures": self.failures,
        }
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(rep, indent=1) + "\n")
        print("\nsoak report (" + str(REPORT) + "):")
        print(f"  {elapsed:.0f} s, {events} events, seed {SEED}, "
              f"{ENVS} environments ({len(self.envs)} at the end)")
        for k, v in rep["latency"].items():
            if v["n"]:
                print(f"  {k:16s} n={v['n']:4d}  p50 {v['p50']:.3f} s  p90 {v['p90']:.3f} s"
                      f"  p99 {v['p99']:.3f} s  max {v['max']:.3f} s")
        if self.burst_passes:
            print(f"  webhook bursts of {BURST}: passes each {self.burst_passes}")
        r = rep["rss_kib"]
        if r["warmup_max"] and r["after_max"]:
            print(f"  RSS: warm-up max {r['warmup_max'] / 1024:.1f} MiB, after "
                  f"max {r['after_max'] / 1024:.1f} MiB "
                  f"({(r['after_max'] / r['warmup_max'] - 1) * 100:+.1f} %), "
                  f"slope after warm-up {slope or 0:+.2f} MiB/h")
        f = rep["fds"]
        print(f"  descriptors: resting at {f['warmup_mode']} in the warm-up, "
              f"{f['after_mode']} after it (lowest {f['after_min']}); after events "
              f"up to {f['warmup_max_at_rest']} then {f['after_max_at_rest']}; "
              f"sampled max {f['max_sampled']}")
        return rep


def test_soak(services, pressctl, tmp_path):
    soak = Soak(services, pressctl, tmp_path)
    try:
        rep = soak.go(tmp_path)
    finally:
        R.remove_platform_containers(services, soak.name)
    assert not rep["failures"], "events that did not converge:\n" + "\n".join(rep["failures"])
    r, f = rep["rss_kib"], rep["fds"]
    assert r["warmup_max"] and r["after_max"], "no RSS samples on both sides of the warm-up"
    assert r["after_max"] <= r["warmup_max"] * (1 + RSS_GROWTH), \
        f"RSS grew beyond {RSS_GROWTH:.0%} after the warm-up: {r}"
    assert f["warmup_mode"] is not None and f["after_mode"] is not None
    assert f["after_mode"] <= f["warmup_mode"], \
        f"open descriptors grew after the warm-up: {f}"
    p99 = rep["latency"]["push"]["p99"]
    assert p99 is not None and p99 < PUSH_P99, \
        f"p99 push -> converged {p99} s, want < {PUSH_P99} s"
