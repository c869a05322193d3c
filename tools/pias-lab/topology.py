"""The lab's topology file: parsed with configparser, checked, and turned
into a model (nodes, links, addresses, groups) that the rest of pias-lab
reads. Pure: no namespaces, no processes; every error names the file, line
and section at fault (TopologyError)."""

import configparser
import ipaddress
import re

DOC4 = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
DOC6 = [ipaddress.ip_network("2001:db8::/32")]
ASN_MIN, ASN_MAX = 64512, 65534
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
# ip(8) reads some words as keywords even after "dev"; keep them off node names
RESERVED = {"lo", "all", "any", "default", "dev", "name", "type", "up", "down"}
KINDS = ("router", "proxy", "client", "target")
SERVICES = ("dns", "http", "none")
MAX_DELAY_MS = 1000

LAB_KEYS = {"anycast", "registration", "link_pool", "host_pool", "nat_pool", "metrics"}
NODE_KEYS = {"router": {"as"}, "proxy": {"as", "id", "nat_addresses"}, "client": set(),
             "target": {"mode", "check"}}
TARGET_MODES = ("nat", "tunnel")
# a target's health checks (piasctl target join --file's check=): off, or
# each registration checked the way its service answers
TARGET_CHECKS = ("off", "on")
CHECK_OF_SERVICE = {"dns": "dns", "http": "http:/", "none": None}
MAX_NAT_ADDRESSES = 256  # piasd's pool limit (PIAS_NAT_POOL_MAX)
LINK_KEYS = {"delay_ms"}
GROUP_KEYS = {"proto", "port", "address", "service", "targets", "policy"}
# the selection policies a JAP carries out (piasctl target join --policy)
# (+quic: a UDP group speaking QUIC, include/pias/policy.h)
POLICY_RE = re.compile(
    r"^((weighted|random|scoped/(\d{1,3})(,strict)?)(\+quic)?|replicate/[2-4])$")
# piasd settings the lab itself sets for every proxy: not overridable
PIASD_OWN = {
    "node.id", "node.address4", "node.address6", "node.pin_root", "node.interfaces",
    "node.control_socket", "node.nat4", "node.nat6", "anycast.prefix",
    "anycast.registration_address", "anycast.announce_command", "overlay.seeds",
    "keys.overlay_key_file", "keys.group_key_file", "metrics.listen",
}
PIASD_SECTIONS = {"node", "anycast", "overlay", "jap", "rap", "iap", "connections", "dataplane", "outlier",
                  "keys", "metrics"}

DEFAULTS = {
    "anycast": "203.0.113.0/26 2001:db8:a::/48",
    "registration": "203.0.113.1 2001:db8:a::1",
    "link_pool": "198.51.100.0/24 2001:db8:100::/48",
    "host_pool": "192.0.2.0/24 2001:db8:c::/48",
    "nat_pool": "203.0.113.64/26 2001:db8:b::/48",
}


class TopologyError(Exception):
    """FILE:LINE: [section] key: what is wrong"""


class Lines:
    """Where each section and key starts in the file, for error messages
    (configparser keeps no line numbers once it has parsed)."""

    def __init__(self, text):
        self.section = {}
        self.key = {}
        self.last = 0
        cur = None
        for n, raw in enumerate(text.splitlines(), 1):
            self.last = n
            s = raw.strip()
            if not s or s[0] in "#;":
                continue
            if s.startswith("[") and "]" in s:
                cur = s[1:s.index("]")].strip()
                self.section.setdefault(cur, n)
            elif cur is not None and raw[:1] not in " \t":
                k = re.split(r"[=:]", s, maxsplit=1)[0].strip().lower()
                self.key.setdefault((cur, k), n)


