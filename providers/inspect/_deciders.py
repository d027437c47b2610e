"""Who decides: the static configuration, or an external process within a timeout.

The worker asks :meth:`Decider.submit` for each new connection: a verdict now
(static), or None to keep it pending; an external verdict arrives later through
the ``complete`` callback the worker gave, from any thread. :meth:`expired`
hands the worker the connections whose time ran out; it applies the default
action (the static ``block_traffic``), counted and traced.

A hold (the countdown paused while someone looks) always ends: a hold made over
a connection of the control socket ends when that connection closes (the
decision program exited or died), and a hold without one (through the hub)
lasts at most :data:`HOLD_LEASE_S` unless renewed; then the default applies at
once, traced with the reason (``decider-gone``, ``hold-expired``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ._blockswitch import BlockSwitch
from ._connections import Connection
from ._events import DECISION_PROGRAM

__all__ = ["HOLD_LEASE_S", "VERDICTS", "DecidedConnection", "Decider", "ExternalDecider",
           "PendingConnection", "StaticDecider", "normalize_verdict"]

#: Verdict words accepted from deciders (``allow`` is TraceView's word for permit).
VERDICTS = {"permit": "permit", "allow": "permit", "accept": "permit", "block": "block",
            "drop": "block", "deny": "block"}
Complete = Callable[[int, str, str], None]  # conn id, verdict, decided_by
#: Longest a hold without an owning connection lasts (each hold request renews it).
HOLD_LEASE_S = 60.0


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


@dataclass(frozen=True)
class DecidedConnection:
    """A connection verdict as TraceView shows it (its ``DecidedItem``)."""

    id: int
    process: str
    pid: int
    five_tuple: str
    verdict: str
    decided_by: str
    latency_ns: int = 0


class Decider(Protocol):
    """The decision seam of the worker."""

    name: str

    def submit(self, conn: Connection) -> str | None:
        """``permit``/``block`` now, or None: the answer comes through ``complete``."""

    def ended(self, now: float) -> list[tuple[int, str]]:
        """(id, reason) of connections whose decision ended without a verdict (removed)."""

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

    def ended(self, now: float) -> list[tuple[int, str]]:
        """Nothing ever waits."""
        return []

    def forget(self, conn_id: int) -> None:
        """Nothing to forget."""


_MISSING = object()


def request_field(request: dict[str, Any], name: str, kind: type | tuple[type, ...],
           default: Any = _MISSING) -> Any:
    """``request[name]`` if it has type ``kind`` (booleans are not numbers); else ValueError."""
    value = request.get(name, default)
    if value is _MISSING:
        raise ValueError(f"{request.get('op')!r} needs {name!r}")
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else "a number"
        want = {"bool": "true or false", "int": "an integer", "str": "a string"}.get(want, want)
        raise ValueError(f"{name} must be {want}, not {value!r}")
    return value


@dataclass
class _Item:
    info: PendingConnection
    deadline: float
    left_when_held: float | None = None
    #: Who holds it: a control connection's token, or None (then ``lease_end`` bounds it).
    owner: object | None = None
    lease_end: float | None = None
    reason: str = "timeout"


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
            self.complete(conn_id, verdict, DECISION_PROGRAM)
        return True

    def hold(self, conn_id: int, held: bool, owner: object | None = None) -> bool:
        """Pause (True) or resume (False) a connection's countdown.

        ``owner`` is the holding control connection (see :meth:`release`); without
        one the hold lasts :data:`HOLD_LEASE_S`, renewed by every hold request.
        """
        if not isinstance(held, bool):
            raise ValueError(f"held must be true or false, not {held!r}")
        with self._lock:
            it = self._items.get(conn_id)
            if it is None:
                return False
            now = self.clock()
            if held:
                if it.left_when_held is None:
                    it.left_when_held = max(0.0, it.deadline - now)
                it.owner = owner
                it.lease_end = None if owner is not None else now + HOLD_LEASE_S
            elif it.left_when_held is not None:
                it.deadline, it.left_when_held = now + it.left_when_held, None
                it.owner = it.lease_end = None
            self._changed.notify_all()
            return True

    def release(self, owner: object) -> int:
        """The control connection ``owner`` closed: its holds end now (default verdict)."""
        now, n = self.clock(), 0
        with self._lock:
            for it in self._items.values():
                if it.left_when_held is not None and it.owner is owner:
                    it.deadline, it.left_when_held, it.owner = now, None, None
                    it.reason = "decider-gone"
                    n += 1
        return n

    def ended(self, now: float) -> list[tuple[int, str]]:
        """(id, reason) whose deadline or hold lease passed; no longer pending here."""
        with self._lock:
            for it in self._items.values():
                if it.lease_end is not None and it.lease_end <= now:
                    it.deadline, it.left_when_held, it.lease_end = now, None, None
                    it.reason = "hold-expired"
            gone = [(i, it.reason) for i, it in self._items.items()
                    if it.left_when_held is None and it.deadline <= now]
            for i, _ in gone:
                del self._items[i]
        return gone

    def expired(self, now: float) -> list[int]:
        """Ids whose decision ended (see :meth:`ended`)."""
        return [i for i, _ in self.ended(now)]

    def next_deadline(self) -> float | None:
        """The earliest running deadline, for the worker's wait."""
        with self._lock:
            times = [it.deadline for it in self._items.values() if it.left_when_held is None]
            times += [it.lease_end for it in self._items.values() if it.lease_end is not None]
        return min(times) if times else None

    def forget(self, conn_id: int) -> None:
        """Remove a connection the worker completed itself."""
        with self._lock:
            self._items.pop(conn_id, None)

    def request(self, request: dict[str, Any], owner: object | None = None) -> dict[str, Any]:
        """Answer a decision-maker's control request (``pending``, ``wait_pending``,
        ``decide``, ``hold``); ``owner``: the caller's control connection (None through
        the hub). ValueError for any other ``op`` or a field of the wrong type."""
        op = request.get("op")
        if op == "pending":
            return {"pending": [vars(p) for p in self.pending()]}
        if op == "wait_pending":
            timeout = request_field(request, "timeout", (int, float), 1.0)
            return {"pending": [vars(p) for p in self.wait_pending(min(timeout, 30.0))]}
        if op not in ("decide", "hold"):
            raise ValueError(f"unknown op {op!r}")
        conn_id = request_field(request, "id", int)
        if op == "decide":
            verdict = normalize_verdict(request_field(request, "verdict", str))
            return {"decided": self.decide(conn_id, verdict)}
        return {"held": self.hold(conn_id, request_field(request, "held", bool, True), owner)}
