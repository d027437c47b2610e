"""The render worker: a forked child renders and writes the log file, counts stay exact."""

from __future__ import annotations

import os
import resource
import signal
import threading
import time
from pathlib import Path

import pytest

from tracer import ConfigError, Hub, Level, Provider, ProviderEnable, SessionConfig, read_log

from .conftest import Demo


def _event_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if b'"type":"event"' in line]


def _worker_config(name: str, path: Path, **kw: object) -> SessionConfig:
    return SessionConfig(name, [ProviderEnable("test-demo")], file=path, render_worker=True,
                         **kw)  # type: ignore[arg-type]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_lines_are_byte_identical_to_in_process_rendering(hub: Hub, demo: Demo,
                                                          tmp_path: Path) -> None:
    """Two sessions on the same events, one with a worker, write the same event lines."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    hub.start_session(SessionConfig("a", [ProviderEnable("test-demo")], file=a))
    hub.start_session(_worker_config("b", b))
    for i in range(3000):
        demo.connect.write("ünïcode\n\"host\"", i)
        demo.write.write(None, True, b"\x00\xff" * (i % 5))
    demo.connect.write("big", 1 << 70)  # beyond msgpack and msgspec: the safe path
    demo.connect.write({"k": [1, 2.5, None]}, -1)
    demo.plain.write("a", "too", "many")  # extra arguments
    hub.stop_session("a")
    stats = hub.stop_session("b")
    assert _event_lines(a) == _event_lines(b)
    assert stats.events_written == 6003 and stats.events_lost == 0
    assert stats.bytes_written == b.stat().st_size


def test_flush_makes_every_event_visible(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """After flush() returns, the file holds every event emitted before it."""
    log = tmp_path / "f.jsonl"
    session = hub.start_session(_worker_config("f", log, flush_interval=3600))
    for i in range(500):
        demo.connect.write("h", i)
    session.flush()
    assert len(_event_lines(log)) == 500
    stats = session.stats()
    assert stats.events_written == 500 and stats.events_pending == 0


def test_overload_drops_are_counted_exactly(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """Small buffers and a fast producer: written + lost == emitted, lines == written."""
    log = tmp_path / "o.jsonl"
    hub.start_session(_worker_config("o", log, buffer_size=16, buffer_count=2,
                                     flush_interval=0.001))
    for i in range(50_000):
        demo.connect.write("h", i)
    stats = hub.stop_session("o")
    assert stats.events_written + stats.events_lost == stats.events_emitted == 50_000
    assert len(_event_lines(log)) == stats.events_written
    if stats.events_lost:
        lost = [e for e in read_log(log) if e.kind == "lost"]
        assert sum(e.fields["count"] for e in lost) == stats.events_lost


def test_no_child_is_left_after_stop(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """Stopping the session waits for the child and reaps it."""
    session = hub.start_session(_worker_config("r", tmp_path / "r.jsonl"))
    pid = session.render_worker_pid
    assert pid is not None and pid != os.getpid() and not _gone(pid)
    demo.connect.write("h", 1)
    hub.stop_session("r")
    assert _gone(pid)


def test_child_ignores_ctrl_c(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """A SIGINT to the process group does not cost the file its last events."""
    log = tmp_path / "c.jsonl"
    session = hub.start_session(_worker_config("c", log))
    assert session._worker is not None
    os.kill(session._worker.pid, signal.SIGINT)
    time.sleep(0.1)
    demo.connect.write("after", 1)
    stats = hub.stop_session("c")
    assert stats.events_written == 1 and [e.fields["host"] for e in read_log(log)] == ["after"]


def test_a_killed_child_counts_everything_after_as_lost(hub: Hub, demo: Demo,
                                                        tmp_path: Path) -> None:
    """If the child dies, later events are lost and counted, the reason is kept, no hang."""
    log = tmp_path / "k.jsonl"
    session = hub.start_session(_worker_config("k", log))
    for i in range(100):
        demo.connect.write("before", i)
    session.flush()
    assert session._worker is not None
    os.kill(session._worker.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while session._worker.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    for i in range(200):
        demo.connect.write("after", i)
    stats = hub.stop_session("k")
    assert stats.events_written == 100 and stats.events_lost == 200
    assert "render worker" in (stats.last_error or "")
    assert len(_event_lines(log)) == 100


def test_provider_registered_after_the_fork_is_rendered(hub: Hub, tmp_path: Path) -> None:
    """Event types created after the child was forked reach it and render fully."""
    log = tmp_path / "late.jsonl"
    late = Provider("late-provider", keywords=["k"])
    hub.register(late)
    hub.start_session(SessionConfig("late", [ProviderEnable("late-provider")], file=log,
                                    render_worker=True))
    ev = late.event(9, "LateEvent", Level.WARNING, "k", {"x": int, "y": str}, "{x} {y}")
    assert ev.enabled
    ev.write(7, "seven")
    hub.stop_session("late")
    [event] = [e for e in read_log(log) if e.kind == "event"]
    assert (event.provider, event.name, event.id, event.level) == ("late-provider",
                                                                   "LateEvent", 9, 3)
    assert event.keywords == ("k",) and event.fields == {"x": 7, "y": "seven"}
    assert event.tid == threading.get_native_id()


def test_rotate_mode_through_the_worker(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """The child rotates files like the in-process writer; every event is in one file."""
    log = tmp_path / "rot.jsonl"
    hub.start_session(_worker_config("rot", log, mode="rotate", max_size=20_000))
    for i in range(2000):
        demo.connect.write("rotating", i)
    stats = hub.stop_session("rot")
    files = sorted(tmp_path.glob("rot*.jsonl"))
    assert len(files) > 3 and stats.events_written == 2000
    assert sum(len(_event_lines(f)) for f in files) == 2000


def test_a_write_error_in_the_child_is_counted_and_reported(hub: Hub, demo: Demo,
                                                            tmp_path: Path) -> None:
    """A file the child cannot grow: the batch is lost and counted, the reason kept."""
    log = tmp_path / "big.jsonl"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16_384, hard))  # inherited by the child
    try:
        session = hub.start_session(_worker_config("big", log, flush_interval=3600))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    for i in range(1000):
        demo.connect.write("h", i)
    session.flush()
    stats = session.stats()
    assert stats.events_lost == 1000 and stats.events_written == 0
    assert "File too large" in (stats.last_error or "")
    assert session._worker is not None and session._worker.alive
    assert log.stat().st_size <= 16_384


def test_render_worker_needs_a_file() -> None:
    """A render worker without a log file is a configuration error."""
    with pytest.raises(ConfigError, match="render worker needs a log file"):
        SessionConfig("x", [ProviderEnable("p")], realtime=True, render_worker=True).validate()


def test_realtime_subscribers_still_get_events(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """With a worker and real-time delivery, subscribers and the file both get everything."""
    log = tmp_path / "rt.jsonl"
    hub.start_session(_worker_config("rt", log, realtime=True, flush_interval=0.01))
    sub = hub.subscribe("rt")
    for i in range(300):
        demo.connect.write("both", i)
    stats = hub.stop_session("rt")
    assert [e.fields["port"] for e in sub.drain()] == list(range(300))
    assert [e.fields["port"] for e in read_log(log)] == list(range(300))
    assert stats.events_written == 300 and stats.realtime_lost == 0


def test_flush_calls_racing_the_flush_thread_keep_the_stream_whole(hub: Hub, demo: Demo,
                                                                   tmp_path: Path) -> None:
    """flush() from another thread while batches stream: no frame is torn, nothing lost."""
    log = tmp_path / "race.jsonl"
    session = hub.start_session(_worker_config("race", log, buffer_size=64,
                                               buffer_count=4096, flush_interval=0.001))
    done = threading.Event()

    def flusher() -> None:
        while not done.is_set():
            session.flush()

    t = threading.Thread(target=flusher)
    t.start()
    for i in range(30_000):
        demo.write.write("p", i, b"x" * 200)  # big lines: frames fill the pipe
    done.set()
    t.join()
    stats = hub.stop_session("race")
    assert stats.events_written + stats.events_lost == 30_000 and stats.last_error is None
    assert len(_event_lines(log)) == stats.events_written


def test_no_fork_falls_back_to_rendering_in_process(hub: Hub, demo: Demo, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """If the child cannot be forked, the session still logs, and says why."""
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    log = tmp_path / "nofork.jsonl"
    session = hub.start_session(_worker_config("nofork", log))
    monkeypatch.undo()
    assert session.render_worker_pid is None
    demo.connect.write("h", 1)
    stats = hub.stop_session("nofork")
    assert stats.events_written == 1 and len(_event_lines(log)) == 1
    assert "render worker not started" in (stats.last_error or "")


def test_parent_renders_while_the_child_is_behind(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """With the child stopped, the flush thread renders batches itself; every line lands
    once, in sequence order."""
    log = tmp_path / "share.jsonl"
    session = hub.start_session(_worker_config("share", log, buffer_size=64, buffer_count=64,
                                               flush_interval=0.01))
    worker = session._worker
    assert worker is not None
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 10
        for i in range(2000):
            demo.connect.write("h", i)
            if i == 999:  # the child now has a backlog it cannot work off
                while worker.pending < 1000 and time.monotonic() < deadline:
                    time.sleep(0.01)
            elif i > 999 and i % 100 == 0:  # later batches are smaller than the backlog
                time.sleep(0.03)
        while worker.rendered_here == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    stats = hub.stop_session("share")
    assert worker.rendered_here > 0
    events = [e for e in read_log(log) if e.kind == "event"]
    assert [e.fields["port"] for e in events] == list(range(2000))
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert stats.events_written == 2000 and stats.events_lost == 0
