"""Opening big logs in a real terminal (tmux): what a user waits for, ours and the peers'.

Logs are written by a real :class:`tracer.Hub` session into a file (cached between
runs; generation time does not count). Each viewer starts in a fresh tmux pane; the
clock runs from starting the command to the first rows on the screen (the pane is
read with ``capture-pane`` every few milliseconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench._common import rss_mb
from tracer import Hub, LogReader, ProviderEnable, SessionConfig

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("WFPTRACE_BENCH_CACHE", Path(tempfile.gettempdir())
                            / "wfptrace-bench-logs"))
SIZE = (120, 40)


# -- logs ------------------------------------------------------------------------------------
def make_log(n: int) -> Path:
    """A log of ``n`` events of the real inspect and MSN monitor types (cached).

    Every event differs (port, transaction id, connection id grow with it), so the first
    and the last rows can be recognised on the screen.
    """
    from viewer._demo import demo_providers

    real = {p.name: p for p in demo_providers()}
    # the cache is keyed by the manifests too: a log of older event shapes is never reused
    shapes = hashlib.sha256(json.dumps([real[k].manifest() for k in sorted(real)],
                                       sort_keys=True, default=str).encode()).hexdigest()[:12]
    path = CACHE / f"trace-{n}-{shapes}.jsonl"
    if path.exists() and path.with_suffix(".done").exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    pended = real["wfptrace-inspect"].events["ConnectionPended"].write
    command = real["wfptrace-msnmon"].events["Command"].write
    timeout = real["wfptrace-inspect"].events["DecisionTimeout"].write
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        hub.start_session(SessionConfig(
            "bench-log", [ProviderEnable("wfptrace-inspect"), ProviderEnable("wfptrace-msnmon")],
            file=path, blocking=True, render_worker=True))
        t0 = time.time_ns()
        for i in range(n):
            ts = t0 + i * 2_000  # packet times, 2 us apart
            if i % 3 == 0:
                pended(ts, i // 3 + 1, f"1:flow{i}=", "tcp", "10.0.0.1", 40000 + i,
                       f"10.0.0.{i % 8}", 1863, "egress", "connect", "/usr/bin/msnmsgr", 3100)
            elif i % 3 == 1:
                command(ts, f"1:flow{i}=", "egress", "MSG", i, ["U", "128"], 128,
                        "switchboard", "client_server", 0, b"MSG 1 U 128")
            else:
                timeout(ts, i // 3 + 1, f"1:flow{i}=", "permit", 15.0, "no decision")
        hub.stop_session("bench-log")
    path.with_suffix(".done").write_text(str(n))
    return path


def first_and_last(path: Path) -> tuple[str, str]:
    """The start of the first and the last event's message (unique in these logs)."""
    reader = LogReader(path)
    with open(path, "rb") as f:
        f.readline()
        first = reader.decode(f.readline())
        f.seek(max(0, os.path.getsize(path) - 65536))
        last = reader.decode(f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1])
    assert first is not None and last is not None
    return first.message[:34], last.message[:34]


# -- tmux --------------------------------------------------------------------------------------
def _tmux(*args: str) -> str:
    """Run tmux on a server of our own (other tmux users' servers come and go)."""
    for _ in range(20):  # a server whose last session just closed may still be exiting
        r = subprocess.run(["tmux", "-L", "wfptrace-bench", *args], capture_output=True,
                           text=True)
        if r.returncode == 0 or "server exited unexpectedly" not in r.stderr:
            break
        time.sleep(0.05)
    if r.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args[:2])}: {r.stderr.strip()}")
    return r.stdout


