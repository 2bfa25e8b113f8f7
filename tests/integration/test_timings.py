"""`--timings` on plan, apply and watch passes (issue 15; docs/man/pressctl-plan.md,
pressctl-apply.md, pressctl-watch.md; docs/watch.md "Metrics").

One platform with an environment whose container runs, applied with
`apply --timings`, then planned with and without `--timings`:

- the table on stderr has every phase (start, load, validate, state read,
  observe with a part per backend, diff, render or apply, close, other,
  total), and for apply the actions by kind with their count and slowest
  one, and the time spent waiting for health;
- the phases add up to the total, and the total is within 10% of the
  wall time measured here around the process;
- standard output is byte for byte the same with and without the flag;
- a watcher's /metrics carries the same phases as gauges after its pass;
  a `docker update` of a container's memory wakes it, and it heals the
  limit (containers carry the limits they were created with; only those
  an "update" event names are inspected).

Cheap (about 8 s each on the test machine): one busybox container per
test, one apply, five plans; one watch pass and one rollout.
"""

import os
import re
import time

from converge_helpers import Platform, container, dump, env_doc, site_doc
from helpers import describe
from watch_helpers import sample, watching

SITE = "tmg"
ENVS = ("one",)
TOP = ("start", "load", "validate", "state read", "observe", "diff")
BACKENDS = ("postgres", "s3", "docker")


def parse_timings(stderr):
    """The --timings table: ([(phase, seconds)], {phase: {part: (seconds,
    count, slowest)}}, other, total). Asserts its shape."""
    lines = stderr.splitlines()
    heads = [i for i, l in enumerate(lines) if re.match(r"^timings\s+seconds\s+count\s+slowest$", l)]
    assert len(heads) == 1, f"no timings table (or more than one) on stderr:\n{stderr}"
    phases, parts, current = [], {}, None
    for l in lines[heads[0] + 1:]:
        m = re.match(r"^(  )?(\S.*?)\s+(\d+\.\d{3})(?:\s+(\d+)\s+(\d+\.\d{3}))?$", l)
        assert m, f"a timings line does not parse: {l!r}\n{stderr}"
        indent, name, secs = m.group(1), m.group(2), float(m.group(3))
        if indent:
            assert current and m.group(4), f"a part without its phase or count: {l!r}"
            parts.setdefault(current, {})[name] = (secs, int(m.group(4)), float(m.group(5)))
            assert float(m.group(5)) <= secs + 0.0015, l
        else:
            assert not m.group(4), f"a phase with a count: {l!r}"
            phases.append((name, secs))
            current = name
        if name == "total" and not indent:
            break
    names = [n for n, _ in phases]
    assert names[-2:] == ["other", "total"], names
    return phases[:-2], parts, phases[-2][1], phases[-1][1]


def timed(p, *args):
    """Run pressctl on p; (process, wall seconds measured around it).
    Under AddressSanitizer the leak check runs after exit, outside any
    phase (0.5 s and more here): these runs go without it, and the same
    commands run with it elsewhere in this file."""
    asan = os.environ.get("ASAN_OPTIONS", "").replace("detect_leaks=1", "detect_leaks=0")
    t0 = time.monotonic()
    proc = p.run(*args, env={"ASAN_OPTIONS": asan} if asan else None)
    return proc, time.monotonic() - t0


