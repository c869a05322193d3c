#!/usr/bin/python3
"""Clients, a server and counter readers for the end-to-end tests
(selftests/ns/test_e2e_*.sh). Standard library only; run with
/usr/bin/python3 inside a lab node (pias-lab exec NODE -- ...).

  query ADDR PORT [--n N] [--same] [--tcp] [--quic] [--timeout S] [--sport P]
      N requests one after the other, each a new flow (a fresh socket, so a
      fresh source port: P, P+1, ... with --sport, else the kernel's
      choice, which may repeat an earlier flow's) unless --same; prints
      one JSON line: answered count, who answered each (the target's
      name), each RTT. --quic: DNS ids in QUIC's header forms (below).
  answers ADDR PORT [--n N] [--wait S] [--window W]
      N queries, each from a fresh socket, each followed by WAIT seconds
      (default 1) of listening on it for every answer that comes (a
      replicated group answers once per copy); W queries in flight at
      once (default 1: one after the other); JSON: per query, the names
      that answered, in the order they came.
  probe ADDR PORT --duration S [--interval S] [--timeout S] [--tcp]
        [--same [--want NAME] [--quic]] [--first-to FILE]
      a request every INTERVAL (default 10 ms), each a new flow unless
      --same (then one socket, requests told apart by DNS id), answers
      awaited TIMEOUT; prints JSON: [send time, answered, name, rtt ms].
      --want: the one socket is one whose flow reaches target NAME.
      --first-to: the first answer's name goes to FILE at once.
      --quic: a QUIC-like exchange (a +quic group, include/pias/policy.h):
      the DNS id, the datagram's first bytes, takes QUIC's header forms,
      the first query's a long header (top bit set), every later one's a
      short header (0b01...), which is all a JAP reads of QUIC. Debian 12
      has no QUIC server; unbound answers these as the queries they are.
  serve NAME PORT-RANGE ADDR...
      a DNS responder on every UDP port of the range and every ADDR: any
      query gets one TXT record, NAME:PORT (NAME @: the ADDR it came to,
      so that addresses on one responder stand in for many targets).
  flows ADDR PORT --n N --sport P [--window W] [--timeout S]
      N new UDP flows, from source ports P..P+N-1 (no 5-tuple repeats),
      W (default 64) in flight at once; JSON: sent, answered, and the
      answers by name.
  ports ADDR LO HI [--timeout S]
      one new flow to each port LO..HI (a window of 64 in flight); JSON
      {port: answer or null}.
  tgtflows PIN_ROOT [FIELD]
      {target id: new flows (or FIELD)} of a JAP (pias_tgt_stats).
  downloads ADDR PORT [--n N] [--bytes B] [--rate R] [--rcvbuf BYTES]
            [--stall S] [--timeout S] [--path PATH]
      N HTTP downloads at once of the first B bytes of PATH (a Range
      request), each read at most R bytes/s from a socket whose receive
      buffer is BYTES (0: the kernel's, which grows), so that the server
      sends only a little ahead of the reader and the connection carries
      ACKs to its end; a download is broken when no byte came for S
      seconds, the connection failed or closed early, or it was not done
      TIMEOUT seconds after it began. JSON: complete and broken counts,
      why each broke, and per download [HTTP status, body bytes, why,
      end time, longest gap between reads in ms].
  snap LABDIR PINPREFIX PIASCTL NODE...
      every counter of each node: pias_stats and pias_drops from the
      pinned maps (bpftool, summed over CPUs) and piasd's own (piasctl
      show counters --json, as d.NAME); JSON {node: {name: value}}.
  delta OLD NEW
      "node name delta" for every counter that moved.
  outage PROBES FAULT_TIME
      failures of a probe run around a fault (time.time() of the fault).
"""

import json
import os
import random
import resource
import selectors
import socket
import struct
import subprocess
import sys
import time

QNAME = "whoami.example"


def dns_query(qid, name=QNAME):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 16, 1)