class Node:
    def __init__(self, name, kind, section):
        self.name = name
        self.kind = kind  # router, proxy, client, target, relay
        self.section = section
        self.asn = None
        self.pid_id = None  # piasd id (proxies)
        self.nat_addresses = 0  # proxies: NAT addresses of their own (0: their address)
        self.nat4 = []  # the addresses, from the lab's nat_pool
        self.nat6 = []
        self.ifaces = {}  # peer node name -> Iface
        self.groups = []  # (group, weight) for targets
        self.mode = "nat"  # targets: how their JAP reaches them (nat, tunnel)
        self.check = "off"  # targets: health checks by their agent (off, on)

    def first_iface(self):
        return next(iter(self.ifaces.values()))

    def addr4(self):
        return self.first_iface().addr4.ip

    def addr6(self):
        return self.first_iface().addr6.ip

    def to_json(self):
        d = {"kind": self.kind, "section": self.section}
        if self.asn:
            d["as"] = self.asn
        if self.pid_id:
            d["id"] = self.pid_id
        d["interfaces"] = {i.name: i.to_json() for i in self.ifaces.values()}
        if self.groups:
            d["groups"] = [g.name for g, _ in self.groups]
        if self.kind == "target":
            d["mode"] = self.mode
            d["check"] = self.check
        if self.nat4:
            d["nat"] = [f"{self.nat4[0]}-{self.nat4[-1]}", f"{self.nat6[0]}-{self.nat6[-1]}"]
        return d


class Iface:
    """One end of a link: in node `node`, named after the peer node."""

    def __init__(self, node, peer, addr4, addr6):
        self.node = node
        self.peer = peer
        self.name = peer
        self.addr4 = addr4  # IPv4Interface
        self.addr6 = addr6  # IPv6Interface

    def to_json(self):
        return {"peer": self.peer, "ipv4": str(self.addr4), "ipv6": str(self.addr6)}


class Link:
    def __init__(self, a, b, delay_ms, section):
        self.a = a
        self.b = b
        self.delay_ms = delay_ms
        self.section = section

    @property
    def relay(self):
        """The relay node's name for a delayed link ('-' is never in a node name)."""
        return f"{self.a}-{self.b}" if self.delay_ms else None


class Group:
    def __init__(self, name, proto, port, addresses, service, targets, section, policy=None):
        self.policy = policy  # the owner's selection policy, None: the default (weighted)
        self.name = name
        self.proto = proto
        self.port = port
        self.addresses = addresses  # ip_address, one per family at most
        self.service = service
        self.targets = targets  # [(target name, weight)]
        self.section = section

    def tas(self):
        """(family, TA string) for each address: udp:203.0.113.10:53, udp:[2001:db8:a::10]:53"""
        out = []
        for a in self.addresses:
            host = f"[{a}]" if a.version == 6 else str(a)
            out.append((a.version, f"{self.proto}:{host}:{self.port}"))
        return out


class Topology:
    def __init__(self):
        self.path = None
        self.nodes = {}  # name -> Node, in file order
        self.links = []
        self.groups = []
        self.anycast = []  # networks
        self.registration = []  # addresses (v4 first)
        self.piasd = {}  # "section.key" -> value
        self.relays = {}  # relay name -> Link
        self.metrics_port = None  # [lab] metrics: every piasd's /metrics port

    def kind(self, kind):
        return [n for n in self.nodes.values() if n.kind == kind]

    def proxies(self):
        return self.kind("proxy")

    def registration4(self):
        return next((a for a in self.registration if a.version == 4), None)

    def registration_port(self):
        return int(self.piasd.get("anycast.registration_port", 6638))

    def owner(self, addr):
        """The node holding this unicast address on one of its links."""
        for n in self.nodes.values():
            for i in n.ifaces.values():
                if addr in (i.addr4.ip, i.addr6.ip):
                    return n.name
        return None

    def probe_addresses(self):
        """An anycast address per family to follow a client's traffic with."""
        out = {}
        for g in self.groups:
            for a in g.addresses:
                out.setdefault(a.version, a)
        for a in self.registration:
            out.setdefault(a.version, a)
        return out

    def to_json(self):
        return {
            "anycast": [str(p) for p in self.anycast],
            "registration": [str(a) for a in self.registration],
            "metrics_port": self.metrics_port,
            "nodes": {n: node.to_json() for n, node in self.nodes.items()},
            "links": [{"a": l.a, "b": l.b, "delay_ms": l.delay_ms, "relay": l.relay}
                      for l in self.links],
            "groups": [{"name": g.name, "tas": [t for _, t in g.tas()], "service": g.service,
                        "targets": [{"name": t, "weight": w} for t, w in g.targets]}
                       for g in self.groups],
        }


def _documentation(net):
    pool = DOC4 if net.version == 4 else DOC6
    return any(net.subnet_of(p) for p in pool)


