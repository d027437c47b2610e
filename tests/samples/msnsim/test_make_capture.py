"""The bundled captures (and a fresh one from make_capture) match their transcripts."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

from providers.msnp import Command, MsnpStreamParser
from samples.msnsim.make_capture import CAPTURES, make_capture
from tests.samples.msnsim.pcap_streams import tcp_payloads


def check_capture_against_transcript(pcap: Path, transcript_path: Path) -> int:
    """Parse every connection of the capture; compare with the transcript; return commands."""
    import json

    transcript = json.loads(transcript_path.read_text())
    flows = tcp_payloads(pcap)
    total = 0
    for conn in transcript["connections"]:
        client, server = tuple(conn["client"]), tuple(conn["server"])
        for direction, key in (("sent", (*client, *server)), ("received", (*server, *client))):
            parser = MsnpStreamParser()
            seen = [i for p in flows[key] for i in parser.feed(p)]
            assert all(isinstance(i, Command) for i in seen)
            expected = [
                c
                for c in transcript["commands"]
                if c["conn"] == conn["id"] and c["dir"] == direction
            ]
            assert [(c.verb, c.trid, list(c.args), c.payload) for c in seen] == [
                (c["verb"], c["trid"], c["args"], base64.b64decode(c["payload_b64"]))
                for c in expected
            ], (conn["id"], direction)
            total += len(seen)
    return total


@pytest.mark.parametrize("name", ["msn_session", "msn_session_msnp9", "msn_session_msnp15"])
def test_bundled_capture_matches_its_transcript(name):
    """The shipped capture's TCP streams parse into exactly the shipped transcript."""
    pcap, transcript = CAPTURES / f"{name}.pcap", CAPTURES / f"{name}.json"
    assert pcap.stat().st_size < 200_000 and transcript.stat().st_size < 200_000
    assert check_capture_against_transcript(pcap, transcript) > 100


@pytest.mark.timeout(60)
@pytest.mark.skipif(
    shutil.which("dumpcap") is None or os.geteuid() != 0,
    reason="capturing on lo needs dumpcap and root",
)
def test_make_capture_regenerates_a_matching_capture(tmp_path):
    """make_capture records a live loopback session whose capture matches its transcript."""
    pcap, transcript = make_capture(tmp_path, "fresh", port_base=23200)
    assert check_capture_against_transcript(pcap, transcript) > 100
