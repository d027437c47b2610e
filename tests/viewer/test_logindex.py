"""LogIndex: big logs opened lazily (fast, memory-flat, nothing lost), rotated, circular, tailed."""

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
from viewer._logindex import LogIndex

from .conftest import emit, screen_lines, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIG = 2_000_000


def write_log(path: Path, n: int, **options: object) -> Path:
    """A log of ``n`` real inspect and MSN monitor events written by a real session."""
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        hub.start_session(SessionConfig(
            "log", [ProviderEnable("wfptrace-inspect"), ProviderEnable("wfptrace-msnmon")],
            file=path, blocking=True, **options))  # type: ignore[arg-type]
        emit(n)
        hub.stop_session("log")
    return path


@pytest.fixture(scope="session")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2M-event log (written once per test session)."""
    return write_log(tmp_path_factory.mktemp("big") / "big.jsonl", BIG, render_worker=True)


@pytest.fixture
def index(big_log: Path) -> Iterator[LogIndex]:
    ix = LogIndex(big_log, follow=False)
    yield ix
    ix.close()


def test_big_log_shows_its_start_and_end_before_it_is_indexed(index):
    """A 2M-event log has its first rows and its last event readable right after opening."""
    assert index.total >= 40
    assert index.event(0).seq == 1
    assert index.event(index.total - 1).seq == BIG
    assert not index.done  # the scan goes on in the background


def test_every_event_of_a_big_log_is_reachable_in_order(index):
    """Once indexed, the 2M-event log has 2M rows, from seq 1 to the last, none dropped."""
    assert index.wait_indexed(120)
    assert index.total == BIG and index.dropped == 0
    assert [index.seq(i) for i in (0, 1, BIG // 2, BIG - 2, BIG - 1)] == \
        [1, 2, BIG // 2 + 1, BIG - 1, BIG]


def test_index_memory_is_a_few_bytes_a_line(index):
    """Indexing 2M lines (about 700 MB of log) costs about 8 bytes a line, not the lines."""
    index.wait_indexed(120)
    assert index._offsets.itemsize * len(index._offsets) <= 8 * BIG
    assert len(index._cache) <= 2048


async def test_app_opens_big_log_at_once_and_jumps_to_the_end(big_log):
    """The app paints the 2M log's first rows at once; End shows the last event in the tail."""
    t0 = time.perf_counter()
    app = TraceViewApp(None, logs=[big_log], follow_logs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(EventsView)
        await wait_for(pilot, lambda: "Pended connect" in "".join(screen_lines(view)))
        assert time.perf_counter() - t0 < 5.0
        await pilot.press("end")
        await wait_for(pilot, lambda: view.cursor_index is not None and
                       app.ring.seq(view.cursor_index) == BIG, timeout=2.0)
        await pilot.press("home")
        await wait_for(pilot, lambda: app.ring.seq(view.cursor_index) == 1, timeout=2.0)


def test_traceview_opens_big_log_fast_in_a_terminal_with_flat_memory(big_log):
    """`traceview BIG.jsonl` in tmux paints rows within seconds and stays under 150 MB RSS."""
    from bench._common import rss_mb

    t0 = time.monotonic()
    with Terminal(f"cd {ROOT} && exec {sys.executable} -m viewer {big_log}", 100, 30) as term:
        pid = term.pid
        term.wait_for("Pended connect", timeout=10)
        term.wait_for(f"/{BIG:,}", timeout=120 - (time.monotonic() - t0))
        term.wait_gone("indexing", timeout=120 - (time.monotonic() - t0))
        assert rss_mb(pid) < 150


def test_rotated_log_is_read_across_its_files_in_order(tmp_path):
    """A rotating log's rows run over trace.jsonl, trace.1.jsonl, ... in seq order."""
    path = write_log(tmp_path / "trace.jsonl", 3000, mode="rotate", max_size=200_000)
    assert (tmp_path / "trace.2.jsonl").exists()
    ix = LogIndex(path, follow=False)
    try:
        assert ix.wait_indexed(30)
        assert [ix.seq(i) for i in range(ix.total)] == [e.seq for e in read_log(path)]
        assert ix.total == 3000
    finally:
        ix.close()


def test_row_starting_at_names_the_row_of_a_line_start_only(tmp_path):
    """A filter maps a line's start to its row, and a position inside a line to no row."""
    ix = LogIndex(write_log(tmp_path / "t.jsonl", 3000), follow=False)
    try:
        assert ix.wait_indexed(60)
        n = ix.indexed
        for row in (0, 1, n // 2, n - 1):
            assert ix.row_starting_at(ix.packed(row), 0, n) == row
            assert ix.row_starting_at(ix.packed(row) + 1, 0, n) == -1
        assert ix.row_starting_at(ix.packed(n // 2), n // 2 + 1, n) == -1  # outside lo..hi
    finally:
        ix.close()


def test_circular_log_rows_are_ordered_by_seq(tmp_path):
    """A circular log that wrapped shows its surviving events by seq, as the reader does."""
    path = write_log(tmp_path / "ring.jsonl", 5000, mode="circular", max_size=300_000)
    ix = LogIndex(path, follow=False)
    try:
        assert ix.wait_indexed(30)
        expected = [e.seq for e in read_log(path)]
        assert expected[0] > 1  # it wrapped
        assert [ix.seq(i) for i in range(ix.total)] == expected
    finally:
        ix.close()


async def test_log_written_while_open_shows_new_rows(hub, tmp_path):
    """Events a session appends to the open log appear as new rows (tail/follow)."""
    path = tmp_path / "live.jsonl"
    hub.start_session(SessionConfig("file", [ProviderEnable("wfptrace-msnmon")], file=path))
    emit(300)
    hub.flush_session("file")
    first = hub.query_session("file").events_written
    app = TraceViewApp(None, logs=[path])
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.index is not None
        await wait_for(pilot, lambda: len(app.rows) == first)
        emit(300, seed=2)
        hub.flush_session("file")
        total = hub.query_session("file").events_written
        assert total > first
        await wait_for(pilot, lambda: len(app.rows) == total)
        await pilot.press("end")
        view = app.query_one(EventsView)
        await wait_for(pilot, lambda: app.ring.seq(view.cursor_index) == total)


def test_unreadable_lines_show_as_rows_and_are_counted(tmp_path):
    """A garbage line in the middle and one near the end (in the first-indexed tail) become
    one visible "unreadable line" row each; every event keeps its place around them."""
    path = write_log(tmp_path / "t.jsonl", 6000)
    lines = path.read_bytes().split(b"\n")
    lines.insert(3000, b"not json \x1b[2J")
    lines.insert(len(lines) - 20, b'{"type":"event","seq":')
    path.write_bytes(b"\n".join(lines))
    ix = LogIndex(path, follow=False)
    try:
        assert ix._tail_end > 0  # the end was indexed first
        assert ix.wait_indexed(30)
        assert ix.total == 6002
        notes = [i for i in range(ix.total) if ix.event(i).provider == "(traceview)"]
        assert len(notes) == 2 and ix.bad_lines == 2
        assert "unreadable line" in ix.event(notes[0]).message
        seqs = [ix.seq(i) for i in range(ix.total) if i not in notes]
        assert seqs == list(range(1, 6001))
    finally:
        ix.close()
