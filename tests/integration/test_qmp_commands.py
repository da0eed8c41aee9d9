#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_qmp_commands.py - nethubd's QMP commands, end to end

QEMU's argument errors through real commands; netdev_add of every type of
the Netdev union (built types work, the others answer "not compiled",
vmnet-* is not a type on Linux); netdev_del under traffic; set_link;
nethub's queries (query-netdevs, query-hubs, query-fdb) and fdb-flush;
query-version, query-commands and query-qmp-schema agreeing with each
other; getfd/closefd with real file descriptors passed over SCM_RIGHTS and
used by a socket netdev; query-rx-filter and announce-self without NICs;
the stream events; quit.  The protocol itself: test_qmp.py.
"""

import functools
import glob
import json
import os
import queue
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import (BROADCAST, Nethubd, StreamPeer, TcpListener,  # noqa: E402
                    assert_frame, free_port, poll, sync)
from qmp import assert_error, assert_ok  # noqa: E402

# Every command the issue names
ISSUE_COMMANDS = {
    "qmp_capabilities", "query-version", "query-commands",
    "query-qmp-schema", "netdev_add", "netdev_del", "set_link",
    "query-rx-filter", "announce-self", "getfd", "closefd", "quit",
    "query-netdevs", "query-hubs", "query-fdb", "fdb-flush",
}

# The backends nethub has today, and what QEMU's union has besides
BUILT_TYPES = {"socket", "hubport", "none", "nic", "tap", "stream", "dgram",
               "user"}
# built, but needs a Linux bridge: without one, this error
BRIDGE_MISSING = "bridge 'br0' does not exist"
REFERENCE_TYPES = {"none", "nic", "user", "tap", "l2tpv3", "socket", "vde",
                   "bridge", "hubport", "netmap", "vhost-user", "vhost-vdpa"}
VMNET_TYPES = ("vmnet-host", "vmnet-shared", "vmnet-bridged")

NOT_COMPILED = "network backend '%s' is not compiled into this binary"
# types with no driver that also need something of the host: the refusal
# says what, and whether this host has it
NEEDS_HOST = {
    "netmap": ["netmap kernel module (/dev/netmap)",
               "this host lacks" if not os.path.exists("/dev/netmap")
               else "this host has"],
    "vhost-vdpa": ["vDPA device (/dev/vhost-vdpa-*",
                   "this host lacks" if not glob.glob("/dev/vhost-vdpa-*")
                   else "this host has"],
}


# ---------------------------------------------------------------- helpers

def daemon(*extra):
    """nethubd with socket listen= netdev "vms" (port .vms_port) and QMP;
    .c is a negotiated client."""
    p = free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % p, *extra,
                qmp=True).start()
    d.vms_port = p
    d.c = d.qmp()
    return d


def two_way(x, y):
    f = x.send_frame(BROADCAST, "%s to all" % x.name)
    assert_frame(y.expect_frame(), f, y.name)
    g = y.send_frame(x.mac, "%s to %s" % (y.name, x.name))
    assert_frame(x.expect_frame(), g, x.name)
    h = x.send_frame(y.mac, "%s to %s" % (x.name, y.name))
    assert_frame(y.expect_frame(), h, y.name)


def err(c, cmd, args, cls, desc):
    """@cmd with @args fails with @cls and exactly @desc."""
    r = c.execute(cmd, args, id=cmd)
    try:
        assert_error(r, cls, desc, id=cmd)
    except AssertionError as e:
        raise AssertionError("%s %s: %s" % (cmd, json.dumps(args), e))


def ok(c, cmd, args=None):
    r = c.execute(cmd, args, id=cmd)
    try:
        return assert_ok(r, id=cmd)
    except AssertionError as e:
        raise AssertionError("%s %s: %s" % (cmd, json.dumps(args), e))


def qnetdev(c, nid):
    for nd in ok(c, "query-netdevs"):
        if nd.get("id") == nid:
            return nd
    return None


def qports(c, nid):
    nd = qnetdev(c, nid)
    return nd.get("ports", []) if nd else []


def qport(c, name):
    for nd in ok(c, "query-netdevs"):
        for p in nd.get("ports", []):
            if p.get("name") == name:
                return p
    return None


def qfdb(c, hubid=None):
    """{hubid: {(mac, vlan): entry}} from query-fdb."""
    args = None if hubid is None else {"hubid": hubid}
    out = {}
    for h in ok(c, "query-fdb", args):
        assert set(h) >= {"hubid", "entries"}, h
        out[h["hubid"]] = {(e["mac"], e["vlan"]): e for e in h["entries"]}
    return out


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def hub_id(h):
    return h["id"] if "id" in h else h["hubid"]


def hubs_by_id(c):
    return {hub_id(h): h for h in ok(c, "query-hubs")}


def settle(*peers, quiet=0.3):
    """Forget what @peers received, waiting until nothing more arrives for
    @quiet seconds."""
    for p in peers:
        while True:
            try:
                p.q.get(timeout=quiet)
            except queue.Empty:
                break


def learn(*peers):
    """Each peer sends a broadcast that every other one receives: nethub
    has learned every peer's MAC afterwards."""
    for p in peers:
        p.send_frame(BROADCAST, "hello from %s" % p.name)
        for q in peers:
            if q is not p:
                q.expect_frame()


# ---------------------------------------------------------------- schema

def schema(c):
    info = ok(c, "query-qmp-schema")
    assert isinstance(info, list) and info, info
    return {e["name"]: e for e in info}


