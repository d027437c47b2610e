"""Benchmark of the MSN monitor: MSNP commands extracted per second from a large capture.

Generates a synthetic MSNP capture (``samples.msnsim.write_synthetic_capture``:
notification and switchboard sessions on port 1863, commands split across
segments and packed several per segment), then in the same run, alternating:

- ours: ``providers.msnmon.replay_capture`` (decode, flow table, shared TCP
  reassembly, incremental parser, roles, transactions, summaries; with the C
  accelerators when they are built: ``c_accelerators`` in the metrics says, and
  ``--pure`` measures without them): the headline
  is the extraction itself (typed commands, no trace session listening); the
  ``*_traced`` figures add a session that enables the ``Command`` events and
  delivers them to a real-time consumer (or a log file with ``--log``), i.e.
  the tracing core's cost on top;
- tshark's MSNMS dissector on the same file: ``tshark -n -r FILE -Y msnms -T
  fields -e frame.number -e msnms``. The dissector declares no fields (``tshark
  -G fields`` lists only the protocol), so this is the cheapest way to make it
  dissect every segment; ``--tshark-details`` uses ``-O msnms`` instead, which
  prints the command lines.

Times are CPU seconds of the work (this process / the tshark child), robust
against other load on the machine; wall-clock figures are reported too. The
JSON line's ratio ``vs_tshark`` is our commands/s over tshark's on the same
file (tshark extracts the same commands, without reassembly or typed fields).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The repository root replaces this script's directory on the path, so that a bench
# module named like a stdlib module (bench/inspect.py) cannot shadow it.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench._common import emit, progress  # noqa: E402
from providers import accelerators  # noqa: E402
from providers.msnmon import PROVIDER, PROVIDER_NAME, replay_capture  # noqa: E402
from samples.msnsim import write_synthetic_capture  # noqa: E402
from tracer import Hub, Level, ProviderEnable, SessionConfig  # noqa: E402

MB = 1_000_000


def _extract(path: Path) -> tuple[float, float, int]:
    """(cpu s, wall s, commands) of one replay with no session listening."""
    wall, cpu = time.perf_counter(), time.process_time()
    stats = replay_capture(path)
    return time.process_time() - cpu, time.perf_counter() - wall, stats.commands


def _traced(path: Path, log: Path | None) -> tuple[float, float, int]:
    """(cpu s, wall s, commands) of one replay with Command events enabled."""
    with Hub(load_installed=False) as hub:
        hub.register(PROVIDER)
        spec = ProviderEnable(PROVIDER_NAME, level=Level.INFO,
                              keywords=("client_server", "peer_to_peer"))
        hub.start_session(SessionConfig("bench", [spec], file=str(log) if log else None,
                                        realtime=log is None, buffer_count=256))
        sub = None if log else hub.subscribe("bench", maxsize=1)  # drops after 1: counted
        wall, cpu = time.perf_counter(), time.process_time()
        stats = replay_capture(path)
        hub.stop_session("bench")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if sub is not None:
            sub.close()
        hub.unregister(PROVIDER)
    return cpu, wall, stats.commands


def _tshark(path: Path, details: bool) -> tuple[float, float]:
    """(cpu s, wall s) of tshark's MSNMS dissection of the file."""
    out = ["-O", "msnms"] if details else ["-T", "fields", "-e", "frame.number", "-e", "msnms"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "msnms", *out],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _paired(theirs: list, ours: list, k: int) -> float:
    """Median over runs of tshark's time / ours (element ``k``: 0 cpu, 1 wall)."""
    return round(statistics.median(t[k] / o[k] for t, o in zip(theirs, ours, strict=True)), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 MB capture")
    parser.add_argument("--size-mb", type=int, help="capture size (default 200, quick 20)")
    parser.add_argument("--runs", type=int, help="runs of each side (default 3)")
    parser.add_argument("--log", action="store_true", help="also write the events to a file")
    parser.add_argument("--tshark-details", action="store_true", help="tshark -O msnms")
    parser.add_argument("--pure", action="store_true",
                        help="without the C accelerators (WFPTRACE_PURE=1, in a child)")
    args = parser.parse_args()
    if args.pure and not os.environ.get("WFPTRACE_PURE"):
        argv = [a for a in sys.argv[1:] if a != "--pure"]
        env = {**os.environ, "WFPTRACE_PURE": "1"}
        return subprocess.run([sys.executable, __file__, *argv], env=env, check=False).returncode
    size = (args.size_mb or (20 if args.quick else 200)) * MB
    runs = args.runs or 3
    if shutil.which("tshark") is None:
        print("tshark is not installed: no peer to compare with", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="msnmon-bench-") as tmp:
        path = Path(tmp) / "msnp.pcap"
        progress(f"generating a {size / MB:.0f} MB synthetic MSNP capture")
        synth = write_synthetic_capture(path, size, seed=1)
        ours: list[tuple[float, float, int]] = []
        traced: list[tuple[float, float, int]] = []
        theirs: list[tuple[float, float]] = []
        for i in range(runs):
            progress(f"run {i + 1}/{runs}: msnmon extraction")
            ours.append(_extract(path))
            progress(f"run {i + 1}/{runs}: msnmon with Command events in a session")
            traced.append(_traced(path, Path(tmp) / "events.jsonl" if args.log else None))
            progress(f"run {i + 1}/{runs}: tshark")
            theirs.append(_tshark(path, args.tshark_details))
    commands = ours[0][2]
    cpu, wall = (statistics.median(o[k] for o in ours) for k in (0, 1))
    tr_cpu = statistics.median(o[0] for o in traced)
    t_cpu, t_wall = (statistics.median(t[k] for t in theirs) for k in (0, 1))
    mb = synth.file_bytes / MB
    metrics = {
        "commands": commands,
        "commands_per_s": round(commands / cpu),
        "mb_per_s": round(mb / cpu, 2),
        "commands_per_s_traced": round(commands / tr_cpu),
        "mb_per_s_traced": round(mb / tr_cpu, 2),
        "tshark_commands_per_s": round(commands / t_cpu),
        "tshark_mb_per_s": round(mb / t_cpu, 2),
        "capture_mb": round(mb, 1),
        "packets": synth.packets,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "tshark_cpu_s": round(t_cpu, 3),
        "tshark_wall_s": round(t_wall, 3),
        "runs": runs,
        "c_accelerators": sum(accelerators().values()),
    }
    # Each ratio is the median of the per-run ratios: the runs alternate the sides,
    # so a change of machine speed between runs hits both.
    ratios = {"vs_tshark": _paired(theirs, ours, 0), "vs_tshark_traced": _paired(theirs, traced, 0),
              "vs_tshark_wall": _paired(theirs, ours, 1)}
    emit("msnmon", metrics, ratios)
    ok = commands == synth.commands and all(o[2] == commands for o in traced)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
