"""The sessions list: statistics, stop, flush, edit levels/keywords, view on/off."""

from tracer import Level, ProviderEnable, SessionConfig
from viewer import TraceViewApp
from viewer._sessions_screen import SessionsScreen
from viewer._wizard import SessionWizard

from .conftest import emit, wait_for


def _start(hub, tmp_path=None, name="s1"):  # type: ignore[no-untyped-def]
    hub.start_session(SessionConfig(name, [ProviderEnable("wfptrace-inspect"),
                                           ProviderEnable("wfptrace-msnmon")],
                                    realtime=True, file=tmp_path / "s.jsonl" if tmp_path else None))


async def _open(pilot) -> SessionsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen))
    return pilot.app.screen


async def test_lists_state_providers_and_counts(hub):
    """Each session shows its state, providers and exact event count."""
    _start(hub)
    emit(500)
    hub.flush_session("s1")
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot)
        [row] = screen.rows
        assert (row.name, row.state, row.providers) == ("s1", "running",
                                                         "wfptrace-inspect,wfptrace-msnmon")
        assert row.events == hub.query_session("s1").events_emitted > 0
        assert row.lost == 0 and not row.watched


async def test_flush_writes_buffered_events_to_the_file(hub, tmp_path):
    """f flushes the highlighted session: its log file holds every event emitted."""
    _start(hub, tmp_path)
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot)
        emit(300)
        await pilot.press("f")
        await pilot.pause()
        stats = hub.query_session("s1")
        assert stats.events_pending == 0 and stats.events_written == stats.events_emitted


async def test_stop_ends_the_session_and_keeps_its_events_in_view(hub):
    """x stops the session; the events already received stay in the view."""
    _start(hub)
    app = TraceViewApp(hub)
    app.control.watch("s1")
    async with app.run_test(size=(80, 24)) as pilot:
        emit(100)
        await wait_for(pilot, lambda: len(app.ring) > 0)
        screen = await _open(pilot)
        await pilot.press("x")
        await pilot.pause()
        assert hub.list_sessions() == [] and screen.rows == []
        assert len(app.ring) > 0 and not app.feed.subscriptions


async def test_edit_changes_level_and_keywords_of_a_running_session(hub):
    """e opens the provider step on the running session; Apply updates its enable."""
    _start(hub)
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionWizard))
        wiz = app.screen
        assert wiz.query_one("#providers").selected == ["wfptrace-inspect",
                                                       "wfptrace-msnmon"]
        await pilot.press("ctrl+n")
        await pilot.pause()
        wiz.query_one("#level-wfptrace-inspect").value = int(Level.WARNING)
        wiz.query_one("#kw-wfptrace-inspect").deselect("packet")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
    inspect = {s.provider: s for s in hub.session_config("s1")}["wfptrace-inspect"]
    assert inspect.level == Level.WARNING
    assert inspect.keywords == ("connect", "worker", "config")


async def test_view_toggle_subscribes_and_unsubscribes(hub):
    """w shows a session's events in the view, and w again stops showing them."""
    _start(hub)
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot)
        await pilot.press("w")
        await pilot.pause()
        assert "s1" in app.feed.subscriptions
        emit(50)
        await wait_for(pilot, lambda: len(app.ring) > 0)
        await pilot.press("w")
        await pilot.pause()
        assert "s1" not in app.feed.subscriptions


def test_the_sinks_cell_shows_each_account_and_losses_past_the_sink() -> None:
    """A sink's cell says written/handed, its own losses and what was dropped at export."""
    from viewer._control import sinks_text

    cell = sinks_text([{"name": "file:a", "written": 10, "handed": 10, "lost": 0},
                       {"name": "otlp", "written": 8, "handed": 10, "lost": 2,
                        "downstream_lost": 3}])
    assert cell == "file:a 10/10; otlp 8/10 (2 lost) (3 dropped at export)"