def netdev_union(idx):
    cmd = idx["netdev_add"]
    assert cmd["meta-type"] == "command", cmd
    return idx[cmd["arg-type"]]


def type_enum_values(idx, union):
    tag = [m for m in union["members"] if m["name"] == union["tag"]]
    assert len(tag) == 1, union
    enum = idx[tag[0]["type"]]
    assert enum["meta-type"] == "enum", enum
    return enum["values"]


def sample(idx, tname, depth=0):
    """A value of type @tname with every required member filled."""
    assert depth < 20, "type %s nests too deep" % tname
    t = idx[tname]
    mt = t["meta-type"]
    if mt == "builtin":
        return {"string": "x", "int": 1, "number": 1.5, "boolean": False,
                "null": None, "value": "x"}[t["json-type"]]
    if mt == "enum":
        return t["values"][0]
    if mt == "array":
        return []
    if mt == "alternate":
        return sample(idx, t["members"][0]["type"], depth + 1)
    if mt == "object":
        obj = {m["name"]: sample(idx, m["type"], depth + 1)
               for m in t["members"] if "default" not in m}
        if t.get("tag"):
            v = t["variants"][0]
            obj[t["tag"]] = v["case"]
            obj.update(sample(idx, v["type"], depth + 1))
        return obj
    raise AssertionError("unexpected meta-type %r" % (t,))


def variant_args(idx, union, case):
    for v in union.get("variants", []):
        if v["case"] == case:
            return sample(idx, v["type"])
    raise AssertionError("netdev_add has no variant %r" % case)


# ---------------------------------------------------------- argument errors

def test_parameter_missing():
    d = daemon()
    c = d.c
    err(c, "set_link", {"name": "vms"}, "GenericError",
        "Parameter 'up' is missing")
    err(c, "set_link", {"up": True}, "GenericError",
        "Parameter 'name' is missing")
    err(c, "netdev_del", {}, "GenericError", "Parameter 'id' is missing")
    err(c, "netdev_add", {"type": "socket"}, "GenericError",
        "Parameter 'id' is missing")
    err(c, "netdev_add", {"id": "x"}, "GenericError",
        "Parameter 'type' is missing")
    err(c, "getfd", {}, "GenericError", "Parameter 'fdname' is missing")
    err(c, "closefd", None, "GenericError", "Parameter 'fdname' is missing")
    err(c, "announce-self", {"initial": 50, "max": 550, "rounds": 5},
        "GenericError", "Parameter 'step' is missing")
    err(c, "netdev_add", {"id": "h", "type": "vhost-user"}, "GenericError",
        "Parameter 'chardev' is missing")


def test_parameter_unexpected():
    d = daemon()
    c = d.c
    err(c, "set_link", {"name": "vms", "up": True, "force": 1},
        "GenericError", "Parameter 'force' is unexpected")
    err(c, "query-version", {"verbose": True}, "GenericError",
        "Parameter 'verbose' is unexpected")
    err(c, "quit", {"now": True}, "GenericError",
        "Parameter 'now' is unexpected")
    # an option of another type of the union
    err(c, "netdev_add", {"id": "x", "type": "socket",
                          "listen": "127.0.0.1:1", "ifname": "tap0"},
        "GenericError", "Parameter 'ifname' is unexpected")
    err(c, "netdev_add", {"id": "x", "type": "none", "hubid": 1},
        "GenericError", "Parameter 'hubid' is unexpected")
    assert qnetdev(c, "x") is None


def test_parameter_wrong_type():
    d = daemon()
    c = d.c
    exp = "Invalid parameter type for '%s', expected: %s"
    err(c, "set_link", {"name": 1, "up": True}, "GenericError",
        exp % ("name", "string"))
    err(c, "set_link", {"name": "vms", "up": "yes"}, "GenericError",
        exp % ("up", "boolean"))
    err(c, "set_link", {"name": "vms", "up": None}, "GenericError",
        exp % ("up", "boolean"))
    err(c, "netdev_del", {"id": ["vms"]}, "GenericError",
        exp % ("id", "string"))
    err(c, "netdev_add", {"id": "x", "type": "socket", "listen": 5555},
        "GenericError", exp % ("listen", "string"))
    err(c, "netdev_add", {"id": "x", "type": "hubport", "hubid": "1"},
        "GenericError", exp % ("hubid", "integer"))
    err(c, "netdev_add", {"id": "x", "type": "hubport", "hubid": 1.5},
        "GenericError", exp % ("hubid", "integer"))
    err(c, "netdev_add", {"id": "x", "type": 7}, "GenericError",
        exp % ("type", "string"))
    err(c, "announce-self", {"initial": "50", "max": 550, "rounds": 5,
                             "step": 100}, "GenericError",
        exp % ("initial", "integer"))
    err(c, "announce-self", {"initial": 50, "max": 550, "rounds": 5,
                             "step": 100, "interfaces": "eth0"},
        "GenericError", exp % ("interfaces", "array"))
    err(c, "announce-self", {"initial": 50, "max": 550, "rounds": 5,
                             "step": 100, "interfaces": ["a", 2]},
        "GenericError", exp % ("interfaces[1]", "string"))
    err(c, "getfd", {"fdname": {}}, "GenericError",
        exp % ("fdname", "string"))


