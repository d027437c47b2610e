"""Several logs merged by time: lazily indexed each, in time order, each row naming its log."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.terminal import Terminal
from tracer import Hub, ProviderEnable, SessionConfig, read_log
from viewer import TraceViewApp
from viewer._demo import demo_providers
from viewer._events_view import EventsView
from viewer._merge import MergedIndex, log_labels
from viewer._rates import EventsStrip

from .conftest import emit, screen_lines, wait_for

ROOT = Path(__file__).resolve().parents[2]


def write_pair(folder: Path, n: int) -> tuple[Path, Path]:
    """Two logs written at the same time by two real sessions (inspect / msnmon events)."""
    a, b = folder / "inspect.jsonl", folder / "msnmon.jsonl"
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        hub.start_session(SessionConfig("a", [ProviderEnable("wfptrace-inspect")], file=a,
                                        blocking=True))
        hub.start_session(SessionConfig("b", [ProviderEnable("wfptrace-msnmon")], file=b,
                                        blocking=True))
        emit(n)
        hub.stop_session("a")
        hub.stop_session("b")
    return a, b


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_pair(tmp_path_factory.mktemp("merge"), 30_000)


@pytest.fixture
def merged(pair: tuple[Path, Path]) -> Iterator[MergedIndex]:
    m = MergedIndex(pair, follow=False)
    assert m.wait_indexed(30)
    yield m
    m.close()


def test_merged_rows_are_every_row_of_every_log_in_time_order(merged, pair):
    """The merge holds each log's events once, in time order, each log's in its own order."""
    counts = [sum(1 for _ in read_log(p)) for p in pair]
    assert merged.total == sum(counts) and min(counts) > 0
    times = [merged.time_ns(i) for i in range(0, merged.total, 7)]
    assert times == sorted(times)
    rows = list(merged.rows())
    for label, count in zip(merged.labels, counts, strict=True):
        own = [row for lab, row in rows if lab == label]
        assert own == list(range(count))


def test_a_merged_row_names_the_log_it_comes_from(merged):
    """Rows of inspect events come from inspect.jsonl, MSN monitor ones from msnmon.jsonl."""
    for i in range(0, merged.total, 997):
        want = "inspect.jsonl" if merged.event(i).provider == "wfptrace-inspect" \
            else "msnmon.jsonl"
        assert merged.source(i) == want


def test_labels_of_logs_with_one_name_keep_their_folder():
    """Two logs called log.jsonl in different folders are told apart by their folder."""
    assert log_labels([Path("x/log.jsonl"), Path("y/log.jsonl"), Path("z/b.jsonl")]) == \
        ["x/log.jsonl", "y/log.jsonl", "b.jsonl"]


def test_merge_memory_is_a_few_bytes_a_row(merged):
    """The merged order is one 8-byte number a row; no event is held in memory for it."""
    assert merged._order.itemsize == 8 and len(merged._order) == merged.total
    assert all(not p for p in merged._pending)


async def test_the_app_shows_two_logs_merged_with_a_log_column(pair):
    """``traceview a b``: rows of both logs, in time order, the Log column naming each."""
    app = TraceViewApp(None, logs=list(pair), follow_logs=False)
    async with app.run_test(size=(140, 30)) as pilot:
        view = app.query_one(EventsView)
        await wait_for(pilot, lambda: app.index is not None and app.index.done, 30)
        await pilot.pause(0.2)
        lines = screen_lines(view)
        assert any("inspect.jsonl" in x for x in lines)
        assert any("msnmon.jsonl" in x for x in lines)
        assert len(app.rows) == app.index.total
        header = app.query_one("#header").render().plain
        assert "Log" in header
        strip = app.query_one(EventsStrip)
        await wait_for(pilot, lambda: strip.timeline is not None and
                       strip.timeline.timeline.complete, 10)
        assert strip.timeline.timeline.rows == app.index.total  # type: ignore[union-attr]


def test_traceview_with_two_logs_in_a_terminal(pair):
    """``traceview a.jsonl b.jsonl`` in tmux: rows of both logs, each naming its log."""
    cmd = f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m viewer --no-follow " \
        f"{pair[0]} {pair[1]}"
    with Terminal(cmd, 160, 30) as term:
        lines = term.wait_for("inspect.jsonl", "msnmon.jsonl").splitlines()
        header = next(x for x in lines if x.startswith("Seq "))
        assert "Log" in header and "Provider" in header
        assert any("inspect.jsonl" in x and "wfptrace-inspect" in x for x in lines), lines
        assert any("msnmon.jsonl" in x and "wfptrace-msnmon" in x for x in lines), lines
        assert lines[0].startswith("events/s ")


def test_logs_that_grow_keep_merging(tmp_path):
    """Followed logs: events written after opening join the merge, in time order."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        hub.start_session(SessionConfig("a", [ProviderEnable("wfptrace-inspect")], file=a,
                                        blocking=True, flush_interval=0.05))
        hub.start_session(SessionConfig("b", [ProviderEnable("wfptrace-msnmon")], file=b,
                                        blocking=True, flush_interval=0.05))
        emit(300)
        time.sleep(0.3)
        merged = MergedIndex([a, b], follow=True, poll_interval=0.05)
        try:
            deadline = time.monotonic() + 10
            while merged.total < 300 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert merged.total == 300  # inspect: 200 of them, msnmon: 100
            emit(300, seed=2)
            time.sleep(0.3)
            hub.stop_session("a")
            hub.stop_session("b")
            deadline = time.monotonic() + 10
            while merged.total < 600 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert merged.total == 600
            times = [merged.time_ns(i) for i in range(merged.total)]
            assert times == sorted(times)
        finally:
            merged.close()
