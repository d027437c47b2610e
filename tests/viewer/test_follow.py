"""Follow a flow: F on a selected event filters to its Community ID across providers."""

from __future__ import annotations

from tracer import read_log
from viewer import TraceViewApp
from viewer._events_view import EventsView
from viewer._follow import community_id_of

from .conftest import wait_for
from .test_logindex import write_log


async def test_f_shows_the_flow_of_the_selected_event_across_providers(tmp_path):
    """On a real log, F on an MSN monitor Command keeps that flow's events of the inspector
    and of the monitor, and nothing else."""
    log = write_log(tmp_path / "flows.jsonl", 600)
    expected = [e.seq for e in read_log(log)
                if e.fields.get("network.community_id") == "1:flow300="]
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.index is not None
        await wait_for(pilot, lambda: app.index.done, timeout=20)
        app.query_one(EventsView).select_index(301)  # Command, on flow 1:flow300=
        assert app.ring.event(301).name == "Command"
        await pilot.press("F")
        await wait_for(pilot, lambda: app.rows.scanned >= app.index.indexed and
                       not app.rows.pending, timeout=20)
        shown = [app.ring.event(app.rows[i]) for i in range(len(app.rows))]
        assert [e.seq for e in shown] == expected
        assert {e.provider for e in shown} == {"wfptrace-inspect", "wfptrace-msnmon"}
        assert "1:flow300=" in app.rows.filter.describe()


def test_community_id_is_found_by_name_or_by_shape():
    """A flow field's value is the flow; otherwise any value shaped as a v1 Community ID."""
    from tracer import Event
    cid = "1:LQU9qZlK+B5F3KDmev6m5PMibrg="

    def ev(fields: dict) -> Event:
        return Event(time_ns=0, seq=1, provider="p", name="E", id=1, level=4, keywords=(),
                     pid=1, tid=1, fields=fields)
    assert community_id_of(ev({"network.community_id": cid, "x": 1})) == cid
    assert community_id_of(ev({"conn": cid})) == cid
    assert community_id_of(ev({"conn": "not one"})) is None