def test_parameter_out_of_range_integer():
    d = daemon()
    c = d.c
    err(c, "netdev_add", {"id": "x", "type": "hubport", "hubid": 2 ** 31},
        "GenericError", "Parameter 'hubid' expects int32_t")
    err(c, "netdev_add", {"id": "x", "type": "hubport",
                          "hubid": -2 ** 31 - 1},
        "GenericError", "Parameter 'hubid' expects int32_t")
    assert qnetdev(c, "x") is None


def test_parameter_bad_enum_value():
    d = daemon()
    c = d.c
    for t in VMNET_TYPES + ("bogus", "Socket", ""):
        err(c, "netdev_add", {"id": "x", "type": t}, "GenericError",
            "Parameter 'type' does not accept value '%s'" % t)
    assert qnetdev(c, "x") is None


def test_netdev_add_duplicate_id():
    d = daemon()
    c = d.c
    p = free_port()
    err(c, "netdev_add", {"id": "vms", "type": "socket",
                          "listen": "127.0.0.1:%d" % p},
        "GenericError", "Duplicate ID 'vms'")
    ok(c, "netdev_add", {"id": "n2", "type": "none"})
    err(c, "netdev_add", {"id": "n2", "type": "hubport", "hubid": 3},
        "GenericError", "Duplicate ID 'n2'")
    # the existing one is untouched
    assert qnetdev(c, "n2")["type"] == "none"
    assert qnetdev(c, "vms")["type"] == "socket"
    # the port was not taken by the refused netdev
    assert nethub.tcp_port_free(p)


def test_netdev_add_bad_id():
    d = daemon()
    c = d.c
    for bad in ("1abc", "a b", "", "-x", "a/b", "a,b", "caf\u00e9", ".x"):
        err(c, "netdev_add", {"id": bad, "type": "none"}, "GenericError",
            "Parameter 'id' expects an identifier")
    # what QEMU takes: a letter, then letters, digits, '-', '.', '_'
    for good in ("a", "Z9", "a-b.c_d"):
        ok(c, "netdev_add", {"id": good, "type": "none"})
        ok(c, "netdev_del", {"id": good})


def test_unknown_device_for_netdev_del_and_set_link():
    d = daemon()
    c = d.c
    err(c, "netdev_del", {"id": "nosuch"}, "DeviceNotFound",
        "Device 'nosuch' not found")
    err(c, "set_link", {"name": "nosuch", "up": False}, "DeviceNotFound",
        "Device 'nosuch' not found")
    err(c, "set_link", {"name": "", "up": True}, "DeviceNotFound",
        "Device '' not found")


# ---------------------------------------------------------------- netdev_add

def test_netdev_add_every_type_of_the_union():
    d = daemon()
    c = d.c
    idx = schema(c)
    union = netdev_union(idx)
    types = type_enum_values(idx, union)
    missing = REFERENCE_TYPES - set(types)
    assert not missing, "types of QEMU's union missing: %s" % sorted(missing)
    assert not set(VMNET_TYPES) & set(types), types
    problems = []
    for i, t in enumerate(types):
        nid = "t%d" % i
        if t == "socket":
            args = {"listen": "127.0.0.1:%d" % free_port()}
        elif t == "hubport":
            args = {"hubid": 5}
        elif t == "nic":
            args = {"netdev": "vms"}
        elif t == "stream":
            args = {"addr": {"type": "inet", "host": "127.0.0.1",
                             "port": str(free_port())}, "server": True}
        elif t == "dgram":
            args = {"local": {"type": "inet", "host": "127.0.0.1",
                              "port": str(free_port("udp"))},
                    "remote": {"type": "inet", "host": "127.0.0.1",
                               "port": str(free_port("udp"))}}
        elif t == "vde":
            args = {"sock": "/nonexistent-vde-switch"}
        else:
            args = variant_args(idx, union, t)
        args.update(id=nid, type=t)
        r = c.execute("netdev_add", args, id=t)
        if t == "bridge":
            want = {"error": {"class": "GenericError",
                              "desc": BRIDGE_MISSING}, "id": t}
            if r != want:
                problems.append("%s: %r -> %r, want %r" % (t, args, r, want))
        elif t == "pcap":
            want = {"error": {"class": "GenericError",
                              "desc": "exactly one of ifname= or file= "
                                      "is required"}, "id": t}
            if r != want:
                problems.append("%s: %r -> %r, want %r" % (t, args, r, want))
        elif t == "vde":
            # built, but there is no switch to plug into
            want = {"error": {"class": "GenericError",
                              "desc": "netdev %s: could not open VDE switch "
                                      "'/nonexistent-vde-switch': No such "
                                      "file or directory" % nid}, "id": t}
            if r != want:
                problems.append("%s: %r -> %r, want %r" % (t, args, r, want))
        elif t == "vhost-user":
            # built, but its chardev must exist first
            want = {"error": {"class": "GenericError",
                              "desc": 'chardev "%s" not found'
                                      % args["chardev"]}, "id": t}
            if r != want:
                problems.append("%s: %r -> %r, want %r" % (t, args, r, want))
            if qnetdev(c, nid) is not None:
                problems.append("%s: refused but in query-netdevs" % t)
        elif t == "l2tpv3":
            # built; the sample's address "x" does not resolve
            desc = r.get("error", {}).get("desc", "")
            if not desc.startswith("could not resolve src 'x'"):
                problems.append("%s: %r -> %r" % (t, args, r))
            if qnetdev(c, nid) is not None:
                problems.append("%s: refused but in query-netdevs" % t)
        elif t == "vxlan":
            # built; the sample (VNI 1, no remote) binds UDP port 4789,
            # which another VTEP on this host may hold
            desc = r.get("error", {}).get("desc", "")
            if r != {"return": {}, "id": t} and \
                    not desc.startswith("dstport=4789: cannot bind"):
                problems.append("%s: %r -> %r" % (t, args, r))
            elif "return" in r and qnetdev(c, nid) is None:
                problems.append("%s: added but not in query-netdevs" % t)
        elif t in BUILT_TYPES:
            if r != {"return": {}, "id": t}:
                problems.append("%s: %r -> %r" % (t, args, r))
            elif qnetdev(c, nid) is None:
                problems.append("%s: added but not in query-netdevs" % t)
        elif t in NEEDS_HOST:
            # refused naming what the host needs and whether it has it
            desc = r.get("error", {}).get("desc", "")
            words = NEEDS_HOST[t]
            if not all(w in desc for w in words):
                problems.append("%s: %r -> %r, want %r in it"
                                % (t, args, r, words))
            if qnetdev(c, nid) is not None:
                problems.append("%s: refused but in query-netdevs" % t)
        else:
            want = {"error": {"class": "GenericError",
                              "desc": NOT_COMPILED % t}, "id": t}
            if r != want:
                problems.append("%s: %r -> %r, want %r" % (t, args, r, want))
            if qnetdev(c, nid) is not None:
                problems.append("%s: refused but in query-netdevs" % t)
    assert not problems, "\n".join(problems)


