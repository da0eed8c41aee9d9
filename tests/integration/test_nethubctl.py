#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_nethubctl.py - nethubctl end to end (docs/nethubctl.md).

Against the real daemon: one-shot commands with KEY=VALUE typed from the
server's schema, the --json form, exit statuses and messages, the show /
fdb / events / top views after real traffic.  Against a scripted QMP server
(FakeQMP, below): what nethubd cannot be made to do on demand — events
before a reply, messages split and joined without newlines, silence,
hang-ups, a missing schema.

The client is $NETHUBCTL (default build/ctl/nethubctl, like $NETHUBD).
"""

import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import BROADCAST, Nethubd, free_port, poll  # noqa: E402

CTL_TIMEOUT = 30            # s a nethubctl run may take in a test


def ctl_path():
    path = os.environ.get("NETHUBCTL", "build/ctl/nethubctl")
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(nethub.REPO, path)


def ctl_argv(sock, args):
    argv = [ctl_path()]
    if sock is not None:
        argv += ["-s", sock]
    return argv + [str(a) for a in args]


def ctl(sock, *args, env=None, stdin=None, timeout=CTL_TIMEOUT, cwd=None):
    """Run nethubctl to completion: (status, stdout, stderr)."""
    argv = ctl_argv(sock, args)
    full_env = dict(os.environ)
    full_env.pop("NETHUB_QMP", None)
    full_env.update(env or {})
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True,
                           text=True, timeout=timeout, env=full_env,
                           cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s still running after %ds (stderr %r)"
                             % (" ".join(argv), timeout, e.stderr))
    return p.returncode, p.stdout, p.stderr


def ok(sock, *args, **kw):
    """nethubctl succeeds; its stdout parsed as JSON."""
    rc, out, err = ctl(sock, *args, **kw)
    assert rc == 0, ("nethubctl %s: exit %d, stderr %r"
                     % (" ".join(map(str, args)), rc, err))
    assert err == "", "nethubctl %s: stderr %r" % (args, err)
    return json.loads(out)


def fails(sock, status, *args, want=(), **kw):
    """nethubctl exits @status, prints nothing on stdout and one stderr
    line containing every string of @want; returns that line."""
    rc, out, err = ctl(sock, *args, **kw)
    cmd = "nethubctl " + " ".join(map(str, args))
    assert rc == status, "%s: exit %d, want %d (stderr %r)" % (cmd, rc,
                                                               status, err)
    assert out == "", "%s: stdout %r" % (cmd, out)
    lines = err.splitlines()
    assert len(lines) == 1, "%s: want one stderr line, got %r" % (cmd, err)
    for w in want:
        assert w in lines[0], "%s: stderr %r lacks %r" % (cmd, lines[0], w)
    return lines[0]


def daemon(*netdevs):
    """nethubd serving QMP, with the netdevs given as -netdev SPEC (by
    default one listening socket "vms" on a free port)."""
    args = []
    for spec in netdevs or [listen_spec(free_port())]:
        args += ["-netdev", spec]
    return Nethubd(*args, qmp=True).start()


def listen_spec(port, nid="vms"):
    return "socket,id=%s,listen=127.0.0.1:%d" % (nid, port)


def netdev_of(netdevs, nid):
    for nd in netdevs:
        if nd["id"] == nid:
            return nd
    return None


def learned(d, *macs, hub=0):
    """Wait until every MAC of @macs is in hub @hub's query-fdb answer."""
    def have():
        tables = d.qmp_cmd("query-fdb", {"hubid": hub})
        got = {e["mac"] for t in tables for e in t["entries"]}
        return set(macs) <= got
    poll(have, 10, what="MACs %s learned on hub %d" % (macs, hub))


# ------------------------------------------------------ one-shot commands

def test_query_version_prints_the_return_as_indented_json():
    d = daemon()
    rc, out, err = ctl(d.qmp_path, "query-version")
    assert rc == 0 and err == "", "exit %d, stderr %r" % (rc, err)
    assert json.loads(out) == d.qmp_cmd("query-version")
    assert out.startswith("{\n  \"") and out.endswith("}\n"), \
        "not 2-space indented JSON: %r" % out


def test_netdev_add_with_key_values_then_query_netdevs_shows_it():
    d = daemon()
    p = free_port()
    assert ok(d.qmp_path, "netdev_add", "type=socket", "id=s1",
              "listen=127.0.0.1:%d" % p) == {}
    nd = netdev_of(ok(d.qmp_path, "query-netdevs"), "s1")
    assert nd is not None, "s1 not in query-netdevs"
    assert nd["type"] == "socket"
    assert nd["options"]["listen"] == "127.0.0.1:%d" % p, nd["options"]
    assert nethub.tcp_listening(p), "s1 does not listen on %d" % p


