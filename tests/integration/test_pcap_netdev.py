#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_pcap_netdev.py - the pcap netdev: a veth end joined live through
libpcap (ping across to a tap in another namespace, counters equal to the
far end's, injected frames not read back, MTU, filter, pcap stats), and
capture files replayed into a hub towards a UDP socket peer (every frame in
order at rate=0, rate=N and the capture's timing take their time, loop=on
starts over, filter selects, frames sent to a replay port are counted
no-peer, netdev_del mid-replay), and the errors.  Needs root, iproute2 and
iputils-ping; the capture files are written here in the classic pcap
format (test input only)."""

import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
import netns  # noqa: E402
import qmp as qmplib  # noqa: E402
from nethub import Nethubd, UdpPeer, eth, free_port, poll  # noqa: E402
from netns import Netns, link_name  # noqa: E402

BROADCAST = "ff:ff:ff:ff:ff:ff"
SRC = "02:4e:48:aa:00:01"
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_TEST = 0x88B5

_subnet = [100]


def subnet():
    _subnet[0] += 1
    p = "10.213.%d" % _subnet[0]
    return p + ".1", p + ".2"


# ---------------------------------------------------------------- helpers

def write_pcap(path, frames, times=None, linktype=1, snaplen=65535,
               cut=None):
    """A classic pcap file (microsecond timestamps) of @frames, the i-th
    stamped @times[i] seconds (default 1 ms apart); @cut: (i, n) stores
    only n bytes of frame i, as a short snap length does."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen,
                            linktype))
        for i, fr in enumerate(frames):
            t = 1700000000 + (times[i] if times else i * 0.001)
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            data = fr[:cut[1]] if cut and cut[0] == i else fr
            f.write(struct.pack("<IIII", sec, usec, len(data), len(fr)))
            f.write(data)
    nethub.at_cleanup(lambda: os.path.exists(path) and os.unlink(path))
    return path


def numbered(n, ethertype=ETH_P_TEST, dst=BROADCAST, size=60):
    """@n distinct frames carrying their index."""
    out = []
    for i in range(n):
        payload = b"pcap-replay %06d " % i
        payload += bytes(max(0, size - 14 - len(payload)))
        out.append(eth(dst, SRC, payload, ethertype=ethertype))
    return out


def tmpfile(name):
    d = nethub.tmpdir()
    return os.path.join(d, name)


def info(d, nid):
    nd = nethub.netdev(d.state(), nid)
    assert nd is not None, "no netdev %s" % nid
    return nd["info"]


def replay_hub(pcap_opts, qmp=False, pcap_first=False):
    """nethubd with a UDP socket netdev towards a UdpPeer and a pcap
    replay netdev "rp" (given after it, so nothing is replayed before the
    socket port exists); returns (daemon, peer)."""
    peer = UdpPeer()
    local = free_port("udp")
    udp = ["-netdev", "socket,id=u,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d"
           % (peer.port, local)]
    rp = ["-netdev", "pcap,id=rp," + pcap_opts] if pcap_opts else []
    args = rp + udp if pcap_first else udp + rp
    d = Nethubd(*args, qmp=qmp).start()
    peer.to(local)
    return d, peer


def recv_all(peer, n, timeout=10.0):
    """@n frames and the monotonic time each arrived."""
    got, when = [], []
    for _ in range(n):
        got.append(peer.expect_frame(timeout))
        when.append(time.monotonic())
    return got, when


def expect_cli_error(netdev_arg, text):
    rc, out, err = nethub.run_cli("-netdev", netdev_arg)
    assert rc == 1, "status %d for -netdev %s\n%s" % (rc, netdev_arg, err)
    want = "nethubd: -netdev %s: %s" % (netdev_arg, text)
    assert want in err, "want %r in:\n%s" % (want, err)


# ---------------------------------------------------------------- replay

