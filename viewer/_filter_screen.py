"""The filter dialog: provider, level, keyword, event name, text or regex, field conditions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from tracer import Level

from ._filter import EventFilter, FilterError, parse_condition
from ._safe import safe_text

__all__ = ["FilterScreen"]


def _names(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in text.replace(" ", ",").split(",") if p.strip())


class FilterScreen(ModalScreen[EventFilter | None]):
    """Edit the view filter; returns the new filter, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply")]
    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    #filter-box { width: 76; max-width: 100%; height: auto; max-height: 100%;
                  border: round $accent; padding: 0 1; background: $surface; }
    #filter-box Input, #filter-box Select { margin-bottom: 0; }
    #filter-error { color: $error; height: auto; }
    #filter-buttons { height: 3; }
    """

    def __init__(self, current: EventFilter, providers: list[str]) -> None:
        super().__init__()
        self.current = current
        self.providers = providers

    def compose(self) -> ComposeResult:
        c = self.current
        with VerticalScroll(id="filter-box"):
            yield Label(safe_text("Providers (comma separated; known: "
                                  f"{', '.join(self.providers) or '-'})"))
            yield Input(",".join(sorted(c.providers)), id="f-providers")
            yield Label("Most verbose level shown")
            yield Select([(f"{lv.value} {lv.name.lower()}", lv.value) for lv in Level],
                         value=c.max_level, allow_blank=False, id="f-level")
            yield Label("Keywords (any of)")
            yield Input(",".join(sorted(c.keywords)), id="f-keywords")
            yield Label("Event names")
            yield Input(",".join(sorted(c.events)), id="f-events")
            yield Label("Text in provider, event or message")
            yield Input(c.text, id="f-text")
            yield Checkbox("Text is a regular expression", c.regex, id="f-regex")
            yield Label("Field conditions, ';' separated (e.g. remote == 10.0.0.2; port > 1000)")
            yield Input("; ".join(str(x) for x in c.conditions), id="f-conditions")
            yield Static("", id="filter-error")
            with Horizontal(id="filter-buttons"):
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Clear", id="clear")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#f-providers", Input).focus()

    def build(self) -> EventFilter:
        """The filter the fields describe; raises FilterError."""
        conds = tuple(parse_condition(p) for p in
                      self.query_one("#f-conditions", Input).value.split(";") if p.strip())
        level = self.query_one("#f-level", Select).value
        if not isinstance(level, int):  # not blank (allow_blank=False), but say so if it is
            raise FilterError("choose the most verbose level shown")
        return EventFilter(
            providers=_names(self.query_one("#f-providers", Input).value),
            max_level=level,
            keywords=_names(self.query_one("#f-keywords", Input).value),
            events=_names(self.query_one("#f-events", Input).value),
            text=self.query_one("#f-text", Input).value,
            regex=self.query_one("#f-regex", Checkbox).value,
            conditions=conds)

    def action_apply(self) -> None:
        """Apply the filter."""
        try:
            flt = self.build()
        except FilterError as exc:
            self.query_one("#filter-error", Static).update(safe_text(exc))
            return
        self.dismiss(flt)

    def action_cancel(self) -> None:
        """Keep the current filter."""
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        elif event.button.id == "clear":
            self.dismiss(EventFilter())
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_apply()