class Pane:
    """A command running in a fresh tmux session of SIZE."""

    def __init__(self, command: str) -> None:
        self.name = f"bench-{uuid.uuid4().hex[:8]}"
        self.started = time.perf_counter()
        _tmux("new-session", "-d", "-s", self.name, "-x", str(SIZE[0]), "-y", str(SIZE[1]),
              f"exec env {command}")  # env: the command may start with VAR=value
        self.pid = int(_tmux("display", "-p", "-t", self.name, "#{pane_pid}").strip())

    def screen(self) -> str:
        return _tmux("capture-pane", "-p", "-t", self.name)

    def wait(self, found: Callable[[str], bool], timeout: float = 120.0) -> float:
        """Seconds until the screen satisfies ``found`` (from ``since``); raise on timeout."""
        deadline = time.perf_counter() + timeout
        screen = ""
        while time.perf_counter() < deadline:
            screen = self.screen()
            if found(screen):
                return time.perf_counter()
            time.sleep(0.005)
        raise TimeoutError(f"screen never matched; it was:\n{screen}")

    def keys(self, *keys: str) -> float:
        t = time.perf_counter()
        _tmux("send-keys", "-t", self.name, *keys)
        return t

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", "wfptrace-bench", "kill-session", "-t", self.name],
                       capture_output=True)


def traceview_cmd(path: Path) -> str:
    return f"{sys.executable} -m viewer {path}"


def traceview_open(path: Path, *, full: bool) -> dict[str, float]:
    """Open ``path`` in traceview: first paint (ms), RSS; with ``full`` also jump to the end
    at once, indexing time, RSS once indexed, and a field filter over the whole log."""
    first, last = first_and_last(path)
    pane = Pane(traceview_cmd(path))
    try:
        t = pane.wait(lambda s: first in s)
        out = {"open_ms": (t - pane.started) * 1000}
        # the first rows may be painted before Textual runs (viewer/_prepaint.py); keys
        # are answered from Textual's first frame, which shows the status bar
        t = pane.wait(lambda s: first in s and (" PAUSED " in s or " FOLLOW " in s))
        out["interactive_ms"] = (t - pane.started) * 1000
        out["rss_mb"] = pane.rss_mb()
        if not full:
            return out
        t0 = pane.keys("End")  # once keys are answered (a key sent before waits for Textual)
        out["end_ms"] = (pane.wait(lambda s: last in s) - t0) * 1000
        pane.keys("Home")
        t1 = pane.wait(lambda s: "indexing" not in s and first in s, timeout=300)
        out["index_s"] = t1 - pane.started
        time.sleep(0.5)
        out["rss_indexed_mb"] = pane.rss_mb()
        pane.keys("f")
        pane.wait(lambda s: "Apply" in s)
        time.sleep(0.5)
        pane.keys("-l", "destination.ip == 10.0.0.7")  # the display filter input has the focus
        time.sleep(0.2)
        t2 = pane.keys("C-s")
        t3 = pane.wait(lambda s: "filter: destination.ip" in s and "filtering" not in s,
                       timeout=120)
        out["filter_s"] = t3 - t2
        out["rss_filtered_mb"] = pane.rss_mb()
        return out
    finally:
        pane.close()


_HELLO = ("from textual.app import App\nfrom textual.widgets import Static\n"
          "class Hello(App):\n    def compose(self):\n        yield Static('hello-first-row')\n"
          "Hello().run()\n")


def textual_hello_ms() -> float:
    """Time to the first frame of the smallest Textual app (one line of text): the floor
    of any Textual viewer's first paint on this machine, measured the same way."""
    script = CACHE / "textual_hello.py"
    CACHE.mkdir(parents=True, exist_ok=True)
    script.write_text(_HELLO)
    return peer_open_ms(f"{sys.executable} {script}", "hello-first-row")


def toolong_bin() -> str | None:
    """The toolong command (``tl``): on PATH, or in a venv of its own made once.

    toolong pins textual < 0.59, which cannot share an environment with TraceView.
    """
    found = shutil.which("tl")
    if found:
        return found
    venv = CACHE / "toolong-venv"
    tl = venv / "bin" / "tl"
    if not tl.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "toolong"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None
    return str(tl)


def peer_open_ms(command: str, needle: str) -> float:
    """Time to the first rows of a log for a peer viewer (toolong, lnav)."""
    pane = Pane(command)
    try:
        return (pane.wait(lambda s: needle in s) - pane.started) * 1000
    finally:
        pane.close()
