"""The Create New Log Session wizard, driven with keys on a real embedded hub."""

from tracer import Level
from viewer import TraceViewApp
from viewer._wizard import SessionWizard, parse_size

from .conftest import emit, wait_for


async def _open(pilot) -> SessionWizard:  # type: ignore[no-untyped-def]
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionWizard))
    return pilot.app.screen


async def test_keys_create_a_realtime_session_and_events_appear(hub):
    """Name, provider, level/keywords, options, start: the session runs and its events show."""
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        wiz = await _open(pilot)
        await pilot.press("ctrl+a", "ctrl+k", *"live", "enter")  # name, then providers
        await pilot.press("down", "space", "ctrl+n")  # add wfptrace-inspect (after -hub)
        await pilot.pause()
        assert wiz.query_one("#kw-wfptrace-inspect").selected == ["connect", "packet", "worker",
                                                                    "config"]
        await pilot.press("ctrl+n", "ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, SessionWizard))
        assert [s.name for s in hub.list_sessions()] == ["live"]
        emit(200)
        await wait_for(pilot, lambda: len(app.ring) > 0)
        assert {app.ring.schema(i).provider for i in range(len(app.ring))} == {"wfptrace-inspect"}


async def test_level_and_keyword_choices_become_the_enable(hub, tmp_path):
    """Unticked keywords and a lower level end up in the session's provider enable."""
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        wiz = await _open(pilot)
        await pilot.press("enter", "down", "down", "space", "ctrl+n")  # wfptrace-msnmon
        await pilot.pause()
        wiz.query_one("#level-wfptrace-msnmon").value = int(Level.INFO)
        wiz.query_one("#kw-wfptrace-msnmon").deselect("all_traffic")
        await pilot.press("ctrl+n")
        await pilot.pause()
        wiz.query_one("#file").value = str(tmp_path / "t.jsonl")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, SessionWizard))
    [spec] = hub.session_config("traceview-1")
    assert spec.level == Level.INFO
    assert spec.keywords == ("client_server", "peer_to_peer", "unknown", "flow", "session",
                             "message")
    assert (tmp_path / "t.jsonl").exists()


async def test_invalid_name_keeps_the_wizard_open_with_the_error(hub):
    """A bad session name is reported on the name step and nothing starts."""
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        wiz = await _open(pilot)
        await pilot.press("ctrl+a", "ctrl+k", *"bad/name", "enter")
        await pilot.pause()
        assert wiz.steps[wiz.step] == "step-name"
        assert "path separator" in str(wiz.query_one("#wizard-error").render())
    assert hub.list_sessions() == []


async def test_hub_errors_are_shown_in_the_wizard(hub):
    """Circular mode without max size is refused by the hub; the wizard stays and says why."""
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        wiz = await _open(pilot)
        await pilot.press("enter", "space", "ctrl+n", "ctrl+n")
        await pilot.pause()
        wiz.query_one("#file").value = "/tmp/never.jsonl"
        wiz.query_one("#mode").value = "circular"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SessionWizard)
        assert "max size" in str(wiz.query_one("#wizard-error").render())
    assert hub.list_sessions() == []


async def test_escape_cancels(hub):
    """Escape leaves the wizard without starting a session."""
    app = TraceViewApp(hub)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SessionWizard)
    assert hub.list_sessions() == []


def test_parse_size_units():
    """Sizes accept K, M and G suffixes; empty means no limit."""
    assert parse_size("10M") == 10 << 20
    assert parse_size("512k") == 512 << 10
    assert parse_size("") is None
