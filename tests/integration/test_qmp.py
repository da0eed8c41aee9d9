#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_qmp.py - QMP protocol conformance of nethubd's control sockets

One test per rule of QEMU's QMP as nethub must speak it: the greeting,
capabilities negotiation and its errors, id echo, the checks of a request's
shape, events only after negotiation, the byte-stream reader (no newlines,
split writes, several objects per write, single quotes, parse errors and
resynchronisation, size and nesting limits), several clients at once, a
stuck client, abrupt disconnects, lockout (handshake timeout, session limit,
hundreds of idle connections, the fd limit), and the -qmp option itself
(unix socket modes and group, tcp and remote=on, several sockets, stale and
foreign files, removal at exit, bad values).  The commands themselves: test_qmp_commands.py.
"""

import grp
import functools
import json
import os
import re
import resource
import select
import signal
import socket
import stat
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import (BROADCAST, Nethubd, TcpPeer, assert_frame,  # noqa: E402
                    free_port, poll, run_cli)
from qmp import (QMPClient, assert_error, assert_ok,  # noqa: E402
                 check_timestamp, same_json)

NEGOTIATE_FIRST = "Expecting capabilities negotiation with 'qmp_capabilities'"
ALREADY_NEGOTIATED = ("Capabilities negotiation is already complete, "
                      "command ignored")
NOT_OBJECT = "QMP input must be a JSON object"
PARSE_ERROR = "JSON parse error, "
STALL_MAX = 1.0     # s a busy client may delay others and the datapath


# ---------------------------------------------------------------- helpers

def daemon(*extra, qmp=True):
    """nethubd with a socket listen= netdev "vms" (its port: .vms_port) and
    a QMP unix socket."""
    p = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p, *extra,
                qmp=qmp).start()
    d.vms_port = p
    return d


def connect(d, negotiate=True):
    return d.qmp(negotiate=negotiate)


def two_way(x, y):
    f = x.send_frame(BROADCAST, "%s to all" % x.name)
    assert_frame(y.expect_frame(), f, y.name)
    g = y.send_frame(x.mac, "%s to %s" % (y.name, x.name))
    assert_frame(x.expect_frame(), g, x.name)


def check_alive(d, peers=None):
    """The daemon runs, a new client is served, and (with @peers, two
    TcpPeers) frames still flow."""
    assert d.alive(), "nethubd died:\n" + d.log()
    c = connect(d)
    assert_ok(c.execute("query-version", id="alive"), id="alive")
    c.close()
    if peers:
        two_way(*peers)


def replies_until(c, want_id, timeout=10.0):
    """Messages (events set aside) up to and including the reply with "id"
    @want_id: (the ones before, that reply)."""
    before = []
    deadline = time.monotonic() + timeout
    while True:
        r = c.recv_reply(max(0.1, deadline - time.monotonic()))
        if isinstance(r, dict) and "id" in r and same_json(r["id"],
                                                           want_id):
            return before, r
        before.append(r)


def assert_parse_errors(msgs, at_least=1):
    """@msgs are all "JSON parse error, ..." replies without an id, at least
    @at_least of them."""
    if len(msgs) < at_least:
        raise AssertionError("expected at least %d parse error(s), got %r"
                             % (at_least, msgs))
    for m in msgs:
        err = assert_error(m, "GenericError")
        if not err["desc"].startswith(PARSE_ERROR):
            raise AssertionError("expected %r..., got %r"
                                 % (PARSE_ERROR, err["desc"]))


def raw_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    nethub.at_cleanup(s.close)
    return s


def recv_line(s, timeout=10.0):
    """Bytes up to and including the first LF."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no complete line within %.1fs: %r"
                                 % (timeout, buf))
        s.settimeout(left)
        data = s.recv(65536)
        if not data:
            raise AssertionError("EOF after %r" % buf)
        buf += data
    return buf[:buf.index(b"\n") + 1]


def is_int(v):
    return type(v) is int


# ---------------------------------------------------------------- greeting

def test_greeting_shape():
    d = daemon()
    c = connect(d, negotiate=False)
    g = c.greeting
    assert set(g) == {"QMP"}, g
    q = g["QMP"]
    assert set(q) == {"version", "capabilities"}, q
    v = q["version"]
    assert set(v) == {"qemu", "package"}, v
    assert set(v["qemu"]) == {"major", "minor", "micro"}, v
    assert all(is_int(v["qemu"][k]) and v["qemu"][k] >= 0
               for k in ("major", "minor", "micro")), v
    assert isinstance(v["package"], str), v
    caps = q["capabilities"]
    assert isinstance(caps, list), caps
    assert all(isinstance(x, str) for x in caps), caps
    assert "oob" not in caps, "oob is offered but not implemented: %r" % caps


def test_greeting_is_one_crlf_terminated_line():
    d = daemon()
    s = raw_unix(d.qmp_path)
    line = recv_line(s)
    assert line.endswith(b"\r\n"), line
    assert b"\n" not in line[:-1] and b"\r" not in line[:-2], line
    json.loads(line)
    s.sendall(b'{"execute": "qmp_capabilities", "id": 1}\n')
    line = recv_line(s)
    assert line.endswith(b"\r\n"), line
    assert json.loads(line) == {"return": {}, "id": 1}, line


def test_greeting_version_matches_query_version():
    d = daemon()
    c = connect(d, negotiate=False)
    ver = c.greeting["QMP"]["version"]
    assert_ok(c.negotiate(), {})
    assert assert_ok(c.execute("query-version")) == ver


# ---------------------------------------------------------------- negotiation

def test_negotiation_mode_refuses_other_commands():
    d = daemon()
    c = connect(d, negotiate=False)
    for cmd, args in (("query-version", None), ("query-commands", None),
                      ("netdev_del", {"id": "vms"}),
                      ("no-such-command", None)):
        r = c.execute(cmd, args, id=cmd)
        assert_error(r, "CommandNotFound", NEGOTIATE_FIRST, id=cmd)
    # nothing was done: vms still exists
    assert nethub.netdev(d.state(), "vms") is not None
    assert_ok(c.negotiate(id=5), {}, id=5)
    assert_ok(c.execute("query-version", id=6), id=6)