def skip_name(b, i):
    while True:
        n = b[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


def dns_answer(b):
    """(id, first TXT string or None) of a response; None if not one."""
    if len(b) < 12:
        return None
    qid, flags, qd, an = struct.unpack("!HHHH", b[:8])
    if not flags & 0x8000:
        return None
    try:
        i = 12
        for _ in range(qd):
            i = skip_name(b, i) + 4
        for _ in range(an):
            i = skip_name(b, i)
            typ, _cls, _ttl, rdlen = struct.unpack("!HHIH", b[i:i + 10])
            i += 10
            if typ == 16:
                return qid, b[i + 1:i + 1 + b[i]].decode(errors="replace")
            i += rdlen
    except (IndexError, struct.error):
        pass
    return qid, None


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def http_get(addr):
    host = f"[{addr}]" if ":" in addr else addr
    return f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()


def http_name(data):
    """The body's first line of a 200 answer, else None."""
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0]:
        return None
    return body.decode(errors="replace").strip().split("\n")[0] or None


def quic_id(i):
    """The DNS id of a --quic exchange's query i: QUIC's long header form
    for the first datagram of a flow, its short header form after it."""
    return (0xC000 if i == 0 else 0x4000) | (i & 0x3FFF)


def one_udp(sock, addr, port, timeout, quic=False):
    qid = 0xC000 | random.randrange(0x4000) if quic else random.randrange(65536)
    t0 = time.monotonic()
    sock.sendto(dns_query(qid), (addr, port))
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, None
        sock.settimeout(left)
        try:
            b = sock.recv(2048)
        except (socket.timeout, OSError):
            return None, None
        a = dns_answer(b)
        if a and a[0] == qid:
            return a[1], (time.monotonic() - t0) * 1000


def one_tcp(addr, port, timeout, sport=None):
    t0 = time.monotonic()
    try:
        src = (("::" if ":" in addr else "0.0.0.0"), sport) if sport else None
        with socket.create_connection((addr, port), timeout=timeout, source_address=src) as s:
            s.sendall(http_get(addr))
            data = b""
            while True:
                left = t0 + timeout - time.monotonic()
                if left <= 0:
                    return None, None
                s.settimeout(left)
                x = s.recv(4096)
                if not x:
                    break
                data += x
    except OSError:
        return None, None
    name = http_name(data)
    return name, ((time.monotonic() - t0) * 1000 if name else None)


def opt(args, name, default, conv=str):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return conv(v)
    return default


def flag(args, name):
    if name in args:
        args.remove(name)
        return True
    return False


def cmd_query(args):
    n = opt(args, "--n", 1, int)
    timeout = opt(args, "--timeout", 1.0, float)
    sport = opt(args, "--sport", None, int)
    same, tcp, quic = flag(args, "--same"), flag(args, "--tcp"), flag(args, "--quic")
    addr, port = args[0], int(args[1])
    names, rtts = [], []
    if quic and same:
        print(json.dumps({"error": "--quic --same: use probe (its ids follow the forms)"}))
        return 2
    sock = None
    if same and not tcp:
        sock = socket.socket(family(addr), socket.SOCK_DGRAM)
    for i in range(n):
        src = sport + i if sport else None
        if tcp:
            name, rtt = one_tcp(addr, port, timeout, src)
        elif same:
            name, rtt = one_udp(sock, addr, port, timeout)
        else:
            with socket.socket(family(addr), socket.SOCK_DGRAM) as s:
                if src:
                    s.bind(("::" if ":" in addr else "0.0.0.0", src))
                name, rtt = one_udp(s, addr, port, timeout, quic)
        names.append(name)
        rtts.append(round(rtt, 3) if rtt is not None else None)
    by = {}
    for x in names:
        if x is not None:
            by[x] = by.get(x, 0) + 1
    print(json.dumps({"sent": n, "answered": sum(by.values()), "by": by, "names": names,
                      "rtt_ms": rtts}))
    return 0


class Probe:
    def __init__(self, i, t_send):
        self.i = i
        self.t_send = t_send
        self.mono = time.monotonic()
        self.ok = False
        self.name = None
        self.rtt = None
        self.sock = None
        self.buf = b""
        self.sent = False


