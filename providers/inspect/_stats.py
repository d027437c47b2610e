"""Counters of one inspector run (served by ``inspect status`` and the control channel)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["InspectStats"]


@dataclass(slots=True)
class InspectStats:
    """What the worker did: connections by outcome, packets by verdict, timeouts.

    Every connection pended ends in exactly one outcome, so once stopped
    ``connections == permitted + blocked + failed_open + stalled_open +
    dropped_at_stop`` (:meth:`unaccounted` is 0). ``permitted``/``blocked``
    are decisions (configuration, decision program, timeout default).
    """

    connections: int = 0
    permitted: int = 0
    blocked: int = 0
    #: Decided by the crash policy: the inspector failed deciding / was stuck.
    failed_open: int = 0
    stalled_open: int = 0
    #: Still pending when the inspector stopped (blocked).
    dropped_at_stop: int = 0
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
    queued_dropped_at_stop: int = 0
    #: Stall episodes, and packets the watchdog released during them.
    stalls: int = 0
    stall_packets: int = 0
    #: Packets a full queue let through unseen / dropped (see ``_overload``).
    overload_accepted: int = 0
    overload_dropped: int = 0

    def unaccounted(self, pending: int = 0) -> int:
        """Connections pended without an outcome, beyond ``pending`` still waiting (0)."""
        return (self.connections - self.permitted - self.blocked - self.failed_open
                - self.stalled_open - self.dropped_at_stop - pending)

    def as_dict(self) -> dict[str, int]:
        """A plain dict (JSON)."""
        return asdict(self)
