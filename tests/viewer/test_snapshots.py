"""Snapshots of the main screens at 80x24 with fixed data (pytest-textual-snapshot)."""

from collections import deque

from tracer import Hub, ProviderEnable, SessionConfig
from viewer import LocalDecisionSource, TraceViewApp
from viewer._demo import demo_providers

from .conftest import emit, fixed_events, lost_marker

SIZE = (80, 24)


def _app(**kw) -> TraceViewApp:  # type: ignore[no-untyped-def]
    app = TraceViewApp(kw.pop("hub", None), title="snapshot", **kw)
    app.ring.extend(fixed_events(40))
    app.ring.append(lost_marker(41, 12))
    app.ring.extend(fixed_events(6, start_seq=42))
    app.rates.sample = lambda *a, **k: None  # type: ignore[method-assign]
    app.rates.total.extend([4.0, 6, 10, 16, 26, 21, 21, 26])
    app.rates.lost.extend([False] * 5 + [True] + [False] * 2)
    app.rates.rates = {"wfptrace-inspect": deque([3.0, 5, 8, 13, 21, 13, 8, 5]),
                       "wfptrace-msnmon": deque([1.0, 1, 2, 3, 5, 8, 13, 21])}
    return app


def test_events_view(snap_compare):
    """Main screen: rates, columns colored by level, an in-band loss marker, status bar."""
    assert snap_compare(_app(), terminal_size=SIZE)


def test_events_view_filtered_with_detail(snap_compare):
    """A level filter in the status bar and the detail pane of the selected event."""
    assert snap_compare(_app(), terminal_size=SIZE, press=["4", "up", "enter"])


def test_help_screen(snap_compare):
    """The help screen at 80x24."""
    assert snap_compare(_app(), terminal_size=SIZE, press=["question_mark"])


def test_decisions_panel(snap_compare):
    """Pending decisions with process, 5-tuple and a held countdown while choosing."""
    src = LocalDecisionSource(timeout=10, clock=lambda: 100.0)
    for remote in ("10.0.0.2", "65.54.239.80"):
        src.submit(process="msnmsgr", pid=3100, protocol="tcp", local="10.0.0.1",
                   local_port=50123, remote=remote, remote_port=1863)

    async def choose(pilot) -> None:
        await pilot.press("home", "d")
        await pilot.pause(0.6)  # let the 0.25 s decisions poll redraw the held countdown

    assert snap_compare(_app(decisions=src), terminal_size=SIZE, run_before=choose)


def test_wizard_providers_step(snap_compare):
    """The Create New Log Session wizard listing providers (registered and manifest only)."""
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        assert snap_compare(_app(hub=hub), terminal_size=SIZE, press=["c", "enter", "space"])


def test_sessions_list(snap_compare):
    """The sessions list with a running session's counts."""
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        hub.start_session(SessionConfig("capture", [ProviderEnable("wfptrace-inspect")],
                                        realtime=True))
        emit(100)
        hub.flush_session("capture")
        assert snap_compare(_app(hub=hub), terminal_size=SIZE, press=["s"])
