"""Counters of one inspector run (served by ``inspect status`` and the control channel)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["InspectStats"]


@dataclass(slots=True)
class InspectStats:
    """What the worker did: connections by outcome, packets by verdict, timeouts."""

    connections: int = 0
    permitted: int = 0
    blocked: int = 0
    rejected: int = 0
    timeouts: int = 0
    packets: int = 0
    packets_permitted: int = 0
    packets_dropped: int = 0
    unparsed: int = 0
    attributed: int = 0
    closed: int = 0
    decide_refused: int = 0
    worker_errors: int = 0
    pending_blocked_at_stop: int = 0
    queued_dropped_at_stop: int = 0
    #: Packets a full queue let through unseen / dropped (see ``_overload``).
    overload_accepted: int = 0
    overload_dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        """A plain dict (JSON)."""
        return asdict(self)
