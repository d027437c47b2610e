"""The provider side's link: registration, enable pushes, reconnecting to a new hub."""

from __future__ import annotations

from tests.tracer.service.conftest import wait_for
from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig
from tracer.service import HubServer, attach_provider, connect


def _provider() -> tuple[Provider, object]:
    p = Provider("link-test", keywords=["a"])
    return p, p.event(1, "A", Level.INFO, "a", {"n": int}, "a {n}")


def _server(path) -> HubServer:
    hub = Hub(load_installed=False)
    return HubServer(path, hub=hub).start()


def test_without_a_hub_the_provider_runs_disabled(sock_dir):
    """With no hub listening, attaching returns at once and the provider stays disabled."""
    p, ev = _provider()
    link = attach_provider(p, sock_dir / "none.sock", wait=0.5)
    assert not link.connected and not ev.enabled
    ev.write(1)
    assert link.stats().pending == 0
    link.close()


def test_link_reconnects_to_a_new_hub_and_is_enabled_again(sock_dir):
    """When the hub goes the provider is disabled; a new hub gets it back with its sessions."""
    path = sock_dir / "hub.sock"
    p, ev = _provider()
    first = _server(path)
    link = attach_provider(p, path, retry=0.05)
    with connect(path) as ctl:
        ctl.start_session(SessionConfig("s", [ProviderEnable("link-test")], realtime=True))
        wait_for(lambda: ev.enabled, what="enabled by the first hub")
    first.close()
    wait_for(lambda: not ev.enabled and not link.connected, what="disabled when the hub went")
    second = _server(path)
    second.hub.add_manifest(p.manifest())
    with connect(path) as ctl:
        ctl.start_session(SessionConfig("s2", [ProviderEnable("link-test")], realtime=True))
        sub = ctl.subscribe("s2")
        wait_for(lambda: ev.enabled, timeout=5, what="enabled by the second hub")
        ev.write(7)
        assert link.flush()
        ctl.flush_session("s2")
        assert sub.get(5).message == "a 7"
        assert link.stats().connects == 2
        sub.close()
    link.close()
    second.close()
