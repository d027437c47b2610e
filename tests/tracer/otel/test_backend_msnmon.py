"""End to end with the real msnmon provider: the bundled sample capture replayed into a
session with OTLP export, decoded by a gRPC receiver on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tracer.otel.receiver import Received, Receiver
from tracer import Hub, ProviderEnable, SessionConfig
from tracer.otel import OtlpOptions

msnmon = pytest.importorskip("providers.msnmon._replay")
SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "captures"
CAPTURE = SAMPLES / "msn_session.pcap"
if not CAPTURE.exists():
    pytest.skip("no bundled MSN sample capture", allow_module_level=True)


@pytest.fixture(scope="module")
def replayed() -> Receiver:
    """The sample replayed once for every test of this module."""
    from providers.msnmon._events import PROVIDER

    receiver = Receiver()
    endpoint = receiver.start_grpc()
    with Hub(load_installed=False) as hub:
        hub.register(PROVIDER)
        hub.start_session(SessionConfig("replay", [ProviderEnable("wfptrace-msnmon")],
                                        flush_interval=0.05,
                                        otlp=OtlpOptions(endpoint=endpoint, protocol="grpc")))
        msnmon.replay_capture(CAPTURE)
        receiver.otel = hub.stop_session("replay").otel  # type: ignore[attr-defined]
    receiver.stop()
    return receiver


def connections() -> list[dict]:
    return json.loads((SAMPLES / "msn_session.json").read_text())["connections"]


def flows(r: Receiver) -> dict[int, Received]:
    """Root flow spans by client port."""
    return {s.attrs["source.port"]: s for s in r.spans if not s.item.parent_span_id}


def test_every_connection_is_a_root_span_named_for_its_role(replayed: Receiver) -> None:
    """Each connection of the sample is one root span: MSN dispatch/notification/switchboard."""
    got = {port: s.item.name for port, s in flows(replayed).items()}
    assert got == {c["client"][1]: f"MSN {c['role']}" for c in connections()}
    for conn in connections():
        span = flows(replayed)[conn["client"][1]]
        assert span.attrs["destination.port"] == conn["server"][1]
        assert span.attrs["network.transport"] == "tcp"
        assert span.service == "wfptrace-msnmon"


def test_transactions_are_children_of_their_connection(replayed: Receiver) -> None:
    """Every MSNP transaction span has its connection's span as parent, in the same trace."""
    roots = {s.item.span_id: s.item for s in flows(replayed).values()}
    txns = [s.item for s in replayed.spans if s.item.name.startswith("MSNP ")]
    assert len(txns) >= 20
    for t in txns:
        assert roots[t.parent_span_id].trace_id == t.trace_id
        assert t.end_time_unix_nano >= t.start_time_unix_nano


def test_dispatch_redirect_is_a_usr_transaction_answered_by_xfr(replayed: Receiver) -> None:
    """On each dispatch connection USR is answered by the XFR redirect."""
    dispatch = {s.item.span_id for s in flows(replayed).values() if s.item.name == "MSN dispatch"}
    usr = [s for s in replayed.named("MSNP USR") if s.item.parent_span_id in dispatch]
    assert len(usr) == 3 and {s.attrs["msnp.reply.verb"] for s in usr} == {"XFR"}


def test_logins_link_their_dispatch_connection(replayed: Receiver) -> None:
    """A login span per user, child of its notification connection, linking its dispatch one."""
    by_id = {s.item.span_id: s for s in replayed.spans}
    logins = replayed.named("MSN login")
    assert sorted(s.attrs["msnp.user"] for s in logins) == ["alice@sim.test", "bob@sim.test",
                                                           "carol@sim.test"]
    for login in logins:
        assert by_id[login.item.parent_span_id].item.name == "MSN notification"
        (link,) = login.item.links
        assert by_id[link.span_id].item.name == "MSN dispatch"


def test_switchboard_sessions_list_the_other_participants(replayed: Receiver) -> None:
    """Each user's switchboard session span names the two other users as participants."""
    users = {"alice@sim.test", "bob@sim.test", "carol@sim.test"}
    sessions = replayed.named("MSN switchboard session")
    assert len(sessions) == 3
    for s in sessions:
        assert set(s.attrs["msnp.participants"]) == users - {s.attrs["msnp.user"]}


def test_span_times_are_capture_times(replayed: Receiver) -> None:
    """Spans use the packets' capture timestamps, not the replay's clock."""
    from providers.packets import open_capture

    with open_capture(CAPTURE) as source:
        stamps = [ts for _, ts, *_ in source]
    for s in replayed.spans:
        assert min(stamps) <= s.item.start_time_unix_nano <= s.item.end_time_unix_nano \
            <= max(stamps)


def test_everything_mapped_was_exported(replayed: Receiver) -> None:
    """No span dropped; the commands became span events, not log records."""
    otel = replayed.otel  # type: ignore[attr-defined]
    assert otel["otel_spans_exported"] == otel["otel_spans"] == len(replayed.spans)
    assert otel["otel_spans_dropped"] == otel["otel_mapping_errors"] == 0
    assert otel["otel_span_events"] > 100 and otel["otel_logs"] == 0
