"""`wfptrace replay`: events as JSON lines and decoder counters as the last stdout line."""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest

from providers.packets._cli import register
from tracer._event import iso_time

from .tshark_oracle import CAPTURES, TSHARK, tshark_counts


def run_replay(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["replay", *argv])
    return args.func(args)


def _need(name: str):
    path = CAPTURES / name
    if not path.exists():
        print(f"skipping: {path} is absent")
        pytest.skip("capture absent")
    return path


def test_stats_json_last_line_matches_tshark(capsys) -> None:
    """--stats-json prints the counters of all files as the last stdout line, equal to tshark."""
    a, b = _need("cs_http_ip4and6.pcapng"), _need("cs_icmp_traceroute.pcapng")
    assert run_replay([str(a), str(b), "--stats-json"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    got = json.loads(last)
    session = got.pop("session")
    assert session["sinks"][0]["handed"] == session["sinks"][0]["written"]
    if TSHARK is None:
        print("skipping tshark comparison: tshark absent")
        return
    ta, tb = tshark_counts(a), tshark_counts(b)
    want = {k: ta[k] + tb[k] for k in got}
    assert got == want


def test_events_to_stdout_are_log_lines(capsys) -> None:
    """-o - writes the log-file JSON lines (header, flow events) to stdout."""
    path = _need("cs_tcp_handshake.pcapng")
    assert run_replay([str(path), "-o", "-", "--provider", "packets"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["type"] == "header"
    names = [x["event"] for x in lines[1:]]
    assert names[0] == "FlowNew" and "FlowEnd" in names and names[-1] == "DecodeStats"
    new = lines[1]["fields"]
    assert new["network.transport"] == "tcp" and new["network.direction"] == "egress"
    assert new["network.community_id"].startswith("1:")
    assert lines[1]["created"] > lines[1]["time"]  # written now, seen at capture time


def test_flow_time_is_the_first_packets_capture_time(capsys) -> None:
    """FlowNew's time is its first packet's capture time to the nanosecond (as tshark says),
    with the initiator as source."""
    path = _need("cs_tcp_handshake.pcapng")
    assert run_replay([str(path), "-o", "-", "--provider", "packets"]) == 0
    new = json.loads(capsys.readouterr().out.splitlines()[1])
    if TSHARK is None:
        pytest.skip("tshark is not installed")
    out = subprocess.run([TSHARK, "-r", str(path), "-c", "1", "-T", "fields", "-e",
                          "frame.time_epoch", "-e", "ip.src", "-e", "tcp.srcport"],
                         capture_output=True, text=True, check=True).stdout.split()
    sec, _, frac = out[0].partition(".")
    assert new["time"] == iso_time(int(sec) * 10**9 + int((frac + "0" * 9)[:9]))
    assert (new["fields"]["source.ip"], new["fields"]["source.port"]) == (out[1], int(out[2]))


def test_decode_errors_become_events(tmp_path) -> None:
    """The three malformed traceroute frames are written as DecodeError events to the file."""
    path = _need("cs_icmp_traceroute.pcapng")
    out = tmp_path / "out.jsonl"
    assert run_replay([str(path), "-o", str(out)]) == 0
    events = [json.loads(x) for x in out.read_text().splitlines()[1:]]
    frames = [e["fields"]["frame"] for e in events if e["event"] == "DecodeError"]
    assert frames == [26, 28, 30]


def test_unknown_provider_is_a_clear_error(capsys) -> None:
    """An unknown --provider exits 2 with the list of known providers."""
    path = _need("cs_tcp_handshake.pcapng")
    assert run_replay([str(path), "--provider", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "packets" in err


def test_not_a_capture_is_a_clear_error(tmp_path, capsys) -> None:
    """A file that is not pcap/pcapng gives exit status 1 and a message, not a traceback."""
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"hello world, not a capture")
    assert run_replay([str(bad), "--stats-json"]) == 1
    assert "not a pcap" in capsys.readouterr().err
