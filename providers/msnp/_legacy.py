"""The original driver's trace strings, reproduced byte for byte.

Rules of the WDK sample's parser (``notify.c``), as its code has them:

- a chunk with any byte outside CR, LF and 0x20-0x7E is ignored (no line at all);
- every other chunk is traced as "all traffic" (``Message Received. ...``, whatever
  its direction);
- gateway mode: an outbound chunk starting with ``POST`` or ``GET``, or an inbound one
  starting with ``HTTP``, compared case-insensitively (``_strnicmp``), is classified
  and printed from after the blank line ending its headers. That blank line is
  searched for at offsets 0, 4, 8... only (the original's search steps by the length
  of what it looks for); a chunk where it is not found that way, or with nothing
  after it (headers only), gets no classified line;
- the class is decided by the first three bytes of what is printed (fewer than three:
  unknown);
- the classified line of an outbound chunk ends with CRLF after the message (the
  original's "... Sent." format strings end with ``\\r\\n``; the "Received" ones do not).
"""

from __future__ import annotations

import msgspec

from providers.msnp._roles import LegacyClass, legacy_class

__all__ = ["LegacyTrace", "legacy_format", "legacy_trace"]

_ALLOWED = bytes([0x0D, 0x0A, *range(0x20, 0x7F)])
_HEADERS_END = b"\r\n\r\n"

_CLASS_TEXT = {
    LegacyClass.CLIENT_SERVER: "Client-Server Message",
    LegacyClass.PEER_TO_PEER: "Client-Client Message",
    LegacyClass.UNKNOWN: "Unknown or Invalid Command Message",
}


class LegacyTrace(msgspec.Struct, frozen=True, gc=False):
    """What the original traced for one chunk: the all-traffic line and, unless a gateway
    chunk had nothing after its headers, the classified line with its class and message.
    """

    all_traffic: str
    legacy_class: LegacyClass | None
    classified: str | None
    message: str  # what the classified line prints (the chunk, or a gateway body)
    trailer: str  # what the classified line ends with after the message ("\r\n" or "")


def _gateway(chunk: bytes, inbound: bool) -> bool:
    """Does the chunk start gateway mode (case-insensitive, as ``_strnicmp``)?"""
    head = chunk[:4].upper()
    return head == b"HTTP" if inbound else (head == b"POST" or head[:3] == b"GET")


def _body(chunk: bytes) -> bytes:
    """What follows the headers, found as the original finds it (steps of four); b""
    when it finds no blank line or nothing after it."""
    size = len(chunk)
    for offset in range(0, size - len(_HEADERS_END) + 1, len(_HEADERS_END)):
        if chunk[offset : offset + 4] == _HEADERS_END:
            return chunk[offset + 4 :]
    return b""


def legacy_trace(
    chunk: bytes, *, inbound: bool, local_port: int, remote_port: int
) -> LegacyTrace | None:
    """Trace lines for one stream chunk, or None when the original ignored it."""
    if not chunk or chunk.translate(None, _ALLOWED):
        return None
    ports = f"Local Port: {local_port} Remote Port: {remote_port}."
    all_traffic = f"Message Received. {ports} Message: {chunk.decode('ascii')}"
    shown = _body(chunk) if _gateway(chunk, inbound) else chunk
    if not shown:
        return LegacyTrace(all_traffic, None, None, "", "")
    cls = legacy_class(shown) if len(shown) >= 3 else LegacyClass.UNKNOWN
    message = shown.decode("ascii")
    action, trailer = ("Received", "") if inbound else ("Sent", "\r\n")
    return LegacyTrace(all_traffic, cls,
                       f"{_CLASS_TEXT[cls]} {action}. {ports} Message: {message}{trailer}",
                       message, trailer)


def legacy_format(chunk: bytes, *, inbound: bool, local_port: int, remote_port: int) -> list[str]:
    """The original's trace strings for one chunk, in order: [] if it was ignored."""
    trace = legacy_trace(chunk, inbound=inbound, local_port=local_port, remote_port=remote_port)
    if trace is None:
        return []
    return [trace.all_traffic] if trace.classified is None else [trace.all_traffic,
                                                                 trace.classified]