class Parser:
    def __init__(self, path, text):
        self.path = path
        self.lines = Lines(text)
        self.text = text

    def fail(self, section, key, msg):
        if key is not None:
            line = self.lines.key.get((section, key), self.lines.section.get(section, 0))
            raise TopologyError(f"{self.path}:{line}: [{section}] {key}: {msg}")
        line = self.lines.section.get(section, self.lines.last)
        raise TopologyError(f"{self.path}:{line}: [{section}]: {msg}")

    def read(self):
        cp = configparser.ConfigParser(interpolation=None, strict=True,
                                       inline_comment_prefixes=(";", "#"),
                                       comment_prefixes=(";", "#"), default_section="\0none")
        try:
            cp.read_string(self.text, source=self.path)
        except configparser.DuplicateSectionError as e:
            raise TopologyError(f"{self.path}:{e.lineno}: [{e.section}]: "
                                "duplicate section") from None
        except configparser.DuplicateOptionError as e:
            first = self.lines.key.get((e.section, e.option.lower()), "?")
            raise TopologyError(f"{self.path}:{e.lineno}: [{e.section}] {e.option}: "
                                f"duplicate key (first set on line {first})") from None
        except configparser.MissingSectionHeaderError as e:
            raise TopologyError(f"{self.path}:{e.lineno}: expected a [section] first") from None
        except configparser.ParsingError as e:
            line = e.errors[0][0] if e.errors else "?"
            raise TopologyError(f"{self.path}:{line}: syntax error: "
                                "expected '[section]' or 'key = value'") from None
        return cp

    # -- values

    def integer(self, sec, key, value, lo, hi):
        try:
            v = int(value, 10)
        except ValueError:
            self.fail(sec, key, f"'{value}' is not an integer")
        if not lo <= v <= hi:
            self.fail(sec, key, f"{v} is out of range {lo}-{hi}")
        return v

    def networks(self, sec, key, value, host_bits_ok=False):
        out = []
        for word in value.split():
            try:
                net = ipaddress.ip_network(word, strict=not host_bits_ok)
            except ValueError as e:
                self.fail(sec, key, f"'{word}': {e}")
            if not _documentation(net):
                self.fail(sec, key, f"{word} is not inside a documentation prefix "
                          "(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)")
            out.append(net)
        if not out:
            self.fail(sec, key, "empty")
        return out

    def addresses(self, sec, key, value):
        out = []
        for word in value.split():
            try:
                a = ipaddress.ip_address(word)
            except ValueError as e:
                self.fail(sec, key, f"'{word}': {e}")
            if not _documentation(ipaddress.ip_network(a)):
                self.fail(sec, key, f"{word} is not inside a documentation prefix")
            out.append(a)
        families = [a.version for a in out]
        if not out or len(set(families)) != len(families):
            self.fail(sec, key, "one IPv4 and/or one IPv6 address expected")
        return sorted(out, key=lambda a: a.version)

    def pools(self, sec, key, value, v4len, v6len):
        nets = self.networks(sec, key, value)
        fam = {n.version: n for n in nets}
        if set(fam) != {4, 6} or len(nets) != 2:
            self.fail(sec, key, "one IPv4 and one IPv6 prefix expected")
        if fam[4].prefixlen > v4len or fam[6].prefixlen > v6len:
            self.fail(sec, key, f"prefixes must be /{v4len} (IPv4) and /{v6len} (IPv6) or larger")
        return fam[4], fam[6]


