"""The detail pane: every field of the selected event."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tracer import Event, Level, escape_text, format_value

from ._columns import LEVEL_STYLES, format_time

__all__ = ["DetailPane", "detail_text"]


def detail_text(event: Event | None) -> Text:
    """The envelope and fields of one event, one field per line (data shown escaped)."""
    if event is None:
        return Text("No event selected.", style="dim")
    try:
        level = Level(event.level).name
    except ValueError:
        level = str(event.level)
    text = Text()
    text.append(f"#{event.seq} {format_time(event.time_ns)} ", style="cyan")
    if event.created_ns:  # the packet's time above; when it was recorded here
        text.append(f"(recorded {format_time(event.created_ns)}) ", style="dim")
    text.append(f"{escape_text(event.provider or 'session')}/{escape_text(event.name)} ",
                style="bold")
    text.append(level, style=LEVEL_STYLES.get(event.level))
    text.append(f"  pid {event.pid} tid {event.tid}")
    if event.keywords:
        text.append("  keywords " + escape_text(",".join(event.keywords)), style="dim")
    text.append("\n" + escape_text(event.message) + "\n")
    # names as wide as the longest (network.community_id), within reason
    width = min(max((len(n) for n in event.fields), default=0), 24)
    for name, value in event.fields.items():
        text.append(f"  {escape_text(name):<{max(width, 14)}}", style="bold green")
        text.append(f" {escape_text(format_value(value))}\n")
    return text


class DetailPane(VerticalScroll):
    """A scrollable pane showing :func:`detail_text` of one event."""

    DEFAULT_CSS = """
    DetailPane { height: 9; border-top: solid $accent; display: none; }
    DetailPane.-shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield Static(detail_text(None), id="detail-text")

    def show(self, event: Event | None) -> None:
        """Display this event's fields."""
        self.query_one("#detail-text", Static).update(detail_text(event))
