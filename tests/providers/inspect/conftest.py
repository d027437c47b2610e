"""Fixtures for the inspect tests: echo servers, traffic helpers and an inspector process.

The inspector always runs as a subprocess inside namespace ``a`` (``ip netns
exec``), so no rule ever touches the root namespace. The netns fixtures come
from ``tests.harness.netns``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness.netns import Namespace, Topology, netns, netns3, netns_factory  # noqa: F401
from tracer import read_log

ROOT = Path(__file__).resolve().parents[3]
PORT = 7000
OTHER4, OTHER6 = "10.201.1.3", "fd00:201::1:3"


# -- servers and clients (sockets created inside a namespace stay there) -----------------
class EchoServers:
    """TCP (any address) and UDP (``udp_addrs``) echo, upper-cased, on PORT in one namespace."""

    def __init__(self, ns: Namespace, udp_addrs: list[str]) -> None:
        self._socks: list[socket.socket] = []
        with ns.enter():
            for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                t = socket.socket(fam, socket.SOCK_STREAM)
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if fam == socket.AF_INET6:
                    t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                t.bind((addr, PORT))
                t.listen(64)
                self._socks.append(t)
            for addr in udp_addrs:  # one per address: replies leave from the address asked
                u = socket.socket(_family(addr), socket.SOCK_DGRAM)
                u.bind((addr, PORT))
                self._socks.append(u)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            ready, _, _ = select.select(self._socks, [], [], 0.1)
            for s in ready:
                with contextlib.suppress(OSError):
                    if s.type == socket.SOCK_STREAM:
                        threading.Thread(target=self._tcp, args=(s.accept()[0],),
                                         daemon=True).start()
                    else:
                        data, peer = s.recvfrom(2048)
                        s.sendto(data.upper(), peer)

    @staticmethod
    def _tcp(c: socket.socket) -> None:
        with c:
            c.settimeout(5)
            with contextlib.suppress(OSError):
                while data := c.recv(4096):
                    c.sendall(data.upper())

    def close(self) -> None:
        self._stop = True
        self._thread.join(1)
        for s in self._socks:
            s.close()


def _family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _socket(ns: Namespace, addr: str, kind: int, src: str | None,
            proto: int = 0) -> socket.socket:
    with ns.enter():
        s = socket.socket(_family(addr), kind, proto)
    if src is not None:
        s.bind((src, 0))
    return s


def tcp_exchange(ns: Namespace, addr: str, timeout: float = 1.0, src: str | None = None) -> bool:
    """Connect from ``ns`` (from ``src``) to addr:PORT, send data, get it back upper-cased."""
    s = _socket(ns, addr, socket.SOCK_STREAM, src)
    with s:
        s.settimeout(timeout)
        try:
            s.connect((addr, PORT))
            s.sendall(b"hello inspect")
            return s.recv(100) == b"HELLO INSPECT"
        except OSError:
            return False


def udp_exchange(ns: Namespace, addr: str, timeout: float = 1.0, src: str | None = None) -> bool:
    """Send a datagram from ``ns`` (from ``src``) to addr:PORT and get the echo."""
    s = _socket(ns, addr, socket.SOCK_DGRAM, src)
    with s:
        s.settimeout(timeout)
        try:
            s.sendto(b"ping udp", (addr, PORT))
            return s.recv(100) == b"PING UDP"
        except OSError:
            return False


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def ping(ns: Namespace, addr: str, timeout: float = 1.0, ident: int | None = None,
         src: str | None = None) -> float | None:
    """One ICMP/ICMPv6 echo from ``ns`` (from ``src``); the round trip in seconds, None if lost."""
    v6 = ":" in addr
    ident = (os.getpid() + threading.get_ident()) & 0xFFFF if ident is None else ident
    s = _socket(ns, addr, socket.SOCK_RAW, src,
                socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    with s:
        kind = 128 if v6 else 8
        body = struct.pack("!HH", ident, 1) + b"wfptrace-inspect"
        csum = 0 if v6 else _checksum(struct.pack("!BBH", kind, 0, 0) + body)
        start = time.monotonic()
        s.sendto(struct.pack("!BBH", kind, 0, csum) + body, (addr, 0))
        deadline = start + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([s], [], [], left)[0]:
                break
            data = s.recv(2048)
            icmp = data if v6 else data[(data[0] & 0x0F) * 4:]
            if icmp[0] == (129 if v6 else 0) and struct.unpack("!H", icmp[4:6])[0] == ident:
                return time.monotonic() - start
    return None


# -- the inspector process -------------------------------------------------------------
@dataclass
class InspectorProc:
    """``python -m providers.inspect start`` running inside namespace ``a``."""

    topo: Topology
    run_dir: Path
    trace: Path
    proc: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``python -m providers.inspect --run-dir D ARGS`` in namespace ``a``."""
        argv = [sys.executable, "-m", "providers.inspect", "--run-dir", str(self.run_dir),
                *args]
        return subprocess.run(self.topo.a.argv(argv), capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)

    def start(self, *args: str, expect_ok: bool = True) -> InspectorProc:
        """Start with ``args`` and wait for the started line (or the exit)."""
        argv = [sys.executable, "-m", "providers.inspect", "--run-dir", str(self.run_dir),
                "start", "--trace", str(self.trace), *args]
        self.proc = self.topo.a.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, cwd=ROOT)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        self.output.append(line)
        if expect_ok:
            assert "started" in line, f"inspector did not start: {line}{self.rest()}"
        return self

    def rest(self) -> str:
        """Everything else the process printed (waits for it to exit)."""
        assert self.proc is not None
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            return "(still running)"
        return out or ""

    def stop(self) -> subprocess.CompletedProcess[str]:
        """``inspect stop`` and wait for the process to end."""
        res = self.cli("stop")
        if self.proc is not None:
            self.proc.wait(20)
        return res

    def kill(self) -> None:
        """SIGKILL the inspector (no cleanup at all)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def events(self, name: str | None = None) -> list:
        """Events in the trace file so far (optionally only ``name``)."""
        if not self.trace.exists():
            return []
        return [e for e in read_log(self.trace) if name is None or e.name == name]

    def wait_event(self, name: str, count: int = 1, timeout: float = 5.0) -> list:
        """Wait until ``count`` events called ``name`` are in the trace."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} {name} events, got {self.events(name)}")

    def rules(self) -> str:
        """Tagged inspect rules in namespace ``a`` (v4 and v6, mangle and filter)."""
        out = ""
        for exe in ("iptables", "ip6tables"):
            for table in ("mangle", "filter"):
                out += self.topo.a.run([exe, "-w", "-t", table, "-S"]).stdout
        return "\n".join(line for line in out.splitlines() if "wfptrace:inspect" in line)


