"""Offline monitoring: capture files through the monitor, events checked against ground truth."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from providers.msnmon import MsnMonitor, replay_capture, replay_demo

from ..msnp import notify_c
from ..msnp.conftest import CAPTURES
from ..suspect_chat import BRIAN, COMMANDS, TEXTS, THOMAS
from .conftest import SAMPLES

EXPECTED = [  # (direction, verb, trid, args, payload_len) in capture order
    ("egress" if client else "ingress", verb, trid, list(args), n)
    for client, verb, trid, args, n in COMMANDS
]


def _commands(rec) -> list[tuple]:
    return [(e.fields["network.direction"], e.fields["verb"], e.fields["trid"], e.fields["args"],
             e.fields["payload_len"]) for e in rec.events("Command")]


def test_real_capture_gives_exactly_its_25_commands(record, suspect_chat):
    """The real capture yields exactly its 25 commands with directions, verbs, trids and args."""
    rec = record()
    stats = replay_capture(suspect_chat, capture_secrets=True)  # (the raw switchboard cookie)
    assert _commands(rec) == EXPECTED
    assert stats.commands == 25 and stats.parse_errors == 0


def test_real_capture_commands_carry_role_class_and_flow(record, suspect_chat):
    """Every command is on the announced flow, observed as switchboard, with the legacy class."""
    rec = record()
    replay_capture(suspect_chat, app_hint="msnmsgr.exe")
    [flow] = rec.events("FlowEstablished")
    assert flow.fields["source.port"] == 3331 and flow.fields["destination.port"] == 1863
    assert flow.fields["process.executable"] == "msnmsgr.exe"
    assert flow.fields["network.transport"] == "tcp"
    commands = rec.events("Command")
    cid = flow.fields["network.community_id"]
    assert {e.fields["network.community_id"] for e in commands} == {cid}
    assert cid.startswith("1:")
    assert commands[-1].fields["role"] == "switchboard"
    classes = {e.fields["verb"]: e.fields["legacy_class"] for e in commands}
    assert classes == {"USR": "client_server", "CAL": "client_server", "JOI": "client_server",
                       "MSG": "peer_to_peer"}


def test_both_msg_forms_become_messages_without_bodies_by_default(record, suspect_chat):
    """Client and server MSG forms give 13 typing and 7 text messages; bodies only as
    keyed-hash tokens."""
    rec = record()
    replay_capture(suspect_chat)
    messages = rec.events("Message")
    assert [m.fields["kind"] for m in messages].count("typing") == 13
    texts = [m for m in messages if m.fields["kind"] == "text"]
    assert len(texts) == 7
    assert all(m.fields["text"] is None and m.fields["body"] is None for m in messages)
    assert {m.fields["sender"] for m in messages} == {BRIAN, THOMAS}
    assert {m.fields["typing_user"] for m in messages if m.fields["typing_user"]} == {BRIAN,
                                                                                      THOMAS}
    first = texts[0].fields
    assert first["body_len"] == len(TEXTS[0].encode())
    assert first["body_sha256"] is None  # (an unkeyed hash of a short text is no secret)
    assert re.fullmatch(r"<redacted:hmac:[0-9a-f]{12}>", first["body_hmac"])


def test_capture_bodies_adds_the_text(record, suspect_chat):
    """With capture_bodies on, text messages carry their text and body bytes."""
    rec = record()
    replay_capture(suspect_chat, capture_bodies=True)
    texts = [m.fields for m in rec.events("Message") if m.fields["kind"] == "text"]
    assert [t["text"] for t in texts] == TEXTS
    assert texts[0]["body"] == TEXTS[0].encode()
    assert texts[0]["body_sha256"] == hashlib.sha256(TEXTS[0].encode()).hexdigest()


def test_switchboard_summary_and_transactions(record, suspect_chat):
    """The flow ends with a switchboard summary; USR and CAL are joined with their replies."""
    rec = record()
    replay_capture(suspect_chat)
    [sb] = rec.events("Switchboard")
    assert sb.fields["user"] == BRIAN and sb.fields["participants"] == [THOMAS]
    assert sb.fields["messages"] == 20 and sb.fields["server"] == "207.46.26.167:1863"
    assert [(t.fields["request_verb"], t.fields["reply_verb"], t.fields["trid"])
            for t in rec.events("Transaction")] == [("USR", "USR", 93), ("CAL", "CAL", 94)]
    assert all(t.fields["latency_us"] > 0 for t in rec.events("Transaction"))
    [closed] = rec.events("FlowClosed")
    assert closed.fields["commands"] == 25 and closed.fields["errors"] == 0


def _original_trace(path, local_port_of) -> list[str]:
    """What the re-implemented notify.c traces for each TCP data segment of a capture, in
    order (``local_port_of(sport, dport)``: the local port, or None for another flow)."""
    from scapy.layers.inet import TCP
    from scapy.packet import Raw
    from scapy.utils import rdpcap

    out: list[str] = []
    for packet in rdpcap(str(path)):
        if TCP in packet and Raw in packet:
            sport, dport = packet[TCP].sport, packet[TCP].dport
            local = local_port_of(sport, dport)
            inbound = local == dport
            out += notify_c.trace(bytes(packet[Raw].load), inbound=inbound, local_port=local,
                                  remote_port=sport if inbound else dport)
    return out


def test_legacy_events_reproduce_the_original_strings(record, suspect_chat):
    """The legacy events render, chunk by chunk, exactly what the original traced."""
    rec = record(("all_traffic", "client_server", "peer_to_peer", "unknown"))
    replay_capture(suspect_chat, capture_secrets=True, capture_bodies=True)
    lines = [e.message for e in rec.events() if e.name.startswith("Legacy")]
    assert lines == _original_trace(suspect_chat, lambda s, d: s if d == 1863 else d)
    usr = "USR 93 tesla_brian@hotmail.com 1835953129.20013021.2623242\r\n"
    assert lines[1] == f"Client-Server Message Sent. Local Port: 3331 Remote Port: 1863. " \
                       f"Message: {usr}\r\n"
    assert len(lines) == 2 * 25  # one chunk per command here: all-traffic plus its class


def test_legacy_tracing_covers_the_applications_other_flows(record):
    """Every printable chunk of the application's non-MSNP flows is traced (a real HTTP
    capture, its IPv4 and IPv6 flows), as the original did."""
    path = CAPTURES / "cs_http_ip4and6.pcapng"
    if not path.exists():
        pytest.skip(f"real capture {path.name} is absent")
    rec = record(("all_traffic", "client_server", "peer_to_peer", "unknown"))
    stats = replay_capture(path, app_hint="browser", capture_secrets=True,
                           capture_bodies=True)  # (the original's strings print everything)
    lines = [e.message for e in rec.events() if e.name.startswith("Legacy")]
    assert lines == _original_trace(path, lambda s, d: s if d == 80 else d)
    assert sum(line.startswith("Message Received. ") for line in lines) >= 4
    assert stats.commands == 0


def test_replay_demo_yields_formatted_lines(suspect_chat):
    """The one-call demo yields the formatted trace, commands included."""
    lines = list(replay_demo(suspect_chat, keywords="flow,client_server,peer_to_peer"))
    assert "FlowEstablished" in lines[0]
    assert sum(" Command: " in line for line in lines) == 25
    assert "FlowClosed" in lines[-1]


@pytest.mark.parametrize("name", ["msn_session", "msn_session_msnp9", "msn_session_msnp15"])
def test_simulator_captures_give_the_transcripts_commands(record, name):
    """Each bundled simulator capture yields exactly the transcript's commands per connection."""
    pcap, transcript = SAMPLES / f"{name}.pcap", SAMPLES / f"{name}.json"
    if not pcap.exists():
        pytest.skip(f"{pcap} is absent")
    truth = json.loads(transcript.read_text())
    rec = record()
    replay_capture(pcap, capture_secrets=True)
    flows = {(e.fields["source.port"], e.fields["destination.port"]):
             e.fields["network.community_id"] for e in rec.events("FlowEstablished")}
    for conn in truth["connections"]:
        flow_id = flows[(conn["client"][1], conn["server"][1])]
        for direction, said in (("egress", "sent"), ("ingress", "received")):
            want = [(c["verb"], c["trid"], c["args"], c["payload_len"])
                    for c in truth["commands"]
                    if c["conn"] == conn["id"] and c["dir"] == said]
            got = [(e.fields["verb"], e.fields["trid"], e.fields["args"],
                    e.fields["payload_len"]) for e in rec.events("Command")
                   if e.fields["network.community_id"] == flow_id
                   and e.fields["network.direction"] == direction]
            assert got == want, conn["id"]