def cmd_probe(args):
    duration = opt(args, "--duration", 3.0, float)
    interval = opt(args, "--interval", 0.01, float)
    timeout = opt(args, "--timeout", 0.5, float)
    first_to = opt(args, "--first-to", None)
    want = opt(args, "--want", None)
    same, tcp, quic = flag(args, "--same"), flag(args, "--tcp"), flag(args, "--quic")
    addr, port = args[0], int(args[1])
    fam = family(addr)
    if quic and (not same or want):
        print(json.dumps({"error": "--quic takes --same, without --want"}))
        return 2

    def qid_of(i):
        return quic_id(i) if quic else i % 65536
    sel = selectors.DefaultSelector()
    probes, live = [], {}
    shared = None
    if same:
        shared = socket.socket(fam, socket.SOCK_DGRAM)
        for _ in range(64 if want else 0):
            if one_udp(shared, addr, port, timeout)[0] == want:
                break
            shared.close()
            shared = socket.socket(fam, socket.SOCK_DGRAM)
        else:
            if want:
                print(json.dumps({"error": f"no flow reached {want}"}))
                return 1
        shared.setblocking(False)
        sel.register(shared, selectors.EVENT_READ, None)
    start = time.monotonic()
    nxt = start
    end = start + duration
    req = http_get(addr)

    def finish(p, name):
        nonlocal first_to
        if name is not None and first_to:
            with open(first_to + ".tmp", "w") as f:
                f.write(name + "\n")
            os.replace(first_to + ".tmp", first_to)
            first_to = None
        p.name = name
        p.ok = name is not None
        p.rtt = round((time.monotonic() - p.mono) * 1000, 3) if p.ok else None
        if p.sock is not None:
            try:
                sel.unregister(p.sock)
            except (KeyError, ValueError):
                pass
            p.sock.close()
            p.sock = None
        live.pop(p.i, None)

    while True:
        now = time.monotonic()
        if now >= nxt and now < end:
            p = Probe(len(probes), time.time())
            probes.append(p)
            live[p.i] = p
            qid = qid_of(p.i)
            if same:
                try:
                    shared.sendto(dns_query(qid), (addr, port))
                except OSError:
                    pass
            elif tcp:
                p.sock = socket.socket(fam, socket.SOCK_STREAM)
                p.sock.setblocking(False)
                try:
                    p.sock.connect((addr, port))
                except BlockingIOError:
                    pass
                except OSError:
                    finish(p, None)
                    continue
                sel.register(p.sock, selectors.EVENT_WRITE, p)
            else:
                p.sock = socket.socket(fam, socket.SOCK_DGRAM)
                p.sock.setblocking(False)
                try:
                    p.sock.sendto(dns_query(qid), (addr, port))
                    sel.register(p.sock, selectors.EVENT_READ, p)
                except OSError:
                    finish(p, None)
            nxt += interval
        for p in [p for p in live.values() if now - p.mono > timeout]:
            finish(p, None)
        if now >= end and not live:
            break
        wait = max(0.0, min(nxt - time.monotonic(), 0.005)) if now < end else 0.005
        for key, ev in sel.select(wait):
            p = key.data
            if p is None:  # --same: match by DNS id
                try:
                    while True:
                        a = dns_answer(shared.recv(2048))
                        if a:
                            for q in list(live.values()):
                                if qid_of(q.i) == a[0]:
                                    finish(q, a[1])
                except (BlockingIOError, OSError):
                    pass
                continue
            if not tcp:
                try:
                    a = dns_answer(p.sock.recv(2048))
                except OSError:
                    a = None
                if a and a[0] == p.i % 65536:
                    finish(p, a[1])
                continue
            if ev & selectors.EVENT_WRITE and not p.sent:
                err = p.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    finish(p, None)  # refused: a failure now (the probe
                    continue         # still counts as failed)
                try:
                    p.sock.send(req)
                except OSError:
                    finish(p, None)
                    continue
                p.sent = True
                sel.modify(p.sock, selectors.EVENT_READ, p)
                continue
            try:
                x = p.sock.recv(4096)
            except OSError:
                finish(p, None)
                continue
            if x:
                p.buf += x
            else:
                finish(p, http_name(p.buf))
    if shared:
        shared.close()
    print(json.dumps({"interval": interval, "timeout": timeout,
                      "probes": [[round(p.t_send, 4), int(p.ok), p.name, p.rtt]
                                 for p in probes]}))
    return 0


