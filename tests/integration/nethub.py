# SPDX-License-Identifier: MIT
"""nethub.py - harness for nethubd's integration tests (Python 3 stdlib only)

What it gives a test file:

  Nethubd      starts the real daemon with a pidfile and a stats file, waits
               for readiness (the pidfile), reads the JSON state dump
               (SIGUSR1 -> --stats-file) and polls it, stops it with a
               signal and always kills it after the test.  With
               qmp=True it also serves QMP on a unix socket (.qmp_path)
               and hands out clients (.qmp(), see qmp.py).
  run_cli()    runs nethubd to completion (for command-line errors).
  eth()/parse_eth()
               Ethernet (and 802.1Q) frame builder and parser.
  TcpPeer, TcpListener, UdpPeer, McastPeer, StreamPeer, DgramPeer
               peers speaking QEMU's socket netdev wire formats: a stream
               carries each frame behind a 4-byte big-endian length, a
               datagram socket carries one raw frame per datagram.  Each
               peer reads in a thread into a queue; expect_frame() and
               expect_no_frame() take frames from it.
  sync()       a barrier: a broadcast that every listed receiver must see
               before any other frame, proving that nothing sent earlier
               by the same sender is still on its way.
  run()        the TAP runner: runs every test_* function of a module in
               order, reports exceptions as failures with the traceback and
               the daemon's log as diagnostics, kills what a test left.

Command line of every test file: [--io auto|uring|epoll] [-k SUBSTRING]
[--list].  The daemon is $NETHUBD, default build/ctl/nethubd (relative to the
working directory, else to the repository root).
"""

import argparse
import itertools
import json
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# ---------------------------------------------------------------- settings

IO = "auto"                 # --io given to every daemon; set by run()
START_TIMEOUT = 30.0        # s until the pidfile must appear
STATE_TIMEOUT = 15.0        # s for a state dump / a state condition
FRAME_TIMEOUT = 10.0        # s for an expected frame
NO_FRAME_WINDOW = 1.0       # s of silence that expect_no_frame() wants
TEST_TIMEOUT = 100          # s a whole test may take (a file has 300)

MAX_STREAM_FRAME = 69632    # QEMU's NET_BUFSIZE: longer stream frames close
FRAME_MAX_LEN = 65535       # nethub's largest frame
ETH_HLEN = 14

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

DROP_REASONS = ("link-down", "filtered", "queue-full", "no-buffer",
                "malformed", "oversize", "no-dest", "no-hub", "no-peer",
                "error")


class Skip(Exception):
    """Raise to report a test as skipped (TAP '# SKIP reason')."""


class PeerClosed(AssertionError):
    """The peer's connection was closed while a frame was expected."""


_live = []                  # daemons, peers, sockets, callbacks to clean up


def at_cleanup(fn):
    """Run @fn when the current test ends, whatever happens."""
    _live.append(fn)


def cleanup_all():
    while _live:
        item = _live.pop()
        try:
            if callable(item):
                item()
            else:
                item.close()
        except Exception:  # cleanup must go on
            pass


def tmpdir(prefix="nethub-test-"):
    """A private temporary directory, removed when the test ends."""
    d = tempfile.mkdtemp(prefix=prefix)
    at_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def nethubd_path():
    path = os.environ.get("NETHUBD", "build/ctl/nethubd")
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(REPO, path)


def poll(cond, timeout, interval=0.02, what="condition"):
    """Call @cond until it returns something true; return that.  Raises
    AssertionError after @timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)


# ---------------------------------------------------------------- addresses

def free_port(kind="tcp"):
    """A port number free on 127.0.0.1 for TCP and UDP (kind "both"),
    or for one of them.  The kernel picks it; it may be taken by someone
    else before use, which the ephemeral range makes unlikely."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET,
                          socket.SOCK_DGRAM if kind == "udp"
                          else socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if kind == "both" and not _udp_free(port):
            continue
        return port
    raise RuntimeError("no free port found")