def test_negotiation_mode_checks_the_request_shape():
    d = daemon()
    c = connect(d, negotiate=False)
    c.send([1, 2])
    assert_error(c.recv_reply(), "GenericError", NOT_OBJECT)
    c.send({"arguments": {}, "id": 9})
    assert_error(c.recv_reply(), "GenericError",
                 "QMP input lacks member 'execute'", id=9)
    assert_ok(c.negotiate(), {})


def test_no_events_before_negotiation():
    d = daemon()
    quiet = connect(d, negotiate=False)
    loud = connect(d)
    p = TcpPeer(d.vms_port)
    ev = loud.wait_event("NETDEV_STREAM_CONNECTED")
    check_timestamp(ev)
    # the unnegotiated client got nothing, not even later
    quiet.expect_silence(0.5)
    # negotiating now: the reply is the first thing it sees
    quiet.send(QMPClient.request("qmp_capabilities", id="late"))
    assert quiet.recv_any() == {"return": {}, "id": "late"}
    # and from now on it gets events
    p.close()
    ev = quiet.wait_event("NETDEV_STREAM_DISCONNECTED")
    check_timestamp(ev)
    loud.wait_event("NETDEV_STREAM_DISCONNECTED")


def test_events_have_timestamp_and_shape():
    d = daemon()
    c = connect(d)
    p = TcpPeer(d.vms_port)
    ev = c.wait_event("NETDEV_STREAM_CONNECTED")
    assert set(ev) == {"event", "data", "timestamp"}, ev
    check_timestamp(ev)
    assert isinstance(ev["data"], dict), ev
    t1 = ev["timestamp"]
    time.sleep(0.05)
    p.close()
    ev2 = c.wait_event("NETDEV_STREAM_DISCONNECTED")
    check_timestamp(ev2)
    t2 = ev2["timestamp"]
    assert (t2["seconds"], t2["microseconds"]) > \
        (t1["seconds"], t1["microseconds"]), (t1, t2)


def test_capabilities_twice():
    d = daemon()
    c = connect(d)
    r = c.execute("qmp_capabilities", id="again")
    assert_error(r, "CommandNotFound", ALREADY_NEGOTIATED, id="again")
    # the session is not disturbed
    assert_ok(c.execute("query-version", id=1), id=1)


def test_capability_oob_not_offered():
    d = daemon()
    c = connect(d, negotiate=False)
    r = c.negotiate(enable=["oob"], id=1)
    assert_error(r, "GenericError", "Capability oob not available", id=1)
    # still negotiating
    assert_error(c.execute("query-version"), "CommandNotFound",
                 NEGOTIATE_FIRST)
    assert_ok(c.negotiate(enable=[]), {})
    assert_ok(c.execute("query-version"))


def test_capability_unknown_value():
    d = daemon()
    c = connect(d, negotiate=False)
    r = c.negotiate(enable=["warp-drive"])
    e = assert_error(r, "GenericError")
    # QEMU 7.2 names a list element 'null' here; its path is better
    assert re.fullmatch(r"Parameter '(enable\[0\]|null)' does not accept "
                        r"value 'warp-drive'", e["desc"]), e
    r = c.execute("qmp_capabilities", {"enable": "oob"})
    assert_error(r, "GenericError",
                 "Invalid parameter type for 'enable', expected: array")
    r = c.execute("qmp_capabilities", {"bogus": 1})
    assert_error(r, "GenericError", "Parameter 'bogus' is unexpected")
    assert_ok(c.negotiate(), {})


# ---------------------------------------------------------------- ids

ID_VALUES = [
    0, 1, -7, 2 ** 53 + 1, 1.5, -0.25, "", "abc", "ünï \u00e9\u4e2d \"q\"\n",
    True, False, None, [], [1, "two", [3.5, None]], {},
    {"a": {"b": [1, 2, {"c": "d"}]}, "e": None},
]


def test_id_echoed_verbatim_on_success():
    d = daemon()
    c = connect(d)
    for v in ID_VALUES:
        assert_ok(c.execute("query-version", id=v), id=v)


def test_id_echoed_verbatim_on_errors():
    d = daemon()
    c = connect(d)
    for v in ID_VALUES:
        assert_error(c.execute("no-such-command", id=v), "CommandNotFound",
                     "The command no-such-command has not been found", id=v)
        assert_error(c.execute("netdev_del", {}, id=v), "GenericError",
                     "Parameter 'id' is missing", id=v)
        c.send({"id": v})
        assert_error(c.recv_reply(), "GenericError",
                     "QMP input lacks member 'execute'", id=v)


def test_no_id_no_id_in_reply():
    d = daemon()
    c = connect(d)
    assert_ok(c.execute("query-version"))
    assert_error(c.execute("no-such-command"), "CommandNotFound")


def test_pipelined_replies_in_order():
    d = daemon()
    c = connect(d)
    cmds = []
    for i in range(60):
        k = i % 4
        if k == 0:
            cmds.append(("query-version", None))
        elif k == 1:
            cmds.append(("no-such-command", None))
        elif k == 2:
            cmds.append(("netdev_del", {"id": "nope%d" % i}))
        else:
            cmds.append(("query-commands", None))
    c.send_raw(b"".join(json.dumps(QMPClient.request(cmd, a, id=i)).encode()
                        + b"\n" for i, (cmd, a) in enumerate(cmds)))
    for i, (cmd, a) in enumerate(cmds):
        r = c.recv_reply()
        assert r.get("id") == i, "reply %d out of order: %r" % (i, r)
        if cmd == "no-such-command":
            assert_error(r, "CommandNotFound", id=i)
        elif cmd == "netdev_del":
            assert_error(r, "DeviceNotFound",
                         "Device 'nope%d' not found" % i, id=i)
        else:
            assert_ok(r, id=i)


