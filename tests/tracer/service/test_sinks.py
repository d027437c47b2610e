"""Sinks through the hub service: the same kinds and accounts as embedded."""

from __future__ import annotations

import pytest

from tests.tracer.otel.receiver import Receiver
from tests.tracer.service.conftest import wait_for
from tests.tracer.service.procs import DEMO
from tracer import ConfigError, ProviderEnable, SessionConfig, SinkSpec, read_log
from tracer.otel import OtlpOptions
from tracer.service import connect


def _run_provider(spawn, hubd, count: int) -> None:
    provider = spawn("provider", "--socket", str(hubd.path), "--count", str(count))
    assert provider.line()["connected"]
    done = provider.line()
    assert done["emitted"] == count and done["flushed"]


def test_file_sinks_through_the_hub_hold_every_event(hubd, spawn, sock_dir) -> None:
    """A session with two file sinks started through the service writes both, each accounted."""
    a, b = sock_dir / "a.jsonl", sock_dir / "b.jsonl"
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
        hub.start_session(SessionConfig("s", [ProviderEnable("svc-demo")], flush_interval=0.02,
                                        sinks=[SinkSpec("file", str(a)),
                                               SinkSpec("file", str(b))]))
        _run_provider(spawn, hubd, 200)
        stats = hub.stop_session("s")
    for path in (a, b):
        assert [e.fields["n"] for e in read_log(path)] == list(range(200))
    assert [(s["kind"], s["handed"], s["written"], s["lost"]) for s in stats.sinks] == \
        [("file", 200, 200, 0)] * 2


def test_stdout_is_refused_by_the_hub_with_the_reason(hubd) -> None:
    """The hub's standard output is not the client's: such a session is refused clearly."""
    with connect(hubd.path) as hub, pytest.raises(ConfigError, match="standard output"):
        hub.start_session(SessionConfig("s", [ProviderEnable("svc-demo")],
                                        sinks=[SinkSpec("stdout")]))


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_otlp_export_runs_in_the_hub(hubd, spawn, protocol: str) -> None:
    """An OTLP session started through the service exports the provider's events."""
    receiver = Receiver()
    try:
        endpoint = receiver.start_http() if protocol == "http/protobuf" \
            else receiver.start_grpc()
        with connect(hubd.path) as hub:
            hub.add_manifest(DEMO.manifest())
            hub.start_session(SessionConfig(
                "s", [ProviderEnable("svc-demo")], flush_interval=0.02,
                otlp=OtlpOptions(endpoint=endpoint, protocol=protocol, schedule_delay=0.05)))
            _run_provider(spawn, hubd, 50)
            wait_for(lambda: len(receiver.logs) >= 50, 15, "50 log records at the receiver")
            stats = hub.stop_session("s")
        sink = stats.sinks[0]
        assert sink["kind"] == "otlp" and sink["handed"] == sink["written"] == 50
        assert sorted(r.attrs["svc.demo.n"] for r in receiver.logs) == list(range(50))
    finally:
        receiver.stop()


def test_a_blocking_session_is_refused_by_the_hub(hubd) -> None:
    """Hub sessions are fed by live providers, which must never wait: blocking is refused."""
    with connect(hubd.path) as hub, pytest.raises(ConfigError, match="blocking"):
        hub.start_session(SessionConfig("s", [ProviderEnable("svc-demo")], realtime=True,
                                        blocking=True))
