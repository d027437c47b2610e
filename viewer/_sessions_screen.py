"""The sessions list: state, providers, events, lost, rate; stop, flush, edit, watch."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from tracer import TracerError

from ._control import SessionControl, SessionRow
from ._safe import safe_text

__all__ = ["SessionsScreen"]

_COLUMNS = ("Session", "State", "Providers", "Events", "Lost", "Rate", "View", "Sinks")


class SessionsScreen(Screen[None]):
    """Lists the hub's sessions, refreshed every second."""

    BINDINGS = [
        Binding("escape,s", "close", "Events"),
        Binding("c", "create", "New"),
        Binding("x", "stop", "Stop"),
        Binding("f", "flush", "Flush"),
        Binding("e", "edit", "Levels/keywords"),
        Binding("w", "watch", "View on/off"),
    ]
    DEFAULT_CSS = """
    #sessions-title { text-style: bold; color: $accent; height: 1; }
    #sessions-status { height: 1; color: $text-muted; }
    DataTable { height: 1fr; }
    """

    def __init__(self, control: SessionControl, *, on_create: Callable[[], None],
                 on_edit: Callable[[str], None]) -> None:
        super().__init__()
        self.control = control
        self.on_create = on_create
        self.on_edit = on_edit
        self.rows: list[SessionRow] = []

    def compose(self) -> ComposeResult:
        yield Label("Log sessions", id="sessions-title")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*_COLUMNS)
        yield table
        yield Label("", id="sessions-status")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows()
        self.set_interval(1.0, self.refresh_rows)

    def on_screen_resume(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        """Reload the sessions and their statistics."""
        table = self.query_one(DataTable)
        selected = self.selected()
        self.rows = self.control.rows()
        table.clear()
        for r in self.rows:
            cells = (r.name, r.state, r.providers or "-", f"{r.events:,}", f"{r.lost:,}",
                     f"{r.rate:,.0f}/s", "yes" if r.watched else "no", r.sinks or "-")
            table.add_row(*map(safe_text, cells), key=r.name)
        if not self.rows:
            self._status("No sessions. Press c to create a new log session.")
        names = [r.name for r in self.rows]
        if selected in names:
            table.move_cursor(row=names.index(selected))

    def selected(self) -> str | None:
        """The highlighted session's name."""
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)].name

    def _status(self, text: str) -> None:
        self.query_one("#sessions-status", Label).update(safe_text(text))

    def _run(self, verb: str, fn: Callable[[str], object]) -> None:
        name = self.selected()
        if name is None:
            self._status("No session selected.")
            return
        try:
            fn(name)
        except TracerError as exc:
            self._status(f"{verb} {name} failed: {exc}")
            return
        self._status(f"{verb} {name}: done")
        self.refresh_rows()

    def action_close(self) -> None:
        """Back to the events view."""
        self.app.pop_screen()

    def action_create(self) -> None:
        """Open the Create New Log Session wizard."""
        self.on_create()

    def action_stop(self) -> None:
        """Stop the highlighted session."""
        self._run("Stopped", self.control.stop)

    def action_flush(self) -> None:
        """Flush the highlighted session."""
        self._run("Flushed", self.control.flush)

    def action_edit(self) -> None:
        """Change the highlighted session's providers, levels and keywords."""
        name = self.selected()
        if name is not None:
            self.on_edit(name)

    def action_watch(self) -> None:
        """Show or hide the highlighted session's events in the events view."""
        name = self.selected()
        if name is None:
            return
        if name in self.control.feed.subscriptions:
            self._run("Hidden", self.control.unwatch)
        else:
            self._run("Viewing", self.control.watch)
