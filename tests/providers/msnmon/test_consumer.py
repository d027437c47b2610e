"""The monitor inside ``wfptrace replay``'s packet pipeline (shared flows and reassembly)."""

from __future__ import annotations

import argparse
import json

import pytest

from providers.msnmon import replay_consumer
from providers.packets import Pipeline, open_capture, register_consumer
from providers.packets._cli import register  # the replay command (its entry point: the lead's)
from tracer import read_log

from .conftest import SAMPLES
from .test_replay import EXPECTED


def _pipeline(path, consumer) -> None:
    pipeline = Pipeline([consumer])
    with open_capture(path) as src:
        pipeline.run(src, str(path))
    pipeline.finish()


def test_pipeline_gives_the_real_captures_25_commands(record, suspect_chat):
    """Through the replay pipeline the real capture gives exactly its 25 commands."""
    rec = record()
    consumer = replay_consumer(app_hint="msnmsgr.exe", capture_secrets=True)
    _pipeline(suspect_chat, consumer)
    got = [(e.fields["network.direction"], e.fields["verb"], e.fields["trid"], e.fields["args"],
            e.fields["payload_len"]) for e in rec.events("Command")]
    assert got == EXPECTED
    [flow] = rec.events("FlowEstablished")
    assert flow.fields["process.executable"] == "msnmsgr.exe"
    assert len(rec.events("FlowClosed")) == 1 and consumer.stats.commands == 25


def test_pipeline_on_a_simulator_capture_matches_the_transcript(record):
    """Every command of the bundled simulator session comes out once, in order."""
    pcap = SAMPLES / "msn_session.pcap"
    if not pcap.exists():
        pytest.skip(f"{pcap} is absent")
    truth = json.loads((SAMPLES / "msn_session.json").read_text())
    rec = record()
    _pipeline(pcap, replay_consumer(capture_secrets=True))
    want = sorted((c["verb"], c["trid"] or -1, tuple(c["args"])) for c in truth["commands"])
    got = sorted((e.fields["verb"], e.fields["trid"] or -1, tuple(e.fields["args"]))
                 for e in rec.events("Command"))
    assert got == want


def test_wfptrace_replay_provider_msnmon(suspect_chat, tmp_path, capsys):
    """``wfptrace replay FILE --provider msnmon -o OUT`` writes the monitor's events."""
    register_consumer("msnmon", replay_consumer)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    out = tmp_path / "trace.jsonl"
    args = parser.parse_args(["replay", str(suspect_chat), "--provider", "msnmon",
                              "-o", str(out)])
    assert args.func(args) == 0
    names = [e.name for e in read_log(str(out)) if e.provider == "wfptrace-msnmon"]
    assert names.count("Command") == 25 and names.count("Message") == 20
