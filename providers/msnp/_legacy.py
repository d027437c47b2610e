"""The original driver's trace strings, reproduced byte for byte.

Rules of the WDK sample's parser: a chunk with any byte outside CR, LF and
0x20-0x7E is ignored; every other chunk is traced as "all traffic"; in
HTTP-gateway mode (an outbound chunk starting with POST or GET, an inbound one
starting with HTTP) the commands start after the blank line ending the
headers; the class is decided by the first three bytes of the commands only.
Fewer than three bytes after that is classed unknown.
"""

from __future__ import annotations

import msgspec

from providers.msnp._roles import LegacyClass, legacy_class

__all__ = ["LegacyTrace", "legacy_format", "legacy_trace"]

_ALLOWED = bytes([0x0D, 0x0A, *range(0x20, 0x7F)])

_CLASS_TEXT = {
    LegacyClass.CLIENT_SERVER: "Client-Server Message",
    LegacyClass.PEER_TO_PEER: "Client-Client Message",
    LegacyClass.UNKNOWN: "Unknown or Invalid Command Message",
}


class LegacyTrace(msgspec.Struct, frozen=True, gc=False):
    """The two trace lines the original emitted for one chunk, and its class."""

    legacy_class: LegacyClass
    all_traffic: str
    classified: str


def legacy_trace(
    chunk: bytes, *, inbound: bool, local_port: int, remote_port: int
) -> LegacyTrace | None:
    """Trace lines for one stream chunk, or None when the original ignored it."""
    if not chunk or chunk.translate(None, _ALLOWED):
        return None
    text = chunk.decode("ascii")
    commands = chunk
    if chunk.startswith(b"HTTP" if inbound else (b"POST", b"GET")):
        end = chunk.find(b"\r\n\r\n")
        commands = chunk[end + 4 :] if end >= 0 else b""
    cls = legacy_class(commands) if len(commands) >= 3 else LegacyClass.UNKNOWN
    ports = f"Local Port: {local_port} Remote Port: {remote_port}."
    verb = "Received" if inbound else "Sent"
    return LegacyTrace(
        cls,
        f"Message Received. {ports} Message: {text}",
        f"{_CLASS_TEXT[cls]} {verb}. {ports} Message: {text}",
    )


def legacy_format(chunk: bytes, *, inbound: bool, local_port: int, remote_port: int) -> list[str]:
    """The original's trace strings for one chunk: [] if ignored, else all-traffic + class."""
    trace = legacy_trace(chunk, inbound=inbound, local_port=local_port, remote_port=remote_port)
    return [] if trace is None else [trace.all_traffic, trace.classified]
