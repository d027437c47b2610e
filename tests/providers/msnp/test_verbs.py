"""The verb tables: every payload verb of MSNP2-MSNP21 framed by length, TrID shapes."""

from __future__ import annotations

import pytest

from providers.msnp import Command, MsnpStreamParser
from providers.msnp._verbs import KNOWN_VERBS, PAYLOAD_MIN_ARGS, VERB_RULES

BODY = b"<TEXT>PNG\r\nOUT\r\n</TEXT>"  # CRLF-framed commands inside: must not be parsed
#: verb -> a documented command line of that verb carrying BODY (its length appended).
PAYLOAD_LINES = {
    "MSG": b"MSG 4 N",
    "NOT": b"NOT",
    "PAG": b"PAG 1 anotheruser@hotmail.com",
    "IPG": b"IPG",
    "SDC": b"SDC 2 anotheruser@hotmail.com 0x0409 MSMSGS MSMSGS X X example%20name",
    "PGD": b"PGD 1 anotheruser@hotmail.com 1",
    "QRY": b"QRY 10 msmsgs@msnmsgr.com",
    "UBX": b"UBX a@b.test 1",
    "UUX": b"UUX 6",
    "GCF": b"GCF 7 Shields.xml",
    "ADL": b"ADL 8",
    "RML": b"RML 9",
    "FQY": b"FQY 10",
    "UBM": b"UBM a@yahoo.test 32 1",
    "UUM": b"UUM 11 a@yahoo.test 32 1",
    "UBN": b"UBN a@b.test 1",
    "UUN": b"UUN 12 a@b.test 1",
    "SDG": b"SDG 13",
    "PUT": b"PUT 14",
    "DEL": b"DEL 15",
    "NFY": b"NFY PUT",
}


def parse(data: bytes) -> list[Command]:
    items = MsnpStreamParser().feed(data)
    assert all(isinstance(i, Command) for i in items), items
    return items  # type: ignore[return-value]


def test_every_payload_verb_has_a_documented_example():
    """The table of examples covers every payload verb the parser knows, and no other."""
    assert set(PAYLOAD_LINES) == set(PAYLOAD_MIN_ARGS)


@pytest.mark.parametrize("verb", sorted(PAYLOAD_LINES))
def test_payload_is_read_by_length_so_the_next_command_is_not_swallowed(verb):
    """A payload verb's body (with CRLF lines inside) is one payload; the next PNG is seen."""
    line = PAYLOAD_LINES[verb] + b" %d\r\n" % len(BODY)
    got = parse(b"CHG 3 NLN 0\r\n" + line + BODY + b"PNG\r\n")
    assert [(c.verb, c.payload) for c in got] == [("CHG", b""), (verb, BODY), ("PNG", b"")]


@pytest.mark.parametrize("reply", [b"ADL 8 OK", b"RML 9 OK", b"SDC 2 OK", b"QRY 10",
                                   b"UUN 12 OK", b"UUX 6 0", b"PGD 5"])
def test_replies_of_payload_verbs_carry_no_payload(reply):
    """Short replies of payload verbs (OK, a bare TrID) do not eat the next command."""
    assert [c.verb for c in parse(reply + b"\r\nPNG\r\n")] == [reply[:3].decode(), "PNG"]


def test_pgd_payload_is_skipped_by_length_and_the_next_png_is_kept():
    """MSNP9-12 PGD (page to a mobile device) carries a payload: the PNG after it is seen."""
    text = b'<TEXT xml:space="preserve" enc="utf-8">This is an example message.</TEXT>'
    got = parse(b"PGD 1 anotheruser@hotmail.com 1 %d\r\n%sPNG\r\n" % (len(text), text))
    assert [(c.verb, c.trid, c.payload_len) for c in got] == [("PGD", 1, len(text)),
                                                              ("PNG", None, 0)]


@pytest.mark.parametrize(("line", "trid", "args"), [
    (b"LSG 0 Other%20Contacts 0", None, ("0", "Other%20Contacts", "0")),  # MSNP8-9 sync
    (b"LSG 5 Friends 0", None, ("5", "Friends", "0")),  # MSNP8-9 sync: 5 is a group id
    (b"LSG Friends 1", None, ("Friends", "1")),  # MSNP10+ sync
    (b"LSG 2006 9f7e0b54-1d2c-4a8e-9e3c-2b1f0c3d4e5f", None,
     ("2006", "9f7e0b54-1d2c-4a8e-9e3c-2b1f0c3d4e5f")),  # MSNP10+: a numeric group name
    (b"LSG 3", 3, ()),  # request
    (b"LSG 3 4 1 2 0 Other%20Contacts 0", 3, ("4", "1", "2", "0", "Other%20Contacts", "0")),
    (b"LST example@passport.com Mike 13 0", None, ("example@passport.com", "Mike", "13", "0")),
    (b"LST 5 FL 12 1 1 a@b.test A", 5, ("FL", "12", "1", "1", "a@b.test", "A")),  # MSNP7
])
def test_group_and_list_lines_take_a_trid_only_in_their_trid_shapes(line, trid, args):
    """LSG in a MSNP8+ list sync has no TrID (its number is a group id); requests do."""
    (command,) = parse(line + b"\r\n")
    assert (command.trid, command.args) == (trid, args)


def test_lsg_group_id_does_not_join_a_pipelined_request():
    """MSNP8: LSG 5 during a sync is not the reply to a pending CHG 5."""
    from providers.msnp import TransactionTracker

    tracker = TransactionTracker()
    client, server = MsnpStreamParser(), MsnpStreamParser()
    for c in client.feed(b"SYN 4 0\r\nCHG 5 NLN 0\r\n"):
        tracker.observe(c, True, 0.0)
    joined = []
    for c in server.feed(b"SYN 4 95 1 6\r\nLSG 5 Friends 0\r\nLST a@b.test A 11 5\r\n"
                         b"CHG 5 NLN 0\r\n"):
        tx = tracker.observe(c, False, 1.0)
        if tx is not None:
            joined.append((tx.request.verb, tx.trid, tx.reply.verb))
    assert joined == [("SYN", 4, "SYN"), ("CHG", 5, "CHG")]


def test_rules_cover_every_known_verb_and_only_known_verbs():
    """The table the C accelerator receives is the known verbs, each with a 4-part rule."""
    assert set(VERB_RULES) == set(KNOWN_VERBS)
    assert all(len(rule) == 4 for rule in VERB_RULES.values())
