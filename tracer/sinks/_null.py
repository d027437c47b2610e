"""A sink that keeps nothing (``null``): for runs that want only counts or other sinks'
output, and for measuring the pipeline without I/O."""

from __future__ import annotations

from .._sink import Needs, SinkBatch, SinkContext, SinkSpec, SinkStats, SinkStatsCounter

__all__ = ["NullSink"]


class NullSink:
    """Counts every event as written, builds nothing."""

    needs = Needs.NOTHING

    def __init__(self, spec: SinkSpec, context: SinkContext) -> None:
        self.name = "null"
        self.counter = SinkStatsCounter(self.name, "null")

    def write(self, batch: SinkBatch) -> None:
        self.counter.hand(batch.count)
        self.counter.settle(batch.count)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def stats(self) -> SinkStats:
        return self.counter.snapshot()
