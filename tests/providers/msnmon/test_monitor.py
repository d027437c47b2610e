"""The monitor engine on hand-built TCP conversations: recognition, flows and hostile input."""

from __future__ import annotations

import random
import tracemalloc

from providers.msnmon import AppIdentity, MsnMonitor
from providers.packets import Pipeline
from tracer import Level

from .streams import Conversation

CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 1863)


def _run(monitor: MsnMonitor, *batches) -> Pipeline:
    """Feed the batches through a pipeline with the monitor, then end it."""
    pipe = Pipeline([monitor])
    for batch in batches:
        for pkt in batch:
            pipe.packet(pkt)
    pipe.finish()
    return pipe


def _session(server=SERVER, client=CLIENT) -> tuple[Conversation, list]:
    conv = Conversation(client, server)
    return conv, conv.handshake()


def test_msnp_on_another_port_is_recognised_by_content(record):
    """A flow on port 5000 whose bytes are MSNP is announced and parsed."""
    rec = record()
    conv, hs = _session(server=("10.0.0.2", 5000))
    _run(MsnMonitor(), hs, conv.send(b"VER 1 MSNP8 CVR0\r\n"),
         conv.send(b"VER 1 MSNP8\r\n", False), conv.close())
    assert [e.fields["verb"] for e in rec.events("Command")] == ["VER", "VER"]
    [flow] = rec.events("FlowEstablished")
    assert flow.fields["destination.port"] == 5000 and flow.fields["mid_session"] is False


def test_other_protocols_of_the_application_are_not_announced(record):
    """An HTTP flow is judged not MSNP: no MSNP events, counted as such (only the original's
    all-traffic lines, which it wrote for every printable chunk of the application)."""
    rec = record()
    conv, hs = _session(server=("10.0.0.2", 80))
    monitor = MsnMonitor()
    _run(monitor, hs, conv.send(b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n"),
         conv.send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False), conv.close())
    assert [e.name for e in rec.events()] == ["LegacyAllTraffic"] * 2
    assert monitor.stats.flows_not_msnp == 1 and monitor.stats.commands == 0


def test_flows_of_other_applications_are_never_reassembled(record):
    """A flow the resolver does not attribute to the application is ignored entirely."""
    rec = record()
    conv, hs = _session()
    monitor = MsnMonitor(resolver=lambda pkt, outbound: None)
    pipe = _run(monitor, hs, conv.send(b"VER 1 MSNP8 CVR0\r\n"), conv.close())
    assert rec.events() == []
    assert monitor.stats.flows_ignored == 1
    assert pipe.reassembler.stats.delivered_bytes == 0


def test_attributed_flow_carries_the_executable(record):
    """The identity the resolver gives is the flow's app_path and pid."""
    rec = record()
    conv, hs = _session()
    who = AppIdentity("/usr/bin/msn", 4242, True)
    _run(MsnMonitor(resolver=lambda pkt, outbound: who), hs, conv.send(b"OUT\r\n"))
    [flow] = rec.events("FlowEstablished")
    assert (flow.fields["process.executable"], flow.fields["process.pid"]) == ("/usr/bin/msn", 4242)


def test_disabled_monitor_only_counts_packets(record):
    """With monitoring disabled nothing is traced and no flow is tracked."""
    rec = record()
    conv, hs = _session()
    monitor = MsnMonitor(enabled=False)
    _run(monitor, hs, conv.send(b"VER 1 MSNP8 CVR0\r\n"))
    assert rec.events() == [] and monitor.stats.packets_disabled == 4
    assert monitor.stats.flows_seen == 0


def test_commands_split_and_packed_across_segments(record):
    """Commands split across segments and several in one segment come out whole, in order."""
    rec = record()
    conv, hs = _session()
    wire = b"VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt\r\nMSG 3 N 5\r\nhello"
    _run(MsnMonitor(), hs, *(conv.send(wire[i:i + 7]) for i in range(0, len(wire), 7)),
         conv.send(b"USR 4 TWN I a@b.c\r\nSYN 5 0\r\n"))
    commands = [(e.fields["verb"], e.fields["trid"]) for e in rec.events("Command")]
    assert commands == [("VER", 1), ("CVR", 2), ("MSG", 3), ("USR", 4), ("SYN", 5)]


