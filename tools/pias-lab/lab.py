"""Building a lab and acting on a running one: `up` in four steps (network,
BGP, proxies, targets), each waiting for what the next needs, and the
fault commands (link cut/restore, piasd and bird stop/kill/start).
Everything made is recorded in the state (state.py) as it is made."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import time

import bird
import netns
import services
import topology
from netns import LabError, run, run_in, spawn, wait_until

TOOLS = os.path.dirname(os.path.abspath(__file__))
ANNOUNCE = os.path.join(os.path.dirname(os.path.dirname(TOOLS)), "dist", "bird", "pias-announce-bird")
WATCHDOG = os.path.join(TOOLS, "lab-watchdog")

WAIT_BGP_S = 30
WAIT_PIASD_S = 10
WAIT_ANNOUNCE_S = 20
WAIT_SERVERS_S = 10
WAIT_TARGETS_S = 20


class Binaries:
    """The project's programs, from one build directory."""

    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.piasd = os.path.join(self.build, "piasd")
        self.piasctl = os.path.join(self.build, "piasctl")
        self.loader = os.path.join(self.build, "piasd-loader")
        self.xdp_pass = os.path.join(self.build, "bpf", "xdp_pass.bpf.o")
        self.delay = os.path.join(self.build, "pias-delay")

    def check(self, topo):
        need = [self.piasd, self.piasctl, self.loader, self.xdp_pass]
        missing = [p for p in need if not os.path.exists(p)]
        if missing:
            raise LabError(f"not built: {' '.join(missing)} (make BUILD={self.build}, "
                           "or give pias-lab --build DIR)")
        delayed = [l.section for l in topo.links if l.delay_ms]
        if delayed and not os.access(self.delay, os.X_OK):
            raise LabError(f"[{delayed[0]}] has delay_ms but {self.delay} does not exist "
                           "(the link-delay relay, tools/pias-delay): build it, or use a "
                           "topology without delay_ms")
        progs = ["bird", "birdc", "nsenter", "ethtool", "ip"]
        svc = {g.service for g in topo.groups}
        progs += ["unbound"] if "dns" in svc else []
        progs += ["nginx"] if "http" in svc else []
        absent = [p for p in progs if not shutil.which(p)]
        if absent:
            raise LabError(f"not installed: {' '.join(absent)} (make deps)")