def test_netdev_add_socket_listen_then_peers_forward():
    d = daemon()
    c = d.c
    p = free_port()
    ok(c, "netdev_add", {"id": "late", "type": "socket",
                         "listen": "127.0.0.1:%d" % p})
    nd = qnetdev(c, "late")
    assert nd["type"] == "socket", nd
    assert nd.get("options", {}).get("listen") == "127.0.0.1:%d" % p, nd
    x = d.attach(p, netdev="late")
    y = d.attach(d.vms_port)
    two_way(x, y)
    names = [q["name"] for q in qports(c, "late")]
    assert names == [x.port_name], names


def test_netdev_add_socket_option_errors():
    d = daemon()
    c = d.c
    r = c.execute("netdev_add", {"id": "s", "type": "socket"})
    assert_error(r, "GenericError", contains="exactly one of")
    r = c.execute("netdev_add", {"id": "s", "type": "socket",
                                 "listen": "127.0.0.1:1",
                                 "connect": "127.0.0.1:2"})
    assert_error(r, "GenericError", contains="exactly one of")
    # the address is taken: refused, nothing left behind, id free again
    r = c.execute("netdev_add", {"id": "s", "type": "socket",
                                 "listen": "127.0.0.1:%d" % d.vms_port})
    assert_error(r, "GenericError")
    assert qnetdev(c, "s") is None
    ok(c, "netdev_add", {"id": "s", "type": "none"})


def test_netdev_add_fd_name_unknown():
    d = daemon()
    c = d.c
    err(c, "netdev_add", {"id": "f", "type": "socket", "fd": "nope"},
        "GenericError", "File descriptor named 'nope' has not been found")
    assert qnetdev(c, "f") is None


def test_netdev_del_removes_and_id_is_reusable():
    d = daemon()
    c = d.c
    p = free_port()
    ok(c, "netdev_add", {"id": "tmp", "type": "socket",
                         "listen": "127.0.0.1:%d" % p})
    x = d.attach(p, netdev="tmp")
    ok(c, "netdev_del", {"id": "tmp"})
    assert qnetdev(c, "tmp") is None
    x.expect_eof()
    poll(lambda: nethub.tcp_port_free(p), 10, what="port %d released" % p)
    hub0 = hubs_by_id(c)[0]
    assert x.port_name not in hub0["ports"], hub0
    err(c, "netdev_del", {"id": "tmp"}, "DeviceNotFound",
        "Device 'tmp' not found")
    ok(c, "netdev_add", {"id": "tmp", "type": "socket",
                         "listen": "127.0.0.1:%d" % p})
    y = d.attach(p, netdev="tmp")
    z = d.attach(d.vms_port)
    two_way(y, z)


def test_netdev_del_while_a_peer_floods():
    d = daemon()
    c = d.c
    a, b = d.attach(d.vms_port), d.attach(d.vms_port)
    p = free_port()
    ok(c, "netdev_add", {"id": "noisy", "type": "socket",
                         "listen": "127.0.0.1:%d" % p})
    f = d.attach(p, netdev="noisy")
    stop = threading.Event()
    sent = [0]

    def flood():
        batch = [nethub.tagged(BROADCAST, f.mac, "flood", size=300)
                 for _ in range(64)]
        try:
            while not stop.is_set():
                f.send_many(batch)
                sent[0] += len(batch)
        except OSError:
            pass
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    poll(lambda: sent[0] > 2000, 10, what="the flood to get going")
    a.expect_frame()
    ok(c, "netdev_del", {"id": "noisy"})
    f.expect_eof()
    stop.set()
    t.join(10)
    assert d.alive()
    assert qnetdev(c, "noisy") is None
    # nothing of it left in the hub or its FDB
    for h in ok(c, "query-hubs"):
        assert not any(n.startswith("noisy") for n in h["ports"]), h
    for hubid, entries in qfdb(c).items():
        assert not any(e["port"].startswith("noisy")
                       for e in entries.values()), entries
    # what the daemon counts as sent to a and b is what they received
    settle(a, b)
    for peer in (a, b):
        q = qport(c, peer.port_name)
        nethub.check_port_accounting(q)
        assert q["stats"]["tx-frames"] == peer.received > 0, \
            (q, peer.received)
    sync(a, [b])
    sync(b, [a])
    two_way(a, b)


