"""End to end: sessions with the OTLP backend, exporting to a real receiver on loopback."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from tests.tracer.otel.conftest import Msn
from tests.tracer.otel.receiver import Receiver, attrs_of, free_port
from tracer import Hub, ProviderEnable, SessionConfig
from tracer.otel import OtlpBackend, OtlpOptions

DS, NS, SB = "1:ds", "1:ns", "1:sb"


def play_msn_session(msn: Msn) -> None:
    """Login through a dispatch redirect, presence on the notification server, a chat."""
    start = time.time_ns()
    msn.open(DS)
    for verb, trid, args in (("VER", 1, "MSNP8 CVR0"), ("CVR", 2, "0x0409 win"),
                             ("USR", 3, "TWN I alice@example.com")):
        msn.cmd(DS, "send", verb, trid, args, "dispatch")
        time.sleep(0.001)
        reply = ("XFR", 3, "NS 207.46.1.1:1863") if verb == "USR" else (verb, trid, args)
        msn.cmd(DS, "recv", *reply, role="dispatch")
    msn.closed.write(DS, "fin", 512)
    msn.open(NS)
    msn.cmd(NS, "send", "USR", 4, "TWN S ticket")
    msn.cmd(NS, "recv", "USR", 4, "OK alice@example.com")
    msn.cmd(NS, "send", "CHG", 5, "NLN")
    msn.cmd(NS, "recv", "911", 5, "")
    msn.cmd(NS, "recv", "NLN", None, "NLN bob@example.com")
    msn.login.write(NS, "alice@example.com", "207.46.1.1:1863", ["64.4.13.58:1863"],
                    [DS, NS], start)
    msn.error.write(NS, "line_too_long")
    msn.open(SB)
    msn.cmd(SB, "send", "USR", 1, "alice@example.com 1.2", "switchboard")
    msn.cmd(SB, "recv", "USR", 1, "OK alice@example.com", "switchboard")
    msn.message.write(SB, "text/plain", "bob@example.com", 12)
    msn.switchboard.write(SB, "17", ["alice@example.com", "bob@example.com"], [SB], start)
    msn.closed.write(SB, "fin", 2048)


def start(hub: Hub, endpoint: str, protocol: str, **kw) -> None:
    opts = OtlpOptions(endpoint=endpoint, protocol=protocol, **kw)
    hub.start_session(SessionConfig("otel", [ProviderEnable("wfptrace-msnmon"),
                                             ProviderEnable("wfptrace-inspect")],
                                    flush_interval=0.01, otlp=opts))


@pytest.fixture(params=["grpc", "http/protobuf"])
def exported(request, hub: Hub, msn: Msn, receiver: Receiver):
    """A played MSN session exported over one protocol; yields (receiver, stats)."""
    protocol = request.param
    endpoint = receiver.start_grpc() if protocol == "grpc" else receiver.start_http()
    start(hub, endpoint, protocol)
    play_msn_session(msn)
    stats = hub.stop_session("otel")
    return receiver, stats


def test_each_flow_is_the_root_span_of_its_own_trace(exported) -> None:
    """Every connection becomes one root span named for its observed MSN role."""
    receiver, _ = exported
    for name in ("MSN dispatch", "MSN notification", "MSN switchboard"):
        span = receiver.span(name)
        assert span.parent_span_id == b""
        assert span.end_time_unix_nano >= span.start_time_unix_nano
    traces = {receiver.span(n).trace_id for n in ("MSN dispatch", "MSN notification")}
    assert len(traces) == 2


def test_flow_span_carries_the_five_tuple_and_process_with_semconv_names(exported) -> None:
    """A flow span has network.* and process.* attributes from the flow event."""
    receiver, _ = exported
    (ds,) = [s for s in receiver.spans if s.item.name == "MSN dispatch"]
    assert ds.attrs["network.transport"] == "tcp"
    assert ds.attrs["network.type"] == "ipv4"
    assert ds.attrs["destination.ip"] == "64.4.13.58"
    assert ds.attrs["destination.port"] == 1863
    assert ds.attrs["source.ip"] == "10.0.0.2"
    assert ds.attrs["source.port"] == 50000
    assert ds.attrs["process.executable"] == "/usr/bin/amsn"
    assert ds.attrs["process.pid"] == 4242
    assert ds.attrs["network.community_id"] == DS
    assert ds.attrs["msnp.reason"] == "fin"
    assert ds.attrs["wfptrace.flow.end"] == "closed"


def test_commands_are_span_events_on_their_flow_span(exported) -> None:
    """Each MSNP command on a flow is a span event with its verb, TrID and arguments."""
    receiver, _ = exported
    ds = receiver.span("MSN dispatch")
    assert [e.name for e in ds.events] == ["MSNP VER", "MSNP VER", "MSNP CVR", "MSNP CVR",
                                           "MSNP USR", "MSNP XFR"]
    xfr = attrs_of(ds.events[-1].attributes)
    assert xfr == {"network.direction": "recv", "msnp.verb": "XFR", "msnp.trid": 3,
                   "msnp.args": "NS 207.46.1.1:1863", "msnp.payload_len": 0,
                   "msnp.role": "dispatch"}


def test_transactions_are_child_spans_from_command_to_reply(exported) -> None:
    """A command and its reply joined by TrID become a child of the flow's span."""
    receiver, _ = exported
    ds = receiver.span("MSN dispatch")
    usr = [s for s in receiver.named("MSNP USR") if s.item.trace_id == ds.trace_id]
    assert len(usr) == 1
    span = usr[0].item
    assert span.parent_span_id == ds.span_id
    assert span.kind == span.SPAN_KIND_CLIENT
    assert span.end_time_unix_nano - span.start_time_unix_nano >= 1_000_000
    assert usr[0].attrs["msnp.reply.verb"] == "XFR"
    assert usr[0].attrs["msnp.trid"] == 3
    assert span.status.code == span.status.STATUS_CODE_UNSET


