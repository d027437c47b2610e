"""Join commands and their replies by TrID, with the latency between them.

The client numbers its commands; the server echoes the number in its reply
(or a numeric error). ``MSG trid U`` expects no reply and is not tracked;
server pushes (TrID 0 or none) are not replies. Outstanding requests are
bounded; the oldest are given up and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from providers.msnp._command import Command

__all__ = ["Transaction", "TransactionStats", "TransactionTracker"]


class Transaction(msgspec.Struct, frozen=True, gc=False):
    """A request and the first reply carrying its TrID."""

    trid: int
    request: Command
    reply: Command
    latency: float  # seconds between the two observations

    @property
    def error(self) -> int | None:
        """The numeric error code when the reply is an error, else None."""
        return int(self.reply.verb) if self.reply.verb.isdigit() else None


@dataclass(slots=True)
class TransactionStats:
    """Counters of one tracker."""

    requests: int = 0
    completed: int = 0
    unmatched_replies: int = 0
    evicted: int = 0


class TransactionTracker:
    """Per-connection request/reply matcher."""

    __slots__ = ("_open", "capacity", "stats")

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self.stats = TransactionStats()
        # TrID -> (request, time), oldest first (a plain dict keeps insertion order and
        # costs less per command than an OrderedDict)
        self._open: dict[int, tuple[Command, float]] = {}

    @property
    def outstanding(self) -> int:
        """Requests still waiting for a reply."""
        return len(self._open)

    def observe(self, command: Command, from_client: bool, ts: float) -> Transaction | None:
        """Record a command seen at ``ts``; return the transaction it completes, if any."""
        trid = command.trid
        if trid is None:
            return None
        if from_client:
            if command.verb != "MSG" or not command.args or command.args[0] != "U":
                self.stats.requests += 1  # a request, kept until its reply or evicted
                pending = self._open
                if trid in pending:
                    del pending[trid]  # a reused TrID: now the newest
                pending[trid] = (command, ts)
                if len(pending) > self.capacity:
                    self._evict()
            return None
        opened = self._open.pop(trid, None)
        if opened is None:
            if trid:
                self.stats.unmatched_replies += 1
            return None
        self.stats.completed += 1
        request, started = opened
        return Transaction(trid, request, command, max(0.0, ts - started))

    def _evict(self) -> None:
        """Give up the oldest requests beyond the capacity."""
        pending = self._open
        while len(pending) > self.capacity:
            del pending[next(iter(pending))]
            self.stats.evicted += 1
