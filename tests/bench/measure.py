#!/usr/bin/python3
"""Time a command: median wall time and peak RSS over several runs.

    measure.py --label TEXT [--runs 5] [--warmup 1] [--target SECONDS]
               [--rss-target MIB] [--record FILE] -- COMMAND [ARG...]

Prints one line, e.g.

    validate 10000 environments: median 0.42 s (target 1.00 s, ratio 0.42), peak RSS 85 MiB

Timing never fails the benchmark: a ratio above 1 is reported, not
enforced (machines differ). Exits 1 only if the command itself fails, and
then shows its output. --record appends "label<TAB>median_s<TAB>rss_mib"
to FILE for later comparisons (see run.sh's scaling line).

The peak RSS is the child's own ru_maxrss from wait4(), per run; the
largest run is reported. Standard library only.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(cmd):
    """Run cmd; return (seconds, maxrss_kib, returncode, output)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return elapsed, usage.ru_maxrss, proc.returncode, text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--target", type=float, help="target median, seconds")
    ap.add_argument("--rss-target", type=float, help="target peak RSS, MiB")
    ap.add_argument("--record", help="append the result to this file")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given")

    times, rss = [], []
    for i in range(args.warmup + max(1, args.runs)):
        try:
            elapsed, maxrss, rc, text = run_once(cmd)
        except OSError as exc:
            sys.exit("%s: cannot run %s: %s" % (args.label, cmd[0], exc))
        if rc != 0:
            sys.stderr.write(text[-4000:])
            print("%s: FAILED: '%s' exited with status %d"
                  % (args.label, " ".join(cmd), rc), file=sys.stderr)
            sys.exit(1)
        if i >= args.warmup:
            times.append(elapsed)
            rss.append(maxrss / 1024.0)

    median = statistics.median(times)
    peak = max(rss)
    line = "%s: median %.3f s" % (args.label, median)
    if args.target:
        line += " (target %.2f s, ratio %.2f)" % (args.target,
                                                   median / args.target)
    line += ", peak RSS %.0f MiB" % peak
    if args.rss_target:
        line += " (target %.0f MiB, ratio %.2f)" % (args.rss_target,
                                                     peak / args.rss_target)
    line += " [%d runs, min %.3f s, max %.3f s]" % (len(times), min(times),
                                                    max(times))
    print(line, flush=True)
    if args.record:
        with open(args.record, "a", encoding="utf-8") as f:
            f.write("%s\t%.6f\t%.1f\n" % (args.label, median, peak))


if __name__ == "__main__":
    main()