def _udp_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def tcp_listening(port, host="127.0.0.1"):
    """Something accepts TCP connections on host:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def tcp_port_free(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def addr_str(addr):
    return "%s:%d" % (addr[0], addr[1])


# ---------------------------------------------------------------- frames

BROADCAST = "ff:ff:ff:ff:ff:ff"
ETHERTYPE_TEST = 0x88B5      # IEEE local experimental
ETHERTYPE_BARRIER = 0x88B6   # sync() markers; skipped by expect_frame()
ETHERTYPE_VLAN = 0x8100

_seq = itertools.count(1)


def mac_bytes(mac):
    if isinstance(mac, (bytes, bytearray)):
        return bytes(mac)
    b = bytes(int(x, 16) for x in mac.split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC %r" % mac)
    return b


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def mac_for(n, prefix="02:4e:48"):
    """A locally administered unicast MAC made from a number."""
    return "%s:%02x:%02x:%02x" % (prefix, (n >> 16) & 255, (n >> 8) & 255,
                                  n & 255)


def eth(dst, src, payload=b"", ethertype=ETHERTYPE_TEST, vlan=None,
        size=None):
    """Build an Ethernet frame, 802.1Q-tagged with VID @vlan if given,
    padded with a counting pattern to @size bytes if given."""
    hdr = mac_bytes(dst) + mac_bytes(src)
    if vlan is not None:
        hdr += struct.pack(">HH", ETHERTYPE_VLAN, vlan & 0xFFF)
    hdr += struct.pack(">H", ethertype)
    f = hdr + payload
    if size is not None:
        if size < len(f):
            raise ValueError("size %d below header+payload %d"
                             % (size, len(f)))
        f += bytes(i & 255 for i in range(size - len(f)))
    return f


def tagged(dst, src, text="", **kw):
    """A test frame whose payload carries a unique marker and @text, so a
    test can tell exactly which frame arrived."""
    payload = ("NHT %d %s" % (next(_seq), text)).encode()
    return eth(dst, src, payload, **kw)


class Eth:
    """A parsed Ethernet frame."""

    def __init__(self, raw):
        if len(raw) < ETH_HLEN:
            raise ValueError("frame of %d bytes is shorter than a header"
                             % len(raw))
        self.raw = bytes(raw)
        self.dst = mac_str(raw[0:6])
        self.src = mac_str(raw[6:12])
        (et,) = struct.unpack(">H", raw[12:14])
        self.vlan = None
        off = 14
        if et == ETHERTYPE_VLAN and len(raw) >= 18:
            (tci, et) = struct.unpack(">HH", raw[14:18])
            self.vlan = tci & 0xFFF
            off = 18
        self.ethertype = et
        self.payload = self.raw[off:]

    def __repr__(self):
        return "<Eth %s > %s%s type %04x len %d %r>" % (
            self.src, self.dst,
            "" if self.vlan is None else " vlan %d" % self.vlan,
            self.ethertype, len(self.raw), self.payload[:24])


def parse_eth(raw):
    return Eth(raw)


def describe(raw):
    try:
        return repr(Eth(raw))
    except ValueError:
        return "<%d bytes %r>" % (len(raw), bytes(raw[:24]))


# ---------------------------------------------------------------- peers

class Peer:
    """A frame endpoint with a reader thread.  Subclasses implement
    _recv_loop() (feeding self._got()) and send()."""

    mac = None          # the MAC this peer uses as source by default
    name = "peer"

    def __init__(self):
        self.q = queue.Queue()
        self.eof = threading.Event()
        self.closed = False
        self.received = 0
        self.barriers = set()
        self._thread = None
        _live.append(self)

    def _start_reader(self):
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self):
        try:
            self._recv_loop()
        except OSError:
            pass
        finally:
            self.eof.set()

    def _got(self, frame):
        self.received += 1
        if (len(frame) >= ETH_HLEN and
                struct.unpack(">H", frame[12:14])[0] == ETHERTYPE_BARRIER):
            self.q.put(("barrier", frame))
        else:
            self.q.put(("frame", frame))

    def _next(self, timeout, keep_barriers):
        """Next queued item, or None at the deadline; raises PeerClosed if
        the connection is gone and nothing is left."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                kind, frame = self.q.get(timeout=min(left, 0.1))
            except queue.Empty:
                if self.eof.is_set() and self.q.empty():
                    raise PeerClosed("%s: connection closed" % self.name)
                continue
            if kind == "barrier" and not keep_barriers:
                self.barriers.add(bytes(frame[14:]))
                continue
            return kind, frame

    def expect_frame(self, timeout=FRAME_TIMEOUT):
        """The next frame that arrives (barrier markers skipped)."""
        item = self._next(timeout, False)
        if item is None:
            raise AssertionError("%s: no frame within %.1fs"
                                 % (self.name, timeout))
        return item[1]

    def expect_frames(self, n, timeout=FRAME_TIMEOUT):
        """@n frames; the timeout restarts with each frame that arrives."""
        return [self.expect_frame(timeout) for _ in range(n)]

    def expect_no_frame(self, duration=NO_FRAME_WINDOW):
        """Nothing (but barrier markers) arrives within @duration."""
        try:
            item = self._next(duration, False)
        except PeerClosed:
            return
        if item is not None:
            raise AssertionError("%s: unexpected frame %s"
                                 % (self.name, describe(item[1])))

    def expect_eof(self, timeout=FRAME_TIMEOUT):
        """The connection is closed by the other side within @timeout;
        frames still queued are ignored."""
        if not self.eof.wait(timeout):
            raise AssertionError("%s: connection not closed within %.1fs"
                                 % (self.name, timeout))

    def drain(self):
        """Forget everything received so far."""
        while True:
            try:
                self.q.get_nowait()
            except queue.Empty:
                return

    def send_frame(self, dst, text="", **kw):
        """Send a marked test frame from this peer's MAC; return it."""
        kw.setdefault("src", self.mac)
        src = kw.pop("src")
        f = tagged(dst, src, text, **kw)
        self.send(f)
        return f

    def close(self):
        self.closed = True