def test_mid_session_stream_is_oriented_to_the_client(record):
    """Without a handshake, the side on port 1863 is the server and the flow is mid-session."""
    rec = record()
    conv = Conversation(CLIENT, SERVER)
    _run(MsnMonitor(), conv.send(b"NLN NLN a@b.c A 0\r\n", False), conv.send(b"PNG\r\n"))
    [flow] = rec.events("FlowEstablished")
    assert flow.fields["source.port"] == 40000 and flow.fields["mid_session"] is True
    assert [e.fields["network.direction"] for e in rec.events("Command")] == ["ingress", "egress"]


def test_switchboard_address_learned_from_xfr(record):
    """A later flow to the address an XFR SB announced is a switchboard from its first byte."""
    rec = record()
    ns, hs = _session()
    sb = Conversation(("10.0.0.1", 40001), ("10.0.0.9", 7001))
    _run(MsnMonitor(), hs, ns.send(b"XFR 10 SB\r\n"),
         ns.send(b"XFR 10 SB 10.0.0.9:7001 CKI 17.42\r\n", False),
         sb.send(b"MSG 5 N 2\r\nhi", False))
    last = rec.events("Command")[-1].fields
    assert (last["verb"], last["role"]) == ("MSG", "switchboard")


def test_two_gigabyte_length_is_an_error_and_the_flow_goes_on(record):
    """A 2 GB declared payload is refused and counted; the next command is parsed."""
    rec = record()
    conv, hs = _session()
    monitor = MsnMonitor()
    _run(monitor, hs, conv.send(b"VER 1 MSNP8\r\nMSG 2 N 2147483648\r\nVER 3 MSNP8\r\n"))
    [error] = rec.events("UnknownCommand")
    assert error.fields["kind"] == "payload_too_large"
    assert [e.fields["trid"] for e in rec.events("Command")] == [1, 3]
    assert monitor.stats.parse_errors == 1


def test_non_utf8_is_kept_losslessly_and_not_legacy_traced(record):
    """Non-UTF-8 arguments are escaped in text and kept as raw bytes in the Command event;
    the original ignored such chunks."""
    rec = record()
    conv, hs = _session()
    _run(MsnMonitor(), hs, conv.send(b"USR 1 TWN I \xff\xfe@x.y\r\n"), conv.send(b"OUT\r\n"))
    usr, out = (e.fields for e in rec.events("Command"))
    assert usr["args"] == ["TWN", "I", "\\xff\\xfe@x.y"]
    assert usr["raw_line"] == b"USR 1 TWN I \xff\xfe@x.y" and out["raw_line"] is None
    legacy = [e.message for e in rec.events() if e.name == "LegacyAllTraffic"]
    assert legacy == ["Message Received. Local Port: 40000 Remote Port: 1863. Message: OUT\r\n"]


def test_non_utf8_user_name_is_kept_losslessly_in_the_login(record):
    """A login whose user name is not UTF-8: Login shows it escaped and keeps its bytes."""
    rec = record()
    conv, hs = _session()
    _run(MsnMonitor(), hs, conv.send(b"USR 1 TWN I caf\xe9@x.test\r\n"),
         conv.send(b"USR 1 TWN S ct=1\r\n", False), conv.send(b"USR 2 TWN S t=x\r\n"),
         conv.send(b"USR 2 OK caf\xe9@x.test Caf\xe9 1 0\r\n", False), conv.close())
    [login] = rec.events("Login")
    assert (login.fields["user"], login.fields["user_raw"]) == ("caf\\xe9@x.test",
                                                                 b"caf\xe9@x.test")
    assert login.fields["result"] == "ok"


