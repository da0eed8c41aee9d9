#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_cli.py - nethubd's command line: help and version, option errors,
the JSON and --config forms, the default configuration, signals,
--daemonize and the I/O engines (docs/usage.md)."""

import json
import os
import signal
import socket
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import Nethubd, free_port, run_cli  # noqa: E402


def listen_spec(port, nid="vms"):
    return "socket,id=%s,listen=127.0.0.1:%d" % (nid, port)


def expect_refused(args, *words, ports=(), log_level="warn"):
    """nethubd @args exits 1 with exactly one stderr line containing all
    @words, writes no pidfile and leaves none of @ports listening.  Runs
    with --log-level warn (unless told otherwise), so that informational
    logging does not count as output."""
    pidfile = os.path.join(nethub.tmpdir(), "pid")
    if log_level:
        args = list(args) + ["--log-level", log_level]
    rc, out, err = run_cli(*args, "--pidfile", pidfile)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    cmd = "nethubd " + " ".join(str(a) for a in args)
    assert rc == 1, "%s: exit status %d, want 1 (stderr %r)" % (cmd, rc, err)
    assert len(lines) == 1, ("%s: want one line on stderr, got %d: %r"
                             % (cmd, len(lines), err))
    for w in words:
        assert w in lines[0], ("%s: stderr %r does not contain %r"
                               % (cmd, lines[0], w))
    assert not os.path.exists(pidfile), "%s: pidfile written" % cmd
    for p in ports:
        assert not nethub.tcp_listening(p), "%s: port %d listening" % (cmd, p)
    return lines[0]


def test_help_prints_usage_and_exits_0():
    rc, out, err = run_cli("--help")
    assert rc == 0, "exit status %d (stderr %r)" % (rc, err)
    text = out + err
    for w in ("-netdev", "--config", "--io", "--pidfile", "--stats-file",
              "--daemonize", "--fdb-age", "-qmp unix:", "-qmp tcp:"):
        assert w in text, "--help does not mention %s:\n%s" % (w, text)
    assert "usage" in text.lower(), "no usage line:\n" + text


def test_version_prints_version_and_exits_0():
    rc, out, err = run_cli("--version")
    assert rc == 0, "exit status %d (stderr %r)" % (rc, err)
    assert "nethub" in out and "0.1" in out, "version output %r" % out


def test_bad_option_prints_exactly_one_stderr_line_at_default_log_level():
    p = free_port()
    expect_refused(["-netdev", listen_spec(p), "-netdev", "bogus,id=b"],
                   "'bogus'", ports=[p], log_level=None)


def test_bad_option_starts_no_netdev_before_refusing():
    # A connect= netdev before the bad one: had it been opened, the
    # listener would have a connection in its backlog.
    lst = nethub.TcpListener()
    expect_refused(["-netdev", "socket,id=up,connect=127.0.0.1:%d"
                    % lst.port, "-netdev", "socket,id=b,bogus=1"],
                   "Parameter 'bogus' is unexpected")
    lst.sock.settimeout(1.0)
    try:
        s, peer = lst.sock.accept()
    except OSError:
        return
    s.close()
    raise AssertionError("netdev 'up' was started (it connected from %s) "
                         "although the command line was refused" % (peer,))


def test_unknown_command_line_option_is_refused():
    expect_refused(["--bogus-option"], "--bogus-option")


def test_unknown_netdev_type_is_refused():
    p = free_port()
    expect_refused(["-netdev", listen_spec(p), "-netdev", "bogus,id=b"],
                   "'bogus'", ports=[p])


def test_backend_not_built_is_refused_with_qemus_message():
    p = free_port()
    expect_refused(["-netdev", listen_spec(p), "-netdev",
                    "l2tpv3,id=l,src=127.0.0.1,dst=127.0.0.1,udp=on,"
                    "srcport=1701,dstport=1702,txsession=1"],
                   "network backend 'l2tpv3' is not compiled into this "
                   "binary", ports=[p])


def test_unknown_parameter_is_refused():
    p = free_port()
    expect_refused(["-netdev", listen_spec(p) + ",bogus=1"],
                   "Parameter 'bogus' is unexpected", ports=[p])


def test_missing_id_is_refused():
    p = free_port()
    expect_refused(["-netdev", "socket,listen=127.0.0.1:%d" % p],
                   "Parameter 'id' is missing", ports=[p])


def test_bad_id_is_refused():
    p = free_port()
    expect_refused(["-netdev", listen_spec(p, "1abc")],
                   "Parameter 'id' expects an identifier", ports=[p])


def test_duplicate_id_is_refused_and_first_netdev_not_left_running():
    p, q = free_port(), free_port()
    expect_refused(["-netdev", listen_spec(p, "a"),
                    "-netdev", listen_spec(q, "a")],
                   "Duplicate ID 'a'", ports=[p, q])


def test_listen_port_in_use_is_refused():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    nethub.at_cleanup(s.close)
    p = s.getsockname()[1]
    line = expect_refused(["-netdev", listen_spec(p)])
    assert "in use" in line.lower() or "listen" in line, \
        "message does not say why: %r" % line


def test_bad_io_value_is_refused():
    p = free_port()
    line = expect_refused(["-netdev", listen_spec(p), "--io", "bogus"],
                          "bogus", ports=[p])
    assert "--io" in line or "io" in line.split("bogus")[0], \
        "message does not name --io: %r" % line


def test_bad_fdb_age_is_refused():
    p = free_port()
    expect_refused(["-netdev", listen_spec(p), "--fdb-age", "abc"],
                   "--fdb-age", "abc", ports=[p])
    expect_refused(["-netdev", listen_spec(p), "--fdb-age", "-5"],
                   "--fdb-age", ports=[p])


def test_json_netdev_form_works():
    p = free_port()
    spec = json.dumps({"type": "socket", "id": "vms",
                       "listen": "127.0.0.1:%d" % p})
    d = Nethubd("-netdev", spec).start()
    assert nethub.tcp_listening(p), "port %d not listening" % p
    st = d.state()
    nd = nethub.netdev(st, "vms")
    assert nd and nd["type"] == "socket", "netdev vms: %r" % nd
    assert nd["options"].get("listen") == "127.0.0.1:%d" % p, nd["options"]
    a = d.attach(p)
    b = d.attach(p)
    f = a.send_frame(nethub.BROADCAST)
    nethub.assert_frame(b.expect_frame(), f, "b")


def test_comma_comma_escapes_a_comma_in_a_value():
    # With ",," an escaped comma, "bogus=1" is part of the listen value,
    # not a parameter of its own: the error is about listen's value.
    p = free_port()
    rc, out, err = run_cli("-netdev", listen_spec(p) + ",,bogus=1")
    assert rc == 1, "exit status %d, want 1 (%r)" % (rc, err)
    assert "Parameter 'bogus' is unexpected" not in err, \
        "',,' was taken as a separator: %r" % err
    assert ",bogus=1" in err or "listen" in err, \
        "error does not name the listen value: %r" % err


def test_config_file_with_json_array_works():
    p, q = free_port(), free_port()
    path = os.path.join(nethub.tmpdir(), "nethub.json")
    with open(path, "w") as f:
        json.dump([{"type": "socket", "id": "a",
                    "listen": "127.0.0.1:%d" % p},
                   {"type": "socket", "id": "b",
                    "listen": "127.0.0.1:%d" % q}], f, indent=2)
    d = Nethubd("--config", path).start()
    st = d.state()
    for nid in ("a", "b"):
        assert nethub.netdev(st, nid), "netdev %s missing: %r" % (nid, st)
    a = d.attach(p, netdev="a")
    b = d.attach(q, netdev="b")
    f = a.send_frame(nethub.BROADCAST)
    nethub.assert_frame(b.expect_frame(), f, "b")


def test_malformed_config_file_is_refused_naming_file_and_line():
    p = free_port()
    path = os.path.join(nethub.tmpdir(), "bad.json")
    with open(path, "w") as f:
        f.write('[\n  {"type": "socket", "id": "vms",\n'
                '   "listen": "127.0.0.1:%d",, }\n]\n' % p)
    line = expect_refused(["--config", path], path, ports=[p])
    assert "line 3" in line or ":3:" in line or " 3" in line, \
        "message does not name line 3: %r" % line


def test_config_element_not_an_object_is_refused():
    path = os.path.join(nethub.tmpdir(), "notobj.json")
    with open(path, "w") as f:
        f.write('[1]\n')
    expect_refused(["--config", path], path)


def default_qmp_path():
    """Where nethubd's default configuration puts its QMP socket"""
    if os.geteuid() == 0:
        run = "/run/nethub"
    elif os.environ.get("XDG_RUNTIME_DIR"):
        run = os.path.join(os.environ["XDG_RUNTIME_DIR"], "nethub")
    else:
        run = "/tmp/nethub-%d" % os.geteuid()
    return os.path.join(run, "qmp.sock")


