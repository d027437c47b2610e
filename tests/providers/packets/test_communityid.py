"""Community ID v1 against the reference implementation and a published value."""

from __future__ import annotations

import ipaddress
import random

import pytest

from providers.packets._communityid import community_id


def _packed(a: str) -> bytes:
    return ipaddress.ip_address(a).packed


def test_known_tcp_value() -> None:
    """The spec's TCP example (128.232.110.120:34855 -> 66.35.250.204:80) hashes as published."""
    cid = community_id(_packed("128.232.110.120"), _packed("66.35.250.204"), 6, 34855, 80)
    assert cid == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


def test_both_directions_share_the_id() -> None:
    """A flow and its reverse get the same id, for TCP and ICMP echo request/reply."""
    a, b = _packed("10.0.0.1"), _packed("10.0.0.2")
    assert community_id(a, b, 17, 53000, 53) == community_id(b, a, 17, 53, 53000)
    assert community_id(a, b, 1, 8, 0) == community_id(b, a, 1, 0, 0)


def test_matches_reference_implementation() -> None:
    """2000 random TCP/UDP/ICMP/ICMPv6 tuples hash like the `communityid` package does."""
    communityid = pytest.importorskip("communityid", reason="reference package not installed")
    ref = communityid.CommunityID()
    makers = {6: communityid.FlowTuple.make_tcp, 17: communityid.FlowTuple.make_udp,
              1: communityid.FlowTuple.make_icmp, 58: communityid.FlowTuple.make_icmp6}
    rnd = random.Random(7)
    for _ in range(2000):
        proto = rnd.choice([6, 17, 1, 58])
        v6 = proto == 58 or (proto != 1 and rnd.random() < 0.5)
        cls, bits = (ipaddress.IPv6Address, 128) if v6 else (ipaddress.IPv4Address, 32)
        s, d = cls(rnd.getrandbits(bits)), cls(rnd.getrandbits(bits))
        if rnd.random() < 0.1:
            d = s
        if proto in (1, 58):
            sp = rnd.choice([0, 8, 3, 11, 128, 129, 135, 139, rnd.randint(0, 255)])
            dp = rnd.randint(0, 3)
        else:
            sp, dp = rnd.randint(0, 65535), rnd.randint(0, 65535)
        expected = ref.calc(makers[proto](str(s), str(d), sp, dp))
        assert community_id(s.packed, d.packed, proto, sp, dp) == expected