def test_an_error_reply_marks_the_transaction_span_as_an_error(exported) -> None:
    """A numeric reply (911) gives the transaction span an error status."""
    receiver, _ = exported
    chg = receiver.span("MSNP CHG")
    assert chg.status.code == chg.status.STATUS_CODE_ERROR
    assert "911" in chg.status.message
    assert chg.parent_span_id == receiver.span("MSN notification").span_id


def test_login_span_is_a_child_of_its_flow_and_links_the_redirect_chain(exported) -> None:
    """The login span covers the chain from its start and links the dispatch flow."""
    receiver, _ = exported
    login = receiver.span("MSN login")
    ns, ds = receiver.span("MSN notification"), receiver.span("MSN dispatch")
    assert login.parent_span_id == ns.span_id and login.trace_id == ns.trace_id
    assert [(lk.trace_id, lk.span_id) for lk in login.links] == [(ds.trace_id, ds.span_id)]
    assert ns.start_time_unix_nano <= login.start_time_unix_nano <= login.end_time_unix_nano \
        <= ns.end_time_unix_nano  # inside its parent; the chain's true start kept aside
    (rec,) = receiver.named("MSN login")
    assert rec.attrs["msnp.user"] == "alice@example.com"
    assert rec.attrs["msnp.redirects"] == ["64.4.13.58:1863"]
    assert rec.attrs["wfptrace.summary.start_ns"] <= ds.start_time_unix_nano


def test_switchboard_session_span_lists_its_participants(exported) -> None:
    """The switchboard summary is a child span of the switchboard flow with participants."""
    receiver, _ = exported
    (rec,) = receiver.named("MSN switchboard session")
    assert rec.item.parent_span_id == receiver.span("MSN switchboard").span_id
    assert rec.attrs["msnp.participants"] == ["alice@example.com", "bob@example.com"]


def test_other_events_are_log_records_linked_to_their_flow_span(exported) -> None:
    """An event no rule names becomes a log record carrying its flow's span context."""
    receiver, _ = exported
    (rec,) = [r for r in receiver.logs if r.item.event_name == "InvalidCommand"]
    ns = receiver.span("MSN notification")
    assert (rec.item.trace_id, rec.item.span_id) == (ns.trace_id, ns.span_id)
    assert rec.item.severity_text == "WARN" and rec.item.severity_number == 13
    assert rec.item.body.string_value == "invalid command: line_too_long"
    assert rec.service == "wfptrace-msnmon"