# ------------------------------------------------------------ request shape

def test_non_object_input():
    d = daemon()
    c = connect(d)
    for raw in (b'[{"execute": "query-version", "id": 1}]\n', b'"str"\n',
                b"42\n", b"-1.5e3\n", b"null\n", b"true\n", b"false\n",
                b"[]\n"):
        c.send_raw(raw)
        r = c.recv_reply()
        assert_error(r, "GenericError", NOT_OBJECT)
    assert_ok(c.execute("query-version", id=2), id=2)


def test_missing_execute():
    d = daemon()
    c = connect(d)
    c.send({})
    assert_error(c.recv_reply(), "GenericError",
                 "QMP input lacks member 'execute'")
    c.send({"arguments": {"id": "x"}, "id": "m"})
    assert_error(c.recv_reply(), "GenericError",
                 "QMP input lacks member 'execute'", id="m")


def test_execute_not_string():
    d = daemon()
    c = connect(d)
    for v in (1, None, True, ["query-version"], {"x": 1}):
        c.send({"execute": v, "id": "e"})
        assert_error(c.recv_reply(), "GenericError",
                     "QMP input member 'execute' must be a string", id="e")


def test_arguments_not_object():
    d = daemon()
    c = connect(d)
    for v in ([], "x", 1, None, True):
        c.send({"execute": "query-version", "arguments": v, "id": "a"})
        assert_error(c.recv_reply(), "GenericError",
                     "QMP input member 'arguments' must be an object",
                     id="a")


def test_unexpected_member():
    d = daemon()
    c = connect(d)
    for m in ("foo", "Execute", "exec-oob", "control"):
        c.send({"execute": "query-version", m: 1, "id": "u"})
        assert_error(c.recv_reply(), "GenericError",
                     "QMP input member '%s' is unexpected" % m, id="u")
    # same in negotiation mode
    c2 = connect(d, negotiate=False)
    c2.send({"execute": "qmp_capabilities", "extra": {}, "id": 3})
    assert_error(c2.recv_reply(), "GenericError",
                 "QMP input member 'extra' is unexpected", id=3)


def test_unknown_command():
    d = daemon()
    c = connect(d)
    for name in ("nope", "query-cpus", "QUERY-VERSION", "query_version", "",
                 "with space", "x" * 200):
        assert_error(c.execute(name, id=1), "CommandNotFound",
                     "The command %s has not been found" % name, id=1)


def test_empty_arguments_object_is_fine():
    d = daemon()
    c = connect(d)
    assert_ok(c.execute("query-version", {}, id=1), id=1)
    r = c.execute("query-version", {"x": 1}, id=2)
    assert_error(r, "GenericError", "Parameter 'x' is unexpected", id=2)


# ---------------------------------------------------------------- the reader

BAD_JSON = [
    b'{"execute": tru}',
    b'{"execute": "query-version",, "id": 1}',
    b'{"execute" "query-version"}',
    b'{"execute": "query-\\q"}',
    b'{"execute": 01}',
    b'{"execute": "query-version", "id": [1, 2,]}',
    b'{"a": 1 "b": 2}',
    b'{1: 2}',
    b'{"execute": @}',
]


def test_malformed_json_answered_then_resync():
    d = daemon()
    c = connect(d)
    for i, bad in enumerate(BAD_JSON):
        c.send_raw(bad + b'\n{"execute": "query-version", "id": %d}\n' % i)
        before, r = replies_until(c, i)
        assert_ok(r, id=i)
        try:
            assert_parse_errors(before)
        except AssertionError as e:
            raise AssertionError("after %r: %s" % (bad, e))


def test_stray_closing_brace_and_garbage_resync():
    d = daemon()
    c = connect(d)
    c.send_raw(b'}\n]\n{"execute": "query-version", "id": "after"}\n')
    before, r = replies_until(c, "after")
    assert_ok(r, id="after")
    assert_parse_errors(before)


def test_control_character_resyncs():
    d = daemon()
    c = connect(d)
    # an unfinished message, then ESC: the reader drops it and starts over
    c.send_raw(b'{"execute": "query-version", "id": [1, {"x": "y"')
    time.sleep(0.1)
    c.send_raw(b'\x1b{"execute": "query-version", "id": "esc"}\n')
    before, r = replies_until(c, "esc")
    assert_ok(r, id="esc")
    for m in before:
        assert_parse_errors([m])
    # also in the middle of a string
    c.send_raw(b'{"execute": "query-version", "id": "unterminated')
    time.sleep(0.1)
    c.send_raw(b'\x04\n{"execute": "query-version", "id": "eot"}\n')
    before, r = replies_until(c, "eot")
    assert_ok(r, id="eot")
    for m in before:
        assert_parse_errors([m])


def test_json_without_newlines_in_one_byte_writes():
    d = daemon()
    c = connect(d, negotiate=False)
    wire = (b'{"execute":"qmp_capabilities","id":0}'
            b'{"execute":"query-version","id":1}'
            b'{ "execute" : "no-such" , "id" : { "k" : [ 2 ] } }'
            b'{"execute":"query-version","arguments":{},"id":"three"}')
    c.send_split(wire, 1)
    assert c.recv_reply() == {"return": {}, "id": 0}
    assert_ok(c.recv_reply(), id=1)
    assert_error(c.recv_reply(), "CommandNotFound", id={"k": [2]})
    assert_ok(c.recv_reply(), id="three")
    # and nothing else: no value was split or doubled
    c.expect_silence(0.3)


