"""The embedded hub: session management by name, validation, providers that come later."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer import (
    ConfigError,
    Hub,
    Level,
    NoSuchSessionError,
    Provider,
    ProviderEnable,
    SessionConfig,
    SessionExistsError,
    UnknownKeywordError,
    UnknownProviderError,
    read_log,
)

from .conftest import Demo


def test_duplicate_session_is_refused(hub: Hub, tmp_path: Path) -> None:
    """A second session with the same name is an error; the first keeps running."""
    hub.start_session(SessionConfig("dup", [ProviderEnable("test-demo")], file=tmp_path / "a"))
    with pytest.raises(SessionExistsError):
        hub.start_session(SessionConfig("dup", [ProviderEnable("test-demo")], realtime=True))
    assert [s.name for s in hub.list_sessions()] == ["dup"]


@pytest.mark.parametrize("name", ["", "a/b", "..", "x" * 65, "semi;colon"])
def test_bad_session_names_are_refused(hub: Hub, name: str) -> None:
    """Empty, too long, path-like or odd names are configuration errors."""
    with pytest.raises(ConfigError):
        hub.start_session(SessionConfig(name, [ProviderEnable("test-demo")], realtime=True))


def test_unknown_provider_and_keyword(hub: Hub) -> None:
    """Unknown provider or keyword names are refused before anything starts."""
    with pytest.raises(UnknownProviderError, match="nope"):
        hub.start_session(SessionConfig("s", [ProviderEnable("nope")], realtime=True))
    with pytest.raises(UnknownKeywordError, match="bogus"):
        hub.start_session(SessionConfig("s", [ProviderEnable("test-demo", keywords=("bogus",))],
                                        realtime=True))
    assert hub.list_sessions() == []


def test_unknown_session_operations(hub: Hub) -> None:
    """Stopping, flushing or querying an unknown session raises NoSuchSessionError."""
    for op in (hub.stop_session, hub.flush_session, hub.query_session):
        with pytest.raises(NoSuchSessionError):
            op("ghost")


def test_session_started_before_provider_registers(tmp_path: Path) -> None:
    """A session naming a known-but-unregistered provider enables it when it registers."""
    late = Demo("late-provider")
    log = tmp_path / "late.jsonl"
    with Hub(load_installed=False) as hub:
        hub.add_manifest(late.provider.manifest())
        hub.start_session(SessionConfig("early", [ProviderEnable("late-provider")], file=log))
        assert hub.query_session("early").providers["late-provider"]["status"] == "waiting"
        assert not late.connect.enabled
        hub.register(late.provider)
        assert late.connect.enabled
        late.connect.write("x", 1)
        hub.unregister(late.provider, "exited")
        assert not late.connect.enabled
        assert hub.query_session("early").providers["late-provider"]["status"] == "gone"
    assert [e.name for e in read_log(log)] == ["Connect"]


def test_provider_registered_after_start_gets_manifest_in_band(tmp_path: Path) -> None:
    """A provider unknown at start but registered later has its manifest written in band."""
    p = Provider("brand-new", keywords=["k"])
    ev = p.event(1, "Hello", Level.INFO, "k", {"who": str}, "hello {who}")
    log = tmp_path / "n.jsonl"
    with Hub(load_installed=False) as hub:
        hub.add_manifest(p.manifest())
        hub.start_session(SessionConfig("n", [ProviderEnable("brand-new")], file=log))
        hub.register(p)
        ev.write("world")
    assert [e.message for e in read_log(log)] == ["hello world"]


def test_hub_provider_traces_session_lifecycle(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """The hub's own provider reports sessions started and stopped."""
    log = tmp_path / "hub.jsonl"
    hub.start_session(SessionConfig("watch", [ProviderEnable("wfptrace-hub")], file=log))
    hub.start_session(SessionConfig("other", [ProviderEnable("test-demo")], realtime=True))
    hub.stop_session("other")
    hub.stop_session("watch")
    names = [e.name for e in read_log(log)]
    assert names[:3] == ["SessionStarted", "SessionStarted", "SessionStopped"]


def test_capture_state_calls_provider_rundown(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """capture_state makes the session's providers emit their rundown events."""
    log = tmp_path / "r.jsonl"

    def rundown(state) -> None:
        if state.control.name == "CAPTURE_STATE":
            demo.plain.write("rundown")

    demo.provider.add_enable_callback(rundown)
    hub.start_session(SessionConfig("r", [ProviderEnable("test-demo")], file=log))
    hub.capture_state("r")
    hub.stop_session("r")
    assert [e.fields["text"] for e in read_log(log)] == ["rundown"]


def test_close_stops_every_session(hub: Hub, tmp_path: Path) -> None:
    """Closing the hub flushes and stops all sessions and returns their statistics."""
    hub.start_session(SessionConfig("a", [ProviderEnable("test-demo")], file=tmp_path / "a"))
    hub.start_session(SessionConfig("b", [ProviderEnable("test-demo")], realtime=True))
    stats = hub.close()
    assert sorted(s.name for s in stats) == ["a", "b"] and all(s.state == "stopped" for s in stats)
    assert hub.list_sessions() == []


def test_control_requests_reach_the_provider_handler(hub: Hub, demo: Demo) -> None:
    """hub.control hands a request to the provider; refusals and absent handlers are errors."""
    from tracer import ControlError

    def handler(request: dict) -> dict:
        if request.get("op") != "enable":
            raise ControlError(f"invalid request {request.get('op')!r}")
        return {"ok": True}

    with pytest.raises(ControlError, match="takes no control"):
        hub.control("test-demo", {"op": "enable"})
    demo.provider.on_control(handler)
    assert hub.control("test-demo", {"op": "enable"}) == {"ok": True}
    with pytest.raises(ControlError, match="invalid request 'bogus'"):
        hub.control("test-demo", {"op": "bogus"})
    with pytest.raises(UnknownProviderError):
        hub.control("nope", {})
