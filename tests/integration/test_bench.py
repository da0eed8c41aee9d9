#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_bench.py - nethub-bench against a real nethubd: its figures agree
with the switch's own counters (QMP query-netdevs), its JSON has the
documented shape, the broadcast, idle and sweep modes do what they say,
--plot writes an SVG; and a smoke run of bench/compare.

The bench attaches over socket UDP netdevs (udp=/localaddr=): bench port i
binds 127.0.0.1:BASE+2i and sends to the switch's 127.0.0.1:BASE+2i+1.
Offered rates are modest so that nothing is lost on a loaded machine.
nethub-bench is $NETHUB_BENCH (default build/bench/nethub-bench)."""

import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import Nethubd, tmpdir  # noqa: E402

RATE = 2000             # frames/s offered in total: far below capacity
DURATION = 2.0
PER_PORT_KEYS = {"port": int, "sent_total": int, "received_total": int,
                 "tx_fps": (int, float), "rx_fps": (int, float)}
RUN_KEYS = {"delivered_fps": (int, float), "delivered_mbps": (int, float),
            "offered_fps": (int, float), "loss_pct": (int, float),
            "lat_p50_us": (int, float), "lat_p99_us": (int, float),
            "switch_cpu_pct": (int, float), "per_port": list}


def bench_path():
    path = os.environ.get("NETHUB_BENCH", "build/bench/nethub-bench")
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(nethub.REPO, path)


def udp_base(nports):
    """A base port with 2 * @nports free UDP ports on 127.0.0.1."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - 2 * nports, 2)
        if all(nethub._udp_free(base + k) for k in range(2 * nports)):
            return base
    raise AssertionError("no run of %d free UDP ports" % (2 * nports))


def start_switch(nports):
    """nethubd with @nports UDP socket netdevs p0..p(n-1) and QMP."""
    base = udp_base(nports)
    args = []
    for i in range(nports):
        args += ["-netdev", "socket,id=p%d,udp=127.0.0.1:%d,"
                 "localaddr=127.0.0.1:%d" % (i, base + 2 * i,
                                              base + 2 * i + 1)]
    d = Nethubd(*args, "--log-level", "warn", qmp=True).start()
    return d, base


def run_bench(d, base, *args, timeout=90):
    """nethub-bench over UDP against @d; its parsed JSON."""
    cmd = [bench_path(), "--transport", "udp", "--udp-ports", str(base),
           "--switch-pid", str(d.pid), "--json"] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "%s: exit %d:\n%s" % (
        " ".join(cmd), p.returncode, p.stderr[-2000:])
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise AssertionError("not one JSON document: %r" % p.stdout[-2000:])


def switch_ports(d, nports):
    """Switch-side stats of netdev p0..p(n-1)'s port, from query-netdevs."""
    nds = {nd["id"]: nd for nd in d.qmp_cmd("query-netdevs")}
    out = []
    for i in range(nports):
        nd = nds.get("p%d" % i)
        assert nd and len(nd["ports"]) == 1, \
            "netdev p%d: %r" % (i, nd)
        out.append(nd["ports"][0]["stats"])
    return out


def check_shape(run, nports):
    for key, typ in RUN_KEYS.items():
        assert key in run, "JSON lacks %r: %s" % (key, sorted(run))
        assert isinstance(run[key], typ) and not isinstance(run[key], bool), \
            "%s: %r is not %r" % (key, run[key], typ)
    assert len(run["per_port"]) == nports, run["per_port"]
    for i, pp in enumerate(run["per_port"]):
        for key, typ in PER_PORT_KEYS.items():
            assert key in pp, "per_port[%d] lacks %r: %r" % (i, key, pp)
            assert isinstance(pp[key], typ), \
                "per_port[%d].%s: %r is not %r" % (i, key, pp[key], typ)
    assert sorted(pp["port"] for pp in run["per_port"]) == \
        list(range(nports)), run["per_port"]


def by_port(run):
    return {pp["port"]: pp for pp in run["per_port"]}


