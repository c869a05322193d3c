#!/usr/bin/python3
"""draw.py SPEC.json OUT.svg: a Graphviz picture of a pias-lab topology and
of the paths packets took through it.

SPEC is {"status": <pias-lab status --json>, "paths": [PATH...]}, each
PATH {"label": "first packet", "style": first|later|failover|moved,
"hops": [client, IAP, (RAP,) JAP, target], "ta": "udp:..."}. The status
gives the nodes (routers grouped by ISP, i.e. by AS, with the proxies and
hosts hanging off them), the links with their delays and what is cut or
withdrawn; the paths are drawn over it as arrows between the nodes that
handled the packet (the routers in between carry them, unchanged, as the
underlay). Writes OUT with `dot -Tsvg`, and the DOT source next to it."""

import json
import os
import subprocess
import sys

# one colour per kind of path, and what it is in the legend
STYLES = {
    "first": ("#d62728", "first packet: client -> IAP -> RAP -> JAP -> target"),
    "later": ("#1f77b4", "later packets: client -> IAP -> JAP -> target"),
    "failover": ("#ff7f0e", "after the target died: client -> IAP -> JAP -> target"),
    "moved": ("#2ca02c", "after the IAP withdrew: client -> IAP -> JAP -> target"),
}
NODE = {
    "router": 'shape=ellipse style=filled fillcolor="#eeeeee"',
    "proxy": 'shape=box style="filled,bold" fillcolor="#cfe2f3"',
    "client": 'shape=box style="filled,rounded" fillcolor="#fff2cc"',
    "target": 'shape=box3d style=filled fillcolor="#d9ead3"',
}


def q(s):
    return '"' + str(s).replace('"', r'\"') + '"'


def isp_of(st):
    """Each node's ISP: a router's AS; a proxy or host joins the ISP of the
    router it is linked to (its first link)."""
    nodes = st["nodes"]
    isp = {n: x["as"] for n, x in nodes.items() if x["kind"] == "router"}
    for n, x in nodes.items():
        if x["kind"] in ("proxy", "client", "target"):
            peer = next(iter(x.get("interfaces", {})), None)
            if peer in isp:
                isp[n] = isp[peer]
    return isp


def roles_of(paths):
    """node -> the roles it played in the first path that names it."""
    roles = {}
    for p in paths:
        names = ["IAP", "RAP", "JAP"] if len(p["hops"]) == 5 else ["IAP", "JAP"]
        for node, role in zip(p["hops"][1:-1], names):
            roles.setdefault(node, [])
            if role not in roles[node]:
                roles[node].append(role)
    return roles


def node_line(n, x, roles, dead_targets):
    kind = x["kind"]
    lines = [n]
    if kind == "proxy":
        lines.append(f"AS{x['as']}, piasd id {x['id']}")
        if roles.get(n):
            lines.append(" / ".join(roles[n]))
    elif kind == "router":
        lines.append(f"AS{x['as']}")
    attrs = NODE[kind]
    if kind == "proxy" and not x.get("announced", True):
        lines.append("withdrawn")
        attrs = 'shape=box style="filled,dashed" fillcolor="#f4f4f4" fontcolor="#777777"'
    if kind == "target" and n in dead_targets:
        lines.append("dead (link cut)")
        attrs = 'shape=box3d style="filled,dashed" fillcolor="#f4f4f4" fontcolor="#777777"'
    return f"  {q(n)} [label={q(chr(10).join(lines))} {attrs}];"