def load(path):
    """Reads and checks a topology file; returns a Topology."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise TopologyError(f"{path}: cannot open: {e.strerror}") from None
    return parse(path, text)


def parse(path, text):
    p = Parser(path, text)
    cp = p.read()
    topo = Topology()
    topo.path = path
    lab = {k: v for k, v in DEFAULTS.items()}
    link_secs, group_secs = [], []

    for sec in cp.sections():
        words = sec.split()
        head = words[0] if words else ""
        if sec == "lab":
            for k, v in cp.items(sec):
                if k not in LAB_KEYS:
                    p.fail(sec, k, f"unknown key (expected one of {', '.join(sorted(LAB_KEYS))})")
                lab[k] = v
        elif sec == "piasd":
            for k, v in cp.items(sec):
                part = k.split(".")
                if len(part) != 2 or part[0] not in PIASD_SECTIONS:
                    p.fail(sec, k, "expected SECTION.KEY of piasd's configuration (docs/config.md)")
                if k in PIASD_OWN:
                    p.fail(sec, k, "set by pias-lab for every proxy")
                topo.piasd[k] = v
        elif head in KINDS and len(words) == 2:
            name = words[1]
            if not NAME_RE.match(name) or name in RESERVED:
                p.fail(sec, None, f"node name '{name}': 1-10 lower-case letters and digits, "
                       "starting with a letter (it names interfaces)")
            if name in topo.nodes:
                p.fail(sec, None, f"node '{name}' already defined in "
                       f"[{topo.nodes[name].section}]")
            node = Node(name, head, sec)
            for k, v in cp.items(sec):
                if k not in NODE_KEYS[head]:
                    allowed = ", ".join(sorted(NODE_KEYS[head])) or "none"
                    p.fail(sec, k, f"unknown key (a {head} takes: {allowed})")
            if head in ("router", "proxy"):
                if not cp.has_option(sec, "as"):
                    p.fail(sec, None, f"a {head} needs 'as = N' (private AS {ASN_MIN}-{ASN_MAX})")
                node.asn = p.integer(sec, "as", cp.get(sec, "as"), ASN_MIN, ASN_MAX)
            if head == "proxy" and cp.has_option(sec, "id"):
                node.pid_id = p.integer(sec, "id", cp.get(sec, "id"), 1, 131071)
            if head == "proxy" and cp.has_option(sec, "nat_addresses"):
                node.nat_addresses = p.integer(sec, "nat_addresses",
                                               cp.get(sec, "nat_addresses"), 1,
                                               MAX_NAT_ADDRESSES)
            if head == "target" and cp.has_option(sec, "mode"):
                node.mode = cp.get(sec, "mode").strip()
                if node.mode not in TARGET_MODES:
                    p.fail(sec, "mode", f"'{node.mode}' is not a mode ({', '.join(TARGET_MODES)})")
            if head == "target" and cp.has_option(sec, "check"):
                node.check = cp.get(sec, "check").strip()
                if node.check not in TARGET_CHECKS:
                    p.fail(sec, "check", f"'{node.check}' is not on or off")
            topo.nodes[name] = node
        elif head == "link" and len(words) == 3:
            link_secs.append(sec)
        elif head == "group" and len(words) == 2:
            group_secs.append(sec)
        else:
            p.fail(sec, None, "unknown section (expected [lab], [piasd], [router NAME], "
                   "[proxy NAME], [client NAME], [target NAME], [link A B] or [group NAME])")

    topo.anycast = p.networks("lab", "anycast", lab["anycast"])
    topo.registration = p.addresses("lab", "registration", lab["registration"])
    for a in topo.registration:
        if not any(a in n for n in topo.anycast):
            p.fail("lab", "registration", f"{a} is not inside an anycast prefix")
    if not topo.registration4():
        p.fail("lab", "registration", "an IPv4 address is needed (piasd listens on one)")
    link4, link6 = p.pools("lab", "link_pool", lab["link_pool"], 30, 64)
    host4, host6 = p.pools("lab", "host_pool", lab["host_pool"], 30, 64)
    for key, pool in (("link_pool", link4), ("link_pool", link6), ("host_pool", host4),
                      ("host_pool", host6)):
        for other in topo.anycast:
            if other.version == pool.version and pool.overlaps(other):
                p.fail("lab", key, f"{pool} overlaps the anycast prefix {other}")
    if link4.overlaps(host4) or link6.overlaps(host6):
        p.fail("lab", "host_pool", "overlaps link_pool")
    nat4, nat6 = p.pools("lab", "nat_pool", lab["nat_pool"], 32, 128)
    for other in [*topo.anycast, link4, link6, host4, host6]:
        if other.version == nat4.version and nat4.overlaps(other) or \
                other.version == nat6.version and nat6.overlaps(other):
            p.fail("lab", "nat_pool", f"overlaps {other}")
    _nat_addresses(p, topo, nat4, nat6)
    # every proxy's piasd serves /metrics on its own IPv4 address, this port
    if "metrics" in lab and lab["metrics"].strip() != "off":
        topo.metrics_port = p.integer("lab", "metrics", lab["metrics"].strip(), 1, 65535)

    _links(p, cp, topo, link_secs, (link4, link6), (host4, host6))
    _groups(p, cp, topo, group_secs)
    _check_graph(p, topo)
    return topo


def _subnet(pool, index, plen, sec, p, key):
    nets = pool.subnets(new_prefix=plen)
    try:
        for _ in range(index):
            next(nets)
        return next(nets)
    except StopIteration:
        p.fail(sec, None, f"no room left in [lab] {key} {pool} for this link")


def _nat_addresses(p, topo, nat4, nat6):
    """Proxies with nat_addresses = N take N consecutive addresses of each
    family from the lab's nat_pool, in file order."""
    used = 0
    for node in topo.proxies():
        n = node.nat_addresses
        if not n:
            continue
        if used + n > min(nat4.num_addresses, nat6.num_addresses):
            p.fail(node.section, "nat_addresses", f"the lab's nat_pool {nat4} has "
                   f"{nat4.num_addresses - used} addresses left, not {n}")
        node.nat4 = [nat4[used + i] for i in range(n)]
        node.nat6 = [nat6[used + i] for i in range(n)]
        used += n