# ---------------------------------------------------------------- set_link

def link_down_drops(c):
    return nethub.counter_sum(ok(c, "query-netdevs"), r"^link-down$")


def test_set_link_down_drops_and_up_resumes():
    p2 = free_port()
    d = daemon("-netdev", "socket,id=vms2,listen=127.0.0.1:%d" % p2)
    c = d.c
    a = d.attach(d.vms_port)
    b = d.attach(p2, netdev="vms2")
    two_way(a, b)
    assert qnetdev(c, "vms2")["link"] is True
    before = link_down_drops(c)
    ok(c, "set_link", {"name": "vms2", "up": False})
    nd = qnetdev(c, "vms2")
    assert nd["link"] is False, nd
    n = 10
    for i in range(n):
        a.send_frame(b.mac, "to a link-down port %d" % i)
        b.send_frame(a.mac, "from a link-down port %d" % i)
    b.expect_no_frame(0.5)
    a.expect_no_frame(0.5)
    dropped = poll(lambda: (link_down_drops(c) - before >= 2 * n) and
                   link_down_drops(c) - before, 5,
                   what="%d link-down drops counted" % (2 * n))
    assert dropped == 2 * n, "each frame must be counted once: %d" % dropped
    # set_link down again is fine and changes nothing
    ok(c, "set_link", {"name": "vms2", "up": False})
    ok(c, "set_link", {"name": "vms2", "up": True})
    assert qnetdev(c, "vms2")["link"] is True
    two_way(a, b)
    two_way(b, a)
    assert link_down_drops(c) - before == 2 * n
    for q in qports(c, "vms") + qports(c, "vms2"):
        nethub.check_port_accounting(q)


# ---------------------------------------------------------------- queries

def test_query_netdevs_contents():
    d = daemon("-netdev", "hubport,id=hp,hubid=2")
    c = d.c
    a, b = d.attach(d.vms_port), d.attach(d.vms_port)
    learn(a, b)
    nds = ok(c, "query-netdevs")
    assert [n["id"] for n in nds] == ["vms", "hp"], nds
    vms = nds[0]
    assert vms["type"] == "socket" and vms["hub"] == 0, vms
    assert vms["link"] is True, vms
    assert vms["options"]["listen"] == "127.0.0.1:%d" % d.vms_port, vms
    ports = {p["name"]: p for p in vms["ports"]}
    assert set(ports) == {a.port_name, b.port_name}, ports
    for peer in (a, b):
        p = ports[peer.port_name]
        assert p["hub"] == 0 and p["link"] is True, p
        s = p["stats"]
        assert s["rx-frames"] == 1 and s["rx-forwarded"] == 1, p
        assert s["tx-frames"] == 1, p
        assert s["rx-bytes"] > 0 and s["tx-bytes"] > 0, p
        nethub.check_port_accounting(p)
    hp = nds[1]
    assert hp["type"] == "hubport" and hp["hub"] == 2, hp
    # the same facts as the state dump
    st = d.state()
    for nd in st["netdevs"]:
        q = [n for n in nds if n["id"] == nd["id"]][0]
        assert q["type"] == nd["type"] and q["hub"] == nd["hub"], (q, nd)
        assert [p["name"] for p in q["ports"]] == \
            [p["name"] for p in nd["ports"]]


def test_query_hubs_contents():
    d = daemon("-netdev", "hubport,id=hp,hubid=3")
    c = d.c
    a, b = d.attach(d.vms_port), d.attach(d.vms_port)
    learn(a, b)
    hubs = hubs_by_id(c)
    assert set(hubs) == {0, 3}, hubs
    assert set(hubs[0]["ports"]) == {a.port_name, b.port_name}, hubs[0]
    # a hubport without netdev= makes its hub exist (QEMU: hubs come into
    # being with their first hubport)
    assert isinstance(hubs[3]["ports"], list), hubs[3]
    for h in hubs.values():
        assert set(h) >= {"id", "ports", "fdb-entries", "floods",
                          "fdb-stats"}, h
    ok(c, "netdev_add", {"id": "hp9", "type": "hubport", "hubid": 9})
    hubs = hubs_by_id(c)
    assert 9 in hubs, hubs


def test_query_fdb_after_learning():
    d = daemon()
    c = d.c
    a, b, e = (d.attach(d.vms_port) for _ in range(3))
    learn(a, b, e)
    vlan_frame = nethub.tagged(BROADCAST, "02:aa:00:00:00:01", "vlan 7",
                               vlan=7)
    a.send(vlan_frame)
    b.expect_frame()
    e.expect_frame()
    fdb = qfdb(c)
    assert set(fdb) == {0}, fdb
    entries = fdb[0]
    want = {(a.mac, 0): a.port_name, (b.mac, 0): b.port_name,
            (e.mac, 0): e.port_name, ("02:aa:00:00:00:01", 7): a.port_name}
    got = {k: v["port"] for k, v in entries.items()}
    assert got == want, (got, want)
    for ent in entries.values():
        assert ent["static"] is False, ent
        assert type(ent["age"]) is int and 0 <= ent["age"] < 60, ent
    assert qfdb(c, hubid=0) == fdb
    assert hubs_by_id(c)[0]["fdb-entries"] == len(entries)
    r = c.execute("query-fdb", {"hubid": 77})
    assert_error(r, "GenericError")


