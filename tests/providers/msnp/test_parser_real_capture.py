"""The parser on a real 2006 MSN switchboard session (ppa_suspectemployeechat_msnms.pcap)."""

from __future__ import annotations

from providers.msnp import Command, MsnpStreamParser, parse_msg

from ..suspect_chat import BRIAN, COMMANDS, TEXTS, THOMAS

CLIENT = (3331, 1863)
TYPING_BRIAN = ("MSG", None, ("U", "96"), 96)

EXPECTED = [("c" if client else "s", *rest) for client, *rest in COMMANDS]


def _parse(segments: list[tuple[int, int, bytes]]) -> list[tuple[str, Command]]:
    parsers = {"c": MsnpStreamParser(), "s": MsnpStreamParser()}
    seen = []
    for sport, dport, payload in segments:
        side = "c" if (sport, dport) == CLIENT else "s"
        seen += [(side, item) for item in parsers[side].feed(payload)]
    for parser in parsers.values():
        assert parser.stats.errors == 0
        assert parser.stats.skipped_bytes == 0
    return seen


def test_exactly_the_25_commands(suspect_chat_segments):
    """The capture yields exactly its 25 commands with their verbs, trids, args and lengths."""
    seen = _parse(suspect_chat_segments)
    assert all(isinstance(item, Command) for _, item in seen)
    got = [(side, c.verb, c.trid, c.args, c.payload_len) for side, c in seen]
    assert got == EXPECTED


def test_payloads_have_their_declared_length(suspect_chat_segments):
    """Every MSG payload is exactly as long as its header line says."""
    for _, command in _parse(suspect_chat_segments):
        assert len(command.payload) == command.payload_len


def test_messages_decode_to_typing_and_text(suspect_chat_segments):
    """The 20 MSG payloads are 13 typing notifications and the 7 chat lines, in order."""
    contents = [parse_msg(c) for _, c in _parse(suspect_chat_segments) if c.verb == "MSG"]
    kinds = [c.kind for c in contents]
    assert kinds.count("typing") == 13
    assert [c.text for c in contents if c.kind == "text"] == TEXTS
    assert {c.typing_user for c in contents if c.kind == "typing"} == {BRIAN, THOMAS}
    assert {c.sender for c in contents if c.sender} == {THOMAS}