@dataclass
class Lab:
    """Two namespaces, echo servers in both, a second peer address on ``b``."""

    topo: Topology
    inspector: InspectorProc
    servers: list[EchoServers]

    @property
    def a(self) -> Namespace:
        return self.topo.a

    @property
    def b(self) -> Namespace:
        return self.topo.b


@pytest.fixture
def lab(netns: Topology, tmp_path: Path) -> Iterator[Lab]:  # noqa: F811
    """The lab; the inspector (if started) is stopped and every rule checked gone."""
    netns.b.run(["ip", "addr", "add", f"{OTHER4}/24", "dev", "veth0"])
    netns.b.run(["ip", "addr", "add", f"{OTHER6}/112", "dev", "veth0", "nodad"])
    servers = [EchoServers(netns.a, [netns.a.ip4, netns.a.ip6]),
               EchoServers(netns.b, [netns.b.ip4, netns.b.ip6, OTHER4, OTHER6])]
    insp = InspectorProc(netns, tmp_path / "run", tmp_path / "trace.jsonl")
    try:
        yield Lab(netns, insp, servers)
    finally:
        if insp.proc is not None and insp.proc.poll() is None:
            _stop_at_teardown(insp)
        for s in servers:
            s.close()


def _stop_at_teardown(insp: InspectorProc) -> None:
    """``inspect stop``; an inspector still running 20 s later is killed, and the test
    fails with what ``stop`` and the inspector printed."""
    assert insp.proc is not None
    res = insp.cli("stop")
    try:
        insp.proc.wait(20)
    except subprocess.TimeoutExpired:
        insp.proc.kill()
        out, _ = insp.proc.communicate(timeout=10)
        pytest.fail(f"inspector still running 20 s after `inspect stop` (rc {res.returncode}: "
                    f"{res.stdout}{res.stderr}); it printed:\n{''.join(insp.output)}{out}")