def check_counters_agree(d, run, nports):
    """What the bench sent into port i is what the switch received on it;
    what the switch sent out of port i is what the bench received."""
    sw = switch_ports(d, nports)
    pp = by_port(run)
    for i in range(nports):
        assert pp[i]["sent_total"] == sw[i]["rx-frames"], \
            "port %d: bench sent %d, switch received %d (%r)" % (
                i, pp[i]["sent_total"], sw[i]["rx-frames"], sw[i])
        assert pp[i]["received_total"] == sw[i]["tx-frames"], \
            "port %d: bench received %d, switch sent %d (%r)" % (
                i, pp[i]["received_total"], sw[i]["tx-frames"], sw[i])
        assert nethub.rx_drops({"stats": sw[i]}) == 0, sw[i]
        assert nethub.tx_drops({"stats": sw[i]}) == 0, sw[i]


def test_pairwise_figures_match_the_switch_counters():
    d, base = start_switch(2)
    run = run_bench(d, base, "--ports", 2, "--pattern", "pairwise",
                    "--frame-size", 128, "--duration", DURATION,
                    "--warmup", 0.5, "--rate", RATE)
    check_shape(run, 2)
    check_counters_agree(d, run, 2)
    pp = by_port(run)
    # port 0 sends the data, port 1 only what teaches the switch its MAC;
    # with two ports all of one's frames reach the other
    assert pp[0]["sent_total"] >= RATE * DURATION * 0.8, pp[0]
    assert pp[1]["received_total"] == pp[0]["sent_total"], run["per_port"]
    assert pp[0]["received_total"] == pp[1]["sent_total"], run["per_port"]
    assert run["loss_pct"] == 0, "lost %.3f %% at %d frames/s" % (
        run["loss_pct"], RATE)
    assert run["delivered_fps"] <= run["offered_fps"] * 1.02 + 1, run
    assert RATE * 0.8 <= run["offered_fps"] <= RATE * 1.1, run
    # Mbit/s is printed to 0.1
    assert abs(run["delivered_mbps"] -
               run["delivered_fps"] * 128 * 8 / 1e6) <= 0.06 + \
        run["delivered_mbps"] * 0.01, run
    assert 0 < run["lat_p50_us"] <= run["lat_p99_us"], run
    d.stop_clean()


