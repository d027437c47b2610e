"""The seam to the inspect provider's external decider: pending connections and verdicts.

The viewer only needs :class:`DecisionSource`; the inspect provider implements it
over its control channel (the demo's pended connections come that way too).
:class:`LocalDecisionSource` is a complete in-process implementation (for
embedding and the tests): items time out to a default verdict unless held, and
holding pauses an item's countdown.

A source may also offer ``recent()``: the last verdicts with who decided them
(``decided_by``) and how long they took (``latency_ns``), shown by the panel.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

__all__ = ["DecidedItem", "DecisionSource", "LocalDecisionSource", "PendingDecision",
           "PendingItem", "Verdict", "describe"]

Verdict = str  # "allow" or "block"
VERDICTS = ("allow", "block")


@dataclass(frozen=True)
class PendingDecision:
    """A connection held until someone decides: who, the 5-tuple, and time left."""

    id: int
    process: str
    pid: int
    protocol: str
    local: str
    local_port: int
    remote: str
    remote_port: int
    direction: str = "outbound"
    remaining: float = 0.0  # seconds until the default verdict applies
    held: bool = False  # the countdown is paused while the user chooses

    @property
    def five_tuple(self) -> str:
        """``tcp 10.0.0.1:50000 -> 10.0.0.2:1863``."""
        arrow = "->" if self.direction == "outbound" else "<-"
        return (f"{self.protocol} {self.local}:{self.local_port} {arrow} "
                f"{self.remote}:{self.remote_port}")


class PendingItem(Protocol):
    """What the viewer reads of a pending item (:class:`PendingDecision` is one; the
    inspect provider's ``PendingConnection`` another)."""

    @property
    def id(self) -> int: ...
    @property
    def process(self) -> str: ...
    @property
    def pid(self) -> int: ...
    @property
    def remaining(self) -> float: ...
    @property
    def held(self) -> bool: ...
    @property
    def five_tuple(self) -> str: ...


@dataclass(frozen=True)
class DecidedItem:
    """A verdict given: the item, the verdict, who decided it and how long it took."""

    id: int
    process: str
    pid: int
    five_tuple: str
    verdict: str
    decided_by: str
    latency_ns: int = 0


def describe(d: PendingItem | DecidedItem) -> str:
    """``process[pid] 5-tuple``; the 5-tuple alone when the process is unknown (a replay)."""
    return f"{d.process}[{d.pid}] {d.five_tuple}" if d.process else d.five_tuple


@runtime_checkable
class DecisionSource(Protocol):
    """Pending decisions and how to answer them."""

    def pending(self) -> Sequence[PendingItem]:
        """Items waiting for a verdict, oldest first, with their time left now."""

    def decide(self, id: int, verdict: Verdict) -> bool:
        """Answer one item; False if it already timed out or was answered."""

    def hold(self, id: int, held: bool) -> None:
        """Pause (True) or resume (False) an item's countdown."""


@dataclass
class _Item:
    decision: PendingDecision
    deadline: float
    left_when_held: float | None = None
    on_verdict: Callable[[str, bool], None] | None = field(default=None, repr=False)


class LocalDecisionSource:
    """An in-process decider queue with timeouts to a default verdict."""

    def __init__(self, timeout: float = 10.0, default: Verdict = "block",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if default not in VERDICTS:
            raise ValueError(f"default verdict must be one of {VERDICTS}")
        self.timeout = timeout
        self.default = default
        self.clock = clock
        self.decided: list[tuple[int, Verdict, bool]] = []  # (id, verdict, by_timeout)
        self._recent: collections.deque[DecidedItem] = collections.deque(maxlen=16)
        self._items: dict[int, _Item] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, *, process: str, pid: int, protocol: str, local: str, local_port: int,
               remote: str, remote_port: int, direction: str = "outbound",
               on_verdict: Callable[[str, bool], None] | None = None) -> int:
        """Queue a connection; ``on_verdict(verdict, by_timeout)`` is called once."""
        with self._lock:
            id_ = next(self._ids)
            d = PendingDecision(id_, process, pid, protocol, local, local_port, remote,
                                remote_port, direction)
            self._items[id_] = _Item(d, self.clock() + self.timeout, on_verdict=on_verdict)
        return id_

    def _expire(self) -> list[tuple[_Item, Verdict]]:
        now = self.clock()
        gone = [i for i, it in self._items.items()
                if it.left_when_held is None and it.deadline <= now]
        return [(self._items.pop(i), self.default) for i in gone]

    def pending(self) -> list[PendingDecision]:
        """Items waiting, with their remaining time (expired ones get the default)."""
        with self._lock:
            expired = self._expire()
            now = self.clock()
            out = []
            for it in self._items.values():
                left = it.left_when_held
                held = left is not None
                if left is None:
                    left = max(0.0, it.deadline - now)
                out.append(replace(it.decision, remaining=left, held=held))
        for it, verdict in expired:
            self._finish(it, verdict, True)
        return out

    def decide(self, id: int, verdict: Verdict) -> bool:
        """Answer an item; False if it is no longer pending."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}")
        with self._lock:
            expired = self._expire()
            item = self._items.pop(id, None)
        for it, v in expired:
            self._finish(it, v, True)
        if item is None:
            return False
        self._finish(item, verdict, False)
        return True

    def hold(self, id: int, held: bool) -> None:
        """Pause or resume one item's countdown."""
        with self._lock:
            it = self._items.get(id)
            if it is None:
                return
            now = self.clock()
            if held and it.left_when_held is None:
                it.left_when_held = max(0.0, it.deadline - now)
            elif not held and it.left_when_held is not None:
                it.deadline = now + it.left_when_held
                it.left_when_held = None

    def recent(self) -> list[DecidedItem]:
        """The last verdicts, newest first."""
        return list(reversed(self._recent))

    def _finish(self, item: _Item, verdict: Verdict, by_timeout: bool) -> None:
        self.decided.append((item.decision.id, verdict, by_timeout))
        d = item.decision
        waited = self.timeout - (item.left_when_held or max(0.0, item.deadline - self.clock()))
        self._recent.append(DecidedItem(d.id, d.process, d.pid, d.five_tuple, verdict,
                                        "timeout-default" if by_timeout else "decision-program",
                                        max(0, int(waited * 1e9))))
        if item.on_verdict is not None:
            item.on_verdict(verdict, by_timeout)
