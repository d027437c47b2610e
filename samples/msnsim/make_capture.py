"""Regenerate the bundled sample captures: a simulator session on loopback, captured.

    python -m samples.msnsim.make_capture [--out samples/captures] [--port-base 18630]

For each dialect it starts ``dumpcap`` on ``lo`` with a capture filter on the
simulator's three ports, plays the scripted session, stops the capture and
writes ``msn_session[_msnp9|_msnp15].pcap`` plus the client's ``.json`` transcript.
Needs permission to capture (root, or dumpcap's capabilities).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

from samples.msnsim._session import run_session

__all__ = ["CAPTURES", "make_capture"]

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
_READY_TIMEOUT = 10.0


def _start_dumpcap(path: Path, port_base: int, interface: str) -> subprocess.Popen:
    dumpcap = shutil.which("dumpcap")
    if dumpcap is None:
        raise RuntimeError("dumpcap is not installed (apt-get install tshark)")
    proc = subprocess.Popen(
        [
            dumpcap,
            "-q",
            "-i",
            interface,
            "-P",
            "-w",
            str(path),
            "-f",
            f"tcp portrange {port_base}-{port_base + 2}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # dumpcap -q says little: no risk of filling the pipe
    )
    deadline = time.monotonic() + _READY_TIMEOUT
    while not (path.exists() and path.stat().st_size >= 24):  # the pcap header is written
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            error = proc.communicate()[1].decode(errors="replace")
            raise RuntimeError(f"dumpcap did not start: {error}")
        time.sleep(0.05)
    time.sleep(0.3)  # the filter is attached before the header is flushed; a margin anyway
    return proc


def _stop(proc: subprocess.Popen) -> None:
    time.sleep(0.3)  # let the last segments reach the capture
    proc.terminate()
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def make_capture(
    out_dir: Path, name: str, port_base: int, dialect: str = "MSNP8", interface: str = "lo"
) -> tuple[Path, Path]:
    """Capture one simulator session; return the pcap and transcript paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pcap, transcript_path = out_dir / f"{name}.pcap", out_dir / f"{name}.json"
    pcap.unlink(missing_ok=True)
    proc = _start_dumpcap(pcap, port_base, interface)
    try:
        transcript = asyncio.run(run_session(port_base, "127.0.0.1", dialect))
    finally:
        _stop(proc)
    pcap.chmod(0o644)  # dumpcap creates it private; it is a sample meant to be read
    transcript.save(transcript_path)
    return pcap, transcript_path


def main(argv: list[str] | None = None) -> int:
    """Write the bundled captures (MSNP8, MSNP9 and MSNP15 sessions)."""
    parser = argparse.ArgumentParser(
        prog="python -m samples.msnsim.make_capture",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=CAPTURES)
    parser.add_argument("--port-base", type=int, default=18630)
    parser.add_argument("--interface", default="lo")
    args = parser.parse_args(argv)
    try:
        for offset, (name, dialect) in enumerate(
            (("msn_session", "MSNP8"), ("msn_session_msnp15", "MSNP15"),
             ("msn_session_msnp9", "MSNP9"))
        ):
            pcap, transcript = make_capture(
                args.out, name, args.port_base + 10 * offset, dialect, args.interface
            )
            print(f"{pcap} ({pcap.stat().st_size} bytes), {transcript}")
    except (RuntimeError, OSError) as error:
        print(f"make_capture: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
