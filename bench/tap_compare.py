#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tap_compare.py - two network namespaces joined by a software switch:
nethub, vde_switch, Open vSwitch's userspace datapath and the Linux bridge,
measured in one run with the same traffic.

For each switch the script builds the same topology, runs
  - iperf3 TCP, one stream, namespace A to namespace B, for --seconds,
  - a small-frame rate test: iperf3 UDP with 18-byte payloads (60-byte
    Ethernet frames, 64 with the FCS) sent as fast as iperf3 can, counting
    the datagrams B received per second,
then tears it down and prints one JSON line; at the end it writes all
results as JSON (--json) and a bar chart (--svg).  Root only; needs
iproute2, iperf3, vde2 (vde_switch, vde_plug2tap) and openvswitch-switch
(ovsdb-server, ovs-vswitchd, ovs-vsctl; started here on a private database
socket and run directory, nothing system-wide is touched).

Topologies (A: 10.214.0.1, B: 10.214.0.2, both /24):
  nethub   nethubd with two tap netdevs (virtio-net headers and offloads
           on, the defaults), each tap moved into its namespace
  vde      vde_switch -t tapA, vde_plug2tap tapB (no offloads: VDE has none)
  ovs      a datapath_type=netdev bridge with two veth pairs, the switch
           ends as ports (AF_PACKET); offloads off on the veths, as OVS's
           userspace datapath needs without userspace-tso
  bridge   a Linux bridge with two veth pairs (the kernel's own path,
           offloads on)

Usage: tap_compare.py [--nethubd PATH] [--seconds N] [--only a,b]
                      [--json FILE] [--svg FILE]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

NS_A, NS_B = "nhbench-a", "nhbench-b"
IP_A, IP_B = "10.214.0.1", "10.214.0.2"
SYSTEMS = ("nethub", "vde", "ovs", "bridge")


def sh(*cmd, check=True, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       **kw)
    if check and p.returncode:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(map(str, cmd)),
                                                p.returncode,
                                                p.stderr.strip()))
    return p


def ns(name, *cmd, **kw):
    return sh("ip", "netns", "exec", name, *cmd, **kw)


def wait_for(cond, what, timeout=15):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def link_exists(name):
    return sh("ip", "link", "show", "dev", name, check=False).returncode == 0


