"""HubConnection: the embedded hub and the hub service's client both drive TraceView."""

import tempfile
from pathlib import Path

import pytest

from tracer import Hub
from viewer import HubConnection, TraceViewApp
from viewer._demo import demo_providers
from viewer._wizard import SessionWizard

from .conftest import emit, wait_for

service = pytest.importorskip("tracer.service")


def test_both_hubs_satisfy_the_interface(hub):
    """The embedded Hub and RemoteHub offer every method the viewer uses."""
    assert isinstance(hub, HubConnection)
    for name in ("manifests", "start_session", "stop_session", "flush_session",
                 "update_session", "query_session", "list_sessions", "session_config",
                 "subscribe"):
        assert callable(getattr(service.RemoteHub, name))


async def test_wizard_session_on_a_hub_service_shows_events():
    """Through a real hub service socket, a wizard-created session delivers events."""
    with tempfile.TemporaryDirectory(prefix="tv") as tmp:
        path = Path(tmp) / "hub.sock"
        local = Hub(load_installed=False)
        for p in demo_providers():
            local.register(p)
        server = service.HubServer(path, hub=local).start()
        remote = service.connect(path)
        try:
            app = TraceViewApp(remote)
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.press("c")
                await wait_for(pilot, lambda: isinstance(app.screen, SessionWizard))
                await pilot.press("enter", "down", "space", "ctrl+n", "ctrl+n", "ctrl+s")
                await wait_for(pilot, lambda: not isinstance(app.screen, SessionWizard))
                assert [s.name for s in remote.list_sessions()] == ["traceview-1"]
                emit(200)
                await wait_for(pilot, lambda: len(app.ring) > 0)
        finally:
            remote.close()
            server.close()
