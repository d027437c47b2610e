"""Verb tables of MSNP2..MSNP21: which verbs carry a payload, which have no TrID.

Checked against the protocol documentation (the msnp-wiki command pages, MSNPiki,
libpurple's list of payload commands). All MSNP knowledge the parsers need lives
here; the C accelerator receives it as :data:`VERB_RULES` and hard-codes none.

The payload rule is per verb: the last argument is the payload length when the
command has at least ``PAYLOAD_MIN_ARGS[verb]`` arguments and that argument is a
decimal number (so replies like ``ADL 7 OK``, ``SDC 3 OK`` or ``QRY 12`` carry
none). The TrID rule is per verb and shape: verbs of :data:`NO_TRID_VERBS` never
carry one; a verb of :data:`NO_TRID_ARG_COUNTS` carries none when its number of
arguments falls in the given range (``LSG`` inside a list sync); otherwise a
decimal first argument is the TrID.
"""

from __future__ import annotations

__all__ = [
    "KNOWN_VERBS",
    "LEGACY_CLIENT_SERVER",
    "LEGACY_PEER_TO_PEER",
    "NO_TRID",
    "NO_TRID_ARG_COUNTS",
    "NO_TRID_VERBS",
    "PAYLOAD_MIN_ARGS",
    "VERB_RULES",
    "is_verb",
    "takes_trid",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# verb -> minimum number of arguments (after the verb) for the last one to be a length
PAYLOAD_MIN_ARGS: dict[str, int] = {
    "MSG": 2,  # MSNP2+: client MSG trid U|N|A|D len; server MSG email name len
    "NOT": 1,  # MSNP5+: NOT len (server only)
    "PAG": 3,  # MSNP5-8: PAG trid handle len (page a mobile device)
    "IPG": 1,  # MSNP5+: IPG len (a page received)
    "SDC": 9,  # MSNP5+: SDC trid address lcid library client X X name len; reply SDC trid OK
    "PGD": 4,  # MSNP9-12: PGD trid handle device-type len (PAG's successor)
    "QRY": 3,  # MSNP6+: QRY trid client-id len; reply QRY trid
    "UBX": 2,  # MSNP11+: UBX email len; MSNP13+: UBX email network len
    "UUX": 2,  # MSNP11+: UUX trid len; reply UUX trid 0
    "GCF": 2,  # MSNP11+: GCF trid file len; server push GCF 0 len
    "ADL": 2,  # MSNP13+: ADL trid len; reply ADL trid OK; push ADL 0 len
    "RML": 2,  # MSNP13+: RML trid len; reply RML trid OK
    "FQY": 2,  # MSNP13+: FQY trid len
    "UBM": 3,  # MSNP14+: UBM email network type len
    "UUM": 4,  # MSNP14+: UUM trid email network type len
    "UBN": 3,  # MSNP16+: UBN email type len
    "UUN": 3,  # MSNP16+: UUN trid email type len; reply UUN trid OK
    "SDG": 2,  # MSNP21: SDG trid len
    "PUT": 2,  # MSNP21: PUT trid len; reply PUT trid OK len
    "DEL": 2,  # MSNP21: DEL trid len
    "NFY": 2,  # MSNP21: NFY PUT|DEL len
}

# Verbs whose first numeric argument is never a TrID (server pushes, session ids, lengths).
NO_TRID_VERBS: frozenset[str] = frozenset(
    {
        "JOI",
        "BYE",
        "RNG",
        "NLN",
        "FLN",
        "UBX",
        "NOT",
        "IPG",
        "OUT",
        "QNG",
        "PNG",
        "UBN",
        "UBM",
        "NFY",
        "BPR",
    }
)

#: verb -> (fewest, most) arguments of the shapes that carry no TrID. ``LSG`` inside a
#: list sync is ``LSG group-id name 0`` (MSNP8-9) or ``LSG name id|guid`` (MSNP10+): its
#: first argument is a group id or a name, never a TrID; ``LSG trid`` (a request) and
#: MSNP7's ``LSG trid version index count group-id name 0`` do carry one. (``LST`` needs
#: no rule: in a sync its first argument is an address, ``N=...`` or ``C=...``.)
NO_TRID_ARG_COUNTS: dict[str, tuple[int, int]] = {"LSG": (2, 5)}

#: The argument-count range of a verb that always takes a TrID when it has one.
NO_TRID: tuple[int, int] = (1, 0)

# The reference driver's three-letter table (classification of a chunk).
LEGACY_CLIENT_SERVER: frozenset[str] = _words(
    "ACK ADC ANS BLP BYE CAL CHG FLN GTC INF IRO JOI LST NAK NLN OUT REM RNG SYN USR VER XFR"
)
LEGACY_PEER_TO_PEER: frozenset[str] = frozenset({"MSG"})

# Every verb seen in MSNP2..MSNP21 (used to resynchronise on a plausible line).
KNOWN_VERBS: frozenset[str] = frozenset(
    LEGACY_CLIENT_SERVER
    | LEGACY_PEER_TO_PEER
    | PAYLOAD_MIN_ARGS.keys()
    | _words(
        "ADD ADG BPR CHL CVR CVQ FIL FND GCF GTC ILN IMS LSG PNG PRP QNG REA REG RMG SBP SBS "
        "SND TFR URL UUM UBM RFS SDC VAS CNQ ATH"
    )
)

#: verb -> (whether its first argument may be a TrID, fewest arguments for the last one to
#: be a payload length, fewest and most arguments of its shapes without a TrID): every
#: known verb, for the parsers (Python and C). Verbs without a payload get a minimum no
#: command reaches.
VERB_RULES: dict[str, tuple[bool, int, int, int]] = {
    verb: (verb not in NO_TRID_VERBS, PAYLOAD_MIN_ARGS.get(verb, 1 << 62),
           *NO_TRID_ARG_COUNTS.get(verb, NO_TRID))
    for verb in KNOWN_VERBS
}


def takes_trid(verb: str, nargs: int) -> bool:
    """May a command of ``verb`` with ``nargs`` arguments carry a TrID first?"""
    if not nargs or verb in NO_TRID_VERBS:
        return False
    low, high = NO_TRID_ARG_COUNTS.get(verb, NO_TRID)
    return not low <= nargs <= high


def is_verb(word: str) -> bool:
    """True for a three-character command word: upper-case ASCII letters or digits."""
    return (
        len(word) == 3
        and word.isascii()
        and (word.isdigit() or (word.isalpha() and word.isupper()))
    )
