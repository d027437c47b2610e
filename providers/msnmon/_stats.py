"""Counters of one monitor engine (a statistics object, as for trace sessions)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["MonitorStats"]


@dataclass(slots=True)
class MonitorStats:
    """What the monitor saw and did, packet to command.

    ``flows_ignored`` never belonged to the monitored application (never
    reassembled); ``flows_not_msnp`` belonged to it but were not MSNP by
    content; ``flows_dropped`` were given up after too many errors.
    """

    packets: int = 0
    packets_disabled: int = 0  # seen while monitoring was disabled
    flows_seen: int = 0
    flows_monitored: int = 0
    flows_ignored: int = 0
    flows_not_msnp: int = 0
    flows_dropped: int = 0
    flows_over_limit: int = 0  # not monitored: too many flow contexts at once
    stream_bytes: int = 0
    gap_bytes: int = 0
    commands: int = 0
    messages: int = 0
    transactions: int = 0
    parse_errors: int = 0
    budget_drops: int = 0  # parser buffers dropped: the shared buffer budget was spent
    unknown_verbs: int = 0
    legacy_chunks: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return asdict(self)
