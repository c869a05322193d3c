#!/usr/bin/python3
"""probe.py: asks a DNS server `whoami.example TXT` at a fixed rate and prints
one JSON line per request: when it was sent (CLOCK_MONOTONIC seconds, the
same clock in every namespace, so the caller can line faults up with it),
whether it was answered in time, and by which target (the lab's unbound
answers its own node's name).

The demo runs it inside a client (`pias-lab exec CLIENT -- probe.py ...`)
instead of one `dig` per request: starting a process every 100 ms would
cost more CPU than the lab can spare and blur the timings.

Every request uses a socket of its own, so a new source port: each is a
new flow for the proxies, as separate `dig` runs would be."""

import argparse
import json
import os
import select
import socket
import struct
import sys
import time

QTYPE_TXT = 16
QCLASS_IN = 1
SO_TIMESTAMPNS = 35  # Linux, asm-generic; Python's socket module lacks the name


def query(qid, name):
    # header: id, flags (recursion desired), 1 question, no other records
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.strip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", QTYPE_TXT, QCLASS_IN)


def skip_name(msg, i):
    """Index just past a (possibly compressed) name starting at i."""
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:  # a pointer ends the name
            return i + 2
        i += 1 + n


def txt_answer(msg, qid):
    """The first TXT string of the answer, None if msg is not our answer."""
    if len(msg) < 12:
        return None
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    if rid != qid or not flags & 0x8000 or flags & 0x000F or an == 0:
        return None
    i = 12
    for _ in range(qd):
        i = skip_name(msg, i) + 4
    i = skip_name(msg, i)
    rtype, _, _, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
    i += 10
    if rtype != QTYPE_TXT or rdlen < 1:
        return None
    n = msg[i]
    return msg[i + 1:i + 1 + n].decode(errors="replace")


def recv_stamped(s):
    """(datagram, CLOCK_REALTIME seconds the kernel received it). The
    kernel's stamp, not our clock: if this process is kept off the CPU for a
    while, replies that arrived meanwhile still count as answered in time."""
    data, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(16))
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
            sec, nsec = struct.unpack("qq", raw[:16])
            return data, sec + nsec / 1e9
    return data, time.time()


def main():
    p = argparse.ArgumentParser(description="ask whoami.example TXT at a fixed rate; "
                                            "one JSON line per request")
    p.add_argument("--server", required=True, help="DNS server address (IPv4 or IPv6)")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--name", default="whoami.example")
    p.add_argument("--every", type=float, default=0.1, help="seconds between requests")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of sending")
    p.add_argument("--timeout", type=float, default=1.0,
                   help="a request not answered within this many seconds failed")
    a = p.parse_args()

    fam = socket.AF_INET6 if ":" in a.server else socket.AF_INET
    out = sys.stdout

    def report(**kw):
        out.write(json.dumps(kw) + "\n")

    start = time.monotonic()
    report(start=start)
    out.flush()
    pending = {}  # socket -> (query id, sent: monotonic, sent: realtime)

    def take_replies(wait):
        ready = select.select(list(pending), [], [], wait)[0] if pending else \
            time.sleep(wait) or []
        for s in ready:
            qid, t, rt = pending[s]
            try:
                msg, when = recv_stamped(s)
            except OSError:  # an ICMP error on the socket: wait on until the timeout
                continue
            ans = txt_answer(msg, qid)
            if ans is None:
                continue  # not our answer
            ms = (when - rt) * 1000
            late = ms > a.timeout * 1000
            report(t=t, ok=not late, answer=ans, ms=round(ms, 1), **({"error": "late"} if late else {}))
            s.close()
            del pending[s]

    sent_n = 0
    total = round(a.duration / a.every)
    while sent_n < total or pending:
        next_send = start + sent_n * a.every  # a fixed schedule: no drift
        take_replies(max(0.0, min(next_send - time.monotonic() if sent_n < total else 0.05, 0.05)))
        # replies that came while this process was off the CPU are taken
        # before anything expires: a late wake-up must not fail them
        take_replies(0)
        now = time.monotonic()
        for s, (qid, t, rt) in list(pending.items()):
            if now - t > a.timeout:
                report(t=t, ok=False, error="timeout")
                s.close()
                del pending[s]
        if sent_n < total and now >= next_send:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            qid = (os.getpid() + sent_n) & 0xFFFF
            try:
                s.sendto(query(qid, a.name), (a.server, a.port))
                pending[s] = (qid, now, time.time())
            except OSError as e:  # no route: failed at once
                report(t=now, ok=False, error=e.strerror)
                s.close()
            sent_n += 1
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