def dot_text(spec, clusters=True):
    st, paths = spec["status"], spec.get("paths", [])
    nodes = st["nodes"]
    isp = isp_of(st)
    roles = roles_of([p for p in paths if p["style"] in ("first", "later")])
    cut = [l for l in st["links"] if l["cut"]]
    dead_targets = {e for l in cut for e in (l["a"], l["b"]) if nodes[e]["kind"] == "target"}
    out = ["graph pias {",
           '  graph [fontname="Helvetica" fontsize=11 nodesep=0.5 ranksep=0.7 labelloc=b '
           f"label=<{legend(st, paths)}>];",
           '  node [fontname="Helvetica" fontsize=10];',
           '  edge [fontname="Helvetica" fontsize=9 color="#888888"];']
    # an ISP per AS of routers: its routers, and the proxies and hosts on them
    for asn in sorted(set(isp.values())) if clusters else []:
        members = [n for n in nodes if isp.get(n) == asn]
        out.append(f"  subgraph cluster_as{asn} {{")
        out.append(f'    label={q(f"ISP AS{asn}")} labelloc=t style="rounded,dashed" color="#999999";')
        out += ["  " + node_line(n, nodes[n], roles, dead_targets) for n in members]
        out.append("  }")
    for n, x in nodes.items():
        if x["kind"] != "relay" and (n not in isp or not clusters):
            out.append(node_line(n, x, roles, dead_targets))
    # the links, a router above what hangs off it; delayed ones carry their
    # one-way delay
    for l in st["links"]:
        a, b = l["a"], l["b"]
        if nodes[b]["kind"] == "router" and nodes[a]["kind"] != "router":
            a, b = b, a
        attrs = []
        if l["delay_ms"]:
            attrs.append(f'label={q(str(l["delay_ms"]) + " ms")} penwidth=1.5')
        if l["cut"]:
            attrs.append('style=dotted color="#cc0000" label="cut" fontcolor="#cc0000"')
        out.append(f"  {q(a)} -- {q(b)} [{' '.join(attrs)}];")
    # the paths: arrows between the nodes that handled the packets. A hop
    # shared by several paths is one arrow of parallel colours. weight=0:
    # the topology, not the paths, decides the layout (constraint=false
    # would be the way, but dot 2.43 fails on it with clusters: "trouble in
    # init_rank"; so do minlen=0 and a rank=sink node, sometimes)
    hops = {}
    for p in paths:
        h = dedupe(p["hops"])
        for i, (a, b) in enumerate(zip(h, h[1:])):
            how = "anycast" if i == 0 else ("NAT" if i == len(h) - 2 else "tunnel")
            e = hops.setdefault((a, b), {"how": how, "colours": []})
            colour = STYLES.get(p["style"], ("#000000",))[0]
            if colour not in e["colours"]:
                e["colours"].append(colour)
    for (a, b), e in hops.items():
        out.append(f"  {q(a)} -- {q(b)} [dir=forward weight=0 "
                   f"color={q(':'.join(e['colours']))} penwidth=2.5 arrowsize=0.8 "
                   f"fontcolor={q(e['colours'][0])} label={q(e['how'])}];")
    out.append("}")
    return "\n".join(out) + "\n"


def legend(st, paths):
    """The graph's label, under the picture: a title, then a line per path."""
    rows = (f'<tr><td colspan="2"><b>PIAS lab {esc(st["name"])}: anycast '
            f'{esc(", ".join(st["anycast"]))}</b></td></tr>')
    for p in paths:
        colour, what = STYLES.get(p["style"], ("#000000", p["label"]))
        rows += (f'<tr><td><font color="{colour}">&#9632;&#9632;&#9632;</font></td>'
                 f'<td align="left">{esc(what)}:  {esc(" -> ".join(dedupe(p["hops"])))}  '
                 f'({esc(p["ta"])})</td></tr>')
    rows += ('<tr><td>ms</td><td align="left">one-way delay of a link. Grey lines: links; '
             'arrows: the nodes that handled the packets (routers carry them)</td></tr>')
    return f'<table border="0" cellspacing="2">{rows}</table>'


def dedupe(hops):
    """A proxy in two roles (RAP and JAP, IAP and JAP) is one hop."""
    return [n for i, n in enumerate(hops) if i == 0 or n != hops[i - 1]]


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    if len(sys.argv) != 3:
        print("usage: draw.py SPEC.json OUT.svg", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    svg = sys.argv[2]
    dot = os.path.splitext(svg)[0] + ".dot"
    # ISPs as clusters read best, but dot 2.43's ranking can fail on some
    # cluster layouts: then the same picture without them
    for clusters in (True, False):
        with open(dot, "w") as f:
            f.write(dot_text(spec, clusters))
        p = subprocess.run(["dot", "-Tsvg", "-o", svg, dot], capture_output=True, text=True)
        if p.returncode == 0:
            break
        err = p.stderr.strip().splitlines()
        print(f"draw.py: dot failed{' (with ISP clusters)' if clusters else ''}: "
              f"{err[0] if err else p.returncode}", file=sys.stderr)
    else:
        return 1
    print(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