def test_resource_names_the_provider_host_and_session(exported) -> None:
    """Spans carry service.name per provider, host.name and the session name."""
    receiver, _ = exported
    res = receiver.spans[0].resource
    assert res["service.name"] == "wfptrace-msnmon"
    assert res["host.name"] == socket.gethostname()
    assert res["wfptrace.session"] == "otel"


def test_session_statistics_count_exactly_what_was_exported(exported) -> None:
    """The otel_* statistics match what the receiver got, with nothing dropped."""
    receiver, stats = exported
    otel = stats.otel
    assert otel["otel_spans"] == otel["otel_spans_exported"] == len(receiver.spans)
    assert otel["otel_logs_exported"] == len(receiver.logs) == 1
    assert otel["otel_spans_dropped"] == otel["otel_events_dropped"] == 0
    assert otel["otel_events_received"] == stats.events_written


def test_service_name_option_overrides_the_provider_name(hub: Hub, msn: Msn,
                                                         receiver: Receiver) -> None:
    """service_names renames one provider's service."""
    start(hub, receiver.start_http(), "http/protobuf",
          service_names={"wfptrace-msnmon": "msn-monitor"})
    msn.open(DS)
    hub.stop_session("otel")
    assert {s.service for s in receiver.spans} == {"msn-monitor"}


def test_inspect_connection_gets_verdict_attribute_and_packet_events(
        hub: Hub, inspect_provider, receiver: Receiver) -> None:
    """An inspected connection is a span with its verdict; packets are its span events."""
    start(hub, receiver.start_grpc(), "grpc")
    ip = inspect_provider
    ip.pended.write("1:c", "udp", "outbound", "connect", "fd00::1", 40000, "fd00::2", 53,
                    "/usr/bin/dig", 77)
    ip.verdict.write("1:c", "block", "static", 12)
    ip.packet.write("1:c", "outbound", 64, "block")
    ip.config.write("fd00::2", True)
    hub.stop_session("otel")
    (rec,) = receiver.named("connect outbound")
    assert rec.attrs["wfptrace.verdict"] == "block"
    assert rec.attrs["wfptrace.inspect.decided_by"] == "static"
    assert rec.attrs["network.type"] == "ipv6"
    assert rec.attrs["process.executable"] == "/usr/bin/dig"
    assert rec.attrs["wfptrace.flow.end"] == "session_end"
    assert [e.name for e in rec.item.events] == ["verdict block", "packet block"]
    assert rec.service == "wfptrace-inspect"
    (log,) = receiver.logs
    assert log.item.event_name == "ConfigChanged" and log.item.trace_id == b""


