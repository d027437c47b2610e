"""The events-per-second strip: a log's whole span from its index, lost records marked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from providers.inspect._events import CONNECTION_PENDED
from tracer import Hub, ProviderEnable, SessionConfig, read_log
from viewer import TraceViewApp
from viewer._demo import demo_providers
from viewer._logindex import LogIndex
from viewer._rates import EventsStrip
from viewer._timeline import LogTimeline

from .conftest import _pended, emit, wait_for


def write_bursty_log(path: Path) -> Path:
    """A real session's log: a burst, a quiet second, a burst whose overflow is lost
    (the flush stalled: an in-band lost record), a quiet second, a burst."""
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        session = hub.start_session(SessionConfig(
            "bursty", [ProviderEnable("wfptrace-inspect"), ProviderEnable("wfptrace-msnmon")],
            file=path, buffer_size=64, buffer_count=4))
        emit(200)
        time.sleep(1.0)
        with session._flush_lock:  # stall the flush thread: the buffers overflow
            for i in range(1000):
                CONNECTION_PENDED.write(*_pended(i).values())
        time.sleep(1.0)
        emit(200, seed=2)
        hub.stop_session("bursty")
    return path


@pytest.fixture(scope="module")
def bursty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bursty_log(tmp_path_factory.mktemp("timeline") / "bursty.jsonl")


def test_the_strip_counts_every_row_and_marks_the_lost_record(bursty):
    """Bins add up to every row; the bin of the lost record is marked, not the quiet ones."""
    events = list(read_log(bursty))
    lost = [e for e in events if e.kind == "lost"]
    assert len(lost) == 1 and lost[0].fields["count"] > 0
    index = LogIndex(bursty, follow=False)
    try:
        assert index.wait_indexed(10)
        tl = LogTimeline(index, bins=40).compute(complete=True)
        assert tl.start_ns == events[0].time_ns and tl.end_ns == events[-1].time_ns
        width_s = (tl.end_ns - tl.start_ns) / 40 / 1e9
        assert round(sum(r * width_s for r in tl.rates)) == len(events)
        assert tl.lost_records == 1
        (marked,) = tl.lost_bins
        want = (lost[0].time_ns - tl.start_ns) * 40 // (tl.end_ns - tl.start_ns)
        assert marked == min(39, want)
        quiet = [b for b, r in enumerate(tl.rates) if r == 0]
        assert len(quiet) >= 10  # two quiet seconds out of about two and a bit
    finally:
        index.close()


async def test_the_app_draws_the_log_strip_with_its_lost_marker(bursty):
    """Opening the log, the strip shows its span, a lost-records note and a marked cell."""
    app = TraceViewApp(None, logs=[bursty], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        strip = app.query_one(EventsStrip)
        await wait_for(pilot, lambda: strip.timeline is not None and
                       strip.timeline.timeline.complete, 10)
        await pilot.pause(0.2)
        text = strip.render()
        assert text.plain.startswith("events/s ")
        assert "1 lost records" in text.plain
        marked = [span for span in text.spans if "magenta" in str(span.style)]
        assert len(marked) == 1 and marked[0].end - marked[0].start == 1


async def test_a_live_view_strip_marks_the_seconds_with_losses(hub):
    """Live: one cell a second; a second in which events were lost is marked."""
    app = TraceViewApp(hub)
    async with app.run_test(size=(100, 24)) as pilot:
        strip = app.query_one(EventsStrip)
        app.rates.sample({"a": 0}, 0.0, lost=0)
        app.rates.sample({"a": 100}, 1.0, lost=0)
        app.rates.sample({"a": 300}, 2.0, lost=5)
        app.rates.sample({"a": 350}, 3.0, lost=5)
        await pilot.pause()
        text = strip.render()
        assert list(app.rates.total) == [100.0, 200.0, 50.0]
        assert "losses in 1 s" in text.plain
        marked = [span for span in text.spans if "magenta" in str(span.style)]
        assert [(s.start, s.end) for s in marked] == [(10, 11)]  # "events/s " + 2nd cell


def test_lost_records_in_the_indexed_first_tail_are_noted_too(tmp_path):
    """A lost record among the last lines (which are indexed first) is noted once the scan
    joins them, at the right row, like one in the middle of the log."""
    path = tmp_path / "tail.jsonl"
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        session = hub.start_session(SessionConfig(
            "tail", [ProviderEnable("wfptrace-inspect"), ProviderEnable("wfptrace-msnmon")],
            file=path, buffer_size=1024, buffer_count=8))
        for burst in range(2):
            with session._flush_lock:  # 8,192 buffered, the rest of the burst lost
                for i in range(10_000):
                    CONNECTION_PENDED.write(*_pended(i).values())
            time.sleep(0.6)
            emit(6000 if burst == 0 else 300, seed=burst)
            time.sleep(0.6)
        hub.stop_session("tail")
    events = list(read_log(path))
    want = [i for i, e in enumerate(events) if e.kind == "lost"]
    assert len(want) == 2 and want[-1] > len(events) - 400  # the second in the last 256 KB
    index = LogIndex(path, follow=False)
    try:
        assert index.wait_indexed(10)
        assert list(index.lost_rows) == want
        assert all(index.event(r).kind == "lost" for r in index.lost_rows)
    finally:
        index.close()


def test_lost_records_of_a_circular_log_are_noted_at_their_rows(tmp_path):
    """A circular log (rows ordered by sequence number) notes its lost record's row too."""
    path = tmp_path / "ring.jsonl"
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        session = hub.start_session(SessionConfig(
            "ring", [ProviderEnable("wfptrace-inspect"), ProviderEnable("wfptrace-msnmon")],
            file=path, mode="circular", max_size=4_000_000, buffer_size=64, buffer_count=4))
        emit(100)
        time.sleep(0.4)
        with session._flush_lock:
            for i in range(1000):
                CONNECTION_PENDED.write(*_pended(i).values())
        time.sleep(0.4)
        emit(100, seed=3)
        hub.stop_session("ring")
    events = list(read_log(path))
    want = [i for i, e in enumerate(events) if e.kind == "lost"]
    assert len(want) == 1
    index = LogIndex(path, follow=False)
    try:
        assert index.mode == "circular" and index.wait_indexed(10)
        assert list(index.lost_rows) == want
        assert index.event(want[0]).kind == "lost"
    finally:
        index.close()


async def test_the_strip_of_a_log_without_events_says_so(tmp_path):
    """A log a session has written no event to yet: the strip says so (no endless wait)."""
    path = tmp_path / "quiet.jsonl"
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        hub.start_session(SessionConfig("quiet", [ProviderEnable("wfptrace-inspect")],
                                        file=path))
        hub.stop_session("quiet")
    app = TraceViewApp(None, logs=[path], follow_logs=False)
    async with app.run_test(size=(100, 20)) as pilot:
        strip = app.query_one(EventsStrip)
        await wait_for(pilot, lambda: "no events in this log yet" in strip.render().plain, 5)