def test_endless_line_costs_one_error_and_bounded_memory(record):
    """32 MB without CRLF is one counted error in bounded memory; parsing resumes after it."""
    rec = record(level=Level.INFO)  # not the verbose all-traffic copies of the chunks
    conv, hs = _session()
    monitor = MsnMonitor()
    pipe = Pipeline([monitor])
    for pkt in hs + conv.send(b"VER 1 MSNP8\r\n"):
        pipe.packet(pkt)
    chunk = b"A" * 60_000
    tracemalloc.start()
    try:
        for _ in range(540):
            for pkt in conv.send(chunk):
                pipe.packet(pkt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    for pkt in conv.send(b"\r\nVER 2 MSNP8\r\n"):
        pipe.packet(pkt)
    pipe.finish()
    assert peak < 4 << 20
    assert [e.fields["kind"] for e in rec.events("UnknownCommand")] == ["line_too_long"]
    assert [e.fields["trid"] for e in rec.events("Command")] == [1, 2]


def test_too_many_errors_drop_the_flow_with_a_reason(record):
    """After too many invalid lines the flow is dropped and its close says why."""
    rec = record()
    conv, hs = _session()
    monitor = MsnMonitor()
    _run(monitor, hs, conv.send(b"VER 1 MSNP8\r\n" + b"!!! garbage\r\n" * 150),
         conv.send(b"VER 2 MSNP8\r\n"))
    [closed] = rec.events("FlowClosed")
    assert "errors" in closed.fields["dropped"]
    assert monitor.stats.flows_dropped == 1
    assert [e.fields["trid"] for e in rec.events("Command")] == [1]
    assert rec.events("UnknownCommand")[-1].fields["action"] == "dropped"


def test_fuzzed_streams_never_crash_and_errors_are_counted(record):
    """Random bytes on port 1863, cut anywhere, give counted errors and an orderly close."""
    rng = random.Random(7)
    rec = record()
    monitor = MsnMonitor()
    pipe = Pipeline([monitor])
    for n in range(40):
        conv = Conversation(("10.0.0.1", 41000 + n), SERVER)
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 20_000)))
        if n % 2:
            blob = b"VER 1 MSNP8\r\n" + blob.replace(b"\n", b"\r\n")
        cuts = sorted(rng.sample(range(1, len(blob) + 1), min(5, len(blob))))
        pieces = [blob[a:b] for a, b in zip([0, *cuts], cuts, strict=False)]
        for pkt in conv.handshake() + [p for piece in pieces for p in conv.send(piece)] \
                + conv.close():
            pipe.packet(pkt)
    pipe.finish()
    assert len(rec.events("FlowClosed")) == 40
    errors = [e for e in rec.events("UnknownCommand") if e.fields["kind"] != "unknown_verb"]
    assert len(errors) == monitor.stats.parse_errors
    assert sum(e.fields["errors"] for e in rec.events("FlowClosed")) == monitor.stats.parse_errors
    assert pipe.reassembler.stats.buffered_bytes == 0


