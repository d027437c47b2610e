"""Go to a time: what the prompt accepts, and the row selected in a real log."""

from __future__ import annotations

import pytest

from tracer import read_log
from viewer import TraceViewApp
from viewer._events_view import EventsView
from viewer._goto import parse_target

from .conftest import wait_for
from .test_logindex import write_log

REF = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
S = 1_000_000_000


@pytest.mark.parametrize(("text", "expected"), [
    ("+5s", REF + 5 * S), ("-1m", REF - 60 * S), ("+1h30m", REF + 5400 * S),
    ("-250ms", REF - 250_000_000),
    ("22:13:25", REF + 5 * S), ("22:13:20.5", REF + S // 2),
    ("2023-11-14T22:14:20", REF + 60 * S), ("2023-11-14T23:13:20+01:00", REF),
])
def test_accepted_times(text, expected):
    """Times of day, ISO date-times and relative times name the expected instant."""
    assert parse_target(text, REF) == expected


@pytest.mark.parametrize("text", ["soon", "25:00", "+5x", ""])
def test_bad_times_are_refused(text):
    """Anything else is a ValueError with a readable message."""
    with pytest.raises(ValueError, match="time"):
        parse_target(text, REF)


async def test_t_selects_the_first_event_at_or_after_the_time(tmp_path):
    """t, then a time relative to the selected event, selects the first event at or after."""
    log = write_log(tmp_path / "times.jsonl", 2000)
    times = [e.time_ns for e in read_log(log)]
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.index is not None
        await wait_for(pilot, lambda: app.index.done, timeout=20)
        view = app.query_one(EventsView)
        view.select_index(0)
        span_us = (times[-1] - times[0]) // 2_000  # half the log, in microseconds
        await pilot.press("t", *f"+{span_us}us", "enter")
        await pilot.pause()
        target = times[0] + span_us * 1000
        row = view.cursor_index
        assert row is not None
        assert times[row] >= target and times[row - 1] < target
