"""Per-flow state of the monitor: content sniffing, both parsers, role and transactions.

A context exists only for flows of the monitored application. Until the flow is
known to be MSNP (by port 1863, a learned server address, or its content), the
first chunks of each direction are kept (bounded) and judged by
:func:`~providers.msnp.sniff_msnp`; then they are parsed like the rest.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from providers.msnp import (
    BufferBudget,
    MsnpStreamParser,
    Role,
    RoleTracker,
    Sniff,
    StreamRedactor,
    TransactionTracker,
    sniff_msnp,
)

from ._identity import AppIdentity

if TYPE_CHECKING:
    from providers.packets import Flow

__all__ = ["DIRECTIONS", "RECEIVED", "SENT", "FlowContext", "StreamState"]

SENT, RECEIVED = 0, 1
#: ``network.direction`` of what the monitored host sent and received.
DIRECTIONS = ("egress", "ingress")
SNIFF_LIMIT = 4096
#: Most content judgements per flow: bytes trickling in one at a time cannot make the
#: monitor re-judge a growing sample thousands of times.
MAX_SNIFFS = 32


class StreamState(Enum):
    """Where a monitored flow stands."""

    SNIFFING = "sniffing"
    MSNP = "msnp"
    NOT_MSNP = "not_msnp"
    DROPPED = "dropped"


#: (a module global: ``StreamState.SNIFFING`` is a lookup through the enum machinery)
_SNIFFING = StreamState.SNIFFING


class FlowContext:
    """Everything the monitor keeps for one flow of the monitored application."""

    __slots__ = (
        "announced",
        "budget",
        "bytes",
        "cid",
        "commands",
        "dialect",
        "dropped",
        "errors",
        "fixed_role",
        "flow",
        "flow_ids",
        "from_start",
        "held",
        "identity",
        "invited",
        "local",
        "local_side",
        "login_done",
        "messages",
        "parsers",
        "participants",
        "redactors",
        "redirects",
        "remote",
        "roles",
        "session_start_ns",
        "sniff",
        "sniff_bytes",
        "sniffs",
        "start_ns",
        "state",
        "transactions",
        "user",
        "user_raw",
        "usr_trids",
    )

    def __init__(self, flow: Flow, identity: AppIdentity, local_side: int,
                 local: tuple[str, int],
                 remote: tuple[str, int], start_ns: int, from_start: bool,
                 hint: str | None, max_line: int, max_payload: int, max_errors: int,
                 budget: BufferBudget | None = None) -> None:
        self.flow = flow  # (a cycle through flow.user until the flow ends)
        self.cid: str | None = None  # the flow's Community ID, once flow_id was asked
        self.identity = identity
        self.local_side = local_side  # 0: the flow's initiator is the local end
        self.local = local
        self.remote = remote
        self.start_ns = start_ns  # the flow's first packet: FlowEstablished's time
        #: when the session this flow continues began (a login's first flow, or the
        #: switchboard's announcement): the Login/Switchboard summary's event.start
        self.session_start_ns = start_ns
        self.from_start = from_start
        self.state = _SNIFFING
        self.announced = False
        self.parsers = (
            MsnpStreamParser(max_line=max_line, max_payload=max_payload, max_errors=max_errors,
                             budget=budget),
            MsnpStreamParser(max_line=max_line, max_payload=max_payload, max_errors=max_errors,
                             budget=budget),
        )
        self.roles = RoleTracker(hint)
        self.fixed_role: Role | None = None
        #: (event, fields, index of the role field) written once the role is known; None
        #: once it is (or when there was a hint): events are then written at once
        self.held: list[tuple] | None = None if hint else []
        self.transactions = TransactionTracker()
        self.budget = budget  # the sniffed chunks are charged to it while kept
        self.sniff: list[tuple[int, bytes, int]] = []
        self.sniff_bytes = [0, 0]
        self.sniffs = 0
        #: per direction, what hides secrets in raw chunks (made when first needed)
        self.redactors: list[StreamRedactor] | None = None
        self.bytes = [0, 0]
        self.commands = 0
        self.errors = 0
        self.dropped = ""
        # session summary state
        self.user: str | None = None  # (non-UTF-8 bytes escaped, as in Command args)
        self.user_raw: bytes | None = None  # the user's bytes, when they are not UTF-8
        self.usr_trids: set[int] = set()
        self.login_done = False
        self.participants: dict[str, None] = {}
        self.messages = 0
        self.invited = False
        self.redirects: list[str] = []
        self.flow_ids: list[str] = []
        self.dialect: str | None = None

    @property
    def flow_id(self) -> str:
        """The flow's Community ID (computed when first asked: only events need it; kept
        in ``cid``, which the per-command path reads directly)."""
        cid = self.cid
        if cid is None:
            cid = self.cid = self.flow.id
        return cid

    @property
    def server(self) -> str:
        """The remote end, ``address:port`` (made when asked: only summaries show it)."""
        return f"{self.remote[0]}:{self.remote[1]}"

    @property
    def legacy_ports(self) -> tuple[int, int]:
        """(local port, remote port), as the original's legacy traces show them."""
        return self.local[1], self.remote[1]

    @property
    def role(self) -> Role:
        """The flow's observed role so far."""
        return self.roles.role

    def keep_for_sniff(self, direction: int, data: bytes, ts_ns: int) -> Sniff:
        """Keep a chunk while sniffing and return the verdict on what is kept."""
        self.sniff.append((direction, data, ts_ns))
        self.sniff_bytes[direction] += len(data)
        if self.budget is not None:
            self.budget.adjust(len(data))
        if b"\n" not in data and self.sniff_bytes[direction] < SNIFF_LIMIT:
            return Sniff.NEED_MORE  # nothing new to judge before a line ends
        self.sniffs += 1
        if self.sniffs > MAX_SNIFFS:
            return Sniff.NOT_MSNP
        verdicts = []
        for d in (SENT, RECEIVED):
            if self.sniff_bytes[d]:
                sample = b"".join(c for dd, c, _ in self.sniff if dd == d)[:SNIFF_LIMIT]
                verdicts.append(sniff_msnp(sample, from_start=self.from_start))
        if Sniff.MSNP in verdicts or Sniff.HTTP_GATEWAY in verdicts:
            return Sniff.MSNP
        if Sniff.NOT_MSNP in verdicts:
            return Sniff.NOT_MSNP
        return Sniff.NEED_MORE

    def take_sniffed(self) -> list[tuple[int, bytes, int]]:
        """The (direction, chunk, time) kept while sniffing, in arrival order; forgets them."""
        kept, self.sniff = self.sniff, []
        if self.budget is not None:
            self.budget.adjust(-sum(self.sniff_bytes))
        self.sniff_bytes = [0, 0]
        return kept