def test_fdb_flush_counts():
    p1 = free_port()
    d = daemon("-netdev", "socket,id=s1,listen=127.0.0.1:%d" % p1,
               "-netdev", "hubport,id=hp1,hubid=1,netdev=s1")
    c = d.c
    a, b, e = (d.attach(d.vms_port) for _ in range(3))
    x, y = d.attach(p1, netdev="s1"), d.attach(p1, netdev="s1")
    learn(a, b, e)
    learn(x, y)
    fdb = qfdb(c)
    assert len(fdb[0]) == 3 and len(fdb[1]) == 2, fdb
    # one port
    assert ok(c, "fdb-flush", {"port": a.port_name}) == {"flushed": 1}
    fdb = qfdb(c)
    assert (a.mac, 0) not in fdb[0] and len(fdb[0]) == 2, fdb
    assert len(fdb[1]) == 2, fdb
    # one hub
    assert ok(c, "fdb-flush", {"hubid": 1}) == {"flushed": 2}
    fdb = qfdb(c)
    assert len(fdb[0]) == 2 and len(fdb[1]) == 0, fdb
    # a netdev's ports
    learn(x, y)
    assert ok(c, "fdb-flush", {"port": "s1"}) == {"flushed": 2}
    # everything
    learn(a, b, e)
    learn(x, y)
    assert ok(c, "fdb-flush") == {"flushed": 5}
    fdb = qfdb(c)
    assert all(len(v) == 0 for v in fdb.values()), fdb
    assert ok(c, "fdb-flush") == {"flushed": 0}
    # unknown names
    err(c, "fdb-flush", {"port": "nosuch.1"}, "DeviceNotFound",
        "Device 'nosuch.1' not found")
    r = c.execute("fdb-flush", {"hubid": 42})
    assert_error(r, "GenericError")
    # a port of another hub than the one named
    r = c.execute("fdb-flush", {"hubid": 1, "port": a.port_name})
    assert_error(r, "GenericError")
    # forwarding relearns after a flush
    two_way(a, b)


def test_query_version():
    d = daemon()
    v = ok(d.c, "query-version")
    assert set(v) == {"qemu", "package"}, v
    assert set(v["qemu"]) == {"major", "minor", "micro"}, v
    assert all(type(v["qemu"][k]) is int for k in v["qemu"]), v
    assert isinstance(v["package"], str), v
    g = d.qmp(negotiate=False).greeting
    assert g["QMP"]["version"] == v


def test_query_commands_matches_the_schema():
    d = daemon()
    cmds = ok(d.c, "query-commands")
    assert isinstance(cmds, list)
    for e in cmds:
        assert set(e) == {"name"} and isinstance(e["name"], str), e
    names = [e["name"] for e in cmds]
    assert len(names) == len(set(names)), "duplicates in %r" % names
    in_schema = {e["name"] for e in ok(d.c, "query-qmp-schema")
                 if e["meta-type"] == "command"}
    assert set(names) == in_schema, (set(names) ^ in_schema)
    missing = ISSUE_COMMANDS - set(names)
    assert not missing, "commands missing: %s" % sorted(missing)
    # every listed command has a handler: its arguments get checked
    for n in names:
        if n == "qmp_capabilities":
            continue
        r = d.c.execute(n, {"no-such-argument-xyz": 1})
        assert_error(r, "GenericError")


def test_query_qmp_schema_structure():
    d = daemon()
    info = ok(d.c, "query-qmp-schema")
    idx = {}
    for e in info:
        assert isinstance(e, dict) and "name" in e and "meta-type" in e, e
        assert e["name"] not in idx, "duplicate name %r" % e["name"]
        idx[e["name"]] = e
    refs = []
    for e in info:
        mt = e["meta-type"]
        if mt == "builtin":
            assert e["json-type"] in ("string", "number", "int", "boolean",
                                      "null", "object", "array", "value"), e
        elif mt == "enum":
            assert re.fullmatch(r"\d+", e["name"]), "unmasked enum %r" % e
            assert all(isinstance(v, str) for v in e["values"]), e
        elif mt == "array":
            assert e["name"] == "[%s]" % e["element-type"], e
            refs.append((e["name"], e["element-type"]))
        elif mt == "object":
            assert re.fullmatch(r"\d+", e["name"]), "unmasked object %r" % e
            for m in e["members"]:
                assert set(m) <= {"name", "type", "default", "features"}, m
                if "default" in m:
                    assert m["default"] is None, m
                refs.append((e["name"], m["type"]))
            if "tag" in e:
                assert any(m["name"] == e["tag"] for m in e["members"]), e
                for v in e["variants"]:
                    refs.append((e["name"], v["type"]))
        elif mt == "alternate":
            assert re.fullmatch(r"\d+", e["name"]), e
            for m in e["members"]:
                refs.append((e["name"], m["type"]))
        elif mt == "command":
            refs.append((e["name"], e["arg-type"]))
            refs.append((e["name"], e["ret-type"]))
        elif mt == "event":
            refs.append((e["name"], e["arg-type"]))
        else:
            raise AssertionError("unknown meta-type %r" % e)
    dangling = [(a, b) for a, b in refs if b not in idx]
    assert not dangling, "types referred to but not defined: %r" % dangling
    # no other integer type names than QEMU's "int"
    for n in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
              "uint64", "size"):
        assert n not in idx, "%s should appear as int" % n
    # netdev_add: the Netdev union, one variant per type
    union = netdev_union(idx)
    assert union["meta-type"] == "object" and union["tag"] == "type", union
    base = {m["name"]: m for m in union["members"]}
    assert {"id", "type"} <= set(base), base
    assert idx[base["id"]["type"]]["json-type"] == "string"
    types = type_enum_values(idx, union)
    cases = [v["case"] for v in union["variants"]]
    assert sorted(cases) == sorted(types), (cases, types)
    assert REFERENCE_TYPES <= set(types), types
    assert not set(VMNET_TYPES) & set(types), types
    for v in union["variants"]:
        assert idx[v["type"]]["meta-type"] == "object", v
    sock = {m["name"] for m in idx[[v["type"] for v in union["variants"]
                                    if v["case"] == "socket"][0]]["members"]}
    assert {"fd", "listen", "connect", "mcast", "localaddr", "udp"} <= sock
    # the events nethub sends
    for ev, members in (("NETDEV_STREAM_CONNECTED", {"netdev-id", "addr"}),
                        ("NETDEV_STREAM_DISCONNECTED", {"netdev-id"})):
        assert idx[ev]["meta-type"] == "event", idx.get(ev)
        got = {m["name"] for m in idx[idx[ev]["arg-type"]]["members"]}
        assert got == members, (ev, got)


