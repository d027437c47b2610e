"""The monitor engine: a consumer of the packet pipeline, MSNP events out, for flows of
one application.

Per TCP flow: the first packet asks the resolver who owns the flow (live: the
executable found while that packet is held; replay: the ``--app-hint``). Only
flows of the monitored application get a :class:`FlowContext`; the others are
remembered as ignored and never reassembled or parsed. The pipeline
(:class:`providers.packets.Pipeline`) owns the flow table and the reassembler: the
monitor is a selective stream consumer, turning a flow's ``follow`` flag on while
its context wants the bytes. A monitored flow is recognised as MSNP by port 1863,
by a server address learned from XFR/RNG, or by content, and parsed incrementally.
The engine only observes: it never holds, drops or edits a packet (the live source
accepts every packet itself).

Secrets are redacted here, before any event is written, so no sink ever sees them:
tickets, cookies and other authentication material (unless ``capture_secrets``) and
message bodies (unless ``capture_bodies``) become keyed-hash tokens of the
:class:`tracer.Redactor`, equal values giving equal tokens.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from providers.msnp import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_ERRORS,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_PAYLOAD,
    SECRET_VERBS,
    AddressBook,
    BufferBudget,
    Command,
    MsnpStreamParser,
    ParseError,
    Role,
    Sniff,
    StreamRedactor,
    legacy_class,
    legacy_trace,
    parse_msg,
    secret_args,
)
from providers.msnp._accel import CPARSER
from providers.msnp._parser import FRAMER
from providers.msnp._verbs import KNOWN_VERBS  # not (yet) part of providers.msnp's surface
from providers.packets import TCP_SYN, Direction, Flow, Packet
from tracer import Redactor, redaction_header

from ._context import DIRECTIONS, RECEIVED, SENT, FlowContext, StreamState
from ._events import (
    ALL_TRAFFIC,
    COMMAND,
    FLOW_CLOSED,
    FLOW_ESTABLISHED,
    FLOW_OVER_LIMIT,
    LEGACY_ANY,
    LEGACY_BY_CLASS,
    MESSAGE,
    PROVIDER,
    TRANSACTION,
    UNKNOWN_COMMAND,
)
from ._identity import AppIdentity
from ._ledger import SessionLedger
from ._stats import MonitorStats

__all__ = ["LEGACY_CLASSES", "PENDING", "MsnMonitor", "Resolver"]

#: A resolver's answer meaning "cannot tell yet, ask again on the flow's next packet".
PENDING = AppIdentity("<pending>")
#: Who owns the flow of this packet (``outbound``: sent by the local side, if known)?
#: An identity to monitor the flow, None to ignore it, or PENDING.
Resolver = Callable[[Packet, "bool | None"], "AppIdentity | None"]

_KEY = "msnmon"
_IGNORED = "ignored"
_MAX_TRIES = 8
_MSNP_PORT = 1863
_SECOND = 1_000_000_000
#: Enum members as plain module globals: in the per-packet and per-command paths,
#: ``StreamState.MSNP`` (a class attribute lookup through the enum machinery) costs
#: several times more.
_SNIFFING, _MSNP, _NOT_MSNP, _DROPPED = (StreamState.SNIFFING, StreamState.MSNP,
                                         StreamState.NOT_MSNP, StreamState.DROPPED)
_SWITCHBOARD, _DIRECT, _UNKNOWN = Role.SWITCHBOARD, Role.DIRECT, Role.UNKNOWN
#: Most Command and Transaction events of a flow held back while its role is unknown
#: (a dispatch or notification handshake is decided by the server's answer to USR), and
#: for at most this long in packet time: a live view never waits long for them.
MAX_HELD = 16
MAX_HELD_NS = 2 * 1_000_000_000
_FEEDING = (_SNIFFING, _MSNP)
#: Verbs the session ledger needs (besides numeric errors); MSG is counted inline.
_LEDGER_VERBS = frozenset({"VER", "USR", "XFR", "RNG", "JOI", "IRO", "ANS"})
#: A MSG payload the address book learns from (an invitation or a P2P message); one
#: regular expression search is cheaper than two ``in`` tests on bytes.
_LEARNS_ADDRESSES = re.compile(rb"x-ms(?:msgsinvite|nmsgrp2p)").search
#: What precedes stream content quoted in a parse error's detail or a parser's reason.
_QUOTING = "not an HTTP message: "
#: verb -> the original's verb-table class (bounded: a verb is three upper-case letters
#: or digits).
LEGACY_CLASSES: dict[str, str] = {}
#: A Command event's list of arguments (in C: a list the garbage collector does not walk).
_arg_list: Callable[[tuple[str, ...]], list[str]] = CPARSER.arg_list if CPARSER else list
#: Most (verb, arguments) whose secret arguments a monitor remembers.
_SECRET_MEMO = 1024
#: What the monitor does with a command besides writing it, by verb (see _verb_rule).
_PLAIN, _MESSAGE, _LEDGER, _REDIRECT, _UNKNOWN_VERB = range(5)
#: verb -> (legacy class, what to do, may hold secrets): decided once per verb, so that
#: a command costs one dictionary read (bounded like LEGACY_CLASSES).
_VERB_RULES: dict[str, tuple[str, int, bool]] = {}


def _verb_rule(verb: str) -> tuple[str, int, bool]:
    """Decide (and remember) a verb's rule: its legacy class; MSG (counted, maybe parsed),
    a verb the ledger needs (XFR and RNG also teach the address book), an unknown verb
    (reported), or nothing more; whether its arguments can hold secrets."""
    if verb == "MSG":
        kind = _MESSAGE
    elif verb == "XFR" or verb == "RNG":
        kind = _REDIRECT
    elif verb in _LEDGER_VERBS or verb.isdigit():
        kind = _LEDGER
    elif verb not in KNOWN_VERBS:
        kind = _UNKNOWN_VERB
    else:
        kind = _PLAIN
    legacy = LEGACY_CLASSES.get(verb)
    if legacy is None:
        legacy = LEGACY_CLASSES[verb] = legacy_class(verb).value
    rule = _VERB_RULES[verb] = (legacy, kind, verb in SECRET_VERBS)
    return rule


class MsnMonitor:
    """A packet and stream consumer of :class:`providers.packets.Pipeline`.

    ``enabled`` is the global "monitoring enabled" flag of the original driver:
    while it is False, packets are only counted. ``sided``: the pipeline's packet
    directions come from the source (live), so they tell which side is local;
    otherwise (replay) the MSNP client is taken to be local.
    """

    provider = PROVIDER
    #: Only flows whose ``follow`` flag the monitor turns on are reassembled.
    selective_streams = True
    #: The MSNP framing a compiled packet stage may run for a lent direction (the C
    #: ``scan_lines``, configured with the verb rules of ``providers.msnp``, and the
    #: payload rule), or None.
    framer = FRAMER

    def __init__(self, resolver: Resolver | None = None, *, app_hint: str | None = None,
                 capture_bodies: bool = False, enabled: bool = True,
                 max_line: int = DEFAULT_MAX_LINE, max_payload: int = DEFAULT_MAX_PAYLOAD,
                 max_errors: int = DEFAULT_MAX_ERRORS, max_contexts: int = 10_000,
                 max_buffered: int = DEFAULT_BUDGET, sided: bool = False,
                 capture_secrets: bool = False, redactor: Redactor | None = None) -> None:
        hint = AppIdentity(app_hint or "unknown")
        self.resolver: Resolver = resolver or (lambda pkt, outbound: hint)
        self.capture_bodies = capture_bodies
        self.capture_secrets = capture_secrets
        #: Makes the tokens that replace secrets (a random key per monitor by default).
        self.redactor = redactor or Redactor()
        self.enabled = enabled
        self.sided = sided
        self.stats = MonitorStats()
        self.addresses = AddressBook()
        self.ledger = SessionLedger()
        self._limits = (max_line, max_payload, max_errors)
        #: One bound for the bytes all parsers of all flows hold between chunks.
        self.budget = BufferBudget(max_buffered)
        self.max_contexts = max_contexts
        self.contexts = 0  # live flow contexts (each holds at most two bounded parsers)
        self._secrets: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}

    def log_header(self) -> dict[str, Any]:
        """Log header fields saying what this monitor redacts, and under which key."""
        return redaction_header(self.redactor, capture_secrets=self.capture_secrets,
                                capture_bodies=self.capture_bodies)

    # -- packet consumer ----------------------------------------------------------------
    def on_packet(self, pkt: Packet, flow: Flow, direction: Direction) -> bool:
        """Every decoded packet with its flow: a TCP flow's context is made on its first
        packet (and the flow followed while the context wants its bytes). True once the
        flow's later packets would change nothing but :meth:`count_packets` (while
        monitoring is enabled: a compiled packet stage then only counts them)."""
        stats = self.stats
        stats.packets += 1
        if not self.enabled:
            stats.packets_disabled += 1
            flow.follow = False
            return False
        if pkt.proto != 6:
            return True
        state = flow.user.get(_KEY)
        if type(state) is not FlowContext:
            if state == _IGNORED:
                return True
            outbound = (direction == Direction.OUT) if self.sided else None
            state = self.observe(pkt, flow, outbound)
            if state is None:
                return flow.user.get(_KEY) == _IGNORED
        if state.state in _FEEDING or LEGACY_ANY.on:  # (the original traced every chunk)
            flow.follow = True  # (it stays on until the monitor turns it off)
        return True

    def count_packets(self, n: int) -> None:
        """``n`` more packets of flows :meth:`on_packet` said only need counting."""
        self.stats.packets += n

    def on_flow_end(self, flow: Flow, reason: str) -> None:
        """The pipeline ended a flow (its streams were flushed just before)."""
        ctx = flow.user.get(_KEY)
        if type(ctx) is not FlowContext:
            return
        self.contexts -= 1
        flow.user[_KEY] = _IGNORED
        if ctx.state is _SNIFFING:
            ctx.take_sniffed()
        for parser in ctx.parsers:
            parser.release()
        if ctx.held is not None:
            self._release_held(ctx, ctx.role)
        if not ctx.announced:
            return
        self.ledger.close(ctx, flow.last_ns)
        if FLOW_CLOSED.enabled:
            FLOW_CLOSED.write(flow.last_ns, ctx.flow_id, reason, ctx.commands, ctx.errors,
                              ctx.bytes[SENT], ctx.bytes[RECEIVED], ctx.dropped or None,
                              ctx.role._value_)

    def close(self) -> None:
        """End of the capture or of the monitoring session (the pipeline ended the flows)."""

    # -- flow establishment -------------------------------------------------------------
    def observe(self, pkt: Packet, flow: Flow, outbound: bool | None = None
                ) -> FlowContext | None:
        """A TCP packet of ``flow``: the flow's context, made on its first packet, or None."""
        state = flow.user.get(_KEY)
        if state is None or type(state) is int:
            state = self._resolve(flow, pkt, outbound, state)
        return state if type(state) is FlowContext else None

    def _resolve(self, flow: Flow, pkt: Packet, outbound: bool | None,
                 tries: int | None) -> FlowContext | str | int:
        if tries is None:
            self.stats.flows_seen += 1
        identity = self.resolver(pkt, outbound)
        if identity is PENDING and (tries or 0) < _MAX_TRIES:
            flow.user[_KEY] = (tries or 0) + 1
            return flow.user[_KEY]
        if identity is None or identity is PENDING:
            self.stats.flows_ignored += 1
            flow.user[_KEY] = _IGNORED
            return _IGNORED
        if self.contexts >= self.max_contexts:
            self.stats.flows_over_limit += 1
            flow.user[_KEY] = _IGNORED
            if FLOW_OVER_LIMIT.enabled:  # (source: the side that opened the flow)
                (sip, sport), (dip, dport) = flow.endpoint(0), flow.endpoint(1)
                direction = "egress" if self._orient(flow, pkt, outbound) == 0 else "ingress"
                FLOW_OVER_LIMIT.write(pkt.ts_ns, flow.id, "tcp", sip, sport, dip, dport,
                                      direction, self.max_contexts,
                                      self.stats.flows_over_limit)
            return _IGNORED
        ctx = self._context(flow, pkt, identity, outbound)
        self.contexts += 1
        flow.user[_KEY] = ctx
        return ctx

    def _orient(self, flow: Flow, pkt: Packet, outbound: bool | None) -> int:
        """Which side (0: initiator) is local: told by the source, else the MSNP client."""
        side = flow.side_of(pkt)
        if outbound is not None:
            return side if outbound else 1 - side
        p0, p1 = flow.ports
        initiator_is_server = p0 == _MSNP_PORT and p1 != _MSNP_PORT
        if not pkt.flags & TCP_SYN and not initiator_is_server:
            host0 = pkt.src_str if side == 0 else pkt.dst_str
            initiator_is_server = self.addresses.lookup(host0, p0) is not None
        return 1 if initiator_is_server else 0

    def _context(self, flow: Flow, pkt: Packet, identity: AppIdentity,
                 outbound: bool | None) -> FlowContext:
        local_side = self._orient(flow, pkt, outbound)
        local, remote = flow.endpoint(local_side), flow.endpoint(1 - local_side)
        hint = self.addresses.role_of(*remote)
        ctx = FlowContext(flow, identity, local_side, local, remote, flow.first_ns,
                          bool(pkt.flags & TCP_SYN), hint, *self._limits, self.budget)
        msnp = hint is not None or remote[1] == _MSNP_PORT
        if msnp:
            ctx.state = _MSNP
        self.ledger.attach(ctx)
        if msnp or identity.attributed:
            self._announce(ctx)
        return ctx

    def _announce(self, ctx: FlowContext) -> None:
        ctx.announced = True
        self.stats.flows_monitored += 1
        if FLOW_ESTABLISHED.enabled:
            # the source opened the flow: side 0 if its SYN was seen, else (joined
            # mid-session) the monitored client, which opens its MSN connections
            outbound = ctx.local_side == 0 or not ctx.from_start
            (sip, sport), (dip, dport) = ((ctx.local, ctx.remote) if outbound
                                          else (ctx.remote, ctx.local))
            FLOW_ESTABLISHED.write(ctx.start_ns, ctx.flow_id, "tcp", sip, sport, dip, dport,
                                   "egress" if outbound else "ingress", ctx.identity.path,
                                   ctx.identity.pid, not ctx.from_start)

    # -- stream consumer (called by the reassembler) ------------------------------------
    def on_data(self, flow: Flow, side: int, data: bytes) -> tuple | None:
        """Ordered bytes of one direction of a flow (ignored unless it has a context).

        Returns a loan of the direction's parser state when a compiled packet stage may
        frame what follows itself (see :meth:`on_framed`), else None."""
        ctx = flow.user.get(_KEY)
        if type(ctx) is not FlowContext:
            return None
        direction = SENT if side == ctx.local_side else RECEIVED
        ctx.bytes[direction] += len(data)
        self.stats.stream_bytes += len(data)
        if LEGACY_ANY.on:  # every printable chunk of the application's flows, MSNP or not
            self._legacy(ctx, direction, data, flow.last_ns)
        state = ctx.state
        if state is _MSNP:
            self._chunk(ctx, direction, data, flow.last_ns)
        elif state is _SNIFFING:
            self._sniff(ctx, direction, data, flow.last_ns)
        return self._loan(ctx, direction)

    def lend(self, flow: Flow, side: int) -> tuple | None:
        """A compiled packet stage asks before handing a direction's bytes to
        :meth:`on_data`: a loan (see :meth:`_loan`) lets it frame them itself, a stream's
        first chunk included (:meth:`on_framed` then counts them). Changes nothing."""
        ctx = flow.user.get(_KEY)
        if type(ctx) is not FlowContext or ctx.state is not _MSNP:
            return None
        return self._loan(ctx, SENT if side == ctx.local_side else RECEIVED)

    def _loan(self, ctx: FlowContext, direction: int) -> tuple | None:
        """A loan of a direction's parser state to a compiled packet stage: (synced,
        offset, max_line, max_payload, resume, hold, charge), when the parser holds
        nothing and the monitor would only parse and count (an MSNP flow, no legacy
        tracing). The stage holds cut lines and partial payloads itself and charges them
        to the shared budget through ``charge`` (its ``adjust``), as the parser would."""
        if ctx.state is not _MSNP or LEGACY_ANY.on:
            return None
        parser = ctx.parsers[direction]
        cursor = parser.lend()
        if cursor is None:
            return None

        def resume(synced: bool, base: int, rest: bytes | None, pending: tuple | None,
                   payload: bytes | None, nbytes: int, commands: int, payload_bytes: int,
                   leftover: bytes | None, ts: int, charged: int = 0,
                   overdrawn: bool = False) -> tuple | None:
            """The stage gives the state back; ``leftover``: bytes it did not frame (the
            chunk's rest, already counted), for the parser's general path; ``charged``:
            what it had charged to the budget for the state; ``overdrawn``: that charge's
            growth overdrew the budget (the parser drops what it holds)."""
            parser.resume(synced, base, rest, pending, payload, nbytes, commands,
                          payload_bytes, charged)
            if not (leftover or overdrawn or charged) and rest is None and pending is None:
                return None  # (nothing held nor charged: account() would change nothing)
            out: list = []
            if overdrawn:
                parser.drop_held(out)
            if leftover:
                parser.feed_into(leftover, out)
            parser.account(out)  # (what feed does at the chunk's end)
            if out or parser.failed is not None:
                self._items(ctx, direction, parser, out, ts)
            return self._loan(ctx, direction) if leftover else None

        budget = parser.budget
        return (*cursor, parser.max_line, parser.max_payload, resume, True,
                budget.adjust if budget is not None else None)

    def on_framed(self, batch: list[tuple[Any, int, int, int, list]]) -> None:
        """Chunks a compiled packet stage framed for lent directions, in order: (flow,
        side, time, bytes, commands), as :meth:`on_data` would have handled them."""
        stats = self.stats
        command = self._command
        for flow, side, ts, nbytes, items in batch:
            ctx = flow.user[_KEY]
            direction = SENT if side == ctx.local_side else RECEIVED
            ctx.bytes[direction] += nbytes
            stats.stream_bytes += nbytes
            if items:
                for cmd in items:
                    command(ctx, cmd, direction, ts)
                n = len(items)
                stats.commands += n
                ctx.commands += n

    def on_gap(self, flow: Flow, side: int, nbytes: int) -> None:
        """Bytes lost in one direction: restart that direction's parser (it resyncs)."""
        ctx = flow.user.get(_KEY)
        if type(ctx) is not FlowContext:
            return
        direction = SENT if side == ctx.local_side else RECEIVED
        self.stats.gap_bytes += nbytes
        if ctx.state is _MSNP:
            parsers = list(ctx.parsers)
            max_line, max_payload, max_errors = self._limits
            parsers[direction].release()
            parsers[direction] = MsnpStreamParser(max_line=max_line, max_payload=max_payload,
                                                  max_errors=max_errors, budget=self.budget)
            ctx.parsers = (parsers[0], parsers[1])
            ctx.redactors = None  # (their state is lost with the bytes)
            self._report(ctx, direction, flow.last_ns, "", "gap", f"{nbytes} bytes lost",
                         "resync", -1)

    def on_end(self, flow: Flow, side: int, reason: str) -> None:
        """One direction ended (FIN, RST or flow close); the flow end is handled later."""

    def _sniff(self, ctx: FlowContext, direction: int, data: bytes, ts: int) -> None:
        verdict = ctx.keep_for_sniff(direction, data, ts)
        budget = self.budget
        if budget.used > budget.capacity and verdict is Sniff.NEED_MORE:
            # the chunks kept to judge the flow count against the budget too: over it,
            # the flow is given up before it is judged (counted and traced as a drop)
            budget.drops += 1
            budget.dropped_bytes += sum(ctx.sniff_bytes)
            self.stats.budget_drops += 1
            self.stats.parse_errors += 1
            ctx.errors += 1
            self._report(ctx, direction, ts, "", "over_budget",
                         f"{sum(ctx.sniff_bytes)} bytes kept to recognise the flow",
                         "dropped", -1)
            verdict = Sniff.NOT_MSNP
        if verdict is Sniff.MSNP:
            ctx.state = StreamState.MSNP
            if not ctx.announced:
                self._announce(ctx)
            for d, chunk, t in ctx.take_sniffed():
                self._chunk(ctx, d, chunk, t)
        elif verdict is Sniff.NOT_MSNP:
            ctx.state = StreamState.NOT_MSNP
            ctx.flow.follow = LEGACY_ANY.on  # (else the pipeline closes its streams)
            ctx.dropped = "not MSNP" if budget.used <= budget.capacity else "over budget"
            ctx.take_sniffed()
            self.stats.flows_not_msnp += 1

    # -- commands -----------------------------------------------------------------------
    def _chunk(self, ctx: FlowContext, direction: int, data: bytes, ts: int) -> None:
        parser = ctx.parsers[direction]
        self._items(ctx, direction, parser, parser.feed(data), ts)

    def _items(self, ctx: FlowContext, direction: int, parser: MsnpStreamParser, items: list,
               ts: int) -> None:
        """What one chunk of a direction gave: commands, errors, a stream given up."""
        command = self._command
        commands = 0
        for item in items:
            if type(item) is Command:
                commands += 1
                command(ctx, item, direction, ts)
            elif type(item) is ParseError:
                self._parse_error(ctx, direction, item, ts)
        if commands:  # (counted per chunk: nothing reads them in between)
            self.stats.commands += commands
            ctx.commands += commands
        if parser.failed is not None:
            self._stream_failed(ctx, direction, parser)

    def _parse_error(self, ctx: FlowContext, direction: int, error: ParseError, ts: int) -> None:
        self.stats.parse_errors += 1
        if error.kind == "over_budget":
            self.stats.budget_drops += 1
        ctx.errors += 1
        detail = error.detail
        if error.kind == "invalid_line" and not self._shows_unknown:
            detail = self.redactor.token(detail)
        self._report(ctx, direction, ts, "", error.kind, self._hide_quoted(detail),
                     error.action, error.offset)

    def _stream_failed(self, ctx: FlowContext, direction: int, parser: MsnpStreamParser
                       ) -> None:
        """The parser gave up its direction: the flow is dropped (once)."""
        if ctx.state is _MSNP:
            ctx.state = _DROPPED
            ctx.flow.follow = LEGACY_ANY.on  # (else the pipeline closes its streams)
            reason = self._hide_quoted(parser.failed or "")
            ctx.dropped = f"{DIRECTIONS[direction]} stream: {reason}"
            self.stats.flows_dropped += 1

    def _legacy(self, ctx: FlowContext, direction: int, data: bytes, ts: int) -> None:
        lport, rport = ctx.legacy_ports
        redactor = self._stream_redactor(ctx, direction)
        # (every chunk goes through the redactor: it follows the stream's framing)
        shown = redactor.redact(data) if redactor is not None else data
        trace = legacy_trace(data, inbound=direction == RECEIVED, local_port=lport,
                             remote_port=rport)
        if trace is None:  # (decided on the chunk itself, as the original did)
            return
        if redactor is not None:  # what is shown: the redacted chunk, by the same rules
            trace = legacy_trace(shown, inbound=direction == RECEIVED, local_port=lport,
                                 remote_port=rport)
            if trace is None:
                return
        self.stats.legacy_chunks += 1
        name = DIRECTIONS[direction]
        if ALL_TRAFFIC.enabled:
            ALL_TRAFFIC.write(ts, ctx.flow_id, name, lport, rport, shown.decode("ascii"))
        if trace.legacy_class is None:  # a gateway chunk with nothing after its headers
            return
        event = LEGACY_BY_CLASS[trace.legacy_class.value]
        if event.enabled:
            event.write(ts, ctx.flow_id, name, lport, rport, trace.message,
                        "Received" if direction == RECEIVED else "Sent", trace.trailer)

    def _command(self, ctx: FlowContext, cmd: Command, direction: int, ts: int) -> None:
        verb = cmd.verb
        rule = _VERB_RULES.get(verb) or _verb_rule(verb)
        role = ctx.fixed_role
        if role is None:
            role = ctx.roles.observe(cmd, direction == SENT)
            if role is _SWITCHBOARD or role is _DIRECT:
                ctx.fixed_role = role  # the strongest evidence: nothing changes it later
        held = ctx.held
        if held is not None and (role is not _UNKNOWN or len(held) >= MAX_HELD
                                 or (held and ts - held[0][1][0] > MAX_HELD_NS)):
            self._release_held(ctx, role)
            held = None
        if COMMAND.enabled:
            args, raw = _arg_list(cmd.args), cmd.raw
            if rule[2] and not self.capture_secrets:
                secret = self._secrets.get((verb, cmd.args))
                if secret is None:
                    secret = self._secret_args(verb, cmd.args)
                if secret:
                    token = self.redactor.token
                    for i in secret:
                        args[i] = token(args[i])
                    raw = None  # (the line's bytes hold the secret too)
            if held is None:
                COMMAND.write(ts, ctx.cid or ctx.flow_id, DIRECTIONS[direction], verb, cmd.trid,
                              args, cmd.payload_len, role._value_, rule[0], cmd.offset, raw)
            else:
                held.append((COMMAND, (ts, ctx.flow_id, DIRECTIONS[direction], verb, cmd.trid,
                                       args, cmd.payload_len, role._value_, rule[0],
                                       cmd.offset, raw), 7))
        kind = rule[1]
        if kind == _MESSAGE:
            self.stats.messages += 1
            ctx.messages += 1
            if MESSAGE.enabled or _LEARNS_ADDRESSES(cmd.payload) is not None:
                content = parse_msg(cmd)
                self._message(ctx, cmd, content, direction, ts)
                self.addresses.observe(cmd, content)
        elif kind:
            if kind == _REDIRECT:
                self.addresses.observe(cmd)
            if kind == _UNKNOWN_VERB:
                self.stats.unknown_verbs += 1
                self._report(ctx, direction, ts, verb, "unknown_verb", self._unknown_line(cmd),
                             "parsed", cmd.offset)
            else:
                self.ledger.observe(ctx, cmd, direction, ts)
        if cmd.trid is not None:
            tx = ctx.transactions.observe(cmd, direction == SENT, ts / _SECOND)
            if tx is not None:
                self.stats.transactions += 1
                if TRANSACTION.enabled:
                    tx_fields = (ts, ctx.cid or ctx.flow_id, tx.trid, tx.request.verb,
                                 tx.reply.verb, round(tx.latency * 1e6), tx.error,
                                 role._value_)
                    if held is None:
                        TRANSACTION.write(*tx_fields)
                    else:
                        held.append((TRANSACTION, tx_fields, 7))

    @staticmethod
    def _release_held(ctx: FlowContext, role: Role) -> None:
        """Write the events held while the flow's role was unknown, with ``role``: the
        role their commands turned out to have (or, at the flow's end, the last guess)."""
        held, ctx.held = ctx.held, None
        value = role._value_  # (not .value: a descriptor call)
        for event, fields, at in held or ():
            if event.enabled:
                event.write(*fields[:at], value, *fields[at + 1:])

    def _message(self, ctx: FlowContext, cmd: Command, content, direction: int,
                 ts: int) -> None:
        if not MESSAGE.enabled:
            return
        body = content.body
        sender = content.sender or (ctx.user if direction == SENT else None)
        bodies = self.capture_bodies
        MESSAGE.write(ts, ctx.flow_id, DIRECTIONS[direction], cmd.trid, content.content_type,
                      content.kind, sender, content.sender_name, content.typing_user,
                      content.text if bodies else None, len(body),
                      hashlib.sha256(body).hexdigest() if bodies else None,
                      body if bodies else None, self.redactor.token(body))

    # -- redaction ----------------------------------------------------------------------
    def _secret_args(self, verb: str, args: tuple[str, ...]) -> tuple[int, ...]:
        """Which of a command's arguments hold secrets, remembered per (verb, arguments):
        a switchboard's or a login's lines recur, and the decision takes regular
        expressions (the table is emptied when full; it lives as long as the monitor)."""
        memo = self._secrets
        if len(memo) >= _SECRET_MEMO:
            memo.clear()
        found = memo[(verb, args)] = secret_args(verb, args)
        return found

    @property
    def _shows_unknown(self) -> bool:
        """Content of unknown meaning (an unknown verb's arguments, a line that is no
        command) may be a secret or a body: shown only when both are captured."""
        return self.capture_secrets and self.capture_bodies

    def _hide_quoted(self, text: str) -> str:
        """A parser's detail or reason with the stream content it quotes as a token."""
        head, quoted, data = text.partition(_QUOTING)
        if not quoted or self._shows_unknown:
            return text
        return head + quoted + self.redactor.token(data)

    def _unknown_line(self, cmd: Command) -> str:
        """An unknown command's line: its arguments may be anything, so only the verb and
        TrID are kept unless secrets and bodies are captured."""
        line = cmd.line[:80]
        if self._shows_unknown or not cmd.args:
            return line
        head = cmd.verb if cmd.trid is None else f"{cmd.verb} {cmd.trid}"
        return f"{head} {self.redactor.token(' '.join(cmd.args))}"

    def _stream_redactor(self, ctx: FlowContext, direction: int) -> StreamRedactor | None:
        """The direction's chunk redactor, flags kept current; None if nothing is hidden."""
        if ctx.redactors is None:
            token, limit = self.redactor.token, self._limits[1]
            ctx.redactors = [StreamRedactor(token, max_payload=limit),
                             StreamRedactor(token, max_payload=limit)]
        redactor = ctx.redactors[direction]
        redactor.secrets = not self.capture_secrets
        redactor.bodies = not self.capture_bodies
        return redactor if redactor.secrets or redactor.bodies else None

    def _report(self, ctx: FlowContext, direction: int, ts: int, verb: str, kind: str,
                detail: str, action: str, offset: int) -> None:
        if UNKNOWN_COMMAND.enabled:
            UNKNOWN_COMMAND.write(ts, ctx.flow_id, DIRECTIONS[direction], verb, kind, detail,
                                  action, offset)
