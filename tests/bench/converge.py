#!/usr/bin/python3
"""Converge benchmarks against live backends (docs/design.md §9), run by
bench-converge.sh once it has started private services:

    converge.py --pg-port P --s3-port P --docker-sock PATH --master-key FILE
                --work DIR [--runs 5] [--record FILE] [--sizes 1000,2000,5000]
                [--apply-envs 100] [--tf-buckets N]

1. apply N new environments (role, schema, bucket, container each; target
   30 s for 100): one timed run, since creating is not repeatable;
1b. the no-op plan of those N environments with their containers running:
   median of --runs after a warm-up, peak RSS, and its ratio to the
   backends' floor measured in turns with it in the same run (floor.py:
   Docker's filtered container listing, the S3 bucket listing and a
   catalog query, run at once; target plan <= 1.5 x floor, and 0.5 s at
   1,000 environments); then one `plan --timings` to show where it goes.
   N is --apply-envs (BENCH_APPLY_ENVS), so the caller sets how many
   containers run;
2. plan of 1,000 environments against the live backends with nothing to do
   (target 0.5 s and 64 MiB RSS): median of --runs after a warm-up, peak
   RSS;
3. the same plan at 2,000 and 5,000 environments, and a linear fit of the
   three sizes extrapolated to 10,000 (target 3 s);
4. the anchor: right after pressctl's plan of --tf-buckets environments
   (default: the first size; added to the sizes if missing; 0: no anchor),
   Terraform's no-op plan of the same buckets on the same s3rver, and the
   ratio of the two medians (tfanchor.py; skipped, with the reason, when
   terraform or its AWS provider is missing).

The plan benchmarks of 2. and 3. use environments with `replicas: 0`: their roles,
schemas and buckets exist live (applied first, untimed) but no container,
because creating thousands of containers takes far longer here than the
benchmark is worth. The plan still observes all three backends: one
catalog query over every role and schema, one bucket listing of thousands
of buckets, one container listing. The output says so.

Timing never fails: only a command that fails does (exit 1). measure.py
does the repeated timing; its lines are printed as they come.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import run_once  # noqa: E402
import floor  # noqa: E402
import tfanchor  # noqa: E402
from scale_ingress import free_subnet  # noqa: E402

TARGET_APPLY_100 = 30.0
TARGET_PLAN_1000 = 0.5
TARGET_RSS_1000 = 64.0
TARGET_PLAN_10000 = 3.0
TARGET_FLOOR_RATIO = 1.5
ENVS_PER_SITE = 4
DOCS_PER_FILE = 100
IMAGE = "local/press-test-app:1"


def bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_block(n, lo=20000, hi=29999, avoid=()):
    """n consecutive free ports below the ephemeral range."""
    import random
    for _ in range(200):
        first = random.randint(lo, hi - n + 1)
        if any(first <= b and a <= first + n - 1 for a, b in avoid):
            continue
        if all(bindable(p) for p in range(first, first + n)):
            return first, first + n - 1
    sys.exit("converge.py: no block of %d free ports in %d-%d" % (n, lo, hi))


def write_config(out, args, name, prefix, n_envs, replicas, ports):
    """A config repo of n_envs environments (4 per site), 100 documents per
    file, for platform name/prefix on the benchmark's services. With more
    containers than a /24 holds (the engine's default pools), the network
    gets a free 10.X.0.0/16 (runtime.subnet)."""
    subnet = ""
    if replicas and n_envs * replicas > 200:
        subnet = f'\n    subnet: "{free_subnet()}"'
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.rglob("*.yaml"):
        old.unlink()
    (out / "platform.yaml").write_text(f"""\
apiVersion: press/v1
kind: Platform
metadata:
  name: {name}
spec:
  postgres:
    dsn: {{env: PRESS_PG_DSN}}
    maxConnections: 8
  s3:
    endpoint: "http://127.0.0.1:{args.s3_port}"
    region: us-east-1
    accessKey: {{env: PRESS_S3_ACCESS_KEY}}
    secretKey: {{env: PRESS_S3_SECRET_KEY}}
  runtime:
    driver: docker
    socket: "{args.docker_sock}"
    network: {prefix}{subnet}
  naming:
    prefix: {prefix}
  ports:
    from: {ports[0]}
    to: {ports[1]}
  secrets:
    masterKey: {{file: "{args.master_key}"}}
""", encoding="utf-8")
    docs, nfile = [], 0

    def flush():
        nonlocal docs, nfile
        if docs:
            d = out / "sites" / ("g%03d" % (nfile // 20))
            d.mkdir(parents=True, exist_ok=True)
            (d / ("sites-%04d.yaml" % nfile)).write_text("---\n".join(docs), encoding="utf-8")
            nfile += 1
            docs = []

    n_sites = (n_envs + ENVS_PER_SITE - 1) // ENVS_PER_SITE
    left = n_envs
    for i in range(n_sites):
        site = "%ss%05d" % (prefix, i)
        docs.append(f"""\
apiVersion: press/v1
kind: Site
metadata:
  name: {site}
spec:
  app: generic
  image: {IMAGE}
  health: {{path: /healthz, timeoutSeconds: 30}}
""")
        for j in range(min(ENVS_PER_SITE, left)):
            docs.append(f"""\
apiVersion: press/v1
kind: Environment
metadata:
  name: e{j}
spec:
  site: {site}
  stage: development
  replicas: {replicas}
""")
        left -= min(ENVS_PER_SITE, left)
        if len(docs) >= DOCS_PER_FILE:
            flush()
    flush()
    return out


def bucket_names(prefix, n_envs):
    """The buckets of write_config's first n_envs environments: environment
    k is e{k % 4} of site {prefix}s{k // 4}, and a bucket is named
    <prefix>-<site>-<env> (docs/manifest.md, naming)."""
    return ["%s-%ss%05d-e%d" % (prefix, prefix, k // ENVS_PER_SITE, k % ENVS_PER_SITE)
            for k in range(n_envs)]


def pressctl_env(args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRESS_", "GIT_"))}
    env.update({
        "PRESS_PG_DSN": f"postgresql://postgres@127.0.0.1:{args.pg_port}/press",
        "PRESS_S3_ACCESS_KEY": "S3RVER",
        "PRESS_S3_SECRET_KEY": "S3RVER",
        "DOCKER_HOST": f"unix://{args.docker_sock}",
        "LC_ALL": "C.UTF-8",
    })
    return env


def run(args, *cmd, check=True):
    """Run pressctl once; exits 1 with its output when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run([args.pressctl, *map(str, cmd)], env=pressctl_env(args),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    secs = time.perf_counter() - t0
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        print("bench-converge: FAILED: pressctl %s exited with status %d"
              % (" ".join(map(str, cmd)), proc.returncode), file=sys.stderr)
        sys.exit(1)
    return proc, secs


def timed_once(args, label, cmd, target):
    """One timed run through measure.run_once (wall time, peak RSS). A
    failure is reported and remembered (args.failed: the benchmark exits 1
    at its end); the caller converges before it measures further."""
    elapsed, maxrss, rc, text = run_once([args.pressctl, *map(str, cmd)])
    if rc != 0:
        sys.stderr.write(text[-6000:])
        print("%s: FAILED: '%s' exited with status %d"
              % (label, " ".join([args.pressctl, *map(str, cmd)]), rc), file=sys.stderr)
        args.failed = True
    print("%s: %.2f s (target %.0f s, ratio %.2f), peak RSS %.0f MiB [1 run]"
          % (label, elapsed, target, elapsed / target, maxrss / 1024.0), flush=True)
    return elapsed, text


def measure_plan(args, label, config, target=None, rss_target=None):
    """measure.py over `plan --detailed-exitcode` (exit 2, changes pending,
    counts as a failure: the setup must leave nothing to do)."""
    cmd = [sys.executable, str(HERE / "measure.py"), "--label", label,
           "--runs", str(args.runs), "--record", str(args.record)]
    if target:
        cmd += ["--target", str(target)]
    if rss_target:
        cmd += ["--rss-target", str(rss_target)]
    cmd += ["--", args.pressctl, "plan", str(config), "--detailed-exitcode"]
    proc = subprocess.run(cmd, env=pressctl_env(args), stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(1)
    with open(args.record, encoding="utf-8") as f:
        last = f.read().splitlines()[-1].split("\t")
    return float(last[1]), float(last[2])


def live_plan(args, cfg, n, platform):
    """1b: the no-op plan of n environments whose containers run, in
    turns with the backends' floor (floor.py), after one warm-up of each;
    prints both medians, their ratio and pressctl's peak RSS, then one
    `plan --timings` table."""
    plans, rss, floors, parts = [], [], [], {"docker": [], "s3": [], "catalog": []}
    base = []
    seen = {}
    env = pressctl_env(args)
    s3_keys = (env["PRESS_S3_ACCESS_KEY"], env["PRESS_S3_SECRET_KEY"])
    cmd = [args.pressctl, "plan", str(cfg), "--detailed-exitcode"]
    cmds = [cmd] + ([[args.base_pressctl, *cmd[1:]]] if args.base_pressctl else [])
    for i in range(1 + max(1, args.runs)):
        got = []
        for c in cmds:
            elapsed, maxrss, rc, text = run_once(c)
            if rc != 0:
                sys.stderr.write(text[-6000:])
                print("plan with running containers: FAILED: '%s' exited %d (it must "
                      "find nothing to do)" % (" ".join(c), rc), file=sys.stderr)
                sys.exit(1)
            got.append((elapsed, maxrss))
        elapsed, maxrss = got[0]
        if i > 0 and len(got) > 1:
            base.append(got[1][0])
        try:
            took, wall, seen = floor.floor_once(args.docker_sock, platform,
                                                args.s3_port, s3_keys, args.pg_port)
        except RuntimeError as e:
            print(f"backend floor: FAILED: {e}", file=sys.stderr)
            sys.exit(1)
        if i == 0:
            continue  # warm-up
        plans.append(elapsed)
        rss.append(maxrss / 1024.0)
        floors.append(wall)
        for k in parts:
            parts[k].append(took[k])
    med, fl = statistics.median(plans), statistics.median(floors)
    # The targets are for 1,000 environments: a smaller count is measured
    # against them, a fraction of them is no target.
    print("plan %d environments with running containers (live, nothing to do): "
          "median %.3f s (target %.1f s at 1,000, ratio %.2f), peak RSS %.0f MiB "
          "(target %.0f MiB, ratio %.2f) [%d runs, min %.3f s, max %.3f s]"
          % (n, med, TARGET_PLAN_1000, med / TARGET_PLAN_1000, max(rss),
             TARGET_RSS_1000, max(rss) / TARGET_RSS_1000, len(plans), min(plans),
             max(plans)), flush=True)
    print("  backend floor in the same run, the three at once: median %.3f s "
          "(docker list %.3f s of %d containers, S3 list %.3f s of %d buckets, "
          "catalog query %.3f s); plan / floor %.2f (target %.1f)"
          % (fl, statistics.median(parts["docker"]), seen.get("docker", 0),
             statistics.median(parts["s3"]), seen.get("s3", 0),
             statistics.median(parts["catalog"]), med / fl, TARGET_FLOOR_RATIO),
          flush=True)
    if base:
        print("  the same plan by %s, in turns with it: median %.3f s; this one / "
              "that one %.2f" % (args.base_pressctl, statistics.median(base),
                                 med / statistics.median(base)), flush=True)
    if args.record:
        with open(args.record, "a", encoding="utf-8") as f:
            f.write(f"plan {n} live containers\t{med:.6f}\t{max(rss):.1f}\n")
            f.write(f"backend floor {n}\t{fl:.6f}\t0\n")
    proc, _ = run(args, "plan", cfg, "--timings")
    print("  where one such plan goes (plan --timings):")
    for line in proc.stderr.splitlines():
        if not line.startswith("{"):
            print("    " + line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pressctl", default=os.environ.get("PRESSCTL"))
    ap.add_argument("--pg-port", type=int, required=True)
    ap.add_argument("--s3-port", type=int, required=True)
    ap.add_argument("--docker-sock", required=True)
    ap.add_argument("--master-key", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--record")
    ap.add_argument("--apply-envs", type=int, default=100)
    ap.add_argument("--sizes", default="1000,2000,5000")
    ap.add_argument("--base-pressctl",
                    help="another binary whose no-op plan of the running containers "
                         "is measured in turns with this one's")
    ap.add_argument("--tf-buckets", type=int,
                    help="buckets of the Terraform anchor (default: the first size; 0: none)")
    args = ap.parse_args()
    args.failed = False
    if not args.pressctl:
        ap.error("no pressctl: set PRESSCTL or pass --pressctl")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    args.record = args.record or str(work / "converge.tsv")
    sizes = [int(s) for s in args.sizes.split(",")]
    tf_buckets = sizes[0] if args.tf_buckets is None else args.tf_buckets
    if tf_buckets < 0:
        ap.error("--tf-buckets must be 0 (no anchor) or more")
    if tf_buckets > 0 and tf_buckets not in sizes:
        sizes = sorted(sizes + [tf_buckets])

    if tf_buckets == 0:
        tfanchor.skip("--tf-buckets 0, that is BENCH_TF_BUCKETS=0")

    # 1. apply N new environments.
    n = args.apply_envs
    ports = free_block(2 * n + 20)
    cfg = write_config(work / "apply", args, "bench-apply", "ba", n, 1, ports)
    os.environ.update(pressctl_env(args))
    elapsed, text = timed_once(
        args, f"apply {n} new environments (role, schema, bucket, container)",
        ["apply", cfg], TARGET_APPLY_100 * n / 100)
    last = [line for line in text.splitlines() if line.startswith("platform ")]
    if last:
        print("  " + last[-1].strip())
    for _ in range(2 if args.failed else 0):  # converge what failed, untimed
        proc, secs = run(args, "apply", cfg, check=False)
        print(f"  apply again to converge (untimed): exit {proc.returncode} "
              f"in {secs:.1f} s", flush=True)
        if proc.returncode == 0:
            break
    proc, _ = run(args, "plan", cfg, "--detailed-exitcode")
    print("  %.1f environments/s; plan afterwards: nothing to do" % (n / elapsed))

    # 1b. the no-op plan with those containers running, against the floor.
    live_plan(args, cfg, n, "bench-apply")

    # 2. and 3. plan with nothing to do, at growing sizes, one platform.
    print(f"plan benchmarks: environments with replicas: 0 (role, schema and "
          f"bucket live, no container: creating {sizes[-1]:,} containers is "
          f"too slow here); the plan still reads all three backends")
    cfg = work / "plan"
    results = []
    for size in sizes:
        write_config(cfg, args, "bench-plan", "bp", size, 0, free_block(20))
        _, secs = run(args, "apply", cfg, "--parallel", "8")
        print(f"  setup: apply up to {size:,} environments (untimed work: "
              f"{secs:.1f} s)", flush=True)
        label = f"plan {size} environments (live, nothing to do)"
        if size == 1000:
            med, rss = measure_plan(args, label, cfg, TARGET_PLAN_1000, TARGET_RSS_1000)
        else:
            med, rss = measure_plan(args, label, cfg)
        results.append((size, med, rss))
        if size == tf_buckets:
            tfanchor.compare(work, args.s3_port, bucket_names("bp", size), args.runs,
                             args.record, med)

    if len(results) >= 2:
        xs = [r[0] for r in results]
        ys = [r[1] for r in results]
        zs = [r[2] for r in results]
        mx, my, mz = statistics.mean(xs), statistics.mean(ys), statistics.mean(zs)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
        base = my - slope * mx
        rslope = sum((x - mx) * (z - mz) for x, z in zip(xs, zs)) / sxx
        rbase = mz - rslope * mx
        t10k = base + slope * 10000
        r10k = rbase + rslope * 10000
        x0, x1 = results[0], results[-1]
        print("plan scaling %d -> %d environments: time x%.1f, RSS x%.1f "
              "(size x%.1f)" % (x0[0], x1[0], x1[1] / x0[1], x1[2] / x0[2],
                                x1[0] / x0[0]))
        print("plan scaling fit: %.3f s + %.3f s per 1,000 environments; "
              "%.1f MiB + %.1f MiB per 1,000" % (base, slope * 1000, rbase, rslope * 1000))
        print("plan 10000 environments (extrapolated, linear): %.2f s (target %.2f s, "
              "ratio %.2f), RSS ~%.0f MiB" % (t10k, TARGET_PLAN_10000,
                                              t10k / TARGET_PLAN_10000, r10k))
    if args.failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
