"""MSG payloads: MIME headers and what they carry (text, typing, invitations, P2P/MSNSLP).

A MSG payload is a small MIME message: ``MIME-Version``, ``Content-Type`` and
type-specific headers, a blank line, then the body. ``text/plain`` bodies are
UTF-8 text; ``text/x-msmsgscontrol`` with ``TypingUser`` is a typing
notification; ``text/x-msmsgsinvite`` is an old-style invitation (file
transfer, NetMeeting...) whose body is again ``Name: value`` lines;
``application/x-msnmsgrp2p`` carries a 48-byte binary P2P header and, for
session set-up, an MSNSLP request (``INVITE MSNMSGR:... MSNSLP/1.0``).
"""

from __future__ import annotations

import msgspec

from providers.msnp._command import Command

__all__ = ["MsgContent", "SlpMessage", "parse_header_block", "parse_msg", "parse_slp"]

_P2P_HEADER = 48
_SLP_STARTS = (b"INVITE MSNMSGR:", b"BYE MSNMSGR:", b"ACK MSNMSGR:", b"MSNSLP/1.0 ")


class SlpMessage(msgspec.Struct, frozen=True, gc=False):
    """An MSNSLP request or response found inside a P2P message."""

    start_line: str
    method: str | None  # INVITE, BYE, ACK ... (None for a response)
    status: int | None  # 200, 603 ... (None for a request)
    headers: dict[str, str]
    body_headers: dict[str, str]


class MsgContent(msgspec.Struct, frozen=True, gc=False):
    """The meaning of one MSG payload.

    ``kind`` is ``text``, ``typing``, ``invite`` (x-msmsgsinvite), ``p2p``,
    ``profile`` (the notification server's login message) or ``other``.
    ``sender`` and ``sender_name`` come from the server form ``MSG email name len``
    (None for what the local client sends). Header names are lower-cased.
    """

    kind: str
    content_type: str
    charset: str | None
    headers: dict[str, str]
    sender: str | None
    sender_name: str | None
    typing_user: str | None
    text: str | None
    body: bytes
    invite: dict[str, str] | None = None
    slp: SlpMessage | None = None


def parse_header_block(block: str) -> dict[str, str]:
    """``Name: value`` lines (CRLF or LF separated) to a dict with lower-case names."""
    headers: dict[str, str] = {}
    for line in block.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers


def _split_mime(payload: bytes) -> tuple[dict[str, str], bytes]:
    end = payload.find(b"\r\n\r\n")
    if end < 0:
        return parse_header_block(payload.decode("utf-8", "replace")), b""
    return parse_header_block(payload[:end].decode("utf-8", "replace")), payload[end + 4 :]


def _content_type(value: str) -> tuple[str, str | None]:
    media, *params = (p.strip() for p in value.split(";"))
    charset = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip('"') or None
    return media.lower(), charset


def parse_slp(body: bytes) -> SlpMessage | None:
    """Find and parse an MSNSLP message in a P2P body (after the binary header)."""
    found = [i for i in (body.find(m) for m in _SLP_STARTS) if i >= 0]
    if not found:
        return None
    line_start = min(found)
    text = body[line_start:].split(b"\x00", 1)[0].decode("utf-8", "replace")
    head, _, rest = text.partition("\r\n\r\n")
    first, _, header_text = head.partition("\r\n")
    words = first.split(" ")
    if words[0] == "MSNSLP/1.0":
        code = words[1] if len(words) > 1 else ""
        method, status = None, int(code) if code.isascii() and code.isdigit() else None
    else:
        method, status = words[0], None
    return SlpMessage(
        first, method, status, parse_header_block(header_text), parse_header_block(rest)
    )


def parse_msg(command: Command) -> MsgContent:
    """Interpret the payload of a MSG command (either form)."""
    sender = sender_name = None
    if command.trid is None and len(command.args) >= 3:
        sender, sender_name = command.args[0], command.args[1]
    headers, body = _split_mime(command.payload)
    media, charset = _content_type(headers.get("content-type", ""))
    kind, typing_user, text, invite, slp = "other", None, None, None, None
    if media == "text/plain":
        kind, text = "text", _decode(body, charset)
    elif media == "text/x-msmsgscontrol":
        typing_user = headers.get("typinguser")
        kind = "typing" if typing_user else "other"
    elif media == "text/x-msmsgsinvite":
        kind, invite = "invite", parse_header_block(body.decode("utf-8", "replace"))
    elif media == "application/x-msnmsgrp2p":
        kind, slp = "p2p", parse_slp(body[_P2P_HEADER:] if len(body) > _P2P_HEADER else body)
    elif media.startswith("text/x-msmsgsprofile"):
        kind = "profile"
    return MsgContent(
        kind, media, charset, headers, sender, sender_name, typing_user, text, body, invite, slp
    )


def _decode(body: bytes, charset: str | None) -> str:
    """Decode a text body by its charset, falling back to UTF-8 for unknown names."""
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:
        return body.decode("utf-8", "replace")
