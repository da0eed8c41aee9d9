#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_user.py - the user netdev (libslirp): a network namespace on a tap
port of the same hub plays the guest.  It gets a DHCP lease from busybox
udhcpc, pings the gateway, reaches a TCP service the test runs on the
host's loopback through 10.0.2.2, resolves a name through 10.0.2.3, gets an
IPv6 address from slirp's router advertisements; host ports forwarded to it
(hostfwd=, hostfwd_add/hostfwd_remove) return its banner; restrict=on cuts
it off while guestfwd cmd: still reaches a command; two user netdevs on
two hubs are independent; bad options are clear errors that disturb
nothing.  Needs root, iproute2, busybox and unshare.

DNS: slirp forwards 10.0.2.3 to the first nameserver of the host's
/etc/resolv.conf.  The daemon runs in a mount namespace whose
/etc/resolv.conf names a loopback address where the test answers from the
host's /etc/hosts, so the name resolves offline."""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qmp as qmplib  # noqa: E402
from nethub import Nethubd, free_port, poll  # noqa: E402
from netns import Netns, link_name  # noqa: E402

GATEWAY = "10.0.2.2"
DNS = "10.0.2.3"
FIRST_LEASE = "10.0.2.15"
GATEWAY6 = "fec0::2"
DNS_UPSTREAM = "127.83.0.1"     # the test's name server (loopback)
BANNER = b"SSH-2.0-nethub-test-guest\r\n"
HOST_BANNER = b"hello from the host's loopback\n"

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
bound|renew)
	ip addr flush dev "$interface" scope global
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route replace default via "$router"
	;;
esac
exit 0
"""


# ---------------------------------------------------------------- helpers

def tap_args(nid, ifname):
    return ["-netdev", "tap,id=%s,ifname=%s,script=no,downscript=no"
            % (nid, ifname)]


def guest(tag, ifname):
    """A namespace with the tap @ifname in it, up, no address yet."""
    ns = Netns(tag)
    ns.take(ifname)
    return ns


def dhcp(ns, ifname):
    """busybox udhcpc in @ns: the address it got."""
    d = nethub.tmpdir()
    script = os.path.join(d, "udhcpc.sh")
    with open(script, "w") as f:
        f.write(UDHCPC_SCRIPT)
    os.chmod(script, 0o755)
    p = ns.run("busybox", "udhcpc", "-i", ifname, "-n", "-q", "-f", "-t",
               "10", "-T", "2", "-s", script, timeout=60)
    m = re.search(r"lease of ([0-9.]+) obtained", p.stdout + p.stderr)
    if m:
        return m.group(1)
    raise AssertionError("udhcpc got no lease:\n%s%s" % (p.stdout, p.stderr))


def user_info(d, nid):
    for nd in d.qmp_cmd("query-netdevs"):
        if nd["id"] == nid:
            return nd["info"]
    raise AssertionError("no netdev %s" % nid)


def mac_of(ns, ifname):
    return ns.run("cat", "/sys/class/net/%s/address" % ifname).stdout.strip()


class HostService:
    """A TCP server on the host's loopback: each connection gets @banner."""

    def __init__(self, banner=HOST_BANNER):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.banner = banner
        threading.Thread(target=self._serve, daemon=True).start()
        nethub.at_cleanup(self.sock.close)

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                c.sendall(self.banner)
            finally:
                c.close()


class HostsDns:
    """A name server on DNS_UPSTREAM:53 answering A queries from the host's
    /etc/hosts (other queries: an empty answer)."""

    def __init__(self):
        self.names = {}
        with open("/etc/hosts") as f:
            for line in f:
                words = line.split("#")[0].split()
                if len(words) >= 2 and "." in words[0] and \
                        ":" not in words[0]:
                    for n in words[1:]:
                        self.names.setdefault(n.lower(), words[0])
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((DNS_UPSTREAM, 53))
        threading.Thread(target=self._serve, daemon=True).start()
        nethub.at_cleanup(self.sock.close)

    def _serve(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(512)
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(q), peer)
            except (OSError, ValueError, IndexError, struct.error):
                pass

    def _answer(self, q):
        ident, flags = struct.unpack("!HH", q[:4])
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        question = q[12:i + 5]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        addr = self.names.get(name)
        answers = b""
        if addr and qtype == 1:
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + \
                socket.inet_aton(addr)
        rcode = 0 if addr else 3
        hdr = struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1,
                          1 if answers else 0, 0, 0)
        return hdr + question + answers


