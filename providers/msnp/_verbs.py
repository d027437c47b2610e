"""Verb tables of MSNP2..MSNP21: which verbs carry a payload, which have no TrID.

The payload rule is per verb: the last argument is the payload length when the
command has at least ``PAYLOAD_MIN_ARGS[verb]`` arguments and that argument is a
decimal number (so replies like ``ADL 7 OK`` or ``QRY 12`` carry none).
"""

from __future__ import annotations

__all__ = [
    "KNOWN_VERBS",
    "LEGACY_CLIENT_SERVER",
    "LEGACY_PEER_TO_PEER",
    "NO_TRID_VERBS",
    "PAYLOAD_MIN_ARGS",
    "is_verb",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# verb -> minimum number of arguments (after the verb) for the last one to be a length
PAYLOAD_MIN_ARGS: dict[str, int] = {
    "MSG": 2,  # client: MSG trid U|N|A|D len; server: MSG email name len
    "NOT": 1,  # NOT len
    "UBX": 2,  # UBX email len / UBX 1:email len / UBX email network len
    "UUX": 2,  # UUX trid len
    "GCF": 2,  # GCF trid [file] len
    "ADL": 2,  # ADL trid len; reply ADL trid OK
    "RML": 2,  # RML trid len; reply RML trid OK
    "QRY": 3,  # QRY trid client-id len; reply QRY trid
    "PAG": 3,  # PAG trid email len
    "IPG": 1,  # IPG len
    "UBN": 3,  # UBN email type len
    "UUN": 3,  # UUN trid email type len; reply UUN trid OK
    "FQY": 2,  # FQY trid len
    "UUM": 4,  # UUM trid email network type len
    "UBM": 3,  # UBM email network type len
    "SDG": 2,  # MSNP21: SDG trid len
    "PUT": 2,  # MSNP21: PUT trid len; reply PUT trid OK len
    "DEL": 2,  # MSNP21: DEL trid len
    "NFY": 2,  # MSNP21: NFY PUT|DEL len
}

# Verbs whose first numeric argument is not a TrID (server pushes, session ids, lengths).
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
        "ADD ADG BPR CHL CVR CVQ FIL GCF GTC ILN LSG PNG PRP QNG REA REG RMG SBP SBS SND TFR "
        "URL UUM UBM RFS SDC VAS CNQ ATH"
    )
)


def is_verb(word: str) -> bool:
    """True for a three-character command word: upper-case ASCII letters or digits."""
    return (
        len(word) == 3
        and word.isascii()
        and (word.isdigit() or (word.isalpha() and word.isupper()))
    )
