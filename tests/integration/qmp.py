# SPDX-License-Identifier: MIT
"""qmp.py - a QMP client for tests (Python 3 stdlib only)

Speaks QEMU's Machine Protocol to nethubd the way a test needs to: every
reply is returned whole (so a test can check "id", "error.class" and
"error.desc"), raw bytes can be sent (malformed JSON, split writes, control
characters), file descriptors can ride along with a message (SCM_RIGHTS),
and events are collected on the side while replies are awaited.  The server
must write each message as one line (QEMU ends them with CRLF); a line that
is not exactly one JSON value fails the test.

  c = QMPClient.connect("/run/x/qmp.sock")        # or ("127.0.0.1", 4444)
  c.greeting                                      # the greeting object
  c.negotiate()                                   # qmp_capabilities
  r = c.execute("netdev_del", {"id": "x"}, id=7)  # the full reply
  assert_error(r, "DeviceNotFound", "Device 'x' not found", id=7)
  c.cmd("netdev_add", id="vms", type="socket", listen="127.0.0.1:5555")
  ev = c.wait_event("NETDEV_STREAM_CONNECTED")

The client reads synchronously with deadlines; nothing is read unless a
test asks, so a client that "never reads" is simply one nobody asks.

Nothing here knows about nethubd; tests/integration/nethub.py starts the
daemon with a QMP socket (Nethubd(qmp=True)) and hands out clients.
"""

import json
import select
import socket
import time

REPLY_TIMEOUT = 10.0        # s for a reply or an expected event
NO_EVENT_WINDOW = 1.0       # s of silence that expect_no_event() wants

_NO_ID = object()           # execute(): send no "id" member


class QMPError(Exception):
    """A command answered with an error (raised by QMPClient.cmd())."""

    def __init__(self, reply):
        err = reply.get("error", {})
        self.reply = reply
        self.cls = err.get("class")
        self.desc = err.get("desc")
        super().__init__("%s: %s" % (self.cls, self.desc))


class QMPClosed(AssertionError):
    """The server closed the connection while something was expected."""