class Download:
    def __init__(self, sock, t0):
        self.sock = sock
        self.t0 = t0           # monotonic, when it began
        self.last = t0         # monotonic, the last byte read
        self.gap = 0.0         # the longest time without a byte, once reading
        self.read = 0          # bytes read, head included
        self.head = b""
        self.status = None
        self.length = None     # the body's Content-Length
        self.body = 0
        self.why = None
        self.t_end = None


def cmd_downloads(args):
    n = opt(args, "--n", 50, int)
    size = opt(args, "--bytes", 1000000, int)
    rate = opt(args, "--rate", 100000, int)
    rcvbuf = opt(args, "--rcvbuf", 32768, int)
    stall = opt(args, "--stall", 5.0, float)
    timeout = opt(args, "--timeout", 20.0, float)
    path = opt(args, "--path", "/big.bin")
    addr, port = args[0], int(args[1])
    host = f"[{addr}]" if ":" in addr else addr
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nRange: bytes=0-{size - 1}\r\n"
           "Connection: close\r\n\r\n").encode()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    todo = []

    def end(d, why):
        d.why = why
        d.t_end = time.time()
        try:
            sel.unregister(d.sock)
        except (KeyError, ValueError):
            pass
        d.sock.close()

    for _ in range(n):
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        # before connect: the window the client offers follows from it
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setblocking(False)
        d = Download(s, time.monotonic())
        todo.append(d)
        try:
            s.connect((addr, port))
        except BlockingIOError:
            pass
        except OSError as e:
            end(d, f"connect: {e.strerror}")
            continue
        sel.register(s, selectors.EVENT_WRITE, d)
    reading = []
    while any(d.why is None for d in todo):
        for key, _ in sel.select(0.01):
            d = key.data
            err = d.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                end(d, f"connect: {os.strerror(err)}")
                continue
            sel.unregister(d.sock)
            try:
                d.sock.send(req)
            except OSError as e:
                end(d, f"send: {e.strerror}")
                continue
            d.last = time.monotonic()
            reading.append(d)
        now = time.monotonic()
        for d in [d for d in reading if d.why is None]:
            # what the rate allows so far, a tick's worth ahead
            allow = int(rate * (now - d.t0 + 0.01)) - d.read
            while allow > 0 and d.why is None:
                try:
                    x = d.sock.recv(min(allow, 65536))
                except BlockingIOError:
                    break
                except OSError as e:
                    end(d, f"recv: {e.strerror}")
                    break
                if not x:
                    end(d, "closed early")
                    break
                d.gap = max(d.gap, now - d.last)
                d.last = now
                d.read += len(x)
                allow -= len(x)
                if d.status is None:
                    d.head += x
                    if b"\r\n\r\n" not in d.head:
                        continue
                    head, _, x = d.head.partition(b"\r\n\r\n")
                    lines = head.decode(errors="replace").split("\r\n")
                    d.status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
                    for h in lines[1:]:
                        k, _, v = h.partition(":")
                        if k.strip().lower() == "content-length":
                            d.length = int(v)
                    if d.status not in (200, 206) or d.length is None:
                        end(d, f"HTTP {d.status}")
                        break
                d.body += len(x)
                if d.body >= d.length:
                    end(d, "ok")
            if d.why is None and now - d.last > stall:
                end(d, "stalled")
            elif d.why is None and now - d.t0 > timeout:
                end(d, "timeout")
        for d in todo:
            if d.why is None and d not in reading and now - d.t0 > timeout:
                end(d, "connect: timeout")
    why = {}
    for d in todo:
        if d.why != "ok":
            why[d.why] = why.get(d.why, 0) + 1
    complete = sum(1 for d in todo if d.why == "ok")
    print(json.dumps({"n": n, "complete": complete, "broken": n - complete, "why": why,
                      "downloads": [[d.status, d.body, d.why, round(d.t_end, 4),
                                     round(d.gap * 1000)] for d in todo]}))
    return 0


