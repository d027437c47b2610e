"""Network-namespace harness: two or three namespaces joined by veth pairs.

Topology (names are unique per process, so parallel runs do not collide)::

    a  veth0 ---- veth0  b  veth1 ---- veth0  c        (c only with count=3)
    10.201.1.1/24        10.201.1.2/24
                         10.201.2.1/24        10.201.2.2/24
    fd00:201::1:1/112    fd00:201::1:2/112
                         fd00:201::2:1/112    fd00:201::2:2/112

With three namespaces, ``b`` forwards and ``a``/``c`` route through it.
IPv6 addresses use ``nodad`` so they work at once. Everything created
(namespaces, processes, and with them veths and firewall rules) is removed in
:meth:`Topology.close`, which the fixtures call even when a test fails; if
the whole test process is killed, the next build sweeps its namespaces.

Pytest fixtures: ``netns`` (two namespaces), ``netns3`` (three) and
``netns_factory`` (call it with ``count``). They skip, with the reason, when
not root or when namespaces cannot be created.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pytest

__all__ = [
    "Namespace",
    "NetnsUnavailableError",
    "Topology",
    "build_topology",
    "current_netns_inode",
    "netns",
    "netns3",
    "netns_factory",
    "netns_unavailable_reason",
    "sweep_stale_namespaces",
]

CLONE_NEWNET = 0x40000000
_counter = itertools.count()
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsUnavailableError(RuntimeError):
    """Namespaces cannot be created here (not root, no iproute2, no kernel support)."""


def current_netns_inode() -> int:
    """Inode of the calling thread's network namespace."""
    return os.stat("/proc/thread-self/ns/net").st_ino


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


@dataclass
class Namespace:
    """One network namespace; ``role`` is ``a``, ``b`` or ``c``.

    ``addr4``/``addr6`` are its addresses toward the other namespaces, first
    one on the link to its left neighbour (for ``a``: the only link).
    """

    name: str
    role: str
    addr4: list[str] = field(default_factory=list)
    addr6: list[str] = field(default_factory=list)
    _procs: list[subprocess.Popen] = field(default_factory=list, repr=False)

    @property
    def ip4(self) -> str:
        """Primary IPv4 address."""
        return self.addr4[0]

    @property
    def ip6(self) -> str:
        """Primary IPv6 address."""
        return self.addr6[0]

    def argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 30,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace and wait for it (output captured)."""
        return subprocess.run(self.argv(argv), capture_output=True, text=True, check=check,
                              timeout=timeout, input=input)

    def spawn(self, argv: Sequence[str], **popen_kwargs: object) -> subprocess.Popen:
        """Start a background process inside the namespace; killed at teardown."""
        popen_kwargs.setdefault("stdout", subprocess.DEVNULL)
        popen_kwargs.setdefault("stderr", subprocess.DEVNULL)
        proc = subprocess.Popen(self.argv(argv), start_new_session=True,
                                **popen_kwargs)  # type: ignore[call-overload]
        self._procs.append(proc)
        return proc

    def wait_listening(self, port: int, proto: str = "tcp", timeout: float = 5.0) -> None:
        """Wait until something listens on ``port`` inside the namespace."""
        flag = "-Hltn" if proto == "tcp" else "-Hlun"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.run(["ss", flag, f"sport = :{port}"], check=False).stdout
            if out.strip():
                return
            time.sleep(0.02)
        raise TimeoutError(f"nothing listens on {proto}/{port} in {self.name}")

    @contextlib.contextmanager
    def enter(self) -> Iterator[Namespace]:
        """Move the calling thread into the namespace for the ``with`` body.

        Sockets created inside stay in this namespace after the block, and so do
        subprocesses started inside.
        """
        with open("/proc/thread-self/ns/net", "rb") as home, \
                open(f"/run/netns/{self.name}", "rb") as target:
            _setns(target.fileno())
            try:
                yield self
            finally:
                _setns(home.fileno())

    def thread(self, target: Callable[..., object], *args: object) -> threading.Thread:
        """Start a daemon thread that runs ``target(*args)`` inside the namespace."""
        def body() -> None:
            with self.enter():
                target(*args)
        th = threading.Thread(target=body, daemon=True, name=f"netns-{self.role}")
        th.start()
        return th

    def stop_processes(self) -> None:
        """Terminate (then kill) everything started with :meth:`spawn`."""
        for proc in self._procs:
            _kill_group(proc)
        self._procs.clear()


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class Topology:
    """The namespaces of one test; close() removes them and their processes."""

    namespaces: list[Namespace]

    @property
    def a(self) -> Namespace:
        """The left namespace (usually the client side)."""
        return self.namespaces[0]

    @property
    def b(self) -> Namespace:
        """The middle (or right, with two) namespace."""
        return self.namespaces[1]

    @property
    def c(self) -> Namespace:
        """The right namespace (three-namespace topologies only)."""
        return self.namespaces[2]

    def close(self) -> None:
        """Stop processes, kill stragglers, delete namespaces; never raises."""
        for ns in self.namespaces:
            ns.stop_processes()
        for ns in self.namespaces:
            _delete_netns(ns.name)


def _delete_netns(name: str) -> None:
    pids = _ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.kill(int(pid), signal.SIGKILL)
    _ip("netns", "del", name, check=False)


_NAME_RE = re.compile(r"^wfpt(\d+)n\d+[abc]$")


def sweep_stale_namespaces() -> list[str]:
    """Delete harness namespaces whose creating process is dead (killed runs)."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return []
    stale = [n for n in names if (m := _NAME_RE.match(n)) and not _alive(int(m.group(1)))]
    for name in stale:
        _delete_netns(name)
    return stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def netns_unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespace tests need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    name = f"wfpt{os.getpid()}probe"
    res = _ip("netns", "add", name, check=False)
    if res.returncode != 0:
        return f"cannot create a network namespace: {res.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    return None


