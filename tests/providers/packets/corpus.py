"""The captures differential tests run on: shared, bundled, simulated, damaged, interleaved.

Every compiled stage is compared with its Python twin on all of them (see
``stage_trace.py`` and ``tests/providers/msnmon/test_lane.py``).
"""

from __future__ import annotations

import random
from pathlib import Path

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
