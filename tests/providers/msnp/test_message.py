"""parse_msg: MIME headers, text, typing, invitations and MSNSLP inside MSG payloads."""

from __future__ import annotations

import struct

from providers.msnp import MsnpStreamParser, parse_msg


def msg(header: bytes, payload: bytes):
    (command,) = MsnpStreamParser().feed(header % len(payload) + payload)
    return parse_msg(command)


def test_text_message_with_charset_and_sender():
    """A server-form text message gives sender, display name, charset and the UTF-8 text."""
    content = msg(
        b"MSG bob@x.com Bob %d\r\n",
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
        "X-MMS-IM-Format: FN=Arial\r\n\r\nGrüße, 世界".encode(),
    )
    assert (content.kind, content.content_type, content.charset) == ("text", "text/plain", "UTF-8")
    assert (content.sender, content.sender_name) == ("bob@x.com", "Bob")
    assert content.text == "Grüße, 世界"
    assert content.headers["x-mms-im-format"] == "FN=Arial"


def test_client_form_has_no_sender():
    """What the local client sends names no sender (it is the logged-in user)."""
    content = msg(b"MSG 4 N %d\r\n", b"Content-Type: text/plain\r\n\r\nhi")
    assert content.sender is None and content.text == "hi"


def test_typing_notification():
    """text/x-msmsgscontrol with TypingUser is a typing notification."""
    content = msg(
        b"MSG 5 U %d\r\n",
        b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: a@b.c\r\n\r\n\r\n",
    )
    assert (content.kind, content.typing_user, content.text) == ("typing", "a@b.c", None)


def test_file_transfer_invitation():
    """text/x-msmsgsinvite gives the invitation's fields."""
    body = (
        b"Application-Name: File Transfer\r\nInvitation-Command: ACCEPT\r\n"
        b"Invitation-Cookie: 77\r\nIP-Address: 127.0.0.5\r\nPort: 6891\r\n\r\n"
    )
    content = msg(
        b"MSG 6 N %d\r\n",
        b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n" + body,
    )
    assert content.kind == "invite"
    assert content.invite["invitation-command"] == "ACCEPT"
    assert (content.invite["ip-address"], content.invite["port"]) == ("127.0.0.5", "6891")


def test_p2p_msnslp_invite():
    """An application/x-msnmsgrp2p payload exposes the MSNSLP INVITE after the binary header."""
    slp_body = (
        b"EUF-GUID: {5D3E02AB}\r\nIPv4Internal-Addrs: 127.0.0.7\r\n"
        b"IPv4Internal-Port: 7001\r\n\r\n\x00"
    )
    slp = (
        b"INVITE MSNMSGR:b@x.com MSNSLP/1.0\r\nTo: <msnmsgr:b@x.com>\r\nFrom: <msnmsgr:a@x.com>\r\n"
        b"Call-ID: {1234}\r\nContent-Type: application/x-msnmsgr-transreqbody\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(slp_body), slp_body)
    )
    binary = struct.pack("<IIQQIIIIQ", 0, 9, 0, len(slp), len(slp), 0, 0, 0, 0)
    payload = (
        b"MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: b@x.com\r\n\r\n"
        + binary
        + slp
        + b"\x00\x00\x00\x00"
    )
    content = msg(b"MSG 7 D %d\r\n", payload)
    assert content.kind == "p2p"
    assert content.slp.method == "INVITE"
    assert content.slp.headers["call-id"] == "{1234}"
    assert content.slp.body_headers["ipv4internal-port"] == "7001"


def test_msg_without_blank_line_does_not_raise():
    """A payload with no header/body separator is read as headers only."""
    content = msg(b"MSG 8 N %d\r\n", b"Content-Type: text/plain")
    assert (content.kind, content.text) == ("text", "")


def test_unknown_charset_falls_back_to_utf8():
    """An unknown charset name does not raise; the body is read as UTF-8."""
    content = msg(b"MSG 9 N %d\r\n", b"Content-Type: text/plain; charset=x-nope\r\n\r\nok")
    assert content.text == "ok"