def test_replay_rate0_delivers_every_frame_in_order():
    frames = numbered(300)
    path = write_pcap(tmpfile("r0.pcap"), frames)
    d, peer = replay_hub("file=%s,rate=0" % path)
    got, _ = recv_all(peer, len(frames))
    for i, (g, w) in enumerate(zip(got, frames)):
        nethub.assert_frame(g, w, "frame %d" % i)
    peer.expect_no_frame(0.5)
    st = d.wait_state(lambda s: nethub.netdev(s, "rp")["info"]["finished"],
                      what="the replay to finish")
    inf = nethub.netdev(st, "rp")["info"]
    assert inf["mode"] == "replay" and inf["file"] == path, inf
    assert inf["frames-replayed"] == 300 and inf["loops"] == 1, inf
    assert inf["rate"] == 0 and inf["loop"] is False, inf
    p = nethub.port(st, "rp")
    assert nethub.stat(p, "rx-frames") == 300, p
    assert nethub.stat(p, "rx-bytes") == sum(len(f) for f in frames), p
    nethub.check_port_accounting(p)
    assert nethub.stat(nethub.port(st, "u"), "tx-frames") == 300
    # a finished replay keeps its port
    assert nethub.port_names(st, "rp") == ["rp"], st
    d.stop_clean()


def test_replay_rate_n_takes_its_time():
    n, rate = 60, 50            # 59 gaps of 20 ms: 1.18 s
    frames = numbered(n)
    path = write_pcap(tmpfile("rn.pcap"), frames)
    d, peer = replay_hub("file=%s,rate=%d" % (path, rate))
    got, when = recv_all(peer, n)
    took = when[-1] - when[0]
    assert 0.8 <= took <= 6.0, "60 frames at 50/s took %.2fs" % took
    for g, w in zip(got, frames):
        nethub.assert_frame(g, w)
    d.stop_clean()