def test_several_objects_in_one_write():
    d = daemon()
    c = connect(d)
    wire = b"".join(json.dumps({"execute": "query-version", "id": i}).encode()
                    for i in range(30))
    c.send_raw(wire)
    for i in range(30):
        assert_ok(c.recv_reply(), id=i)
    # mixed with whitespace of all kinds and a trailing partial message
    c.send_raw(b' \t\r\n{"execute":"query-version","id":"a"}\r\n\r\n'
               b'{"execute":"query-version","id":"b"}{"execute":"query-')
    assert_ok(c.recv_reply(), id="a")
    assert_ok(c.recv_reply(), id="b")
    c.expect_silence(0.3)
    c.send_raw(b'version","id":"c"}')
    assert_ok(c.recv_reply(), id="c")


def test_single_quoted_strings_accepted():
    d = daemon()
    c = connect(d, negotiate=False)
    c.send_raw(b"{'execute': 'qmp_capabilities', 'id': 'sq'}\n")
    assert c.recv_reply() == {"return": {}, "id": "sq"}
    c.send_raw(b"{'execute': 'query-version', 'id': 'it\\'s \"quoted\"'}\n")
    assert_ok(c.recv_reply(), id="it's \"quoted\"")
    c.send_raw(b"{\"execute\": 'netdev_del', 'arguments': {'id': 'n\\u00e9'}, "
               b"'id': ['mixed', \"dq\", 'sq']}\n")
    assert_error(c.recv_reply(), "DeviceNotFound",
                 "Device 'n\u00e9' not found", id=["mixed", "dq", "sq"])


def test_utf8_in_strings():
    d = daemon()
    c = connect(d)
    name = "n\u00e9t-\u4e2d-\U0001f600"
    r = c.execute("netdev_del", {"id": name}, id=name)
    assert_error(r, "DeviceNotFound", "Device '%s' not found" % name, id=name)
    # raw UTF-8 bytes (not \u escapes) work the same
    c.send_raw(('{"execute": "query-version", "id": "%s"}\n' % name)
               .encode("utf-8"))
    assert_ok(c.recv_reply(), id=name)


def test_oversize_message_refused_session_and_datapath_go_on():
    d = daemon()
    a, b = d.attach(d.vms_port), d.attach(d.vms_port)
    c = connect(d)
    big = b'{"execute": "query-version", "arguments": {"pad": "' + \
        b"A" * (3 << 20) + b'"}, "id": "big"}\n'
    t = threading.Thread(target=c.send_raw, args=(big,), daemon=True)
    t.start()
    # frames flow while the daemon reads and drops the message
    two_way(a, b)
    t.join(20)
    assert not t.is_alive(), "the daemon stopped reading a long message"
    c.send_raw(b'{"execute": "query-version", "id": "next"}\n')
    before, r = replies_until(c, "next")
    assert_ok(r, id="next")
    assert len(before) == 1, before
    assert_parse_errors(before)
    # a long message of arrays and many members, too
    many = b'{"execute": "query-version", "arguments": {' + b",".join(
        b'"k%d": [1, 2, 3]' % i for i in range(120000)) + b'}}\n'
    c.send_raw(many + b'{"execute": "query-version", "id": "n2"}\n')
    before, r = replies_until(c, "n2")
    assert_ok(r, id="n2")
    assert len(before) == 1, before
    assert_parse_errors(before)
    check_alive(d, (a, b))


def test_message_just_below_the_limit_is_parsed():
    d = daemon()
    c = connect(d)
    msg = b'{"execute": "query-version", "arguments": {"pad": "' + \
        b"A" * ((1 << 20) - 200) + b'"}, "id": "fits"}\n'
    assert len(msg) < (1 << 20)
    c.send_raw(msg)
    r = c.recv_reply()
    # parsed: the argument check answers, not the reader
    assert_error(r, "GenericError", "Parameter 'pad' is unexpected",
                 id="fits")


def test_deep_nesting_refused_session_goes_on():
    d = daemon()
    a, b = d.attach(d.vms_port), d.attach(d.vms_port)
    c = connect(d)
    depth = 5000
    deep = (b'{"execute": "query-version", "id": ' + b"[" * depth +
            b"]" * depth + b"}\n")
    c.send_raw(deep + b'{"execute": "query-version", "id": "after"}\n')
    before, r = replies_until(c, "after")
    assert_ok(r, id="after")
    assert len(before) == 1, before
    assert_parse_errors(before)
    deep = b'{"a": ' * depth + b"1" + b"}" * depth + b"\n"
    c.send_raw(deep + b'{"execute": "query-version", "id": "after2"}\n')
    before, r = replies_until(c, "after2")
    assert_ok(r, id="after2")
    assert len(before) == 1, before
    assert_parse_errors(before)
    check_alive(d, (a, b))


def test_nesting_within_the_limit_is_parsed():
    d = daemon()
    c = connect(d)
    depth = 1000          # the request object itself adds one level
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    v = json.loads("[" * depth + "]" * depth)
    r = c.execute("query-version", id=v)
    assert_ok(r, id=v)


# ---------------------------------------------------------------- clients

def test_several_clients_each_independent():
    d = daemon()
    a = connect(d)
    b = connect(d, negotiate=False)
    c = connect(d)
    # b is still negotiating while a and c work
    assert_error(b.execute("query-version", id="b"), "CommandNotFound",
                 NEGOTIATE_FIRST, id="b")
    assert_ok(a.execute("query-version", id="a"), id="a")
    # a half-sent message on c does not disturb a
    c.send_raw(b'{"execute": "query-ver')
    assert_ok(a.execute("query-version", id="a2"), id="a2")
    c.send_raw(b'sion", "id": "c"}\n')
    assert_ok(c.recv_reply(), id="c")
    # a parse error on a does not disturb c
    a.send_raw(b'{"execute": nope}\n')
    assert_parse_errors([a.recv_reply()])
    assert_ok(c.execute("query-version", id="c2"), id="c2")
    # closing a does not disturb the others; each gets events once
    a.close()
    assert_ok(b.negotiate(), {})
    p = TcpPeer(d.vms_port)
    for x in (b, c):
        x.wait_event("NETDEV_STREAM_CONNECTED")
        x.expect_no_event("NETDEV_STREAM_CONNECTED", 0.3)
    p.close()