class QMPClient:
    """One QMP connection."""

    def __init__(self, sock, name="qmp"):
        self.sock = sock
        self.name = name
        self.buf = bytearray()
        self.events = []        # events received while waiting for replies
        self.greeting = None
        self.eof = False
        self.closed = False
        self._decoder = json.JSONDecoder()

    # -- connecting

    @classmethod
    def connect(cls, addr, greeting=True, negotiate=False,
                timeout=REPLY_TIMEOUT, name=None):
        """Connect to @addr: a unix socket path (str) or a (host, port)
        tuple.  Reads the greeting unless @greeting is false; negotiates
        (and checks that it worked) if @negotiate."""
        if isinstance(addr, tuple):
            s = socket.create_connection(addr, timeout=timeout)
            label = "qmp tcp:%s:%d" % addr
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(addr)
            except OSError:
                s.close()
                raise
            label = "qmp unix:%s" % addr
        s.setblocking(True)
        s.settimeout(None)
        c = cls(s, name or label)
        if greeting or negotiate:
            c.read_greeting(timeout)
        if negotiate:
            r = c.negotiate(timeout=timeout)
            if r != {"return": {}}:
                c.close()
                raise AssertionError("%s: qmp_capabilities answered %r"
                                     % (c.name, r))
        return c

    def read_greeting(self, timeout=REPLY_TIMEOUT):
        """The first message: must be a greeting ({"QMP": ...})."""
        msg = self.recv_any(timeout)
        if not isinstance(msg, dict) or "QMP" not in msg:
            raise AssertionError("%s: expected the greeting, got %r"
                                 % (self.name, msg))
        self.greeting = msg
        return msg

    def negotiate(self, enable=None, timeout=REPLY_TIMEOUT, **kw):
        """Send qmp_capabilities (with "enable": @enable if given); return
        the full reply."""
        args = None if enable is None else {"enable": enable}
        return self.execute("qmp_capabilities", args, timeout=timeout, **kw)

    # -- sending

    def send_raw(self, data, fds=()):
        """Send bytes (str is UTF-8 encoded) as they are; with @fds, the
        first sendmsg carries them as SCM_RIGHTS."""
        if isinstance(data, str):
            data = data.encode()
        if fds:
            n = socket.send_fds(self.sock, [data], list(fds))
            if n < len(data):
                self.sock.sendall(data[n:])
        else:
            self.sock.sendall(data)

    def send_split(self, data, size=1, pause=0.0):
        """Send @data in pieces of @size bytes, one send() each (TCP_NODELAY
        set on TCP), sleeping @pause seconds between them."""
        if isinstance(data, str):
            data = data.encode()
        if self.sock.family in (socket.AF_INET, socket.AF_INET6):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), size):
            self.sock.sendall(data[i:i + size])
            if pause:
                time.sleep(pause)

    @staticmethod
    def request(cmd, args=None, id=_NO_ID, **extra):
        """The request object for @cmd (no "arguments" when @args is
        None, no "id" unless given; @extra members added as they are)."""
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        if id is not _NO_ID:
            req["id"] = id
        req.update(extra)
        return req

    def send(self, obj, fds=(), newline=True):
        """Send one JSON value (any value, not only requests)."""
        data = json.dumps(obj).encode()
        if newline:
            data += b"\n"
        self.send_raw(data, fds)

    # -- receiving

    def _parse_one(self):
        """Take one complete JSON value off the buffer, or None."""
        i = 0
        n = len(self.buf)
        while i < n and self.buf[i] in b" \t\r\n":
            i += 1
        if i:
            del self.buf[:i]
        if not self.buf:
            return None
        # the server sends one object per line: parse up to the first
        # newline, which never occurs inside JSON text the server writes
        end = self.buf.find(b"\n")
        if end < 0:
            return None
        line = bytes(self.buf[:end]).decode("utf-8", errors="strict")
        try:
            obj, used = self._decoder.raw_decode(line)
        except ValueError as e:
            raise AssertionError("%s: server sent bad JSON %r: %s"
                                 % (self.name, line[:200], e))
        if line[used:].strip():
            raise AssertionError("%s: trailing bytes after a JSON value in "
                                 "line %r" % (self.name, line[:200]))
        del self.buf[:end + 1]
        return obj

    def _fill(self, deadline):
        """Read what is available before @deadline; False on timeout."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise QMPClosed("%s: connection closed by the server%s"
                            % (self.name, " (unparsed: %r)"
                               % bytes(self.buf[:200]) if self.buf else ""))
        self.buf += data
        return True

    def recv_any(self, timeout=REPLY_TIMEOUT):
        """The next message of any kind (greeting, reply, event); raises
        AssertionError after @timeout seconds, QMPClosed at EOF."""
        deadline = time.monotonic() + timeout
        while True:
            obj = self._parse_one()
            if obj is not None:
                return obj
            if not self._fill(deadline):
                raise AssertionError("%s: nothing received within %.1fs"
                                     % (self.name, timeout))

    def try_recv_any(self, timeout):
        """Like recv_any() but None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            obj = self._parse_one()
            if obj is not None:
                return obj
            if not self._fill(deadline):
                return None

    def recv_reply(self, timeout=REPLY_TIMEOUT):
        """The next message that is not an event (events are kept in
        .events)."""
        deadline = time.monotonic() + timeout
        while True:
            obj = self.recv_any(max(0.0, deadline - time.monotonic()))
            if isinstance(obj, dict) and "event" in obj:
                self.events.append(obj)
                continue
            return obj

    def execute(self, cmd, args=None, id=_NO_ID, fds=(),
                timeout=REPLY_TIMEOUT, **extra):
        """Send a request and return the full reply (a dict with "return"
        or "error", and "id" if the server echoed one)."""
        self.send(self.request(cmd, args, id, **extra), fds)
        return self.recv_reply(timeout)

    def cmd(self, cmd, args=None, fds=(), timeout=REPLY_TIMEOUT, **kw):
        """Run @cmd with @args (or keyword arguments) and return its
        "return" value; an error reply raises QMPError."""
        if args is None and kw:
            args = kw
        r = self.execute(cmd, args, fds=fds, timeout=timeout)
        if not isinstance(r, dict):
            raise AssertionError("%s: %s answered %r" % (self.name, cmd, r))
        if "error" in r:
            raise QMPError(r)
        if "return" not in r:
            raise AssertionError("%s: %s answered without return: %r"
                                 % (self.name, cmd, r))
        return r["return"]

    # -- events

    def poll_events(self, timeout=0.0):
        """Read whatever arrives within @timeout into .events (replies
        arriving now are an error: nothing was asked)."""
        deadline = time.monotonic() + timeout
        while True:
            obj = self.try_recv_any(max(0.0, deadline - time.monotonic()))
            if obj is None:
                return
            if not (isinstance(obj, dict) and "event" in obj):
                raise AssertionError("%s: unexpected message %r"
                                     % (self.name, obj))
            self.events.append(obj)

    def wait_event(self, name, timeout=REPLY_TIMEOUT, match=None):
        """The first collected or arriving event called @name (and for
        which @match(event) is true, if given); it is removed from
        .events."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("event") == name and (match is None or match(ev)):
                    del self.events[i]
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    "%s: no event %s within %.1fs (got: %s)"
                    % (self.name, name, timeout,
                       [e.get("event") for e in self.events]))
            obj = self.try_recv_any(left)
            if obj is None:
                continue
            if not (isinstance(obj, dict) and "event" in obj):
                raise AssertionError("%s: unexpected message %r while "
                                     "waiting for %s" % (self.name, obj,
                                                         name))
            self.events.append(obj)

    def take_events(self, name=None):
        """Remove and return the collected events (of @name only)."""
        got = [e for e in self.events if name is None or e["event"] == name]
        self.events = [e for e in self.events
                       if not (name is None or e["event"] == name)]
        return got

    def expect_no_event(self, name=None, duration=NO_EVENT_WINDOW):
        """No event (called @name) is collected or arrives within
        @duration."""
        self.poll_events(duration)
        bad = [e for e in self.events if name is None or e["event"] == name]
        if bad:
            raise AssertionError("%s: unexpected event(s) %r"
                                 % (self.name, bad))

    def expect_silence(self, duration=NO_EVENT_WINDOW):
        """Nothing at all arrives within @duration."""
        obj = self.try_recv_any(duration)
        if obj is not None:
            raise AssertionError("%s: unexpected message %r"
                                 % (self.name, obj))

    def expect_eof(self, timeout=REPLY_TIMEOUT):
        """The server closes the connection within @timeout (messages
        still arriving are skipped)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.try_recv_any(max(0.0, deadline - time.monotonic())) \
                        is None:
                    raise AssertionError("%s: connection not closed within "
                                         "%.1fs" % (self.name, timeout))
        except QMPClosed:
            return

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- checks

