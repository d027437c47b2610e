"""Community ID v1 flow hashes (the flow id Zeek and Suricata log), computed by hand.

``1:`` + base64(SHA-1(seed, src, dst, proto, 0, sport, dport)) with the endpoints in a
canonical order so both directions hash the same; ICMP/ICMPv6 use type and code (or the
counterpart type for request/response pairs) in place of ports.
"""

from __future__ import annotations

import base64
import hashlib
import struct

__all__ = ["community_id"]

_PORTED = frozenset({6, 17, 132, 1, 58})
_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
_ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131,
                131: 130, 139: 140, 140: 139, 144: 145, 145: 144}
_PORTS = struct.Struct("!HH").pack


def community_id(
    src: bytes, dst: bytes, proto: int, sport: int = 0, dport: int = 0, seed: int = 0
) -> str:
    """Community ID v1 of a flow; addresses are packed bytes, ICMP ports are type/code."""
    one_way = False
    if proto == 1 or proto == 58:
        pairs = _ICMP4_PAIRS if proto == 1 else _ICMP6_PAIRS
        counterpart = pairs.get(sport)
        if counterpart is None:
            one_way = True
        else:
            dport = counterpart
    if not one_way and (src, sport) > (dst, dport):
        src, dst, sport, dport = dst, src, dport, sport
    h = hashlib.sha1(struct.pack("!H", seed & 0xFFFF) + src + dst + bytes((proto & 0xFF, 0)))
    if proto in _PORTED:
        h.update(_PORTS(sport & 0xFFFF, dport & 0xFFFF))
    return "1:" + base64.b64encode(h.digest()).decode("ascii")