class _SockPeer(Peer):
    def __init__(self, sock, name, mac):
        super().__init__()
        self.sock = sock
        self.name = name
        self.mac = mac or mac_for(next(_seq))
        self._start_reader()

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self._thread:
            self._thread.join(2)


class StreamPeer(_SockPeer):
    """A connected stream socket speaking QEMU's socket stream format: a
    4-byte big-endian length, then the frame."""

    def __init__(self, sock, name="stream", mac=None):
        sock.settimeout(None)
        super().__init__(sock, name, mac)

    def _recv_loop(self):
        buf = bytearray()
        while True:
            data = self.sock.recv(262144)
            if not data:
                return
            buf += data
            off = 0
            while len(buf) - off >= 4:
                (n,) = struct.unpack(">I", buf[off:off + 4])
                if len(buf) - off - 4 < n:
                    break
                self._got(bytes(buf[off + 4:off + 4 + n]))
                off += 4 + n
            del buf[:off]

    def send(self, frame):
        self.sock.sendall(struct.pack(">I", len(frame)) + frame)

    def send_many(self, frames):
        self.sock.sendall(b"".join(struct.pack(">I", len(f)) + f
                                   for f in frames))

    def send_raw(self, data):
        self.sock.sendall(data)


class TcpPeer(StreamPeer):
    """A TCP client of a nethub socket listen= netdev."""

    def __init__(self, port, host="127.0.0.1", name=None, mac=None):
        s = socket.create_connection((host, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local = s.getsockname()
        super().__init__(s, name or "tcp:%d" % self.local[1], mac)
        self.port_name = None

    @property
    def addr(self):
        return addr_str(self.local)


class TcpListener:
    """A listening TCP socket for nethub's connect= netdevs."""

    def __init__(self, port=0, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        _live.append(self)

    def accept(self, timeout=FRAME_TIMEOUT, name="accepted", mac=None):
        self.sock.settimeout(timeout)
        try:
            s, _ = self.sock.accept()
        except socket.timeout:
            raise AssertionError("no connection to port %d within %.1fs"
                                 % (self.port, timeout))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return StreamPeer(s, name=name, mac=mac)

    def close(self):
        self.sock.close()


class DgramPeer(_SockPeer):
    """A datagram socket: one raw frame per datagram.  @dest is where
    send() goes (None for a connected socket)."""

    def __init__(self, sock, dest=None, name="dgram", mac=None):
        sock.settimeout(None)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        self.dest = dest
        self.sources = set()
        super().__init__(sock, name, mac)

    def _accept_source(self, src):
        return True

    def _recv_loop(self):
        while True:
            data, src = self.sock.recvfrom(1 << 17)
            if not self._accept_source(src):
                continue
            if src:
                self.sources.add(addr_str(src) if isinstance(src, tuple)
                                 else src)
            self._got(data)

    def send(self, frame):
        if self.dest is None:
            self.sock.send(frame)
        else:
            self.sock.sendto(frame, self.dest)

    send_raw = send


class UdpPeer(DgramPeer):
    """The far end of a nethub udp= netdev: binds 127.0.0.1:@port (0: any
    free port) and sends to nethub's localaddr (set with .to())."""

    def __init__(self, port=0, host="127.0.0.1", name=None, mac=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, port))
        self.local = s.getsockname()
        super().__init__(s, None, name or "udp:%d" % self.local[1], mac)

    @property
    def port(self):
        return self.local[1]

    def to(self, port, host="127.0.0.1"):
        self.dest = (host, port)
        return self


class McastPeer(DgramPeer):
    """A member of a multicast group on the loopback interface, like
    another QEMU with mcast=GROUP:PORT,localaddr=127.0.0.1.  It receives
    on a socket bound to the group port and sends from a second socket, so
    that its own looped-back datagrams are recognised by their source
    address and ignored."""

    def __init__(self, group, port, ifaddr="127.0.0.1", name=None,
                 mac=None):
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        r.bind((group, port))
        r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton(group) + socket.inet_aton(ifaddr))
        w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        w.bind((ifaddr, 0))
        w.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                     socket.inet_aton(ifaddr))
        w.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        w.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        self.wsock = w
        self.own = w.getsockname()
        super().__init__(r, (group, port), name or "mcast", mac)

    def _accept_source(self, src):
        return src != self.own

    def send(self, frame):
        self.wsock.sendto(frame, self.dest)

    send_raw = send

    def close(self):
        if not self.closed:
            self.wsock.close()
        super().close()


