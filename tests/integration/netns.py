# SPDX-License-Identifier: MIT
"""netns.py - network namespaces, links and bridges made by a test, always
removed when the test ends (Python 3 stdlib only; needs root and iproute2)

  a = Netns("a")                     # "nh<pid>-a", deleted at cleanup
  a.take("nt1234a", "10.213.1.1/24")  # move a link in, address it, up
  a.run("ping", "-c", "1", "10.213.1.2")
  br = bridge("nhbr1234")            # a Linux bridge in our namespace
  link_name("a")                     # an interface name unique to this run

Addresses used by the tests are in 10.213.0.0/16 (private), only ever
inside namespaces the tests made.
"""

import itertools
import json
import os
import subprocess

import nethub

_PID = os.getpid() % 100000
_links = itertools.count(1)


def link_name(tag):
    """An interface name never used before in this run: "nt", the pid, a
    counter and @tag, at most 15 bytes.  Names are not reused because a
    tap whose nethubd was killed may linger a moment (the kernel tears its
    io_uring down in the background)."""
    name = "nt%d%d%s" % (_PID, next(_links) % 1000, tag)
    if len(name) > 15:
        raise ValueError("interface name %r is too long" % name)
    return name


def ip(*args, check=True, ns=None):
    """Run ip(8), in namespace @ns if given; the CompletedProcess."""
    cmd = ["ip"] + (["-n", ns] if ns else []) + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (" ".join(cmd),
                                                  p.returncode,
                                                  p.stderr.strip()))
    return p


def link_exists(name, ns=None):
    return ip("link", "show", "dev", name, check=False, ns=ns).returncode == 0


def link_info(name, ns=None):
    """ip -j link show NAME: the link's JSON object (flags, mtu, master)."""
    p = ip("-j", "link", "show", "dev", name, ns=ns)
    return json.loads(p.stdout)[0]


class Netns:
    """A network namespace for one test, with lo up; deleted at cleanup
    (its links go with it, moved taps included)."""

    def __init__(self, tag):
        self.name = "nh%d-%s" % (_PID, tag)
        subprocess.run(["ip", "netns", "del", self.name],
                       capture_output=True)
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        nethub.at_cleanup(self.delete)
        self.ip("link", "set", "lo", "up")

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name],
                       capture_output=True)

    def ip(self, *args, check=True):
        return ip(*args, check=check, ns=self.name)

    def argv(self, *cmd):
        return ["ip", "netns", "exec", self.name] + [str(c) for c in cmd]

    def run(self, *cmd, check=True, timeout=60):
        """Run @cmd in the namespace; the CompletedProcess (text)."""
        p = subprocess.run(self.argv(*cmd), capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d\n%s%s" % (
                " ".join(self.argv(*cmd)), p.returncode, p.stdout,
                p.stderr))
        return p

    def popen(self, *cmd, **kw):
        """Start @cmd in the namespace; killed at cleanup."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(self.argv(*cmd), **kw)

        def stop():
            if p.poll() is None:
                p.kill()
            p.wait(10)
        nethub.at_cleanup(stop)
        return p

    def snmp(self, proto, field):
        """A counter of /proc/net/snmp in the namespace, e.g. ("Tcp",
        "InCsumErrors")."""
        lines = [ln.split() for ln in self.run("cat", "/proc/net/snmp")
                 .stdout.splitlines() if ln.startswith(proto + ":")]
        return int(lines[1][lines[0].index(field)])

    def take(self, link, addr=None, mtu=None, up=True):
        """Move @link (in our namespace) in here; give it @addr and
        @mtu; bring it up."""
        ip("link", "set", "dev", link, "netns", self.name)
        if mtu:
            self.ip("link", "set", "dev", link, "mtu", mtu)
        if addr:
            self.ip("addr", "add", addr, "dev", link)
        if up:
            self.ip("link", "set", "dev", link, "up")

    def ping_ok(self, addr, timeout=15.0):
        """Wait until @addr answers one ping, then 5 more must all be
        answered."""
        nethub.poll(lambda: self.run("ping", "-c", "1", "-W", "1", addr,
                                     check=False).returncode == 0,
                    timeout, what="%s to answer a ping from %s"
                    % (addr, self.name))
        self.run("ping", "-c", "5", "-i", "0.2", "-W", "2", addr)

    def ping_fails(self, addr, count=3, size=None):
        args = ["ping", "-c", count, "-i", "0.2", "-W", "1"]
        if size:
            args += ["-M", "do", "-s", size]
        p = self.run(*args, addr, check=False)
        assert p.returncode != 0, "ping %s from %s got an answer:\n%s" % (
            addr, self.name, p.stdout)


def bridge(name):
    """A Linux bridge in our namespace, up; deleted at cleanup."""
    ip("link", "del", "dev", name, check=False)
    ip("link", "add", "name", name, "type", "bridge")
    nethub.at_cleanup(lambda: ip("link", "del", "dev", name, check=False))
    ip("link", "set", "dev", name, "up")
    return name


def veth(name, peer):
    """A veth pair in our namespace; deleted at cleanup."""
    ip("link", "del", "dev", name, check=False)
    ip("link", "add", "name", name, "type", "veth", "peer", "name", peer)
    nethub.at_cleanup(lambda: ip("link", "del", "dev", name, check=False))
    return name, peer


def iperf3(server, client, addr, seconds=2, port=5201, extra=()):
    """Run an iperf3 TCP test from namespace @client to @server (listening
    on @addr); the received rate in bit/s."""
    srv = server.popen("iperf3", "-s", "-1", "-p", port)
    last = None
    for _ in range(50):
        p = client.run("iperf3", "-c", addr, "-p", port, "-t", seconds,
                       "-J", *extra, check=False, timeout=seconds + 60)
        try:
            res = json.loads(p.stdout)
        except ValueError:
            res = {"error": "no JSON: " + p.stdout + p.stderr}
        last = res.get("error")
        if not last and p.returncode == 0:
            srv.wait(20)
            return res["end"]["sum_received"]["bits_per_second"]
        # the server may not listen yet (iperf3 -J says so with status 0)
        if "Connection refused" not in last:
            break
        nethub.time.sleep(0.1)
    raise AssertionError("iperf3 from %s to %s failed: %s"
                         % (client.name, addr, last))