def test_simulator_capture_login_and_switchboard_summaries(record):
    """Logins carry the dispatch redirect; switchboard sessions list their participants."""
    pcap = SAMPLES / "msn_session.pcap"
    if not pcap.exists():
        pytest.skip(f"{pcap} is absent")
    rec = record()
    replay_capture(pcap)
    logins = rec.events("Login")
    assert {e.fields["user"] for e in logins} == {"alice@sim.test", "bob@sim.test",
                                                  "carol@sim.test"}
    for login in logins:
        assert login.fields["result"] == "ok"
        assert len(login.fields["redirects"]) == 1 and len(login.fields["community_ids"]) == 2
        assert login.fields["event.start"] < login.time_ns
    boards = rec.events("Switchboard")
    assert len(boards) == 3
    assert all(b.fields["participants"] for b in boards)
    assert all(len(b.fields["community_ids"]) == 2 for b in boards)


def _syn_times(pcap) -> dict[int, int]:
    """Client port -> capture time (ns) of that connection's SYN, as tshark reads it."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
                          "-T", "fields", "-e", "frame.time_epoch", "-e", "tcp.srcport"],
                         capture_output=True, text=True, check=True).stdout.split()
    times = {}
    for stamp, port in zip(out[::2], out[1::2], strict=True):
        sec, _, frac = stamp.partition(".")
        times[int(port)] = int(sec) * 10**9 + int((frac + "0" * 9)[:9])
    return times


@pytest.mark.parametrize("name", ["msn_session", "msn_session_msnp15"])
def test_every_flow_is_established_at_its_own_syn(record, name):
    """FlowEstablished's time is its own SYN's capture time (tshark), redirected flows
    included; a login's event.start is its first flow's SYN."""
    pcap = SAMPLES / f"{name}.pcap"
    if not pcap.exists():
        pytest.skip(f"{pcap} is absent")
    syn = _syn_times(pcap)
    rec = record()
    replay_capture(pcap)
    flows = rec.events("FlowEstablished")
    assert len(flows) == len(syn)
    assert {e.fields["source.port"]: e.time_ns for e in flows} == syn
    first_of = {e.fields["network.community_id"]: syn[e.fields["source.port"]] for e in flows}
    for login in rec.events("Login"):
        assert login.fields["event.start"] == first_of[login.fields["community_ids"][0]]


@pytest.mark.parametrize("compiled", [True, False])
def test_replay_reports_its_progress_up_to_the_end(tmp_path, compiled):
    """progress hears rising fractions of the file and 1.0 at the end, compiled or not."""
    from samples.msnsim import write_synthetic_capture

    path = tmp_path / "progress.pcap"
    write_synthetic_capture(path, 2_000_000, seed=5)
    heard: list[float] = []
    stats = replay_capture(path, compiled=compiled, progress=heard.append)
    assert stats.commands > 0 and heard[-1] == 1.0
    assert heard == sorted(heard) and all(0.0 < f <= 1.0 for f in heard)
    if not compiled:  # (the stage reports every 16 MB: a 2 MB file has only the end)
        assert len(heard) >= 2


def _roles_of(rec, truth) -> dict[str, tuple[set[str], str]]:
    """connection id -> (roles its Command events carry, the role its FlowClosed gives)."""
    flows = {(e.fields["source.port"], e.fields["destination.port"]):
             e.fields["network.community_id"] for e in rec.events("FlowEstablished")}
    closed = {e.fields["network.community_id"]: e.fields["role"]
              for e in rec.events("FlowClosed")}
    out = {}
    for conn in truth["connections"]:
        flow_id = flows[(conn["client"][1], conn["server"][1])]
        roles = {e.fields["role"] for e in rec.events("Command")
                 if e.fields["network.community_id"] == flow_id}
        out[conn["id"]] = (roles, closed[flow_id])
    return out


@pytest.mark.parametrize("name", ["msn_session", "msn_session_msnp9", "msn_session_msnp15"])
def test_every_command_carries_its_flows_role_and_flow_closed_the_final_one(record, name):
    """Handshake commands of dispatch and notification flows get their flow's role (the
    server's answer to USR decides it); FlowClosed tells each flow's final role."""
    pcap, transcript = SAMPLES / f"{name}.pcap", SAMPLES / f"{name}.json"
    truth = json.loads(transcript.read_text())
    rec = record()
    replay_capture(pcap)
    for conn_id, (roles, final) in _roles_of(rec, truth).items():
        role = conn_id.split("/")[1].rstrip("0123456789")
        assert (roles, final) == ({role}, role), conn_id


def test_msnp8_sync_lsg_makes_no_false_join(record):
    """MSNP8 capture: SYN with CHG pipelined; the sync's "LSG 6 ..." is no reply to CHG 6,
    which joins its real CHG reply; every join pairs a request with its own verb."""
    rec = record()
    replay_capture(SAMPLES / "msn_session.pcap")
    joins = [(e.fields["request_verb"], e.fields["trid"], e.fields["reply_verb"])
             for e in rec.events("Transaction")]
    assert joins.count(("CHG", 6, "CHG")) == 3  # one per user's notification flow
    other_replies = {("USR", "XFR"), ("ANS", "IRO"), ("MSG", "ACK"), ("MSG", "NAK")}
    assert all(req == rep or (req, rep) in other_replies for req, _, rep in joins), joins
    assert not [j for j in joins if "LSG" in j]
    lsg = [e.fields for e in rec.events("Command") if e.fields["verb"] == "LSG"]
    assert len(lsg) == 21 and all(f["trid"] is None for f in lsg)
    assert [f["args"][0] for f in lsg[:7]] == [str(g) for g in range(7)]


def _one_direction(src: Path, dst: Path, port: int) -> None:
    """Copy a classic Ethernet/IPv4 pcap, leaving out every TCP segment sent to ``port``."""
    import struct

    data = src.read_bytes()
    out, pos = [data[:24]], 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<IIII", data, pos)[2]
        frame = data[pos: pos + 16 + incl]
        pos += 16 + incl
        ip = frame[16 + 14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] == 6 and struct.unpack_from("!H", ip, ihl + 2)[0] == port:
            continue
        out.append(frame)
    dst.write_bytes(b"".join(out))


def test_switchboard_seen_in_one_direction_is_recognised_and_summarised(record, tmp_path):
    """Only the server's side of each switchboard flow: still switchboard, with its summary
    (the server's USR OK, IRO/JOI and MSG lines are switchboard evidence)."""
    truth = json.loads((SAMPLES / "msn_session.json").read_text())
    port = next(c["server"][1] for c in truth["connections"] if c["role"] == "switchboard")
    half = tmp_path / "server_side.pcap"
    _one_direction(SAMPLES / "msn_session.pcap", half, port)
    rec = record()
    replay_capture(half)
    sb_flows = {e.fields["network.community_id"] for e in rec.events("FlowEstablished")
                if port in (e.fields["source.port"], e.fields["destination.port"])}
    assert len(sb_flows) == 3
    closed = {e.fields["network.community_id"]: e.fields["role"]
              for e in rec.events("FlowClosed")}
    assert {closed[f] for f in sb_flows} == {"switchboard"}
    summaries = [e for e in rec.events("Switchboard")
                 if e.fields["network.community_id"] in sb_flows]
    assert len(summaries) == 3 and all(s.fields["messages"] > 0 for s in summaries)


@pytest.mark.parametrize(("name", "verb"), [("msn_session", "PAG"), ("msn_session_msnp9", "PGD")])
def test_page_payload_is_skipped_so_the_next_png_is_seen(record, name, verb):
    """MSNP8 PAG / MSNP9 PGD carry a payload with command-like lines in it: it is read by
    length, so the PNG right after it is a command and its QNG a reply."""
    rec = record()
    replay_capture(SAMPLES / f"{name}.pcap")
    got = [(e.fields["verb"], e.fields["payload_len"]) for e in rec.events("Command")
           if e.fields["network.direction"] == "egress"]
    at = got.index((verb, 65))
    assert got[at + 1] == ("PNG", 0)
    assert sum(v == "OUT" for v, _ in got) == 6  # 3 notification + 3 switchboard flows
    assert rec.events("UnknownCommand") == []


def _unfinished_msgs(path: Path, flows: int, size: int) -> None:
    """A capture of ``flows`` switchboard flows, each sending one segment: a MSG declaring
    100 kB followed by ``size`` bytes of it, then the client's FIN."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    frames = []
    for i in range(flows):
        c, s = f"10.1.{i // 250}.{1 + i % 250}", "10.2.0.1"
        cp = 40000 + i
        data = b"MSG 1 N 100000\r\n" + b"x" * size
        frames += [Ether() / IP(src=c, dst=s) / TCP(sport=cp, dport=1863, flags="S", seq=0),
                   Ether() / IP(src=s, dst=c) / TCP(sport=1863, dport=cp, flags="SA", seq=0,
                                                    ack=1),
                   Ether() / IP(src=c, dst=s) / TCP(sport=cp, dport=1863, flags="A", seq=1,
                                                    ack=1),
                   Ether() / IP(src=c, dst=s) / TCP(sport=cp, dport=1863, flags="PA", seq=1,
                                                    ack=1) / data]
    wrpcap(str(path), frames)


@pytest.mark.parametrize("compiled", [True, False])
def test_buffer_budget_holds_on_the_compiled_stage_too(record, tmp_path, compiled):
    """Replay (on the compiled packet stage or the Python pipeline): 100 flows leave
    20 kB MSGs unfinished; the parsers together never hold more than the budget plus
    one chunk, and the same drops are counted and traced either way."""
    path = tmp_path / "unfinished.pcap"
    _unfinished_msgs(path, 100, 20_000)
    rec = record()
    monitor = MsnMonitor(max_buffered=200_000)
    stats = replay_capture(path, monitor=monitor, compiled=compiled)
    assert monitor.budget.peak <= 200_000 + 20_100
    assert stats.budget_drops == monitor.budget.drops == 100 - 200_000 // 20_000
    drops = [e for e in rec.events("UnknownCommand") if e.fields["kind"] == "over_budget"]
    assert len(drops) == stats.budget_drops
    assert monitor.budget.used == 0