def sync(sender, receivers, timeout=FRAME_TIMEOUT):
    """Barrier: @sender sends a broadcast marker; each of @receivers must
    see it before any other frame.  Since a port's frames are forwarded in
    order, nothing @sender sent before can arrive after it, so a peer that
    got nothing but the marker got nothing at all from what preceded."""
    token = ("BARRIER %d" % next(_seq)).encode()
    sender.send(eth(BROADCAST, sender.mac, token,
                    ethertype=ETHERTYPE_BARRIER))
    for r in receivers:
        while True:
            item = r._next(timeout, True)
            if item is None:
                raise AssertionError("%s: barrier from %s not seen within "
                                     "%.1fs" % (r.name, sender.name,
                                                timeout))
            kind, frame = item
            if kind == "frame":
                raise AssertionError("%s: unexpected frame %s"
                                     % (r.name, describe(frame)))
            if frame[14:] == token:
                break
            r.barriers.add(bytes(frame[14:]))


def assert_frame(got, want, who=""):
    if bytes(got) != bytes(want):
        raise AssertionError("%sgot %s, want %s" % (who + ": " if who else "",
                                                    describe(got),
                                                    describe(want)))


# ---------------------------------------------------------------- daemon

def _pid_alive(pid):
    """@pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Nethubd:
    """One nethubd process.

    Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p).start()

    Adds --pidfile, --stats-file (both in a private temporary directory)
    and --io (the runner's choice) unless told not to or already given.

    With @qmp (True, or a string of extra suboptions such as "mode=0660")
    it also serves QMP on a unix socket in that directory:
    -qmp unix:DIR/qmp.sock,server=on,wait=off[,EXTRA]; .qmp_path is its
    path, .qmp() connects a new client (negotiated unless told not to,
    closed when the test ends), .qmp_cmd() runs a command on a shared
    client and returns its "return" value (raising qmp.QMPError).
    """

    def __init__(self, *args, io=True, pidfile=True, stats=True,
                 pass_fds=(), env=None, qmp=False):
        self.dir = tempfile.mkdtemp(prefix="nethub-test-")
        self.qmp_path = None
        self._qmp_shared = None
        if qmp:
            self.qmp_path = os.path.join(self.dir, "qmp.sock")
            spec = "unix:%s,server=on,wait=off" % self.qmp_path
            if isinstance(qmp, str):
                spec += "," + qmp
            args = ("-qmp", spec) + args
        self.pidfile = os.path.join(self.dir, "nethubd.pid")
        self.statsfile = os.path.join(self.dir, "state.json")
        self.stdout_path = os.path.join(self.dir, "stdout")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.args = [nethubd_path()] + [str(a) for a in args]
        flat = " ".join(self.args)
        if io is True and "--io" not in flat:
            self.args += ["--io", IO]
        elif isinstance(io, str):
            self.args += ["--io", io]
        if pidfile and "--pidfile" not in flat:
            self.args += ["--pidfile", self.pidfile]
        if stats and "--stats-file" not in flat:
            self.args += ["--stats-file", self.statsfile]
        self.pass_fds = tuple(pass_fds)
        self.env = env
        self.proc = None
        self.daemon_pid = None
        self.rc = None
        _live.append(self)

    # -- process

    def start(self, wait=True, timeout=START_TIMEOUT):
        if not os.path.exists(self.args[0]):
            raise AssertionError("nethubd not found at %s (set NETHUBD)"
                                 % self.args[0])
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err,
                                     pass_fds=self.pass_fds, env=env,
                                     start_new_session=True)
        out.close()
        err.close()
        if wait:
            self.wait_ready(timeout)
            if self.qmp_path:
                poll(lambda: os.path.exists(self.qmp_path) or
                     self._died(), timeout,
                     what="the QMP socket %s" % self.qmp_path)
                self._died()
        return self

    def _died(self):
        if not self.alive():
            raise AssertionError("nethubd is not running:\n" + self.log())
        return False

    def wait_ready(self, timeout=START_TIMEOUT, daemonized=False):
        """Wait for the pidfile; fail early if the process exits (unless
        @daemonized, where the foreground process exits by design)."""
        def ready():
            pid = self.read_pidfile()
            if pid and _pid_alive(pid):
                return pid
            if not daemonized and self.proc.poll() is not None:
                raise AssertionError(
                    "nethubd exited with status %d before it was ready:\n%s"
                    % (self.proc.returncode, self.log()))
            return None
        self.daemon_pid = poll(ready, timeout, what="nethubd's pidfile %s"
                               % self.pidfile)
        return self

    def read_pidfile(self):
        try:
            with open(self.pidfile) as f:
                text = f.read().strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    @property
    def pid(self):
        return self.daemon_pid or self.proc.pid

    def alive(self):
        if self.proc is None:
            return False
        if self.daemon_pid and self.daemon_pid != self.proc.pid:
            return _pid_alive(self.daemon_pid)
        return self.proc.poll() is None

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Send @sig and wait for the exit; return the exit status (None
        for a daemonized process, which is not our child)."""
        self.send_signal(sig)
        if self.daemon_pid and self.daemon_pid != self.proc.pid:
            poll(lambda: not _pid_alive(self.daemon_pid), timeout,
                 what="daemonized nethubd %d to exit" % self.daemon_pid)
            self.proc.wait(timeout)
            return None
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("nethubd did not exit within %ds of %s"
                                 % (timeout, signal.Signals(sig).name))
        return self.rc

    def stop_clean(self, timeout=20):
        """SIGTERM; the daemon must exit 0 with nothing in its log from a
        sanitizer (under ASan/LSan a leak or an error is reported there
        and changes the exit status)."""
        rc = self.stop(signal.SIGTERM, timeout)
        err = self.stderr()
        if rc not in (0, None) or "Sanitizer" in err or \
                "runtime error" in err:
            raise AssertionError("nethubd did not stop cleanly (status %s):"
                                 "\n%s" % (rc, err[-6000:]))

    def wait_exit(self, timeout=20):
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("nethubd still running after %ds"
                                 % timeout)
        return self.rc

    def close(self):
        """Kill whatever is left (cleanup)."""
        if self.proc is not None:
            self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _kill(self):
        if self.daemon_pid and self.daemon_pid != self.proc.pid \
                and _pid_alive(self.daemon_pid):
            try:
                with open("/proc/%d/cmdline" % self.daemon_pid, "rb") as f:
                    mine = b"nethubd" in f.read()
            except OSError:
                mine = False
            if mine:
                os.kill(self.daemon_pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stdout(self):
        return _read(self.stdout_path)

    def stderr(self):
        return _read(self.stderr_path)

    def log(self, tail=40):
        lines = (self.stderr() + self.stdout()).splitlines()
        return "\n".join(lines[-tail:])

    # -- state

    def state(self, timeout=STATE_TIMEOUT):
        """A fresh state dump: SIGUSR1, then the stats file appears."""
        try:
            os.unlink(self.statsfile)
        except FileNotFoundError:
            pass
        if not self.alive():
            raise AssertionError("nethubd is not running:\n" + self.log())
        self.send_signal(signal.SIGUSR1)

        def load():
            try:
                with open(self.statsfile) as f:
                    return json.load(f)
            except FileNotFoundError:
                if not self.alive():
                    raise AssertionError("nethubd died:\n" + self.log())
                return None
        return poll(load, timeout, what="state dump in " + self.statsfile)

    def wait_state(self, cond, timeout=STATE_TIMEOUT, what="state"):
        """Poll state dumps until @cond(state) is true; return that state.
        On timeout the last state is part of the error."""
        last = [None]
        deadline = time.monotonic() + timeout
        interval = 0.05
        while True:
            st = self.state()
            last[0] = st
            if cond(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; last state:"
                                     "\n%s" % (what, json.dumps(
                                         last[0], indent=1)[:6000]))
            time.sleep(interval)
            interval = min(interval * 1.5, 0.3)

    # -- QMP

    def qmp(self, negotiate=True, greeting=True, timeout=10.0):
        """A new client of the daemon's QMP socket (Nethubd(qmp=...));
        negotiated unless @negotiate is false (then the greeting is read
        unless @greeting is false).  Closed when the test ends."""
        import qmp as qmplib
        if not self.qmp_path:
            raise AssertionError("this nethubd was started without qmp=")
        c = qmplib.QMPClient.connect(self.qmp_path, greeting=greeting,
                                     negotiate=negotiate, timeout=timeout)
        _live.append(c)
        return c

    def qmp_cmd(self, cmd, args=None, **kw):
        """Run @cmd on a shared negotiated client; its "return" value.  An
        error answer raises qmp.QMPError."""
        if self._qmp_shared is None or self._qmp_shared.closed:
            self._qmp_shared = self.qmp()
        return self._qmp_shared.cmd(cmd, args, **kw)

    # -- peers

    def attach(self, port, netdev="vms", name=None, mac=None):
        """Connect a TcpPeer to listen port @port and wait until nethub
        shows its port; the peer's .port_name is set."""
        p = TcpPeer(port, name=name, mac=mac)
        st = self.wait_state(lambda s: port_of_peer(s, netdev, p.addr),
                             what="a port of %s for peer %s"
                             % (netdev, p.addr))
        p.port_name = port_of_peer(st, netdev, p.addr)["name"]
        if name is None:
            p.name = p.port_name
        return p


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def run_cli(*args, timeout=20, io=False, pass_fds=()):
    """Run nethubd to completion; return (status, stdout, stderr).  A
    nethubd still running after @timeout is killed and reported."""
    argv = [nethubd_path()] + [str(a) for a in args]
    if not os.path.exists(argv[0]):
        raise AssertionError("nethubd not found at %s (set NETHUBD)"
                             % argv[0])
    if io:
        argv += ["--io", IO]
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout,
                           pass_fds=pass_fds, start_new_session=True)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s still running after %ds (stderr: %r)"
                             % (" ".join(argv), timeout, e.stderr))
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))


