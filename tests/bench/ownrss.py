#!/usr/bin/python3
"""The peak RSS of a process itself, without its children.

wait4()'s ru_maxrss (what measure.py and /usr/bin/time -v report) is the
largest of the process and every descendant it waited for: for pressctl,
which runs pg_dump, pg_restore and psql as its children, that may be
pg_dump's figure, not pressctl's. (It also counts the memory of the
process that forked it, up to the exec: a command started from Python
never reports less than Python's RSS.) Here the command runs under ptrace with
PTRACE_O_TRACEEXIT: its main thread stops on its way out, before the
kernel releases its memory, and /proc/PID/status VmHWM is read there. That
is the figure the kernel would have put in ru_maxrss for the process alone
(both come from the same high-water mark of its mm), of the program it
runs last when it execs another (Debian's /usr/bin/pg_dump is a Perl
wrapper that execs the real one). Only the main thread
is traced; its children (pg_dump ...) are not, and signals the main thread
gets are passed on unchanged, so the command runs as it would.

    from ownrss import run_traced
    secs, own_kib, tree_kib, rc, output = run_traced(cmd, env=..., stdout=...)

Linux only, standard library only (ctypes). Raises OSError when ptrace is
not allowed (a seccomp profile, Yama ptrace_scope 3).
"""

import ctypes
import os
import signal
import subprocess
import tempfile
import time

PTRACE_TRACEME = 0
PTRACE_CONT = 7
PTRACE_SETOPTIONS = 0x4200
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACEEXIT = 0x40
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_EXIT = 6

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                         ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


def _ptrace(req, pid, data=0):
    if _libc.ptrace(req, pid, None, ctypes.c_void_p(data)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, "ptrace(%d): %s" % (req, os.strerror(err)))


def _traceme():
    # In the child between fork and exec: stop at the exec for the parent.
    if _libc.ptrace(PTRACE_TRACEME, 0, None, None) < 0:
        raise OSError(ctypes.get_errno(), "ptrace(PTRACE_TRACEME) failed")


def _vmhwm_kib(pid):
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def run_traced(cmd, env=None, stdout=None):
    """Run cmd (stdin /dev/null; its output, or only its standard error
    when stdout is given, is collected); return (seconds,
    own_peak_rss_kib, tree_peak_rss_kib, returncode, output). own is None
    if the process never reached its exit stop (killed by SIGKILL)."""
    own = None
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout or out,
                                stderr=out if stdout else subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env,
                                preexec_fn=_traceme)
        started = False
        while True:
            _, status, usage = os.wait4(proc.pid, 0)
            if not os.WIFSTOPPED(status):
                break
            sig, event = os.WSTOPSIG(status), status >> 16
            inject = 0
            if not started and sig == signal.SIGTRAP:
                # the stop at the first exec: from now on, stop at exit,
                # and at a further exec (a wrapper such as Debian's
                # /usr/bin/pg_dump) without a SIGTRAP
                started = True
                _ptrace(PTRACE_SETOPTIONS, proc.pid,
                        PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC)
            elif sig == signal.SIGTRAP and event == PTRACE_EVENT_EXEC:
                pass
            elif sig == signal.SIGTRAP and event == PTRACE_EVENT_EXIT:
                own = _vmhwm_kib(proc.pid)
            else:
                inject = sig  # an ordinary signal: deliver it
            _ptrace(PTRACE_CONT, proc.pid, inject)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return elapsed, own, usage.ru_maxrss, proc.returncode, text


if __name__ == "__main__":
    import sys
    secs, own, tree, rc, text = run_traced(sys.argv[1:])
    sys.stdout.write(text)
    print("%.3f s, own peak RSS %s KiB, with children %d KiB, exit %d"
          % (secs, own, tree, rc))
