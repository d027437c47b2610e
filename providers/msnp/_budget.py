"""One memory budget shared by many MSNP stream parsers (all the flows of a monitor).

A parser holds bytes between chunks: the start of an unfinished line, a payload
still arriving, an HTTP message still arriving. Each parser charges what it holds
to the budget after every chunk; a parser whose holding grows while the budget
is spent drops what it holds (it skips the rest of the payload, or the rest of
the line, or gives up a gateway stream) and reports it as a ``ParseError`` of
kind ``over_budget``. Memory held by all parsers together thus stays within
``capacity`` plus what one chunk adds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_BUDGET", "BufferBudget"]

DEFAULT_BUDGET = 64 * 1024 * 1024


@dataclass(slots=True)
class BufferBudget:
    """Bytes held by the parsers that share it, their bound, and what was dropped."""

    capacity: int = DEFAULT_BUDGET
    used: int = 0
    peak: int = 0
    drops: int = 0
    dropped_bytes: int = 0

    def adjust(self, delta: int) -> bool:
        """Account ``delta`` more (or fewer) held bytes; False when growth overdraws it."""
        used = self.used = self.used + delta
        if used > self.peak:
            self.peak = used
        return delta <= 0 or used <= self.capacity

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {"capacity": self.capacity, "used": self.used, "peak": self.peak,
                "drops": self.drops, "dropped_bytes": self.dropped_bytes}