# ---------------------------------------------------------------- state

def netdev(st, nid):
    for nd in st.get("netdevs", []):
        if nd.get("id") == nid:
            return nd
    return None


def ports(st, nid=None):
    """All ports (of netdev @nid, or of every netdev) in dump order."""
    out = []
    for nd in st.get("netdevs", []):
        if nid is None or nd.get("id") == nid:
            out.extend(nd.get("ports", []))
    return out


def port(st, name):
    for p in ports(st):
        if p.get("name") == name:
            return p
    return None


def port_names(st, nid):
    return [p["name"] for p in ports(st, nid)]


def port_of_peer(st, nid, peer_addr):
    for p in ports(st, nid):
        if p.get("peer") == peer_addr:
            return p
    return None


def hub(st, hid=0):
    for h in st.get("hubs", []):
        if h.get("id") == hid:
            return h
    return None


def fdb(st, hid=0):
    h = hub(st, hid)
    return h.get("fdb", []) if h else []


def fdb_port(st, mac, vlan=0, hid=0):
    """The port name @mac is learned on in @vlan, or None."""
    for e in fdb(st, hid):
        if e.get("mac") == mac and e.get("vlan", 0) == vlan:
            return e.get("port")
    return None


def stat(p, key):
    return p["stats"][key]


def rx_drops(p, reason=None):
    d = p["stats"].get("rx-drops", {})
    return d.get(reason, 0) if reason else sum(d.values())