class Topology:
    """Namespaces A and B; subclasses join them through a switch."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.undo = []
        for n in (NS_A, NS_B):
            sh("ip", "netns", "del", n, check=False)
            sh("ip", "netns", "add", n)
            sh("ip", "-n", n, "link", "set", "lo", "up")

    def place(self, link, nsname, addr):
        sh("ip", "link", "set", "dev", link, "netns", nsname)
        sh("ip", "-n", nsname, "addr", "add", addr + "/24", "dev", link)
        sh("ip", "-n", nsname, "link", "set", "dev", link, "up")

    def veth_pair(self, host, inner, nsname, addr):
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", inner)
        self.undo.append(lambda: sh("ip", "link", "del", host, check=False))
        self.place(inner, nsname, addr)
        sh("ip", "link", "set", "dev", host, "up")

    def close(self):
        # undo first: OVS must still run to delete its bridge
        for fn in reversed(self.undo):
            try:
                fn()
            except Exception as e:  # keep tearing down
                print("teardown: %s" % e, file=sys.stderr)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        for n in (NS_A, NS_B):
            sh("ip", "netns", "del", n, check=False)


class Nethub(Topology):
    name = "nethub"

    def __init__(self, tmp, nethubd):
        super().__init__(tmp)
        pid = os.path.join(tmp, "nethubd.pid")
        self.procs.append(subprocess.Popen(
            [nethubd, "-netdev", "tap,id=a,ifname=nhbA,script=no,"
             "downscript=no", "-netdev",
             "tap,id=b,ifname=nhbB,script=no,downscript=no", "--pidfile",
             pid, "--log-level", "warn"], stdout=subprocess.DEVNULL))
        wait_for(lambda: os.path.exists(pid), "nethubd")
        self.pid = int(open(pid).read())
        self.place("nhbA", NS_A, IP_A)
        self.place("nhbB", NS_B, IP_B)


class Vde(Topology):
    name = "vde"

    def __init__(self, tmp):
        super().__init__(tmp)
        sock = os.path.join(tmp, "vde")
        self.procs.append(subprocess.Popen(
            ["vde_switch", "-s", sock, "-t", "vdeA"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL))
        wait_for(lambda: os.path.exists(os.path.join(sock, "ctl")) and
                 link_exists("vdeA"), "vde_switch")
        self.pid = self.procs[0].pid
        self.procs.append(subprocess.Popen(
            ["vde_plug2tap", "-s", sock, "vdeB"],
            stdout=subprocess.DEVNULL))
        wait_for(lambda: link_exists("vdeB"), "vde_plug2tap")
        self.place("vdeA", NS_A, IP_A)
        self.place("vdeB", NS_B, IP_B)


class Ovs(Topology):
    name = "ovs"

    def __init__(self, tmp):
        super().__init__(tmp)
        d = os.path.join(tmp, "ovs")
        os.makedirs(d)
        env = dict(os.environ, OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d,
                   OVS_SYSCONFDIR=d)
        self.env = env
        db, sock = os.path.join(d, "conf.db"), os.path.join(d, "db.sock")
        self.vsctl = ["ovs-vsctl", "--db=unix:" + sock, "--timeout=10"]
        sh("ovsdb-tool", "create", db,
           "/usr/share/openvswitch/vswitch.ovsschema", env=env)
        self.procs.append(subprocess.Popen(
            ["ovsdb-server", db, "--remote=punix:" + sock,
             "--unixctl=" + os.path.join(d, "ovsdb.ctl"),
             "--log-file=" + os.path.join(d, "ovsdb.log")], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: os.path.exists(sock), "ovsdb-server")
        sh(*self.vsctl, "--no-wait", "init", env=env)
        self.procs.append(subprocess.Popen(
            ["ovs-vswitchd", "unix:" + sock,
             "--unixctl=" + os.path.join(d, "vswitchd.ctl"),
             "--log-file=" + os.path.join(d, "vswitchd.log")], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.pid = self.procs[-1].pid
        sh(*self.vsctl, "add-br", "nhbovs", "--", "set", "bridge", "nhbovs",
           "datapath_type=netdev", env=env)
        self.undo.append(lambda: sh("ip", "link", "del", "nhbovs",
                                    check=False))
        self.undo.append(lambda: sh(*self.vsctl, "--if-exists", "del-br",
                                    "nhbovs", env=env, check=False))
        for host, inner, nsname, addr in (("ovA", "ovA1", NS_A, IP_A),
                                          ("ovB", "ovB1", NS_B, IP_B)):
            self.veth_pair(host, inner, nsname, addr)
            for dev, where in ((host, None), (inner, nsname)):
                cmd = ["ethtool", "-K", dev, "tx", "off", "tso", "off",
                       "gso", "off", "gro", "off"]
                if where:
                    ns(where, *cmd, check=False)
                else:
                    sh(*cmd, check=False)
            sh(*self.vsctl, "add-port", "nhbovs", host, env=env)
        sh("ip", "link", "set", "dev", "nhbovs", "up", check=False)


class Bridge(Topology):
    name = "bridge"

    def __init__(self, tmp):
        super().__init__(tmp)
        sh("ip", "link", "add", "nhbbr", "type", "bridge")
        self.undo.append(lambda: sh("ip", "link", "del", "nhbbr",
                                    check=False))
        sh("ip", "link", "set", "nhbbr", "up")
        for host, inner, nsname, addr in (("lbA", "lbA1", NS_A, IP_A),
                                          ("lbB", "lbB1", NS_B, IP_B)):
            self.veth_pair(host, inner, nsname, addr)
            sh("ip", "link", "set", host, "master", "nhbbr")
        self.pid = None


def cpu_s(pid):
    """utime + stime of @pid in seconds (None: the kernel's own path)."""
    if not pid:
        return 0.0
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def iperf(client_args, seconds):
    srv = subprocess.Popen(["ip", "netns", "exec", NS_B, "iperf3", "-s",
                            "-1"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            p = ns(NS_A, "iperf3", "-c", IP_B, "-J", "-t", seconds,
                   *client_args, check=False, timeout=seconds + 60)
            res = json.loads(p.stdout or "{}")
            err = res.get("error", "" if p.returncode == 0 else p.stderr)
            if not err:
                return res
            if "Connection refused" not in err:
                raise RuntimeError("iperf3: " + err)
            time.sleep(0.1)
        raise RuntimeError("iperf3 server did not start")
    finally:
        srv.wait(20)


def measure(topo, seconds):
    wait_for(lambda: ns(NS_A, "ping", "-c", "1", "-W", "1", IP_B,
                        check=False).returncode == 0, "ping", 20)
    c0, t0 = cpu_s(topo.pid), time.monotonic()
    tcp = iperf([], seconds)
    c1, t1 = cpu_s(topo.pid), time.monotonic()
    udp = iperf(["-u", "-b", "0", "-l", "18"], seconds)
    s = udp["end"]["sum"]
    got = s["packets"] - s["lost_packets"]
    return {
        "system": topo.name,
        "tcp_gbit_s": tcp["end"]["sum_received"]["bits_per_second"] / 1e9,
        "tcp_retransmits": tcp["end"]["sum_sent"].get("retransmits"),
        "switch_cpu_during_tcp": (c1 - c0) / (t1 - t0) if topo.pid else None,
        "small_kpps": got / s["seconds"] / 1e3,
        "small_sent_kpps": s["packets"] / s["seconds"] / 1e3,
        "small_loss_pct": s["lost_percent"],
    }


def svg(results, path):
    """Two bar charts side by side: TCP Gbit/s and small-frame kpps."""
    w, h, pad, bw = 360, 260, 40, 50
    charts = (("TCP, one stream (Gbit/s)", "tcp_gbit_s", "%.2f"),
              ("60-byte frames delivered (kpps)", "small_kpps", "%.0f"))
    colors = {"nethub": "#2a7ab9", "vde": "#b9772a", "ovs": "#6a9a3a",
              "bridge": "#888888"}
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (2 * w, h)]
    for k, (title, key, fmt) in enumerate(charts):
        x0 = k * w
        top = max(r[key] for r in results) or 1
        out.append('<text x="%d" y="20" text-anchor="middle" '
                   'font-weight="bold">%s</text>' % (x0 + w / 2, title))
        base = h - pad
        for i, r in enumerate(results):
            bh = (h - 2 * pad - 20) * r[key] / top
            x = x0 + pad + i * (bw + 25)
            out.append('<rect x="%d" y="%.1f" width="%d" height="%.1f" '
                       'fill="%s"/>' % (x, base - bh, bw, bh,
                                        colors.get(r["system"], "#444")))
            out.append('<text x="%d" y="%.1f" text-anchor="middle">%s'
                       '</text>' % (x + bw / 2, base - bh - 4,
                                    fmt % r[key]))
            out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>'
                       % (x + bw / 2, base + 16, r["system"]))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>'
                   % (x0 + pad - 10, base, x0 + w - 10, base))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nethubd", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "ctl",
        "nethubd"))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--only", default=",".join(SYSTEMS))
    ap.add_argument("--json")
    ap.add_argument("--svg")
    opts = ap.parse_args()
    if os.geteuid():
        sys.exit("tap_compare.py: run as root")
    for tool in ("iperf3", "vde_switch", "vde_plug2tap", "ovs-vswitchd",
                 "ethtool"):
        if not shutil.which(tool):
            sys.exit("tap_compare.py: %s is missing" % tool)
    results = []
    for name in opts.only.split(","):
        tmp = tempfile.mkdtemp(prefix="nhbench-")
        topo = None
        try:
            if name == "nethub":
                topo = Nethub(tmp, opts.nethubd)
            elif name == "vde":
                topo = Vde(tmp)
            elif name == "ovs":
                topo = Ovs(tmp)
            elif name == "bridge":
                topo = Bridge(tmp)
            else:
                sys.exit("unknown system %r" % name)
            r = measure(topo, opts.seconds)
            print(json.dumps(r), flush=True)
            results.append(r)
        finally:
            if topo:
                topo.close()
            shutil.rmtree(tmp, ignore_errors=True)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=1)
    if opts.svg and results:
        svg(results, opts.svg)


if __name__ == "__main__":
    main()
