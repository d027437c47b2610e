"""The captures differential tests run on: shared, bundled, simulated, damaged, interleaved.

Every compiled stage is compared with its Python twin on all of them (see
``stage_trace.py`` and ``tests/providers/msnmon/test_compiled.py``).
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import strategies as st

from providers.packets import PcapWriter, open_capture

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO / ".." / "shared" / "captures"
SAMPLES = REPO / "samples" / "captures"


def shared_captures() -> list[Path]:
    """The third-party captures of the shared directory (none if it is absent)."""
    if not SHARED.is_dir():
        return []
    return sorted(p for p in SHARED.iterdir() if p.suffix in (".pcap", ".pcapng"))


def sample_captures() -> list[Path]:
    """The simulator's captures bundled with the repository."""
    return sorted(SAMPLES.glob("*.pcap"))


def mutated(src: Path, dst: Path, seed: int) -> None:
    """A copy of a capture with the damage real captures have: reordered, duplicated and
    lost frames, flipped bytes, cut frames, stray flags, long silences, flows interleaved."""
    rng = random.Random(seed)
    with open_capture(src) as source:
        frames = [(ts, bytes(data), wire) for _lt, ts, data, wire, _ in source]
    out: list[tuple[int, bytes, int]] = []
    shift = 0
    for ts, data, wire in frames:
        r = rng.random()
        if r < 0.03:
            continue  # lost
        if r < 0.06 and len(data) > 60:
            i = rng.randrange(54, len(data))
            data = data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
        elif r < 0.08 and len(data) > 60:
            data = data[:rng.randrange(40, len(data))]  # cut by a snap length
        elif r < 0.10 and len(data) > 47:
            data = data[:47] + bytes([data[47] | rng.choice([1, 2, 4])]) + data[48:]
        elif r < 0.11:
            shift += 4000 * 10**9  # past the idle timeouts
        out.append((ts + shift, data, wire))
        if rng.random() < 0.04:
            out.append((ts + shift, data, wire))  # retransmitted
    for _ in range(len(out) // 4):  # neighbours swapped: flows interleave, segments reorder
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    with dst.open("wb") as f:
        writer = PcapWriter(f, nano=True)
        for ts, data, wire in out:
            writer.write(data, ts, max(wire, len(data)))


def interleaved(sources: list[Path], dst: Path, seed: int) -> None:
    """The frames of several captures merged in random runs: many flows at once."""
    rng = random.Random(seed)
    queues = []
    for src in sources:
        with open_capture(src) as source:
            queues.append([(bytes(data), wire) for _lt, _ts, data, wire, _ in source][::-1])
    with dst.open("wb") as f:
        writer = PcapWriter(f, nano=True)
        ts = 1_150_000_000 * 10**9
        while any(queues):
            queue = rng.choice([q for q in queues if q])
            for _ in range(rng.randint(1, 4)):
                if queue:
                    data, wire = queue.pop()
                    ts += rng.randint(0, 3_000_000)
                    writer.write(data, ts, wire)


def write_frames(path: Path, frames: list[bytes], cut: int = 0) -> None:
    """Ethernet frames one millisecond apart (those over 60 bytes cut by ``cut``)."""
    with path.open("wb") as f:
        writer = PcapWriter(f, nano=True)
        for i, data in enumerate(frames):
            writer.write(data[: len(data) - cut] if len(data) > 60 else data,
                         10**18 + i * 10**6, len(data))


def plausible_frame(payload: bytes, v6: bool, flags: int, seq: int, port: int) -> bytes:
    """An Ethernet frame whose headers are plausible and whose rest is arbitrary."""
    if v6:
        ip = bytes([0x60, 0, 0, 0]) + (20 + len(payload)).to_bytes(2, "big") + b"\x06\x40" \
            + b"\xfe\x80" + b"\x00" * 13 + b"\x01" + b"\xfe\x80" + b"\x00" * 13 + b"\x02"
        eth = b"\x02" * 12 + b"\x86\xdd"
    else:
        ip = bytes([0x45, 0]) + (40 + len(payload)).to_bytes(2, "big") \
            + b"\x00\x00\x40\x00\x40\x06\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02"
        eth = b"\x02" * 12 + b"\x08\x00"
    tcp = (port.to_bytes(2, "big") + (1863).to_bytes(2, "big") + seq.to_bytes(4, "big")
           + b"\x00" * 4 + bytes([0x50, flags]) + b"\xff\xff\x00\x00\x00\x00")
    return eth + ip + tcp + payload


#: Hostile frames for Hypothesis: random bytes, and plausible TCP headers (v4/v6, any
#: flags, sequence numbers and ports of one flow) around random payloads.
FRAMES = st.lists(
    st.one_of(
        st.binary(max_size=80),  # anything at all
        st.builds(plausible_frame, st.binary(max_size=60), st.booleans(),
                  st.sampled_from([0x10, 0x18, 0x02, 0x12, 0x11, 0x04, 0x19, 0x30]),
                  st.integers(0, 4000), st.sampled_from([40000, 40001])),
    ),
    max_size=40,
)