def until(check: Callable[[], object], timeout: float = 5.0) -> object:
    """Poll ``check`` until it returns something true; return it (or the last value)."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(0.05)
        value = check()
    return value


def icmp_unreachable(ns: Namespace, addr: str, timeout: float = 2.0,
                     src: str | None = None) -> bool:
    """Send one echo request from ``ns`` and see a destination-unreachable answer to it."""
    v6 = ":" in addr
    ident = (os.getpid() + threading.get_ident() + 1) & 0xFFFF
    s = _socket(ns, addr, socket.SOCK_RAW, src,
                socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    with s:
        kind = 128 if v6 else 8
        body = struct.pack("!HH", ident, 1) + b"wfptrace-reject"
        csum = 0 if v6 else _checksum(struct.pack("!BBH", kind, 0, 0) + body)
        s.sendto(struct.pack("!BBH", kind, 0, csum) + body, (addr, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([s], [], [], left)[0]:
                break
            data = s.recv(2048)
            icmp = data if v6 else data[(data[0] & 0x0F) * 4:]
            inner = icmp[8:]
            echo = inner[40:] if v6 else inner[(inner[0] & 0x0F) * 4:] if inner else b""
            if icmp[0] == (1 if v6 else 3) and len(echo) >= 6 \
                    and struct.unpack("!H", echo[4:6])[0] == ident:
                return True
    return False


@dataclass
class OrdinaryUser:
    """A fresh unprivileged user; :meth:`cli` runs the inspect CLI as it in a namespace."""

    name: str
    uid: int
    gid: int

    def cli(self, ns: Namespace, *args: str) -> subprocess.CompletedProcess[str]:
        """``wfptrace inspect ARGS`` as this user inside ``ns`` (modules imported as root:
        the interpreter's own directory may be closed to the user)."""
        script = ("import os, sys, pwd, json, providers.inspect._cli as c, "
                  "providers.inspect._inspector\n"
                  f"os.setgroups([]); os.setgid({self.gid}); os.setuid({self.uid})\n"
                  f"sys.exit(c.main({list(args)!r}))\n")
        env = {k: v for k, v in os.environ.items()
               if k not in ("WFPTRACE_RUN_DIR", "XDG_RUNTIME_DIR")}
        return subprocess.run(ns.argv([sys.executable, "-c", script]), capture_output=True,
                              text=True, timeout=30, cwd=ROOT, env=env)


@pytest.fixture
def ordinary_user() -> Iterator[OrdinaryUser]:
    """A user made with useradd for the test, removed afterwards even on failure."""
    import pwd
    import secrets

    if os.geteuid() != 0:
        pytest.skip("needs root to create a user (useradd)")
    name = f"wfpti{os.getpid() % 100000}{secrets.token_hex(2)}"
    try:
        subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell",
                        "/usr/sbin/nologin", name], check=True, capture_output=True)
        pw = pwd.getpwnam(name)
        yield OrdinaryUser(name, pw.pw_uid, pw.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)
