"""LogRows: the filter over a lazily opened log, on a worker thread, with the ring's semantics."""

from __future__ import annotations

import time

import pytest

from tracer import DisplayFilter, Manifest, event_line, read_log
from viewer import TraceViewApp
from viewer._demo import demo_providers
from viewer._events_view import EventsView
from viewer._filter import EventFilter, parse_condition
from viewer._logindex import LogIndex
from viewer._logrows import LogRows, literal_groups
from viewer._ring import EventRing
from viewer._status import StatusBar

from .conftest import lost_marker, wait_for
from .test_logindex import write_log

_MANIFESTS = {p.name: Manifest.from_json(p.manifest()) for p in demo_providers()}
FILTERS = [
    EventFilter(conditions=(parse_condition("destination.ip == 10.0.0.5"),)),
    EventFilter(conditions=(parse_condition("trid > 100"), parse_condition("verb ~ ^m"))),
    EventFilter(providers=frozenset({"wfptrace-msnmon"}), max_level=4),
    EventFilter(events=frozenset({"DecisionTimeout", "Command"}),
                conditions=(parse_condition("conn_id == 7"),)),
    EventFilter(text="alice@SIM"),
    EventFilter(keywords=frozenset({"connect"}), max_level=3),
    EventFilter(conditions=(parse_condition("timeout_s == 15"),)),
    *(EventFilter(expr=DisplayFilter.compile(text, _MANIFESTS)) for text in [
        'verb == "MSG" && trid > 100',
        "destination.ip in {10.0.0.3 10.0.0.5} || event == DecisionTimeout && conn_id < 50",
        "!(provider == wfptrace-inspect) && args contains alice",
        'verb matches "^(us|ms)" && trid in {1..500 900..1000}',
        "timeout_s == 15 && trace.seq > 3000",
        "network.community_id == 1:flow9= || network.community_id == 1:flow12=",
        "level <= warning && trace.message contains \"connection 4\"",
    ]),
]


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return write_log(tmp_path_factory.mktemp("rows") / "t.jsonl", 6000)


def _filtered(rows: LogRows, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while rows.pending or not rows.ring.done or rows.scanned < rows.ring.indexed:
        assert time.monotonic() < deadline, "the filter never finished"
        time.sleep(0.01)
    return [rows.ring.seq(rows[i]) for i in range(len(rows))]


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: f.describe())
def test_log_filter_keeps_the_same_events_as_the_ring_filter(small_log, flt):
    """Filtering the lazily read log keeps exactly the events the in-memory filter keeps."""
    ring = EventRing(10_000)
    ring.extend(read_log(small_log))
    pred = flt.compile(ring)
    expected = [ring.seq(i) for i in range(ring.total) if pred(i)]
    ix = LogIndex(small_log, follow=False)
    rows = LogRows(ix)
    try:
        rows.set_filter(flt)
        assert _filtered(rows) == expected
        assert expected  # each filter keeps something
    finally:
        rows.close()
        ix.close()


def test_literals_are_only_what_a_match_implies():
    """Numbers that may be written differently (15 vs 15.0, 1e3) and words like True give no
    literal to search for; plain values and names do."""
    groups = literal_groups(EventFilter(conditions=(parse_condition("destination.ip == 10.0.0.5"),
                                                    parse_condition("ratio == 1.5"),
                                                    parse_condition("flag == True"))))
    assert groups == [[b'"destination.ip":'], [b"10.0.0.5"], [b'"ratio":'], [b'"flag":']]


async def test_filter_progress_shows_while_it_runs_and_keys_still_work(tmp_path):
    """A filter over a big log shows a progress bar in the status line; keys move the cursor
    meanwhile; the finished filter lists its matches."""
    path = write_log(tmp_path / "f.jsonl", 300_000, render_worker=True)
    app = TraceViewApp(None, logs=[path], follow_logs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.index is not None
        await wait_for(pilot, lambda: app.index.done, timeout=30)
        seen: list[str] = []
        # a text filter decodes every line: slow enough to watch
        app.set_filter(EventFilter(text="Connection 4"))
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: seen.append(status.text.plain) or
                       "filtering ▕" in status.text.plain, timeout=10)
        await pilot.press("down")
        await wait_for(pilot, lambda: not app.rows.pending and "filtering" not in
                       status.text.plain, timeout=60)
        assert len(app.rows) > 0
        assert all("connection 4" in app.ring.event(app.rows[i]).message.lower()
                   for i in range(0, len(app.rows), 997))
        assert app.query_one(EventsView).cursor_index is not None


def test_loss_records_stay_in_view_under_a_display_filter(tmp_path):
    """A loss record in a log passes any display filter, in the log's rows and the ring's
    alike, so a filtered view never hides a gap."""
    src = write_log(tmp_path / "src.jsonl", 3000)
    lines = src.read_bytes().splitlines(keepends=True)
    lost = event_line(lost_marker(1500, 7)) + b"\n"
    path = tmp_path / "gap.jsonl"
    path.write_bytes(b"".join([*lines[:1500], lost, *lines[1500:]]))
    flt = EventFilter(expr=DisplayFilter.compile('verb == "MSG" && trid > 10', _MANIFESTS))
    ring = EventRing(10_000)
    ring.extend(read_log(path))
    pred = flt.compile(ring)
    kept = [i for i in range(ring.total) if pred(i)]
    assert [ring.event(i).kind for i in kept].count("lost") == 1
    expected = [ring.seq(i) for i in kept]
    ix = LogIndex(path, follow=False)
    rows = LogRows(ix)
    try:
        rows.set_filter(flt)
        assert _filtered(rows) == expected
        kinds = {ix.event(rows[i]).kind for i in range(len(rows))}
        assert kinds == {"event", "lost"}
    finally:
        rows.close()
        ix.close()
