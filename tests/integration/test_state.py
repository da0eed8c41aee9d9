#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_state.py - the state file (--state): what QMP clients change is
saved as it happens and restored when nethubd starts again; a bad state
file stops the start-up naming its line (issue 15)."""

import json
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nethub  # noqa: E402
from nethub import Nethubd, free_port, poll, run_cli  # noqa: E402

MAC = "02:4e:48:00:00:2a"


def listen(nid, port):
    return "socket,id=%s,listen=127.0.0.1:%d" % (nid, port)


def read_records(path):
    """The commands of state file @path, as (execute, arguments)."""
    out = []
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                obj = json.loads(line)
                out.append((obj["execute"], obj["arguments"]))
    return out


def write_state(path, *lines):
    with open(path, "w") as f:
        for ln in lines:
            f.write((ln if isinstance(ln, str) else json.dumps(ln)) + "\n")


def cmd(execute, **arguments):
    return {"execute": execute, "arguments": arguments}


def netdev_add(nid, port):
    return cmd("netdev_add", type="socket", id=nid,
               listen="127.0.0.1:%d" % port)


def port_info(d, name):
    for nd in d.qmp_cmd("query-netdevs"):
        for p in nd["ports"]:
            if p["name"] == name:
                return p
    return None


def test_qmp_changes_survive_a_restart():
    a_port, b_port = free_port(), free_port()
    u_port, u_peer = free_port("udp"), free_port("udp")
    path = os.path.join(nethub.tmpdir(), "nethubd.state")
    args = ("-netdev", listen("a", a_port), "--state", path)
    d = Nethubd(*args, qmp=True).start()
    d.qmp_cmd("netdev_add", {"type": "socket", "id": "b",
                             "listen": "127.0.0.1:%d" % b_port})
    d.qmp_cmd("netdev_add", {"type": "socket", "id": "u",
                             "udp": "127.0.0.1:%d" % u_peer,
                             "localaddr": "127.0.0.1:%d" % u_port})
    d.qmp_cmd("set_link", {"name": "u", "up": False})
    d.qmp_cmd("fdb-add", {"port": "u", "mac": MAC})
    d.qmp_cmd("fdb-set-mac-limit", {"port": "b", "mac-limit": 3})
    d.qmp_cmd("port-set-alias", {"port": "u", "alias": "udp peer"})
    d.qmp_cmd("set_link", {"name": "a", "up": False})
    d.qmp_cmd("set_link", {"name": "a", "up": True})  # replaces the first
    recs = read_records(path)
    assert [r[0] for r in recs] == [
        "netdev_add", "netdev_add", "set_link", "fdb-add",
        "fdb-set-mac-limit", "port-set-alias", "set_link"], recs
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(path + ".tmp"), "temporary file left"
    d.stop_clean()

    d = Nethubd(*args, qmp=True).start()
    assert nethub.tcp_listening(b_port), "saved netdev b not listening"
    nds = {nd["id"]: nd for nd in d.qmp_cmd("query-netdevs")}
    assert set(nds) == {"a", "b", "u"}, sorted(nds)
    assert nds["u"]["link"] is False and nds["a"]["link"] is True
    assert port_info(d, "u").get("alias") == "udp peer", port_info(d, "u")
    entries = d.qmp_cmd("query-fdb", {"hubid": 0})[0]["entries"]
    assert any(e["mac"] == MAC and e["static"] for e in entries), entries

    # netdev_del takes the netdev and every setting of it out
    d.qmp_cmd("netdev_del", {"id": "u"})
    recs = read_records(path)
    assert all("u" not in (r[1].get("id"), r[1].get("name"),
                           r[1].get("port")) for r in recs), recs
    assert [r[0] for r in recs] == ["netdev_add", "fdb-set-mac-limit",
                                    "set_link"], recs
    d.stop_clean()


def test_command_line_wins_over_a_saved_netdev_of_the_same_id():
    mine, saved = free_port(), free_port()
    path = os.path.join(nethub.tmpdir(), "nethubd.state")
    write_state(path, "# written by hand", netdev_add("a", saved))
    d = Nethubd("-netdev", listen("a", mine), "--state", path,
                qmp=True).start()
    assert nethub.tcp_listening(mine)
    assert not nethub.tcp_listening(saved), "the saved netdev a started"
    poll(lambda: "the command line made it already" in d.stderr(), 10,
         what="the warning about the saved netdev a")
    poll(lambda: read_records(path) == [], 10,
         what="the saved netdev a dropped from %s" % path)
    d.stop_clean()


def expect_bad_state(path, *words, ports=(), extra=()):
    """nethubd with state file @path (and options @extra) exits 1 with one
    stderr line holding @words, and leaves none of @ports listening."""
    p = free_port()
    rc, out, err = run_cli("-netdev", listen("a", p), "--state", path,
                           "--log-level", "warn", *extra, io=True)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1, "exit status %d, stderr %r" % (rc, err)
    assert len(lines) == 1, "want one stderr line: %r" % err
    for w in words:
        assert w in lines[0], "%r not in %r" % (w, lines[0])
    for q in (p,) + tuple(ports):
        assert not nethub.tcp_listening(q), "port %d listening" % q


def test_corrupt_state_file_is_an_error_naming_the_line():
    path = os.path.join(nethub.tmpdir(), "nethubd.state")
    good = free_port()
    write_state(path, "# comment", netdev_add("b", good), "{not json")
    expect_bad_state(path, "%s:3:" % path, "not JSON", ports=(good,))
    write_state(path, netdev_add("b", good), cmd("quit"))
    expect_bad_state(path, "%s:2:" % path, "execute", ports=(good,))
    write_state(path, "", cmd("netdev_add", type="socket"))
    expect_bad_state(path, "%s:2: netdev_add:" % path,
                     "Parameter 'id' is missing")
    write_state(path, json.dumps([1, 2]))
    expect_bad_state(path, "%s:1:" % path, "JSON object")


def test_saved_netdev_that_cannot_start_fails_the_start():
    path = os.path.join(nethub.tmpdir(), "nethubd.state")
    busy = nethub.TcpListener()  # holds a port
    write_state(path, netdev_add("b", busy.port))
    expect_bad_state(path, "restoring the saved state", "%s:1:" % path,
                     "netdev_add")
    busy.close()


def test_unwritable_state_file_fails_the_start():
    path = os.path.join(nethub.tmpdir(), "no-such-dir", "nethubd.state")
    expect_bad_state(path, path, "cannot write")


NOBODY = 65534


def test_the_state_file_stays_writable_after_dropping_to_nobody():
    top = nethub.tmpdir()
    os.chmod(top, 0o755)
    sdir = os.path.join(top, "state")
    os.mkdir(sdir)
    os.chown(sdir, NOBODY, NOBODY)
    path = os.path.join(sdir, "nethubd.state")
    d = Nethubd("-netdev", listen("a", free_port()), "--user", "nobody",
                "--state", path, qmp=True)
    os.chown(d.dir, NOBODY, NOBODY)     # its pidfile and stats file too
    d.start()
    b = free_port()
    d.qmp_cmd("netdev_add", {"type": "socket", "id": "b",
                             "listen": "127.0.0.1:%d" % b})
    assert os.stat(path).st_uid == NOBODY, os.stat(path)
    assert [r[0] for r in read_records(path)] == ["netdev_add"]
    d.stop_clean()
    # a directory nobody cannot write: the start fails at once, saying so
    os.chown(sdir, 0, 0)
    os.chmod(sdir, 0o755)
    expect_bad_state(path, "after becoming user nobody", path,
                     "Permission denied", ports=(b,),
                     extra=("--user", "nobody"))


def test_state_and_no_state_conflict():
    rc, out, err = run_cli("--state", "/tmp/x", "--no-state")
    assert rc == 1 and "--no-state" in err, (rc, err)


def test_settings_of_a_peer_port_wait_for_it():
    p = free_port()
    path = os.path.join(nethub.tmpdir(), "nethubd.state")
    write_state(path, cmd("port-set-alias", port="vms.1", alias="vm one"))
    d = Nethubd("-netdev", listen("vms", p), "--state", path,
                qmp=True).start()
    poll(lambda: "waits for port vms.1" in d.stderr(), 10,
         what="'waits for port vms.1' in the log")
    peer = d.attach(p, mac=MAC)
    assert peer.port_name == "vms.1"
    poll(lambda: (port_info(d, "vms.1") or {}).get("alias") == "vm one",
         10, what="the saved alias on vms.1")
    # a listening netdev's port shows the MACs learned on it
    peer.send_frame(nethub.BROADCAST, "hello")
    poll(lambda: MAC in (port_info(d, "vms.1") or {}).get("macs", []), 10,
         what="%s in vms.1's macs" % MAC)
    d.stop_clean()


def test_default_configuration_keeps_its_state():
    if not nethub.tcp_port_free(5555):
        raise AssertionError("127.0.0.1:5555 is in use by another process; "
                             "the default configuration cannot be tested")
    if os.geteuid() == 0:
        run = "/run/nethub"
    elif os.environ.get("XDG_RUNTIME_DIR"):
        run = os.path.join(os.environ["XDG_RUNTIME_DIR"], "nethub")
    else:
        run = "/tmp/nethub-%d" % os.geteuid()
    path = os.path.join(run, "state", "nethubd.state")
    saved = None
    if os.path.exists(path):
        with open(path) as f:
            saved = f.read()
        os.unlink(path)

    def restore():
        if saved is not None:
            with open(path, "w") as f:
                f.write(saved)
        elif os.path.exists(path):
            os.unlink(path)
    nethub.at_cleanup(restore)

    extra = free_port()
    d = Nethubd().start()
    d.qmp_path = os.path.join(run, "qmp.sock")
    d.qmp_cmd("netdev_add", {"type": "socket", "id": "extra",
                             "listen": "127.0.0.1:%d" % extra})
    assert [r[0] for r in read_records(path)] == ["netdev_add"]
    d.stop_clean()
    # the banner names the nethubctl beside nethubd (build/ctl is not on
    # PATH), with the socket
    ctl = os.path.join(os.path.dirname(os.path.abspath(d.args[0])),
                       "nethubctl")
    assert "try: %s -s %s show" % (ctl, d.qmp_path) in d.stdout(), \
        d.stdout()
    d = Nethubd().start()
    assert nethub.tcp_listening(extra), "netdev extra not restored"
    d.stop_clean()
    d = Nethubd("--no-state").start()
    assert not nethub.tcp_listening(extra), "--no-state restored extra"
    d.stop_clean()


if __name__ == "__main__":
    nethub.main(globals())
