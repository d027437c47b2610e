"""save_jsonl: the saved view is a log TraceView and the reader can open again."""

from tracer import LogReader
from viewer._export import save_jsonl
from viewer._ring import EventRing

from .conftest import fixed_events, lost_marker


def test_saved_view_reads_back_with_messages(tmp_path):
    """Saved events read back with the same fields and the message from their template."""
    ring = EventRing(100)
    ring.extend(fixed_events(6))
    ring.append(lost_marker(7, 4))
    path = tmp_path / "view.jsonl"
    n = save_jsonl(path, ring, [0, 2, 6])
    events = list(LogReader(path))
    assert n == 3
    assert [e.seq for e in events] == [1, 3, 7]
    assert events[0].fields == fixed_events(1)[0].fields
    assert events[0].message == fixed_events(1)[0].message
    assert events[2].kind == "lost" and events[2].fields["count"] == 4


def test_skips_indices_no_longer_held(tmp_path):
    """Rows the ring overwrote meanwhile are skipped, not written as garbage."""
    ring = EventRing(3)
    ring.extend(fixed_events(5))
    assert save_jsonl(tmp_path / "v.jsonl", ring, range(5)) == 3
