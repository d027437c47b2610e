"""The open-log dialog (o) and the command palette (ctrl+p)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from viewer import TraceViewApp
from viewer._events_view import EventsView
from viewer._open_screen import OpenLogScreen

from .conftest import wait_for
from .test_logindex import write_log
from .test_merge import write_pair


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("open")
    first = write_log(d / "first.jsonl", 50)
    second = write_log(d / "second.jsonl", 80)
    a, b = write_pair(d, 200)
    bad = d / "notalog.json"
    bad.write_text('{"hello": "world"}\n')
    empty = d / "empty.jsonl"
    empty.write_bytes(b"")
    locked = d / "locked.jsonl"
    locked.write_bytes(first.read_bytes())
    locked.chmod(0)
    return {"first": first, "second": second, "a": a, "b": b, "bad": bad, "empty": empty,
            "locked": locked, "dir": d}


async def _type_path(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    box = pilot.app.screen.query_one("#open-path")
    box.value = text
    await pilot.press("enter")
    await pilot.pause()


def _error(app: TraceViewApp) -> str:
    return str(app.screen.query_one("#open-error").render())


async def test_bad_choices_are_said_inline_and_a_good_one_opens(logs):
    """Not a log, a directory, nothing written yet, no such file: one line each, the
    dialog stays; a real log then replaces the view's rows."""
    app = TraceViewApp(None, logs=[logs["first"]], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: len(app.rows) >= 50)
        await pilot.press("o")
        assert isinstance(app.screen, OpenLogScreen)
        await _type_path(pilot, str(logs["bad"]))
        assert "notalog.json" in _error(app) and isinstance(app.screen, OpenLogScreen)
        await _type_path(pilot, str(logs["dir"]))
        assert "is a directory" in _error(app)
        await _type_path(pilot, str(logs["empty"]))
        assert "empty.jsonl" in _error(app)
        await _type_path(pilot, str(logs["dir"] / "nothere.jsonl"))
        assert "no such file" in _error(app)
        if os.geteuid() != 0:  # root reads a mode-0 file anyway
            await _type_path(pilot, str(logs["locked"]))
            assert "locked.jsonl" in _error(app)
        await _type_path(pilot, str(logs["second"]))
        assert not isinstance(app.screen, OpenLogScreen)
        await wait_for(pilot, lambda: len(app.rows) == 80)
        assert app.index is not None and app.index.path == logs["second"]


async def test_two_paths_open_merged(logs):
    """Two paths in the dialog open both logs merged by time."""
    app = TraceViewApp(None, logs=[logs["first"]], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("o")
        await _type_path(pilot, f"{logs['a']} {logs['b']}")
        assert not isinstance(app.screen, OpenLogScreen)
        await wait_for(pilot, lambda: app.index is not None and app.index.done, 10)
        assert len(app.rows) == 200 and app.columns.column("source").visible  # type: ignore[union-attr]


async def test_the_command_palette_runs_our_commands(logs):
    """ctrl+p, "open log", Enter: the open-log dialog; our commands are all listed."""
    app = TraceViewApp(None, logs=[logs["first"]], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for want in ("Open log", "Filter", "Columns", "Sessions", "Follow / pause", "Search"):
            assert want in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"open log")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OpenLogScreen))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen.query_one(EventsView), EventsView)


async def test_the_palette_toggles_any_column_even_one_named_like_markup(logs):
    """Each column has a show/hide command; a field named like markup is listed as
    written (escaped), and running its command shows the column."""
    from tracer import Manifest

    app = TraceViewApp(None, logs=[logs["first"]], follow_logs=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        hostile = Manifest.from_json({"name": "x", "events": [
            {"id": 1, "name": "E", "level": 4,
             "fields": [{"name": "[bold]b[/nope]", "type": "str"}]}]})
        app.columns.learn({"x": hostile})
        cmds = {c.title: c for c in app.get_system_commands(app.screen)}
        title = "Show column \\[bold]b\\[/nope]"
        assert title in cmds
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"bold")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.columns.column("field:[bold]b[/nope]").visible  # type: ignore[union-attr]