def test_collector_down_then_up_counts_drops_and_later_spans_arrive(
        hub: Hub, msn: Msn, caplog: pytest.LogCaptureFixture) -> None:
    """With the collector down the session goes on and counts drops (one warning, not one
    line per drop); once it is up, later spans arrive."""
    caplog.set_level(logging.INFO, logger="tracer.otel")
    port = free_port()
    start(hub, f"http://127.0.0.1:{port}", "grpc", retry_initial=0.02, retry_max=0.05,
          retry_budget=0.3, max_queued_requests=2, schedule_delay=0.02, max_batch=4)
    t0 = time.monotonic()
    for i in range(40):
        msn.open(f"down:{i}")
        msn.closed.write(f"down:{i}", "fin", 1)
    assert time.monotonic() - t0 < 0.5  # the provider never waits for the collector
    session = hub.session("otel")
    deadline = time.monotonic() + 10
    while session.stats().otel["otel_spans_dropped"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert session.stats().otel["otel_spans_dropped"] > 0
    receiver = Receiver()
    try:
        receiver.start_grpc(port)
        msn.open("up:1")
        msn.closed.write("up:1", "fin", 1)
        assert receiver.wait(lambda r: any(s.attrs.get("network.community_id") == "up:1"
                                           for s in r.spans), timeout=15)
        stats = hub.stop_session("otel")
    finally:
        receiver.stop()
    otel = stats.otel
    assert otel["otel_spans"] == 41
    assert otel["otel_spans_exported"] + otel["otel_spans_dropped"] == 41
    assert otel["otel_spans_exported"] == len(receiver.spans)
    assert stats.last_error is None
    messages = [r.getMessage() for r in caplog.records if r.name == "tracer.otel"]
    assert len(messages) == 2 and "failing" in messages[0] and "recovered" in messages[1]


def test_stop_with_the_collector_down_is_bounded_and_counts_everything(hub: Hub,
                                                                       msn: Msn) -> None:
    """Stopping while nothing listens returns within the close timeout, all spans dropped."""
    start(hub, f"http://127.0.0.1:{free_port()}", "http/protobuf", retry_initial=0.05,
          close_timeout=0.5)
    for i in range(5):
        msn.open(f"f{i}")
    t0 = time.monotonic()
    stats = hub.stop_session("otel")
    assert time.monotonic() - t0 < 3
    assert stats.otel["otel_spans"] == stats.otel["otel_spans_dropped"] == 5
    assert stats.otel["otel_spans_exported"] == 0


def test_rejected_spans_from_partial_success_are_counted_as_dropped(hub: Hub, msn: Msn) -> None:
    """A collector's partial-success rejection is counted as dropped spans."""
    receiver = Receiver(reject_spans=1)
    try:
        start(hub, receiver.start_http(), "http/protobuf")
        msn.open(DS)
        msn.open(NS)
        stats = hub.stop_session("otel")
    finally:
        receiver.stop()
    assert stats.otel["otel_spans_dropped"] == 1
    assert stats.otel["otel_spans_exported"] == 1


def test_backend_can_be_passed_directly_alongside_a_log_file(hub: Hub, msn: Msn, tmp_path,
                                                             receiver: Receiver) -> None:
    """An OtlpBackend given in backends= exports while the JSON-lines file is written."""
    backend = OtlpBackend(OtlpOptions(endpoint=receiver.start_http(), protocol="http/protobuf"),
                          session="both")
    hub.start_session(SessionConfig("both", [ProviderEnable("wfptrace-msnmon")],
                                    file=tmp_path / "s.jsonl"), backends=[backend])
    msn.open(DS)
    stats = hub.stop_session("both")
    assert stats.events_written == 1 and len(receiver.spans) == 1
    assert (tmp_path / "s.jsonl").read_text().count('"event":"FlowEstablished"') == 1


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_collector_without_logs_costs_one_warning_and_counted_drops(
        protocol: str, hub: Hub, msn: Msn, caplog: pytest.LogCaptureFixture) -> None:
    """Jaeger takes no OTLP logs: log records are dropped and counted after one warning,
    later ones are not even sent, and spans still arrive."""
    caplog.set_level(logging.INFO, logger="tracer.otel")
    receiver = Receiver(serve_logs=False)
    try:
        endpoint = receiver.start_grpc() if protocol == "grpc" else receiver.start_http()
        start(hub, endpoint, protocol, schedule_delay=0.02)
        msn.error.write(DS, "first")
        session, deadline = hub.session("otel"), time.monotonic() + 10
        while session.stats().otel["otel_logs_dropped"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(5):
            msn.error.write(DS, f"later {i}")
            time.sleep(0.05)
        msn.open(NS)
        stats = hub.stop_session("otel")
    finally:
        receiver.stop()
    otel = stats.otel
    assert otel["otel_logs"] == otel["otel_logs_dropped"] == 6
    assert otel["otel_spans_exported"] == len(receiver.spans) == 1
    assert otel["otel_export_failures"] == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "tracer.otel"]
    assert len(messages) == 1 and "does not accept OTLP logs" in messages[0]


def test_an_idle_flow_is_exported_while_the_session_runs(hub: Hub, msn: Msn,
                                                         receiver: Receiver) -> None:
    """A flow with no close event ends after the idle timeout, without stopping the session."""
    start(hub, receiver.start_http(), "http/protobuf", idle_timeout=0.2, schedule_delay=0.05)
    msn.open(DS)
    assert receiver.wait(lambda r: any("wfptrace.flow.end" in s.attrs for s in r.spans), 10)
    (final,) = [s for s in receiver.spans if "wfptrace.flow.state" not in s.attrs]
    assert final.attrs["wfptrace.flow.end"] == "idle_timeout"
    assert hub.query_session("otel").otel["otel_flows_idle_closed"] == 1
