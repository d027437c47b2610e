"""Who decides: the static configuration, or an external process within a timeout.

The worker asks :meth:`Decider.submit` for each new connection: a verdict now
(static), or None to keep it pending; an external verdict arrives later through
the ``complete`` callback the worker gave, from any thread. :meth:`expired`
hands the worker the connections whose time ran out; it applies the default
action (the static ``block_traffic``), counted and traced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ._blockswitch import BlockSwitch
from ._connections import Connection

__all__ = ["VERDICTS", "Decider", "ExternalDecider", "PendingConnection", "StaticDecider",
           "normalize_verdict"]

#: Verdict words accepted from deciders (``allow`` is TraceView's word for permit).
VERDICTS = {"permit": "permit", "allow": "permit", "accept": "permit", "block": "block",
            "drop": "block", "deny": "block"}
Complete = Callable[[int, str, str], None]  # conn id, verdict, decided_by


def normalize_verdict(word: object) -> str:
    """``permit`` or ``block``; ValueError for anything else."""
    if isinstance(word, str) and word.lower() in VERDICTS:
        return VERDICTS[word.lower()]
    raise ValueError(f"verdict must be permit or block, not {word!r}")


@dataclass(frozen=True)
class PendingConnection:
    """A pending connection as a decision-maker sees it (TraceView's PendingDecision)."""

    id: int
    process: str
    pid: int
    protocol: str
    local: str
    local_port: int
    remote: str
    remote_port: int
    direction: str = "outbound"
    remaining: float = 0.0
    held: bool = False
    flow_id: str = ""

    @property
    def five_tuple(self) -> str:
        """``tcp 10.0.0.1:50000 -> 10.0.0.2:80`` (``<-`` for inbound)."""
        arrow = "->" if self.direction == "outbound" else "<-"
        return (f"{self.protocol} {self.local}:{self.local_port} {arrow} "
                f"{self.remote}:{self.remote_port}")


class Decider(Protocol):
    """The decision seam of the worker."""

    name: str

    def submit(self, conn: Connection) -> str | None:
        """``permit``/``block`` now, or None: the answer comes through ``complete``."""

    def expired(self, now: float) -> list[int]:
        """Ids of connections whose decision time ran out (removed from the decider)."""

    def forget(self, conn_id: int) -> None:
        """Drop a connection the worker completed by itself (stop, timeout)."""


class StaticDecider:
    """``block_traffic`` decides, read again before every decision."""

    name = "static"

    def __init__(self, switch: BlockSwitch) -> None:
        self.switch = switch

    def submit(self, conn: Connection) -> str:
        """The configured verdict, now."""
        return "block" if self.switch.current() else "permit"

    def expired(self, now: float) -> list[int]:
        """Nothing ever waits."""
        return []

    def forget(self, conn_id: int) -> None:
        """Nothing to forget."""


@dataclass
class _Item:
    info: PendingConnection
    deadline: float
    left_when_held: float | None = None


class ExternalDecider:
    """Pending connections wait for :meth:`decide` from another process (or thread)."""

    name = "external"

    def __init__(self, timeout: float, complete: Complete | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.complete = complete
        self.clock = clock
        self._items: dict[int, _Item] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def submit(self, conn: Connection) -> None:
        """Queue the connection for a decision-maker; no verdict yet."""
        info = PendingConnection(conn.id, conn.process_path, conn.process_pid, conn.protocol,
                                 conn.local_addr, conn.local_port, conn.remote_addr,
                                 conn.remote_port, conn.direction, flow_id=conn.flow_id)
        with self._lock:
            self._items[conn.id] = _Item(info, self.clock() + self.timeout)
            self._changed.notify_all()
        return None

    def pending(self) -> list[PendingConnection]:
        """Connections waiting, oldest first, with their time left now."""
        now = self.clock()
        with self._lock:
            return [replace(it.info, held=it.left_when_held is not None,
                            remaining=it.left_when_held if it.left_when_held is not None
                            else max(0.0, it.deadline - now))
                    for it in self._items.values()]

    def wait_pending(self, timeout: float) -> list[PendingConnection]:
        """Block up to ``timeout`` s until something is pending; then :meth:`pending`."""
        with self._lock:
            self._changed.wait_for(lambda: bool(self._items), timeout)
        return self.pending()

    def decide(self, conn_id: int, verdict: str) -> bool:
        """Answer one connection; False if it is not pending (decided, timed out, unknown)."""
        verdict = normalize_verdict(verdict)
        with self._lock:
            item = self._items.pop(conn_id, None)
        if item is None:
            return False
        if self.complete is not None:
            self.complete(conn_id, verdict, "external")
        return True

    def hold(self, conn_id: int, held: bool) -> bool:
        """Pause (True) or resume (False) a connection's countdown."""
        with self._lock:
            it = self._items.get(conn_id)
            if it is None:
                return False
            now = self.clock()
            if held and it.left_when_held is None:
                it.left_when_held = max(0.0, it.deadline - now)
            elif not held and it.left_when_held is not None:
                it.deadline, it.left_when_held = now + it.left_when_held, None
            return True

    def expired(self, now: float) -> list[int]:
        """Ids whose deadline passed (not held); they are no longer pending here."""
        with self._lock:
            gone = [i for i, it in self._items.items()
                    if it.left_when_held is None and it.deadline <= now]
            for i in gone:
                del self._items[i]
        return gone

    def next_deadline(self) -> float | None:
        """The earliest running deadline, for the worker's wait."""
        with self._lock:
            times = [it.deadline for it in self._items.values() if it.left_when_held is None]
        return min(times) if times else None

    def forget(self, conn_id: int) -> None:
        """Remove a connection the worker completed itself."""
        with self._lock:
            self._items.pop(conn_id, None)

    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a decision-maker's control request (``pending``, ``wait_pending``,
        ``decide``, ``hold``); ValueError for any other ``op``."""
        op = request.get("op")
        if op == "pending":
            return {"pending": [vars(p) for p in self.pending()]}
        if op == "wait_pending":
            timeout = float(request.get("timeout", 1.0))
            return {"pending": [vars(p) for p in self.wait_pending(min(timeout, 30.0))]}
        if op == "decide":
            verdict = normalize_verdict(request.get("verdict"))
            return {"decided": self.decide(int(request["id"]), verdict)}
        if op == "hold":
            return {"held": self.hold(int(request["id"]), bool(request.get("held", True)))}
        raise ValueError(f"unknown op {op!r}")
