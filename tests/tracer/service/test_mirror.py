"""The hub side of a remote provider: routing records and losses to the right sessions."""

from __future__ import annotations

import pytest

from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig
from tracer.service import ProtocolError
from tracer.service import _wire as wire
from tracer.service._mirror import RemoteProvider

P = Provider("mirror-test", keywords=["net", "disk"])
NET = P.event(1, "Net", Level.INFO, "net", {"n": int}, "net {n}")
DISK = P.event(2, "Disk", Level.VERBOSE, "disk", {"n": int}, "disk {n}")


@pytest.fixture
def setup():
    """An embedded hub with two sessions (net only, everything) and a registered mirror."""
    hub = Hub(load_installed=False)
    hub.add_manifest(P.manifest())
    hub.start_session(SessionConfig("net", [ProviderEnable("mirror-test", keywords=("net",))],
                                    realtime=True))
    hub.start_session(SessionConfig("all", [ProviderEnable("mirror-test")], realtime=True))
    pushed: list[wire.Enable] = []
    remote = RemoteProvider(hub, hub.manifest("mirror-test"), 4242,
                            lambda f: pushed.append(wire.decode(wire.client_decoder, f[4:])))
    yield hub, remote, pushed
    hub.close()


def test_registration_pushes_the_combined_enable_state(setup):
    """The provider process is told the union of every session's level and keywords."""
    _, _, pushed = setup
    last = pushed[-1]
    assert last.sessions == ["net", "all"] and last.level == Level.VERBOSE


def test_records_reach_exactly_the_sessions_that_enable_them(setup):
    """A disk event goes to the session enabling everything, not to the net-only one."""
    hub, remote, _ = setup
    subs = {name: hub.subscribe(name) for name in ("net", "all")}
    remote.handle(wire.Events([wire.Record(10, 1, (1,), 5), wire.Record(11, 2, (2,), 5)],
                              {5: 55}))
    for name in subs:
        hub.flush_session(name)
    assert [e.message for e in subs["net"].drain()] == ["net 1"]
    got = subs["all"].drain()
    assert [e.message for e in got] == ["net 1", "disk 2"]
    assert {(e.pid, e.tid) for e in got} == {(4242, 55)}


def test_provider_losses_are_booked_to_the_sessions_of_each_event(setup):
    """Drops at the provider count as lost in the sessions that would have had them."""
    hub, remote, _ = setup
    remote.handle(wire.Events([], {}, wire.Losses(5, 1, 9, {1: 2, 2: 3})))
    assert hub.query_session("net").events_lost == 2
    assert hub.query_session("all").events_lost == 5


@pytest.mark.parametrize("record", [wire.Record(1, 77, (1,), 1),
                                    wire.Record(1, 1, ({1: "int key"},), 1)],
                         ids=["unknown-event", "non-string-key"])
def test_records_a_session_could_not_render_are_refused(setup, record):
    """An unknown event id or an unrenderable value is a protocol error, not a broken session."""
    _, remote, _ = setup
    with pytest.raises(ProtocolError):
        remote.handle(wire.Events([record], {}))


def test_gone_provider_leaves_its_sessions_running(setup):
    """When the provider goes, its sessions keep running and show it as gone."""
    hub, remote, _ = setup
    remote.gone("connection lost")
    stats = hub.query_session("all")
    assert stats.state == "running"
    assert stats.providers["mirror-test"]["status"] == "gone"
    assert stats.providers["mirror-test"]["reason"] == "connection lost"