def test_many_clients_at_once():
    d = daemon()
    clients = [connect(d) for _ in range(24)]
    # interleave: every client sends, then every client reads
    for i, c in enumerate(clients):
        c.send(QMPClient.request("query-version", id=i))
    for i, c in enumerate(reversed(clients)):
        assert_ok(c.recv_reply(), id=len(clients) - 1 - i)
    p = TcpPeer(d.vms_port)
    for c in clients:
        c.wait_event("NETDEV_STREAM_CONNECTED")
    p.close()


def test_100k_brackets_then_line_end_one_error():
    d = daemon()
    c = connect(d)
    c.send_raw(b"[" * 100000)
    c.send_raw(b'\n{"execute": "query-version", "id": "after"}\n')
    before, r = replies_until(c, "after")
    assert_ok(r, id="after")
    assert len(before) == 1, before
    assert_error(before[0], "GenericError",
                 PARSE_ERROR + "too deeply nested")
    c.expect_silence(0.3)


# ---------------------------------------------------------------- lockout

def raise_nofile(want):
    """Let this process open @want descriptors (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def first_message(s, timeout=10.0):
    """The next JSON line a raw socket receives, read byte by byte so that
    what follows it stays in the socket."""
    line = b""
    s.settimeout(timeout)
    while not line.endswith(b"\n"):
        b = s.recv(1)
        assert b, "EOF after %r" % line
        line += b
    return json.loads(line)


def expect_error_then_eof(s, contains, timeout=15.0):
    """Skip to an error line of raw socket @s (the greeting may come first),
    which must contain @contains; then the daemon closes the connection."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no error line within %.1fs: %r"
                                 % (timeout, buf))
        s.settimeout(left)
        data = s.recv(65536)
        if not data:
            raise AssertionError("EOF without an error line: %r" % buf)
        buf += data
        lines = buf.split(b"\n")
        errs = [json.loads(x) for x in lines[:-1]
                if x.strip() and "error" in json.loads(x)]
        if errs:
            assert_error(errs[0], "GenericError", contains=contains)
            break
    s.settimeout(timeout)
    while s.recv(65536):
        pass
    return errs[0]


def idle_connections(path, n):
    """@n raw connections that read their greeting (so the daemon accepted
    every one) and then say nothing."""
    socks = []
    for _ in range(n):
        # a full backlog answers EAGAIN to a unix socket connect: retry
        s = poll(lambda: _try_raw_unix(path), 10, what="a connection")
        socks.append(s)
    for s in socks:
        msg = first_message(s)
        assert "QMP" in msg, msg
    return socks


def _try_raw_unix(path):
    try:
        return raw_unix(path)
    except BlockingIOError:
        return None


def served_promptly(d, limit=5.0):
    """A new client negotiates and runs query-version within @limit s."""
    t0 = time.monotonic()
    c = connect(d)
    assert_ok(c.execute("query-version", id="prompt"), id="prompt")
    took = time.monotonic() - t0
    assert took < limit, "a new client took %.2fs" % took
    return took


def test_unnegotiated_session_closed_after_handshake_timeout():
    d = daemon("--qmp-handshake-timeout", "1")
    idle = raw_unix(d.qmp_path)
    assert "QMP" in first_message(idle)
    # a client that sends half a request is idle too
    half = raw_unix(d.qmp_path)
    assert "QMP" in first_message(half)
    half.sendall(b'{"execute": "qmp_capa')
    ok = connect(d)
    t0 = time.monotonic()
    for s in (idle, half):
        expect_error_then_eof(s, "--qmp-handshake-timeout")
    assert time.monotonic() - t0 < 10
    # the negotiated one is left alone, however long it waits
    time.sleep(1.5)
    assert_ok(ok.execute("query-version", id=1), id=1)
    # a client that negotiates in time is not closed afterwards
    late = connect(d)
    time.sleep(1.5)
    assert_ok(late.execute("query-version", id=2), id=2)


def test_300_idle_connections_do_not_lock_out_a_client():
    raise_nofile(4096)
    d = daemon()            # the default limit: 64 sessions
    socks = idle_connections(d.qmp_path, 300)
    took = served_promptly(d)
    diag_msg = "served in %.3fs after 300 idle connections" % took
    nethub.diag(diag_msg)
    # the oldest idle ones made room: each was told why, then closed
    for s in socks[:8]:
        expect_error_then_eof(s, "--qmp-max-sessions")
    # the newest are still served: a working negotiation
    last = socks[-1]
    last.sendall(b'{"execute": "qmp_capabilities", "id": 1}\n')
    assert first_message(last) == {"return": {}, "id": 1}
    check_alive(d)


def test_300_idle_connections_within_a_raised_limit():
    raise_nofile(4096)
    d = daemon("--qmp-max-sessions", "400")
    socks = idle_connections(d.qmp_path, 300)
    served_promptly(d)
    # nobody was displaced: the first idle connection still negotiates
    socks[0].sendall(b'{"execute": "qmp_capabilities", "id": 1}\n')
    assert first_message(socks[0]) == {"return": {}, "id": 1}


def test_session_limit_refuses_with_a_line_naming_it():
    d = daemon("--qmp-max-sessions", "2")
    a, b = connect(d), connect(d)
    s = raw_unix(d.qmp_path)
    err = assert_error(first_message(s), "GenericError",
                       contains="--qmp-max-sessions")
    assert "2" in err["desc"], err
    assert s.recv(100) == b""
    # the two sessions are undisturbed; once one leaves, a new one fits
    assert_ok(a.execute("query-version", id=1), id=1)
    b.close()
    c = poll(lambda: _try_qmp(d), 10, what="a session after one left")
    assert_ok(c.execute("query-version", id=2), id=2)
    assert re.search(r"warn.*--qmp-max-sessions", d.log()), d.log()


