"""TraceViewApp workflows on the main screen: follow, pause, jump, filter, search, detail, save."""

from providers.inspect._events import OVERLOAD
from tracer import LogReader, ProviderEnable, SessionConfig
from viewer import TraceViewApp
from viewer._detail import DetailPane
from viewer._events_view import EventsView
from viewer._help import HelpScreen
from viewer._status import StatusBar

from .conftest import emit, fixed_events, lost_marker, screen_lines, wait_for


def _app(n: int = 300, capacity: int = 1000, hub=None) -> TraceViewApp:  # type: ignore[no-untyped-def]
    app = TraceViewApp(hub, capacity=capacity)
    app.ring.extend(fixed_events(n))
    return app


def _view(app: TraceViewApp) -> EventsView:
    return app.query_one(EventsView)


def _selected_seq(app: TraceViewApp) -> int:
    index = _view(app).cursor_index
    assert index is not None
    return app.ring.seq(index)


async def test_follows_the_newest_event_and_shows_columns():
    """The view starts at the newest event with seq, time, provider, level, event, message."""
    app = _app()
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        assert _selected_seq(app) == 300
        lines = screen_lines(_view(app))
        last = [ln for ln in lines if ln.strip()][-1]
        seq, when, provider, level, name = last.split()[:5]
        assert (seq, when, level) == ("300", "22:13:20.299", "WARN")
        assert "wfptrace-inspect".startswith(provider.rstrip("…"))
        assert "DecisionTimeout".startswith(name.rstrip("…"))
        assert "No decision for connection 100 within 15.0 s" in last


async def test_pause_stops_following_and_resume_jumps_to_newest(hub):
    """While paused new events buffer without moving the view; resuming goes to the end."""
    hub.start_session(SessionConfig("s", [ProviderEnable("wfptrace-inspect")], realtime=True))
    app = TraceViewApp(hub)
    app.control.watch("s")
    async with app.run_test(size=(80, 24)) as pilot:
        emit(100)
        await wait_for(pilot, lambda: len(app.ring) >= 30)
        await pilot.press("space")
        held = _view(app).cursor_index
        before = len(app.ring)
        emit(100, seed=2)
        await wait_for(pilot, lambda: len(app.ring) > before)
        assert _view(app).cursor_index == held
        assert "PAUSED" in str(app.query_one(StatusBar).text)
        await pilot.press("space")
        await pilot.pause()
        assert _view(app).cursor_index == app.ring.total - 1


async def test_jump_to_start_and_end():
    """Home selects the oldest event (pausing), End the newest (following again)."""
    app = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("home")
        assert _selected_seq(app) == 1 and not _view(app).follow
        assert screen_lines(_view(app))[0].split()[0] == "1"
        await pilot.press("end")
        assert _selected_seq(app) == 300 and _view(app).follow


async def test_cursor_up_pauses_follow():
    """Moving up from the newest event pauses following, like less +F."""
    app = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("up", "up")
        assert _selected_seq(app) == 298 and not _view(app).follow


async def test_level_key_filters_and_x_restores_everything():
    """Key 3 keeps warnings and worse; x brings every buffered event back."""
    app = _app(30)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert len(app.rows) == 10
        assert all(app.ring.level(app.rows[i]) <= 3 for i in range(len(app.rows)))
        await pilot.press("x")
        await pilot.pause()
        assert len(app.rows) == 30


async def test_filter_dialog_field_condition():
    """The display filter `destination.ip == 10.0.0.2` typed in the dialog keeps only those."""
    app = _app(30)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"destination.ip == 10.0.0.2", "enter")
        await pilot.pause()
        assert len(app.rows) == 10
        assert {app.ring.fields(app.rows[i])["destination.ip"] for i in range(10)} == {"10.0.0.2"}
        assert "destination.ip == 10.0.0.2" in str(app.query_one(StatusBar).text)


async def test_filter_dialog_reports_bad_condition():
    """A malformed filter is reported in the dialog and the filter is unchanged."""
    app = _app(30)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"remote ==", "ctrl+s")
        await pilot.pause()
        assert "expected a value" in str(app.screen.query_one("#filter-error").render())
        assert len(app.rows) == 30


