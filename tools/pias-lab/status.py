"""`pias-lab status`: what the lab is made of and what it is doing now:
nodes, roles, addresses, processes, BGP sessions, and for every client
the proxy its anycast traffic enters (its IAP), found twice: by following
the kernel's forwarding table hop by hop from the client (what packets
do), and from the AS path of the best route in the client's router (why)."""

import json

import bird
import netns
from netns import run_in

MAX_HOPS = 16


def trace(lab, start, addr):
    """Nodes a packet for addr crosses from node start, up to the first
    proxy. Every interface is named after the node at its other end, so
    the next node is the outgoing interface's name (relays are invisible:
    they hold no addresses)."""
    topo = lab.topo
    hops = [start]
    node = start
    for _ in range(MAX_HOPS):
        out = run_in(lab.st.ns(node), ["ip", "-j", "route", "get", str(addr)], check=False)
        try:
            r = json.loads(out)[0]
        except (ValueError, IndexError):
            return hops, None  # unreachable
        nxt = r.get("dev")
        if r.get("type") == "local" or nxt not in topo.nodes:
            return hops, None
        hops.append(nxt)
        if topo.nodes[nxt].kind == "proxy":
            return hops, nxt
        node = nxt
    return hops, None


def gather(lab):
    st, topo = lab.st, lab.topo
    procs = st.d.get("procs", {})
    d = {
        "name": st.name,
        "phase": st.d.get("phase"),
        "topology": st.d.get("source"),
        "state_dir": st.dir,
        "started": st.d.get("started"),
        "up_seconds": st.d.get("up_seconds"),
        "anycast": [str(p) for p in topo.anycast],
        "registration": [str(a) for a in topo.registration],
        "metrics_port": topo.metrics_port,
        "nodes": {},
        "links": [],
        "groups": topo.to_json()["groups"],
        "clients": {},
    }
    cut = set(st.d.get("cut", []))
    for name, node in list(topo.nodes.items()) + [(r, None) for r in topo.relays]:
        nd = node.to_json() if node else {"kind": "relay", "delay_ms": topo.relays[name].delay_ms}
        nd["namespace"] = st.ns(name)
        nd["processes"] = {k.split("/", 1)[1]: {"pid": p["pid"],
                                                "alive": netns.alive(p["pid"], p["started"])}
                           for k, p in procs.items() if k.split("/", 1)[0] == name}
        if node and node.kind in ("router", "proxy"):
            sock = lab.bird_paths(name)[1]
            nd["bgp"] = bird.bgp_states(sock)
            if node.kind == "proxy":
                nd["announced"] = bird.announced(sock)
                nd["pin_root"] = st.pin(name)
                status = lab.ctl_json(name, "show", "status")
                if status:
                    nd["piasd"] = status
                targets = lab.ctl_json(name, "show", "targets")
                if targets is not None:
                    nd["registered_targets"] = len(targets)
        d["nodes"][name] = nd
    for l in topo.links:
        d["links"].append({"a": l.a, "b": l.b, "delay_ms": l.delay_ms, "relay": l.relay,
                           "cut": " ".join(sorted((l.a, l.b))) in cut})
    asn_proxy = {p.asn: p.name for p in topo.proxies()}
    for c in topo.kind("client"):
        router = c.first_iface().peer
        sock = lab.bird_paths(router)[1]
        cd = {"router": router}
        for fam, addr in sorted(topo.probe_addresses().items()):
            hops, proxy = trace(lab, c.name, addr)
            path = bird.route_as_path(sock, addr)
            cd[f"ipv{fam}"] = {"address": str(addr), "path": hops, "proxy": proxy,
                               "as_path": path,
                               "bgp_proxy": asn_proxy.get(path[-1]) if path else None}
        d["clients"][c.name] = cd
    return d


def render(d):
    out = [f"lab {d['name']}: {d['phase']}, topology {d['topology']}, state {d['state_dir']}",
           f"anycast {' '.join(d['anycast'])}, registration {' '.join(d['registration'])}"]
    out.append("")
    out.append(f"{'node':10s} {'role':22s} addresses (interface = the node at its other end)")
    for name, n in d["nodes"].items():
        role = n["kind"]
        if n.get("as"):
            role += f" AS{n['as']}"
        if n.get("id"):
            role += f" id {n['id']}"
        if n["kind"] == "relay":
            role += f" {n['delay_ms']} ms"
        addrs = "  ".join(f"{i}: {v['ipv4']} {v['ipv6']}"
                          for i, v in n.get("interfaces", {}).items())
        procs = " ".join(f"{k}={v['pid']}" + ("" if v["alive"] else "(dead)")
                         for k, v in sorted(n["processes"].items()))
        if not addrs:  # a relay: no addresses, one process
            addrs, procs = procs, ""
        out.append(f"{name:10s} {role:22s} {addrs}")
        extra = []
        if n["kind"] == "proxy":
            extra.append("announced" if n.get("announced") else "NOT announced")
            if "registered_targets" in n:
                extra.append(f"{n['registered_targets']} targets registered")
            if "piasd" in n:
                extra.append(f"{n['piasd'].get('proxies_alive', '?')} proxies alive")
        if n["kind"] == "target":
            extra.append("groups " + " ".join(n.get("groups", [])))
        if procs or extra:
            out.append(f"{'':10s} {'':22s} {procs}" + (f"  [{', '.join(extra)}]" if extra else ""))
    out.append("")
    out.append("BGP sessions (NEIGHBOUR_FAMILY state)")
    for name, n in d["nodes"].items():
        if "bgp" not in n:
            continue
        if n["bgp"] is None:
            out.append(f"  {name:8s} BIRD not running")
            continue
        out.append(f"  {name:8s} " + "  ".join(f"{s} {v}" for s, v in sorted(n["bgp"].items())))
    out.append("")
    out.append("links")
    for l in d["links"]:
        flags = [f"{l['delay_ms']} ms each way via relay {l['relay']}"] if l["relay"] else []
        if l["cut"]:
            flags.append("CUT")
        out.append(f"  {l['a']} -- {l['b']}" + (f"  ({', '.join(flags)})" if flags else ""))
    out.append("")
    out.append("clients: where their anycast traffic enters (IAP)")
    for name, c in d["clients"].items():
        for fam in ("ipv4", "ipv6"):
            if fam not in c:
                continue
            x = c[fam]
            aspath = " ".join(map(str, x["as_path"])) if x["as_path"] else "none"
            out.append(f"  {name:6s} {x['address']:16s} -> {x['proxy'] or 'NO PROXY':6s} "
                       f"path {' > '.join(x['path'])}   AS path at {c['router']}: {aspath}")
    return "\n".join(out)
