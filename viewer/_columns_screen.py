"""The columns dialog: show or hide any column, including every field the manifests declare."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList
from textual.widgets.selection_list import Selection

from tracer import escape_text

from ._columns import ColumnLayout

__all__ = ["ColumnsScreen"]


class ColumnsScreen(ModalScreen[list[str] | None]):
    """Space toggles a column, Enter applies (the keys of the shown columns), Esc cancels."""

    BINDINGS = [Binding("enter", "apply", "Apply", priority=True),
                Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ColumnsScreen { align: center middle; }
    #columns-box { width: 60; max-width: 100%; height: 80%; border: round $accent;
                   padding: 0 1; background: $surface; }
    #columns-list { height: 1fr; }
    """

    def __init__(self, layout: ColumnLayout) -> None:
        super().__init__()
        self.column_layout = layout

    def compose(self) -> ComposeResult:
        items = []
        for col in self.column_layout.columns:
            if col.key == "message":
                continue
            what = f"field, {col.kind}" if col.field else "envelope"
            if col.unit:
                what += f", {col.unit}"
            items.append(Selection(escape_text(f"{col.label}  ({what})"), col.key, col.visible))
        with Vertical(id="columns-box"):
            yield Label("Columns: space shows/hides, Enter applies, Esc cancels")
            yield SelectionList[str](*items, id="columns-list")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        """Close, showing the selected columns (and the message)."""
        selected = list(self.query_one(SelectionList).selected)
        self.dismiss([*selected, "message"])

    def action_cancel(self) -> None:
        """Close without changes."""
        self.dismiss(None)
