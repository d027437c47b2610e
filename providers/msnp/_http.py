"""HTTP-gateway framing: MSNP commands carried in HTTP request and response bodies.

Clients POST (or GET) to the gateway with the commands in a Content-Length
framed body; the gateway answers ``HTTP/1.1 200 OK`` with an
``X-MSN-Messenger: SessionID=...; GW-IP=...`` header and the server's
commands in its body. Bodies are handed, in order, to an inner MSNP parser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from providers.msnp._command import HttpEnvelope, ParseError

if TYPE_CHECKING:
    from providers.msnp._parser import Item, MsnpStreamParser

__all__ = ["HttpGatewayFramer", "parse_messenger_header"]


def parse_messenger_header(value: str) -> dict[str, str]:
    """Split ``SessionID=a; GW-IP=b`` into ``{"SessionID": "a", "GW-IP": "b"}``."""
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key] = val
    return fields


class HttpGatewayFramer:
    """Split an HTTP byte stream into messages and feed their bodies to an MSNP parser."""

    def __init__(self, outer: MsnpStreamParser, inner: MsnpStreamParser, offset: int) -> None:
        self._outer = outer
        self._inner = inner
        self._buf = bytearray()
        self._offset = offset  # stream offset of _buf[0]
        self._envelope: HttpEnvelope | None = None
        self._need = 0  # body bytes still expected for _envelope
        self._inner_pos = 0  # body bytes handed to the inner parser so far

    @property
    def held(self) -> int:
        """Bytes held: the message still arriving and what the inner parser holds."""
        return len(self._buf) + self._inner.held

    def drop(self) -> None:
        """Forget what is held (the stream is being given up)."""
        self._buf = bytearray()

    def feed(self, data: bytes, out: list[Item]) -> None:
        """Consume bytes of the HTTP stream, emitting envelopes and the commands in bodies."""
        self._buf += data
        while self._outer.failed is None:
            if self._envelope is None and not self._read_head(out):
                return
            if len(self._buf) < self._need:
                return
            self._deliver_body(out)

    def _read_head(self, out: list[Item]) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > self._outer.max_line:
                self._fail(out, "HTTP header block too long")
            return False
        head = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[: end + 4]
        envelope = self._envelope_from(head, self._offset)
        self._offset += end + 4
        if envelope is None:
            self._fail(out, f"not an HTTP message: {head[:60]!r}")
            return False
        if "chunked" in envelope.headers.get("transfer-encoding", "").lower():
            self._fail(out, "chunked transfer encoding is not supported")
            return False
        if envelope.body_len > self._outer.max_payload:
            self._fail(out, f"Content-Length {envelope.body_len} over the bound")
            return False
        self._envelope, self._need = envelope, envelope.body_len
        self._outer.stats.http_messages += 1
        out.append(envelope)
        return True

    def _deliver_body(self, out: list[Item]) -> None:
        body = bytes(self._buf[: self._need])
        del self._buf[: self._need]
        inner = self._inner
        inner.envelope = self._envelope
        inner.offset_shift = self._offset - self._inner_pos
        inner.feed_into(body, out)
        self._offset += self._need
        self._inner_pos += self._need
        self._envelope, self._need = None, 0
        if inner.failed is not None:
            self._outer.give_up(out, self._offset, inner.failed)

    def _fail(self, out: list[Item], detail: str) -> None:
        self._outer.stats.http_errors += 1
        out.append(ParseError("http_error", self._offset, detail, "dropped"))
        self._buf = bytearray()
        self._outer.give_up(out, self._offset, detail)

    @staticmethod
    def _envelope_from(head: str, offset: int) -> HttpEnvelope | None:
        lines = head.split("\r\n")
        words = lines[0].split(" ", 2)
        if len(words) < 2:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        body_len = 0
        if length.isascii() and length.isdigit():
            body_len = int(length) if len(length) <= 18 else 1 << 62
        if words[0].startswith("HTTP/"):
            method = target = None
            status = int(words[1]) if words[1].isascii() and words[1].isdigit() else None
            fields = parse_messenger_header(headers.get("x-msn-messenger", ""))
        elif words[0] in ("POST", "GET"):
            method, target, status = words[0], words[1], None
            query = parse_qs(urlsplit(target).query)
            fields = {k: v[0] for k, v in query.items() if v}
        else:
            return None
        return HttpEnvelope(
            offset,
            lines[0],
            method,
            target,
            status,
            headers,
            body_len,
            fields.get("SessionID"),
            fields.get("GW-IP") or fields.get("IP"),
        )