def test_netdev_del_removes_it_and_a_second_del_is_device_not_found():
    p = free_port()
    d = daemon(listen_spec(p, "s1"))
    assert ok(d.qmp_path, "netdev_del", "id=s1") == {}
    assert netdev_of(ok(d.qmp_path, "query-netdevs"), "s1") is None
    poll(lambda: not nethub.tcp_listening(p), 5, what="port %d closed" % p)
    fails(d.qmp_path, 1, "netdev_del", "id=s1",
          want=["error: DeviceNotFound: Device 's1' not found"])


def test_set_link_takes_every_boolean_spelling():
    p = free_port()
    d = daemon(listen_spec(p))
    for word, up in (("off", False), ("on", True), ("no", False),
                     ("yes", True), ("false", False), ("true", True)):
        assert ok(d.qmp_path, "set_link", "name=vms", "up=" + word) == {}
        nd = netdev_of(d.qmp_cmd("query-netdevs"), "vms")
        assert nd["link"] is up, "up=%s: link %r" % (word, nd["link"])


def test_integer_values_are_typed_decimal_or_hex():
    d = daemon()
    ok(d.qmp_path, "netdev_add", "type=hubport", "id=h2", "hubid=0x2")
    ok(d.qmp_path, "netdev_add", "type=hubport", "id=h7", "hubid=7")
    hubs = {h["id"] for h in d.qmp_cmd("query-hubs")}
    assert {2, 7} <= hubs, "hubs %s" % sorted(hubs)
    req = ok(d.qmp_path, "--dry-run", "netdev_add", "type=hubport", "id=h",
             "hubid=-0x10")
    assert req == {"execute": "netdev_add", "arguments": {
        "type": "hubport", "id": "h", "hubid": -16}}, req
    fails(d.qmp_path, 2, "netdev_add", "type=hubport", "id=h", "hubid=two",
          want=["nethubctl: netdev_add: 'hubid' expects an integer",
                "'two'"])
    fails(d.qmp_path, 2, "set_link", "name=x", "up=maybe",
          want=["nethubctl: set_link: 'up' expects on/off", "'maybe'"])


def test_nested_keys_build_objects_inside_lists():
    d = daemon()
    req = ok(d.qmp_path, "-n", "netdev_add", "type=user", "id=u",
             "dnssearch.0.str=a.example", 'dnssearch.1={"str": "b.example"}')
    assert req["arguments"] == {
        "type": "user", "id": "u",
        "dnssearch": [{"str": "a.example"}, {"str": "b.example"}]}, req
    fails(d.qmp_path, 2, "netdev_add", "type=user", "id=u",
          "dnssearch.0.bogus=1",
          want=["unknown argument 'dnssearch.0.bogus' (members of "
                "'dnssearch.0': str)"])
    fails(d.qmp_path, 2, "netdev_add", "type=user", "id=u",
          "dnssearch.0=a.example",
          want=["'dnssearch.0' is an object", "dnssearch.0.MEMBER=VALUE"])
    # the server takes the shape; its answer is about the backend
    fails(d.qmp_path, 1, "netdev_add", "type=user", "id=u",
          "dnssearch.0.str=a.example",
          want=["error: GenericError: network backend 'user' is not "
                "compiled into this binary"])


def test_lists_from_indexes_repeated_keys_or_json_text():
    d = daemon()
    want = {"interfaces": ["vms", "lab"]}
    for words in (["interfaces.0=vms", "interfaces.1=lab"],
                  ["interfaces=vms", "interfaces=lab"],
                  ['interfaces=["vms", "lab"]']):
        req = ok(d.qmp_path, "-n", "announce-self", *words)
        assert req["arguments"] == want, "%s: %r" % (words, req)
    req = ok(d.qmp_path, "-n", "netdev_add", "type=user", "id=u",
             "dnssearch.0.str=a.example", "dnssearch.1.str=b.example")
    assert req["arguments"]["dnssearch"] == [{"str": "a.example"},
                                             {"str": "b.example"}], req
    fails(d.qmp_path, 2, "announce-self", "interfaces.1=vms",
          want=["'interfaces.1'", "numbered from 0 without gaps"])


def test_unknown_command_exits_1_with_command_not_found():
    d = daemon()
    for args in (["no-such-command"], ["no-such-command", "a=1"]):
        fails(d.qmp_path, 1, *args,
              want=["error: CommandNotFound: The command no-such-command "
                    "has not been found"])