def tx_drops(p, reason=None):
    d = p["stats"].get("tx-drops", {})
    return d.get(reason, 0) if reason else sum(d.values())


def check_port_accounting(p):
    """Per port: rx-frames = rx-forwarded + sum(rx-drops)."""
    s = p["stats"]
    if s["rx-frames"] != s["rx-forwarded"] + rx_drops(p):
        raise AssertionError(
            "port %s: rx-frames %d != rx-forwarded %d + rx-drops %d (%s)"
            % (p["name"], s["rx-frames"], s["rx-forwarded"], rx_drops(p),
               json.dumps(s.get("rx-drops"))))


def find_counters(obj, pattern, skip=("options",)):
    """Integer values anywhere in @obj whose key matches the regular
    expression @pattern: a list of (path, value)."""
    rx = re.compile(pattern)
    found = []

    def walk(o, path):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in skip:
                    continue
                if isinstance(v, int) and not isinstance(v, bool) \
                        and rx.search(k):
                    found.append((path + "/" + k, v))
                else:
                    walk(v, path + "/" + k)
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, "%s[%d]" % (path, i))
    walk(obj, "")
    return found


def counter_sum(obj, pattern, skip=("options",)):
    return sum(v for _, v in find_counters(obj, pattern, skip))


# ---------------------------------------------------------------- multicast

