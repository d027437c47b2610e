"""Overload accounting: packets a full queue dropped, or let through unseen.

A queue overflows when packets arrive faster than the worker answers. The
kernel then drops them (counted per queue: ``queue_dropped``, and
``user_dropped`` when netlink could not deliver) or, with the queue's
fail-open flag, accepts them without counting. Those are found from the rules'
own packet counters: every packet that met a queue rule either got a packet id
(queued), or was dropped as overflow, or was let through; ids we never received
while fail-open was on were let through too (undeliverable, accepted).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from providers.netfilter import NfQueue, RuleError

__all__ = ["OverloadAccount", "OverloadCounts"]


@dataclass(frozen=True, slots=True)
class OverloadCounts:
    """Totals since start: let through and dropped because a queue was full."""

    accepted: int = 0
    dropped: int = 0
    queue_dropped: int = 0
    user_dropped: int = 0


class OverloadAccount:
    """Computes :class:`OverloadCounts` for the inspector's queues.

    ``hits`` returns the packets our queue rules matched (a subprocess; only
    called once a queue has been fail-open, and only when something changed).
    """

    def __init__(self, queues: Sequence[NfQueue], hits: Callable[[], int]) -> None:
        self._queues = queues
        self._hits = hits
        self._ever_open = any(q.fail_open for q in queues)
        self._seen: tuple[int, ...] = ()
        self._stale = True
        self.counts = OverloadCounts()

    def note_fail_open(self) -> None:
        """A queue became fail-open: the rule counters are needed from now on."""
        self._ever_open = True

    def update(self, force: bool = False) -> OverloadCounts:
        """Recompute when the queues' counters moved (or ``force``); return the totals."""
        stats = [q.stats() for q in self._queues]
        kernels = [s.kernel for s in stats if s.kernel is not None]
        qd = sum(k.queue_dropped for k in kernels)
        ud = sum(k.user_dropped for k in kernels)
        ids = sum(k.id_sequence for k in kernels)
        gaps = sum(s.id_gaps for s in stats)
        seen = (ids, qd, ud, gaps, sum(s.packets for s in stats))
        changed = seen != self._seen
        self._seen = seen
        accepted = self.counts.accepted
        if self._ever_open and (changed or self._stale or force):
            # One more reading after the counters settle: a burst's tail is counted.
            self._stale = changed
            try:
                hits: int | None = self._hits()
            except (RuleError, OSError, ValueError, subprocess.SubprocessError):
                hits = None  # a failed reading keeps the last total
            if hits is not None:
                accepted = max(0, hits - ids - qd) + max(0, gaps - ud)
        self.counts = OverloadCounts(max(accepted, self.counts.accepted), qd + ud, qd, ud)
        return self.counts
