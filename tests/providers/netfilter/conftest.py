"""Fixtures for the netfilter tests: a UDP path through an NFQUEUE in namespace ``a``.

The netns fixtures come from ``tests.harness.netns`` (imported here until the
root conftest registers the harness as a plugin).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from providers.netfilter import NfQueue, QueueConfig, QueueRule, QueueRules
from tests.harness.netns import Topology, netns, netns3, netns_factory  # noqa: F401

UDP_PORT = 9999
QUEUE = 7


@dataclass
class UdpPath:
    """A sender in ``a``, a receiver in ``b``, and a queue on a's OUTPUT for the port."""

    topo: Topology
    tx: socket.socket
    rx: socket.socket
    tx6: socket.socket
    rx6: socket.socket

    def send(self, data: bytes, v6: bool = False) -> None:
        """Send one datagram from a to b."""
        if v6:
            self.tx6.sendto(data, (self.topo.b.ip6, UDP_PORT))
        else:
            self.tx.sendto(data, (self.topo.b.ip4, UDP_PORT))

    def received(self, timeout: float = 1.0, v6: bool = False) -> list[bytes]:
        """Datagrams that reached b within ``timeout`` (stops at the first gap)."""
        sock = self.rx6 if v6 else self.rx
        sock.settimeout(timeout)
        out = []
        try:
            while True:
                out.append(sock.recv(65536))
                sock.settimeout(0.2)
        except TimeoutError:
            return out


@pytest.fixture
def udp_path(netns: Topology) -> Iterator[UdpPath]:  # noqa: F811
    """Sockets on both sides plus queue rules (IPv4 and IPv6) in ``a``."""
    with netns.b.enter():
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind((netns.b.ip4, UDP_PORT))
        rx6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rx6.bind((netns.b.ip6, UDP_PORT))
    with netns.a.enter():
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rules = QueueRules("test", [QueueRule(QUEUE, protocol="udp", dport=UDP_PORT)])
        rules.install()
    try:
        yield UdpPath(netns, tx, rx, tx6, rx6)
    finally:
        rules.close()
        for s in (tx, rx, tx6, rx6):
            s.close()


def open_queue(path: UdpPath, **kwargs: object) -> NfQueue:
    """An NfQueue bound inside namespace ``a`` for the fixture's queue number."""
    with path.topo.a.enter():
        return NfQueue(QueueConfig(queue_num=QUEUE, **kwargs))  # type: ignore[arg-type]


def take(queue: NfQueue, count: int, timeout: float = 2.0) -> list:
    """Receive exactly ``count`` packets (fails the test on timeout)."""
    import time

    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        queue.wait(0.05)
        got += queue.receive()
    assert len(got) == count, f"expected {count} queued packets, got {len(got)}"
    return got
