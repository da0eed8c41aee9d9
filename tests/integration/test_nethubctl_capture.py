#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_nethubctl_capture.py - nethubctl capture end to end
(docs/nethubctl.md, "capture").

Against the real daemon with socket peers: nethubctl capture runs as a
subprocess (its TMPDIR a directory of the test's own), traffic is sent, and
what it wrote is read back by tcpdump and tshark: frame counts after
SIGINT, -c stopping by itself, a pcap-filter, queue rx, hub captures,
snapshot length, pcap on a pipe into tcpdump (and the reader leaving), the
text lines on a terminal (a pty), nethubd or the capture going away, and
the errors.  After every run the capture is gone from query-captures and
nothing is left in TMPDIR.
"""

import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import BROADCAST, Nethubd, free_port, poll  # noqa: E402

CTL_TIMEOUT = 30            # s a nethubctl run may take in a test
START_TIMEOUT = 15          # s until nethubctl says it is capturing
MAC_A = "02:4e:48:00:0a:01"
MAC_B = "02:4e:48:00:0b:02"


def ctl_path():
    path = os.environ.get("NETHUBCTL", "build/ctl/nethubctl")
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(nethub.REPO, path)


def ctl_env(tmp):
    env = dict(os.environ)
    env.pop("NETHUB_QMP", None)
    env["TMPDIR"] = tmp
    return env


def daemon():
    """nethubd serving QMP with one listening socket netdev "vms"; the
    port number is .vms_port"""
    port = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                qmp=True).start()
    d.vms_port = port
    return d


def two_peers(d):
    """Peers a and b on vms, their MACs learned (so that a frame from one
    to the other is unicast)"""
    a = d.attach(d.vms_port, mac=MAC_A)
    b = d.attach(d.vms_port, mac=MAC_B)
    a.send_frame(BROADCAST)
    b.expect_frame()
    b.send_frame(a.mac)
    a.expect_frame()
    return a, b


def assert_clean(d, tmp):
    """No capture left in nethubd, nothing left in nethubctl's TMPDIR"""
    assert d.qmp_cmd("query-captures") == [], d.qmp_cmd("query-captures")
    assert os.listdir(tmp) == [], "left in TMPDIR: %s" % os.listdir(tmp)


class Capture:
    """nethubctl capture running in the background; returns once it said
    it is capturing (its first stderr line)"""

    def __init__(self, d, *args, stdout=subprocess.DEVNULL, wait=True,
                 sock=None):
        self.tmp = nethub.tmpdir("nethubctl-capture-tmp-")
        self.argv = [ctl_path(), "-s", sock or d.qmp_path, "capture"] + \
            [str(a) for a in args]
        self.proc = subprocess.Popen(self.argv, stdout=stdout,
                                     stderr=subprocess.PIPE,
                                     env=ctl_env(self.tmp))
        nethub.at_cleanup(self.kill)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if wait:
            self.wait_line("nethubctl: capturing on ")

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)     # EOF
            self.cond.notify_all()

    def wait_line(self, start, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ln in self.lines:
                    if ln is not None and ln.startswith(start):
                        return ln
                left = deadline - time.monotonic()
                if None in self.lines or left <= 0:
                    raise AssertionError("%s: no line %r on stderr: %r"
                                         % (" ".join(self.argv), start,
                                            self.lines))
                self.cond.wait(left)

    def stop(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        return self.finish()

    def finish(self, timeout=CTL_TIMEOUT):
        """Wait for the exit: (status, stderr lines)"""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s still running after %ds (stderr %r)"
                                 % (" ".join(self.argv), timeout,
                                    self.lines))
        self.reader.join(10)
        return self.proc.returncode, [ln for ln in self.lines
                                      if ln is not None]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def summary(lines):
    """The numbers of the summary line: (captured, filtered, dropped)"""
    for ln in lines:
        m = re.match(r"nethubctl: (\d+) frames? captured, (\d+) filtered, "
                     r"(\d+) dropped by the switch$", ln)
        if m:
            return tuple(int(x) for x in m.groups())
    raise AssertionError("no summary in %r" % lines)


def summary_count(lines):
    """The frames of a summary without the switch's counters"""
    for ln in lines:
        m = re.match(r"nethubctl: (\d+) frames? captured$", ln)
        if m:
            return int(m.group(1))
    raise AssertionError("no summary in %r" % lines)


def tcpdump_lines(path):
    """tcpdump -e -n -r PATH: one line per frame (without tcpdump's hex
    dumps of what it does not know)"""
    p = subprocess.run(["tcpdump", "-e", "-n", "-r", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, "tcpdump -r %s: %s" % (path, p.stderr)
    return frame_lines(p.stdout)


def frame_lines(text):
    return [ln for ln in text.splitlines() if ln[:1].isdigit()]


def tshark_fields(path, *fields):
    """tshark -r PATH: the fields of every frame, a tuple per frame"""
    argv = ["tshark", "-n", "-r", path, "-T", "fields"]
    for f in fields:
        argv += ["-e", f]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "tshark -r %s: %s" % (path, p.stderr)
    return [tuple(ln.split("\t")) for ln in p.stdout.splitlines()]


# ------------------------------------------------------------ -w FILE

def test_sigint_ends_a_capture_that_has_every_frame_sent():
    d = daemon()
    a, b = two_peers(d)
    out = os.path.join(nethub.tmpdir(), "a.pcap")
    cap = Capture(d, a.port_name, "-w", out)
    sent = [a.send_frame(b.mac, "n%d" % i) for i in range(25)]
    b.expect_frames(25)
    rc, lines = cap.stop()
    assert rc == 0, (rc, lines)
    assert summary(lines) == (25, 0, 0), lines
    dumped = tcpdump_lines(out)
    assert len(dumped) == 25, dumped
    assert all("%s > %s" % (a.mac, b.mac) in ln for ln in dumped), dumped
    frames = tshark_fields(out, "frame.len", "eth.src", "eth.dst")
    assert frames == [(str(len(f)), a.mac, b.mac) for f in sent], frames
    assert_clean(d, cap.tmp)


def test_count_stops_by_itself_after_n_frames():
    d = daemon()
    a, b = two_peers(d)
    out = os.path.join(nethub.tmpdir(), "c.pcap")
    cap = Capture(d, a.port_name, "-c", "5", "-w", out)
    for i in range(8):
        a.send_frame(b.mac, "c%d" % i)
    rc, lines = cap.finish()
    assert rc == 0, (rc, lines)
    assert summary(lines)[0] == 5, lines
    assert len(tcpdump_lines(out)) == 5
    assert len(tshark_fields(out, "frame.number")) == 5
    assert_clean(d, cap.tmp)


def test_a_filter_keeps_only_matching_frames():
    d = daemon()
    a, b = two_peers(d)
    out = os.path.join(nethub.tmpdir(), "f.pcap")
    # FILTER as several words, joined by nethubctl
    cap = Capture(d, a.port_name, "ether", "proto", "0x88b6", "or", "arp",
                  "-w", out)
    arp = nethub.eth(BROADCAST, a.mac, bytes(28), ethertype=0x0806)
    for i in range(4):
        a.send(arp)
    for i in range(7):
        a.send_frame(b.mac, "x%d" % i)
    b.expect_frames(11)
    nethub.sync(a, [b])         # one frame of type 0x88b6: matches
    rc, lines = cap.stop()
    assert rc == 0, (rc, lines)
    assert "filter: ether proto 0x88b6 or arp" in lines[0], lines
    assert summary(lines) == (5, 7, 0), lines
    types = [f[0] for f in tshark_fields(out, "eth.type")]
    assert sorted(types) == ["0x0806"] * 4 + ["0x88b6"], types
    assert_clean(d, cap.tmp)


def test_queue_rx_sees_only_frames_sent_to_the_port():
    d = daemon()
    a, b = two_peers(d)
    out = os.path.join(nethub.tmpdir(), "rx.pcap")
    cap = Capture(d, a.port_name, "-q", "rx", "-w", out)
    assert "capturing on %s (queue rx)" % a.port_name in cap.lines[0], \
        cap.lines
    for i in range(3):
        a.send_frame(b.mac, "from a %d" % i)
    for i in range(4):
        b.send_frame(a.mac, "to a %d" % i)
    b.expect_frames(3)
    a.expect_frames(4)
    rc, lines = cap.stop()
    assert rc == 0, (rc, lines)
    srcs = [f[0] for f in tshark_fields(out, "eth.src")]
    assert srcs == [b.mac] * 4, srcs
    assert_clean(d, cap.tmp)


def test_a_netdev_capture_says_why_frames_between_its_ports_show_twice():
    d = daemon()
    a, b = two_peers(d)
    for queue, copies in ((None, 2), ("tx", 1)):
        out = os.path.join(nethub.tmpdir(), "vms.pcap")
        args = ["vms", "-w", out] + (["-q", queue] if queue else [])
        cap = Capture(d, *args)
        a.send_frame(b.mac, "a to b")
        b.expect_frame()
        nethub.poll(lambda: d.qmp_cmd("query-captures")[0]["frames"]
                    >= copies, 10, what="%d frames captured" % copies)
        rc, lines = cap.stop()
        assert rc == 0, (rc, lines)
        notes = [ln for ln in lines if ln.startswith("nethubctl: note:")]
        if queue is None:
            assert notes == [
                "nethubctl: note: vms has 2 ports: a frame between two of "
                "them is captured twice, as it leaves one and as it "
                "reaches the other (-q tx shows each frame once)"], lines
        else:
            assert notes == [], lines
        srcs = [f[0] for f in tshark_fields(out, "eth.src")]
        assert srcs == [a.mac] * copies, (queue, srcs)
        assert_clean(d, cap.tmp)


def test_hub_capture_sees_frames_from_every_port():
    d = daemon()
    a, b = two_peers(d)
    out = os.path.join(nethub.tmpdir(), "hub.pcap")
    cap = Capture(d, "--hub", "0", "-w", out)
    assert "capturing on hub 0" in cap.lines[0], cap.lines
    for i in range(3):
        a.send_frame(b.mac, "a%d" % i)
    for i in range(4):
        b.send_frame(a.mac, "b%d" % i)
    b.expect_frames(3)
    a.expect_frames(4)
    rc, lines = cap.stop(signal.SIGTERM)
    assert rc == 0, (rc, lines)
    srcs = sorted(f[0] for f in tshark_fields(out, "eth.src"))
    assert srcs == [a.mac] * 3 + [b.mac] * 4, srcs
    assert_clean(d, cap.tmp)


def test_snaplen_truncates_what_is_written_and_keeps_the_length():
    d = daemon()
    a, b = two_peers(d)
    out = os.path.join(nethub.tmpdir(), "s.pcap")
    cap = Capture(d, a.port_name, "-S", "40", "-c", "1", "-w", out)
    assert "snapshot length 40" in cap.lines[0], cap.lines
    a.send(nethub.eth(b.mac, a.mac, size=300))
    rc, lines = cap.finish()
    assert rc == 0, (rc, lines)
    assert tshark_fields(out, "frame.cap_len", "frame.len") == \
        [("40", "300")]
    assert_clean(d, cap.tmp)


# ------------------------------------------------------------ stdout

def test_pcap_on_a_pipe_feeds_tcpdump():
    d = daemon()
    a, b = two_peers(d)
    cap = Capture(d, a.port_name, stdout=subprocess.PIPE)
    dump = subprocess.Popen(["tcpdump", "-e", "-n", "-r", "-"],
                            stdin=cap.proc.stdout, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    nethub.at_cleanup(lambda: dump.poll() is None and dump.kill())
    cap.proc.stdout.close()     # tcpdump's now
    for i in range(6):
        a.send_frame(b.mac, "p%d" % i)
    b.expect_frames(6)
    rc, lines = cap.stop()
    assert rc == 0, (rc, lines)
    out, err = dump.communicate(timeout=30)
    assert dump.returncode == 0, err
    got = frame_lines(out)
    assert len(got) == 6 and all("%s > %s" % (a.mac, b.mac) in ln
                                 for ln in got), out
    assert summary(lines)[0] == 6, lines
    assert_clean(d, cap.tmp)


def test_a_reader_that_leaves_ends_the_capture():
    d = daemon()
    a, b = two_peers(d)
    cap = Capture(d, a.port_name, stdout=subprocess.PIPE)
    dump = subprocess.Popen(["tcpdump", "-n", "-c", "3", "-r", "-"],
                            stdin=cap.proc.stdout, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    nethub.at_cleanup(lambda: dump.poll() is None and dump.kill())
    cap.proc.stdout.close()
    for i in range(3):
        a.send_frame(b.mac, "r%d" % i)
    out, err = dump.communicate(timeout=30)
    assert len(frame_lines(out)) == 3, (out, err)
    # tcpdump is gone: nethubctl notices without another frame
    rc, lines = cap.finish()
    assert rc == 0, (rc, lines)
    assert summary(lines)[0] >= 3, lines
    assert_clean(d, cap.tmp)


def ipv4_icmp_echo(src, dst):
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 1, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    icmp = struct.pack(">BBHHH", 8, 0, 0, 7, 1)
    return nethub.eth(dst, src, ip + icmp, ethertype=0x0800)


def ipv6_udp(src, dst):
    udp = struct.pack(">HHHH", 5000, 53, 12, 0) + b"abcd"
    ip6 = struct.pack(">IHBB", 0x60000000, len(udp), 17, 64) + \
        bytes.fromhex("fd00" + "00" * 13 + "01") + \
        bytes.fromhex("fd00" + "00" * 13 + "02")
    return nethub.eth(dst, src, ip6 + udp, ethertype=0x86DD)


def arp_request(src):
    arp = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1,
                      nethub.mac_bytes(src), bytes([10, 0, 0, 1]),
                      bytes(6), bytes([10, 0, 0, 2]))
    return nethub.eth(BROADCAST, src, arp, ethertype=0x0806)


def test_a_terminal_gets_one_line_per_frame():
    d = daemon()
    a, b = two_peers(d)
    master, slave = pty.openpty()
    nethub.at_cleanup(lambda: os.close(master))
    try:
        cap = Capture(d, a.port_name, "-c", "4", stdout=slave)
    finally:
        os.close(slave)
    frames = [arp_request(a.mac), ipv4_icmp_echo(a.mac, b.mac),
              ipv6_udp(a.mac, b.mac),
              nethub.eth(b.mac, a.mac, b"tagged", vlan=5)]
    for f in frames:
        a.send(f)
    text = b""
    deadline = time.monotonic() + CTL_TIMEOUT
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:     # EIO: the other side is closed
                break
            if not chunk:
                break
            text += chunk
        elif cap.proc.poll() is not None:
            break
    rc, lines = cap.finish()
    assert rc == 0, (rc, lines)
    got = text.decode().replace("\r\n", "\n").splitlines()
    t = r"\d\d:\d\d:\d\d\.\d{6} "
    want = [
        t + re.escape("%s > %s, ARP who-has 10.0.0.2 tell 10.0.0.1, "
                      "length %d" % (a.mac, BROADCAST, len(frames[0]))),
        t + re.escape("%s > %s, IPv4 10.0.0.1 > 10.0.0.2 ICMP echo "
                      "request, length %d" % (a.mac, b.mac,
                                              len(frames[1]))),
        t + re.escape("%s > %s, IPv6 fd00::1 > fd00::2 UDP 5000 > 53, "
                      "length %d" % (a.mac, b.mac, len(frames[2]))),
        t + re.escape("%s > %s, vlan 5, ethertype 0x88b5, length %d"
                      % (a.mac, b.mac, len(frames[3]))),
    ]
    assert len(got) == 4, got
    for ln, w in zip(got, want):
        assert re.fullmatch(w, ln), "%r does not match %r" % (ln, w)
    assert summary(lines)[0] == 4, lines
    assert_clean(d, cap.tmp)


# ------------------------------------------------------------ endings

def test_the_capture_ends_when_nethubd_goes_away():
    d = daemon()
    a, b = two_peers(d)
    out = os.path.join(nethub.tmpdir(), "gone.pcap")
    cap = Capture(d, a.port_name, "-w", out)
    a.send_frame(b.mac, "before")
    b.expect_frame()
    d.stop()
    rc, lines = cap.finish()
    assert rc == 2, (rc, lines)
    assert any("nethubd went away" in ln for ln in lines), lines
    assert summary_count(lines) == 1, lines
    assert len(tcpdump_lines(out)) == 1, (tcpdump_lines(out), lines)
    assert os.listdir(cap.tmp) == [], os.listdir(cap.tmp)


def test_the_capture_ends_when_its_netdev_is_deleted():
    d = daemon()
    cap = Capture(d, "vms")
    d.qmp_cmd("netdev_del", {"id": "vms"})
    rc, lines = cap.finish()
    assert rc == 0, (rc, lines)
    assert any("was removed by nethubd" in ln for ln in lines), lines
    assert_clean(d, cap.tmp)


# ------------------------------------------------------------ errors

def run_ctl(d, *args, tmp=None, sock=None):
    """nethubctl to completion: (status, stdout, stderr)"""
    tmp = tmp or nethub.tmpdir("nethubctl-capture-tmp-")
    argv = [ctl_path(), "-s", sock or d.qmp_path] + [str(x) for x in args]
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=CTL_TIMEOUT, env=ctl_env(tmp))
    return p.returncode, p.stdout, p.stderr


def fails(d, status, *args, want=(), **kw):
    tmp = nethub.tmpdir("nethubctl-capture-tmp-")
    rc, out, err = run_ctl(d, *args, tmp=tmp, **kw)
    cmd = "nethubctl " + " ".join(map(str, args))
    assert rc == status, "%s: exit %d, want %d (%r)" % (cmd, rc, status,
                                                        err)
    assert out == "", "%s: stdout %r" % (cmd, out)
    lines = err.splitlines()
    assert len(lines) == 1, "%s: want one stderr line, got %r" % (cmd, err)
    for w in want:
        assert w in lines[0], "%s: %r lacks %r" % (cmd, lines[0], w)
    assert_clean(d, tmp)


def test_what_nethubd_refuses_exits_1_with_its_message():
    d = daemon()
    fails(d, 1, "capture", "nope", "-w", "-",
          want=["error: GenericError: Parameter 'netdev' expects a "
                "network backend id"])
    fails(d, 1, "capture", "vms", "ip", "and", "and", "-w", "-",
          want=["error: GenericError: Parameter 'filter': ip and and: "])
    fails(d, 1, "capture", "--hub", "9", "-w", "-",
          want=["error: GenericError: hub 9 does not exist"])


def test_bad_usage_exits_2():
    d = daemon()
    nowhere = os.path.join(nethub.tmpdir(), "no", "such", "dir")
    for args, want in [
            (["capture"], "capture: expected PORT or --hub ID"),
            (["capture", "vms", "-q", "up"],
             "-q expects rx, tx or all, got 'up'"),
            (["capture", "--hub", "0", "-q", "rx"], "-q does not apply"),
            (["capture", "--hub", "x"], "--hub expects a whole number"),
            (["capture", "vms", "-c", "0"], "--count expects a whole"),
            (["capture", "vms", "-S", "0"], "--snaplen expects a whole"),
            (["capture", "vms", "--bogus"],
             "capture: unknown option '--bogus' (try 'nethubctl --help')"),
            (["capture", "vms", "-w"], "capture: -w expects a value"),
            (["capture", "vms", "-w", nowhere + "/x.pcap"],
             "cannot write %s/x.pcap" % nowhere)]:
        fails(d, 2, *args, want=[want])
    # nethubd on another host: its FIFO would be there (TEST-NET-1, never
    # connected to)
    fails(d, 2, "capture", "vms", sock="tcp:192.0.2.1:4444",
          want=["FIFO", "tcp:192.0.2.1:4444 is not this host"])


def test_a_fifo_that_cannot_be_made_exits_2():
    d = daemon()
    tmp = nethub.tmpdir("nethubctl-capture-tmp-")
    missing = os.path.join(tmp, "missing")
    rc, out, err = run_ctl(d, "capture", "vms", "-w", "-", tmp=missing)
    assert rc == 2, (rc, err)
    assert err.strip() == ("nethubctl: capture: cannot create the FIFO's "
                           "directory in %s: No such file or directory"
                           % missing), err
    assert_clean(d, tmp)


def test_a_loopback_tcp_socket_is_this_host():
    port = free_port()
    tcp = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                "-qmp", "tcp:127.0.0.1:%d,server=on,wait=off" % tcp,
                qmp=True).start()
    out = os.path.join(nethub.tmpdir(), "t.pcap")
    cap = Capture(d, "vms", "-c", "1", "-w", out,
                  sock="tcp:127.0.0.1:%d" % tcp)
    peer = d.attach(port, mac=MAC_A)
    peer.send_frame(BROADCAST)
    rc, lines = cap.finish()
    assert rc == 0, (rc, lines)
    assert summary(lines)[0] == 1, lines
    assert len(tcpdump_lines(out)) == 1
    assert_clean(d, cap.tmp)


def test_help_and_dry_run_describe_capture():
    d = daemon()
    rc, out, err = run_ctl(d, "--help")
    assert rc == 0, err
    for w in ("capture PORT|--hub ID [FILTER]...", "-w, --write FILE",
              "-q, --queue", "-S, --snaplen N", "-c, --count N"):
        assert w in out, "help lacks %r" % w
    rc, out, err = run_ctl(d, "-n", "capture", "vms", "-q", "tx", "-S",
                           "96", "icmp", "or", "arp")
    assert rc == 0 and err == "", (rc, err)
    req = json.loads(out)
    args = req["arguments"]
    assert req["execute"] == "object-add", req
    assert args["qom-type"] == "filter-dump" and args["netdev"] == "vms"
    assert args["queue"] == "tx" and args["maxlen"] == 96, args
    assert args["filter"] == "icmp or arp", args
    assert re.fullmatch(r"nethubctl-capture-\d+", args["id"]), args
    assert d.qmp_cmd("query-captures") == []


if __name__ == "__main__":
    nethub.main(globals())
