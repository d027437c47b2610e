"""ViewRows: incremental filtered rows over the ring."""

from viewer._filter import EventFilter
from viewer._ring import EventRing
from viewer._rows import ViewRows

from .conftest import fixed_events


def test_unfiltered_rows_follow_the_ring():
    """Without a filter every held event is a row, oldest first."""
    ring = EventRing(4)
    rows = ViewRows(ring)
    ring.extend(fixed_events(6))
    assert len(rows) == 4
    assert [ring.seq(rows[i]) for i in range(4)] == [3, 4, 5, 6]


def test_filter_then_clear_restores_every_buffered_event():
    """Applying a filter hides rows; clearing it shows every buffered event again."""
    ring = EventRing(100)
    ring.extend(fixed_events(30))
    rows = ViewRows(ring)
    rows.set_filter(EventFilter(providers=frozenset({"wfptrace-msnmon"})))
    rows.update()
    assert len(rows) == 10
    rows.set_filter(EventFilter())
    assert len(rows) == 30


def test_new_events_are_filtered_as_they_arrive():
    """Events appended after the filter was set are checked by the next update."""
    ring = EventRing(100)
    rows = ViewRows(ring)
    rows.set_filter(EventFilter(events=frozenset({"Transaction"})))
    ring.extend(fixed_events(9))
    rows.update()
    assert [ring.seq(rows[i]) for i in range(len(rows))] == [2, 5, 8]


def test_filtering_runs_in_bounded_steps():
    """A budgeted update checks at most that many events and reports what is left."""
    ring = EventRing(1000)
    ring.extend(fixed_events(900))
    rows = ViewRows(ring)
    rows.set_filter(EventFilter(max_level=4))
    rows.update(budget=100)
    assert rows.pending == 800
    while rows.pending:
        rows.update(budget=100)
    assert len(rows) == 600


def test_filtered_rows_drop_events_the_ring_overwrote():
    """When the ring wraps, filtered rows never point at overwritten events."""
    ring = EventRing(10)
    rows = ViewRows(ring)
    rows.set_filter(EventFilter(max_level=4))
    for _ in range(5):
        ring.extend(fixed_events(9))
        rows.update()
    assert all(ring.holds(rows[i]) for i in range(len(rows)))
    assert len(rows) == sum(1 for i in range(ring.start, ring.total) if ring.level(i) <= 4)
    assert rows.row_of(rows[2]) == 2
