"""Where MSNP traffic carries secrets: authentication material and message bodies.

The shapes, per protocol version (``args`` are the words after the verb and TrID):

- MSNP2-7: ``USR trid MD5 I email``; the server's salt ``USR trid MD5 S salt``; the
  client's ``USR trid MD5 S md5(salt + password)`` (any other package, e.g. ``CTP``,
  the same way);
- MSNP8-14: ``USR trid TWN S lc=...,ct=...,tpf=...`` (the server's challenge) and
  ``USR trid TWN S t=...&p=...`` (the client's Passport ticket);
- MSNP15-21: ``USR trid SSO S MBI_KEY_OLD nonce`` (policy, nonce) and
  ``USR trid SSO S t=ticket response-blob [{machine-guid}]``; ``USR trid SHA A ticket``;
- switchboards (every version): the cookie in ``XFR trid SB host:port CKI cookie ...``,
  ``RNG sid host:port CKI cookie email name ...``, ``USR trid email[;{guid}] cookie``
  and ``ANS trid email[;{guid}] cookie sid``;
- headers: ``MSPAuth`` (the Passport cookie of the profile MSG), and in HTTP-gateway
  mode ``Authorization``, ``Proxy-Authorization``, ``Cookie`` and ``Set-Cookie``;
- message bodies: what follows the MIME headers of a MSG, SDG, UUM, UBM, PAG or IPG
  payload.

Policy names (``MBI_KEY_OLD``) and machine GUIDs are kept: they identify, they do not
authenticate. :class:`StreamRedactor` applies all of it to raw chunks of a stream,
for the original's trace strings, which print whole chunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from providers.msnp._parser import DEFAULT_MAX_PAYLOAD
from providers.msnp._verbs import NO_TRID_VERBS, PAYLOAD_MIN_ARGS, is_verb

__all__ = ["BODY_VERBS", "SECRET_HEADERS", "SECRET_VERBS", "StreamRedactor", "redact_args",
           "secret_args"]

#: Verbs some of whose arguments can be authentication material.
SECRET_VERBS = frozenset({"USR", "XFR", "RNG", "ANS"})
#: Header names (lower case) whose value is authentication material.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie",
                            "mspauth"})
#: Payload verbs whose payload is a message (MIME headers, then the body).
BODY_VERBS = frozenset({"MSG", "SDG", "UUM", "UBM", "PAG", "IPG"})
#: Values kept in an authentication command: policy names and machine GUIDs.
_PUBLIC = re.compile(r"MBI(?:_[A-Z0-9]+)*|\{[0-9A-Fa-f-]{36}\}")
_PACKAGE = re.compile(r"[A-Z0-9]{2,8}")
_VERB_START = re.compile(rb"[A-Z0-9]{1,3}")
_WORD = re.compile(rb"[^ \t\r\n]+")
_HEADER = re.compile(rb"[ \t]*([A-Za-z0-9-]+)[ \t]*:[ \t]*")
_HTTP_START = re.compile(rb"(?:POST|GET) \S+ HTTP/1\.[01]|HTTP/1\.[01] \d{3}(?: .*)?",
                         re.IGNORECASE)
#: Longest line (or MIME header line) the stream redactor reassembles across chunks;
#: the rest of a longer line is redacted whole.
MAX_LINE = 4096

Token = Callable[[bytes], str]


def secret_args(verb: str, args: Sequence[str]) -> tuple[int, ...]:
    """The indexes of ``args`` (after verb and TrID) that hold secrets."""
    if verb == "USR":
        return _usr(args)
    if verb == "XFR" or verb == "RNG":
        return tuple(i + 1 for i in range(len(args) - 1) if args[i] == "CKI")
    if verb == "ANS" and len(args) >= 2 and args[0] != "OK":
        return (1,)
    return ()


def _usr(args: Sequence[str]) -> tuple[int, ...]:
    if len(args) < 2 or args[0] == "OK":
        return ()
    if _PACKAGE.fullmatch(args[0]):  # an authentication package: I (email) or S/A (proofs)
        if args[1] == "I":
            return ()
        return tuple(i for i in range(2, len(args)) if not _PUBLIC.fullmatch(args[i]))
    return tuple(range(1, len(args)))  # switchboard: email, then the cookie


def redact_args(verb: str, args: Sequence[str], token: Callable[[str], str]) -> list[str]:
    """``args`` with their secrets replaced by ``token(value)``."""
    out = list(args)
    for i in secret_args(verb, args):
        out[i] = token(out[i])
    return out


def _command_spans(line: bytes) -> list[tuple[int, int]]:
    """Spans of a command line's secret arguments."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(line)]
    if not words:
        return []
    verb = line[words[0][0]:words[0][1]].decode("latin-1")
    if verb not in SECRET_VERBS:
        return []
    first = 1
    if verb not in NO_TRID_VERBS and len(words) > 1 and line[words[1][0]:words[1][1]].isdigit():
        first = 2
    spans = words[first:]
    args = [line[a:b].decode("latin-1") for a, b in spans]
    return [spans[i] for i in secret_args(verb, args)]


def _header_span(line: bytes) -> tuple[int, int] | None:
    """The value span of a ``Name: value`` line whose name is a secret header."""
    m = _HEADER.match(line)
    if m is None or m.group(1).lower().decode() not in SECRET_HEADERS:
        return None
    end = len(line.rstrip(b" \t"))
    return (m.end(), end) if end > m.end() else None


