"""The display-filter dialog on a real log: completion, errors with a caret, applying."""

from __future__ import annotations

import pytest

from viewer import TraceViewApp
from viewer._filter_screen import FilterScreen

from .conftest import wait_for
from .test_logindex import write_log


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return write_log(tmp_path_factory.mktemp("dfilter") / "t.jsonl", 3000)


def _text(app: TraceViewApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def _open_dialog(app: TraceViewApp, pilot) -> None:  # type: ignore[no-untyped-def]
    assert app.index is not None
    await wait_for(pilot, lambda: app.index.done, timeout=20)
    await pilot.press("f")
    await wait_for(pilot, lambda: isinstance(app.screen, FilterScreen))


async def test_completes_fields_and_values_then_filters_the_log(log):
    """Tab completes a field name from the manifests and a value seen in the log; Enter
    applies the filter, which keeps only matching events."""
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await _open_dialog(app, pilot)
        await pilot.press(*"ver")
        assert "verb" in _text(app, "#filter-hints").split()
        await pilot.press("tab")
        assert app.screen.query_one("#f-expr").value == "verb"
        await pilot.press(*" == ")
        assert "MSG" in _text(app, "#filter-hints").split()
        await pilot.press(*"MS", "tab", *" && trid > 100", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FilterScreen))
        await wait_for(pilot, lambda: app.rows.scanned >= app.index.indexed and
                       not app.rows.pending, timeout=20)
        shown = [app.ring.event(app.rows[i]) for i in range(len(app.rows))]
        assert shown and all(e.fields["verb"] == "MSG" and e.fields["trid"] > 100
                             for e in shown)


async def test_type_error_shows_a_caret_and_keeps_the_filter(log):
    """A port compared to text is shown with a caret under the value; Enter does nothing."""
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await _open_dialog(app, pilot)
        await pilot.press(*'destination.port == "x"')
        lines = _text(app, "#filter-error").split("\n")
        assert lines[0] == 'destination.port == "x"'
        assert lines[1] == " " * 20 + "^~~"
        assert "destination.port is a number (int)" in lines[2]
        await pilot.press("enter")
        assert isinstance(app.screen, FilterScreen)
        await pilot.press("escape")
        assert app.rows.filter.empty


async def test_unknown_field_suggests_the_close_name(log):
    """A misspelt field is refused with the name the manifests declare."""
    app = TraceViewApp(None, logs=[log], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await _open_dialog(app, pilot)
        await pilot.press(*"destination.iq == 10.0.0.2")
        assert "did you mean destination.ip?" in _text(app, "#filter-error")