def test_arguments_the_server_refuses_exit_1_with_its_text():
    p = free_port()
    d = daemon(listen_spec(p))
    fails(d.qmp_path, 1, "netdev_add", "type=socket", "id=vms",
          "listen=127.0.0.1:%d" % free_port(),
          want=["error: GenericError: Duplicate ID 'vms'"])
    fails(d.qmp_path, 1, "netdev_add", "type=bogus", "id=x", "listen=:1",
          want=["error: GenericError: Parameter 'type' does not accept "
                "value 'bogus'"])
    fails(d.qmp_path, 1, "set_link", "name=nosuch", "up=on",
          want=["error: DeviceNotFound: Device 'nosuch' not found"])
    fails(d.qmp_path, 1, "netdev_add", "id=x",
          want=["error: GenericError: Parameter 'type' is missing"])


def test_unknown_key_exits_2_listing_the_arguments():
    d = daemon()
    line = fails(d.qmp_path, 2, "netdev_add", "type=socket", "id=s1",
                 "listen=127.0.0.1:%d" % free_port(), "x=1",
                 want=["nethubctl: netdev_add: unknown argument 'x' "
                       "(arguments: "])
    for member in ("id", "type", "listen", "connect", "mcast"):
        assert re.search(r"[(, ]%s[,)]" % member, line), line
    assert netdev_of(d.qmp_cmd("query-netdevs"), "s1") is None
    fails(d.qmp_path, 2, "query-version", "x=1",
          want=["unknown argument 'x'", "takes no arguments"])
    fails(d.qmp_path, 2, "set_link", "name",
          want=["expected KEY=VALUE, got 'name'"])


def test_no_server_exits_2_naming_the_socket():
    path = os.path.join(nethub.tmpdir(), "nothing.sock")
    fails(path, 2, "query-version",
          want=["cannot connect to %s" % path, "No such file"])
    port = free_port()
    fails("tcp:127.0.0.1:%d" % port, 2, "query-version",
          want=["cannot connect to tcp:127.0.0.1:%d" % port, "refused"])
    fails("tcp:nonsense", 2, "query-version", want=["tcp:HOST:PORT"])


def test_tcp_sockets_work_like_unix_ones():
    port = free_port()
    d = Nethubd("-qmp", "tcp:127.0.0.1:%d,server=on,wait=off" % port,
                "-netdev", listen_spec(free_port()), qmp=True).start()
    poll(lambda: nethub.tcp_listening(port), 10, what="QMP on TCP")
    assert ok("tcp:127.0.0.1:%d" % port, "query-version") == \
        d.qmp_cmd("query-version")
    ok("tcp:127.0.0.1:%d" % port, "set_link", "name=vms", "up=off")
    assert netdev_of(d.qmp_cmd("query-netdevs"), "vms")["link"] is False


def test_default_socket_comes_from_nethub_qmp():
    d = daemon()
    assert ok(None, "query-version",
              env={"NETHUB_QMP": d.qmp_path})["qemu"]["major"] >= 0
    # without it: the daemon's default run directory, named in the error
    want = "/run/nethub/qmp.sock" if os.geteuid() == 0 else "/nethub/"
    rc, out, err = ctl(None, "query-version",
                       env={"XDG_RUNTIME_DIR": nethub.tmpdir()})
    if rc != 0:
        assert rc == 2 and want in err and "NETHUB_QMP" in err, (rc, err)


def test_usage_errors_exit_2():
    d = daemon()
    rc, out, err = ctl(d.qmp_path)
    assert rc == 2 and "no command" in err, (rc, err)
    fails(d.qmp_path, 2, "--timeout", "soon", "query-version",
          want=["--timeout expects a number of seconds", "'soon'"])
    fails(d.qmp_path, 2, "fdb", "zero", want=["fdb: HUB", "'zero'"])
    fails(d.qmp_path, 2, "top", "--interval", "0",
          want=["top --interval"])
    fails(d.qmp_path, 2, "events", "--count", "-1",
          want=["events --count"])
    fails(d.qmp_path, 2, "show", "extra", want=["unexpected 'extra'"])


def test_json_form_sends_the_request_as_given():
    p = free_port()
    d = daemon(listen_spec(p))
    assert ok(d.qmp_path, "--json", '{"execute": "query-version"}') == \
        d.qmp_cmd("query-version")
    ok(d.qmp_path, "--json", json.dumps({
        "execute": "set_link", "arguments": {"name": "vms", "up": False},
        "id": "mine"}))
    assert netdev_of(d.qmp_cmd("query-netdevs"), "vms")["link"] is False
    ok(d.qmp_path, "--json", "-", stdin=json.dumps({
        "execute": "set_link", "arguments": {"name": "vms", "up": True}}))
    assert netdev_of(d.qmp_cmd("query-netdevs"), "vms")["link"] is True
    fails(d.qmp_path, 1, "--json",
          '{"execute": "netdev_del", "arguments": {"id": "nosuch"}}',
          want=["error: DeviceNotFound: Device 'nosuch' not found"])
    fails(d.qmp_path, 1, "--json",
          '{"execute": "set_link", "arguments": {"name": "vms", '
          '"up": "yes"}}',
          want=["error: GenericError: Invalid parameter type for 'up', "
                "expected: boolean"])
    fails(d.qmp_path, 2, "--json", '{"execute": ', want=["--json: bad JSON"])
    fails(d.qmp_path, 2, "--json", '[1]', want=["expected a QMP request"])
    fails(d.qmp_path, 2, "--json", '{"execute": "quit"}', "extra",
          want=["unexpected 'extra'"])


