"""A simulator session on loopback: the transcript is exactly what the parser sees on the wire."""

from __future__ import annotations

import base64

import pytest

from providers.msnp import Role, RoleTracker, parse_msg
from samples.msnsim import LONG_TEXT, ServerAddresses, run_session
from tests.samples.msnsim.tee_proxy import TeeProxy

BASE = 23100  # servers at BASE+10.., the tee proxy (what clients are told) at BASE..


def as_tuple(entry: dict) -> tuple:
    return (
        entry["verb"],
        entry["trid"],
        tuple(entry["args"]),
        entry["payload_len"],
        base64.b64decode(entry["payload_b64"]),
    )


async def run_proxied(dialect: str, offset: int):
    base = BASE + offset
    proxy = TeeProxy("127.0.0.1", {base + i: base + 10 + i for i in range(3)})
    await proxy.start()
    try:
        transcript = await run_session(
            base + 10, dialect=dialect, advertise=ServerAddresses.from_base("127.0.0.1", base)
        )
    finally:
        await proxy.close()
    return transcript, proxy


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("dialect", "offset"), [("MSNP8", 0), ("MSNP15", 20)])
async def test_parser_sees_exactly_the_transcript(dialect, offset):
    """Every connection's commands, both directions, match the client's transcript exactly."""
    transcript, proxy = await run_proxied(dialect, offset)
    assert len(transcript.connections) == 9
    for conn in transcript.connections:
        port = conn["client"][1]
        for direction in ("sent", "received"):
            expected = [as_tuple(c) for c in transcript.for_connection(conn["id"], direction)]
            seen = [
                (c.verb, c.trid, c.args, c.payload_len, c.payload)
                for c in proxy.commands[(port, direction)]
            ]
            assert seen == expected, (conn["id"], direction)
            assert proxy.parsers[(port, direction)].stats.errors == 0


@pytest.mark.timeout(60)
async def test_session_has_the_promised_shape():
    """Login redirect, 3-party switchboard, typing, long split UTF-8 text, invitations, RNG."""
    transcript, proxy = await run_proxied("MSNP8", 40)
    verbs = {c["verb"] for c in transcript.commands}
    assert {
        "VER",
        "CVR",
        "USR",
        "XFR",
        "SYN",
        "LST",
        "CHG",
        "ILN",
        "NLN",
        "FLN",
        "RNG",
        "ANS",
        "IRO",
        "CAL",
        "JOI",
        "MSG",
        "ACK",
        "BYE",
        "OUT",
    } <= verbs
    roles = {}
    for conn in transcript.connections:
        tracker = RoleTracker()
        port = conn["client"][1]
        for direction in ("sent", "received"):
            for command in proxy.commands[(port, direction)]:
                tracker.observe(command, from_client=direction == "sent")
        roles[conn["id"]] = tracker.role
    assert roles["alice/dispatch"] == Role.DISPATCH
    assert roles["alice/notification"] == Role.NOTIFICATION
    assert {roles[f"{u}/switchboard"] for u in ("alice", "bob", "carol")} == {Role.SWITCHBOARD}
    alice_port = next(
        c["client"][1] for c in transcript.connections if c["id"] == "alice/switchboard"
    )
    contents = [parse_msg(c) for c in proxy.commands[(alice_port, "received")] if c.verb == "MSG"]
    assert LONG_TEXT in [c.text for c in contents]
    assert {c.sender for c in contents if c.kind == "typing"} == {"bob@sim.test", "carol@sim.test"}
    # the long message really was split across many TCP segments
    assert proxy.segments > 100
