"""The events table's cells and columns: from the manifests, resized, hidden, shown, safe."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from tracer import Manifest
from viewer import TraceViewApp
from viewer._columns import ColumnLayout, declared_fields, seq_cell
from viewer._columns_screen import ColumnsScreen
from viewer._demo import demo_providers
from viewer._events_view import EventsView
from viewer._ring import EventRing

from .conftest import fixed_events, screen_lines, wait_for
from .test_hostile_content import field_values, hostile_event, hostile_text, unsafe_chars
from .test_logindex import write_log


@pytest.mark.parametrize(("seq", "want"), [(7, "      7"), (9_999_999, "9999999"),
                                           (10_000_000, "…000000"), (123_456_789, "…456789")])
def test_a_sequence_number_too_wide_for_its_cell_is_marked_not_cut(seq: int, want: str) -> None:
    """Past seven digits the cell shows an ellipsis and the last digits, never a bare cut."""
    assert seq_cell(seq, 7) == want


# -- columns from the manifests ------------------------------------------------------------


def _manifests() -> dict[str, Manifest]:
    return {p.name: Manifest.from_json(p.manifest()) for p in demo_providers()}


def test_every_declared_field_is_a_column_and_names_fit():
    """Each field any manifest declares is a (hidden) column; no provider or event name
    the manifests declare is cut (up to the column's bound)."""
    layout = ColumnLayout()
    manifests = _manifests()
    layout.learn(manifests)
    declared = {name for m in manifests.values() for e in m.events.values()
                for name, _, _ in declared_fields(e)}
    fields = {c.field for c in layout.columns if c.field}
    assert fields == declared and len(fields) > 10
    longest = max(len(e) for m in manifests.values() for e in m.events)
    assert layout.column("event").width == min(28, longest)  # type: ignore[union-attr]
    assert not any(c.visible for c in layout.columns if c.field)


def test_fields_are_read_with_units_whatever_shape_the_manifest_gives():
    """A field given as (name, type, unit) or as an object with attributes is read alike."""
    class F:
        name, type, unit = "latency", "int", "us"

    class S:
        fields = (("source.ip", "str"), ("rtt", "float", "ms"), F())
    assert declared_fields(S()) == [("source.ip", "str", ""), ("rtt", "float", "ms"),
                                    ("latency", "int", "us")]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_log(tmp_path_factory.mktemp("cols") / "cols.jsonl", 300)


async def test_columns_resize_hide_and_show_a_field_with_keys(log):
    """right moves the focused column, > widens it, h hides it; the columns dialog shows a
    field column, whose values then appear in the rows."""
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(160, 30)) as pilot:
        view = app.query_one(EventsView)
        await wait_for(pilot, lambda: len(app.rows) >= 300, 10)
        layout = app.columns
        assert layout.focused.key == "event"
        width = layout.column("event").width  # type: ignore[union-attr]
        await pilot.press("greater_than_sign", "greater_than_sign")
        assert layout.column("event").width == width + 4  # type: ignore[union-attr]
        await pilot.press("less_than_sign")
        assert layout.column("event").width == width + 2  # type: ignore[union-attr]
        await pilot.press("left")
        assert layout.focused.key == "level"
        await pilot.press("h")
        assert not layout.column("level").visible  # type: ignore[union-attr]
        await pilot.pause()
        assert " Lvl " not in app.query_one("#header").render().plain
        assert not any(" INFO " in x for x in screen_lines(view))
        await pilot.press("C")
        assert isinstance(app.screen, ColumnsScreen)
        sel = app.screen.query_one("SelectionList")
        keys = [sel.get_option_at_index(i).value for i in range(sel.option_count)]
        sel.highlighted = keys.index("field:verb")
        await pilot.press("space", "enter")
        await pilot.pause()
        assert layout.column("field:verb").visible  # type: ignore[union-attr]
        header = app.query_one("#header").render().plain
        assert "verb" in header
        verbs = {"VER", "CVR", "USR", "SYN", "CHG", "PNG", "MSG", "XFR"}
        rows = screen_lines(view)
        assert any(set(x.split()) & verbs for x in rows if "Command" in x)


def _spanning_days() -> list:
    events = fixed_events(6)
    for i, ev in enumerate(events):
        ev.time_ns = 1_700_000_000_000_000_000 + i * 20_000 * 1_000_000_000  # 5.6 h apart
    return events


async def test_the_time_column_shows_the_date_when_rows_span_days():
    """Rows within one day show HH:MM:SS.mmm; once they span two days, the date too."""
    app = TraceViewApp(None)
    app.ring.extend(fixed_events(3))
    async with app.run_test(size=(140, 20)) as pilot:
        view = app.query_one(EventsView)
        await pilot.pause(0.1)
        app._learn_columns()
        await pilot.pause()
        assert any(x.lstrip().startswith("3 22:13:20.002") for x in screen_lines(view))
        app.ring.extend(_spanning_days())
        app._learn_columns()
        view.rows_changed(reset=True)
        await pilot.pause()
        assert any("2023-11-15 03:46:40.000" in x for x in screen_lines(view))
        assert app.columns.show_date


def test_a_log_declaring_endless_fields_gets_a_bounded_column_list():
    """Thousands of declared fields (a hostile log's manifest) add at most 512 columns."""
    m = Manifest.from_json({"name": "x", "events": [
        {"id": 1, "name": "E", "level": 4,
         "fields": [{"name": f"f{i}", "type": "int"} for i in range(5000)]}]})
    layout = ColumnLayout()
    layout.learn({"x": m})
    assert len(layout.columns) <= 513
    assert layout.focused.key == "event"  # inserting columns kept the focus where it was


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.dictionaries(hostile_text, field_values, min_size=1, max_size=4),
       unit=hostile_text, width=st.integers(20, 200))
def test_field_columns_of_hostile_names_and_values_stay_safe_and_exact(fields, unit, width):
    """Every field shown as a column, whatever its name, unit and value: the header and the
    row hold no control or bidi character and are exactly the view's width."""
    manifest = Manifest.from_json({"name": "msnmon", "events": [
        {"id": 3, "name": "Message", "level": 4,
         "fields": [{"name": k, "type": "str"} for k in fields]}]})
    layout = ColumnLayout()
    layout.learn({"msnmon": manifest})
    for col in layout.columns:
        layout.set_visible(col.key, True)
        col.unit = unit if col.field else col.unit
    ring = EventRing(4)
    ring.append(hostile_event(1, fields, "{x}"))
    header = layout.header(width).plain
    row = "".join(s.text for s in layout.segments(ring, ring.start, width))
    assert not unsafe_chars(header) and not unsafe_chars(row)
    assert cell_len(header) == width and cell_len(row) == width


async def test_clicking_a_column_title_focuses_that_column(log):
    """A click on "Provider" in the header focuses it; > then widens it."""
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: len(app.rows) >= 300, 10)
        header = app.query_one("#header").render().plain
        await pilot.click("#header", offset=(header.index("Provider") + 2, 0))
        assert app.columns.focused.key == "provider"
        width = app.columns.focused.width
        await pilot.press("greater_than_sign")
        assert app.columns.focused.width == width + 2
        await pilot.pause()
        assert app.query_one("#header").render().plain.index("Lvl") == \
            header.index("Lvl") + 2