def test_help_names_every_command_and_option_and_version_prints():
    rc, out, err = ctl(None, "--help")
    assert rc == 0 and err == "", (rc, err)
    for w in ("show", "fdb [HUB]", "events", "--count", "--timeout",
              "--pretty", "--event", "top", "--interval", "--once",
              "--iterations", "--json", "--socket", "--dry-run",
              "tcp:HOST:PORT", "NETHUB_QMP", "KEY=VALUE", "--version"):
        assert w in out, "--help lacks %r:\n%s" % (w, out)
    rc, out, err = ctl(None, "--version")
    assert rc == 0 and re.match(r"nethubctl \d+\.\d+", out), (rc, out)


# ------------------------------------------------------------------ views

def two_peers(d, port):
    a = d.attach(port, mac="02:4e:48:00:0a:01")
    b = d.attach(port, mac="02:4e:48:00:0b:02")
    a.send_frame(BROADCAST)
    b.send_frame(a.mac)
    learned(d, a.mac, b.mac)
    return a, b


def show_hub(sock, hub):
    """nethubctl show: (the whole output, the block of hub @hub)."""
    rc, out, err = ctl(sock, "show")
    assert rc == 0 and err == "", (rc, err)
    for block in re.split(r"^(?=Hub |Not on a hub)", out, flags=re.M):
        if block.startswith("Hub %d\n" % hub):
            return out, block
    raise AssertionError("no hub %d in:\n%s" % (hub, out))


def show_port(block, name):
    """The indented lines of port @name in a hub's block."""
    m = re.search(r'^    Port "%s"[^\n]*\n((?:        .*\n)+)'
                  % re.escape(name), block, re.M)
    assert m, "no port %s in:\n%s" % (name, block)
    return m.group(1)


def test_show_lists_hubs_ports_links_and_mac_counts():
    p, q = free_port(), free_port()
    d = daemon(listen_spec(p), listen_spec(q, "lab"),
               "hubport,id=hp1,hubid=1,netdev=lab")
    a, b = two_peers(d, p)
    out, hub0 = show_hub(d.qmp_path, 0)
    assert "    MACs: 2\n" in hub0, hub0
    for peer in (a, b):
        lines = show_port(hub0, peer.port_name)
        for want in ("netdev: vms (socket, listen=127.0.0.1:%d)" % p,
                     "link: up", "peer: " + peer.addr, "MACs: 1", "mtu: "):
            assert want in lines, "%s lacks %r:\n%s" % (peer.port_name,
                                                        want, lines)
    # a listener nobody connected to has no ports but is shown, on the
    # hub its hubport put it on
    out, hub1 = show_hub(d.qmp_path, 1)
    assert 'Netdev "lab" (socket, listen=127.0.0.1:%d): no ports' % q in \
        hub1, out
    assert 'Netdev "hp1" (hubport, hubid=1, netdev=lab): no ports' in \
        hub1, out
    # link down: shown, and the port's learned MAC is gone
    ok(d.qmp_path, "set_link", "name=" + b.port_name, "up=off")
    out, hub0 = show_hub(d.qmp_path, 0)
    lines = show_port(hub0, b.port_name)
    assert "link: down" in lines and "MACs: 0" in lines, lines
    assert "    MACs: 1\n" in hub0, hub0


def test_fdb_shows_mac_vlan_port_age_static_per_hub():
    p = free_port()
    d = daemon(listen_spec(p), "hubport,id=h3,hubid=3")
    a, b = two_peers(d, p)
    a.send_frame(BROADCAST, src="02:4e:48:00:0c:03", vlan=5)
    learned(d, "02:4e:48:00:0c:03")
    for args in (["fdb"], ["fdb", "0"]):
        rc, out, err = ctl(d.qmp_path, *args)
        assert rc == 0 and err == "", (rc, err)
        lines = out.splitlines()
        assert lines[0] == "Hub 0", out
        assert lines[1].split() == ["MAC", "VLAN", "PORT", "AGE",
                                    "STATIC"], out
        rows = {ln.split()[0]: ln.split() for ln in lines[2:]
                if ln.startswith("  02:")}
        assert rows[a.mac][1:3] == ["0", a.port_name], rows
        assert rows[b.mac][1:3] == ["0", b.port_name], rows
        assert rows["02:4e:48:00:0c:03"][1:3] == ["5", a.port_name], rows
        for r in rows.values():
            assert r[3].isdigit() and r[4] == "no", r
        if args == ["fdb"]:
            assert "Hub 3\n  (no entries)" in out, out
        else:
            assert "Hub 3" not in out, out
    fails(d.qmp_path, 1, "fdb", "9",
          want=["error: GenericError: hub 9 does not exist"])


