"""Test helper: TCP payloads of a simple Ethernet/IPv4 pcap, per flow direction, in order.

Deliberately minimal (no reordering, no IPv6): enough for captures the project
writes itself, and independent of the project's own packet path. Retransmitted
bytes (a loopback capture under load has some) are left out by sequence number.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from pathlib import Path


def tcp_payloads(path: Path) -> dict[tuple[str, int, str, int], list[bytes]]:
    """{(src, sport, dst, dport): [payload, ...]} for every TCP segment with data."""
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4 and linktype in (1, 113, 276), (hex(magic), linktype)
    link = {1: 14, 113: 16, 276: 20}[linktype]
    flows: dict[tuple[str, int, str, int], list[bytes]] = defaultdict(list)
    following: dict[tuple[str, int, str, int], int] = {}  # the next new byte's sequence number
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<IIII", data, pos)[2]
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ip = frame[link:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl, total = (ip[0] & 15) * 4, struct.unpack_from("!H", ip, 2)[0]
        tcp = ip[ihl:total]
        offset = (tcp[12] >> 4) * 4
        if len(tcp) > offset:
            sport, dport, seq = struct.unpack_from("!HHI", tcp)
            key = (".".join(map(str, ip[12:16])), sport, ".".join(map(str, ip[16:20])), dport)
            payload = tcp[offset:]
            if key in following:
                seen = (following[key] - seq) & 0xFFFFFFFF
                if seen < 1 << 31:  # starts at or before the next new byte: drop the old ones
                    payload, seq = payload[seen:], following[key]
            if payload:
                flows[key].append(payload)
                following[key] = (seq + len(payload)) & 0xFFFFFFFF
    return flows
