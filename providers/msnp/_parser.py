"""Incremental MSNP parser for one direction of one TCP connection.

Bytes go in as they arrive (split anywhere, possibly starting mid-session);
typed items come out: :class:`Command`, :class:`HttpEnvelope` (gateway mode)
and :class:`ParseError`. Commands are CRLF-framed; payload commands are read
by their declared length, never by CRLF. Memory stays bounded by
``max_line`` and ``max_payload`` whatever the input.
"""

from __future__ import annotations

import re

from providers.msnp._accel import CPARSER
from providers.msnp._budget import BufferBudget
from providers.msnp._command import Command, HttpEnvelope, ParseError
from providers.msnp._http import HttpGatewayFramer
from providers.msnp._stats import ParserStats
from providers.msnp._verbs import KNOWN_VERBS, PAYLOAD_MIN_ARGS, VERB_RULES, is_verb, takes_trid

__all__ = [
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_PAYLOAD",
    "Item",
    "MsnpStreamParser",
]

DEFAULT_MAX_LINE = 64 * 1024
DEFAULT_MAX_PAYLOAD = 1024 * 1024
DEFAULT_MAX_ERRORS = 100

Item = Command | HttpEnvelope | ParseError

_HTTP_START = re.compile(rb"(?:POST|GET) \S+ HTTP/1\.[01]|HTTP/1\.[01] \d{3}(?: .*)?")
_COUNTERS = {
    "line_too_long": "line_too_long",
    "payload_too_large": "payload_too_large",
    "invalid_line": "invalid_lines",
    "http_error": "http_errors",
    "over_budget": "over_budget",
}
_MAX_DIGITS = 18  # longer numbers are never a valid TrID or length (and int() has a limit)


#: Decimal words already seen -> their value: TrIDs and payload lengths repeat, and
#: int(str) is slow. Holds only words of at most ten ASCII digits; bounded.
_NUMBERS: dict[str, int] = {}
_NUMBERS_MAX = 1 << 14


def _number(word: str) -> int:
    """The value of ``word`` (at most ten ASCII digits), remembered while there is room."""
    value = int(word)
    if len(_NUMBERS) < _NUMBERS_MAX:
        _NUMBERS[word] = value
    return value


def _length(word: str) -> int:
    """A declared payload length (absurdly long numbers become "too large"), or 0."""
    if word.isascii() and word.isdigit():
        if len(word) <= 10:
            return _number(word)
        return int(word) if len(word) <= _MAX_DIGITS else 1 << 62
    return 0


#: verb -> (whether its first argument may be a TrID, fewest arguments for the last one
#: to be a payload length, argument counts without a TrID): every known verb, for the
#: parser's fast path (the C accelerator gets the same table).
_FAST_VERBS = VERB_RULES


if CPARSER is not None:
    CPARSER.configure(Command, _FAST_VERBS)
_scan_lines = CPARSER.scan_lines if CPARSER is not None else None


def complete_payload(pending: tuple, payload: bytes) -> Command:
    """The command whose header ``scan_lines`` held (``pending``) once its whole
    ``payload`` came, in a stream whose offsets are not shifted (what :meth:`_emit` makes
    then): for a compiled framer that carries a parser's state."""
    verb, trid, args, line, offset, head, _need, *raw = pending
    n = len(payload)
    return Command(verb, trid, args, n, payload, offset, head + n, line, None, *raw)


#: The framing a compiled packet stage may run for a parser it carries (see
#: :meth:`MsnpStreamParser.lend`): the C scan of command lines and the payload rule.
FRAMER = (_scan_lines, complete_payload) if _scan_lines is not None else None


def _trid(word: str) -> int | None:
    """A TrID (a decimal number of at most ten digits, like a 32-bit counter), or None."""
    return int(word) if len(word) <= 10 and word.isascii() and word.isdigit() else None


