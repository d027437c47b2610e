"""recvmmsg through ctypes: many datagrams per call."""

from __future__ import annotations

import socket

from providers.netfilter._recvmmsg import open_receiver


def test_batch_of_datagrams_lands_in_slots_with_lengths() -> None:
    """Each waiting datagram is read into its own slot with its exact length."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        rx = open_receiver(b.fileno(), slot=128, count=8)
        assert rx is not None
        sent = [b"one", b"two-two", b"x" * 100]
        for d in sent:
            a.send(d)
        n = rx.recv(8)
        assert n == 3
        got = [bytes(rx.buf[i * 128:i * 128 + ln]) for i, ln in enumerate(rx.lengths(n))]
        assert got == sent
        assert rx.recv(8) == 0  # empty: no blocking


def test_limit_caps_the_batch() -> None:
    """No more than ``limit`` datagrams are taken; the rest wait for the next call."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        rx = open_receiver(b.fileno(), slot=16, count=4)
        assert rx is not None
        for i in range(6):
            a.send(b"%d" % i)
        assert rx.recv(10) == 4
        assert rx.recv(10) == 2
