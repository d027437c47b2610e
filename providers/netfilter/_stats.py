"""Counters of an NFQUEUE consumer, and the kernel's own per-queue counters.

The kernel counters come from ``/proc/net/netfilter/nfnetlink_queue``, which is
per network namespace: the file is opened when the queue binds, so later reads
see the queue's namespace whatever thread reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["KernelQueueCounters", "QueueStats", "read_kernel_counters"]

PROC_PATH = "/proc/thread-self/net/netfilter/nfnetlink_queue"


@dataclass(slots=True, frozen=True)
class KernelQueueCounters:
    """One line of ``nfnetlink_queue``: the kernel's view of a queue.

    ``queue_dropped``: packets dropped because the queue was full.
    ``user_dropped``: packets dropped because netlink could not deliver them
    (receive buffer full). ``queue_total``: packets waiting for a verdict now.
    """

    queue_num: int
    peer_portid: int
    queue_total: int
    copy_mode: int
    copy_range: int
    queue_dropped: int
    user_dropped: int
    id_sequence: int


def read_kernel_counters(fd: int, queue_num: int) -> KernelQueueCounters | None:
    """Read the counters of ``queue_num`` from an open ``nfnetlink_queue`` fd."""
    data = os.pread(fd, 1 << 16, 0).decode("ascii", "replace")
    for line in data.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0].isdigit() and int(parts[0]) == queue_num:
            return KernelQueueCounters(*(int(p) for p in parts[:8]))
    return None


@dataclass(slots=True)
class QueueStats:
    """What a queue consumer saw and did; ``kernel`` is filled by ``NfQueue.stats()``.

    ``enobufs`` counts receive-buffer overruns reported to us (packets were lost
    in the kernel; see ``kernel.user_dropped``). ``malformed`` counts messages
    we could not parse (they get no verdict from us; the kernel keeps them
    until unbind). ``id_gaps`` counts packet ids we never saw (the kernel
    skipped them: undeliverable, or bypassed under fail-open).
    ``verdict_errors`` counts verdicts the kernel rejected. ``handler_errors``
    counts packets whose handler raised (they get the default verdict).
    ``stall_settled`` counts packets received that a stall watchdog had
    already released; ``stale_verdicts`` counts our verdicts the kernel no
    longer knew (ENOENT: the watchdog decided them first).
    """

    packets: int = 0
    batches: int = 0
    accepted: int = 0
    dropped: int = 0
    repeated: int = 0
    rewritten: int = 0
    held: int = 0
    verdict_messages: int = 0
    enobufs: int = 0
    malformed: int = 0
    handler_errors: int = 0
    id_gaps: int = 0
    verdict_errors: int = 0
    stall_settled: int = 0
    stale_verdicts: int = 0
    kernel: KernelQueueCounters | None = field(default=None)

    @property
    def lost(self) -> int:
        """Packets the kernel dropped on this queue (full queue + undeliverable)."""
        if self.kernel is None:
            return 0
        return self.kernel.queue_dropped + self.kernel.user_dropped
