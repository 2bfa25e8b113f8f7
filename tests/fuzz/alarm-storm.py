#!/usr/bin/python3
"""alarm-storm.py TARGET SECONDS OUT [CORPUS...]: run a fuzz target for
SECONDS at nice 19 while sending it SIGALRM every 2 ms, the signal
libFuzzer's own timer sends (without SA_RESTART) every -timeout/2 + 1 s.
A target whose system calls do not survive EINTR crashes within
seconds here, where a campaign meets it once in hours. New inputs and
crashes go to OUT (docs/reliability.md, "Fuzzing")."""
import os
import signal
import subprocess
import sys
import time

if len(sys.argv) < 4:
    sys.exit(__doc__)
target, seconds, out, corpora = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "log"), "w") as log:
    p = subprocess.Popen(["nice", "-n", "19", target, f"-max_total_time={int(seconds)}",
                          f"-artifact_prefix={out}/", out, *corpora],
                         stdout=log, stderr=log)
    time.sleep(2)  # past libFuzzer's start
    sent = 0
    while p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGALRM)
        except ProcessLookupError:
            break
        sent += 1
        time.sleep(0.002)
print(f"{target}: exit {p.returncode} after {sent} signals (log: {out}/log)")
sys.exit(p.returncode)
