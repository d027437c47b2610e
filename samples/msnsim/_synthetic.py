"""Fast synthetic pcap of MSNP traffic, for benchmarks (hundreds of MB in seconds).

Writes classic pcap directly: Ethernet / IPv4 / TCP frames with a handshake,
correct sequence and acknowledgement numbers, IPv4 and TCP checksums, and a
FIN at the end of each connection. Each connection is a notification-server
or switchboard session on port 1863 whose two byte streams are cut into
segments at random points, so commands are split across segments and several
share one segment.
"""

from __future__ import annotations

import random
import struct
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SyntheticStats", "write_synthetic_capture"]

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
_ETHER = bytes.fromhex("0200000000020200000000010800")
_SYN, _ACK, _PSH, _FIN = 0x02, 0x10, 0x08, 0x01
_MSS = 1460
_NATIVE_H = "<H" if sys.byteorder == "little" else ">H"
_WORDS = (
    "hey",
    "ok",
    "lol",
    "sure",
    "meeting",
    "tomorrow",
    "Grüße",
    "日本",
    "file",
    "now",
    "what",
    "about",
    "the",
    "server",
    "🙂",
    "later",
    "thanks",
    "cool",
    "brb",
    "yes",
)


@dataclass(slots=True)
class SyntheticStats:
    """What was written: commands (both directions), packets, connections and file size."""

    commands: int = 0
    packets: int = 0
    connections: int = 0
    file_bytes: int = 0
    stream_bytes: int = 0


def _checksum(data: bytes) -> bytes:
    """The Internet checksum of ``data``, as the two bytes to store in a header."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(array("H", data))  # native-order words: the sum is byte-order symmetric
    while total >> 16:
        total = (total >> 16) + (total & 0xFFFF)
    return struct.pack(_NATIVE_H, (~total) & 0xFFFF)


class _Connection:
    """One TCP connection's addresses, sequence numbers and frame writer."""

    def __init__(
        self,
        rng: random.Random,
        index: int,
        stats: SyntheticStats,
        out: list[bytes],
        clock: list[float],
    ) -> None:
        self.client = bytes([10, 1 + (index >> 16) % 200, (index >> 8) & 0xFF, 1 + index % 250])
        self.server = bytes([207, 46, 108, 1 + index % 200])
        self.cport = 1024 + index % 60000
        self.seq = {"c": rng.getrandbits(32), "s": rng.getrandbits(32)}
        self.stats, self.out, self.clock = stats, out, clock
        self.ip_id = 0

    def frame(self, side: str, flags: int, payload: bytes = b"") -> None:
        other = "s" if side == "c" else "c"
        src, dst = (self.client, self.server) if side == "c" else (self.server, self.client)
        sport, dport = (self.cport, 1863) if side == "c" else (1863, self.cport)
        opening = flags == _SYN and side == "c"  # the only segment without ACK
        ack = 0 if opening else self.seq[other]
        flags |= 0 if opening else _ACK
        tcp = struct.pack("!HHIIBBHHH", sport, dport, self.seq[side], ack, 0x50, flags, 65535, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, 20 + len(payload))
        tcp = tcp[:16] + _checksum(pseudo + tcp + payload) + tcp[18:]
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), self.ip_id, 0x4000, 64, 6, 0, src, dst
        )
        ip = ip[:10] + _checksum(ip) + ip[12:]
        self.seq[side] = (
            self.seq[side] + len(payload) + (1 if flags & (_SYN | _FIN) else 0)
        ) & 0xFFFFFFFF
        size = 14 + 40 + len(payload)
        self.clock[0] += 0.0001
        sec = int(self.clock[0])
        usec = int((self.clock[0] - sec) * 1e6)
        self.out.append(struct.pack("<IIII", sec, usec, size, size) + _ETHER + ip + tcp + payload)
        self.stats.packets += 1
        self.stats.file_bytes += 16 + size

    def handshake(self) -> None:
        self.frame("c", _SYN)
        self.frame("s", _SYN)
        self.frame("c", 0)

    def send(self, rng: random.Random, side: str, data: bytes) -> None:
        self.stats.stream_bytes += len(data)
        pos = 0
        while pos < len(data):
            size = min(_MSS, len(data) - pos, rng.choice((_MSS, _MSS, rng.randint(1, _MSS))))
            self.frame(side, _PSH, data[pos : pos + size])
            pos += size

    def finish(self) -> None:
        self.frame("c", _FIN)
        self.frame("s", _FIN)
        self.frame("c", 0)


def _cmd(verb: str, trid: int | None, *args: str, payload: bytes | None = None) -> bytes:
    words = [verb, *([str(trid)] if trid is not None else []), *args]
    if payload is not None:
        words.append(str(len(payload)))
    return " ".join(words).encode() + b"\r\n" + (payload or b"")


def _text(rng: random.Random, long: bool = False) -> bytes:
    count = rng.randint(200, 600) if long else rng.randint(1, 30)
    body = " ".join(rng.choice(_WORDS) for _ in range(count)).encode()
    return (
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
        b"X-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=22\r\n\r\n" + body
    )


