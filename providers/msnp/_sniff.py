"""Content sniffing: does the start of a byte stream look like MSNP?

Lets the monitor recognise MSNP on any port, not only 1863. The sample is
run through a fresh :class:`MsnpStreamParser`: plain MSNP needs at least one
command with a known verb and no framing error (several, if the sample starts
mid-session); HTTP needs the gateway's marks (``X-MSN-Messenger``,
``gateway.dll``, ``application/x-msn-messenger``).
"""

from __future__ import annotations

from enum import StrEnum

from providers.msnp._command import Command, HttpEnvelope
from providers.msnp._parser import MsnpStreamParser
from providers.msnp._verbs import KNOWN_VERBS

__all__ = ["Sniff", "sniff_msnp"]

_SAMPLE = 4096
_STRONG = frozenset({"VER", "CVR", "USR", "ANS", "XFR", "CHG", "SYN", "ADL", "MSG", "CAL", "JOI"})


class Sniff(StrEnum):
    """The verdict on a stream sample."""

    MSNP = "msnp"
    HTTP_GATEWAY = "http_gateway"
    NOT_MSNP = "not_msnp"
    NEED_MORE = "need_more"


def _gateway_marks(envelope: HttpEnvelope) -> bool:
    headers = envelope.headers
    return (
        "x-msn-messenger" in headers
        or "gateway.dll" in (envelope.target or "")
        or "x-msn-messenger" in headers.get("content-type", "")
    )


def sniff_msnp(sample: bytes, *, from_start: bool = True) -> Sniff:
    """Classify the first bytes of one direction of a TCP stream.

    ``from_start`` says the sample is the stream's very beginning (its SYN was
    seen): then the first line itself must be a command. Otherwise the sample
    may start mid-session and lines before the first command are tolerated.
    """
    parser = MsnpStreamParser()
    items = parser.feed(sample[:_SAMPLE])
    if parser.stats.errors:
        return Sniff.NOT_MSNP
    if parser.http_mode:
        envelopes = [i for i in items if isinstance(i, HttpEnvelope)]
        if any(_gateway_marks(e) for e in envelopes):
            return Sniff.HTTP_GATEWAY
        return Sniff.NEED_MORE if not envelopes and len(sample) < _SAMPLE else Sniff.NOT_MSNP
    commands = [i for i in items if isinstance(i, Command)]
    if from_start and parser.stats.skipped_bytes:
        return Sniff.NOT_MSNP
    if commands:
        if commands[0].verb not in KNOWN_VERBS:
            return Sniff.NOT_MSNP
        if not parser.stats.skipped_bytes or len(commands) >= 2 or commands[0].verb in _STRONG:
            return Sniff.MSNP
        return Sniff.NEED_MORE if len(sample) < _SAMPLE else Sniff.NOT_MSNP
    if parser.stats.skipped_bytes > 1024 or len(sample) >= _SAMPLE:
        return Sniff.NOT_MSNP
    return Sniff.NEED_MORE
