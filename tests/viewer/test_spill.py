"""SpillRing: a live view whose ring is full reads older rows back from the session's file."""

from tracer import ProviderEnable, SessionConfig
from viewer import TraceViewApp
from viewer._events_view import EventsView
from viewer._filter import EventFilter, parse_condition
from viewer._status import StatusBar

from .conftest import emit, wait_for


async def test_full_ring_reads_older_rows_back_from_the_session_file(hub, tmp_path):
    """With a 500-event ring and a session that writes a file, all 3,000 events stay in the
    view (the oldest read back from the file), in order, and nothing is reported dropped."""
    path = tmp_path / "live.jsonl"
    app = TraceViewApp(hub, capacity=500)
    async with app.run_test(size=(100, 30)) as pilot:
        app.start_session(SessionConfig("s", [ProviderEnable("wfptrace-inspect"),
                                              ProviderEnable("wfptrace-msnmon")],
                                        realtime=True, file=path))
        emit(3000)
        hub.flush_session("s")
        await wait_for(pilot, lambda: app.ring.total == 3000, timeout=10)
        await wait_for(pilot, lambda: len(app.rows) == 3000, timeout=10)
        assert app.ring.dropped == 0
        assert [app.ring.seq(app.rows[i]) for i in range(3000)] == list(range(1, 3001))
        await wait_for(pilot, lambda: "3,000/3,000" in app.query_one(StatusBar).text.plain)
        assert "dropped" not in app.query_one(StatusBar).text.plain
        await pilot.press("home")
        view = app.query_one(EventsView)
        assert app.ring.seq(view.cursor_index) == 1
        app.set_filter(EventFilter(conditions=(parse_condition("conn_id == 3"),)))
        await wait_for(pilot, lambda: not app.rows.pending)
        assert [app.ring.seq(app.rows[i]) for i in range(len(app.rows))] == [7, 9]


async def test_without_a_file_overwritten_rows_are_reported(hub):
    """A real-time-only session's rows that a full ring overwrites are counted in the status."""
    app = TraceViewApp(hub, capacity=500)
    async with app.run_test(size=(100, 30)) as pilot:
        app.start_session(SessionConfig("s", [ProviderEnable("wfptrace-inspect")],
                                        realtime=True))
        emit(1500)
        await wait_for(pilot, lambda: app.ring.total == 1000, timeout=10)
        await wait_for(pilot, lambda: "dropped 500" in app.query_one(StatusBar).text.plain)
        assert len(app.rows) == 500
