"""Kernel queue counters and consumer statistics."""

from __future__ import annotations

import os
from pathlib import Path

from providers.netfilter import KernelQueueCounters, QueueStats
from providers.netfilter._stats import read_kernel_counters


def test_counters_are_read_for_the_right_queue(tmp_path: Path) -> None:
    """The line of the requested queue is parsed field by field; other queues are ignored."""
    path = tmp_path / "nfnetlink_queue"
    path.write_text("    0  1234     0 2 65531     5     6      100  1\n"
                    "    7  4321     3 2  4096    11    12      200  1\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_kernel_counters(fd, 7) == KernelQueueCounters(7, 4321, 3, 2, 4096, 11, 12,
                                                                  200)
        assert read_kernel_counters(fd, 9) is None
    finally:
        os.close(fd)


def test_lost_adds_both_kernel_drop_counters() -> None:
    """QueueStats.lost is queue_dropped + user_dropped, 0 without kernel counters."""
    stats = QueueStats(kernel=KernelQueueCounters(1, 1, 0, 2, 10, 3, 4, 9))
    assert stats.lost == 7
    assert QueueStats().lost == 0
