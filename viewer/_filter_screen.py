"""The filter dialog: one display-filter expression, completed and checked as it is typed."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tracer import DisplayFilter, FilterSyntaxError, escape_text
from tracer._dfilter import FieldTable

from ._filter import EventFilter
from ._filter_complete import FilterSuggester, candidates, completion
from ._safe import safe_text

__all__ = ["FilterScreen"]

_HELP = ('e.g. verb == "MSG" && destination.port in {1863 6891..6900}    level <= warning\n'
         '     args contains alice    !network.community_id  text matches "^hi"  trace.seq > 100\n'
         "     && || ! and or not ( )   == != < <= > >= contains matches in   "
         "provider event keyword")


def _error(text: str, exc: FilterSyntaxError) -> Text:
    """The filter with a caret under the culprit, then the message (no control characters:
    :meth:`FilterSyntaxError.caret` shows them as dots, so the caret stays in place)."""
    return Text(f"{exc.caret(text)}\n{escape_text(exc.message)}")


class FilterScreen(ModalScreen[EventFilter | None]):
    """Edit the view's display filter; returns the new filter, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply"),
                Binding("tab", "complete", "Complete", priority=True)]
    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    #filter-box { width: 100; max-width: 100%; height: auto; max-height: 100%;
                  border: round $accent; padding: 0 1; background: $surface; }
    #filter-error { color: $error; height: auto; }
    #filter-hints { color: $text-muted; height: auto; max-height: 3; }
    #filter-help { color: $text-muted; height: auto; }
    #filter-buttons { height: 3; }
    """

    def __init__(self, current: EventFilter, table: FieldTable,
                 values: Mapping[str, list[str]]) -> None:
        super().__init__()
        self.current = current
        self.table = table
        self.values = values

    def compose(self) -> ComposeResult:
        text = self.current.expr.text if self.current.expr is not None else ""
        with Vertical(id="filter-box"):
            yield Label("Display filter (Tab or → completes; Enter applies; empty: show all)")
            yield Input(text, id="f-expr", suggester=FilterSuggester(self.table, self.values))
            yield Static("", id="filter-error")
            yield Static("", id="filter-hints")
            yield Static(Text(_HELP), id="filter-help")
            with Horizontal(id="filter-buttons"):
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Clear", id="clear")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        box = self.query_one("#f-expr", Input)
        box.focus()
        box.cursor_position = len(box.value)
        self._check(box.value)

    def build(self) -> EventFilter:
        """The filter the input describes (level keys kept); raises FilterSyntaxError."""
        text = self.query_one("#f-expr", Input).value.strip()
        expr = DisplayFilter.compile(text, self.table) if text else None
        return EventFilter(max_level=self.current.max_level, expr=expr)

    def _check(self, text: str) -> None:
        """Show the error (with a caret under its place) and the completions of the text."""
        error = Text()
        found = candidates(text, self.table, self.values)
        if text.strip():
            try:
                DisplayFilter.compile(text, self.table)
            except FilterSyntaxError as exc:
                end = len(text.rstrip())
                typing = exc.pos >= end or (found and exc.end >= end and
                                            not text[-1:].isspace())
                if not typing:  # unfinished, or a word being typed that completes: not yet
                    error = _error(text, exc)
        self.query_one("#filter-error", Static).update(error)
        self.query_one("#filter-hints", Static).update(
            safe_text("  ".join(found[:30]) + (" …" if len(found) > 30 else "")))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def action_complete(self) -> None:
        """Accept the inline suggestion (the first completion of the last word)."""
        box = self.query_one("#f-expr", Input)
        done = completion(box.value, self.table, self.values)
        if done is None:
            self.focus_next()
            return
        box.value = done
        box.cursor_position = len(done)

    def action_apply(self) -> None:
        """Apply the filter (refused, with the error shown, while it does not check)."""
        try:
            flt = self.build()
        except FilterSyntaxError as exc:
            text = self.query_one("#f-expr", Input).value
            self.query_one("#filter-error", Static).update(_error(text, exc))
            return
        self.dismiss(flt)

    def action_cancel(self) -> None:
        """Keep the current filter."""
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        elif event.button.id == "clear":
            self.dismiss(EventFilter(max_level=self.current.max_level))
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_apply()
