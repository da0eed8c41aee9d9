#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_bench_transports.py - nethub-bench's tap, vde and vhost-user
transports.

tap: the bench opens AF_PACKET sockets on host interfaces - the kernel
side of two taps nethubd holds, and two veths whose peers are ports of a
Linux bridge made here - runs a modest offered rate through the switch and
its figures must agree with the switch's (QMP query-netdevs) or the
interfaces' own counters.  vde: the same through a vde_switch started on a
private directory, its figures checked against the switch's management
console.  And the errors: no such interface, one interface for two ports,
a frame larger than the MTU, a socket directory with no switch.
vhost-user: the bench's ports are front-ends of DPDK's vhost PMD in
dpdk-testpmd, forwarding io between its two ports (a wire); every frame
one port sends must come out of the other, by the bench's totals and by
testpmd's, with the bench connecting and (--vhost-server) listening.

Needs root, iproute2, vde2 and dpdk-testpmd (Debian's dpdk-dev).  nethub-bench is $NETHUB_BENCH (default
build/bench/nethub-bench)."""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import netns  # noqa: E402
from nethub import Nethubd, poll, tmpdir  # noqa: E402
from netns import link_name  # noqa: E402

RATE = 20000            # frames/s offered: far below any switch's capacity
DURATION = 1.0
WARMUP = 0.3
# the bench teaches the switch its MACs with a few 60-byte broadcasts per
# port before it measures (at least 3 rounds, at most one per 50 ms of its
# 5-second setup); the switches count those, the bench's data totals may not
LEARN_SLACK = 110


def bench_path():
    path = os.environ.get("NETHUB_BENCH", "build/bench/nethub-bench")
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(nethub.REPO, path)


def bench(*args, timeout=60, cmd=None):
    """Run nethub-bench (after the words @cmd, if given, instead of it);
    its CompletedProcess (text)."""
    cmd = ([bench_path()] if cmd is None else cmd) + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout)


def bench_json(*args, rate=RATE):
    """nethub-bench --json at @rate for DURATION; its parsed report."""
    p = bench(*args, "--duration", DURATION, "--warmup", WARMUP,
              "--rate", rate, "--json")
    assert p.returncode == 0, "nethub-bench %s: exit %d:\n%s" % (
        " ".join(map(str, args)), p.returncode, p.stderr[-3000:])
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise AssertionError("not one JSON document: %r" % p.stdout[-2000:])


def bench_fails(*args, timeout=60, cmd=None):
    """nethub-bench must exit 1 without a report; its stderr."""
    p = bench(*args, "--duration", 0.5, "--warmup", 0, "--json",
              timeout=timeout, cmd=cmd)
    assert p.returncode == 1, "exit %d, stdout %r, stderr %r" % (
        p.returncode, p.stdout[-500:], p.stderr[-2000:])
    assert p.stdout == "", p.stdout[-500:]
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, \
        p.stderr[-3000:]
    return p.stderr


def check_run(run, transport):
    """A clean run at RATE: all offered frames delivered."""
    assert run["transport"] == transport, run
    assert run["port_errors"] == 0 and run["tx_errors"] == 0, run
    assert RATE * 0.8 <= run["offered_fps"] <= RATE * 1.1, run
    assert run["tx_frames"] >= RATE * DURATION * 0.8, run
    assert run["loss_pct"] == 0 and run["lost_frames"] == 0, \
        "lost %d of %d frames at %d frames/s" % (
            run["lost_frames"], run["tx_frames"], RATE)
    assert run["rx_frames"] == run["tx_frames"], run
    # frames sent in the warm-up may still arrive in the window, and the
    # last ones of the window after it: delivered follows offered closely
    assert abs(run["delivered_fps"] - run["offered_fps"]) <= \
        run["offered_fps"] * 0.1, run
    assert run["misdelivered"] == 0 and run["reordered"] == 0, run
    assert run["lat_samples"] == run["tx_frames"], run
    assert 0 < run["lat_p50_us"] <= run["lat_p99_us"], run


def bench_totals(run, nports=2):
    """[(sent, received)] per bench port, every epoch, when the report has
    them (per_port); else None."""
    pp = run.get("per_port")
    if not pp or "sent_total" not in pp[0]:
        return None
    by = {p["port"]: p for p in pp}
    return [(by[i]["sent_total"], by[i]["received_total"])
            for i in range(nports)]


def check_counters(run, switch):
    """The switch's per-port counters @switch [(in, out)] against the
    bench: port 0 sends, port 1 only teaches the switch its MAC."""
    totals = bench_totals(run)
    nethub.diag("switch in/out per port %r; bench measured tx %d rx %d, "
                "totals %r" % (switch, run["tx_frames"], run["rx_frames"],
                               totals))
    if totals is not None:
        for i, ((sent, rcvd), (sw_in, sw_out)) in \
                enumerate(zip(totals, switch)):
            assert 0 <= sw_in - sent <= LEARN_SLACK, \
                "port %d: bench sent %d, the switch took in %d" % (
                    i, sent, sw_in)
            assert 0 <= sw_out - rcvd <= LEARN_SLACK, \
                "port %d: the switch sent out %d, the bench received %d" % (
                    i, sw_out, rcvd)
    # the data frames: port 0's measured frames are inside what the switch
    # took in from it, and beyond them only the warm-up and learning ones
    tx = run["tx_frames"]
    warm = RATE * (WARMUP + 0.1)
    assert tx <= switch[0][0] <= tx + warm + LEARN_SLACK, \
        "bench sent %d measured frames, the switch took in %d" % (
            tx, switch[0][0])
    assert run["rx_frames"] <= switch[1][1] <= tx + warm + LEARN_SLACK, \
        "bench received %d measured frames, the switch sent out %d" % (
            run["rx_frames"], switch[1][1])
    assert switch[1][0] <= LEARN_SLACK, switch
    assert abs(switch[0][0] - switch[1][1]) <= LEARN_SLACK, \
        "the switch took in %d and sent out %d data frames" % (
            switch[0][0], switch[1][1])


def read_sysctl(path):
    with open(path) as f:
        return f.read().strip()


# ---------------------------------------------------------------- tap

def tap_switch():
    """nethubd with two tap netdevs t0, t1 (interfaces made by nethubd)."""
    names = [link_name("bt0"), link_name("bt1")]
    args = []
    for i, n in enumerate(names):
        args += ["-netdev", "tap,id=t%d,ifname=%s,script=no,downscript=no"
                 % (i, n)]
    d = Nethubd(*args, "--log-level", "warn", qmp=True).start()
    return d, names


def netdev_counters(d, ids):
    nds = {nd["id"]: nd for nd in d.qmp_cmd("query-netdevs")}
    out = []
    for i in ids:
        p = nds[i]["ports"][0]
        nethub.check_port_accounting(p)
        assert nethub.rx_drops(p) == 0 and nethub.tx_drops(p) == 0, p
        out.append((p["stats"]["rx-frames"], p["stats"]["tx-frames"]))
    return out


def test_tap_into_nethubd_taps():
    d, names = tap_switch()
    run = bench_json("--transport", "tap", "--connect", ",".join(names),
                     "--switch-pid", d.pid)
    check_run(run, "tap")
    check_counters(run, netdev_counters(d, ["t0", "t1"]))
    for n in names:
        info = netns.link_info(n)
        assert "UP" in info["flags"], info
        assert read_sysctl("/proc/sys/net/ipv6/conf/%s/disable_ipv6"
                           % n) == "1", n
    assert run["foreign"] <= 2, "%d foreign frames" % run["foreign"]
    assert run["switch_cpu_pct"] >= 0, run
    d.stop_clean()


def test_tap_packet_io_modes():
    """Both ways of moving frames, each through its own nethubd: memory-
    mapped rings (--packet-io mmap, which fails rather than falls back when
    named) and sendmmsg/recvmmsg.  Every frame arrives, once, with its
    latency stamp, and the switch counts what the bench counts."""
    for mode in ("mmap", "mmsg"):
        d, names = tap_switch()
        p = bench("--transport", "tap", "--connect", ",".join(names),
                  "--packet-io", mode, "--switch-pid", d.pid,
                  "--duration", DURATION, "--warmup", WARMUP,
                  "--rate", RATE, "--json")
        assert p.returncode == 0, "--packet-io %s: exit %d:\n%s" % (
            mode, p.returncode, p.stderr[-3000:])
        assert "no packet rings" not in p.stderr, p.stderr
        run = json.loads(p.stdout)
        nethub.diag("--packet-io %s: offered %d delivered %d frames/s, "
                    "latency p50 %.1f us p99 %.1f us" % (
                        mode, run["offered_fps"], run["delivered_fps"],
                        run["lat_p50_us"], run["lat_p99_us"]))
        check_run(run, "tap")
        check_counters(run, netdev_counters(d, ["t0", "t1"]))
        d.stop_clean()


def ifstat(name, what):
    return int(read_sysctl("/sys/class/net/%s/statistics/%s" % (name, what)))


def bridge_with_veths():
    """A Linux bridge with two veth pairs: ports are the peers, the bench
    gets the other ends.  Everything is deleted when the test ends."""
    br = link_name("br")
    ends = []
    netns.ip("link", "add", br, "type", "bridge")
    nethub.at_cleanup(lambda: netns.ip("link", "del", br, check=False))
    for k in range(2):
        end, port = link_name("v%d" % k), link_name("p%d" % k)
        netns.ip("link", "add", end, "type", "veth", "peer", "name", port)
        nethub.at_cleanup(lambda e=end: netns.ip("link", "del", e,
                                                 check=False))
        netns.ip("link", "set", port, "master", br)
        with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % port,
                  "w") as f:
            f.write("1\n")
        netns.ip("link", "set", port, "up")
        ends.append(end)
    with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % br, "w") as f:
        f.write("1\n")
    netns.ip("link", "set", br, "up")
    return br, ends


def test_tap_into_a_linux_bridge():
    br, ends = bridge_with_veths()
    before = [(ifstat(e, "tx_packets"), ifstat(e, "rx_packets"))
              for e in ends]
    run = bench_json("--transport", "tap", "--connect", ",".join(ends))
    check_run(run, "tap")
    after = [(ifstat(e, "tx_packets"), ifstat(e, "rx_packets"))
             for e in ends]
    # what the bench's ends sent is what the bridge took in, and so on
    check_counters(run, [(a[0] - b[0], a[1] - b[1])
                         for a, b in zip(after, before)])


def test_tap_errors_name_the_interface():
    d, names = tap_switch()
    missing = link_name("zz")
    err = bench_fails("--transport", "tap", "--connect",
                      "%s,%s" % (names[0], missing))
    assert "interface '%s': no such interface" % missing in err, err
    err = bench_fails("--transport", "tap", "--connect", names[0])
    assert "one interface per port: 1 given for 2 ports" in err, err
    err = bench_fails("--transport", "tap", "--connect",
                      "%s,%s" % (names[0], names[0]))
    assert "interface '%s' is given for ports 0 and 1" % names[0] in err, err
    err = bench_fails("--transport", "tap", "--connect",
                      "%s,%s" % (names[0], "x" * 16))
    assert "'%s' is not an interface name" % ("x" * 16) in err, err
    err = bench_fails("--transport", "tap", "--connect", ",".join(names),
                      "--packet-io", "ring")
    assert "--packet-io: 'ring' is not one of mmap, mmsg" in err, err
    err = bench_fails("--transport", "udp", "--udp-ports", 40000,
                      "--packet-io", "mmap")
    assert "--packet-io: is for tap, not udp" in err, err
    err = bench_fails("--transport", "tap", "--connect", ",".join(names),
                      "--frame-size", 1515)
    assert "1515 is more than interface '%s' carries (MTU 1500 + 14)" \
        % names[0] in err, err
    # without the privileges: which one is missing, on which interface
    # (nethubd leaves its taps down; the bench brings them up)
    for n in names:
        netns.ip("link", "set", "dev", n, "down")
    err = bench_fails("setpriv", "--bounding-set=-all", bench_path(),
                      "--transport", "tap", "--connect", ",".join(names),
                      cmd=[])
    assert "interface '%s': AF_PACKET socket: Operation not permitted " \
        "(the tap transport needs root" % names[0] in err, err
    err = bench_fails("setpriv", "--bounding-set=-all,+net_raw",
                      bench_path(), "--transport", "tap", "--connect",
                      ",".join(names), cmd=[])
    assert "interface '%s' is down and cannot be brought up: Operation " \
        "not permitted" % names[0] in err, err
    assert "UP" not in netns.link_info(names[0])["flags"]
    # a bigger MTU lets bigger frames through
    for n in names:
        netns.ip("link", "set", "dev", n, "mtu", 9000)
    d.wait_state(lambda st: all(nethub.port(st, "t%d" % i)["mtu"] == 9000
                                for i in range(2)), what="MTU 9000")
    p = bench("--transport", "tap", "--connect", ",".join(names),
              "--frame-size", 9014, "--duration", 0.5, "--warmup", 0,
              "--rate", 2000, "--json")
    assert p.returncode == 0, p.stderr[-2000:]
    run = json.loads(p.stdout)
    assert run["frame_size"] == 9014 and run["loss_pct"] == 0, run
    assert run["tx_frames"] > 0 and run["rx_frames"] == run["tx_frames"], run
    # the switch is still fine
    netdev_counters(d, ["t0", "t1"])
    d.stop_clean()


# ---------------------------------------------------------------- vde

class VdeSwitch:
    """vde_switch on a private directory: DIR/sw is its socket directory,
    DIR/mgmt its management console.  Killed and removed at cleanup."""

    def __init__(self):
        assert shutil.which("vde_switch"), "vde_switch is not installed"
        self.dir = tmpdir("nethub-vde-")
        self.sock = os.path.join(self.dir, "sw")
        self.mgmt = os.path.join(self.dir, "mgmt")
        self.proc = subprocess.Popen(
            ["vde_switch", "-s", self.sock, "-M", self.mgmt],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        nethub.at_cleanup(self.close)
        self.pid = self.proc.pid

    def wait_ready(self):
        poll(lambda: os.path.exists(os.path.join(self.sock, "ctl")) and
             os.path.exists(self.mgmt), 10, what="vde_switch's sockets")
        return self

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for f in (self.proc.stdin, self.proc.stderr):
            f.close()

    def ports(self):
        """{port number: (in pkts, out pkts)} from port/allprint."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(self.mgmt)
            s.sendall(b"port/allprint\n")
            buf = b""
            deadline = time.monotonic() + 10
            while b"1000 Success" not in buf:
                assert time.monotonic() < deadline, buf[-500:]
                chunk = s.recv(65536)
                assert chunk, "vde_switch closed its console: %r" % buf
                buf += chunk
        finally:
            s.close()
        out = {}
        text = buf.decode(errors="replace")
        for m in re.finditer(r"Port (\d+) .*?IN:\s+pkts\s+(\d+).*?"
                             r"OUT:\s+pkts\s+(\d+)", text, re.S):
            out[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
        return out


def vde_tmp():
    """A private TMPDIR for the bench, which must be empty again after
    every run (the bench's data sockets live in directories made there)."""
    return tmpdir("nethub-vde-tmp-")


def vde_cmd(tmp):
    """nethub-bench with TMPDIR=@tmp."""
    return ["env", "TMPDIR=" + tmp, bench_path()]


def vde_bench_json(tmp, *args):
    """bench_json() with TMPDIR=@tmp; and nothing left in @tmp after."""
    p = bench(*args, "--duration", DURATION, "--warmup", WARMUP,
              "--rate", RATE, "--json", cmd=vde_cmd(tmp))
    assert p.returncode == 0, "nethub-bench %s: exit %d:\n%s" % (
        " ".join(map(str, args)), p.returncode, p.stderr[-3000:])
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, \
        p.stderr[-3000:]
    assert os.listdir(tmp) == [], "left behind: %r" % os.listdir(tmp)
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise AssertionError("not one JSON document: %r" % p.stdout[-2000:])


def vde_fails(tmp, *args):
    """bench_fails() with TMPDIR=@tmp; and nothing left in @tmp after."""
    err = bench_fails(*args, cmd=vde_cmd(tmp))
    assert os.listdir(tmp) == [], "left behind: %r" % os.listdir(tmp)
    return err


def vde_switch_dir_clean(sw):
    """Once the bench's ports are closed, the switch's directory holds its
    control socket alone again (the bench adds nothing there)."""
    poll(lambda: os.listdir(sw.sock) == ["ctl"], 10,
         what="only ctl in the switch directory, not %r"
         % os.listdir(sw.sock))


def test_vde_into_vde_switch():
    sw = VdeSwitch()
    tmp = vde_tmp()
    # no waiting for the switch: the bench retries while it starts
    run = vde_bench_json(tmp, "--transport", "vde", "--connect", sw.sock,
                         "--switch-pid", sw.pid)
    check_run(run, "vde")
    sw.wait_ready()
    ports = sw.ports()
    # a fresh switch gives the bench's ports 1 and 2, in the order opened
    assert sorted(ports) == [1, 2], ports
    check_counters(run, [ports[1], ports[2]])
    assert run["foreign"] == 0, run
    assert sw.proc.poll() is None, "vde_switch died"
    vde_switch_dir_clean(sw)


def test_vde_one_directory_per_port():
    sw = VdeSwitch().wait_ready()
    tmp = vde_tmp()
    run = vde_bench_json(tmp, "--transport", "vde", "--connect",
                         "%s,%s" % (sw.sock, sw.sock), "--ports", 2)
    check_run(run, "vde")
    # closing the control connections freed the ports: the next run is
    # given the same two again, not 3 and 4
    run = vde_bench_json(tmp, "--transport", "vde", "--connect", sw.sock)
    check_run(run, "vde")
    assert sorted(sw.ports()) == [1, 2], sw.ports()
    vde_switch_dir_clean(sw)


class FakeVdeSwitch:
    """A control socket at DIR/ctl that takes one request, records it
    (.request, bytes) and answers @reply (None: closes without one)."""

    def __init__(self, reply):
        self.dir = tmpdir("nethub-vde-fake-")
        self.request = b""
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        nethub.at_cleanup(self.srv)
        self.srv.bind(os.path.join(self.dir, "ctl"))
        self.srv.listen(4)
        self.reply = reply
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.srv.settimeout(30)
        try:
            c, _ = self.srv.accept()
        except OSError:
            return
        with c:
            c.settimeout(10)
            # header (12) + sockaddr_un (110) + a NUL-terminated description
            while len(self.request) < 122 or \
                    b"\0" not in self.request[122:]:
                try:
                    chunk = c.recv(4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.request += chunk
            if self.reply is None:
                return
            c.sendall(self.reply)
            # the bench gives up and closes; wait for that
            try:
                while c.recv(4096):
                    pass
            except OSError:
                pass

    def check_request(self, tmp):
        self.thread.join(30)
        r = self.request
        assert len(r) == 122 + len(b"nethub-bench") + 1, r
        magic, version, kind = struct.unpack("=III", r[:12])
        assert (magic, version, kind) == (0xfeedface, 3, 0), r[:12]
        family, = struct.unpack("=H", r[12:14])
        assert family == socket.AF_UNIX, r[12:14]
        path = r[14:122].split(b"\0")[0].decode()
        # the bench's data socket, in a private directory of its TMPDIR
        assert os.path.dirname(os.path.dirname(path)) == tmp, path
        assert r[122:] == b"nethub-bench\0", r[122:]


def test_vde_protocol_and_bad_switches():
    tmp = vde_tmp()
    # a switch that takes the request and closes: a clear error
    fake = FakeVdeSwitch(None)
    err = vde_fails(tmp, "--transport", "vde", "--connect", fake.dir)
    assert "port 0: VDE switch '%s' closed the control connection" \
        % fake.dir in err, err
    fake.check_request(tmp)
    # one that answers with no AF_UNIX address
    fake = FakeVdeSwitch(b"\x02\x00" + b"x" * 108)
    err = vde_fails(tmp, "--transport", "vde", "--connect", fake.dir)
    assert "VDE switch '%s' answered with no usable data socket address" \
        % fake.dir in err, err
    fake.check_request(tmp)
    # one that names a socket that is not there
    fake = FakeVdeSwitch(struct.pack("=H", socket.AF_UNIX) +
                         b"/nonexistent/vde".ljust(108, b"\0"))
    err = vde_fails(tmp, "--transport", "vde", "--connect", fake.dir)
    assert "cannot connect to VDE switch '%s' data socket " \
        "'/nonexistent/vde'" % fake.dir in err, err
    # a directory whose ctl is no socket at all
    d = tmpdir("nethub-vde-")
    open(os.path.join(d, "ctl"), "w").close()
    err = vde_fails(tmp, "--transport", "vde", "--connect", d)
    assert "port 0: cannot open VDE switch '%s'" % d in err, err
    # a socket directory too long for a Unix socket path
    err = vde_fails(tmp, "--transport", "vde", "--connect", "/" + "d" * 120)
    assert "too long for a Unix socket path" in err, err


def test_vde_without_a_switch_is_a_clear_error():
    d = tmpdir("nethub-vde-")
    tmp = vde_tmp()
    t0 = time.monotonic()
    err = vde_fails(tmp, "--transport", "vde", "--connect", d)
    assert "port 0: cannot open VDE switch '%s'" % d in err, err
    assert "is vde_switch -s running there?" in err, err
    # it retried for the setup time, then gave up
    assert 4 <= time.monotonic() - t0 <= 30, time.monotonic() - t0
    missing = os.path.join(d, "none")
    err = vde_fails(tmp, "--transport", "vde", "--connect", missing)
    assert "cannot open VDE switch '%s'" % missing in err, err
    err = vde_fails(tmp, "--transport", "vde", "--connect", d,
                    "--frame-size", 1519)
    assert "1519 is more than vde carries (1518)" in err, err
    # nothing was created in the directory named
    assert os.listdir(d) == [], os.listdir(d)


# ---------------------------------------------------------------------------
# vhost-user: DPDK's vhost back-end as the wire
# ---------------------------------------------------------------------------

VHOST_RATE = 5000  # frames/s per port: testpmd polls, the bench may not run
VHOST_RING = 4096  # buffers for ~0.8 s of a starved bench's RX at VHOST_RATE


class TestpmdWire:
    """dpdk-testpmd with two vhost-user back-end ports, DIR/vh0.sock and
    DIR/vh1.sock (in client mode with @client: it connects to the bench),
    forwarding each port's frames out of the other (io mode).  It runs
    until its stdin closes, then prints its per-port statistics."""

    def __init__(self, client=False):
        assert shutil.which("dpdk-testpmd"), \
            "dpdk-testpmd is not installed (Debian: dpdk-dev)"
        self.dir = tmpdir("nethub-vhost-")
        self.sock = [os.path.join(self.dir, "vh%d.sock" % i)
                     for i in range(2)]
        self.log = os.path.join(self.dir, "testpmd.log")
        opt = ",client=1" if client else ""
        cmd = ["dpdk-testpmd", "-l", "0,1", "--no-pci", "--no-huge",
               "-m", "512", "--file-prefix",
               "nethub-vhost-%d-%d" % (os.getpid(), time.monotonic_ns()),
               "--vdev", "net_vhost0,iface=%s%s" % (self.sock[0], opt),
               "--vdev", "net_vhost1,iface=%s%s" % (self.sock[1], opt),
               "--", "--forward-mode=io", "--auto-start",
               "--total-num-mbufs=16384"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                         stdout=log, stderr=log)
        nethub.at_cleanup(self.close)
        self.pid = self.proc.pid

    def wait_listening(self):
        poll(lambda: all(os.path.exists(p) for p in self.sock), 30,
             what="testpmd's vhost-user sockets")
        return self

    def output(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """End testpmd; {port: (rx packets, tx packets, tx dropped)} from
        the statistics it prints on the way out."""
        self.proc.stdin.close()
        self.proc.wait(30)
        text = self.output()
        out = {}
        for m in re.finditer(r"Forward statistics for port (\d+).*?"
                             r"RX-packets:\s*(\d+).*?TX-packets:\s*(\d+)"
                             r"\s*TX-dropped:\s*(\d+)", text, re.S):
            out[int(m.group(1))] = tuple(int(m.group(i)) for i in (2, 3, 4))
        assert sorted(out) == [0, 1], \
            "no statistics from testpmd:\n%s" % text[-3000:]
        return out

    def close(self):
        if self.proc.poll() is None:
            if not self.proc.stdin.closed:
                self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def check_wire(run, pmd):
    """Both ports sent (--bidir): every frame one port sent came out at
    the other, by the bench's totals and by testpmd's counters @pmd."""
    assert run["transport"] == "vhost-user", run
    assert run["port_errors"] == 0 and run["tx_errors"] == 0, run
    assert run["tx_frames"] > 0 and run["lat_samples"] == run["tx_frames"], run
    assert run["lost_frames"] == 0 and run["rx_frames"] == run["tx_frames"], \
        "lost %d of %d frames at %d frames/s" % (
            run["lost_frames"], run["tx_frames"], VHOST_RATE)
    assert run["misdelivered"] == 0 and run["reordered"] == 0, run
    assert run["foreign"] == 0, run
    totals = bench_totals(run)
    nethub.diag("bench (sent, received) per port %r; testpmd (rx, tx, "
                "tx dropped) %r" % (totals, pmd))
    for i in (0, 1):
        sent, rcvd = totals[i][0], totals[1 - i][1]
        # testpmd took in every frame the port sent, and what it sent on
        # is what the other port received
        assert pmd[i][0] == sent, (i, pmd, totals)
        assert pmd[1 - i][1] == rcvd, (i, pmd, totals)
        # what it could not send on: learning frames while the other
        # port's link was still coming up (the data frames all came
        # through, above); every frame is accounted for
        assert sent == rcvd + pmd[1 - i][2], (i, pmd, totals)
        assert pmd[1 - i][2] <= LEARN_SLACK, (i, pmd, totals)


def test_vhost_user_through_testpmd():
    pmd = TestpmdWire().wait_listening()
    run = bench_json("--transport", "vhost-user", "--connect",
                     os.path.join(pmd.dir, "vh%d.sock"), "--bidir",
                     "--vhost-ring", VHOST_RING, rate=VHOST_RATE)
    check_wire(run, pmd.stop())
    # the bench negotiated what it said it would, and stopped its rings
    text = pmd.output()
    assert "negotiated Vhost-user protocol features: 0x8" in text, \
        text[-3000:]
    assert text.count("read message VHOST_USER_GET_VRING_BASE") == 4, \
        text[-3000:]


def test_vhost_user_listening_for_testpmd():
    pmd = TestpmdWire(client=True)
    run = bench_json("--transport", "vhost-user", "--vhost-server",
                     "--connect", ",".join(pmd.sock), "--bidir",
                     "--vhost-ring", VHOST_RING, rate=VHOST_RATE)
    check_wire(run, pmd.stop())
    # the bench removed the sockets it made
    assert os.listdir(pmd.dir) == ["testpmd.log"], os.listdir(pmd.dir)


def test_vhost_user_errors():
    d = tmpdir("nethub-vhost-")
    sock = os.path.join(d, "none.sock")
    t0 = time.monotonic()
    err = bench_fails("--transport", "vhost-user", "--connect", sock + ","
                      + sock)
    assert "port 0: cannot connect to a vhost-user back-end at '%s'" % sock \
        in err, err
    # it retried for the setup time, then gave up
    assert 4 <= time.monotonic() - t0 <= 30, time.monotonic() - t0
    err = bench_fails("--transport", "vhost-user", "--connect", sock)
    assert "--connect: one vhost-user socket '%s' for 2 ports" % sock in err, \
        err
    err = bench_fails("--transport", "vhost-user", "--connect",
                      os.path.join(d, "vh%s"))
    assert "is not a socket path" in err and "one %d" in err, err
    err = bench_fails("--transport", "vhost-user", "--connect",
                      os.path.join(d, "vh%d"), "--vhost-ring", 100)
    assert "--vhost-ring: 100 is not a power of two" in err, err
    err = bench_fails("--transport", "vde", "--connect", d,
                      "--vhost-server")
    assert "--vhost-server: is for vhost-user, not vde" in err, err
    # a server with nobody connecting: a clear error, its socket removed
    err = bench_fails("--transport", "vhost-user", "--vhost-server",
                      "--connect", os.path.join(d, "vh%d"))
    assert "no vhost-user back-end connected to '%s'" % os.path.join(
        d, "vh0") in err, err
    assert os.listdir(d) == [], os.listdir(d)
    # a socket that is not a vhost-user back-end: no reply in time
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(os.path.join(d, "mute0"))
    srv.listen(4)
    nethub.at_cleanup(srv.close)
    open(os.path.join(d, "mute1"), "w").close()
    err = bench_fails("--transport", "vhost-user", "--connect",
                      os.path.join(d, "mute%d"))
    assert "port 0: vhost-user GET_FEATURES on '%s': no reply" % \
        os.path.join(d, "mute0") in err, err


if __name__ == "__main__":
    nethub.main(globals())