def in_resolv_ns(d, resolv_dir):
    """Run daemon @d in a mount namespace whose /etc/resolv.conf names
    DNS_UPSTREAM (the host's file is untouched)."""
    conf = os.path.join(resolv_dir, "resolv.conf")
    with open(conf, "w") as f:
        f.write("nameserver %s\n" % DNS_UPSTREAM)
    d.args = [shutil.which("unshare"), "-m", "sh", "-c",
              'mount --bind "$0" /etc/resolv.conf && exec "$@"',
              conf] + d.args
    return d


def nc(ns, addr, port, timeout=5):
    """Connect from @ns to @addr:@port with busybox nc; what it read."""
    p = ns.run("busybox", "timeout", str(timeout), "busybox", "nc", addr,
               str(port), check=False, timeout=timeout + 30)
    return p.stdout


def guest_listener(ns, port, banner=BANNER):
    """A TCP server in @ns on @port that sends @banner to each client."""
    code = ("import socket\n"
            "s = socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', %d))\n"
            "s.listen(8)\n"
            "print('listening', flush=True)\n"
            "while True:\n"
            "    c, _ = s.accept()\n"
            "    c.sendall(%r)\n"
            "    c.close()\n" % (port, banner))
    p = ns.popen("python3", "-c", code, stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == b"listening"
    return p


def host_read(port, timeout=5.0):
    """Connect to 127.0.0.1:@port and read until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk


def host_refused(port):
    try:
        host_read(port, timeout=3)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    except OSError:
        return False
    return False


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


# ---------------------------------------------------------------- tests

def test_guest_gets_lease_gateway_host_service_dns_ipv6_and_hostfwd():
    ifname = link_name("g")
    hport, hport_b = free_port(), free_port()
    dns = HostsDns()
    svc = HostService()
    d = Nethubd("-netdev",
                "user,id=u,hostfwd=tcp:127.0.0.1:%d-:2222,"
                "hostfwd=tcp:127.0.0.1:%d-:2222" % (hport, hport_b),
                *tap_args("t", ifname), qmp=True)
    in_resolv_ns(d, d.dir).start()
    ns = guest("g", ifname)

    # DHCP: the first address of the pool, and slirp's lease is listed
    assert dhcp(ns, ifname) == FIRST_LEASE
    ns.ping_ok(GATEWAY)
    leases = user_info(d, "u")["leases"]
    assert [(x["mac"], x["ip"]) for x in leases] == \
        [(mac_of(ns, ifname), FIRST_LEASE)], leases

    # the gateway is the host: its loopback service answers
    assert nc(ns, GATEWAY, svc.port).encode() == HOST_BANNER
    assert svc.accepted == 1

    # the DNS forwarder reaches the host's name server
    p = ns.run("busybox", "nslookup", "localhost", DNS, check=False,
               timeout=30)
    assert "127.0.0.1" in p.stdout, p.stdout + p.stderr
    assert ("localhost", 1) in dns.queries, dns.queries

    # hostfwd= from the command line (the key repeated, as in QEMU): the
    # host reaches the guest's banner through each
    guest_listener(ns, 2222)
    assert host_read(hport) == BANNER
    assert host_read(hport_b) == BANNER

    # hostfwd_add / hostfwd_remove at run time
    hport2 = free_port()
    rule = "tcp:127.0.0.1:%d-%s:2222" % (hport2, FIRST_LEASE)
    d.qmp_cmd("hostfwd_add", {"id": "u", "rule": rule})
    assert host_read(hport2) == BANNER
    fwd = user_info(d, "u")["hostfwd"]
    assert [(f["host-port"], f["guest-addr"]) for f in fwd] == \
        [(hport, FIRST_LEASE), (hport_b, FIRST_LEASE),
         (hport2, FIRST_LEASE)], fwd
    try:
        d.qmp_cmd("hostfwd_add", {"id": "u", "rule": rule})
        raise AssertionError("the same host port was forwarded twice")
    except qmplib.QMPError as e:
        assert e.desc.startswith("Could not set up host forwarding rule "
                                 "'%s'" % rule), e.desc
    d.qmp_cmd("hostfwd_remove",
              {"id": "u", "rule": "tcp:127.0.0.1:%d" % hport2})
    assert host_refused(hport2)
    assert host_read(hport) == BANNER   # the other one stays
    try:
        d.qmp_cmd("hostfwd_remove",
                  {"id": "u", "rule": "tcp:127.0.0.1:%d" % hport2})
        raise AssertionError("a removed rule was removed again")
    except qmplib.QMPError as e:
        assert e.desc == "host forwarding rule for tcp:127.0.0.1:%d not " \
            "found" % hport2, e.desc

    # IPv6: an address in fec0::/64 from slirp's router advertisements
    def slaac():
        out = ns.ip("-6", "addr", "show", "dev", ifname).stdout
        return "fec0::" in out and "tentative" not in out
    poll(slaac, 30, interval=0.5, what="a SLAAC address in fec0::/64")
    ns.run("ping", "-6", "-c", "3", "-i", "0.3", "-W", "2", GATEWAY6)

    # frames from slirp were learned and counted like any port's
    p = nethub.port(d.state(), "u")
    nethub.check_port_accounting(p)
    assert p["stats"]["rx-forwarded"] > 0, p
    d.stop_clean()


def test_restrict_and_guestfwd_on_two_independent_hubs():
    ia, ib = link_name("a"), link_name("b")
    svc = HostService()
    d = Nethubd("--allow-run",
                "-netdev", "user,id=ua",
                "-netdev", "hubport,id=ha,hubid=1,netdev=ua",
                "-netdev", "user,id=ub,restrict=on,"
                "guestfwd=tcp:10.0.2.100:4444-cmd:echo guestfwd-reached",
                "-netdev", "hubport,id=hb,hubid=2,netdev=ub",
                *tap_args("ta", ia),
                "-netdev", "hubport,id=hta,hubid=1,netdev=ta",
                *tap_args("tb", ib),
                "-netdev", "hubport,id=htb,hubid=2,netdev=tb",
                qmp=True).start()
    a, b = guest("a", ia), guest("b", ib)
    # each hub has its own slirp: both guests get the first address
    assert dhcp(a, ia) == FIRST_LEASE
    assert dhcp(b, ib) == FIRST_LEASE
    assert [x["mac"] for x in user_info(d, "ua")["leases"]] == \
        [mac_of(a, ia)]
    assert [x["mac"] for x in user_info(d, "ub")["leases"]] == \
        [mac_of(b, ib)]

    # unrestricted: the host's service; restricted: not
    assert nc(a, GATEWAY, svc.port).encode() == HOST_BANNER
    assert nc(b, GATEWAY, svc.port, timeout=4) == ""
    assert svc.accepted == 1
    # but the restricted guest's guestfwd still runs the command
    assert nc(b, "10.0.2.100", 4444).strip() == "guestfwd-reached"
    assert user_info(d, "ub")["guestfwd"] == \
        ["tcp:10.0.2.100:4444-cmd:echo guestfwd-reached"]
    assert user_info(d, "ub")["restrict"] is True
    d.stop_clean()


def test_bad_options_are_clear_errors_that_disturb_nothing():
    ifname = link_name("e")
    hport = free_port()
    d = Nethubd("-netdev", "user,id=u,hostfwd=tcp:127.0.0.1:%d-:22" % hport,
                *tap_args("t", ifname), qmp=True).start()
    ns = guest("e", ifname)
    ns.ip("addr", "add", "10.0.2.20/24", "dev", ifname)
    ns.ping_ok(GATEWAY)
    smbd = os.path.exists("/usr/sbin/smbd")
    cases = [
        ({"net": "10.0.2.0/40"},
         "Invalid netmask provided (must be in range 4-32)"),
        ({"net": "10.0.x.0/24"}, "Failed to parse netmask"),
        ({"net": "10.9.0.0/16", "dhcpstart": "10.0.2.15"},
         "DHCP doesn't belong to network"),
        ({"net": "10.9.0.0/16", "host": "10.9.0.3", "dns": "10.9.0.3"},
         "DNS must be different from host"),
        ({"net": "10.9.0.0/16", "host": "10.0.2.2"},
         "Host doesn't belong to network"),
        ({"ipv4": False, "ipv6": False}, "IPv4 and IPv6 disabled"),
        ({"ipv6-prefixlen": 127},
         "Invalid IPv6 prefix provided (IPv6 prefix length must be "
         "between 0 and 126)"),
        ({"net": "10.9.0.0/16", "hostfwd": [{"str": "tcp:127.0.0.1:x-:22"}]},
         "Invalid host forwarding rule 'tcp:127.0.0.1:x-:22' (Bad host "
         "port)"),
        ({"net": "10.9.0.0/16", "hostfwd": [{"str": "icmp::1-:2"}]},
         "Invalid host forwarding rule 'icmp::1-:2' (Bad protocol name)"),
        ({"net": "10.9.0.0/16", "hostfwd": [{"str": "tcp::1:2"}]},
         "Invalid host forwarding rule 'tcp::1:2' (Bad host port "
         "separator)"),
        ({"net": "10.9.0.0/16",
          "hostfwd": [{"str": "tcp:127.0.0.1:%d-:22" % hport}]},
         "Could not set up host forwarding rule 'tcp:127.0.0.1:%d-:22': "
         "Address already in use" % hport),
        ({"net": "10.9.0.0/16", "guestfwd": [{"str": "tcp:10.9.0.9:80"}]},
         "Invalid guest forwarding rule 'tcp:10.9.0.9:80'"),
        ({"net": "10.9.0.0/16",
          "guestfwd": [{"str": "tcp:10.9.0.9:80-chardev0"}]},
         "guestfwd 'tcp:10.9.0.9:80-chardev0': forwarding to a chardev "
         "('chardev0') is not supported by nethub; use cmd:COMMAND"),
        ({"net": "10.9.0.0/16",
          "guestfwd": [{"str": "tcp:10.9.0.9:80-cmd:true"}]},
         "guestfwd: 'cmd:' runs a program for each connection, and "
         "running programs is disabled (start nethubd with --allow-run)"),
        ({"net": "10.9.0.0/16", "smb": "/tmp"},
         "smb: smbd is a program run" if smbd else
         "could not find '/usr/sbin/smbd', please install it"),
        ({}, "net=10.0.2.0/24 overlaps the network 10.0.2.0/24 of user "
         "netdev 'u' on hub 0"),
        ({"net": "10.0.0.0/8"}, "net=10.0.0.0/8 overlaps the network "
         "10.0.2.0/24 of user netdev 'u' on hub 0"),
    ]
    c = d.qmp()
    for i, (opts, want) in enumerate(cases):
        args = dict(opts, type="user", id="bad%d" % i)
        r = c.execute("netdev_add", args)
        assert "error" in r and r["error"]["desc"].startswith(want), \
            "%r -> %r, want %r" % (opts, r, want)
    ids = [nd["id"] for nd in d.qmp_cmd("query-netdevs")]
    assert ids == ["u", "t"], ids
    # the running one was not disturbed, and a good second one works
    ns.ping_ok(GATEWAY)
    d.qmp_cmd("netdev_add", {"type": "user", "id": "u2",
                             "net": "10.9.0.0/16"})
    assert user_info(d, "u2")["dhcpstart"] == "10.9.2.15"
    d.qmp_cmd("netdev_del", {"id": "u2"})
    # errors of the run-time commands
    for cmd, args, want in [
        ("hostfwd_add", {"id": "nope", "rule": "tcp::1-:2"},
         "Device 'nope' not found"),
        ("hostfwd_add", {"id": "t", "rule": "tcp::1-:2"},
         "netdev 't' is not a user netdev"),
        ("hostfwd_add", {"id": "u", "rule": "tcp::1-:"},
         "Invalid host forwarding rule 'tcp::1-:' (Bad guest port)"),
        ("hostfwd_remove", {"id": "u", "rule": "tcp:1"},
         "invalid format: 'tcp:1'"),
    ]:
        r = c.execute(cmd, args)
        assert "error" in r and r["error"]["desc"].startswith(want), \
            "%s %r -> %r" % (cmd, args, r)
    ns.ping_ok(GATEWAY)

    # idle: slirp wakes nethubd at most once a second, it never spins
    time.sleep(1)
    t0 = cpu_ticks(d.pid)
    time.sleep(3)
    used = cpu_ticks(d.pid) - t0
    hz = os.sysconf("SC_CLK_TCK")
    assert used <= hz * 0.15, "idle nethubd used %d ticks in 3 s" % used
    d.stop_clean()


if __name__ == "__main__":
    nethub.main(globals())