def test_replay_keeps_the_capture_timing():
    frames = numbered(6)
    times = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    path = write_pcap(tmpfile("ts.pcap"), frames, times=times)
    d, peer = replay_hub("file=%s" % path)
    got, when = recv_all(peer, len(frames))
    took = when[-1] - when[0]
    assert 0.8 <= took <= 5.0, "1 s of capture took %.2fs" % took
    # each 200 ms gap kept (the median: a loaded machine may hold one
    # frame back and shorten the gap after it)
    gaps = sorted(b - a for a, b in zip(when, when[1:]))
    gap = gaps[len(gaps) // 2]
    assert gap >= 0.1, "200 ms gaps became %s" % \
        ", ".join("%.3fs" % g for g in gaps)
    for g, w in zip(got, frames):
        nethub.assert_frame(g, w)
    d.stop_clean()


def test_replay_loop_and_netdev_del_mid_replay():
    frames = numbered(10)
    path = write_pcap(tmpfile("loop.pcap"), frames)
    d, peer = replay_hub("file=%s,rate=200,loop=on" % path, qmp=True)
    got, _ = recv_all(peer, 25)
    for i, g in enumerate(got):
        nethub.assert_frame(g, frames[i % 10], "frame %d" % i)
    inf = info(d, "rp")
    assert inf["loops"] >= 2 and inf["finished"] is False, inf
    assert inf["frames-replayed"] >= 25, inf
    d.qmp_cmd("netdev_del", id="rp")
    st = d.wait_state(lambda s: nethub.netdev(s, "rp") is None,
                      what="rp to go")
    assert [n["id"] for n in st["netdevs"]] == ["u"], st
    time.sleep(0.2)
    peer.drain()
    peer.expect_no_frame(0.6)
    # the same file replays again under the same id
    d.qmp_cmd("netdev_add", type="pcap", id="rp", file=path, rate=0)
    got, _ = recv_all(peer, 10)
    for g, w in zip(got, frames):
        nethub.assert_frame(g, w)
    d.stop_clean()


def test_replay_as_fast_as_possible_never_starves_the_loop():
    frames = numbered(64)
    path = write_pcap(tmpfile("fast.pcap"), frames)
    d = Nethubd("-netdev", "pcap,id=rp,file=%s,rate=0,loop=on" % path,
                qmp=True).start()
    c = d.qmp()
    seen = []
    for _ in range(10):
        t0 = time.monotonic()
        nd = [n for n in c.cmd("query-netdevs") if n["id"] == "rp"]
        took = time.monotonic() - t0
        assert took < 2.0, "query-netdevs took %.2fs during a replay" % took
        seen.append(nd[0]["info"]["frames-replayed"])
        time.sleep(0.05)
    assert seen[-1] > seen[0] > 0 and seen[-1] > 10 * 64, seen
    st = d.state()
    p = nethub.port(st, "rp")
    nethub.check_port_accounting(p)
    # alone on its hub: every frame is a counted no-dest drop
    assert nethub.rx_drops(p, "no-dest") == nethub.stat(p, "rx-frames"), p
    d.qmp_cmd("netdev_del", id="rp")
    d.stop_clean()


def test_replay_filter_selects():
    frames = []
    for i in range(40):
        et = ETH_P_ARP if i % 4 == 0 else ETH_P_TEST
        frames += numbered(1, ethertype=et)
    want = [f for f in frames if f[12:14] == b"\x08\x06"]
    path = write_pcap(tmpfile("flt.pcap"), frames)
    d, peer = replay_hub("file=%s,rate=0,filter=arp" % path)
    got, _ = recv_all(peer, len(want))
    for g, w in zip(got, want):
        nethub.assert_frame(g, w)
    peer.expect_no_frame(0.5)
    st = d.wait_state(lambda s: nethub.netdev(s, "rp")["info"]["finished"],
                      what="the replay to finish")
    inf = nethub.netdev(st, "rp")["info"]
    assert inf["frames-replayed"] == 10 and inf["frames-skipped"] == 30, inf
    assert inf["filter"] == "arp", inf
    d.stop_clean()


def test_replay_counts_cut_records_and_frames_sent_to_it():
    frames = numbered(5)
    path = write_pcap(tmpfile("cut.pcap"), frames, cut=(2, 30))
    d, peer = replay_hub("file=%s,rate=0" % path)
    got, _ = recv_all(peer, 4)
    want = frames[:2] + frames[3:]
    for g, w in zip(got, want):
        nethub.assert_frame(g, w)
    # a frame flooded from the socket port reaches the replay port: it has
    # nothing behind it, so it is a counted drop, never lost silently
    peer.send(eth(BROADCAST, "02:4e:48:bb:00:01", b"to the replay port"))

    def counted(s):
        return nethub.tx_drops(nethub.port(s, "rp"), "no-peer") == 1
    st = d.wait_state(counted, what="a no-peer tx drop on rp")
    p = nethub.port(st, "rp")
    assert nethub.stat(p, "tx-frames") == 0, p
    assert nethub.rx_drops(p, "malformed") == 1, p
    assert nethub.stat(p, "rx-frames") == 5, p
    nethub.check_port_accounting(p)
    d.stop_clean()


def test_replay_of_a_file_cut_short_ends_where_it_ends():
    frames = numbered(5)
    path = write_pcap(tmpfile("short.pcap"), frames)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 20)
    d, peer = replay_hub("file=%s,rate=0" % path)
    got, _ = recv_all(peer, 4)
    for g, w in zip(got, frames):
        nethub.assert_frame(g, w)
    peer.expect_no_frame(0.5)
    st = d.wait_state(lambda s: nethub.netdev(s, "rp")["info"]["finished"],
                      what="the replay to finish")
    assert nethub.netdev(st, "rp")["info"]["frames-replayed"] == 4
    assert "truncated" in d.log(), d.log()
    d.stop_clean()


def test_replay_waits_while_its_link_is_down():
    frames = numbered(20)
    path = write_pcap(tmpfile("link.pcap"), frames)
    d, peer = replay_hub(None, qmp=True)
    d.qmp_cmd("netdev_add", type="pcap", id="rp", file=path, rate=20)
    got, _ = recv_all(peer, 3)
    d.qmp_cmd("set_link", name="rp", up=False)
    time.sleep(0.3)
    n0 = info(d, "rp")["frames-replayed"]
    peer.drain()
    time.sleep(0.6)
    assert info(d, "rp")["frames-replayed"] == n0
    assert info(d, "rp")["paused"] is True
    d.qmp_cmd("set_link", name="rp", up=True)
    rest, _ = recv_all(peer, 20 - n0)
    for g, w in zip(rest, frames[n0:]):
        nethub.assert_frame(g, w)
    d.stop_clean()


