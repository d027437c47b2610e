"""EventRing: bounded columnar storage."""

from tracer import Event
from tracer._fields import encode_default
from viewer._ring import EventRing

from .conftest import fixed_events


def test_round_trip_keeps_every_attribute():
    """An event read back from the ring has the same envelope, fields and message."""
    ring = EventRing(10)
    ev = fixed_events(1)[0]
    ring.append(ev)
    back = ring.event(0)
    assert (back.seq, back.time_ns, back.provider, back.name, back.level, back.keywords,
            back.pid, back.tid, back.fields) == (ev.seq, ev.time_ns, ev.provider, ev.name,
                                                 ev.level, ev.keywords, ev.pid, ev.tid, ev.fields)
    assert back.message == ev.message


def test_full_ring_overwrites_oldest_and_counts_them():
    """Past capacity the oldest events go, and the count of dropped events is exact."""
    ring = EventRing(5)
    ring.extend(fixed_events(12))
    assert len(ring) == 5
    assert ring.dropped == 7
    assert [ring.seq(i) for i in range(ring.start, ring.total)] == [8, 9, 10, 11, 12]
    assert not ring.holds(6)


def test_clear_empties_without_counting_drops():
    """Clearing forgets events but does not count them as dropped."""
    ring = EventRing(5)
    ring.extend(fixed_events(3))
    ring.clear()
    assert len(ring) == 0 and ring.dropped == 0
    ring.extend(fixed_events(6))
    assert len(ring) == 5 and ring.dropped == 1


def test_bytes_fields_are_kept_as_in_log_files():
    """Bytes fields are stored as the log files write them, instead of failing the append."""
    ring = EventRing(2)
    ring.append(Event(time_ns=1, seq=1, provider="p", name="n", id=1, level=4, keywords=(),
                      pid=1, tid=1, fields={"data": b"\x01\xff"}))
    assert ring.fields(0) == {"data": encode_default(b"\x01\xff")}


def test_extend_reports_how_many_were_appended():
    """extend returns the number of events appended, while growing and once wrapping."""
    ring = EventRing(5)
    assert ring.extend(fixed_events(3)) == 3
    assert ring.extend(fixed_events(4)) == 4
    assert ring.extend(fixed_events(6)) == 6