def _link(left: Namespace, right: Namespace, lif: str, rif: str, subnet: int) -> None:
    _ip("link", "add", lif, "netns", left.name, "type", "veth", "peer", "name", rif,
        "netns", right.name)
    ends = ((left, lif, 1), (right, rif, 2))
    for ns, ifname, _host in ends:
        _ip("-n", ns.name, "link", "set", ifname, "up")
    for ns, ifname, host in ends:
        a4, a6 = f"10.201.{subnet}.{host}", f"fd00:201::{subnet}:{host}"
        _ip("-n", ns.name, "addr", "add", f"{a4}/24", "dev", ifname)
        _ip("-n", ns.name, "addr", "add", f"{a6}/112", "dev", ifname, "nodad")
        ns.addr4.append(a4)
        ns.addr6.append(a6)


def _no_dad(ns: Namespace) -> None:
    """Skip IPv6 duplicate address detection on every interface made later (link-local too)."""
    with ns.enter():
        for conf in ("all", "default"):
            with open(f"/proc/sys/net/ipv6/conf/{conf}/accept_dad", "w") as f:
                f.write("0")


def _wait_carrier(topo: Topology, timeout: float = 5.0) -> None:
    """Wait for every veth to report carrier (linkwatch may delay it ~1 s)."""
    deadline = time.monotonic() + timeout
    pending = list(topo.namespaces)
    while pending and time.monotonic() < deadline:
        pending = [ns for ns in pending
                   if "NO-CARRIER" in _ip("-n", ns.name, "-o", "link", "show").stdout]
        if pending:
            time.sleep(0.05)
    if pending:
        raise NetnsUnavailableError(f"veth carrier did not come up in {pending[0].name}")


def build_topology(count: int = 2) -> Topology:
    """Create ``count`` (2 or 3) joined namespaces; raises NetnsUnavailableError."""
    if count not in (2, 3):
        raise ValueError("count must be 2 or 3")
    reason = netns_unavailable_reason()
    if reason:
        raise NetnsUnavailableError(reason)
    sweep_stale_namespaces()
    tag = f"wfpt{os.getpid()}n{next(_counter)}"
    topo = Topology([Namespace(f"{tag}{role}", role) for role in "abc"[:count]])
    try:
        for ns in topo.namespaces:
            _ip("netns", "add", ns.name)
            _ip("-n", ns.name, "link", "set", "lo", "up")
            _no_dad(ns)
        _link(topo.a, topo.b, "veth0", "veth0", 1)
        if count == 3:
            _link(topo.b, topo.c, "veth1", "veth0", 2)
            _route_through_b(topo)
        _wait_carrier(topo)
    except BaseException:
        topo.close()
        raise
    return topo


def _route_through_b(topo: Topology) -> None:
    topo.b.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    topo.b.run(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
    for ns, gw4, gw6 in ((topo.a, topo.b.addr4[0], topo.b.addr6[0]),
                         (topo.c, topo.b.addr4[1], topo.b.addr6[1])):
        _ip("-n", ns.name, "route", "add", "default", "via", gw4)
        _ip("-n", ns.name, "-6", "route", "add", "default", "via", gw6)


@contextlib.contextmanager
def _topology(count: int) -> Iterator[Topology]:
    home = current_netns_inode()
    try:
        topo = build_topology(count)
    except NetnsUnavailableError as exc:
        pytest.skip(str(exc))
    try:
        yield topo
    finally:
        topo.close()
        assert current_netns_inode() == home, "test left its thread inside a namespace"


@pytest.fixture
def netns() -> Iterator[Topology]:
    """Two namespaces ``a`` and ``b`` joined by a veth pair (IPv4 + IPv6)."""
    with _topology(2) as topo:
        yield topo


@pytest.fixture
def netns3() -> Iterator[Topology]:
    """Three namespaces ``a`` - ``b`` - ``c``; ``b`` routes between the others."""
    with _topology(3) as topo:
        yield topo


@pytest.fixture
def netns_factory() -> Iterator[Callable[[int], Topology]]:
    """A function ``make(count=2)`` building extra topologies, all torn down after."""
    made: list[Topology] = []

    def make(count: int = 2) -> Topology:
        reason = netns_unavailable_reason()
        if reason:
            pytest.skip(reason)
        topo = build_topology(count)
        made.append(topo)
        return topo

    try:
        yield make
    finally:
        for topo in made:
            topo.close()
