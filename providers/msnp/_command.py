"""The typed items an MSNP stream parser produces: commands, HTTP envelopes, errors."""

from __future__ import annotations

import msgspec

__all__ = ["Command", "HttpEnvelope", "ParseError"]


class HttpEnvelope(msgspec.Struct, frozen=True, gc=False):
    """One HTTP-gateway message (request or response) whose body carried MSNP commands.

    ``session_id`` and ``gateway_ip`` come from the ``X-MSN-Messenger`` header of a
    response or from the ``SessionID=`` query parameter of a request.
    """

    offset: int
    start_line: str
    method: str | None
    target: str | None
    status: int | None
    headers: dict[str, str]
    body_len: int
    session_id: str | None = None
    gateway_ip: str | None = None


class Command(msgspec.Struct, frozen=True, gc=False):
    """One MSNP command as seen on the wire.

    ``args`` are the words after the verb and the TrID (the payload length, when
    present, is the last of them); ``trid`` is None for verbs that carry none
    (server MSG, JOI, BYE, RNG, NLN, ...). ``offset`` is the position of the
    command's first byte in this direction's byte stream (the HTTP stream in
    gateway mode); ``size`` is its length on the wire, header line and payload.
    A header line that is not UTF-8 is kept losslessly: ``line`` and ``args`` show
    its undecodable bytes escaped (``\\xe9``) and ``raw`` holds the line's bytes
    (None for every UTF-8 line).
    """

    verb: str
    trid: int | None
    args: tuple[str, ...]
    payload_len: int
    payload: bytes
    offset: int
    size: int
    line: str
    envelope: HttpEnvelope | None = None
    raw: bytes | None = None

    @property
    def raw_args(self) -> tuple[bytes, ...] | None:
        """``args`` as the bytes on the wire, for a line that was not UTF-8 (None for the
        others, and when its bytes split into other words than its text)."""
        if self.raw is None:
            return None
        words = self.raw.split()[1 if self.trid is None else 2 :]
        return tuple(words) if len(words) == len(self.args) else None

    @property
    def is_error(self) -> bool:
        """True for a numeric error reply (e.g. ``911 5``)."""
        return self.verb.isdigit()


class ParseError(msgspec.Struct, frozen=True, gc=False):
    """Something in the stream that is not a well-formed command, with what was done.

    ``kind`` is one of ``line_too_long``, ``payload_too_large``, ``invalid_line``,
    ``bad_length``, ``http_error``, ``over_budget``, ``too_many_errors``; ``action`` tells how the
    parser recovered (``resync``, ``skipped``, ``dropped``).
    """

    kind: str
    offset: int
    detail: str
    action: str