def _typing(email: str) -> bytes:
    return (
        b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: "
        + email.encode()
        + b"\r\n\r\n\r\n"
    )


def _switchboard(rng: random.Random, me: str, peer: str) -> list[tuple[str, list[bytes]]]:
    turns = [
        ("c", [_cmd("USR", 1, me, "1234.5678.9")]),
        ("s", [_cmd("USR", 1, "OK", me, "Me")]),
        ("c", [_cmd("CAL", 2, peer)]),
        ("s", [_cmd("CAL", 2, "RINGING", "11752013"), _cmd("JOI", None, peer, "Peer")]),
    ]
    trid = 3
    for _ in range(rng.randint(10, 60)):
        if rng.random() < 0.5:
            ack = rng.choice("UNA")
            batch = [
                _cmd("MSG", trid, "U", payload=_typing(me)),
                _cmd("MSG", trid + 1, ack, payload=_text(rng, rng.random() < 0.03)),
            ]
            turns.append(("c", batch))
            if ack == "A":
                turns.append(("s", [_cmd("ACK", trid + 1)]))
            trid += 2
        else:
            turns.append(
                (
                    "s",
                    [
                        _cmd("MSG", None, peer, "Peer", payload=_typing(peer)),
                        _cmd("MSG", None, peer, "Peer", payload=_text(rng)),
                    ],
                )
            )
    turns.append(("c", [_cmd("OUT", None)]))
    return turns


def _notification(rng: random.Random, me: str) -> list[tuple[str, list[bytes]]]:
    contacts = [f"user{rng.randint(1, 99999)}@example.com" for _ in range(rng.randint(5, 40))]
    lists = [
        _cmd("SYN", 5, "0", "0", str(len(contacts)), "1"),
        _cmd("GTC", None, "A"),
        _cmd("BLP", None, "AL"),
        _cmd("LSG", None, "Friends", "0"),
    ]
    lists += [
        _cmd("LST", None, f"N={c}", f"F={c.split('@')[0]}", "C=0", "11", "0") for c in contacts
    ]
    turns = [
        ("c", [_cmd("VER", 1, "MSNP15", "MSNP14", "CVR0")]),
        ("s", [_cmd("VER", 1, "MSNP15")]),
        (
            "c",
            [_cmd("CVR", 2, "0x0409", "winnt", "5.1", "i386", "MSNMSGR", "8.5.1288", "msmsgs", me)],
        ),
        ("s", [_cmd("CVR", 2, "8.5.1288", "8.5.1288", "8.1.0178", "http://x/d", "http://x/i")]),
        ("c", [_cmd("USR", 3, "SSO", "I", me)]),
        ("s", [_cmd("USR", 3, "SSO", "S", "MBI_KEY_OLD", "bm9uY2U=")]),
        ("c", [_cmd("USR", 4, "SSO", "S", "t=ticket", "cmVzcG9uc2U=")]),
        ("s", [_cmd("USR", 4, "OK", me, "1", "0")]),
        ("c", [_cmd("SYN", 5, "0", "0")]),
        ("s", lists),
        (
            "c",
            [
                _cmd(
                    "UUX", 6, payload=b"<Data><PSM>busy</PSM><CurrentMedia></CurrentMedia></Data>"
                ),
                _cmd("CHG", 7, "NLN", "2789003324", "0"),
            ],
        ),
        ("s", [_cmd("UUX", 6, "0"), _cmd("CHG", 7, "NLN", "2789003324", "0")]),
    ]
    for contact in rng.sample(contacts, k=min(len(contacts), rng.randint(1, 10))):
        turns.append(
            (
                "s",
                [
                    _cmd("NLN", None, "NLN", contact, "Friend", "2789003324"),
                    _cmd("UBX", None, contact, "1", payload=b"<Data><PSM>hi</PSM></Data>"),
                ],
            )
        )
    turns += [
        ("c", [_cmd("PNG", None)]),
        ("s", [_cmd("QNG", None, "50")]),
        ("c", [_cmd("OUT", None)]),
    ]
    return turns


def write_synthetic_capture(path: str | Path, target_bytes: int, seed: int = 0) -> SyntheticStats:
    """Write at least ``target_bytes`` of pcap with MSNP sessions; return what was written."""
    rng = random.Random(seed)
    stats = SyntheticStats(file_bytes=len(_PCAP_HEADER))
    clock = [1_150_000_000.0]
    with open(path, "wb") as f:
        f.write(_PCAP_HEADER)
        index = 0
        while stats.file_bytes < target_bytes:
            out: list[bytes] = []
            conn = _Connection(rng, index, stats, out, clock)
            me = f"user{index}@example.com"
            turns = (
                _switchboard(rng, me, f"peer{index}@example.com")
                if rng.random() < 0.7
                else _notification(rng, me)
            )
            conn.handshake()
            for side, commands in turns:
                stats.commands += len(commands)
                conn.send(rng, side, b"".join(commands))
            conn.finish()
            stats.connections += 1
            f.writelines(out)
            index += 1
    return stats