def _try_qmp(d):
    try:
        return connect(d)
    except (OSError, AssertionError):
        return None


def test_fd_limit_refusal_line_then_served_after_timeout():
    d = daemon("--qmp-handshake-timeout", "3")
    fds = [int(x) for x in os.listdir("/proc/%d/fd" % d.pid)]
    soft, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
    # room for at least 8 more descriptors, and not many more
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (max(fds) + 9, hard))
    greeted, refusal = [], None
    for _ in range(100):
        s = raw_unix(d.qmp_path)
        msg = first_message(s)
        if "QMP" in msg:
            greeted.append(s)
            continue
        refusal = msg
        assert s.recv(100) == b"", "the refused client was not closed"
        break
    assert refusal is not None, "never refused: the limit did not apply"
    assert len(greeted) >= 8, greeted
    assert_error(refusal, "GenericError", contains="file descriptors")
    # again: the reserve descriptor came back
    s = raw_unix(d.qmp_path)
    assert_error(first_message(s), "GenericError",
                 contains="file descriptors")
    # the idle ones time out, which frees descriptors: a client is served
    for g in greeted:
        expect_error_then_eof(g, "--qmp-handshake-timeout")
    c = poll(lambda: _try_qmp(d), 10, what="a client served again")
    assert_ok(c.execute("query-version", id="back"), id="back")
    assert d.alive()
    assert re.search(r"warn.*file descriptors", d.log()), d.log()


def _flood(sock, payload, budget, result):
    """Send @payload repeatedly on non-blocking @sock until @budget bytes
    went out; result["how"]: "blocked" (the daemon stopped reading for 3s),
    "closed" (it dropped us) or "sent" (it took everything)."""
    sent = 0
    view = memoryview(payload)
    off = 0
    result["how"] = "sent"
    try:
        while sent < budget:
            try:
                n = sock.send(view[off:])
            except BlockingIOError:
                _, w, _ = select.select([], [sock], [], 3.0)
                if not w:
                    result["how"] = "blocked"
                    break
                continue
            sent += n
            off = (off + n) % len(payload)
    except (BrokenPipeError, ConnectionResetError):
        result["how"] = "closed"
    result["sent"] = sent


def test_stuck_client_does_not_stall_others_or_datapath():
    d = daemon()
    a, b = d.attach(d.vms_port), d.attach(d.vms_port)
    good = connect(d)
    # the size of one answer to what the stuck client will ask
    schema_reply = good.execute("query-qmp-schema")
    assert_ok(schema_reply)
    reply_len = len(json.dumps(schema_reply))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(d.qmp_path)
    nethub.at_cleanup(s.close)
    stuck = QMPClient(s, "stuck")
    stuck.read_greeting()
    assert_ok(stuck.negotiate(), {})
    # it never reads again; ask for 64 MiB of answers (4x the per-session
    # output bound documented in ctl/qmp.h)
    req = b'{"execute": "query-qmp-schema"}\n'
    count = (64 << 20) // max(reply_len, 1) + 16
    budget = count * len(req)
    s.setblocking(False)
    # frames go from a to b all along; the slowest one is the datapath's
    # longest stall
    ping = {"slowest": 0.0, "count": 0, "error": None}
    stop = threading.Event()

    def pinger():
        try:
            while not stop.is_set():
                t0 = time.monotonic()
                f = a.send_frame(b.mac, "ping %d" % ping["count"])
                assert_frame(b.expect_frame(), f, "b")
                ping["slowest"] = max(ping["slowest"],
                                      time.monotonic() - t0)
                ping["count"] += 1
                time.sleep(0.01)
        except Exception as e:  # reported by the test thread
            ping["error"] = e
    pt = threading.Thread(target=pinger, daemon=True)
    pt.start()
    result = {}
    t = threading.Thread(target=_flood, args=(s, req * 64, budget, result),
                         daemon=True)
    t.start()
    # meanwhile: events pile up for it, the others are served promptly
    slowest = 0.0
    rounds = 0
    deadline = time.monotonic() + 20
    while (t.is_alive() or rounds < 5) and time.monotonic() < deadline:
        t0 = time.monotonic()
        assert_ok(good.execute("query-version", id=rounds), id=rounds)
        slowest = max(slowest, time.monotonic() - t0)
        p = TcpPeer(d.vms_port)
        good.wait_event("NETDEV_STREAM_CONNECTED")
        p.close()
        good.wait_event("NETDEV_STREAM_DISCONNECTED")
        rounds += 1
    t.join(15)
    stop.set()
    pt.join(15)
    assert not t.is_alive(), "flooding the stuck client never ended"
    if ping["error"]:
        raise ping["error"]
    nethub.diag("stuck client: %s after %d of %d bytes of requests; %d "
                "rounds, slowest reply %.3fs; %d frames, slowest %.3fs"
                % (result["how"], result["sent"], budget, rounds, slowest,
                   ping["count"], ping["slowest"]))
    # a second is ample for a daemon that takes no more from a client than
    # it can send it (in a sanitizer build too); buffering 16 MiB of
    # answers before noticing takes longer
    assert slowest < STALL_MAX, \
        "another client waited %.1fs for a reply" % slowest
    assert ping["slowest"] < STALL_MAX, \
        "a frame took %.1fs through the switch" % ping["slowest"]
    # the stuck session's output is bounded: the daemon stopped taking its
    # requests or dropped it, rather than buffering 64 MiB of answers
    if result["how"] == "sent":
        # it took every request: it must drop the client or stop reading
        # now
        more = {}
        _flood(s, req * 64, 4 << 20, more)
        assert more["how"] in ("blocked", "closed"), \
            "the daemon buffered %d requests' answers for a client that " \
            "never reads (%r)" % (count, more)
    check_alive(d, (a, b))