def test_replay_errors():
    expect_cli_error("pcap,id=p", "exactly one of ifname= or file= is "
                     "required")
    expect_cli_error("pcap,id=p,ifname=lo,file=x.pcap",
                     "exactly one of ifname= or file= is required")
    missing = tmpfile("missing.pcap")
    expect_cli_error("pcap,id=p,file=%s" % missing,
                     "file=%s: cannot open: No such file or directory"
                     % missing)
    junk = tmpfile("junk.pcap")
    with open(junk, "wb") as f:
        f.write(b"this is not a capture file at all\n" * 4)
    expect_cli_error("pcap,id=p,file=%s" % junk,
                     "file=%s: not a capture file libpcap reads: unknown "
                     "file format" % junk)
    raw = write_pcap(tmpfile("raw.pcap"), [b"\x45" + bytes(27)],
                     linktype=101)
    expect_cli_error("pcap,id=p,file=%s" % raw,
                     "file=%s: link type RAW (Raw IP) is not Ethernet" % raw)
    good = write_pcap(tmpfile("good.pcap"), numbered(1))
    expect_cli_error("pcap,id=p,file=%s,rate=-1" % good,
                     "Parameter 'rate' expects a value between 0 and "
                     "4294967295")
    expect_cli_error("pcap,id=p,file=%s,rate=fast" % good,
                     "Parameter 'rate' expects a number")
    expect_cli_error("pcap,id=p,file=%s,filter=ether proto" % good,
                     "filter=ether proto: can't parse filter expression: "
                     "syntax error")
    expect_cli_error("pcap,id=p,file=%s,promisc=off" % good,
                     "promisc= is only valid with ifname=")
    expect_cli_error("pcap,id=p,ifname=lo,rate=5",
                     "rate= is only valid with file=")
    expect_cli_error("pcap,id=p,file=%s,loop=maybe" % good,
                     "Parameter 'loop' expects 'on' or 'off'")
    expect_cli_error("pcap,id=p,file=%s,speed=1" % good,
                     "Parameter 'speed' is unexpected")
    # through QMP, and nothing is left behind
    d, peer = replay_hub(None, qmp=True)
    for args, text in (
            ({"file": junk}, "file=%s: not a capture file libpcap reads: "
             "unknown file format" % junk),
            ({"file": good, "filter": "tcp port"},
             "filter=tcp port: can't parse filter expression: syntax "
             "error"),
            ({"ifname": "nosuch%d" % os.getpid()},
             "ifname=nosuch%d: no such interface" % os.getpid())):
        try:
            d.qmp_cmd("netdev_add", type="pcap", id="bad", **args)
        except qmplib.QMPError as e:
            assert e.cls == "GenericError" and e.desc.startswith(text), \
                "%r, want %r" % (e.desc, text)
        else:
            raise AssertionError("netdev_add %r succeeded" % args)
        assert nethub.netdev(d.state(), "bad") is None
    try:
        d.qmp_cmd("netdev_add", type="pcap", id="bad", file=good, rate=-1)
    except qmplib.QMPError as e:
        assert "'rate'" in e.desc, e.desc
    else:
        raise AssertionError("rate=-1 accepted")
    d.stop_clean()


# ---------------------------------------------------------------- live

def sysfs_counter(ns, link, name):
    p = ns.run("cat", "/sys/class/net/%s/statistics/%s" % (link, name))
    return int(p.stdout)


def no_ipv6(ns):
    """IPv6 off in @ns, so no router solicitations or MLD reports add
    frames the counters would have to account for."""
    ns.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1")


def live_pair(pcap_extra="", mtu=None):
    """veth end "va" in namespace a (.1), its peer joined as pcap netdev
    "lp"; a tap "tb" in namespace b (.2)."""
    va, vb = link_name("va"), link_name("vb")
    tb = link_name("tb")
    netns.veth(va, vb)
    subprocess.run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % vb],
                   check=True)
    if mtu:
        netns.ip("link", "set", "dev", vb, "mtu", mtu)
        netns.ip("link", "set", "dev", va, "mtu", mtu)
    netns.ip("link", "set", "dev", vb, "up")
    a, b = Netns("a"), Netns("b")
    no_ipv6(a)
    no_ipv6(b)
    ipa, ipb = subnet()
    a.take(va, ipa + "/24")
    d = Nethubd("-netdev", "pcap,id=lp,ifname=%s%s" % (vb, pcap_extra),
                "-netdev", "tap,id=tb,ifname=%s,script=no,downscript=no"
                % tb, qmp=True).start()
    b.take(tb, ipb + "/24")
    return d, a, b, va, vb, ipa, ipb


