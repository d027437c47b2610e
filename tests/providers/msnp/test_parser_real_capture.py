"""The parser on a real 2006 MSN switchboard session (ppa_suspectemployeechat_msnms.pcap)."""

from __future__ import annotations

from providers.msnp import Command, MsnpStreamParser, parse_msg

CLIENT = (3331, 1863)
BRIAN, THOMAS = "tesla_brian@hotmail.com", "tesla_thomas@hotmail.com"
TYPING_BRIAN = ("MSG", None, ("U", "96"), 96)

EXPECTED = [  # (direction, verb, trid, args, payload_len) in capture order
    ("c", "USR", 93, (BRIAN, "1835953129.20013021.2623242"), 0),
    ("s", "USR", 93, ("OK", BRIAN, "Brian"), 0),
    ("c", "CAL", 94, (THOMAS,), 0),
    ("s", "CAL", 94, ("RINGING", "1835953129"), 0),
    ("s", "JOI", None, (THOMAS, "Thomas", "1616756780"), 0),
    ("c", "MSG", 95, ("U", "96"), 96),
    ("c", "MSG", 96, ("N", "132"), 132),
    ("s", "MSG", None, (THOMAS, "Thomas", "97"), 97),
    ("s", "MSG", None, (THOMAS, "Thomas", "141"), 141),
    ("c", "MSG", 97, ("U", "96"), 96),
    ("c", "MSG", 98, ("U", "96"), 96),
    ("c", "MSG", 99, ("N", "178"), 178),
    ("s", "MSG", None, (THOMAS, "Thomas", "97"), 97),
    ("s", "MSG", None, (THOMAS, "Thomas", "156"), 156),
    ("c", "MSG", 100, ("U", "96"), 96),
    ("c", "MSG", 101, ("U", "96"), 96),
    ("c", "MSG", 102, ("U", "96"), 96),
    ("c", "MSG", 103, ("N", "142"), 142),
    ("s", "MSG", None, (THOMAS, "Thomas", "97"), 97),
    ("s", "MSG", None, (THOMAS, "Thomas", "97"), 97),
    ("s", "MSG", None, (THOMAS, "Thomas", "97"), 97),
    ("s", "MSG", None, (THOMAS, "Thomas", "182"), 182),
    ("c", "MSG", 104, ("U", "96"), 96),
    ("c", "MSG", 105, ("U", "96"), 96),
    ("c", "MSG", 106, ("N", "140"), 140),
]

TEXTS = [
    "Hey Brian",
    "Hey man, whats up?",
    "Not much, did you hear about the new IT guy they hired?",
    "ohh yea, i hear he is a real jerk",
    "I've heard the same",
    "maybe we should try hacking into a server to mess with him?",
    "sounds good to me",
]


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