def test_abrupt_disconnects():
    d = daemon()
    a, b = d.attach(d.vms_port), d.attach(d.vms_port)

    def rst(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()

    for i in range(8):
        # before reading the greeting
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.qmp_path)
        s.close()
        # in the middle of a message
        c = connect(d)
        c.send_raw(b'{"execute": "query-version", "arguments": {"a": "')
        c.close()
        # with a request whose (large) answer cannot be delivered
        c = connect(d)
        c.send(QMPClient.request("query-qmp-schema"))
        c.send(QMPClient.request("query-qmp-schema"))
        c.close()
        # during negotiation, with a reset
        c = connect(d, negotiate=False)
        c.send_raw(b'{"execute": "qmp_capabilities"')
        rst(c.sock)
        # over TCP-like reset on a unix socket after a burst of requests
        c = connect(d)
        c.send_raw(b'{"execute": "query-commands"}' * 50)
        rst(c.sock)
    # while an event is being delivered
    c = connect(d)
    p = TcpPeer(d.vms_port)
    c.close()
    p.close()
    check_alive(d, (a, b))
    c = connect(d)
    p = TcpPeer(d.vms_port)
    c.wait_event("NETDEV_STREAM_CONNECTED")


# ---------------------------------------------------------------- -qmp option

def test_unix_socket_mode_0600_by_default():
    d = daemon()
    st = os.stat(d.qmp_path)
    assert stat.S_ISSOCK(st.st_mode), oct(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == os.geteuid()


def test_unix_socket_mode_option():
    d = daemon(qmp="mode=0660")
    st = os.stat(d.qmp_path)
    assert stat.S_ISSOCK(st.st_mode), oct(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
    connect(d)
    d2 = daemon(qmp="mode=0666")
    assert stat.S_IMODE(os.stat(d2.qmp_path).st_mode) == 0o666


def _other_group():
    for name in ("daemon", "nogroup", "users", "adm", "sys", "bin"):
        try:
            g = grp.getgrnam(name)
        except KeyError:
            continue
        if g.gr_gid != os.getegid():
            return g
    raise AssertionError("no group other than ours in /etc/group")


def test_unix_socket_group_option():
    g = _other_group()
    d = daemon(qmp="mode=0660,group=%s" % g.gr_name)
    st = os.stat(d.qmp_path)
    assert st.st_gid == g.gr_gid, (st.st_gid, g)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
    connect(d)


def test_tcp_listener():
    port = free_port()
    p = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p,
                "-qmp", "tcp:127.0.0.1:%d,server=on,wait=off" % port).start()
    c = poll(lambda: _try_connect(("127.0.0.1", port)), 10,
             what="QMP on tcp port %d" % port)
    nethub.at_cleanup(c.close)
    assert "QMP" in c.greeting
    assert_ok(c.negotiate(), {})
    assert_ok(c.execute("query-version", id=1), id=1)
    c2 = QMPClient.connect(("127.0.0.1", port), negotiate=True)
    nethub.at_cleanup(c2.close)
    peer = TcpPeer(p)
    c.wait_event("NETDEV_STREAM_CONNECTED")
    c2.wait_event("NETDEV_STREAM_CONNECTED")
    peer.close()
    assert not re.search(r"\bwarn", d.log()), d.log()


def _try_connect(addr):
    try:
        return QMPClient.connect(addr, timeout=2)
    except (OSError, AssertionError):
        return None


def test_tcp_on_non_loopback_needs_remote_on():
    port = free_port()
    p = free_port()
    # without the opt-in: exit 1, one line naming the option
    for host in ("0.0.0.0", "[::]"):
        rc, out, err = run_cli("-netdev", "socket,id=vms,listen=127.0.0.1:%d"
                               % p, "-qmp", "tcp:%s:%d" % (host, port),
                               io=True, timeout=10)
        assert rc == 1, (rc, out, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "remote=on" in err and host in err, err
        assert _try_connect(("127.0.0.1", port)) is None
    # with it: served, and the log warns
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p,
                "-qmp", "tcp:0.0.0.0:%d,remote=on" % port).start()
    c = poll(lambda: _try_connect(("127.0.0.1", port)), 10,
             what="QMP on tcp port %d" % port)
    nethub.at_cleanup(c.close)
    assert_ok(c.negotiate(), {})
    log = poll(lambda: re.search(r"\bwarn.*(0\.0\.0\.0|%d)" % port,
                                 d.log()) and d.log(), 5,
               what="a warning naming the address")
    assert re.search(r"\bwarn", log), log


def test_two_qmp_sockets():
    p = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p,
                qmp=True)
    second = os.path.join(d.dir, "second.sock")
    d.args[1:1] = ["-qmp", "unix:%s" % second]
    d.start()
    poll(lambda: os.path.exists(second), 10, what=second)
    c1 = connect(d)
    c2 = QMPClient.connect(second, negotiate=True)
    nethub.at_cleanup(c2.close)
    assert_ok(c1.execute("query-version", id=1), id=1)
    assert_ok(c2.execute("query-version", id=2), id=2)
    # both get events
    peer = TcpPeer(p)
    c1.wait_event("NETDEV_STREAM_CONNECTED")
    c2.wait_event("NETDEV_STREAM_CONNECTED")
    peer.close()
    assert stat.S_IMODE(os.stat(second).st_mode) == 0o600
    assert d.stop() == 0
    assert not os.path.exists(second)
    assert not os.path.exists(d.qmp_path)


def test_socket_removed_at_sigterm_and_sigint():
    for sig in (signal.SIGTERM, signal.SIGINT):
        d = daemon()
        c = connect(d)
        assert os.path.exists(d.qmp_path)
        assert d.stop(sig) == 0
        assert not os.path.exists(d.qmp_path), \
            "%s left after %s" % (d.qmp_path, sig.name)
        c.expect_eof()


