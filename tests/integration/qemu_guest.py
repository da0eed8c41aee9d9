# SPDX-License-Identifier: MIT
"""qemu_guest - build and boot the QEMU test guest of nethub's integration
tests.

The guest (see guest/README.md) is the installed Debian kernel with a small
busybox initramfs made by guest/mkguest.sh.  Its /init brings up eth0 from the
kernel command line (nh.ip=, nh.ping=, ...), prints markers on the serial
console, then either powers off or runs commands sent to its console.

Typical use:

    kernel, initrd = qemu_guest.build_image()
    with qemu_guest.Guest("a", workdir, kernel=kernel, initrd=initrd,
                          netdev="socket,connect=127.0.0.1:5555",
                          mac="52:54:00:00:00:01", ip="10.0.0.1/24",
                          ping="10.0.0.2") as g:
        g.start()
        ok, line = g.wait_ping(timeout=120)
        rc, out = g.run("ip link show eth0")
        g.poweroff()

Every wait is bounded; a Guest used as a context manager kills its QEMU on
the way out, whatever happened.  Missing tools raise GuestError with a message
saying what to install: tests must fail, not skip, without them.

Python 3 standard library only.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

GUEST_DIR = Path(__file__).resolve().parent / "guest"
MKGUEST = GUEST_DIR / "mkguest.sh"

BOOT_TIMEOUT_S = 120  # boot to NH-READY; a TCG boot takes a few seconds
PING_TIMEOUT_S = 120  # boot and nh.ping-wait together
CMD_TIMEOUT_S = 30  # one console command
POWEROFF_TIMEOUT_S = 30  # from "poweroff -f" to QEMU's exit
KILL_WAIT_S = 5  # after SIGTERM, before SIGKILL

GUEST_MEM_MB = 256


class GuestError(Exception):
    """The guest cannot be built or booted, or did not do what was asked."""


def find_qemu():
    """Path of qemu-system-x86_64 ($NETHUB_TEST_QEMU overrides); GuestError if
    there is none."""
    qemu = (os.environ.get("NETHUB_TEST_QEMU")
            or shutil.which("qemu-system-x86_64"))
    if not qemu or not os.access(qemu, os.X_OK):
        raise GuestError("qemu-system-x86_64 not found"
                         " (install qemu-system-x86)")
    return qemu


def build_image(cache_dir=None, kernel_version=None):
    """Build (or find in the cache) the guest image; return (kernel, initrd).

    cache_dir defaults to $NETHUB_TEST_CACHE, else tests/integration/.cache;
    kernel_version to the newest /boot/vmlinuz-*.  GuestError carries
    mkguest.sh's message (which says what to install).
    """
    cmd = ["sh", str(MKGUEST)]
    if cache_dir:
        cmd += ["-c", str(cache_dir)]
    if kernel_version:
        cmd += ["-k", kernel_version]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise GuestError("mkguest.sh did not finish in 300 s") from None
    if r.returncode != 0:
        raise GuestError(r.stderr.strip() or "mkguest.sh exited with"
                         " status %d" % r.returncode)
    lines = r.stdout.split()
    if len(lines) != 2:
        raise GuestError("mkguest.sh printed %r, not a kernel and an"
                         " initrd" % r.stdout)
    return lines[0], lines[1]


def prerequisites():
    """(qemu, kernel, initrd), or GuestError naming what is missing."""
    qemu = find_qemu()
    kernel, initrd = build_image()
    return qemu, kernel, initrd


def free_tcp_port(host="127.0.0.1"):
    """A TCP port on @host that was free a moment ago (the caller binds it
    soon; another process could take it first, which then shows as a bind
    error)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Guest:
    """One QEMU VM running the test guest, with one virtio-net NIC.

    @netdev is a QEMU -netdev spec without id, e.g.
    "socket,connect=127.0.0.1:5555" or "tap,ifname=t0,script=no,downscript=no";
    the NIC is virtio-net-pci with @mac on netdev id n0.  @ip, @ping, @after
    and @mtu become nh.* kernel parameters (see guest/init); @cmdline adds
    more words.  @shared_memory backs guest RAM with a shared memfd, which
    vhost-user needs.  @extra_args are appended to QEMU's command line;
    @nic_opts to the NIC's -device options (",vectors=0").

    The serial console is QEMU's stdio: console output is collected in
    output (and written to WORKDIR/NAME.console), console input is how run()
    and poweroff() send commands.  QEMU's stderr goes to WORKDIR/NAME.stderr.
    """

    def __init__(self, name, workdir, *, kernel, initrd, netdev, mac,
                 ip=None, ping=None, ping_wait=None, after="console", mtu=None,
                 cmdline=(), shared_memory=False, extra_args=(), qemu=None,
                 accel=None, nic_opts=""):
        self.name = name
        self.workdir = Path(workdir)
        self.kernel = kernel
        self.initrd = initrd
        self.netdev = netdev
        self.mac = mac
        self.ip = ip
        self.ping = ping
        self.ping_wait = ping_wait
        self.after = after
        self.mtu = mtu
        self.cmdline = list(cmdline)
        self.shared_memory = shared_memory
        self.extra_args = list(extra_args)
        self.nic_opts = nic_opts
        self.qemu = qemu or find_qemu()
        # TCG by default: CI machines need not have /dev/kvm.
        self.accel = accel or os.environ.get("NETHUB_TEST_ACCEL", "tcg")
        self.console_path = self.workdir / (name + ".console")
        self.stderr_path = self.workdir / (name + ".stderr")
        self.proc = None
        self._out = ""
        self._eof = False
        self._cond = threading.Condition()
        self._reader = None
        self._cmd_seq = 0

    # ---- life cycle -----------------------------------------------------

    def kernel_cmdline(self):
        """The kernel command line this guest boots with."""
        words = ["console=ttyS0", "panic=1", "nh.after=" + self.after]
        if os.environ.get("NETHUB_TEST_GUEST_VERBOSE") != "1":
            words.append("quiet")
        if self.ip:
            words.append("nh.ip=" + self.ip)
        if self.ping:
            words.append("nh.ping=" + self.ping)
        if self.ping_wait is not None:
            words.append("nh.ping-wait=%d" % self.ping_wait)
        if self.mtu is not None:
            words.append("nh.mtu=%d" % self.mtu)
        return " ".join(words + self.cmdline)

    def qemu_args(self):
        """QEMU's argv for this guest."""
        kind, _, rest = self.netdev.partition(",")
        netdev = "%s,id=n0" % kind + ("," + rest if rest else "")
        args = [
            self.qemu, "-nodefaults", "-no-user-config", "-no-reboot",
            "-M", "pc", "-accel", self.accel, "-smp", "1",
            "-m", "%d" % GUEST_MEM_MB, "-display", "none",
            "-serial", "stdio", "-monitor", "none",
            "-kernel", self.kernel, "-initrd", self.initrd,
            "-append", self.kernel_cmdline(),
            "-netdev", netdev,
            "-device", "virtio-net-pci,netdev=n0,mac=%s%s" % (self.mac,
                                                      self.nic_opts),
        ]
        if self.shared_memory:
            args += ["-object", "memory-backend-memfd,id=mem0,size=%dM,"
                     "share=on" % GUEST_MEM_MB, "-numa", "node,memdev=mem0"]
        return args + self.extra_args

    def start(self):
        """Start QEMU.  Returns at once; the guest boots in the background."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.qemu_args(),
                                         stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err)
        self._reader = threading.Thread(target=self._read_console,
                                        name="console-" + self.name,
                                        daemon=True)
        self._reader.start()

    def _read_console(self):
        fd = self.proc.stdout.fileno()
        with open(self.console_path, "wb") as log:
            while True:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                log.write(chunk)
                log.flush()
                text = chunk.decode("utf-8", "replace").replace("\r", "")
                with self._cond:
                    self._out += text
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def kill(self):
        """Stop QEMU if it still runs (SIGTERM, then SIGKILL) and reap it."""
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self._reader:
            self._reader.join(KILL_WAIT_S)

    def wait_exit(self, timeout):
        """QEMU's exit status, or None if it still runs after @timeout s."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    # ---- console ----------------------------------------------------------

    @property
    def output(self):
        """Everything the console printed so far, \\r removed."""
        with self._cond:
            return self._out

    def tail(self, lines=20):
        """The last @lines console lines and QEMU's stderr, for diagnostics."""
        text = self.output.splitlines()[-lines:]
        try:
            err = self.stderr_path.read_text(errors="replace")
            err = err.splitlines()[-lines:]
        except OSError:
            err = []
        return (["%s console: %s" % (self.name, l) for l in text] +
                ["%s stderr: %s" % (self.name, l) for l in err])

    def wait_for(self, pattern, timeout, start=0):
        """Wait until the console, from offset @start on, matches the regex
        @pattern (MULTILINE, so ^ anchors at a line start); return the match.
        Only complete lines are searched, so "^X .*$" sees all of a line.
        GuestError if QEMU exits first or @timeout s pass."""
        rx = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._out, start, self._out.rfind("\n") + 1)
                if m:
                    return m
                if self._eof:
                    raise GuestError("%s: QEMU exited (status %s) before %r"
                                     " was printed" % (self.name,
                                                       self.proc.poll(),
                                                       pattern))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GuestError("%s: %r not printed within %d s"
                                     % (self.name, pattern, timeout))
                self._cond.wait(min(left, 1.0))

    def wait_ready(self, timeout=BOOT_TIMEOUT_S):
        """Wait for NH-READY; the guest's NIC is up.  Returns the line."""
        line = self.wait_for(r"^NH-READY .*$|^NH-ERROR .*$", timeout).group(0)
        if line.startswith("NH-ERROR"):
            raise GuestError("%s: %s" % (self.name, line))
        return line

    def wait_ping(self, timeout=PING_TIMEOUT_S):
        """Wait for the nh.ping result; return (succeeded, marker line)."""
        m = self.wait_for(r"^NH-PING-(OK|FAIL) .*$|^NH-ERROR .*$", timeout)
        return m.group(1) == "OK", m.group(0)

    def _send(self, line):
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise GuestError("%s: cannot write to the console: %s"
                             % (self.name, e)) from None

    def run(self, command, timeout=CMD_TIMEOUT_S):
        """Run one shell command line in the guest (nh.after=console);
        return (exit status, its output).  The line must not contain a
        newline; its stdin is /dev/null."""
        if "\n" in command:
            raise ValueError("a console command is one line")
        self.wait_for(r"^NH-CMD-READY$", timeout)
        self._cmd_seq += 1
        seq = self._cmd_seq
        start = len(self.output)
        self._send(command)
        end = self.wait_for(r"^NH-CMD-END %d rc=(\d+)$" % seq, timeout, start)
        begin = self.wait_for(r"^NH-CMD-BEGIN %d\n" % seq, 0, start)
        return int(end.group(1)), self.output[begin.end():end.start()]

    def continue_from(self, source):
        """This QEMU received @source's guest by live migration: the guest
        waits for its next console command, as it did in @source, and
        counts its commands on from @source's."""
        self._cmd_seq = source._cmd_seq
        with self._cond:
            self._out = "NH-CMD-READY\n" + self._out
            self._cond.notify_all()

    def poweroff(self, timeout=POWEROFF_TIMEOUT_S):
        """Power the guest off from its console (nh.after=console) and wait
        for QEMU to exit; return its exit status (0 on a clean power-off).
        GuestError if it does not exit in time."""
        self.wait_for(r"^NH-CMD-READY$", timeout)
        self._send("poweroff -f")
        rc = self.wait_exit(timeout)
        if rc is None:
            raise GuestError("%s: still running %d s after poweroff"
                             % (self.name, timeout))
        return rc
