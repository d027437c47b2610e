"""The help screen: every key of every screen, generated from the bindings themselves."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen", "key_table"]

_KEY_NAMES = {"question_mark": "?", "slash": "/", "space": "space", "escape": "esc",
              "pageup": "PgUp", "pagedown": "PgDn", "enter": "Enter", "tab": "Tab"}


def _keys(binding: Binding) -> str:
    out = []
    for key in binding.key.split(","):
        key = key.strip()
        out.append(_KEY_NAMES.get(key, key))
    return " ".join(out)


def key_table(sections: list[tuple[str, list[BindingType]]]) -> Table:
    """A two-column table of keys and what they do, by section."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("key", style="bold cyan", no_wrap=True, width=16)
    table.add_column("action")
    for title, bindings in sections:
        table.add_row(f"[bold yellow]{title}[/]", "")
        for b in bindings:
            if isinstance(b, Binding):
                table.add_row(_keys(b), b.description or b.action)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    """Shows every key; any of escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: 78; max-width: 100%; height: 100%; border: round $accent;
            background: $surface; }
    """

    def __init__(self, sections: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("[b]TraceView keys[/b]  (esc closes; mouse optional)")
            yield Static(self.table)

    @property
    def table(self) -> Table:
        """The key table shown."""
        return key_table(self.sections)

    def plain_text(self, width: int = 80) -> str:
        """The key table as plain text."""
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(self.table)
        return console.export_text()

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