class EventsRun:
    """nethubctl events running in the background; waits until it has
    negotiated (its stderr line) before returning."""

    def __init__(self, sock, *args):
        self.proc = subprocess.Popen(ctl_argv(sock, ["events"] + list(args)),
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        nethub.at_cleanup(self.kill)
        r, _, _ = select.select([self.proc.stderr], [], [], 10)
        line = self.proc.stderr.readline() if r else ""
        assert "listening for events on %s" % sock in line, \
            "events did not start: %r" % line

    def finish(self, timeout=20):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("nethubctl events still running")
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def test_events_prints_a_peer_connecting_as_one_json_line():
    p = free_port()
    d = daemon(listen_spec(p))
    ev = EventsRun(d.qmp_path, "--count", "1", "--timeout", "20")
    peer = nethub.TcpPeer(p)
    rc, out, err = ev.finish()
    assert rc == 0, (rc, err)
    lines = out.splitlines()
    assert len(lines) == 1, out
    e = json.loads(lines[0])
    assert e["event"] == "NETDEV_STREAM_CONNECTED", e
    assert e["data"]["netdev-id"] == "vms.1", e
    assert e["data"]["addr"]["port"] == str(peer.local[1]) or \
        e["data"]["addr"]["port"] == peer.local[1], e
    assert set(e["timestamp"]) == {"seconds", "microseconds"}, e


def test_events_filters_by_name_and_pretty_prints():
    p = free_port()
    d = daemon(listen_spec(p))
    ev = EventsRun(d.qmp_path, "--event", "NETDEV_STREAM_DISCONNECTED",
                   "--count", "1", "--timeout", "20", "--pretty")
    peer = nethub.TcpPeer(p)
    poll(lambda: [x for x in d.qmp_cmd("query-netdevs")[0]["ports"]],
         10, what="the peer's port")
    peer.close()
    rc, out, err = ev.finish()
    assert rc == 0, (rc, err)
    e = json.loads(out)
    assert e["event"] == "NETDEV_STREAM_DISCONNECTED", e
    assert out.startswith('{\n  "'), "not pretty: %r" % out


def test_events_timeout_ends_the_stream():
    d = daemon()
    t0 = time.monotonic()
    rc, out, err = ctl(d.qmp_path, "events", "--timeout", "1")
    assert rc == 0 and out == "", (rc, out, err)
    assert time.monotonic() - t0 < 10
    rc, out, err = ctl(d.qmp_path, "events", "--timeout", "0.5",
                       "--count", "1")
    assert rc == 1 and "0 of 1 events" in err, (rc, err)


def parse_si(text):
    mult = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    if text[-1] in mult:
        return float(text[:-1]) * mult[text[-1]]
    return float(text)


def top_tables(out):
    """The tables of plain top output: lists of rows (dicts by column)."""
    tables = []
    for block in out.strip("\n").split("\n\n"):
        lines = block.splitlines()
        assert re.match(r"HUB +PORT +LINK +RX f/s +TX f/s +RX bit/s +"
                        r"TX bit/s +DROPS/s +DROPS +WHO$", lines[0]), block
        rows = {}
        for ln in lines[1:]:
            f = ln.split(None, 9)
            assert len(f) == 10, ln
            rows[f[1]] = {"hub": f[0], "link": f[2],
                          "rx_fps": parse_si(f[3]), "tx_fps": parse_si(f[4]),
                          "rx_bps": parse_si(f[5]), "tx_bps": parse_si(f[6]),
                          "drops_ps": parse_si(f[7]), "drops": int(f[8]),
                          "who": f[9]}
        tables.append(rows)
    return tables


def test_top_shows_rates_while_a_peer_sends():
    p = free_port()
    d = daemon(listen_spec(p))
    a, b = two_peers(d, p)
    stop = threading.Event()

    def send():
        frame = nethub.eth(b.mac, a.mac, size=1000)
        while not stop.is_set():
            a.send_many([frame] * 20)
            time.sleep(0.005)
    t = threading.Thread(target=send, daemon=True)
    t.start()
    nethub.at_cleanup(lambda: (stop.set(), t.join(5)))
    t0 = time.monotonic()
    rc, out, err = ctl(d.qmp_path, "top", "--iterations", "2",
                       "--interval", "0.5")
    took = time.monotonic() - t0
    stop.set()
    assert rc == 0 and err == "", (rc, err)
    assert "\033" not in out, "ANSI codes in plain output"
    tables = top_tables(out)
    assert len(tables) == 2, out
    assert 0.9 <= took < 10, "2 intervals of 0.5 s took %.1f s" % took
    for rows in tables:
        ra, rb = rows[a.port_name], rows[b.port_name]
        assert ra["link"] == "up" and ra["hub"] == "0", ra
        assert ra["rx_fps"] > 0 and ra["rx_bps"] >= ra["rx_fps"] * 8000 \
            * 0.9, ra
        assert rb["tx_fps"] > 0 and rb["tx_bps"] > 0, rb
        assert rb["rx_fps"] == 0, rb
    rc, out, err = ctl(d.qmp_path, "top", "--once", "--interval", "0.2")
    assert rc == 0 and len(top_tables(out)) == 1, (rc, out, err)


def test_show_and_top_tell_who_is_behind_a_port():
    p = free_port()
    d = daemon(listen_spec(p))
    a, b = two_peers(d, p)
    ok(d.qmp_path, "port-set-alias", "port=" + a.port_name, "alias=web")
    out, hub0 = show_hub(d.qmp_path, 0)
    assert 'Port "%s" (web) [%s]\n' % (a.port_name, a.mac) in hub0, hub0
    assert 'Port "%s" [%s]\n' % (b.port_name, b.mac) in hub0, hub0
    assert re.search(r"mtu: (\d+) \(largest frame (\d+) bytes, (\d+) with "
                     r"a VLAN tag\)", hub0), hub0
    rc, out, err = ctl(d.qmp_path, "top", "--once")
    assert rc == 0, (rc, err)
    rows = top_tables(out)[-1]
    assert rows[a.port_name]["who"] == "web", rows
    assert rows[b.port_name]["who"] == b.mac, rows
    # the legend explains the fields
    rc, out, err = ctl(None, "show", "--help")
    assert rc == 0 and err == "", (rc, err)
    for word in ("floods", "mtu", "largest whole frame", "port-set-alias",
                 "MACs"):
        assert word in out, "show --help lacks %r:\n%s" % (word, out)
    # the alias goes with "" and is refused when too long
    ok(d.qmp_path, "port-set-alias", "port=" + a.port_name, "alias=")
    out, hub0 = show_hub(d.qmp_path, 0)
    assert 'Port "%s" [%s]\n' % (a.port_name, a.mac) in hub0, hub0
    fails(d.qmp_path, 1, "port-set-alias", "port=" + a.port_name,
          "alias=" + "x" * 64, want=["at most 63"])


def test_views_end_with_one_message_when_nethubd_goes_away():
    d = daemon()
    procs = {}
    for view in (("top", "--interval", "0.2"), ("events",)):
        procs[view[0]] = subprocess.Popen(
            ctl_argv(d.qmp_path, view), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    d.stop()
    for name, pr in procs.items():
        try:
            _, err = pr.communicate(timeout=CTL_TIMEOUT)
        except subprocess.TimeoutExpired:
            pr.kill()
            raise AssertionError("%s still running after nethubd stopped"
                                 % name)
        lines = [ln for ln in err.splitlines()
                 if not ln.startswith("nethubctl: listening")]
        assert pr.returncode == 2, (name, pr.returncode, err)
        assert lines == ["nethubctl: %s: nethubd went away (it closed the "
                         "connection: stopped, restarted or crashed)"
                         % d.qmp_path], (name, err)


def test_relative_file_names_are_the_callers():
    d = daemon()
    here = nethub.tmpdir()
    rc, out, err = ctl(d.qmp_path, "object-add", "qom-type=filter-dump",
                       "id=c1", "netdev=vms", "file=rel.pcap", cwd=here)
    assert rc == 0, (rc, err)
    caps = d.qmp_cmd("query-captures")
    assert caps[0]["file"] == os.path.join(here, "rel.pcap"), caps
    poll(lambda: os.path.exists(os.path.join(here, "rel.pcap")), 10,
         what="rel.pcap in the caller's directory")
    # a client that sends a relative name (not nethubctl) sees it absolute
    # in query-captures: taken from --files-dir here
    files = nethub.tmpdir()
    d2 = Nethubd("-netdev", listen_spec(free_port()), "--files-dir", files,
                 qmp=True).start()
    d2.qmp_cmd("object-add", {"qom-type": "filter-dump", "id": "c2",
                              "netdev": "vms", "file": "raw.pcap"})
    caps = d2.qmp_cmd("query-captures")
    assert caps[0]["file"] == os.path.join(os.path.realpath(files),
                                           "raw.pcap"), caps
    d2.stop_clean()
    # -n shows what would be sent; --json sends what it is given
    rc, out, err = ctl(d.qmp_path, "-n", "netdev_add", "type=pcap", "id=p",
                       "file=x.pcap", cwd=here)
    assert rc == 0 and json.loads(out)["arguments"]["file"] == \
        os.path.join(here, "x.pcap"), (rc, out, err)


def test_top_counts_drops_of_a_link_down_port():
    p = free_port()
    d = daemon(listen_spec(p))
    a, b = two_peers(d, p)
    ok(d.qmp_path, "set_link", "name=" + a.port_name, "up=off")
    for _ in range(5):
        a.send_frame(b.mac)
    rows = {}

    def dropped():
        rows.update(top_tables(ctl(d.qmp_path, "top", "--once",
                                   "--interval", "0.1")[1])[0])
        return rows[a.port_name]["drops"] >= 5
    poll(dropped, 10, what="5 drops on the link-down port")
    assert rows[a.port_name]["link"] == "down", rows


# ------------------------------------------- protocol, with a fake server

GREETING = {"QMP": {"version": {"qemu": {"micro": 0, "minor": 0,
                                         "major": 1}, "package": "fake"},
                    "capabilities": []}}


class FakeQMP:
    """A scripted QMP server on a unix socket.  @handler(request) returns
    what to send back: a list of JSON objects or raw bytes (None: hang up).
    Everything is written @chunk bytes at a time when @chunk is given."""

    def __init__(self, handler, greeting=GREETING, chunk=None):
        self.path = os.path.join(nethub.tmpdir(), "fake.sock")
        self.handler = handler
        self.greeting = greeting
        self.chunk = chunk
        self.requests = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(4)
        nethub.at_cleanup(self.srv.close)
        threading.Thread(target=self._serve, daemon=True).start()

    def _send(self, conn, items):
        data = b"".join(i if isinstance(i, bytes)
                        else json.dumps(i).encode() + b"\r\n"
                        for i in items)
        step = self.chunk or len(data) or 1
        for off in range(0, len(data), step):
            conn.sendall(data[off:off + step])

    def _serve(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            nethub.at_cleanup(conn.close)
            try:
                self._session(conn)
            except OSError:
                pass
            conn.close()

    def _session(self, conn):
        if self.greeting is None:
            conn.recv(1)            # silence until the client gives up
            return
        self._send(conn, [self.greeting])
        dec, buf = json.JSONDecoder(), ""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data.decode()
            while buf.strip():
                try:
                    req, end = dec.raw_decode(buf.lstrip())
                except ValueError:
                    break
                buf = buf.lstrip()[end:]
                self.requests.append(req)
                if req.get("execute") == "qmp_capabilities":
                    out = [{"return": {}, "id": req.get("id")}]
                else:
                    out = self.handler(req)
                if out is None:
                    return
                self._send(conn, out)


def reply(req, value):
    r = {"return": value}
    if "id" in req:
        r["id"] = req["id"]
    return r


def test_events_before_the_reply_are_skipped_in_a_stream_without_newlines():
    event = {"event": "SOMETHING", "data": {},
             "timestamp": {"seconds": 1, "microseconds": 2}}

    def handler(req):
        return [json.dumps(event).encode(), json.dumps(event).encode(),
                json.dumps(reply(req, {"answer": [1, "}", {"a": "{"}]})
                           ).encode()]
    fake = FakeQMP(handler, chunk=1)
    assert ok(fake.path, "query-x") == {"answer": [1, "}", {"a": "{"}]}
    assert [r["execute"] for r in fake.requests] == ["qmp_capabilities",
                                                     "query-x"]
    assert "arguments" not in fake.requests[1], fake.requests


def test_a_server_that_stays_silent_times_out():
    fake = FakeQMP(lambda req: [], greeting=None)
    t0 = time.monotonic()
    fails(fake.path, 2, "--timeout", "1", "query-x",
          want=["no QMP greeting within 1 s"])
    assert time.monotonic() - t0 < 5
    fake = FakeQMP(lambda req: [])
    t0 = time.monotonic()
    fails(fake.path, 2, "-t", "0.5", "query-x",
          want=["no reply to 'query-x' within 0.5 s"])
    assert time.monotonic() - t0 < 5


def test_hang_ups_and_strangers_exit_2():
    fake = FakeQMP(lambda req: None)
    fails(fake.path, 2, "query-x", want=["closed the connection"])
    fake = FakeQMP(lambda req: [], greeting={"hello": "world"})
    fails(fake.path, 2, "query-x", want=["not a QMP server"])
    fake = FakeQMP(lambda req: [b"[1, 2]\r\n"])
    fails(fake.path, 2, "query-x", want=["not a JSON object"])
    fake = FakeQMP(lambda req: [{"error": "text"}])
    fails(fake.path, 2, "query-x", want=["neither 'return' nor"])


# A schema with what nethubd's commands lack: a nested flat union, an
# alternate, numbers, enums, 'any', a type that contains itself (names
# masked, as QEMU gives them)
FAKE_SCHEMA = [
    {"name": "t", "meta-type": "command", "arg-type": "0", "ret-type": "1"},
    {"name": "0", "meta-type": "object", "members": [
        {"name": "n", "type": "int"}, {"name": "x", "type": "number"},
        {"name": "b", "type": "bool"}, {"name": "s", "type": "str"},
        {"name": "e", "type": "2", "default": None},
        {"name": "addr", "type": "3", "default": None},
        {"name": "opt", "type": "5", "default": None},
        {"name": "ints", "type": "[int]", "default": None},
        {"name": "v", "type": "any", "default": None},
        {"name": "loop", "type": "9", "default": None}]},
    {"name": "1", "meta-type": "object", "members": []},
    {"name": "2", "meta-type": "enum", "values": ["a", "b"]},
    {"name": "3", "meta-type": "object", "tag": "type",
     "members": [{"name": "type", "type": "2"}],
     "variants": [{"case": "a", "type": "4"}, {"case": "b", "type": "1"}]},
    {"name": "4", "meta-type": "object", "members": [
        {"name": "port", "type": "int"}, {"name": "host", "type": "str"}]},
    {"name": "5", "meta-type": "alternate", "members": [
        {"type": "str"}, {"type": "null"}, {"type": "int"}]},
    {"name": "[int]", "meta-type": "array", "element-type": "int"},
    {"name": "9", "meta-type": "array", "element-type": "9"},
] + [{"name": n, "meta-type": "builtin", "json-type": j}
     for n, j in (("str", "string"), ("int", "int"), ("number", "number"),
                  ("bool", "boolean"), ("any", "value"), ("null", "null"))]


def echo_server(schema):
    """A FakeQMP whose query-qmp-schema is @schema (None: an error) and
    whose other commands return their arguments."""
    def handler(req):
        if req["execute"] == "query-qmp-schema":
            if schema is None:
                return [{"error": {"class": "CommandNotFound",
                                   "desc": "no schema here"},
                         "id": req["id"]}]
            return [reply(req, schema)]
        return [reply(req, req.get("arguments"))]
    return FakeQMP(handler)


def test_typing_follows_unions_alternates_numbers_and_any():
    fake = echo_server(FAKE_SCHEMA)
    got = ok(fake.path, "t", "n=0x1f", "x=2.5", "b=yes", "s=007", "e=b",
             "addr.type=a", "addr.port=80", "addr.host=h", "opt=null",
             "ints.0=1", "ints.1=0x2", 'v={"k": [1]}')
    assert got == {"n": 31, "x": 2.5, "b": True, "s": "007", "e": "b",
                   "addr": {"type": "a", "port": 80, "host": "h"},
                   "opt": None, "ints": [1, 2], "v": {"k": [1]}}, got
    for word, want in (("opt=12", 12), ("opt=x", "x"), ("v=12", 12),
                       ("v=abc", "abc"), ("x=-3", -3), ("x=1e3", 1000.0)):
        got = ok(fake.path, "t", word)
        assert list(got.values()) == [want], (word, got)
    fails(fake.path, 2, "t", "addr.type=b", "addr.port=1",
          want=["unknown argument 'addr.port' (members of 'addr': type)"])
    fails(fake.path, 2, "t", "x=abc", want=["'x' expects a number"])
    fails(fake.path, 2, "t", "ints.0=1", "ints.2=3",
          want=["'ints.2'", "without gaps"])
    fails(fake.path, 2, "t", "n=1", "n=2", want=["'n' is given more"])
    # a schema that loops is refused, not followed for ever
    fails(fake.path, 2, "t", "loop=x", want=["nests types deeper than"])
    # a discriminator the schema does not know: the server's to judge
    assert ok(fake.path, "t", "addr.type=c", "addr.port=1") == \
        {"addr": {"type": "c", "port": "1"}}


def test_without_a_schema_values_go_as_strings():
    fake = echo_server(None)
    got = ok(fake.path, "cmd", "n=5", "b=on", "a.x=1", "l.0=p", "l.1=q",
             "r=1", "r=2")
    assert got == {"n": "5", "b": "on", "a": {"x": "1"},
                   "l": ["p", "q"], "r": ["1", "2"]}, got


if __name__ == "__main__":
    nethub.main(globals())