def test_loss_breakdown_adds_up_to_the_frames_lost():
    """A receiver's link goes down mid-run: the frames lost are the
    switch's link-down drops (read over --qmp), and the breakdown's rows
    add up to the frames lost."""
    d, base = start_switch(2)
    cmd = [bench_path(), "--transport", "udp", "--udp-ports", str(base),
           "--qmp", d.qmp_path, "--json", "--ports", 2, "--pattern",
           "pairwise", "--frame-size", 128, "--duration", 3, "--warmup",
           0.5, "--rate", RATE]
    p = subprocess.Popen([str(a) for a in cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    nethub.at_cleanup(lambda: p.poll() is None and p.kill())
    # the learning phase needs both links: wait until data flows
    nethub.poll(lambda: switch_ports(d, 2)[0]["rx-frames"] > RATE, 60,
                what="the bench's traffic")
    d.qmp_cmd("set_link", {"name": "p1", "up": False})
    out, err = p.communicate(timeout=90)
    assert p.returncode == 0, (p.returncode, err[-2000:])
    run = json.loads(out)
    lost = run["lost_frames"]
    drops = run["switch_drops"]
    assert lost > RATE * 0.5, run
    assert drops.get("link-down", 0) > 0, drops
    assert run["switch_drops_total"] == sum(drops.values()), drops
    assert run["switch_drops_total"] + run.get("kernel_in_drop_frames", 0) \
        + run["sink_missed_frames"] == lost, run
    # the switch explains the loss, up to frames at the window's edges
    assert abs(run["sink_missed_frames"]) <= lost * 0.05 + 20, run
    d.stop_clean()


def test_broadcast_reaches_every_other_port():
    d, base = start_switch(3)
    run = run_bench(d, base, "--ports", 3, "--pattern", "broadcast",
                    "--frame-size", 64, "--duration", DURATION,
                    "--warmup", 0.5, "--rate", RATE)
    check_shape(run, 3)
    check_counters_agree(d, run, 3)
    pp = by_port(run)
    total = sum(p["sent_total"] for p in pp.values())
    for i in range(3):
        assert pp[i]["sent_total"] > 0, pp[i]
        assert pp[i]["received_total"] == total - pp[i]["sent_total"], \
            "port %d received %d, the others sent %d" % (
                i, pp[i]["received_total"], total - pp[i]["sent_total"])
    assert run["loss_pct"] == 0, run
    d.stop_clean()


def test_idle_ports_cost_the_switch_nothing():
    d, base = start_switch(4)
    run = run_bench(d, base, "--ports", 4, "--pattern", "idle",
                    "--duration", DURATION)
    check_shape(run, 4)
    assert run["switch_cpu_pct"] < 5, \
        "an idle switch used %.1f %% of a CPU" % run["switch_cpu_pct"]
    assert run["delivered_fps"] == 0 and run["offered_fps"] == 0, run
    # attaching may teach the switch the ports' MACs, nothing more
    check_counters_agree(d, run, 4)
    d.stop_clean()


def test_sweep_gives_one_run_per_value_and_plots():
    d, base = start_switch(2)
    svg = os.path.join(tmpdir(), "sweep.svg")
    sizes = [64, 256, 1024]
    out = run_bench(d, base, "--ports", 2, "--frame-size",
                    ",".join(map(str, sizes)), "--duration", 0.5,
                    "--warmup", 0.2, "--rate", RATE, "--plot", svg)
    assert "sweep" in out and isinstance(out.get("runs"), list), \
        sorted(out)
    assert [r["frame_size"] for r in out["runs"]] == sizes, out["runs"]
    for r in out["runs"]:
        check_shape(r, 2)
        assert r["loss_pct"] == 0, r
    with open(svg) as f:
        text = f.read()
    assert "<svg" in text and "</svg>" in text, text[:300]
    d.stop_clean()


def test_compare_quick_smoke():
    compare = os.path.join(nethub.REPO, "bench", "compare")
    out = os.path.join(tmpdir(), "compare.json")
    env = dict(os.environ, NETHUBD=nethub.nethubd_path(),
               NETHUB_BENCH=bench_path())
    p = subprocess.Popen([sys.executable, compare, "--quick", "--only",
                          "nethub,bridge", "--scenarios", "small-frames",
                          "--nethub-io", nethub.IO, "--json", out, "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)

    def stop():         # SIGTERM: compare tears its namespaces down
        if p.poll() is None:
            p.terminate()
            p.wait(60)
    nethub.at_cleanup(stop)
    stdout, stderr = p.communicate(timeout=240)
    assert p.returncode == 0, "compare: exit %d:\n%s\n%s" % (
        p.returncode, stdout[-2000:], stderr[-2000:])
    with open(out) as f:
        res = json.load(f)
    assert res["config"]["systems"] == ["nethub", "bridge"], res["config"]
    rows = res["scenarios"]["small-frames"]["rows"]
    got = [(r["system"], r["attach"]) for r in rows]
    assert got == [("nethub", "udp"), ("nethub", "tap"), ("nethub", "tcp"),
                   ("bridge", "veth")], got
    for r in rows:
        assert "error" not in r, r.get("error")
        assert isinstance(r["value"], (int, float)) and r["value"] > 0, r
        assert len(r["rounds"]) == 1, r["rounds"]
        assert r["rounds"][0]["bench"]["frame_size"] == 64, r["rounds"]
    assert rows[0]["per_nethub_udp"] == 1.0, rows[0]
    assert abs(rows[3]["per_nethub_udp"] -
               rows[3]["value"] / rows[0]["value"]) < 1e-9, rows
    assert "small-frames" in stdout and "bridge veth" in stdout, stdout
    left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                          text=True).stdout
    assert "nhcmp%d" % p.pid not in left, \
        "namespaces left behind: %s" % left


def test_cpu_handoff_times_a_line_between_two_cpus():
    tool = os.path.join(os.path.dirname(bench_path()), "cpu-handoff")
    p = subprocess.run([tool, "1", "0"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    ns = int(re.fullmatch(r"cpu handoff 1<->0: (\d+) ns\n",
                          p.stdout).group(1))
    assert 0 < ns < 1000000, p.stdout
    # a CPU that is not there: refused, not waited on forever
    p = subprocess.run([tool, "0", "4095"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and p.stdout == "", (p.returncode, p.stdout)
    assert "cannot run on CPUs 0 and 4095" in p.stderr, p.stderr
    # one CPU twice would hand the line over only at each time slice
    p = subprocess.run([tool, "1", "1"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "usage" in p.stderr, (p.returncode,
                                                       p.stderr)


if __name__ == "__main__":
    nethub.main(globals())
