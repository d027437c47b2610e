"""Log files: sequential, rotate and circular modes, whole lines only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tracer import ConfigError, Hub, LogReader, ProviderEnable, SessionConfig, read_log

from .conftest import Demo

MB = 1024 * 1024


def _run(hub: Hub, demo: Demo, config: SessionConfig, n: int) -> None:
    session = hub.start_session(config)
    for i in range(n):
        demo.connect.write("host-" + "x" * 50, i)
        if i % 500 == 0:
            session.flush()
    hub.stop_session(config.name)


def test_sequential_with_max_size_stops_and_counts(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """A sequential file never exceeds its max size; events past it are counted lost."""
    log = tmp_path / "seq.jsonl"
    cfg = SessionConfig("seq", [ProviderEnable("test-demo")], file=log, max_size=64 * 1024)
    session = hub.start_session(cfg)
    for i in range(3000):
        demo.connect.write("h" * 40, i)
    stats = hub.stop_session("seq")
    del session
    assert log.stat().st_size <= 64 * 1024
    events = list(read_log(log))
    assert stats.events_lost > 0 and len(events) == stats.events_written
    assert stats.events_written + stats.events_lost == 3000


def test_rotate_starts_new_files_with_headers(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """Rotate mode opens trace.1.jsonl, trace.2.jsonl... each under the max size."""
    log = tmp_path / "trace.jsonl"
    _run(hub, demo, SessionConfig("rot", [ProviderEnable("test-demo")], file=log, mode="rotate",
                                  max_size=64 * 1024), 3000)
    files = sorted(tmp_path.glob("trace*.jsonl"))
    assert len(files) >= 3
    for f in files:
        assert f.stat().st_size <= 64 * 1024
        assert f.read_bytes().startswith(b'{"type":"header"')
    ports = [e.fields["port"] for e in read_log(log)]
    assert ports == list(range(3000))


def test_circular_keeps_the_newest_events(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """Circular mode stays under max size and the reader returns the newest events in order."""
    log = tmp_path / "ring.jsonl"
    _run(hub, demo, SessionConfig("ring", [ProviderEnable("test-demo")], file=log,
                                  mode="circular", max_size=128 * 1024), 5000)
    assert log.stat().st_size <= 128 * 1024
    ports = [e.fields["port"] for e in read_log(log)]
    assert ports[-1] == 4999
    assert ports == list(range(ports[0], 5000))  # contiguous: oldest data overwritten
    assert len(ports) > 300  # all but the block being overwritten


def test_modes_needing_a_size_refuse_without(hub: Hub, tmp_path: Path) -> None:
    """Circular and rotate modes without a max size are configuration errors."""
    for mode in ("circular", "rotate"):
        with pytest.raises(ConfigError, match="max size"):
            hub.start_session(SessionConfig("m", [ProviderEnable("test-demo")],
                                            file=tmp_path / "m", mode=mode))
    with pytest.raises(ConfigError, match="file mode"):
        hub.start_session(SessionConfig("m", [ProviderEnable("test-demo")],
                                        file=tmp_path / "m", mode="bogus"))


_WRITER = textwrap.dedent("""
    import sys
    from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig
    p = Provider("killme", keywords=["k"])
    ev = p.event(1, "Tick", Level.INFO, "k", {"n": int, "pad": str}, "tick {n}")
    hub = Hub(load_installed=False)
    hub.register(p)
    hub.start_session(SessionConfig("k", [ProviderEnable("killme")], file=sys.argv[1],
                                    flush_interval=0.005, buffer_size=256))
    print("ready", flush=True)
    i = 0
    while True:
        ev.write(i, "p" * (i % 700))
        i += 1
""")


def test_tailing_reader_never_sees_a_torn_line(tmp_path: Path) -> None:
    """A writer killed with SIGKILL mid-stream leaves only whole lines for a follower; an
    unfinished last line (the kernel stops a write at a page boundary) is left out and
    reported."""
    log = tmp_path / "kill.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(log)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        deadline = [time.monotonic() + 30.0]  # until the kill, then 0.5 s more
        seen = []
        reader = LogReader(log, follow=True, poll_interval=0.01,
                           should_stop=lambda: time.monotonic() > deadline[0])
        for event in reader:
            seen.append(event.fields["n"])
            if len(seen) == 2000:
                os.kill(proc.pid, signal.SIGKILL)
                deadline[0] = time.monotonic() + 0.5
        assert reader.bad_lines == 0
        assert seen == list(range(len(seen))) and len(seen) >= 2000
    finally:
        proc.kill()
        proc.wait()
    data = log.read_bytes()
    reader = LogReader(log)
    assert sum(1 for _ in reader) == data.count(b"\n") - 1 and reader.bad_lines == 0
    tail = len(data) - data.rfind(b"\n") - 1
    assert reader.partial_tail == tail
    if tail:  # SIGKILL stopped a write where the kernel checks for it: a page boundary
        assert len(data) % 4096 == 0
