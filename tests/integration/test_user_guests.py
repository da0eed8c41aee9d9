#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_user_guests.py - two QEMU guests (TCG, the busybox test guest) on
one hub with one user netdev: one slirp for the whole hub, so they get
distinct DHCP leases (QEMU's per-VM slirp would give both 10.0.2.15),
both reach the gateway, resolve a name through slirp's DNS forwarder (to
a name server the test runs, answering from the host's /etc/hosts) and
reach a TCP service on the host's loopback through 10.0.2.2, and
query-netdevs lists both leases.  The guests
boot once, in parallel.  Needs root, qemu-system-x86 and the guest image
(tests/integration/guest)."""

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import qemu_guest  # noqa: E402
from nethub import Nethubd, free_port  # noqa: E402
from test_user import (HOST_BANNER, HostService, HostsDns,  # noqa: E402
                       in_resolv_ns)

MACS = {"ga": "52:54:00:12:34:01", "gb": "52:54:00:12:34:02"}


def lease(g):
    """udhcpc in guest @g (no script: the address is only reported); the
    address it was offered and acknowledged."""
    rc, out = g.run("udhcpc -i eth0 -n -q -t 10 -T 2 -s /bin/true",
                    timeout=60)
    m = re.search(r"lease of ([0-9.]+) obtained", out)
    assert rc == 0 and m, "%s: udhcpc: rc %d\n%s" % (g.name, rc, out)
    return m.group(1)


def test_two_guests_get_leases_gateway_dns_and_host_service():
    _, kernel, initrd = qemu_guest.prerequisites()
    port = free_port()
    dns = HostsDns()
    svc = HostService()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                "-netdev", "user,id=u", qmp=True)
    in_resolv_ns(d, d.dir).start()
    work = tempfile.mkdtemp(prefix="nethub-user-guests-")
    guests = []
    for name, mac in sorted(MACS.items()):
        g = qemu_guest.Guest(name, work, kernel=kernel, initrd=initrd,
                             netdev="socket,connect=127.0.0.1:%d" % port,
                             mac=mac)
        nethub.at_cleanup(g.kill)
        g.start()
        guests.append(g)
    for g in guests:
        g.wait_ready()
    got = {}
    for g in guests:
        got[g.name] = lease(g)
        rc, out = g.run("ip addr add %s/24 dev eth0 && "
                        "ping -c 2 -W 5 10.0.2.2" % got[g.name], timeout=60)
        assert rc == 0, "%s: ping 10.0.2.2:\n%s" % (g.name, out)
        rc, out = g.run("busybox nslookup localhost 10.0.2.3", timeout=60)
        assert "127.0.0.1" in out, "%s: nslookup:\n%s" % (g.name, out)
        rc, out = g.run("busybox timeout 10 busybox nc 10.0.2.2 %d"
                        % svc.port, timeout=60)
        assert HOST_BANNER.decode().strip() in out, \
            "%s: nc 10.0.2.2:\n%s" % (g.name, out)
    assert sorted(got.values()) == ["10.0.2.15", "10.0.2.16"], got
    info = next(n["info"] for n in d.qmp_cmd("query-netdevs")
                if n["id"] == "u")
    leases = {x["mac"]: x["ip"] for x in info["leases"]}
    assert leases == {MACS[n]: ip for n, ip in got.items()}, leases
    assert svc.accepted == 2, svc.accepted
    assert ("localhost", 1) in dns.queries, dns.queries
    for g in guests:
        g.poweroff()
    d.stop_clean()


if __name__ == "__main__":
    nethub.main(globals())
