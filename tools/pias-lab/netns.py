"""Running things in the lab's network namespaces.

Every command goes through nsenter --net, never `ip netns exec`: the latter
remounts /sys, which hides bpffs from piasd and piasd-loader
(architecture.md)."""

import os
import signal
import subprocess
import time


class LabError(Exception):
    """A runtime failure: pias-lab exits 1 with this message."""


def nsenter(ns):
    return ["nsenter", f"--net=/run/netns/{ns}"]


def run(argv, check=True, input=None):
    """Runs a command to completion; returns its stdout. LabError on failure."""
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True)
    except OSError as e:
        raise LabError(f"{argv[0]}: {e.strerror}") from None
    if check and p.returncode != 0:
        msg = (p.stderr or p.stdout).strip().splitlines()
        raise LabError(f"{' '.join(argv)}: {msg[-1] if msg else f'exit {p.returncode}'}")
    return p.stdout


def run_in(ns, argv, check=True, input=None):
    return run(nsenter(ns) + list(argv), check=check, input=input)


def ip_batch(ns, commands):
    """Many ip(8) commands in one process: one fork per namespace, not per
    address (up stays quick with twenty namespaces)."""
    if commands:
        args = ["ip", "-b", "-"] if ns is None else ["ip", "-n", ns, "-b", "-"]
        run(args, input="\n".join(commands) + "\n")


def spawn(ns, argv, log):
    """Starts a long-running command in a namespace, detached from our
    session (it outlives pias-lab); returns its pid. nsenter execs the
    command, so the pid is the command's own (kill -9 reaches it)."""
    with open(log, "ab") as out:
        p = subprocess.Popen(nsenter(ns) + list(argv), stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    return p.pid


def start_time(pid):
    """The process's start time in clock ticks since boot (field 22 of
    /proc/PID/stat): with the pid it names one process, not a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid, started=None):
    st = start_time(pid)
    if st is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return started is None or st == started


def kill(pid, started=None, sig=signal.SIGKILL):
    if alive(pid, started):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_gone(pids, timeout):
    """Waits until none of (pid, started) is alive; returns those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        left = [(p, s) for p, s in pids if alive(p, s)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def ns_pids(ns):
    try:
        out = run(["ip", "netns", "pids", ns], check=False)
    except OSError:
        return []
    return [int(x) for x in out.split()]


def ns_exists(ns):
    return os.path.exists(f"/run/netns/{ns}")


def ns_list(prefix):
    try:
        return sorted(n for n in os.listdir("/run/netns") if n.startswith(prefix))
    except FileNotFoundError:
        return []


def wait_until(what, timeout, check, interval=0.1):
    """Retries check() until it returns a true value; LabError naming `what`
    and the last answer otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        ok, last = check()
        if ok:
            return last
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout} s waiting for {what}"
                           + (f": {last}" if last else ""))
        time.sleep(interval)
