"""Search on a worker thread: a lazily read log is searched without blocking the keys."""

from __future__ import annotations

from viewer import TraceViewApp
from viewer._events_view import EventsView
from viewer._status import StatusBar

from .conftest import wait_for
from .test_logindex import write_log


async def test_search_on_a_big_log_shows_progress_and_finds_the_hit(tmp_path):
    """/ on a 200k-event log shows searching progress, keys still move, the hit is selected."""
    log = write_log(tmp_path / "s.jsonl", 200_000, render_worker=True)
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.index is not None
        await wait_for(pilot, lambda: app.index.done, timeout=60)
        view = app.query_one(EventsView)
        view.select_index(0)
        await pilot.press("slash", *"199999 TWN", "enter")  # a Command near the end
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: "searching ▕" in status.text.plain, timeout=10)
        await wait_for(pilot, lambda: app._search is None, timeout=120)
        hit = app.ring.event(view.cursor_index)  # type: ignore[arg-type]
        assert hit.fields["trid"] == 199999


async def test_escape_stops_a_search(tmp_path):
    """Esc while a search runs stops it and leaves the selection where it was."""
    log = write_log(tmp_path / "s.jsonl", 200_000, render_worker=True)
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.index is not None
        await wait_for(pilot, lambda: app.index.done, timeout=60)
        view = app.query_one(EventsView)
        view.select_index(0)
        await pilot.press("slash", *"no such text anywhere", "enter")
        await wait_for(pilot, lambda: app._search is not None and app._search.checked > 0,
                       timeout=10)
        await pilot.press("escape")
        assert app._search is None and view.cursor_index == 0
