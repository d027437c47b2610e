"""tshark as the counting oracle: per-frame protocol view without reassembly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TSHARK = shutil.which("tshark")
CAPTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "captures"

_PREFS = [
    "-o", "ip.defragment:FALSE",
    "-o", "ipv6.defragment:FALSE",
    "-o", "tcp.desegment_tcp_streams:FALSE",
]
_FIELDS = [
    "frame.protocols", "tcp.len", "ip.flags.mf", "ip.frag_offset", "ipv6.fraghdr.ident",
    "_ws.malformed", "_ws.expert.message",
]
# Protocol names tshark puts in "[Malformed Packet: X]" for the layers the decoder owns.
_OUR_LAYERS = {"Ethernet", "802.1Q Virtual LAN", "IPv4", "IPv6", "TCP", "UDP", "ICMP", "ICMPv6",
               "Linux cooked-mode capture v1", "Linux cooked-mode capture v2",
               "Null/Loopback", "Raw packet data"}
# Header expert errors the decoder counts as decode errors (tshark severity "Error").
_BOGUS = ("Bogus IP header length", "Bogus IP length", "Bogus TCP header length",
          "IPv4 total length exceeds packet length", "Bogus IPv4 version", "Bogus IPv6 version")


def _is_error(malformed: str, experts: str) -> bool:
    if any(experts_item.startswith(_BOGUS) for experts_item in experts.split(",")):
        return True
    if not malformed:
        return False
    named = [m[len("[Malformed Packet: "):-1] for m in malformed.split(",")
             if m.startswith("[Malformed Packet: ")]
    if not named:
        return True  # a malformed expert raised by a header check itself
    return any(n in _OUR_LAYERS or n.startswith("IPv6 ") for n in named)


def tshark_counts(path: Path) -> dict[str, int]:
    """Counters for ``path`` computed from tshark's per-frame view."""
    cmd = [TSHARK, "-n", "-r", str(path), *_PREFS, "-T", "fields", "-E", "occurrence=a",
           "-E", "separator=\t"]
    for f in _FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    c = dict.fromkeys(["packets", "ipv4", "ipv6", "tcp", "udp", "icmp", "icmpv6", "fragments",
                       "not_ip", "decode_errors", "tcp_payload_bytes"], 0)
    for line in out.splitlines():
        protos, tlen, mf, foff, fragid, malformed, experts = (line.split("\t") + [""] * 7)[:7]
        layers = set(protos.split(":"))
        c["packets"] += 1
        for key, name in (("ipv4", "ip"), ("ipv6", "ipv6"), ("tcp", "tcp"), ("udp", "udp"),
                          ("icmp", "icmp"), ("icmpv6", "icmpv6")):
            c[key] += name in layers
        c["not_ip"] += not ({"ip", "ipv6"} & layers)
        frag = ("1" in mf.split(",") or "True" in mf.split(",")
                or any(v not in ("", "0") for v in foff.split(",")) or bool(fragid))
        c["fragments"] += frag
        c["decode_errors"] += _is_error(malformed, experts)
        c["tcp_payload_bytes"] += sum(int(v) for v in tlen.split(",") if v)
    return c