def assert_ok(reply, ret=None, id=_NO_ID):
    """@reply is a success (with return value @ret if given, and "id"
    @id if given; without @id it must carry no id)."""
    if not isinstance(reply, dict) or "return" not in reply \
            or "error" in reply:
        raise AssertionError("expected a success reply, got %r" % (reply,))
    if ret is not None and reply["return"] != ret:
        raise AssertionError("expected return %r, got %r"
                             % (ret, reply["return"]))
    _check_id(reply, id)
    return reply["return"]


def assert_error(reply, cls="GenericError", desc=None, contains=None,
                 id=_NO_ID):
    """@reply is an error of class @cls; its desc equals @desc (if given)
    or contains @contains (if given); it carries "id" @id if given, and no
    "id" at all otherwise."""
    if not isinstance(reply, dict) or "error" not in reply:
        raise AssertionError("expected an error reply, got %r" % (reply,))
    err = reply["error"]
    if not isinstance(err, dict) or set(err) != {"class", "desc"}:
        raise AssertionError("error object must be {class, desc}: %r"
                             % (err,))
    if "return" in reply:
        raise AssertionError("error reply also has return: %r" % (reply,))
    if err["class"] != cls:
        raise AssertionError("expected class %s, got %s (desc %r)"
                             % (cls, err["class"], err["desc"]))
    if not isinstance(err["desc"], str) or not err["desc"]:
        raise AssertionError("error desc must be a non-empty string: %r"
                             % (err,))
    if desc is not None and err["desc"] != desc:
        raise AssertionError("expected desc %r, got %r" % (desc, err["desc"]))
    if contains is not None and contains not in err["desc"]:
        raise AssertionError("expected desc containing %r, got %r"
                             % (contains, err["desc"]))
    _check_id(reply, id)
    return err


def _check_id(reply, id):
    if id is _NO_ID:
        if "id" in reply:
            raise AssertionError("reply carries an id it should not: %r"
                                 % (reply,))
    elif "id" not in reply:
        raise AssertionError("reply lacks id %r: %r" % (id, reply))
    elif not same_json(reply["id"], id):
        raise AssertionError("id %r echoed as %r" % (id, reply["id"]))


def same_json(a, b):
    """Equal as JSON values: types matter (1 != 1.0 != true)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y)
                                        for x, y in zip(a, b))
    return a == b


def check_timestamp(ev):
    """@ev has QEMU's timestamp: {seconds, microseconds}, integers, close
    to now."""
    ts = ev.get("timestamp")
    if not isinstance(ts, dict) or set(ts) != {"seconds", "microseconds"}:
        raise AssertionError("event timestamp must be {seconds, "
                             "microseconds}: %r" % (ev,))
    s, us = ts["seconds"], ts["microseconds"]
    if type(s) is not int or type(us) is not int or not 0 <= us < 1000000:
        raise AssertionError("bad timestamp values: %r" % (ts,))
    if abs(s + us / 1e6 - time.time()) > 60:
        raise AssertionError("timestamp %r is not about now (%f)"
                             % (ts, time.time()))
