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
import time

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


def test_backend_the_host_lacks_is_refused_saying_what_it_needs():
    p = free_port()
    have = os.path.exists("/dev/netmap")
    expect_refused(["-netdev", listen_spec(p), "-netdev", "netmap,id=l"],
                   "network backend 'netmap': this host has" if have else
                   "network backend 'netmap' needs the netmap kernel module "
                   "(/dev/netmap), which this host lacks", ports=[p])


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


def test_default_config_with_port_5555_busy_names_the_default_config():
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 5555))
        except OSError:
            raise AssertionError("127.0.0.1:5555 is in use by another "
                                 "process; the default configuration "
                                 "cannot be tested")
        s.listen()
        line = expect_refused(["--no-state"], "the default configuration",
                              "without -netdev or --config", "5555",
                              "Address already in use")
    assert "-netdev socket" not in line, line


def _signal_stops_cleanly(sig):
    """@sig stops nethubd with status 0: its peer sees EOF, the listen
    port is closed, the pidfile and the QMP socket file are gone."""
    p = free_port()
    d = Nethubd("-netdev", listen_spec(p), qmp=True).start()
    a = d.attach(p)
    assert d.qmp_cmd("query-netdevs"), "no netdevs before the signal"
    rc = d.stop(sig)
    name = signal.Signals(sig).name
    assert rc == 0, "exit status %d after %s:\n%s" % (rc, name, d.log())
    assert not os.path.exists(d.pidfile), "pidfile left after %s" % name
    assert not os.path.exists(d.qmp_path), \
        "QMP socket %s left after %s" % (d.qmp_path, name)
    a.expect_eof()
    assert not nethub.tcp_listening(p), "still listening after %s" % name
    assert "shutting down" in d.stderr(), \
        "no shutdown line after %s:\n%s" % (name, d.log())


def test_sigterm_shuts_down_cleanly():
    _signal_stops_cleanly(signal.SIGTERM)


def test_sigint_shuts_down_cleanly():
    _signal_stops_cleanly(signal.SIGINT)


def test_sigquit_shuts_down_cleanly():
    _signal_stops_cleanly(signal.SIGQUIT)


def _signal_keeps_running(sig, words):
    """@sig is logged (a line with all of @words) and changes nothing:
    nethubd still forwards, answers QMP and keeps its pidfile."""
    p = free_port()
    d = Nethubd("-netdev", listen_spec(p), qmp=True).start()
    a = d.attach(p)
    b = d.attach(p)
    c = d.qmp()
    name = signal.Signals(sig).name
    d.send_signal(sig)
    if words:
        nethub.poll(lambda: any(all(w in ln for w in words)
                                for ln in d.stderr().splitlines())
                    or d._died(), 10, what="the log line for %s" % name)
    else:
        # no log line to wait for: give a wrongly fatal signal time to act
        time.sleep(1.0)
    assert d.alive(), "nethubd died of %s:\n%s" % (name, d.log())
    assert "shutting down" not in d.stderr(), \
        "nethubd started shutting down after %s:\n%s" % (name, d.log())
    nds = c.cmd("query-netdevs")
    assert any(nd.get("id") == "vms" for nd in nds), \
        "query-netdevs after %s: %r" % (name, nds)
    assert d.qmp().cmd("query-netdevs") == nds, \
        "a new QMP client after %s sees other netdevs" % name
    f = a.send_frame(nethub.BROADCAST)
    nethub.assert_frame(b.expect_frame(), f, "b after %s" % name)
    assert d.read_pidfile() == d.pid, "pidfile changed after %s" % name
    assert d.stop() == 0
    assert not os.path.exists(d.pidfile), "pidfile not removed"
    assert not os.path.exists(d.qmp_path), "QMP socket not removed"


def test_sighup_is_logged_and_keeps_running():
    _signal_keeps_running(signal.SIGHUP, ("SIGHUP", "nothing to reload",
                                          "still running"))


def test_sigusr2_is_logged_and_keeps_running():
    _signal_keeps_running(signal.SIGUSR2, ("SIGUSR2", "ignored"))


def test_sigpipe_is_ignored():
    _signal_keeps_running(signal.SIGPIPE, ())