async def test_search_selects_next_and_previous_match():
    """`/` text Enter selects the next match from the cursor; n and N move between matches."""
    app = _app(30)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("home", "slash", *"USR 7", "enter")
        await wait_for(pilot, lambda: _selected_seq(app) == 8)
        await pilot.press("n")
        await wait_for(pilot, lambda: app._search is None)
        assert _selected_seq(app) == 8  # trid 7 occurs once
        await pilot.press("home", "slash", "ctrl+a", "ctrl+k", *"Pended", "enter")
        await wait_for(pilot, lambda: _selected_seq(app) == 4)
        await pilot.press("n")
        await wait_for(pilot, lambda: _selected_seq(app) == 7)
        await pilot.press("N")
        await wait_for(pilot, lambda: _selected_seq(app) == 4)


async def test_detail_pane_shows_every_field():
    """Enter opens the detail pane with the selected event's envelope and all its fields."""
    app = _app(3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("home", "enter")
        await pilot.pause()
        text = str(app.query_one("#detail-text").render())
        for field in ("process.executable", "source.port", "destination.ip", "50000",
                      "10.0.0.2", "#1 "):
            assert field in text
        await pilot.press("down")
        await pilot.pause()
        assert "trid" in str(app.query_one("#detail-text").render())
        assert app.query_one(DetailPane).has_class("-shown")


async def test_lost_markers_show_in_band():
    """An in-band loss record is drawn as a marker row with its count."""
    app = TraceViewApp(None)
    app.ring.extend(fixed_events(3))
    app.ring.append(lost_marker(4, 17))
    app.ring.extend(fixed_events(2, start_seq=5))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = [ln for ln in screen_lines(_view(app)) if ln.strip()]
        assert "⚠ 17 events lost between" in lines[3]


async def test_events_dropped_from_the_view_are_counted():
    """With a small ring the status bar shows how many events were dropped from the view."""
    app = _app(250, capacity=100)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "dropped 150 (ring full)" in str(app.query_one(StatusBar).text)
        assert len(app.rows) == 100


async def test_the_inspectors_overload_totals_show_in_the_status_bar(hub):
    """The status bar shows what a full queue let through and dropped, from the latest
    Overload event of the inspector's live session."""
    hub.start_session(SessionConfig("s", [ProviderEnable("wfptrace-inspect")], realtime=True))
    app = TraceViewApp(hub)
    app.control.watch("s")
    async with app.run_test(size=(120, 24)) as pilot:
        emit(3)  # two of the inspector's events, one of the (not enabled) monitor's
        await wait_for(pilot, lambda: len(app.ring) >= 2)
        assert "overload" not in str(app.query_one(StatusBar).text)
        OVERLOAD.write("drop", 0, 500, 0, 500, 500, 0)
        OVERLOAD.write("accept", 40, 0, 40, 1200, 1200, 0)
        await wait_for(pilot, lambda: "overload" in str(app.query_one(StatusBar).text))
        assert "overload: 40 let through, 1,200 dropped" in str(app.query_one(StatusBar).text)


async def test_save_filtered_view(tmp_path):
    """w saves exactly the filtered rows to a JSON-lines log that reads back."""
    app = _app(30)
    path = tmp_path / "saved.jsonl"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3", "w")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = str(path)
        await pilot.press("enter")
        await pilot.pause()
    assert [e.name for e in LogReader(path)] == ["DecisionTimeout"] * 10


async def test_help_lists_every_key():
    """? opens the help screen listing keys of every screen; escape closes it."""
    app = _app(3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.plain_text()
        for needle in ("Pause/resume", "Allow", "Block", "Stop", "Flush", "Levels/keywords",
                       "Next", "Filter", "Save view", "Show levels up to 3"):
            assert needle in text, needle
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_usable_at_80x24_without_a_hub():
    """A log-only view refuses session commands with a message instead of failing."""
    app = _app(3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c", "s")
        await pilot.pause()
        assert type(app.screen).__name__ == "Screen"