def _mcast_probe(group, port):
    r = w = None
    try:
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        r.bind((group, port))
        r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton(group) + socket.inet_aton("127.0.0.1"))
        r.settimeout(1.0)
        w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        w.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                     socket.inet_aton("127.0.0.1"))
        w.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        w.sendto(b"probe", (group, port))
        return r.recv(64) == b"probe"
    except OSError:
        return False
    finally:
        for s in (r, w):
            if s:
                s.close()


def ensure_loopback_multicast(group, port):
    """Make multicast over lo work for this test: if a probe fails and lo
    lacks the MULTICAST flag, set it (we run as root) and restore it when
    the test ends.  Skips the test when multicast still does not work."""
    if _mcast_probe(group, port):
        return
    with open("/sys/class/net/lo/flags") as f:
        flags = int(f.read(), 16)
    if not flags & 0x1000:
        subprocess.run(["ip", "link", "set", "lo", "multicast", "on"],
                       check=True)
        at_cleanup(lambda: subprocess.run(
            ["ip", "link", "set", "lo", "multicast", "off"]))
        if _mcast_probe(group, port):
            return
    raise Skip("multicast over the loopback interface does not work here")


def mcast_group():
    """A group in the organisation-local scope, different per run."""
    n = (os.getpid() * 7919 + next(_seq)) & 0xFFFF
    return "239.255.%d.%d" % (n >> 8, max(1, n & 255))