def test_no_netdev_starts_default_config_on_port_5555():
    if not nethub.tcp_port_free(5555):
        raise AssertionError("127.0.0.1:5555 is in use by another process; "
                             "the default configuration cannot be tested")
    qmp = default_qmp_path()
    d = Nethubd().start()
    assert nethub.tcp_listening(5555), "default config not listening on 5555"
    nd = nethub.netdev(d.state(), "vms")
    assert nd and nd["type"] == "socket", "default netdev: %r" % nd
    assert nd["options"].get("listen") == "127.0.0.1:5555", nd["options"]
    st = os.stat(qmp)
    assert stat.S_ISSOCK(st.st_mode), "%s is not a socket" % qmp
    assert stat.S_IMODE(st.st_mode) == 0o600, "%s mode %o" % (
        qmp, stat.S_IMODE(st.st_mode))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(qmp)
        greeting = json.loads(c.makefile("rb").readline())
    assert "QMP" in greeting, "no QMP greeting: %r" % greeting
    assert d.stop() == 0
    assert not os.path.exists(qmp), "%s left behind" % qmp
    text = d.stdout() + d.stderr()
    assert "connect=127.0.0.1:5555" in text, \
        "no hint how to attach a VM:\n" + text
    assert qmp in text, "the QMP socket is not printed:\n" + text