def _links(p, cp, topo, link_secs, link_pool, host_pool):
    seen = {}
    n_infra = n_host = 0
    for sec in link_secs:
        _, a, b = sec.split()
        for end in (a, b):
            if end not in topo.nodes:
                p.fail(sec, None, f"no node named '{end}'")
        if a == b:
            p.fail(sec, None, "a link needs two different nodes")
        pair = frozenset((a, b))
        if pair in seen:
            p.fail(sec, None, f"{a} and {b} are already linked by [{seen[pair]}]")
        seen[pair] = sec
        delay = 0
        for k, v in cp.items(sec):
            if k not in LINK_KEYS:
                p.fail(sec, k, "unknown key (a link takes: delay_ms)")
            delay = p.integer(sec, k, v, 0, MAX_DELAY_MS)
        ka, kb = topo.nodes[a].kind, topo.nodes[b].kind
        hosts = {"client", "target"}
        if ka in hosts or kb in hosts:
            host, other = (a, b) if ka in hosts else (b, a)
            if topo.nodes[other].kind != "router":
                p.fail(sec, None, f"{topo.nodes[host].kind} {host} must link to a router, "
                       f"not to {topo.nodes[other].kind} {other}")
            if topo.nodes[host].ifaces:
                p.fail(sec, None, f"{host} already has its link; clients and targets have one")
            v4 = _subnet(host_pool[0], n_host, 30, sec, p, "host_pool")
            v6 = _subnet(host_pool[1], n_host, 64, sec, p, "host_pool")
            n_host += 1
            first, second = other, host  # the router is .1, the host .2
        else:
            if ka == "proxy" and kb == "proxy":
                p.fail(sec, None, "proxies link to routers only")
            v4 = _subnet(link_pool[0], n_infra, 30, sec, p, "link_pool")
            v6 = _subnet(link_pool[1], n_infra, 64, sec, p, "link_pool")
            n_infra += 1
            first, second = a, b
            if ka == "proxy" or kb == "proxy":
                proxy, router = (a, b) if ka == "proxy" else (b, a)
                if topo.nodes[proxy].asn == topo.nodes[router].asn:
                    p.fail(sec, None, f"proxy {proxy} needs its own AS, not its router's "
                           f"({topo.nodes[router].asn})")
        h4, h6 = list(v4.hosts()), v6.network_address
        for idx, name in ((0, first), (1, second)):
            peer = second if name == first else first
            i = Iface(name, peer,
                      ipaddress.ip_interface(f"{h4[idx]}/{v4.prefixlen}"),
                      ipaddress.ip_interface(f"{h6 + idx + 1}/{v6.prefixlen}"))
            topo.nodes[name].ifaces[peer] = i
        link = Link(a, b, delay, sec)
        topo.links.append(link)
        if link.relay:
            topo.relays[link.relay] = link