class Lab:
    def __init__(self, st, bins, topo=None, log=print):
        self.attaching = []  # (argv, Popen) of piasd-loader attach
        self.st = st
        self.bin = bins
        self.topo = topo
        self.log = log

    # ------------------------------------------------------------ up

    def up(self, source):
        st, topo = self.st, self.topo
        os.makedirs(st.dir, exist_ok=True)
        copy = os.path.join(st.dir, "topology.ini")
        shutil.copyfile(source, copy)
        st.create(topology=copy, source=os.path.abspath(source), build=self.bin.build,
                  loader=self.bin.loader, started=time.time(), phase="building")
        steps = [("network", self.build_network), ("BGP", self.start_bgp),
                 ("proxies", self.start_proxies), ("targets", self.start_targets),
                 ("settled", self.settle)]
        t0 = time.monotonic()
        for what, step in steps:
            t = time.monotonic()
            step()
            self.log(f"  {what:9s} ready in {time.monotonic() - t:4.1f} s")
        st.d["phase"] = "up"
        st.d["up_seconds"] = round(time.monotonic() - t0, 1)
        st.save()

    # -- network

    def build_network(self):
        st, topo = self.st, self.topo
        mount_bpffs()
        names = list(topo.nodes) + list(topo.relays)
        for name in names:
            ns = st.ns(name)
            st.add_ns(ns)  # recorded first: down removes it even if the add half-failed
            run(["ip", "netns", "add", ns])
            os.makedirs(st.node_dir(name), exist_ok=True)
        for name in names:
            self.sysctls(name)
        veths = []
        for link in topo.links:
            # each end is named after the node at the other end; a relay's
            # two ends are named after the link's two nodes
            mid = [st.ns(link.relay)] if link.relay else []
            spaces = [st.ns(link.a)] + mid + [st.ns(link.b)]
            for x, y in zip(spaces, spaces[1:]):
                veths.append(f"link add name {link.b} netns {x} type veth "
                             f"peer name {link.a} netns {y}")
        netns.ip_batch(None, veths)
        for name, node in topo.nodes.items():
            self.configure_node(node)
        for name, link in topo.relays.items():
            # pias-delay sets the offloads of its own ends
            netns.ip_batch(st.ns(name), ["link set dev lo up", f"link set dev {link.a} up",
                                         f"link set dev {link.b} up"])
        # loading the XDP program takes seconds of CPU (the verifier): the
        # proxies in parallel, but before BIRD starts. While it runs, BFD
        # packets (50 ms x 3) wait too long on this 2-core machine and the
        # sessions flap
        self.attaching = [self.attach(node) for node in topo.proxies()]
        for name, link in topo.relays.items():
            self.start_relay(name, link)
        self.join_attach()

    def sysctls(self, name):
        kind = self.topo.nodes[name].kind if name in self.topo.nodes else "relay"
        fwd = "1" if kind in ("router", "proxy") else "0"
        if kind == "relay":
            # a wire has no stack: no link-local addresses, router
            # solicitations or MLD from the relay's own ends (pias-delay)
            run_in(self.st.ns(name), ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                                      "net.ipv6.conf.default.disable_ipv6=1"])
            return
        # bpf_fib_lookup answers "forwarding disabled" unless it is on, so
        # proxies forward too; IPv6 addresses must survive a link cut
        run_in(self.st.ns(name), [
            "sysctl", "-qw", f"net.ipv4.ip_forward={fwd}", f"net.ipv6.conf.all.forwarding={fwd}",
            "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.default.keep_addr_on_down=1",
            "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0",
            "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"])
        if kind == "target" and self.topo.nodes[name].mode == "tunnel":
            # its servers listen on the anycast TAs, which its agent puts
            # on lo only once registered (the servers start first)
            run_in(self.st.ns(name), ["sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1",
                                      "net.ipv6.ip_nonlocal_bind=1"])

    def configure_node(self, node):
        topo = self.topo
        cmds = ["link set dev lo up"]
        for i in node.ifaces.values():
            cmds += [f"link set dev {i.name} up",
                     f"addr add {i.addr4} dev {i.name}",
                     f"addr add {i.addr6} dev {i.name} nodad"]
            # a proxy sends with XDP_TX; veth hands those frames only to a
            # peer that runs XDP too (README): the proxy's neighbour does
            if topo.nodes[i.peer].kind == "proxy" and not self.relay_between(node.name, i.peer):
                cmds.append(f"link set dev {i.name} xdpdrv obj {self.bin.xdp_pass} sec xdp")
        if node.kind == "proxy":
            # targets register at the anycast registration address
            for a in topo.registration:
                nodad = " nodad" if a.version == 6 else ""
                cmds.append(f"addr add {a}/{a.max_prefixlen} dev lo{nodad}")
            # its NAT addresses: its own (BIRD announces them to its ISP)
            for a in node.nat4 + node.nat6:
                nodad = " nodad" if a.version == 6 else ""
                cmds.append(f"addr add {a}/{a.max_prefixlen} dev lo{nodad}")
        netns.ip_batch(self.st.ns(node.name), cmds)
        self.host_routes(node.name)
        self.offloads(node.name, list(node.ifaces))

    def host_routes(self, name):
        """A client's or target's default routes, via its one router: set
        up with the node, and again when its link comes back up (a link
        going down takes them with it)."""
        node = self.topo.nodes[name]
        if node.kind not in ("client", "target"):
            return
        i = node.first_iface()
        gw = self.topo.nodes[i.peer].ifaces[node.name]
        netns.ip_batch(self.st.ns(name), [f"route replace default via {gw.addr4.ip}",
                                          f"route replace ::/0 via {gw.addr6.ip}"])

    def relay_between(self, a, b):
        return any(l.relay and {l.a, l.b} == {a, b} for l in self.topo.links)

    def offloads(self, name, ifaces):
        # GRO gives each veth end a NAPI context (XDP_REDIRECT needs it);
        # checksum offload off, or XDP would see partial checksums (README)
        script = "; ".join(f"ethtool -K {i} gro on tx off >/dev/null 2>&1" for i in ifaces)
        run_in(self.st.ns(name), ["sh", "-c", script + "; true"])

    def attach(self, node):
        """piasd-loader attach on every interface of a proxy, one after the
        other (they share the pin root): a Popen to join later."""
        pin = self.st.pin(node.name)
        self.st.add_pin(pin)
        script = " && ".join(shlex.join([self.bin.loader, "attach", "--dev", i, "--pin-root", pin])
                             for i in node.ifaces)
        argv = netns.nsenter(self.st.ns(node.name)) + ["sh", "-c", script]
        return argv, subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)

    def join_attach(self):
        failed = []
        for argv, p in self.attaching:
            out = p.communicate()[0]
            if p.returncode != 0:
                failed.append(f"{' '.join(argv)}: {out.strip()}")
        self.attaching = []
        if failed:
            raise LabError("\n".join(failed))

    def start_relay(self, name, link):
        # the relay's end facing a proxy receives its XDP_TX frames
        for end in (link.a, link.b):
            if self.topo.nodes[end].kind == "proxy":
                run_in(self.st.ns(name), ["ip", "link", "set", "dev", end, "xdpdrv", "obj",
                                          self.bin.xdp_pass, "sec", "xdp"])
        self.start(f"{name}/delay", name, [self.bin.delay, "--a", link.a, "--b", link.b,
                                           "--delay-ms", str(link.delay_ms)], "delay.log")

    # -- processes

    def start(self, key, node, argv, logname):
        log = self.st.path(node, logname)
        pid = spawn(self.st.ns(node), argv, log)
        self.st.add_proc(key, pid, self.st.ns(node), argv, log)
        return pid

    def stop(self, key, sig, timeout):
        p = self.st.proc(key)
        if not p or not netns.alive(p["pid"], p["started"]):
            return False
        netns.kill(p["pid"], p["started"], sig)
        if netns.wait_gone([(p["pid"], p["started"])], timeout):
            raise LabError(f"{key} (pid {p['pid']}) did not exit within {timeout} s")
        return True

    def check_alive(self, keys):
        """LabError naming the first process that died, with its log's end."""
        for key in keys:
            p = self.st.proc(key)
            if p and not netns.alive(p["pid"], p["started"]):
                raise LabError(f"{key} exited; {p['log']}:\n" + tail(p["log"], 8))

    # -- BGP

    def bird_paths(self, name):
        st = self.st
        return (st.path(name, "bird.conf"), st.path(name, "bird.ctl"), st.path(name, "bird.pid"))

    def start_bird(self, node):
        conf, sock, pidfile = self.bird_paths(node.name)
        with open(conf, "w") as f:
            f.write(bird.config(self.topo, node, self.st.path(node.name, "bird.log")))
        run(["bird", "-p", "-c", conf])  # a config error here, not in a log
        self.start(f"{node.name}/bird", node.name,
                   ["bird", "-f", "-c", conf, "-s", sock, "-P", pidfile], "bird.out")

    def start_bgp(self):
        nodes = bird.speakers(self.topo)
        for node in nodes:
            self.start_bird(node)
        self.wait_bgp(nodes, WAIT_BGP_S)

    def wait_bgp(self, nodes, timeout):
        cut = {frozenset(c.split()) for c in self.st.d.get("cut", [])}

        def check():
            self.check_alive([f"{n.name}/bird" for n in nodes])
            waiting = []
            for n in nodes:
                states = bird.bgp_states(self.bird_paths(n.name)[1]) or {}
                for name, *_ in bird.sessions(self.topo, n):
                    peer = name.rsplit("_", 1)[0]
                    # a cut link or a stopped peer: that session cannot come up
                    if frozenset((n.name, peer)) in cut or not self.st.proc_alive(f"{peer}/bird"):
                        continue
                    if states.get(name) != "Established":
                        waiting.append(f"{n.name}:{name}={states.get(name, 'no BIRD')}")
            return not waiting, " ".join(waiting[:6])
        wait_until("BGP sessions to be Established", timeout, check, 0.2)

    # -- proxies

    def make_keys(self):
        kd = os.path.join(self.st.dir, "keys")
        os.makedirs(kd, exist_ok=True)
        keys = {"overlay": os.path.join(kd, "overlay.keys"), "group": os.path.join(kd, "group.key")}
        with open(keys["overlay"], "w") as f:
            f.write(run([self.bin.piasctl, "keyring", "--id", "1"]))
        with open(keys["group"], "w") as f:
            f.write(run([self.bin.piasctl, "keygen"]))
        self.st.d["keys"] = keys
        self.st.save()
        return keys

    def piasd_conf(self, node, keys):
        conf = self.st.path(node.name, "piasd.conf")
        text = services.piasd_config(self.topo, node, self.st, ANNOUNCE, keys)
        with open(conf, "w") as f:
            f.write(text)
        out = subprocess.run([self.bin.piasd, "--check-config", conf], capture_output=True,
                             text=True)
        if out.returncode != 0:
            raise LabError(f"piasd refuses the generated config (settings from [piasd] of "
                           f"the topology?): {(out.stderr or out.stdout).strip()}")
        return conf

    def start_piasd(self, node):
        conf = self.st.path(node.name, "piasd.conf")
        pid = self.start(f"{node.name}/piasd", node.name,
                         [self.bin.piasd, "--config", conf], "piasd.log")
        # lab-watchdog watches this file: the pid it must outlive
        with open(self.st.path(node.name, "piasd.pid"), "w") as f:
            f.write(f"{pid}\n")
        return pid

    def start_watchdog(self, node):
        sock = self.bird_paths(node.name)[1]
        self.start(f"{node.name}/watchdog", node.name,
                   [WATCHDOG, self.st.path(node.name, "piasd.pid"), ANNOUNCE, sock, "withdraw"],
                   "watchdog.log")

    def ctl(self, node, *args):
        sock = self.st.path(node, "piasd.sock")
        try:
            p = subprocess.run([self.bin.piasctl, "-s", sock, *args], capture_output=True,
                               text=True, timeout=5)
        except subprocess.TimeoutExpired:
            return None
        return p.stdout if p.returncode == 0 else None

    def ctl_json(self, node, *args):
        out = self.ctl(node, *args, "--json")
        try:
            return json.loads(out) if out else None
        except ValueError:
            return None

    def wait_piasd(self, nodes, timeout):
        def check():
            self.check_alive([f"{n.name}/piasd" for n in nodes])
            waiting = [n.name for n in nodes if self.ctl(n.name, "show", "status") is None]
            return not waiting, " ".join(waiting)
        wait_until("piasd's control socket", timeout, check)

    def start_proxies(self):
        keys = self.make_keys()
        proxies = self.topo.proxies()
        for node in proxies:
            self.piasd_conf(node, keys)
        for node in proxies:
            self.start_piasd(node)
            self.start_watchdog(node)
        self.wait_piasd(proxies, WAIT_PIASD_S)

        def announced():
            self.check_alive([f"{n.name}/{w}" for n in proxies for w in ("piasd", "bird")])
            waiting = [n.name for n in proxies
                       if not bird.announced(self.bird_paths(n.name)[1])]
            return not waiting, "not yet announced by " + " ".join(waiting)
        wait_until("every piasd to announce the anycast prefixes", WAIT_ANNOUNCE_S, announced)

        self.wait_routed()

    def wait_routed(self):
        routers = self.topo.kind("router")

        def routed():
            missing = [f"{r.name}:{p}" for r in routers for p in self.topo.anycast
                       if not bird.route_as_path(self.bird_paths(r.name)[1], p.network_address)]
            return not missing, "no route at " + " ".join(missing[:6])
        wait_until("the anycast prefixes to reach every router", WAIT_BGP_S, routed, 0.2)

    def settle(self):
        """Up returns a lab in its steady state. Starting the proxies and
        servers loads this 2-core machine (and the kernel may still be
        tearing down a lab just gone): a BFD session (50 ms x 3) can flap
        and its BGP session waits out the error wait time (1-4 s). Seen
        once in CI: r1-r2 Idle right after up, so cl1's queries to t2 were
        lost."""
        self.wait_bgp(bird.speakers(self.topo), WAIT_BGP_S)
        self.wait_routed()

    # -- targets

    def start_servers(self, node):
        d = self.st.node_dir(node.name)
        keys = []
        for service in ("dns", "http"):
            ports = [p for s, p in services.servers(node) if s == service]
            if not ports:
                continue
            if service == "dns":
                conf = os.path.join(d, "unbound.conf")
                text = services.unbound_config(node, d, ports)
                argv = ["unbound", "-d", "-c", conf]
            else:
                services.write_www(node, d)
                conf = os.path.join(d, "nginx.conf")
                text = services.nginx_config(node, d, ports)
                argv = ["nginx", "-c", conf, "-p", d, "-e", "stderr"]
            with open(conf, "w") as f:
                f.write(text)
            key = f"{node.name}/{'unbound' if service == 'dns' else 'nginx'}"
            self.start(key, node.name, argv, f"{key.split('/')[1]}.log")
            keys.append((key, service, ports))
        return keys

    def listening(self, node, service, ports):
        opt = "-Hlnu" if service == "dns" else "-Hlnt"
        out = run_in(self.st.ns(node), ["ss", opt], check=False)
        return all(f":{p} " in out for p in ports)

    def registrations(self):
        """{target node: [(TA, endpoint, token file, weight and options)]}:
        what each target's one agent keeps registered, every group and
        family."""
        out = {}
        for g in self.topo.groups:
            for fam, ta in g.tas():
                for t, w in g.targets:
                    node = self.topo.nodes[t]
                    a = node.addr4() if fam == 4 else f"[{node.addr6()}]"
                    tok = os.path.join(self.st.dir, "keys", f"token-{g.name}-{fam}")
                    opts = f"{w} policy={g.policy}" if g.policy else f"{w}"
                    check = topology.CHECK_OF_SERVICE[g.service]
                    if node.check == "on" and check:
                        opts += f" check={check}"
                    out.setdefault(t, []).append((ta, f"{a}:{g.port}", tok, opts))
        return out

    def start_agent(self, node, regs):
        """One `piasctl target join --file` per target, all its registrations."""
        path = self.st.path(node, "registrations")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f"# generated by pias-lab: target {node}\n")
            f.writelines(f"{ta} {ep} {tok} {w}\n" for ta, ep, tok, w in regs)
        reg = f"{self.topo.registration4()}:{self.topo.registration_port()}"
        key = f"{node}/agent"
        argv = [self.bin.piasctl, "target", "join", "--file", path, "--registration", reg]
        n = self.topo.nodes[node]
        if n.mode == "tunnel":
            # its own pin directory: every lab target has the same bpffs
            argv += ["--mode", "tunnel", "--interface", n.first_iface().name,
                     "--pin-dir", self.st.pin(node) + "-tt"]
        self.start(key, node, argv, "agent.log")
        return key

    def start_targets(self):
        topo = self.topo
        servers = []
        for node in topo.kind("target"):
            servers += [(node.name, s) for s in self.start_servers(node)]

        def serving():
            self.check_alive([k for _, (k, _, _) in servers])
            waiting = [k for n, (k, svc, ports) in servers if not self.listening(n, svc, ports)]
            return not waiting, " ".join(waiting)
        wait_until("the targets' servers to listen", WAIT_SERVERS_S, serving)

        regs = self.registrations()
        nregs = sum(len(r) for r in regs.values())
        for g in topo.groups:
            for fam, ta in g.tas():
                tok = os.path.join(self.st.dir, "keys", f"token-{g.name}-{fam}")
                with open(tok, "w") as f:
                    f.write(run([self.bin.piasctl, "token", "--group-key-file",
                                 self.st.d["keys"]["group"], "--ta", ta]))
        agents = [self.start_agent(node, r) for node, r in regs.items()]

        def registered():
            self.check_alive(agents)
            n = self.registered_count()
            return n >= nregs, f"{n} of {nregs} registrations"
        wait_until("every target to register with a JAP", WAIT_TARGETS_S, registered, 0.2)

    def registered_count(self):
        n = 0
        for p in self.topo.proxies():
            n += len(self.ctl_json(p.name, "show", "targets") or [])
        return n

    # ------------------------------------------------------------ faults

    def link_ends(self, a, b):
        for l in self.topo.links:
            if {l.a, l.b} == {a, b}:
                return l, [(a, b), (b, a)]
        raise LabError(f"no link between {a} and {b} in {self.st.d['source']}")

    def link(self, action, a, b, silent=False):
        link, ends = self.link_ends(a, b)
        key = " ".join(sorted((a, b)))
        cut = self.st.d.setdefault("cut", [])
        for node, iface in ends:
            ns = self.st.ns(node)
            if action == "cut" and silent:
                # packets vanish, carrier stays: only BFD or the hold timer notice
                run_in(ns, ["nft", "-f", "-"], input=nft_drop(iface))
            elif action == "cut":
                run_in(ns, ["ip", "link", "set", "dev", iface, "down"])
            else:
                run_in(ns, ["nft", "delete", "table", "netdev", nft_table(iface)], check=False)
                run_in(ns, ["ip", "link", "set", "dev", iface, "up"])
                i = self.topo.nodes[node].ifaces[iface]
                run_in(ns, ["ip", "addr", "replace", str(i.addr4), "dev", iface])
                run_in(ns, ["ip", "addr", "replace", str(i.addr6), "dev", iface, "nodad"])
                self.host_routes(node)
        if action == "cut" and key not in cut:
            cut.append(key)
        if action == "restore" and key in cut:
            cut.remove(key)
        self.st.save()

    def piasd(self, action, name):
        node = self.proxy(name)
        key = f"{name}/piasd"
        if action == "start":
            if self.st.proc_alive(key):
                raise LabError(f"piasd already runs on {name} (pid {self.st.proc(key)['pid']})")
            self.start_piasd(node)
            self.wait_piasd([node], WAIT_PIASD_S)
            return f"piasd started on {name} (pid {self.st.proc(key)['pid']})"
        sig = signal.SIGTERM if action == "stop" else signal.SIGKILL
        # SIGTERM: piasd withdraws first (it waits up to 5 s for the command)
        if not self.stop(key, sig, 8 if action == "stop" else 3):
            return f"piasd was not running on {name}"
        return f"piasd on {name}: {'stopped' if action == 'stop' else 'killed'}"

    def bird(self, action, name):
        node = self.topo.nodes.get(name)
        if not node or node.kind not in ("router", "proxy"):
            raise LabError(f"{name} is not a router or proxy (no BIRD there)")
        key = f"{name}/bird"
        if action != "start":
            sig = signal.SIGTERM if action == "stop" else signal.SIGKILL
            if not self.stop(key, sig, 5):
                return f"BIRD was not running on {name}"
            return f"BIRD on {name}: {'stopped' if action == 'stop' else 'killed'}"
        if self.st.proc_alive(key):
            raise LabError(f"BIRD already runs on {name}")
        self.start_bird(node)
        sock = self.bird_paths(name)[1]
        wait_until(f"BIRD on {name}", 5, lambda: (bird.protocols(sock) is not None, ""))
        if node.kind == "proxy":
            # a new BIRD starts with the anycast protocols disabled; piasd
            # believes it announced already, so tell BIRD what piasd says
            status = self.ctl_json(name, "show", "status") or {}
            if status.get("announced"):
                run([ANNOUNCE, sock, "announce"])
        self.wait_bgp([node], WAIT_BGP_S)
        return f"BIRD started on {name}; its sessions are Established"

    def server(self, action, name, service):
        """A target's server (unbound or nginx, one process each): hang,
        resume, kill, or start again with the argv it was started with."""
        node = self.topo.nodes.get(name)
        if not node or node.kind != "target":
            raise LabError(f"{name} is not a target")
        key = f"{name}/{'unbound' if service == 'dns' else 'nginx'}"
        p = self.st.proc(key)
        if not p:
            raise LabError(f"{name} runs no {service} server")
        alive = netns.alive(p["pid"], p["started"])
        if action == "start":
            if alive:
                raise LabError(f"{key} already runs (pid {p['pid']})")
            pid = self.start(key, name, p["argv"], os.path.basename(p["log"]))
            return f"{key} started (pid {pid})"
        if not alive:
            raise LabError(f"{key} is not running")
        sig = {"hang": signal.SIGSTOP, "resume": signal.SIGCONT, "kill": signal.SIGKILL}[action]
        netns.kill(p["pid"], p["started"], sig)
        if action == "kill" and netns.wait_gone([(p["pid"], p["started"])], 3):
            raise LabError(f"{key} (pid {p['pid']}) did not exit within 3 s")
        return f"{key} (pid {p['pid']}): {action}"

    def proxy(self, name):
        node = self.topo.nodes.get(name)
        if not node or node.kind != "proxy":
            raise LabError(f"{name} is not a proxy")
        return node


def nft_table(iface):
    return f"pias_lab_cut_{iface}"


def nft_drop(iface):
    return (f"table netdev {nft_table(iface)} {{\n"
            f"  chain in {{ type filter hook ingress device \"{iface}\" priority 0;\n"
            "    policy drop; }\n"
            "}\n")


def mount_bpffs():
    with open("/proc/mounts") as f:
        if any(l.split()[1:3] == ["/sys/fs/bpf", "bpf"] for l in f):
            return
    run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"])


def tail(path, n):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).rstrip()
    except OSError:
        return "(no log)"
