# ruff: noqa: E402
"""Benchmark of the packet path: decode rate vs scapy and tshark, reassembly throughput.

Generates a capture of mixed traffic (TCP over IPv4/IPv6 with advancing sequence numbers,
UDP/DNS-like, ICMP echo, a few VLAN-tagged frames) with the project's own pcap writer,
then in one run times: our reader+decoder over the whole file, scapy's PcapReader over a
subset (extrapolated rate), ``tshark -T fields`` over the whole file, and TCP reassembly
of the TCP payloads. Prints one JSON object as the last line.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts named like stdlib modules (bench/inspect.py): keep it off the path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import json
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from providers.packets import Decoder, FlowTable, PcapWriter, TcpReassembler, open_capture


def _csum_free_ipv4(src: bytes, dst: bytes, proto: int, payload: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                       src, dst) + payload


def _ipv6(src: bytes, dst: bytes, nxt: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, 64, src, dst) + payload


def _tcp(sport: int, dport: int, seq: int, flags: int, data: bytes) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 0x50, flags, 65535, 0, 0) + data


def _eth(etype: int, payload: bytes, vlan: bool = False) -> bytes:
    head = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"
    if vlan:
        head += struct.pack("!HH", 0x8100, 7)
    return head + struct.pack("!H", etype) + payload


def generate(path: Path, count: int, seed: int = 1) -> None:
    """Write ``count`` frames of mixed traffic over ~2000 concurrent flows."""
    rnd = random.Random(seed)
    flows = []
    for i in range(2000):
        kind = rnd.random()
        flows.append({"kind": "tcp4" if kind < 0.55 else "tcp6" if kind < 0.7 else
                      "udp" if kind < 0.92 else "icmp", "seq": rnd.getrandbits(32),
                      "a": bytes([10, 0, i >> 8, i & 255]), "b": bytes([10, 9, 0, 1]),
                      "a6": bytes(15) + bytes([i & 255]), "port": 20000 + i})
    blobs = [bytes(rnd.getrandbits(8) for _ in range(1460))]
    with open(path, "wb") as f:
        w = PcapWriter(f)
        ts = 1_700_000_000 * 1_000_000_000
        for n in range(count):
            fl = flows[rnd.randrange(2000)]
            size = rnd.choice((0, 0, 40, 200, 536, 1460))
            data = blobs[0][:size]
            if fl["kind"] == "tcp4":
                frame = _eth(0x0800, _csum_free_ipv4(fl["a"], fl["b"], 6, _tcp(
                    fl["port"], 443, fl["seq"], 0x18, data)), vlan=n % 50 == 0)
                fl["seq"] = (fl["seq"] + size) & 0xFFFFFFFF
            elif fl["kind"] == "tcp6":
                frame = _eth(0x86DD, _ipv6(fl["a6"], bytes(15) + b"\x01", 6, _tcp(
                    fl["port"], 80, fl["seq"], 0x18, data)))
                fl["seq"] = (fl["seq"] + size) & 0xFFFFFFFF
            elif fl["kind"] == "udp":
                body = data[:120]
                frame = _eth(0x0800, _csum_free_ipv4(fl["a"], fl["b"], 17, struct.pack(
                    "!HHHH", fl["port"], 5353, 8 + len(body), 0) + body))
            else:
                frame = _eth(0x0800, _csum_free_ipv4(fl["a"], fl["b"], 1, struct.pack(
                    "!BBHHH", 8, 0, 0, fl["port"], n & 0xFFFF) + data[:56]))
            ts += 10_000
            w.write(frame, ts)


def ours(path: Path) -> tuple[float, int]:
    t = time.perf_counter()
    d = Decoder()
    decode = d.decode
    with open_capture(path) as src:
        for linktype, ts, data, wire, _ in src:
            decode(linktype, data, wire, ts)
    return time.perf_counter() - t, d.stats.packets


def scapy_rate(path: Path, limit: int) -> float:
    import scapy.layers.all  # noqa: F401 - load the dissectors, else frames stay Raw
    from scapy.utils import PcapReader

    t = time.perf_counter()
    n = 0
    with PcapReader(str(path)) as r:
        for _ in r:
            n += 1
            if n >= limit:
                break
    return n / (time.perf_counter() - t)


def tshark_rate(path: Path, packets: int) -> float | None:
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    t = time.perf_counter()
    subprocess.run([tshark, "-n", "-r", str(path), "-T", "fields", "-e", "frame.number",
                    "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "tcp.srcport",
                    "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "tcp.len"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return packets / (time.perf_counter() - t)


class _Sink:
    def on_data(self, flow, side, data):
        pass

    def on_gap(self, flow, side, n):
        pass

    def on_end(self, flow, side, reason):
        pass


def reassembly_rate(path: Path) -> float:
    """MB/s of TCP payload through flow lookup + reassembly (decoding done beforehand)."""
    d = Decoder()
    pkts = []
    with open_capture(path) as src:
        for linktype, ts, data, wire, _ in src:
            p = d.decode(linktype, data, wire, ts)
            if p is not None and p.proto == 6:
                pkts.append(p)
    table, r = FlowTable(), TcpReassembler(_Sink())
    t = time.perf_counter()
    for p in pkts:
        flow, _ = table.update(p)
        r.feed(flow, flow.side_of(p), p)
    dt = time.perf_counter() - t
    return r.stats.delivered_bytes / dt / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    count = 60_000 if args.quick else 1_000_000
    runs = args.runs
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mixed.pcap"
        generate(path, count)
        ours_pps, scapy_pps, tshark_pps, reasm = [], [], [], []
        for _ in range(runs):
            dt, n = ours(path)
            ours_pps.append(n / dt)
            scapy_pps.append(scapy_rate(path, 2_000 if args.quick else 20_000))
            rate = tshark_rate(path, n)
            if rate is not None:
                tshark_pps.append(rate)
            reasm.append(reassembly_rate(path))
    med = statistics.median
    result = {
        "bench": "packets",
        "metrics": {"decode_pps": round(med(ours_pps)), "reassembly_mb_per_s": round(med(reasm), 1),
                    "scapy_pps": round(med(scapy_pps)),
                    "tshark_pps": round(med(tshark_pps)) if tshark_pps else None,
                    "packets": count, "runs": runs},
        "ratios": {"decode_vs_scapy": round(med(ours_pps) / med(scapy_pps), 2),
                   "decode_vs_tshark": round(med(ours_pps) / med(tshark_pps), 2)
                   if tshark_pps else None},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
