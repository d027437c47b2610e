"""Sessions: buffering, flushing, loss accounting, statistics, real-time delivery."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from tracer import Hub, Level, LogWriteError, ProviderEnable, SessionConfig, read_log

from .conftest import Demo


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_file_has_header_then_events(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """The log starts with a header holding the manifests, then one event per line."""
    log = tmp_path / "s.jsonl"
    hub.start_session(SessionConfig("s", [ProviderEnable("test-demo")], file=log))
    demo.connect.write("example.org", 443)
    demo.write.write("/tmp/x", 2, b"\x00\xff")
    hub.stop_session("s")
    header, *events = _lines(log)
    assert header["type"] == "header" and header["session"] == "s"
    assert [m["name"] for m in header["providers"]] == ["test-demo"]
    assert [e["event"] for e in events] == ["Connect", "DiskWrite"]
    first = events[0]
    assert first["seq"] == 1 and first["provider"] == "test-demo" and first["id"] == 1
    assert first["level"] == 4 and first["keywords"] == ["net"]
    assert first["fields"] == {"host": "example.org", "port": 443}
    assert first["time"].endswith("Z") and len(first["time"]) == 30  # ns precision
    assert events[1]["fields"]["data"] == "AP8="  # bytes as base64


def test_level_and_keywords_filter_what_is_written(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """Only events passing the session's level and keywords reach its file."""
    log = tmp_path / "f.jsonl"
    hub.start_session(SessionConfig(
        "f", [ProviderEnable("test-demo", Level.WARNING, keywords=("disk",))], file=log))
    demo.connect.write("a", 1)        # info: filtered by level
    demo.write.write("p", 1, b"")     # verbose: filtered by level
    demo.both.write(7)                # warning, net+disk: passes
    demo.plain.write("x")             # error, no keywords: passes
    hub.stop_session("f")
    assert [e.name for e in read_log(log)] == ["NetDisk", "Plain"]


def test_update_changes_level_while_running(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """update_session changes level and keywords of a running session at once."""
    log = tmp_path / "u.jsonl"
    hub.start_session(SessionConfig("u", [ProviderEnable("test-demo", Level.ERROR)], file=log))
    assert not demo.connect.enabled
    hub.update_session("u", [ProviderEnable("test-demo", Level.VERBOSE, keywords=("net",))])
    assert demo.connect.enabled and not demo.write.enabled
    demo.connect.write("b", 2)
    hub.stop_session("u")
    assert not demo.connect.enabled
    assert [e.fields["host"] for e in read_log(log)] == ["b"]


def test_full_buffers_drop_and_count_exactly(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """With the flush thread unable to keep up, drops are counted and reported in band."""
    log = tmp_path / "l.jsonl"
    session = hub.start_session(SessionConfig(
        "l", [ProviderEnable("test-demo")], file=log, buffer_size=10, buffer_count=2,
        flush_interval=3600))
    with session._flush_lock:  # stall the flush thread
        for i in range(100):
            demo.connect.write("h", i)
        stats = session.stats()
        assert stats.events_pending == 20 and stats.events_lost == 80
        assert stats.events_emitted == 100 and stats.peak_buffers == 2
    final = hub.stop_session("l")
    assert final.events_written == 20 and final.events_lost == 80
    assert final.events_written + final.events_lost == final.events_emitted == 100
    lost = [e for e in read_log(log) if e.kind == "lost"]
    assert len(lost) == 1 and lost[0].fields["count"] == 80
    assert lost[0].message.startswith("80 events lost between ")


def test_writers_on_many_threads_are_counted_exactly(hub: Hub, demo: Demo,
                                                     tmp_path: Path) -> None:
    """Concurrent writers: written + lost equals what they emitted, and no line is torn."""
    log = tmp_path / "t.jsonl"
    hub.start_session(SessionConfig("t", [ProviderEnable("test-demo")], file=log,
                                    buffer_size=64, buffer_count=4, flush_interval=0.01))

    def work() -> None:
        for i in range(5000):
            demo.connect.write("thread", i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = hub.stop_session("t")
    assert stats.events_written + stats.events_lost == 20000
    events = [e for e in read_log(log) if e.kind == "event"]
    assert len(events) == stats.events_written
    seqs = [e.seq for e in read_log(log)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_realtime_subscribers_get_typed_events(hub: Hub, demo: Demo) -> None:
    """A real-time-only session delivers typed events with formatted messages."""
    hub.start_session(SessionConfig("rt", [ProviderEnable("test-demo")], realtime=True,
                                    flush_interval=0.01))
    sub = hub.subscribe("rt")
    demo.connect.write("example.org", 80)
    event = sub.get(timeout=5)
    assert event is not None
    assert event.message == "Connecting to example.org:80"
    assert event.fields == {"host": "example.org", "port": 80}
    assert event.level_name == "INFO" and event.keywords == ("net",)
    hub.stop_session("rt")
    assert sub.get(timeout=1) is None and sub.closed


def test_slow_subscriber_loses_only_its_own_events(hub: Hub, demo: Demo) -> None:
    """Each subscriber has its own bounded queue; its overflow is counted, in band too."""
    session = hub.start_session(SessionConfig("q", [ProviderEnable("test-demo")],
                                              realtime=True, flush_interval=3600))
    small = hub.subscribe("q", maxsize=5)
    big = hub.subscribe("q", maxsize=1000)
    for i in range(20):
        demo.connect.write("h", i)
    session.flush()
    assert small.lost == 15 and len(small.drain()) == 5
    demo.connect.write("h", 99)
    session.flush()
    marker, after = small.drain()
    assert marker.kind == "lost" and marker.fields["count"] == 15
    assert after.fields["port"] == 99
    assert big.lost == 0 and len(big.drain()) == 21
    assert hub.query_session("q").realtime_lost == 15


async def test_async_iteration(hub: Hub, demo: Demo) -> None:
    """``async for`` yields events as they are flushed and ends when the session stops."""
    hub.start_session(SessionConfig("a", [ProviderEnable("test-demo")], realtime=True,
                                    flush_interval=0.01))
    sub = hub.subscribe("a")
    for i in range(3):
        demo.connect.write("h", i)
    threading.Timer(0.3, hub.stop_session, args=("a",)).start()
    got = [e.fields["port"] async for e in sub]
    assert got == [0, 1, 2]


def test_unwritable_disk_counts_losses_and_keeps_running(hub: Hub, demo: Demo) -> None:
    """A full disk after start: events are counted lost, the error is kept, no crash."""
    session = hub.start_session(SessionConfig("d", [ProviderEnable("test-demo")],
                                              file=Path("/dev/null")))
    session.log._fd = __import__("os").open("/dev/full", __import__("os").O_WRONLY)
    demo.connect.write("h", 1)
    session.flush()
    stats = session.stats()
    assert stats.events_lost == 1 and "disk full" in (stats.last_error or "")
    assert stats.state == "running"


def test_full_disk_at_start_is_a_clear_error(hub: Hub) -> None:
    """Starting a session whose file cannot take the header fails with LogWriteError."""
    with pytest.raises(LogWriteError, match="disk full"):
        hub.start_session(SessionConfig("x", [ProviderEnable("test-demo")], file="/dev/full"))
    assert hub.list_sessions() == []


def test_stop_then_late_writes_are_not_recorded(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """After stop the provider is disabled for that session and nothing more is written."""
    log = tmp_path / "late.jsonl"
    hub.start_session(SessionConfig("late", [ProviderEnable("test-demo")], file=log))
    hub.stop_session("late")
    demo.connect.write("h", 1)
    assert list(read_log(log)) == []