def test_http_gateway_flow_is_recognised_and_parsed(record):
    """MSNP inside HTTP gateway POSTs and responses on port 80 gives its commands."""
    rec = record()
    conv, hs = _session(server=("10.0.0.2", 80))
    body = b"VER 1 MSNP8 CVR0\r\n"
    post = (b"POST http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open&"
            b"Server=NS&IP=10.0.0.2 HTTP/1.1\r\nContent-Type: application/x-msn-messenger\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    reply = b"VER 1 MSNP8\r\n"
    response = (b"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=42.7; GW-IP=10.0.0.2\r\n"
                b"Content-Type: application/x-msn-messenger\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply))
    _run(MsnMonitor(), hs, conv.send(post), conv.send(response, False), conv.close())
    assert [(e.fields["network.direction"], e.fields["verb"]) for e in rec.events("Command")] == [
        ("egress", "VER"), ("ingress", "VER")]


def test_trickled_bytes_are_judged_a_bounded_number_of_times():
    """A flow sending one byte per segment is given up as not MSNP after a few judgements."""
    conv, hs = _session(server=("10.0.0.2", 5000))
    monitor = MsnMonitor()
    pipe = Pipeline([monitor])
    for pkt in hs:
        pipe.packet(pkt)
    for _ in range(200):
        for pkt in conv.send(b"\n"):
            pipe.packet(pkt)
    pipe.finish()
    assert monitor.stats.flows_not_msnp == 1


def test_flow_contexts_are_bounded():
    """Beyond max_contexts concurrent flows new ones are counted, not monitored; an ended
    flow frees its place."""
    monitor = MsnMonitor(max_contexts=1)
    pipe = Pipeline([monitor])
    first = Conversation(("10.0.0.1", 40001), SERVER)
    second = Conversation(("10.0.0.1", 40002), SERVER)
    third = Conversation(("10.0.0.1", 40003), SERVER)
    for pkt in first.handshake() + second.handshake() + first.send(b"OUT\r\n") \
            + first.close() + third.handshake() + third.send(b"OUT\r\n"):
        pipe.packet(pkt)
    pipe.finish()
    assert monitor.stats.flows_over_limit == 1
    assert monitor.stats.flows_monitored == 2 and monitor.stats.commands == 2
    assert monitor.contexts == 0


def test_one_buffer_budget_bounds_all_flows_and_counts_its_drops(record):
    """400 flows each leave a 100 kB MSG unfinished: what the parsers hold together stays
    within the monitor's one budget; each drop is counted and traced, and a flow whose
    payload was dropped parses the command after it."""
    rec = record(level=Level.INFO)
    monitor = MsnMonitor(max_buffered=1_000_000)
    pipe = Pipeline([monitor])
    chunk = b"x" * 30_000
    convs = []
    for i in range(400):
        conv, hs = _session(client=(f"10.0.{1 + i // 200}.{1 + i % 200}", 40000))
        convs.append(conv)
        for pkt in [*hs, *conv.send(b"MSG 1 N 100000\r\n" + chunk)]:
            pipe.packet(pkt)
        assert monitor.budget.used <= 1_000_000 + 2 * len(chunk)
    assert monitor.budget.peak <= 1_000_000 + 2 * len(chunk)
    drops = monitor.stats.budget_drops
    assert drops == monitor.budget.drops and drops >= 400 - 1_000_000 // len(chunk)
    last = convs[-1]  # dropped: the rest of its payload is skipped, then OUT is parsed
    for pkt in [*last.send(b"y" * 70_000), *last.send(b"OUT\r\n")]:
        pipe.packet(pkt)
    pipe.finish()
    assert monitor.budget.used == 0  # every flow's parsers gave back what they held
    assert [e.fields["verb"] for e in rec.events("Command")] == ["OUT"]
    events = [e.fields for e in rec.events("UnknownCommand")]
    assert sum(f["kind"] == "over_budget" for f in events) == drops


def test_flows_over_the_context_limit_are_counted_and_traced(record):
    """A flow beyond max_contexts is not monitored, and says so: a counter and an event."""
    rec = record(level=Level.INFO)
    monitor = MsnMonitor(max_contexts=2)
    batches = []
    for port in (40001, 40002, 40003):
        conv, hs = _session(client=("10.0.0.1", port))
        batches += [hs, conv.send(b"VER 1 MSNP8 CVR0\r\n")]
    _run(monitor, *batches)
    assert monitor.stats.flows_over_limit == 1
    [over] = rec.events("FlowOverLimit")
    assert (over.fields["source.port"], over.fields["destination.port"]) == (40003, 1863)
    assert over.fields["limit"] == 2 and over.fields["flows_over_limit"] == 1


def test_events_held_for_an_unknown_role_wait_at_most_two_seconds(record):
    """A flow whose role stays unknown: its Command events are written once two seconds of
    packet time have passed, not only at its end."""
    rec = record(level=Level.INFO)
    conv, hs = _session(server=("10.0.0.2", 1863))
    pipe = Pipeline([MsnMonitor()])
    for pkt in [*hs, *conv.send(b"VER 1 MSNP8 CVR0\r\n")]:
        pipe.packet(pkt)
    conv.ts += 3_000_000_000
    for pkt in conv.send(b"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0 MSMSGS a@b.test\r\n"):
        pipe.packet(pkt)
    assert [(e.fields["verb"], e.fields["role"]) for e in rec.events("Command")] == [
        ("VER", "unknown"), ("CVR", "unknown")]


def test_chunks_kept_to_recognise_a_flow_count_against_the_budget(record):
    """Flows on another port kept unjudged (no line end yet) are charged to the budget;
    over it, a flow is given up as a counted, traced drop, and nothing stays charged."""
    rec = record(level=Level.INFO)
    monitor = MsnMonitor(max_buffered=10_000)
    pipe = Pipeline([monitor])
    for i in range(6):
        conv, hs = _session(server=("10.0.0.2", 5000), client=("10.0.0.1", 41000 + i))
        for pkt in [*hs, *conv.send(b"A" * 3_000)]:
            pipe.packet(pkt)
    assert monitor.budget.used <= 10_000 + 3_000
    assert monitor.stats.budget_drops == 3 and monitor.budget.drops == 3
    pipe.finish()
    assert monitor.budget.used == 0
    assert [e.fields["kind"] for e in rec.events("UnknownCommand")] == ["over_budget"] * 3
