"""Reject both ways: blocked TCP gets a RST, blocked ICMP an unreachable (v4, v6, in, out)."""

from __future__ import annotations

import socket
import time

import pytest

from .conftest import PORT, Lab, icmp_unreachable


def _refused(ns, addr: str, src: str | None = None) -> float:
    """Seconds until a TCP connect from ``ns`` to addr:PORT is refused (fails if it is not)."""
    with ns.enter():
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    with s:
        if src:
            s.bind((src, 0))
        s.settimeout(3)
        started = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            s.connect((addr, PORT))
        return time.monotonic() - started


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("direction", ["outbound", "inbound"])
def test_reject_answers_blocked_tcp_and_icmp(lab: Lab, family: int, direction: str) -> None:
    """A blocked TCP connect is refused by a RST and a blocked ping answered unreachable."""
    a_ip = lab.a.ip4 if family == 4 else lab.a.ip6
    b_ip = lab.b.ip4 if family == 4 else lab.b.ip6
    lab.inspector.start("--remote", b_ip, "--block", "--reject")
    if direction == "outbound":
        src_ns, dst, src = lab.a, b_ip, None
    else:
        src_ns, dst, src = lab.b, a_ip, b_ip
    assert _refused(src_ns, dst, src) < 1.0, "the refusal came from a retry, not a RST"
    assert icmp_unreachable(src_ns, dst, src=src), "no ICMP unreachable for the blocked ping"
    status = lab.inspector.cli("status")
    assert '"packets_permitted": 0' in status.stdout