def sanitized(binary):
    """Is binary built with AddressSanitizer (make SANITIZE=...)? clang
    links its runtime in statically, so ldd does not show it: look for
    the runtime's entry point in the binary itself."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def check_sum(phases, other, total, wall, proc):
    s = sum(v for _, v in phases)
    assert abs(s + other - total) <= 0.002 * (len(phases) + 2), (phases, other, total)
    # The phases claim nearly everything: "other" is small.
    assert other <= 0.1 * total + 0.005, (other, total, describe(proc))
    # Within 10% of the wall time around the process. An instrumented
    # build spends more after its last phase, in exit (AddressSanitizer's
    # own shutdown: 0.1-0.2 s here), which no phase can see: 25% there.
    tolerance = 0.25 if sanitized(proc.args[0]) else 0.1
    assert abs(s - wall) <= tolerance * wall, \
        f"phases sum {s:.3f} s against {wall:.3f} s measured around the process" + describe(proc)
    assert total <= wall + 0.005, (total, wall)


def test_plan_and_apply_timings(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="tm-cli", prefix="tm-cli", nports=4)
    dump(p.src / "site.yaml", site_doc(SITE, timeout=20),
         *[env_doc(SITE, e) for e in ENVS])

    proc, wall = timed(p, "apply", "--timings")
    assert proc.returncode == 0, describe(proc)
    assert " 0 failed, 0 skipped" in proc.stdout, describe(proc)
    phases, parts, other, total = parse_timings(proc.stderr)
    print(f"apply --timings ({wall:.3f} s measured around it):\n"
          + proc.stderr[proc.stderr.index("timings "):])
    names = [n for n, _ in phases]
    assert names == [*TOP, "apply", "render", "close"], names
    assert sorted(parts["observe"]) == sorted(BACKENDS), parts
    # Each backend's own time: its connection opens while the state is
    # read, its observation runs in the observe phase.
    window = dict(phases)["state read"] + dict(phases)["observe"]
    for b in BACKENDS:
        assert 0 < parts["observe"][b][0] <= window + 0.002, (b, parts, window)
    kinds = parts["apply"]
    for k in ("create role", "create schema", "create bucket", "create container"):
        assert kinds[k][1] == len(ENVS), (k, kinds)
    assert kinds["health wait"][1] == len(ENVS), kinds
    assert 0 < kinds["health wait"][0] <= kinds["create container"][0], kinds
    check_sum(phases, other, total, wall, proc)
    live = p.containers()
    assert sorted(live) == [f"tm-cli-{SITE}-{e}" for e in ENVS], live
    assert all(c["State"]["Running"] for c in live.values())
    # The limits asked for are on the container, for the next plan
    # (docs/drivers.md, "Limits"): none here.
    assert {c["Config"]["Labels"].get("press.limits") for c in live.values()} == \
        {"memory=0,nanoCpus=0"}, live

    for fmt in ("text", "json", "markdown"):
        plain = p.run("plan", "--format", fmt, "--detailed-exitcode")
        proc, wall = timed(p, "plan", "--format", fmt, "--detailed-exitcode", "--timings")
        assert plain.returncode == 0 and proc.returncode == 0, describe(plain) + describe(proc)
        assert proc.stdout == plain.stdout, "--timings changed standard output"
        assert plain.stderr == "", describe(plain)
        phases, parts, other, total = parse_timings(proc.stderr)
        print(f"plan --format {fmt} --timings ({wall:.3f} s measured around it):\n"
              + proc.stderr)
        assert [n for n, _ in phases] == [*TOP, "render", "close"], phases
        assert sorted(parts) == ["observe"], parts
        check_sum(phases, other, total, wall, proc)
    # With the leak check (a sanitized build): nothing leaks either way.
    proc = p.run("plan", "--timings")
    assert proc.returncode == 0 and "\ntotal " in proc.stderr, describe(proc)
    p.assert_no_secrets(roles=[f"{SITE}_{e}" for e in ENVS])


def test_watch_pass_phases_in_metrics(services, pressctl, tmp_path):
    p = Platform(services, pressctl, tmp_path, name="tm-wt", prefix="tm-wt", nports=2)
    dump(p.src / "site.yaml", site_doc("tmw", timeout=20), env_doc("tmw", "one"))
    args = [p.src, "--debounce", "100ms", "--resync", "3600s", "--timings"]
    with watching(pressctl, args, services.env_vars(), tmp_path, "tmw") as w:
        w.wait_reconciled(timeout=60)
        w.wait_quiet(0.5)
        m = w.metrics()
        fams = m["families"]
        for f in ("pressctl_pass_seconds", "pressctl_pass_phase_seconds",
                  "pressctl_pass_part_seconds", "pressctl_pass_part_count",
                  "pressctl_pass_part_max_seconds"):
            assert fams.get(f) == "gauge", fams
        wall = sample(m, "pressctl_pass_seconds")
        phases = {dict(k[1])["phase"]: v for k, v in m.items()
                  if k != "families" and k[0] == "pressctl_pass_phase_seconds"}
        for ph in ("load", "validate", "state read", "observe", "diff", "apply",
                   "publish", "other"):
            assert ph in phases, phases
        assert abs(sum(phases.values()) - wall) <= 0.01 * wall + 0.001, (phases, wall)
        for b in BACKENDS:
            assert sample(m, "pressctl_pass_part_seconds", phase="observe", part=b) > 0
        assert sample(m, "pressctl_pass_part_count", phase="apply",
                      part="create container") == 1
        assert sample(m, "pressctl_pass_part_count", phase="apply", part="health wait") == 1
        # --timings: the same figures in the log, one line per pass.
        logged = [r for r in w.records() if r.get("message") == "pass timings"]
        assert logged and "observe docker" in logged[-1] and "total" in logged[-1], logged

        # A limit changed in place (docker update) wakes the watcher (an
        # "update" event), and its pass, which inspects only containers
        # such events name (docs/drivers.md, "Limits"), heals it.
        name = "tm-wt-tmw-one"
        mark = w.mark()
        services.docker("update", "--memory", "96m", "--memory-swap", "192m", name)
        rec = w.wait_reconciled(after=mark, trigger="docker", timeout=60)
        healed = w.wait_record(lambda r: r.get("message") == "reconciled"
                               and r.get("drift", 0) >= 1, 60, mark)
        assert healed["done"] >= 1, (rec, healed)
        info = container(services, name)
        assert info["State"]["Running"] and info["HostConfig"]["Memory"] == 0, \
            info["HostConfig"]