def test_sigint_while_shutting_down_still_cleans_up():
    # two signals in quick succession (an impatient ^C ^C): the second
    # arrives while the first one's shutdown runs and must not kill it
    p = free_port()
    d = Nethubd("-netdev", listen_spec(p), qmp=True).start()
    d.attach(p)
    for _ in range(20):
        try:
            d.send_signal(signal.SIGINT)
        except ProcessLookupError:
            break
    rc = d.wait_exit(20)
    assert rc == 0, "exit status %d after repeated SIGINT:\n%s" % (
        rc, d.log())
    assert not os.path.exists(d.pidfile), "pidfile left"
    assert not os.path.exists(d.qmp_path), "QMP socket left"


def _pidfile_text(path):
    with open(path) as f:
        return f.read()


def test_second_daemon_with_same_pidfile_refuses_and_disturbs_nothing():
    p, q = free_port(), free_port()
    first = Nethubd("-netdev", listen_spec(p), qmp=True).start()
    a = first.attach(p)
    b = first.attach(p)
    before = _pidfile_text(first.pidfile)
    st = os.stat(first.pidfile)
    # the same pidfile and even the same QMP socket path: the second one
    # must stop before it opens anything
    rc, out, err = run_cli("-netdev", listen_spec(q, "other"),
                           "-qmp", "unix:%s,server=on,wait=off"
                           % first.qmp_path,
                           "--pidfile", first.pidfile, io=True)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1, "second nethubd: exit status %d, want 1 (%r)" % (rc, err)
    assert len(lines) == 1, "want one stderr line, got %r" % err
    assert first.pidfile in lines[0] and str(first.pid) in lines[0], \
        "the error names neither the pidfile nor pid %d: %r" % (
            first.pid, lines[0])
    assert not nethub.tcp_listening(q), "second nethubd opened its netdev"
    assert _pidfile_text(first.pidfile) == before, "pidfile rewritten"
    st2 = os.stat(first.pidfile)
    assert (st2.st_ino, st2.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), \
        "pidfile replaced or touched by the second nethubd"
    assert first.alive(), "first nethubd died:\n" + first.log()
    assert os.path.exists(first.qmp_path), "first's QMP socket removed"
    assert first.qmp().cmd("query-netdevs"), "first's QMP does not answer"
    f = a.send_frame(nethub.BROADCAST)
    nethub.assert_frame(b.expect_frame(), f, "b")
    assert first.stop() == 0
    assert not os.path.exists(first.pidfile), "pidfile not removed"


def test_second_daemonized_nethubd_with_same_pidfile_refuses():
    p, q = free_port(), free_port()
    first = Nethubd("-netdev", listen_spec(p)).start()
    before = _pidfile_text(first.pidfile)
    rc, out, err = run_cli("-netdev", listen_spec(q, "other"), "--daemonize",
                           "--pidfile", first.pidfile, io=True)
    assert rc == 1, "exit status %d, want 1 (%r)" % (rc, err)
    assert first.pidfile in err and str(first.pid) in err, \
        "the error names neither the pidfile nor the pid: %r" % err
    assert not nethub.tcp_listening(q), "second nethubd opened its netdev"
    assert _pidfile_text(first.pidfile) == before, "pidfile rewritten"
    assert first.alive(), "first nethubd died:\n" + first.log()
    assert first.stop() == 0


def test_stale_pidfile_is_taken_over():
    p = free_port()
    d = Nethubd("-netdev", listen_spec(p), qmp=True)
    # a pid that is not nethubd's and longer than the real one will be:
    # a left-over tail would show
    with open(d.pidfile, "w") as f:
        f.write("999999999\n")
    d.start()
    assert _pidfile_text(d.pidfile) == "%d\n" % d.pid, \
        "pidfile holds %r, want %d" % (_pidfile_text(d.pidfile), d.pid)
    assert d.qmp().cmd("query-netdevs"), "no QMP after taking over"
    assert d.stop() == 0
    assert not os.path.exists(d.pidfile), "pidfile not removed"


def test_pidfile_is_locked_while_running():
    import fcntl
    p = free_port()
    d = Nethubd("-netdev", listen_spec(p)).start()
    with open(d.pidfile, "r+") as f:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass
        else:
            raise AssertionError("the pidfile of a running nethubd is not "
                                 "locked")
    assert d.stop() == 0


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