# ---------------------------------------------------------------- fds

def tcp_pair():
    """A connected TCP socket pair (client end, accepted end)."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    cl = socket.create_connection(ls.getsockname(), timeout=10)
    srv, _ = ls.accept()
    ls.close()
    cl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return cl, srv


def test_getfd_socket_into_socket_netdev():
    d = daemon()
    c = d.c
    mine, theirs = tcp_pair()
    r = c.execute("getfd", {"fdname": "peerfd"}, id="g", fds=[mine.fileno()])
    assert_ok(r, {}, id="g")
    mine.close()            # the daemon has its own copy now
    ok(c, "netdev_add", {"id": "byfd", "type": "socket", "fd": "peerfd"})
    nd = qnetdev(c, "byfd")
    assert nd is not None and nd["type"] == "socket", nd
    peer = StreamPeer(theirs, name="byfd-peer")
    other = d.attach(d.vms_port)
    two_way(peer, other)
    # the name was consumed by the netdev
    err(c, "closefd", {"fdname": "peerfd"}, "GenericError",
        "File descriptor named 'peerfd' not found")
    # deleting the netdev closes the socket
    ok(c, "netdev_del", {"id": "byfd"})
    peer.expect_eof()


def test_getfd_without_fd():
    d = daemon()
    err(d.c, "getfd", {"fdname": "x"}, "GenericError",
        "No file descriptor supplied via SCM_RIGHTS")
    # the fd of an earlier message does not count for a later one
    mine, theirs = tcp_pair()
    nethub.at_cleanup(theirs.close)
    ok_r = d.c.execute("getfd", {"fdname": "a"}, fds=[mine.fileno()])
    assert_ok(ok_r, {})
    mine.close()
    err(d.c, "getfd", {"fdname": "b"}, "GenericError",
        "No file descriptor supplied via SCM_RIGHTS")


def test_getfd_name_starting_with_digit():
    d = daemon()
    base = fd_count(d.pid)
    for name in ("1x", "0", "9abc"):
        r, w = os.pipe()
        res = d.c.execute("getfd", {"fdname": name}, fds=[r])
        os.close(r)
        os.close(w)
        assert_error(res, "GenericError",
                     "Parameter 'fdname' expects a name not starting with "
                     "a digit")
    # the refused fds were closed, not kept
    poll(lambda: fd_count(d.pid) <= base, 5,
         what="nethubd back to %d open fds (has %d)"
         % (base, fd_count(d.pid)))


def test_getfd_replace_and_closefd_release_fds():
    d = daemon()
    c = d.c
    base = fd_count(d.pid)
    pipes = [os.pipe() for _ in range(3)]
    for r, w in pipes:
        ok_r = c.execute("getfd", {"fdname": "same"}, fds=[r])
        assert_ok(ok_r, {})
    # re-using the name closed the earlier ones: one extra fd
    assert fd_count(d.pid) == base + 1, (fd_count(d.pid), base)
    # the daemon holds the last read end: its writer sees no EPIPE
    os.write(pipes[2][1], b"x")
    ok(c, "closefd", {"fdname": "same"})
    assert fd_count(d.pid) == base
    for r, w in pipes:
        os.close(r)
        os.close(w)
    err(c, "closefd", {"fdname": "same"}, "GenericError",
        "File descriptor named 'same' not found")


def test_closefd_unknown():
    d = daemon()
    err(d.c, "closefd", {"fdname": "never"}, "GenericError",
        "File descriptor named 'never' not found")


def test_fds_are_per_connection():
    d = daemon()
    a = d.c
    b = d.qmp()
    mine, theirs = tcp_pair()
    nethub.at_cleanup(theirs.close)
    assert_ok(a.execute("getfd", {"fdname": "afd"}, fds=[mine.fileno()]), {})
    mine.close()
    err(b, "closefd", {"fdname": "afd"}, "GenericError",
        "File descriptor named 'afd' not found")
    err(b, "netdev_add", {"id": "viab", "type": "socket", "fd": "afd"},
        "GenericError", "File descriptor named 'afd' has not been found")
    assert qnetdev(b, "viab") is None
    # still there for its owner
    ok(a, "netdev_add", {"id": "viaa", "type": "socket", "fd": "afd"})
    # and a connection's fds go away with it
    base = fd_count(d.pid)
    c = d.qmp()
    r, w = os.pipe()
    assert_ok(c.execute("getfd", {"fdname": "gone"}, fds=[r]), {})
    os.close(r)
    assert fd_count(d.pid) >= base + 1
    c.close()
    poll(lambda: fd_count(d.pid) <= base, 5,
         what="the closed connection's fds released")
    os.close(w)


def test_fd_passed_with_a_failing_command_is_not_kept():
    d = daemon()
    base = fd_count(d.pid)
    r, w = os.pipe()
    res = d.c.execute("query-version", fds=[r])
    assert_ok(res)
    res = d.c.execute("no-such-command", fds=[r])
    assert_error(res, "CommandNotFound")
    os.close(r)
    os.close(w)
    poll(lambda: fd_count(d.pid) <= base, 5,
         what="stray passed fds closed (%d open, was %d)"
         % (fd_count(d.pid), base))


# ---------------------------------------------------------------- NIC commands

def test_query_rx_filter_without_nics():
    d = daemon()
    c = d.c
    assert ok(c, "query-rx-filter") == []
    err(c, "query-rx-filter", {"name": "nosuch"}, "GenericError",
        "invalid net client name: nosuch")
    err(c, "query-rx-filter", {"name": "vms"}, "GenericError",
        "net client(vms) isn't a NIC")


def test_announce_self_accepted():
    d = daemon()
    c = d.c
    a = d.attach(d.vms_port)
    assert ok(c, "announce-self", {"initial": 50, "max": 550, "rounds": 5,
                                   "step": 100}) == {}
    assert ok(c, "announce-self", {"initial": 0, "max": 10, "rounds": 1,
                                   "step": 0, "interfaces": ["vms"],
                                   "id": "bob"}) == {}
    assert ok(c, "announce-self", {"initial": 50, "max": 550, "rounds": 0,
                                   "step": 100, "id": "bob"}) == {}
    # no NIC: nothing is sent to peers
    a.expect_no_frame(0.5)


# ---------------------------------------------------------------- events

def check_inet_addr(ev, host, port):
    """@ev's data is {netdev-id, addr} with addr QEMU's InetSocketAddress
    of the peer: type inet, host, port as a string (QEMU 7.2 adds
    "ipv4": true; other optional members of the type are fine too)."""
    assert set(ev["data"]) == {"netdev-id", "addr"}, ev
    addr = ev["data"]["addr"]
    want = {"type": "inet", "host": host, "port": str(port)}
    assert {k: addr.get(k) for k in want} == want, (ev, want)
    extra = set(addr) - set(want)
    assert extra <= {"numeric", "to", "ipv4", "ipv6", "keep-alive",
                     "mptcp"}, ev


def test_stream_events_for_accepted_peers():
    d = daemon()
    c = d.c
    p = d.attach(d.vms_port)
    ev = c.wait_event("NETDEV_STREAM_CONNECTED")
    check_inet_addr(ev, "127.0.0.1", p.local[1])
    assert ev["data"]["netdev-id"] == p.port_name, ev
    q = d.attach(d.vms_port)
    ev = c.wait_event("NETDEV_STREAM_CONNECTED")
    assert ev["data"]["netdev-id"] == q.port_name, ev
    assert ev["data"]["netdev-id"] != p.port_name
    p.close()
    ev = c.wait_event("NETDEV_STREAM_DISCONNECTED")
    assert ev["data"] == {"netdev-id": p.port_name}, ev
    ok(c, "netdev_del", {"id": "vms"})
    q.expect_eof()
    c.expect_no_event("NETDEV_STREAM_CONNECTED", 0.3)


def test_stream_events_for_connect_netdev():
    d = daemon()
    c = d.c
    lst = TcpListener()
    ok(c, "netdev_add", {"id": "out", "type": "socket",
                         "connect": "127.0.0.1:%d" % lst.port})
    peer = lst.accept()
    ev = c.wait_event("NETDEV_STREAM_CONNECTED")
    data = ev["data"]
    assert data["netdev-id"].startswith("out"), ev
    check_inet_addr(ev, "127.0.0.1", lst.port)
    peer.close()
    ev = c.wait_event("NETDEV_STREAM_DISCONNECTED")
    assert ev["data"] == {"netdev-id": data["netdev-id"]}, ev


# ---------------------------------------------------------------- quit

def test_quit_answers_then_daemon_exits_0():
    d = daemon()
    c = d.c
    other = d.qmp()
    a = d.attach(d.vms_port)
    r = c.execute("quit", id="bye")
    assert r == {"return": {}, "id": "bye"}, r
    assert d.wait_exit() == 0, d.log()
    assert not os.path.exists(d.qmp_path)
    assert not os.path.exists(d.pidfile)
    c.expect_eof()
    other.expect_eof()
    a.expect_eof()


def test_quit_in_negotiation_mode_is_refused():
    d = daemon()
    c = d.qmp(negotiate=False)
    r = c.execute("quit")
    assert_error(r, "CommandNotFound",
                 "Expecting capabilities negotiation with 'qmp_capabilities'")
    time.sleep(0.2)
    assert d.alive()


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