class StreamRedactor:
    """Redacts one direction of an MSNP (or HTTP-gateway) stream chunk by chunk.

    Lines are reassembled across chunks (up to :data:`MAX_LINE` bytes) so a secret cut
    by a segment boundary is still found; a command's payload is followed by its length
    so a body spread over several chunks stays redacted (a length over ``max_payload``
    is no payload, as for the parser, which resyncs on the next line). ``secrets``: redact
    authentication material; ``bodies``: redact message bodies; lines that are no
    command (their meaning unknown: a body after a desync?) are redacted unless neither
    is. Tokens come from ``token``.
    """

    __slots__ = ("_http", "_in_body", "_line", "_line_len", "_max_payload", "_message",
                 "_payload", "_token", "bodies", "secrets")

    def __init__(self, token: Token, *, secrets: bool = True, bodies: bool = True,
                 max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self._token = token
        self._max_payload = max_payload
        self.secrets = secrets
        self.bodies = bodies
        self._line = b""  # start of the line the last chunk left unfinished
        self._line_len = 0  # its whole length so far (over MAX_LINE: not kept)
        self._payload = 0  # payload bytes still to come
        self._message = False  # that payload is a message (headers, then body)
        self._in_body = False  # past the message's headers
        self._http = False  # in an HTTP header block

    def redact(self, chunk: bytes) -> bytes:
        """The chunk with what must not be shown replaced by tokens."""
        out = bytearray()
        pos, n = 0, len(chunk)
        while pos < n:
            if self._payload and (self._in_body or not self._message):
                pos = self._opaque(chunk, pos, out)
            else:
                pos = self._next_line(chunk, pos, out)
        return bytes(out)

    # -- payload bytes not split into lines ------------------------------------------------
    def _opaque(self, chunk: bytes, pos: int, out: bytearray) -> int:
        part = chunk[pos:pos + self._payload]
        self._payload -= len(part)
        if self._message and self.bodies and part.strip():
            out += self._token(part).encode()
        else:
            out += part
        if not self._payload:
            self._message = self._in_body = False
        return pos + len(part)

    # -- lines ----------------------------------------------------------------------------
    def _next_line(self, chunk: bytes, pos: int, out: bytearray) -> int:
        limit = pos + self._payload if self._payload else len(chunk)
        eol = chunk.find(b"\n", pos, limit)
        end = eol + 1 if eol >= 0 else min(limit, len(chunk))
        part = chunk[pos:end]
        in_payload = self._payload > 0
        complete = eol >= 0 or (in_payload and end == limit)
        body = part.rstrip(b"\r\n")
        out += self._redact_line(body, complete) + part[len(body):]
        if in_payload:
            self._payload -= len(part)
            if not self._payload:
                self._message = self._in_body = False
        if complete:
            self._line, self._line_len = b"", 0
        else:
            self._line_len += len(part)
            self._line = (self._line + part)[:MAX_LINE]
        return end

    def _redact_line(self, part: bytes, complete: bool) -> bytes:
        """One line's bytes from this chunk (the line began with ``self._line``)."""
        if self._line_len + len(part) > MAX_LINE:
            return self._token(part).encode() if (self.secrets or self.bodies) and part else part
        start = len(self._line)
        line = self._line + part
        spans = self._spans(line.rstrip(b"\r"), complete)  # (a CR may end the last chunk)
        if not spans:
            return part
        out, at = bytearray(), start
        for a, b in spans:
            if b <= start:
                continue
            if a > at:
                out += line[at:a]
            out += self._token(line[a:b]).encode()
            at = b
        out += line[at:]
        return bytes(out)

    def _spans(self, line: bytes, complete: bool) -> list[tuple[int, int]]:
        """Spans to redact in a (possibly unfinished) line; sets the state a complete
        line leads to."""
        if self._payload:  # a message's header block
            return self._message_header(line, complete)
        if self._http:
            if complete and not line:
                self._http = False
            span = _header_span(line) if self.secrets else None
            return [span] if span else []
        if _HTTP_START.fullmatch(line):
            self._http = self._http or complete
            return []
        words = line.split()
        verb = words[0].decode("latin-1") if words else ""
        if not is_verb(verb):  # unknown content (a body, after a desync?) unless a verb's start
            shown = not (self.secrets or self.bodies) or not line or \
                (not complete and _VERB_START.fullmatch(line) is not None)
            return [] if shown else [(0, len(line))]
        if complete:
            self._start_payload(verb, words)
        return _command_spans(line) if self.secrets else []

    def _message_header(self, line: bytes, complete: bool) -> list[tuple[int, int]]:
        if not line:
            self._in_body = self._in_body or complete
            return []
        if _HEADER.match(line) is None:  # not a header line: the body starts here
            if not complete:  # (or a header cut before its colon)
                return [(0, len(line))] if self.secrets or self.bodies else []
            self._in_body = True
            return [(0, len(line))] if self.bodies else []
        span = _header_span(line) if self.secrets else None
        return [span] if span else []

    def _start_payload(self, verb: str, words: list[bytes]) -> None:
        least = PAYLOAD_MIN_ARGS.get(verb, 2 if verb.isdigit() else None)
        if least is None or len(words) - 1 < least or not words[-1].isdigit():
            return
        length = int(words[-1][:12])
        if length > self._max_payload:
            return
        self._payload = length
        self._message = verb in BODY_VERBS
        self._in_body = False
