"""The lab's state: one directory per lab (/run/pias-lab/NAME) holding
state.json and every generated file, socket, pid file and log.

Everything `up` makes is recorded here *before* it is made (namespaces,
pin directories) or right after (process ids), so that `down` removes it
all even when `up` failed half-way or was killed."""

import fcntl
import glob
import json
import os
import shutil
import signal

import netns

BASE = "/run/pias-lab"
BPFFS = "/sys/fs/bpf"


class State:
    def __init__(self, name):
        self.name = name
        self.prefix = f"pias-{name}-"
        self.dir = os.path.join(BASE, name)
        self.file = os.path.join(self.dir, "state.json")
        self.d = {}

    # -- names

    def ns(self, node):
        return self.prefix + node

    def pin(self, node):
        return os.path.join(BPFFS, self.prefix + node)

    def node_dir(self, node):
        return os.path.join(self.dir, node)

    def path(self, node, file):
        return os.path.join(self.dir, node, file)

    # -- the file

    def exists(self):
        return os.path.exists(self.file)

    def load(self):
        with open(self.file) as f:
            self.d = json.load(f)
        return self

    def save(self):
        tmp = self.file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.d, f, indent=1, sort_keys=True)
        os.replace(tmp, self.file)

    def create(self, **fields):
        os.makedirs(self.dir, exist_ok=True)
        self.d = {"name": self.name, "prefix": self.prefix, "dir": self.dir,
                  "namespaces": [], "pins": [], "procs": {}, "cut": [], **fields}
        self.save()

    # -- records

    def add_ns(self, ns):
        self.d["namespaces"].append(ns)
        self.save()

    def add_pin(self, d):
        self.d["pins"].append(d)
        self.save()

    def add_proc(self, key, pid, ns, argv, log):
        self.d["procs"][key] = {"pid": pid, "started": netns.start_time(pid), "ns": ns,
                                "argv": argv, "log": log}
        self.save()

    def proc(self, key):
        return self.d["procs"].get(key)

    def proc_alive(self, key):
        p = self.proc(key)
        return bool(p) and netns.alive(p["pid"], p["started"])


def lock():
    """One pias-lab changing labs at a time (flock on the base directory)."""
    os.makedirs(BASE, exist_ok=True)
    fd = os.open(BASE, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def teardown(st, loader=None, log=print):
    """Removes everything of lab st: processes, namespaces, pins, files.
    Works from the state file when there is one, and sweeps by name
    otherwise (prefix pias-NAME-), so it is safe to run any number of times."""
    if st.exists():
        try:
            st.load()
        except (OSError, ValueError):
            st.d = {}
    procs = list(st.d.get("procs", {}).values())
    spaces = sorted(set(st.d.get("namespaces", [])) | set(netns.ns_list(st.prefix)))
    pins = set(st.d.get("pins", [])) | set(glob.glob(os.path.join(BPFFS, st.prefix + "*")))
    loader = loader or st.d.get("loader")
    removed = 0

    victims = [(p["pid"], p["started"]) for p in procs]
    for ns in spaces:
        # anything else running there (a hook's birdc, a child of a server)
        victims += [(pid, netns.start_time(pid)) for pid in netns.ns_pids(ns)]
    for pid, started in victims:
        netns.kill(pid, started, signal.SIGKILL)
    left = netns.wait_gone(victims, 3)
    for pid, _ in left:
        log(f"pias-lab: process {pid} did not exit after SIGKILL")
    removed += len(victims)

    for ns in spaces:
        if netns.ns_exists(ns):
            netns.run(["ip", "netns", "del", ns], check=False)
            removed += 1
    for d in sorted(pins):
        if os.path.isdir(d):
            if loader and os.path.exists(loader):
                netns.run([loader, "detach", "--all", "--pin-root", d], check=False)
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    if os.path.isdir(st.dir):
        shutil.rmtree(st.dir, ignore_errors=True)
        removed += 1
    still = [ns for ns in spaces if netns.ns_exists(ns)] + [d for d in pins if os.path.exists(d)]
    if still:
        raise netns.LabError("could not remove: " + " ".join(still))
    return removed