def test_stale_socket_file_replaced():
    p = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p,
                qmp=True)
    # a socket file nobody listens on, as a crashed daemon leaves it
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.qmp_path)
    s.close()
    assert stat.S_ISSOCK(os.stat(d.qmp_path).st_mode)
    d.start()
    c = connect(d)
    assert_ok(c.execute("query-version", id=1), id=1)


def test_live_socket_and_other_files_not_taken_over():
    d = daemon()
    c = connect(d)
    # a second daemon on the same path must fail, leaving the first alone
    p = free_port()
    rc, out, err = run_cli("-netdev", "socket,id=x,listen=127.0.0.1:%d" % p,
                           "-qmp", "unix:%s" % d.qmp_path, io=True)
    assert rc == 1, (rc, out, err)
    assert d.qmp_path in err, err
    assert_ok(c.execute("query-version", id=1), id=1)
    c2 = connect(d)
    assert_ok(c2.execute("query-version", id=2), id=2)
    # a regular file is never replaced
    path = os.path.join(d.dir, "regular")
    with open(path, "w") as f:
        f.write("keep me\n")
    rc, out, err = run_cli("-netdev", "socket,id=x,listen=127.0.0.1:%d" % p,
                           "-qmp", "unix:%s" % path, io=True)
    assert rc == 1, (rc, out, err)
    assert path in err, err
    with open(path) as f:
        assert f.read() == "keep me\n"


BAD_QMP = [
    # value, words of which the error must contain one
    ("", ("-qmp", "empty")),
    ("unix:", ("path", "empty")),
    ("foo:/tmp/x", ("foo",)),
    ("/tmp/no-scheme.sock", ("/tmp/no-scheme.sock", "unix:", "tcp:")),
    ("unix:{dir}/bad.sock,bogus=1", ("bogus",)),
    ("unix:{dir}/bad.sock,wait=on", ("wait",)),
    ("unix:{dir}/bad.sock,server=off", ("server",)),
    ("unix:{dir}/bad.sock,mode=999", ("mode", "999")),
    ("unix:{dir}/bad.sock,mode=abc", ("mode", "abc")),
    ("unix:{dir}/bad.sock,mode=", ("mode",)),
    ("unix:{dir}/bad.sock,group=no-such-group-xyz",
     ("no-such-group-xyz",)),
    ("unix:/no/such/dir/qmp.sock", ("/no/such/dir/qmp.sock",)),
    ("unix:/tmp/" + "x" * 200 + ".sock", ("long",)),
    ("tcp:127.0.0.1", ("port",)),
    ("tcp:127.0.0.1:", ("port",)),
    ("tcp:127.0.0.1:99999", ("99999",)),
    ("tcp:127.0.0.1:no-such-service", ("no-such-service",)),
    ("tcp:127.0.0.1:4444,mode=0600", ("mode",)),
    ("tcp:127.0.0.1:4444,group=root", ("group",)),
    ("tcp:no-such-host.invalid:4444", ("no-such-host.invalid",)),
    ("tcp:0.0.0.0:4444", ("remote=on",)),
    ("tcp:0.0.0.0:4444,remote=maybe", ("remote", "maybe")),
    ("unix:{dir}/bad.sock,remote=on", ("remote",)),
]


def test_bad_qmp_values_exit_1_naming_the_problem():
    p = free_port()
    tmp = nethub.tmpdir()
    bad = []
    for value, words in BAD_QMP:
        value = value.replace("{dir}", tmp)
        try:
            rc, out, err = run_cli("-netdev",
                                   "socket,id=x,listen=127.0.0.1:%d" % p,
                                   "-qmp", value, io=True, timeout=10)
        except AssertionError as e:
            bad.append("-qmp %r: %s" % (value, e))
            continue
        lines = err.strip().splitlines()
        if rc != 1 or len(lines) != 1 or \
                not any(w.lower() in err.lower() for w in words):
            bad.append("-qmp %r: status %d, stderr %r (want 1 and one line "
                       "naming one of %r)" % (value, rc, err, words))
    assert not bad, "\n".join(bad)


def test_bad_qmp_limit_options_exit_1_naming_them():
    p = free_port()
    for opt, value in (("--qmp-max-sessions", "0"),
                       ("--qmp-max-sessions", "many"),
                       ("--qmp-max-sessions", "-1"),
                       ("--qmp-max-sessions", "65537"),
                       ("--qmp-handshake-timeout", "x"),
                       ("--qmp-handshake-timeout", "1.5"),
                       ("--qmp-handshake-timeout", "86401")):
        rc, out, err = run_cli("-netdev", "socket,id=x,listen=127.0.0.1:%d"
                               % p, opt, value, io=True, timeout=10)
        assert rc == 1, (opt, value, rc, err)
        assert opt in err and value in err, err
        assert len(err.strip().splitlines()) == 1, err


def test_tcp_port_in_use_exits_1():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    nethub.at_cleanup(s.close)
    port = s.getsockname()[1]
    p = free_port()
    rc, out, err = run_cli("-netdev", "socket,id=x,listen=127.0.0.1:%d" % p,
                           "-qmp", "tcp:127.0.0.1:%d" % port, io=True)
    assert rc == 1, (rc, out, err)
    assert str(port) in err, err


def _stops_cleanly(fn):
    """After @fn passed, every daemon it left running must stop cleanly on
    SIGTERM (exit status 0; under ASan no leak or error report)."""
    @functools.wraps(fn)
    def test():
        fn()
        for item in list(nethub._live):
            if isinstance(item, Nethubd) and item.alive():
                item.stop_clean()
    return test


# every test of this file ends with that check (same names, same order)
for _name, _fn in list(globals().items()):
    if _name.startswith("test_") and callable(_fn):
        globals()[_name] = _stops_cleanly(_fn)

if __name__ == "__main__":
    nethub.main(globals())