# ---------------------------------------------------------------- runner

class _TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _TestTimeout("test took longer than %ds" % TEST_TIMEOUT)


def run(namespace, argv=None):
    """TAP runner over the test_* functions of @namespace (a module's
    globals()), in definition order.  Exits 0 iff all passed."""
    global IO
    ap = argparse.ArgumentParser()
    ap.add_argument("--io", default=os.environ.get("NETHUB_IO", "auto"),
                    choices=("auto", "uring", "epoll"))
    ap.add_argument("-k", dest="match", default=None,
                    help="run only tests whose name contains this")
    ap.add_argument("--list", action="store_true")
    opts = ap.parse_args(argv)
    IO = opts.io
    tests = [(n, f) for n, f in namespace.items()
             if n.startswith("test_") and callable(f)]
    if opts.match:
        tests = [(n, f) for n, f in tests if opts.match in n]
    if opts.list:
        for n, _ in tests:
            print(n)
        return 0
    diag("nethubd: %s, --io %s" % (nethubd_path(), IO))
    signal.signal(signal.SIGALRM, _on_alarm)
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        t0 = time.monotonic()
        result, notes = "ok", []
        signal.alarm(TEST_TIMEOUT)
        try:
            fn()
        except Skip as e:
            result = "ok %d - %s # SKIP %s" % (i, name, e)
        except BaseException as e:  # report everything, even timeouts
            if isinstance(e, KeyboardInterrupt):
                raise
            result = "not ok"
            notes.append(traceback.format_exc().rstrip())
            for item in _live:
                if isinstance(item, Nethubd) and item.proc is not None:
                    notes.append("nethubd %s log:\n%s"
                                 % (" ".join(item.args[1:]), item.log()))
        finally:
            signal.alarm(0)
            cleanup_all()
        if result == "ok":
            print("ok %d - %s" % (i, name), flush=True)
        elif result == "not ok":
            failed += 1
            print("not ok %d - %s" % (i, name), flush=True)
            for n in notes:
                diag(n)
        else:
            print(result, flush=True)
        diag("%s: %.1fs" % (name, time.monotonic() - t0))
    print("1..%d" % len(tests), flush=True)
    if failed:
        diag("%d of %d failed" % (failed, len(tests)))
    return 1 if failed else 0


def main(namespace):
    sys.exit(run(namespace))
