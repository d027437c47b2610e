"""The packet pipeline keeps the flow table it is given."""

from __future__ import annotations

from providers.packets import FlowTable, Pipeline, open_capture

from .corpus import sample_captures
from .stage_trace import StageRecorder


def test_a_given_empty_flow_table_is_the_one_used():
    """An empty table (falsy: it has a length) passed in is used, so its bound applies."""
    table = FlowTable(max_flows=1)
    pipeline = Pipeline([StageRecorder()], flows=table)
    assert pipeline.flows is table
    with open_capture(sample_captures()[0]) as source:
        pipeline.run(source)
    pipeline.finish()
    assert table.stats.created > 1 and table.stats.evicted > 0