def cmd_serve(args):
    name, rng, addrs = args[0], args[1], args[2:]
    lo, hi = (int(x) for x in rng.split("-"))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    for a in addrs:
        for port in range(lo, hi + 1):
            s = socket.socket(family(a), socket.SOCK_DGRAM)
            s.bind((a, port))
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, (a, port))
    print(f"serving {name} on {len(addrs)} address(es), ports {lo}-{hi}", flush=True)
    while True:
        for key, _ in sel.select():
            try:
                b, peer = key.fileobj.recvfrom(2048)
            except OSError:
                continue
            if len(b) < 12:
                continue
            qid = struct.unpack("!H", b[:2])[0]
            q = b[12:skip_name(b, 12) + 4]
            a, port = key.data
            txt = f"{a if name == '@' else name}:{port}".encode()
            ans = (b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 0, len(txt) + 1)
                   + bytes([len(txt)]) + txt)
            key.fileobj.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + ans, peer)


def cmd_ports(args):
    timeout = opt(args, "--timeout", 1.0, float)
    addr, lo, hi = args[0], int(args[1]), int(args[2])
    sel = selectors.DefaultSelector()
    todo = list(range(lo, hi + 1))
    out, live = {}, {}
    while todo or live:
        while todo and len(live) < 64:
            port = todo.pop(0)
            s = socket.socket(family(addr), socket.SOCK_DGRAM)
            s.setblocking(False)
            s.sendto(dns_query(port), (addr, port))
            sel.register(s, selectors.EVENT_READ, port)
            live[port] = (s, time.monotonic())
        for key, _ in sel.select(0.01):
            port = key.data
            try:
                a = dns_answer(key.fileobj.recv(2048))
            except OSError:
                a = None
            out[port] = a[1] if a and a[0] == port else None
            sel.unregister(key.fileobj)
            key.fileobj.close()
            live.pop(port)
        now = time.monotonic()
        for port, (s, t) in list(live.items()):
            if now - t > timeout:
                out[port] = None
                sel.unregister(s)
                s.close()
                live.pop(port)
    print(json.dumps(out))
    return 0


def cmd_flows(args):
    n = opt(args, "--n", 1000, int)
    sport = opt(args, "--sport", 20000, int)
    window = opt(args, "--window", 64, int)
    timeout = opt(args, "--timeout", 1.0, float)
    addr, port = args[0], int(args[1])
    bind = "::" if family(addr) == socket.AF_INET6 else "0.0.0.0"
    sel = selectors.DefaultSelector()
    by, live, i, answered = {}, {}, 0, 0
    while i < n or live:
        while i < n and len(live) < window:
            s = socket.socket(family(addr), socket.SOCK_DGRAM)
            s.setblocking(False)
            s.bind((bind, sport + i))
            s.sendto(dns_query(i % 65536), (addr, port))
            sel.register(s, selectors.EVENT_READ, i)
            live[i] = (s, time.monotonic())
            i += 1
        for key, _ in sel.select(0.01):
            k = key.data
            try:
                a = dns_answer(key.fileobj.recv(2048))
            except OSError:
                a = None
            if a and a[0] == k % 65536 and a[1]:
                name = a[1].rsplit(":", 1)[0]
                by[name] = by.get(name, 0) + 1
                answered += 1
            sel.unregister(key.fileobj)
            key.fileobj.close()
            live.pop(k)
        now = time.monotonic()
        for k, (s, t) in list(live.items()):
            if now - t > timeout:
                sel.unregister(s)
                s.close()
                live.pop(k)
    print(json.dumps({"sent": n, "answered": answered, "by": by}))
    return 0


def cmd_snap(args):
    labdir, pinprefix, piasctl, nodes = args[0], args[1], args[2], args[3:]
    out = {}
    for n in nodes:
        c = {}
        for m in ("pias_stats", "pias_drops"):
            r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned",
                                f"{pinprefix}{n}/{m}"], capture_output=True, text=True)
            if r.returncode:
                continue
            for e in json.loads(r.stdout):
                for v in e["formatted"]["values"]:
                    for k, x in v["value"].items():
                        c[k] = c.get(k, 0) + x
        r = subprocess.run([piasctl, "-s", f"{labdir}/{n}/piasd.sock", "show", "counters",
                            "--json"], capture_output=True, text=True, timeout=5)
        if r.returncode == 0:
            for k, x in json.loads(r.stdout)["piasd"].items():
                c["d." + k] = x
        out[n] = c
    print(json.dumps(out))
    return 0