def test_live_ping_across_and_counters_match_the_far_end():
    d, a, b, va, vb, ipa, ipb = live_pair()
    a.ping_ok(ipb)
    b.ping_ok(ipa)

    # every frame va sent entered the port once (injected frames are not
    # read back), and every frame the port took reached va
    def even(s):
        p = nethub.port(s, "lp")
        return (nethub.stat(p, "rx-frames") ==
                sysfs_counter(a, va, "tx_packets") and
                nethub.stat(p, "tx-frames") ==
                sysfs_counter(a, va, "rx_packets"))
    st = d.wait_state(even, what="lp's counters to equal %s's" % va)
    p = nethub.port(st, "lp")
    assert nethub.stat(p, "rx-frames") >= 12, p
    assert nethub.stat(p, "tx-frames") >= 12, p
    nethub.check_port_accounting(p)
    inf = nethub.netdev(st, "lp")["info"]
    assert inf["mode"] == "live" and inf["ifname"] == vb, inf
    assert inf["promisc"] is True and inf["capturing"] is True, inf
    assert inf["ps-recv"] >= nethub.stat(p, "rx-frames"), inf
    assert inf["ps-drop"] == 0, inf
    d.stop_clean()


def test_live_injected_frames_are_not_read_back():
    d, a, b, va, vb, ipa, ipb = live_pair()
    peer = UdpPeer()
    local = free_port("udp")
    d.qmp_cmd("netdev_add", type="socket", id="u",
              udp="127.0.0.1:%d" % peer.port,
              localaddr="127.0.0.1:%d" % local)
    peer.to(local)
    rx0 = sysfs_counter(a, va, "rx_packets")
    for i in range(20):
        peer.send(eth(BROADCAST, "02:4e:48:cc:00:01", b"inject %d" % i,
                      ethertype=ETH_P_TEST))
    poll(lambda: sysfs_counter(a, va, "rx_packets") >= rx0 + 20, 10,
         what="20 injected frames to reach %s" % va)
    time.sleep(0.3)
    st = d.state()
    p = nethub.port(st, "lp")
    assert nethub.stat(p, "rx-frames") == \
        sysfs_counter(a, va, "tx_packets"), p
    assert nethub.rx_drops(nethub.port(st, "u")) == 0
    assert nethub.fdb_port(st, "02:4e:48:cc:00:01") == "u", nethub.fdb(st)
    d.stop_clean()


def test_live_mtu_and_oversize():
    d, a, b, va, vb, ipa, ipb = live_pair(mtu=1400)
    st = d.state()
    assert nethub.port(st, "lp")["mtu"] == 1400
    a.ping_ok(ipb)
    # b's tap takes 1500: 1472 bytes of ping is 1514 on the wire
    b.ping_fails(ipa, count=2, size=1472)
    p = nethub.port(d.state(), "lp")
    assert nethub.tx_drops(p, "oversize") >= 2, p
    d.stop_clean()


def test_live_filter_and_promisc_off():
    d, a, b, va, vb, ipa, ipb = live_pair(",filter=udp,promisc=off")
    a.ping_fails(ipb, count=2)
    st = d.state()
    p = nethub.port(st, "lp")
    assert sysfs_counter(a, va, "tx_packets") >= 2
    assert nethub.stat(p, "rx-frames") == 0, p
    inf = nethub.netdev(st, "lp")["info"]
    assert inf["filter"] == "udp" and inf["promisc"] is False, inf
    d.qmp_cmd("netdev_del", id="lp")
    d.qmp_cmd("netdev_add", type="pcap", id="lp", ifname=vb,
              filter="arp or icmp")
    a.ping_ok(ipb)
    d.stop_clean()


def test_live_needs_root():
    vb = link_name("vr")
    netns.veth(vb, link_name("vs"))
    arg = "pcap,id=p,ifname=%s" % vb
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", "--inh-caps=-all",
                        "--bounding-set=-all", nethub.nethubd_path(),
                        "-netdev", arg],
                       capture_output=True, text=True, timeout=20,
                       cwd="/")
    want = "nethubd: -netdev %s: ifname=%s: live capture needs root " \
        "(CAP_NET_RAW): " % (arg, vb)
    assert p.returncode == 1 and want in p.stderr, p.stderr


if __name__ == "__main__":
    nethub.main(globals())
