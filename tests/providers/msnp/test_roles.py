"""RoleTracker and legacy_class: observed role and the original's verb table."""

from __future__ import annotations

import pytest

from providers.msnp import LegacyClass, MsnpStreamParser, Role, RoleTracker, legacy_class


def run(*exchange: tuple[str, bytes], hint: str | None = None) -> Role:
    tracker = RoleTracker(hint)
    parsers = {"c": MsnpStreamParser(), "s": MsnpStreamParser()}
    for side, data in exchange:
        for command in parsers[side].feed(data):
            tracker.observe(command, from_client=side == "c")
    return tracker.role


def test_dispatch_server_redirects_without_login():
    """VER/CVR/USR answered by XFR NS is a dispatch server."""
    assert (
        run(
            ("c", b"VER 1 MSNP8 CVR0\r\n"),
            ("s", b"VER 1 MSNP8\r\n"),
            ("c", b"USR 2 TWN I a@b.c\r\n"),
            ("s", b"XFR 2 NS 127.0.0.2:1863 0 127.0.0.1:1863\r\n"),
        )
        == Role.DISPATCH
    )


def test_notification_server_logs_in():
    """A TWN login that ends in USR OK is a notification server."""
    assert (
        run(
            ("c", b"USR 3 TWN I a@b.c\r\n"),
            ("s", b"USR 3 TWN S lc=1033\r\n"),
            ("c", b"USR 4 TWN S t=ticket\r\n"),
            ("s", b"USR 4 OK a@b.c A 1 0\r\n"),
        )
        == Role.NOTIFICATION
    )


def test_switchboard_by_usr_cookie_or_ans():
    """USR with an email and cookie, or ANS, is a switchboard."""
    assert run(("c", b"USR 1 a@b.c 17.3.5\r\n")) == Role.SWITCHBOARD
    assert run(("c", b"ANS 1 a@b.c 8491.52 1175\r\n")) == Role.SWITCHBOARD


def test_direct_file_transfer():
    """VER MSNFTP is a direct peer-to-peer connection."""
    assert run(("c", b"VER MSNFTP\r\n")) == Role.DIRECT


def test_address_hint_is_used_until_evidence_arrives():
    """With no evidence the address-book hint decides; evidence overrides it."""
    assert run(hint="switchboard") == Role.SWITCHBOARD
    assert run(("c", b"CHG 5 NLN 0\r\n"), hint="dispatch") == Role.NOTIFICATION
    assert run() == Role.UNKNOWN


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("USR", LegacyClass.CLIENT_SERVER),
        ("XFR", LegacyClass.CLIENT_SERVER),
        (b"JOI a@b.c", LegacyClass.CLIENT_SERVER),
        ("MSG", LegacyClass.PEER_TO_PEER),
        ("UBX", LegacyClass.UNKNOWN),
        ("CVR", LegacyClass.UNKNOWN),
        ("911", LegacyClass.UNKNOWN),
        (b"msg", LegacyClass.UNKNOWN),
    ],
)
def test_legacy_verb_table(first, expected):
    """The legacy class is the original's table: 22 client-server verbs, MSG, else unknown."""
    assert legacy_class(first) == expected