def cmd_tgtflows(args):
    """{target id: new flows (or args[1])} of a JAP, from pias_tgt_stats.

    Read by pias-maps, which skips the ids that count nothing: a bpftool
    dump of all 131,072 ids (PIAS_MAX_TARGETS) is 80 MB of JSON, and took
    a busy lab machine past a test's 30 s expiry of DOWN targets.
    """
    field = args[1] if len(args) > 1 else "new_flows"
    maps = os.path.join(os.environ.get("BUILD", "build"), "pias-maps")
    r = subprocess.run([maps, "--pin-root", args[0], "target-stats", "--json"],
                       capture_output=True, text=True, check=True)
    out = {}
    for t in json.loads(r.stdout):
        if t[field]:
            out[str(t["id"])] = t[field]
    print(json.dumps(out))
    return 0


def cmd_delta(args):
    old, new = (json.load(open(f)) for f in args[:2])
    for n, c in new.items():
        for k, v in c.items():
            d = v - old.get(n, {}).get(k, 0)
            if d:
                print(n, k, d)
    return 0


def cmd_outage(args):
    d = json.load(open(args[0]))
    fault = float(args[1])
    ps = d["probes"]
    fails = [p for p in ps if not p[1]]
    after = [p for p in fails if p[0] >= fault]
    r = {"probes": len(ps), "failed": len(fails), "failed_after_fault": len(after),
         "outage_ms": round(len(fails) * d["interval"] * 1000),
         "first_fail_ms": round((after[0][0] - fault) * 1000) if after else None,
         "last_fail_ms": round((after[-1][0] - fault) * 1000) if after else None,
         "before": {}, "after": {}}
    last = after[-1][0] if after else fault
    for p in ps:
        if p[1]:
            side = r["before"] if p[0] < fault else r["after"]
            side[p[2]] = side.get(p[2], 0) + 1
    r["answered_after_last_fail"] = sum(1 for p in ps if p[0] > last and p[1])
    r["sent_after_last_fail"] = sum(1 for p in ps if p[0] > last)
    print(json.dumps(r))
    return 0


def cmd_answers(args):
    n = opt(args, "--n", 1, int)
    wait = opt(args, "--wait", 1.0, float)
    window = max(1, opt(args, "--window", 1, int))
    addr, port = args[0], int(args[1])
    sel = selectors.DefaultSelector()
    out = [[] for _ in range(n)]
    todo, live = list(range(n)), {}  # live: query index -> (socket, id, deadline)
    while todo or live:
        while todo and len(live) < window:
            i = todo.pop(0)
            s = socket.socket(family(addr), socket.SOCK_DGRAM)
            s.setblocking(False)
            qid = random.randrange(65536)
            s.sendto(dns_query(qid), (addr, port))
            sel.register(s, selectors.EVENT_READ, i)
            live[i] = (s, qid, time.monotonic() + wait)
        left = min(d for _, _, d in live.values()) - time.monotonic()
        for key, _ in sel.select(max(left, 0)):
            i = key.data
            try:
                a = dns_answer(key.fileobj.recv(2048))
            except OSError:
                continue
            if a and a[0] == live[i][1]:
                out[i].append(a[1])
        now = time.monotonic()
        for i, (s, _, d) in list(live.items()):
            if now >= d:
                sel.unregister(s)
                s.close()
                live.pop(i)
    print(json.dumps({"answers": out}))
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    return {"query": cmd_query, "answers": cmd_answers, "probe": cmd_probe, "serve": cmd_serve, "ports": cmd_ports,
            "snap": cmd_snap, "tgtflows": cmd_tgtflows, "delta": cmd_delta, "outage": cmd_outage,
            "downloads": cmd_downloads, "flows": cmd_flows}[cmd](args)


if __name__ == "__main__":
    sys.exit(main())