def _groups(p, cp, topo, group_secs):
    tas = {}
    for sec in group_secs:
        name = sec.split()[1]
        for k in cp.options(sec):
            if k not in GROUP_KEYS:
                p.fail(sec, k, f"unknown key (a group takes: {', '.join(sorted(GROUP_KEYS))})")
        for k in ("proto", "port", "address", "targets"):
            if not cp.has_option(sec, k):
                p.fail(sec, None, f"missing '{k} = ...'")
        proto = cp.get(sec, "proto")
        if proto not in ("udp", "tcp"):
            p.fail(sec, "proto", f"'{proto}': udp or tcp")
        port = p.integer(sec, "port", cp.get(sec, "port"), 1, 65535)
        addrs = p.addresses(sec, "address", cp.get(sec, "address"))
        for a in addrs:
            if not any(a in n for n in topo.anycast):
                p.fail(sec, "address", f"{a} is not inside an anycast prefix ([lab] anycast)")
            if a in topo.registration:
                p.fail(sec, "address", f"{a} is the registration address")
        service = cp.get(sec, "service", fallback="none")
        if service not in SERVICES:
            p.fail(sec, "service", f"'{service}': one of {', '.join(SERVICES)}")
        if service == "dns" and proto != "udp":
            p.fail(sec, "service", "dns is served over udp here (proto = udp)")
        if service == "http" and proto != "tcp":
            p.fail(sec, "service", "http needs proto = tcp")
        targets = []
        for word in cp.get(sec, "targets").split():
            t, _, w = word.partition(":")
            weight = p.integer(sec, "targets", w, 1, 4294967295) if w else 1
            if t not in topo.nodes or topo.nodes[t].kind != "target":
                p.fail(sec, "targets", f"'{t}' is not a [target]")
            if any(t == x for x, _ in targets):
                p.fail(sec, "targets", f"'{t}' listed twice")
            targets.append((t, weight))
        if not targets:
            p.fail(sec, "targets", "empty")
        policy = cp.get(sec, "policy", fallback=None)
        if policy is not None:
            policy = policy.strip()
            m = POLICY_RE.match(policy)
            if not m:
                p.fail(sec, "policy",
                       f"'{policy}': weighted, random or scoped/LEN[,strict], each with an "
                       "optional +quic, or replicate/2-4")
            if policy.startswith("replicate") and proto != "udp":
                p.fail(sec, "policy", f"'{policy}': replication is for UDP groups only")
            if m.group(5) and proto != "udp":
                p.fail(sec, "policy", f"'{policy}': +quic is for UDP groups only")
            if m.group(3) and int(m.group(3)) > (32 if any(a.version == 4 for a in addrs)
                                                 else 128):
                p.fail(sec, "policy", f"'{policy}': longer than the group's addresses")
        g = Group(name, proto, port, addrs, service, targets, sec, policy)
        for _, ta in g.tas():
            if ta in tas:
                p.fail(sec, "address", f"{ta} is already the group [{tas[ta]}]")
            tas[ta] = sec
        topo.groups.append(g)
        for t, w in targets:
            topo.nodes[t].groups.append((g, w))
    _check_ports(p, topo)


def _check_ports(p, topo):
    """A target runs one server per (service, port): a port cannot be both."""
    for t in topo.kind("target"):
        used = {}
        for g, _ in t.groups:
            key = (g.proto, g.port)
            if key in used and used[key] != g.service:
                p.fail(g.section, "port", f"target {t.name} already serves {g.proto} port "
                       f"{g.port} with {used[key]}")
            used[key] = g.service


def _check_graph(p, topo):
    if not topo.proxies():
        p.fail("lab", None, "no [proxy NAME]: a lab needs at least one")
    ids = {}
    asns = {}
    for n, node in enumerate(topo.proxies(), 1):
        if node.pid_id is None:
            node.pid_id = n
        if node.pid_id in ids:
            p.fail(node.section, "id", f"id {node.pid_id} is also proxy {ids[node.pid_id]}'s")
        ids[node.pid_id] = node.name
        if node.asn in asns:
            p.fail(node.section, "as", f"AS {node.asn} is also proxy {asns[node.asn]}'s: "
                   "every proxy has its own AS")
        asns[node.asn] = node.name
    router_as = {r.asn for r in topo.kind("router")}
    for node in topo.proxies():
        if node.asn in router_as:
            p.fail(node.section, "as", f"AS {node.asn} belongs to an ISP's routers")
    for node in topo.nodes.values():
        if not node.ifaces:
            p.fail(node.section, None, f"{node.kind} {node.name} has no [link]")
    # every node must reach every other (BGP cannot make up for a missing link)
    start = next(iter(topo.nodes))
    seen, todo = {start}, [start]
    while todo:
        for peer in topo.nodes[todo.pop()].ifaces:
            if peer not in seen:
                seen.add(peer)
                todo.append(peer)
    for name, node in topo.nodes.items():
        if name not in seen:
            p.fail(node.section, None, f"{name} is not connected to {start}")
