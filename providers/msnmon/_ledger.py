"""Login and switchboard session summaries, joined across flows.

A login may start at a dispatch server that redirects (``XFR trid NS host:port``)
to a notification server; a switchboard session starts with ``XFR trid SB`` or
``RNG`` on the notification flow and continues on a new flow to the announced
address. The ledger remembers announced endpoints (bounded) so the flow that
connects there inherits the redirect chain, start time and earlier flow ids.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from providers.msnp import Command, Role, split_host_port

from ._context import SENT, FlowContext
from ._events import LOGIN, SWITCHBOARD

__all__ = ["SessionLedger"]

_AUTH = frozenset({"TWN", "MD5", "SSO", "SHA"})


@dataclass(frozen=True, slots=True)
class _Announced:
    kind: str  # "NS" (login redirect) or "SB" (switchboard)
    start_ns: int
    flow_ids: tuple[str, ...]
    redirects: tuple[str, ...]
    user: str | None
    user_raw: bytes | None
    dialect: str | None


class SessionLedger:
    """Emits ``Login`` and ``Switchboard`` summaries from the commands of all flows."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._announced: OrderedDict[tuple, _Announced] = OrderedDict()

    def attach(self, ctx: FlowContext, cookie: str | None = None) -> None:
        """Give a flow what was announced for its remote endpoint (and cookie), if anything.

        Redirects to a notification server are joined when the flow starts; a
        switchboard flow is joined by the cookie its client presents (USR or ANS).
        """
        found = self._announced.pop((ctx.remote, cookie), None)
        if found is None:
            return
        ctx.session_start_ns = min(ctx.session_start_ns, found.start_ns)
        ctx.flow_ids = list(found.flow_ids)
        ctx.redirects = list(found.redirects)
        if ctx.user is None:
            ctx.user, ctx.user_raw = found.user, found.user_raw
        ctx.dialect = ctx.dialect or found.dialect

    def observe(self, ctx: FlowContext, cmd: Command, direction: int, ts_ns: int) -> None:
        """Take one command of a flow into account."""
        verb, args = cmd.verb, cmd.args
        if verb == "VER" and args and (direction != SENT or not ctx.dialect):
            ctx.dialect = args[0]
        if direction == SENT:
            self._client(ctx, cmd)
        elif verb == "XFR" and len(args) >= 2 and args[0] in ("NS", "SB"):
            self._announce(ctx, args[0], args, ts_ns)
        elif verb == "RNG" and len(args) >= 2:
            self._announce(ctx, "SB", args, ts_ns)
        elif verb == "USR" and args[:1] == ("OK",) and len(args) >= 2:
            if ctx.user is None:
                _set_user(ctx, cmd, 1)
            if ctx.role is not Role.SWITCHBOARD:
                self._login(ctx, "ok", ts_ns)
        elif cmd.is_error and cmd.trid in ctx.usr_trids:
            self._login(ctx, f"error {verb}", ts_ns)
        elif verb == "JOI" and args:
            ctx.participants[args[0]] = None
        elif verb == "IRO" and len(args) >= 3:
            ctx.participants[args[2]] = None

    def _client(self, ctx: FlowContext, cmd: Command) -> None:
        args = cmd.args
        if cmd.verb == "USR":
            if args[:1] and args[0] in _AUTH and len(args) >= 3 and args[1] == "I":
                _set_user(ctx, cmd, 2)
                if cmd.trid is not None:
                    ctx.usr_trids.add(cmd.trid)
            elif len(args) == 2 and "@" in args[0]:
                _set_user(ctx, cmd, 0)
                self.attach(ctx, args[1])
        elif cmd.verb == "ANS" and len(args) >= 2:
            _set_user(ctx, cmd, 0)
            ctx.invited = True
            self.attach(ctx, args[1])

    def _announce(self, ctx: FlowContext, kind: str, args: tuple[str, ...], ts_ns: int) -> None:
        endpoint = split_host_port(args[1])
        cookie = args[3] if kind == "SB" and len(args) >= 4 else None
        if endpoint is None:
            return
        if kind == "NS":
            ctx.login_done = True  # the login goes on at the next server
        redirects = (*ctx.redirects, ctx.server) if kind == "NS" else ()
        start = ctx.session_start_ns if kind == "NS" else ts_ns
        key = (endpoint, cookie)
        flow_ids = (*ctx.flow_ids, ctx.flow_id) if kind == "NS" else (ctx.flow_id,)
        ns = kind == "NS"
        self._announced[key] = _Announced(kind, start, flow_ids, redirects,
                                          ctx.user if ns else None,
                                          ctx.user_raw if ns else None, ctx.dialect if ns else None)
        self._announced.move_to_end(key)
        while len(self._announced) > self.capacity:
            self._announced.popitem(last=False)

    def _login(self, ctx: FlowContext, result: str, ts_ns: int) -> None:
        if ctx.login_done:
            return
        ctx.login_done = True
        if LOGIN.enabled:
            LOGIN.write(ts_ns, ctx.flow_id, ctx.user, ctx.server, list(ctx.redirects), result,
                        ctx.session_start_ns, [*ctx.flow_ids, ctx.flow_id], _dialect(ctx),
                        ctx.user_raw)

    def close(self, ctx: FlowContext, ts_ns: int) -> None:
        """The flow ended: a switchboard summary, or an unfinished login."""
        if ctx.role is Role.SWITCHBOARD:
            if SWITCHBOARD.enabled:
                SWITCHBOARD.write(ts_ns, ctx.flow_id, ctx.user, ctx.server,
                                  list(ctx.participants), ctx.messages, ctx.session_start_ns,
                                  [*ctx.flow_ids, ctx.flow_id], ctx.invited, ctx.user_raw)
        elif ctx.usr_trids and not ctx.login_done:
            self._login(ctx, "incomplete", ts_ns)


def _set_user(ctx: FlowContext, cmd: Command, index: int) -> None:
    """The flow's user from argument ``index``; its bytes too when they are not UTF-8."""
    ctx.user = cmd.args[index]
    raw = cmd.raw_args
    ctx.user_raw = raw[index] if raw is not None else None


def _dialect(ctx: FlowContext) -> str:
    return ctx.dialect or ""