def _signal_stops_cleanly(sig):
    p = free_port()
    d = Nethubd("-netdev", listen_spec(p)).start()
    a = d.attach(p)
    rc = d.stop(sig)
    assert rc == 0, "exit status %d after %s:\n%s" % (
        rc, signal.Signals(sig).name, d.log())
    assert not os.path.exists(d.pidfile), "pidfile not removed"
    a.expect_eof()
    assert not nethub.tcp_listening(p), "still listening"


def test_sigterm_shuts_down_cleanly():
    _signal_stops_cleanly(signal.SIGTERM)


def test_sigint_shuts_down_cleanly():
    _signal_stops_cleanly(signal.SIGINT)


def test_daemonize_detaches_writes_pidfile_and_serves():
    p = free_port()
    d = Nethubd("-netdev", listen_spec(p), "--daemonize")
    d.start(wait=False)
    rc = d.wait_exit(30)
    assert rc == 0, "foreground process exit status %d:\n%s" % (rc, d.log())
    d.wait_ready(daemonized=True)
    assert d.daemon_pid != d.proc.pid, "pidfile names the foreground process"
    a = d.attach(p)
    b = d.attach(p)
    f = a.send_frame(nethub.BROADCAST)
    nethub.assert_frame(b.expect_frame(), f, "b")
    d.stop()
    assert not os.path.exists(d.pidfile), "pidfile not removed"


def _io_engine_reported(engine, form):
    p = free_port()
    io_args = ["--io=" + engine] if form == "=" else ["--io", engine]
    d = Nethubd("-netdev", listen_spec(p), *io_args, io=False).start()
    st = d.state()
    assert st.get("io") == engine, "io %r, want %r" % (st.get("io"), engine)
    a = d.attach(p)
    b = d.attach(p)
    f = a.send_frame(nethub.BROADCAST)
    nethub.assert_frame(b.expect_frame(), f, "b")
    g = b.send_frame(a.mac)
    nethub.assert_frame(a.expect_frame(), g, "a")
    assert d.stop() == 0


def test_io_uring_works_and_is_reported():
    _io_engine_reported("uring", "=")


def test_io_epoll_works_and_is_reported():
    _io_engine_reported("epoll", " ")


if __name__ == "__main__":
    nethub.main(globals())