class MsnpStreamParser:
    """Parse one direction of an MSNP (or MSNP-over-HTTP) byte stream incrementally.

    Until the first well-formed command line with a known verb, bytes are
    skipped (a capture may start mid-session); that also decides between
    plain MSNP and HTTP-gateway mode. After too many errors the stream is
    given up (``failed`` holds the reason) and later bytes are only counted.
    """

    #: (no per-instance dictionary: a monitor makes two parsers for every flow)
    __slots__ = ("_allow_http", "_base", "_charged", "_dropping", "_got", "_http", "_payload",
                 "_pending", "_rest", "_skip_line", "_synced", "budget", "envelope", "failed",
                 "max_errors", "max_line", "max_payload", "offset_shift", "stats")

    def __init__(
        self,
        *,
        max_line: int = DEFAULT_MAX_LINE,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        max_errors: int = DEFAULT_MAX_ERRORS,
        allow_http: bool = True,
        budget: BufferBudget | None = None,
    ) -> None:
        self.max_line = max_line
        self.max_payload = max_payload
        self.max_errors = max_errors
        self.stats = ParserStats()
        self.failed: str | None = None
        self._allow_http = allow_http
        self._synced = False
        self._skip_line = False  # discarding the rest of an over-long line
        self._rest = bytearray()  # unconsumed bytes; _rest[0] is at stream offset _base
        self._base = 0
        self._pending: tuple | None = None  # header of a command awaiting its payload
        self._payload = bytearray()
        self._dropping = False  # skipping the rest of a payload dropped over the budget
        self._got = 0  # payload bytes skipped so far while dropping
        self.budget = budget  # shared with other parsers; None: only the per-parser bounds
        self._charged = 0  # bytes held, as last charged to the budget
        self._http: HttpGatewayFramer | None = None
        self.envelope: HttpEnvelope | None = None  # set by the gateway framer for bodies
        self.offset_shift = 0  # added to offsets of commands parsed from gateway bodies

    def lend(self) -> tuple[bool, int] | None:
        """(synced, stream offset) when the parser holds nothing (no partial line or
        payload, not skipping, not in gateway mode, not given up, nothing charged to its
        budget): a compiled framer may carry on from there with the same rules (the C
        ``scan_lines``) and give the state back through :meth:`resume`. None otherwise.
        With a budget, the framer must hand back any chunk that leaves bytes held
        (:meth:`resume` then charges them), so the budget sees what it would see here."""
        if self._pending is None and self._http is None and self.failed is None \
                and not self._rest and not self._skip_line and self.envelope is None \
                and not self.offset_shift and not self._charged:
            return self._synced, self._base
        return None

    def resume(self, synced: bool, base: int, rest: bytes | None, pending: tuple | None,
               payload: bytes | None, nbytes: int, commands: int, payload_bytes: int,
               charged: int = 0) -> None:
        """Take the state back from a framer that carried on from :meth:`lend`: the sync
        flag, the stream offset of ``rest`` (a line cut by a chunk's end) or of what comes
        next, a command ``pending`` (its header, as ``scan_lines`` gives it) with its
        ``payload`` so far; it read ``nbytes`` more and made ``commands`` commands
        carrying ``payload_bytes``, and had charged ``charged`` bytes to the budget for
        what it held. The rest of what it holds is charged by the caller
        (:meth:`account`), as :meth:`feed` does at a chunk's end."""
        self._charged = charged
        self._synced = synced
        self._base = base
        self._rest = bytearray(rest or b"")
        self._pending = pending
        self._payload = bytearray(payload or b"")
        stats = self.stats
        stats.bytes_in += nbytes
        stats.commands += commands
        stats.payload_bytes += payload_bytes

    @property
    def http_mode(self) -> bool:
        """True once the stream was recognised as MSNP over the HTTP gateway."""
        return self._http is not None

    def feed(self, data: bytes) -> list[Item]:
        """Consume the next bytes of the stream and return the items they complete."""
        out: list[Item] = []
        self.stats.bytes_in += len(data)
        if self._pending is None and self._http is None and self.failed is None:
            self._feed_lines(data, out)  # the common case, without feed_into's dispatch
        else:
            self.feed_into(data, out)
        if self.budget is not None and (self._charged or self._rest or self._pending
                                        or self._http):
            self.account(out)
        return out

    # -- the shared buffer budget ----------------------------------------------------

    @property
    def held(self) -> int:
        """Bytes this parser holds between chunks (line start, payload, HTTP message)."""
        n = len(self._rest) + len(self._payload)
        return n + self._http.held if self._http is not None else n

    def account(self, out: list[Item]) -> None:
        """Charge what is held now to the budget; if that growth overdraws it, drop it (an
        ``over_budget`` error in ``out``). Called where held bytes grow (a line's start
        kept, a payload awaited or growing) and at the end of each chunk."""
        budget = self.budget
        if budget is None:
            return
        held = self.held
        delta, self._charged = held - self._charged, held
        if delta and not budget.adjust(delta):
            self._drop_held(out, held)

    def drop_held(self, out: list[Item]) -> None:
        """The budget refused the growth a framer charged for this parser's bytes (they
        are charged: :meth:`resume`'s ``charged``): drop them, as :meth:`account` does."""
        self._drop_held(out, self.held)

    def release(self) -> None:
        """This parser is discarded: give back what it had charged."""
        if self.budget is not None and self._charged:
            self.budget.adjust(-self._charged)
            self._charged = 0

    def _drop_held(self, out: list[Item], held: int) -> None:
        budget = self.budget
        assert budget is not None
        budget.drops += 1
        budget.dropped_bytes += held
        if self._http is not None:
            self._http.drop()
            self.give_up(out, self._base, "over the buffer budget")
        elif self._pending is not None:
            verb, _, _, _, offset, _, need, *_ = self._pending
            self._got, self._dropping = len(self._payload), True
            self._payload = bytearray()
            self.stats.skipped_bytes += self._got
            self._error(out, "over_budget", offset, f"{verb} payload of {need} bytes", "skipped")
        elif self._rest:
            self.stats.skipped_bytes += len(self._rest)
            self._base += len(self._rest)
            self._rest, self._skip_line = bytearray(), True
            self._error(out, "over_budget", self._base, f"a line of over {held} bytes", "resync")
        budget.adjust(-held)
        self._charged = 0

    def feed_into(self, data: bytes, out: list[Item]) -> None:
        """Like :meth:`feed`, appending to ``out`` (bytes_in is counted by the caller)."""
        if self.failed is not None:
            self.stats.dropped_bytes += len(data)
        elif self._dropping:
            self._skip_payload(data, out)
        elif self._http is not None:
            self._http.feed(data, out)
        elif self._pending is not None:
            self._feed_payload(data, out)
        else:
            self._feed_lines(data, out)

    # -- payload of a command split across chunks ---------------------------------

    def _feed_payload(self, data: bytes, out: list[Item]) -> None:
        verb, trid, args, line, offset, head, need, *raw = self._pending  # type: ignore[misc]
        self._payload += data
        if len(self._payload) < need:
            if self.budget is not None:
                self.account(out)
            return
        joined = bytes(self._payload)
        self._payload, self._pending = bytearray(), None
        self._emit(out, verb, trid, args, line, offset, head, joined[:need], *raw)
        self._base = offset + head + need
        self._feed_lines(joined[need:], out)

    def _skip_payload(self, data: bytes, out: list[Item]) -> None:
        """The rest of a payload dropped over the budget: skipped, then lines again."""
        _, _, _, _, offset, head, need, *_ = self._pending  # type: ignore[misc]
        missing = need - self._got
        if len(data) < missing:
            self._got += len(data)
            self.stats.skipped_bytes += len(data)
            return
        self.stats.skipped_bytes += missing
        self._pending, self._dropping, self._got = None, False, 0
        self._base = offset + head + need
        self._feed_lines(data[missing:], out)

    # -- command lines --------------------------------------------------------------

    def _feed_lines(self, data: bytes, out: list[Item], pos: int = 0) -> None:
        """Parse command lines of ``data`` from ``pos`` on (``pos`` > 0: resuming after
        a caller parsed the lines before it; nothing is left over then)."""
        if self._rest:
            if data.find(b"\n") < 0 and len(self._rest) + len(data) <= self.max_line:
                self._rest += data  # still no line end: append in amortised O(1)
                return
            data = bytes(self._rest) + data
            self._rest = bytearray()
        base = self._base
        size = len(data)
        find = data.find
        while pos < size:  # (a search from the end finds nothing: bytes.find is not cheap)
            if not self._skip_line:
                if _scan_lines is not None and type(data) is bytes:
                    # the same in C (a pure function of the state passed in), which also
                    # syncs on a command line of a known verb (what _line does then)
                    pos, commands, payload_bytes, self._synced, pending = _scan_lines(
                        data, pos, base, self._synced, self.max_line, self.max_payload,
                        base + self.offset_shift, self.envelope, out)
                    if commands:
                        stats = self.stats
                        stats.commands += commands
                        stats.payload_bytes += payload_bytes
                    if pending is not None:
                        self._await_payload(pending, data[pos:], out)
                        return
                elif self._synced:
                    pos = self._fast_lines(data, pos, base, out)
                if pos < 0:  # waiting for a payload
                    return
            eol = find(b"\r\n", pos)
            if eol < 0:
                break
            pos = self._slow_line(data, pos, eol, base, out)
            if pos < 0:  # waiting for a payload, or handed over to the HTTP framer
                return
            if self.failed is not None:
                self.stats.dropped_bytes += len(data) - pos
                return
        if pos == size and not self._skip_line:
            self._base = base + pos  # nothing left over (what _keep_tail does then)
        else:
            self._keep_tail(data, pos, base, out)

    def _fast_lines(self, data: bytes, pos: int, base: int, out: list[Item]) -> int:
        """Parse the well-formed lines from ``pos`` on; return where the first other one starts.

        The common case, kept in one loop without calls: a synced stream, UTF-8 lines
        with a known verb. Anything else (an empty, over-long, undecodable or unknown
        line, a payload too large, no line end) stops the loop and is left to the general
        path. -1: a command waits for the rest of its payload (as in :meth:`_command`).
        """
        find = data.find
        size = len(data)
        max_line = self.max_line
        max_payload = self.max_payload
        shift = base + self.offset_shift
        envelope = self.envelope
        append = out.append
        commands = payload_bytes = 0
        numbers = _NUMBERS
        while pos < size:
            eol = find(b"\r\n", pos)
            if eol <= pos or eol - pos > max_line:  # no line end, empty or over-long line
                break
            try:
                text = data[pos:eol].decode()
            except UnicodeDecodeError:
                break
            parts = text.split()
            rule = _FAST_VERBS.get(parts[0]) if parts else None
            if rule is None:
                break
            trid_ok, minimum, no_trid_low, no_trid_high = rule
            nargs = len(parts) - 1
            trid = None
            if trid_ok and nargs and not no_trid_low <= nargs <= no_trid_high:
                word = parts[1]
                trid = numbers.get(word)
                if trid is None and word.isdigit() and len(word) <= 10 and word.isascii():
                    trid = _number(word)
            need = 0
            if nargs >= minimum:
                word = parts[-1]
                known = numbers.get(word)
                need = _length(word) if known is None else known
            start = eol + 2
            if need > max_payload:
                break  # an error: the general path
            args = tuple(parts[2:] if trid is not None else parts[1:])
            if start + need > size:  # the payload is still to come
                pos = self._await_payload(
                    (parts[0], trid, args, text, base + pos, start - pos, need), data[start:],
                    out)
                break
            commands += 1
            payload_bytes += need
            append(Command(parts[0], trid, args, need, data[start : start + need] if need else b"",
                           shift + pos, start - pos + need, text, envelope))
            pos = start + need
        if commands:
            stats = self.stats
            stats.commands += commands
            stats.payload_bytes += payload_bytes
        return pos

    def _slow_line(self, data: bytes, pos: int, eol: int, base: int, out: list[Item]) -> int:
        """Every other line: skipping, over-long, unsynced, undecodable, unknown verbs."""
        if self._skip_line:
            self._skip_line = False
            self.stats.skipped_bytes += eol + 2 - pos
            return eol + 2
        if eol - pos > self.max_line:
            self._error(out, "line_too_long", base + pos, f"{eol - pos} bytes", "resync")
            return eol + 2
        return self._line(data, pos, eol, base, out)

    def _keep_tail(self, data: bytes, pos: int, base: int, out: list[Item]) -> None:
        tail = len(data) - pos
        if self._skip_line:
            self.stats.skipped_bytes += tail - (1 if data.endswith(b"\r") else 0)
            pos = len(data) - 1 if data.endswith(b"\r") else len(data)
        elif tail > self.max_line:
            self._error(out, "line_too_long", base + pos, f"over {self.max_line} bytes", "resync")
            self._skip_line = True
            keep_cr = data.endswith(b"\r")
            self.stats.skipped_bytes += tail - (1 if keep_cr else 0)
            pos = len(data) - 1 if keep_cr else len(data)
        if pos < len(data):  # else _rest is already empty (_feed_lines emptied it)
            self._rest = bytearray(data[pos:])
        self._base = base + pos
        if self.budget is not None:
            self.account(out)

    def _line(self, data: bytes, pos: int, eol: int, base: int, out: list[Item]) -> int:
        """Handle the line data[pos:eol]; return where the next line starts, or -1."""
        if eol == pos:
            return eol + 2
        raw: bytes | None = data[pos:eol]
        try:
            text = raw.decode("utf-8")  # type: ignore[union-attr]
            raw = None
        except UnicodeDecodeError:  # kept losslessly: escaped in text, the bytes in raw
            text = raw.decode("utf-8", "backslashreplace")  # type: ignore[union-attr]
            self.stats.decode_errors += 1
        parts = text.split()
        verb = parts[0] if parts else ""
        if not self._synced:
            if self._allow_http and _HTTP_START.fullmatch(data, pos, eol):
                self._start_http(data, pos, base, out)
                return -1
            if not (is_verb(verb) and (verb in KNOWN_VERBS or verb.isdigit())):
                self.stats.skipped_bytes += eol + 2 - pos
                return eol + 2
            self._synced = True
        elif not is_verb(verb):
            self._error(out, "invalid_line", base + pos, text[:80], "skipped")
            return eol + 2
        return self._command(data, verb, parts, text, pos, eol, base, out, raw)

    def _command(
        self,
        data: bytes,
        verb: str,
        parts: list[str],
        text: str,
        pos: int,
        eol: int,
        base: int,
        out: list[Item],
        raw: bytes | None = None,
    ) -> int:
        nargs = len(parts) - 1
        trid = None
        if takes_trid(verb, nargs):
            trid = _trid(parts[1])
        args = tuple(parts[2:] if trid is not None else parts[1:])
        need = 0
        minimum = PAYLOAD_MIN_ARGS.get(verb)
        if (minimum is not None and nargs >= minimum) or (verb.isdigit() and nargs >= 2):
            need = _length(parts[-1])
        head = eol + 2 - pos
        if need > self.max_payload:
            self._error(
                out, "payload_too_large", base + pos, f"{verb} declares {need} bytes", "resync"
            )
            self._synced = False
            return eol + 2
        if need == 0:
            self._emit(out, verb, trid, args, text, base + pos, head, b"", raw)
            return eol + 2
        start = eol + 2
        if start + need <= len(data):
            self._emit(out, verb, trid, args, text, base + pos, head,
                       data[start : start + need], raw)
            return start + need
        pending = (verb, trid, args, text, base + pos, head, need)
        return self._await_payload(pending if raw is None else (*pending, raw), data[start:],
                                   out)

    def _await_payload(self, pending: tuple, received: bytes, out: list[Item]) -> int:
        """Hold a command until its payload is complete; -1 (the feed loops stop on it).
        """
        self._pending = pending
        self._payload = bytearray(received)
        if self.budget is not None:
            self.account(out)
        return -1

    def _emit(
        self,
        out: list[Item],
        verb: str,
        trid: int | None,
        args: tuple[str, ...],
        line: str,
        offset: int,
        head: int,
        payload: bytes,
        raw: bytes | None = None,
    ) -> None:
        n = len(payload)
        self.stats.commands += 1
        self.stats.payload_bytes += n
        out.append(
            Command(
                verb,
                trid,
                args,
                n,
                payload,
                offset + self.offset_shift,
                head + n,
                line,
                self.envelope,
                raw,
            )
        )

    # -- errors and gateway mode ----------------------------------------------------

    def _error(self, out: list[Item], kind: str, offset: int, detail: str, action: str) -> None:
        counter = _COUNTERS[kind]
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        out.append(ParseError(kind, offset + self.offset_shift, detail, action))
        if self.stats.errors >= self.max_errors:
            self.give_up(out, offset, f"{self.stats.errors} errors")

    def give_up(self, out: list[Item], offset: int, reason: str) -> None:
        """Stop parsing this stream for good; later bytes are only counted as dropped."""
        if self.failed is None:
            self.failed = reason
            out.append(ParseError("too_many_errors", offset + self.offset_shift, reason, "dropped"))
            self._rest, self._payload, self._pending = bytearray(), bytearray(), None
            self._dropping = False

    def _start_http(self, data: bytes, pos: int, base: int, out: list[Item]) -> None:
        inner = MsnpStreamParser(
            max_line=self.max_line,
            max_payload=self.max_payload,
            max_errors=self.max_errors,
            allow_http=False,
        )
        inner.stats = self.stats
        self._http = HttpGatewayFramer(self, inner, base + pos)
        self._http.feed(data[pos:], out)
