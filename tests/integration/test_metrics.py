#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_metrics.py - the Prometheus metrics (docs/usage.md, Monitoring)

nethubd -metrics http:HOST:PORT is scraped over HTTP after real traffic:
the text follows the exposition format (HELP and TYPE once per family,
before its samples; valid names; escaped label values), its counters are
query-netdevs' and query-hubs', `nethubctl metrics` prints the same text,
other paths and methods are refused, the default address is loopback,
bad -metrics values are clear errors, and idle HTTP clients do not hold up
the switch.  (Label escaping: tests/unit/test_metrics.c.)
"""

import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import BROADCAST, Nethubd, TcpPeer, free_port, poll  # noqa: E402
from test_nethubctl import ctl  # noqa: E402

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+]+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def scrape(port, path="/metrics", method="GET", host="127.0.0.1"):
    req = urllib.request.Request("http://%s:%d%s" % (host, port, path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def parse(text):
    """The exposition text checked line by line: {(name, labels): value}
    and {family: type}."""
    samples, types, helped, done = {}, {}, set(), set()
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helped, "HELP twice for %s" % name
            assert NAME.match(name), "bad family name %r" % name
            helped.add(name)
            if current:
                done.add(current)
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            assert name == current, "TYPE %s outside its HELP" % name
            assert typ in ("counter", "gauge", "untyped"), line
            types[name] = typ
        else:
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            name = m.group(1)
            assert name == current and name in types, \
                "sample %s outside its family (in %s)" % (name, current)
            labels = tuple(LABEL.findall(m.group(3) or ""))
            key = (name, labels)
            assert key not in samples, "sample twice: %r" % (key,)
            samples[key] = float(m.group(4))
    assert helped == set(types), "families without TYPE: %s" % (
        helped - set(types))
    return samples, types


def label(samples, name, **want):
    """The value of the one sample of @name whose labels include @want."""
    found = [v for (n, ls), v in samples.items()
             if n == name and all((k, str(w)) in ls for k, w in want.items())]
    assert len(found) == 1, "%s%r: %d samples" % (name, want, len(found))
    return found[0]


def traffic_daemon(extra=()):
    port, mport = free_port(), free_port()
    d = Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % port,
                "-metrics", "http:127.0.0.1:%d" % mport, *extra,
                qmp=True).start()
    a, b = TcpPeer(port, name="a"), TcpPeer(port, name="b")
    poll(lambda: len(d.qmp_cmd("query-netdevs")[0]["ports"]) == 2, 10,
         what="two peers accepted")
    for _ in range(5):
        a.send_frame(BROADCAST, "hello")
        b.expect_frame()
    b.send_frame(a.mac, "to a")
    a.expect_frame()
    return d, mport, (a, b)


def test_scrape_has_every_port_counter_of_query_netdevs():
    d, mport, _ = traffic_daemon()
    status, headers, text = scrape(mport)
    assert status == 200, status
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), \
        headers["Content-Type"]
    samples, types = parse(text)
    nds = d.qmp_cmd("query-netdevs")
    checked = 0
    for nd in nds:
        for p in nd["ports"]:
            for key, v in p["stats"].items():
                name = "nethub_port_%s_total" % key.replace("-", "_")
                assert types.get(name) == "counter", "%s: %s" % (
                    name, types.get(name))
                if isinstance(v, dict):
                    for reason, n in v.items():
                        assert label(samples, name, port=p["name"],
                                     reason=reason) == n
                        checked += 1
                else:
                    assert label(samples, name, netdev=nd["id"],
                                 port=p["name"], hub=p["hub"]) == v, name
                    checked += 1
            assert label(samples, "nethub_port_link_up",
                         port=p["name"]) == 1
            assert label(samples, "nethub_port_mtu_bytes",
                         port=p["name"]) == p["mtu"]
    assert checked > 20, "only %d port counters checked" % checked
    rx = sum(v for (n, _), v in samples.items()
             if n == "nethub_port_rx_frames_total")
    assert rx == 6, "the peers sent 6 frames, rx_frames sum %s" % rx
    hub = d.qmp_cmd("query-hubs")[0]
    assert label(samples, "nethub_hub_fdb_entries", hub=0) == \
        hub["fdb-entries"] == 2
    assert label(samples, "nethub_hub_fdb_learned_total", hub=0) == \
        hub["fdb-stats"]["learned"]
    assert label(samples, "nethub_netdev_ports", netdev="vms",
                 type="socket") == 2
    assert label(samples, "nethub_netdev_driver_peers", netdev="vms") == 2


def test_nethubctl_metrics_prints_what_the_endpoint_serves():
    d, mport, _ = traffic_daemon()
    rc, out, err = ctl(d.qmp_path, "metrics")
    assert rc == 0 and err == "", "exit %d, stderr %r" % (rc, err)
    _, _, text = scrape(mport)
    assert out == text, "nethubctl metrics and the scrape differ"
    parse(out)
    rc, out, err = ctl(d.qmp_path, "metrics", "extra")
    assert rc == 2 and "unexpected 'extra'" in err, (rc, err)


def test_other_paths_and_methods_are_refused():
    d, mport, _ = traffic_daemon()
    status, _, body = scrape(mport, "/")
    assert status == 404 and "/metrics" in body, (status, body)
    status, headers, _ = scrape(mport, "/metrics", method="POST")
    assert status == 405 and "GET" in headers.get("Allow", ""), status
    status, _, body = scrape(mport, "/metrics", method="HEAD")
    assert status == 200 and body == "", (status, body)


def test_default_address_is_loopback():
    mport = free_port()
    Nethubd("-netdev", "socket,id=vms,listen=127.0.0.1:%d" % free_port(),
            "-metrics", "http:%d" % mport).start()
    out = subprocess.run(["ss", "-Hltn", "sport = :%d" % mport],
                         capture_output=True, text=True).stdout
    assert out.split() and out.split()[3] == "127.0.0.1:%d" % mport, out
    assert scrape(mport)[0] == 200


def test_bad_metrics_values_are_clear_errors():
    for spec, want in (("tcp:9100", "expects http:PORT or http:HOST:PORT"),
                       ("http:0", "'0' is not a port number"),
                       ("http:99999", "'99999' is not a port number"),
                       ("http:abc", "'abc' is not a port number"),
                       ("http::9100", "the host address is empty"),
                       ("http:[::1:9100", "[ADDR]:PORT")):
        rc, out, err = nethub.run_cli("-metrics", spec)
        assert rc == 1, "-metrics %s: exit %d" % (spec, rc)
        assert err.startswith("nethubd: -metrics %s: " % spec) and \
            want in err, "-metrics %s: %r" % (spec, err)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    rc, _, err = nethub.run_cli(
        "-netdev", "socket,id=vms,listen=127.0.0.1:%d" % free_port(),
        "-metrics", "http:%d" % port, io=True)
    busy.close()
    assert rc == 1 and "-metrics http:127.0.0.1:%d: cannot listen: " \
        "Address already in use" % port in err, (rc, err)


def test_idle_http_clients_do_not_hold_up_the_switch():
    d, mport, (a, b) = traffic_daemon()
    idle = [socket.create_connection(("127.0.0.1", mport))
            for _ in range(20)]
    half = socket.create_connection(("127.0.0.1", mport))
    half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never ends
    for i in range(3):
        a.send_frame(b.mac, "while idle %d" % i)
        b.expect_frame()
    assert d.qmp_cmd("query-version")["qemu"]["major"] == 0
    for s in idle + [half]:
        s.close()
    poll(lambda: scrape(mport)[0] == 200, 20, what="a scrape once the "
         "idle clients are gone")


if __name__ == "__main__":
    nethub.main(globals())
