"""The decisions panel: pending connections with a countdown; allow or block with one key.

While the panel has focus, the highlighted item's countdown is held, so the
default verdict does not fire while the user is choosing. Below the pending
items, the last verdicts (when the source offers ``recent()``) show who decided
each one (the decided-by column: configuration, decision-program,
timeout-default, fail-open, stall-open, stop, bypass) and how long it took.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget

from tracer import escape_text

from ._decisions import DecidedItem, DecisionSource, PendingItem, describe

__all__ = ["DecisionsPanel"]

#: Recent verdicts shown under the pending items.
RECENT_SHOWN = 3
_BY_WIDTH = 16  # the longest decided_by value, "decision-program"


class DecisionsPanel(Widget, can_focus=True):
    """Pending decisions of a :class:`DecisionSource`, refreshed by the app."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("a", "decide('allow')", "Allow"),
        Binding("b", "decide('block')", "Block"),
    ]
    DEFAULT_CSS = """
    DecisionsPanel { height: auto; max-height: 7; border-top: solid $warning; display: none; }
    DecisionsPanel.-shown { display: block; }
    DecisionsPanel:focus { border-top: thick $warning; }
    """

    class Decided(Message):
        """The user answered a pending item."""

        def __init__(self, decision: PendingItem, verdict: str, ok: bool) -> None:
            super().__init__()
            self.decision = decision
            self.verdict = verdict
            self.ok = ok

    def __init__(self, source: DecisionSource, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source
        self.items: Sequence[PendingItem] = ()
        self.recent: Sequence[DecidedItem] = ()
        self.cursor = 0
        self._held: int | None = None

    def poll(self) -> None:
        """Fetch the pending items and update holds; show the panel only when needed."""
        self.items = self.source.pending()
        self.recent = self._recent()
        self.cursor = max(0, min(self.cursor, len(self.items) - 1))
        self._sync_hold()
        self.set_class(bool(self.items) or self.has_focus, "-shown")
        self.refresh(layout=True)

    def _recent(self) -> Sequence[DecidedItem]:
        """The source's last verdicts, if it offers them (an optional extra: a source
        that cannot answer shows none)."""
        recent = getattr(self.source, "recent", None)
        if not callable(recent):
            return ()
        try:
            return list(recent())[:RECENT_SHOWN]
        except Exception:  # e.g. the source's own error: an older inspector, a closed one
            return ()

    def _selected(self) -> PendingItem | None:
        return self.items[self.cursor] if self.items else None

    def _sync_hold(self) -> None:
        selected = self._selected() if self.has_focus else None
        want = selected.id if selected is not None else None
        if want == self._held:
            return
        if self._held is not None:
            self.source.hold(self._held, False)
        if want is not None:
            self.source.hold(want, True)
        self._held = want

    def on_focus(self) -> None:
        self._sync_hold()
        self.refresh()

    def on_blur(self) -> None:
        self._sync_hold()
        self.refresh()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, min(6, len(self.items) + 1 + len(self.recent)))

    def render(self) -> Text:
        text = Text()
        n = len(self.items)
        hint = "a allow · b block · ↑↓ choose" if self.has_focus else "press d to decide"
        text.append(f"{n} pending decision{'s' if n != 1 else ''}  ", style="bold yellow")
        text.append(hint, style="dim")
        first = max(0, self.cursor - 4)
        for i, d in enumerate(self.items[first:first + 5], start=first):
            mark = "▶" if i == self.cursor and self.has_focus else " "
            clock = "⏸" if d.held else f"{d.remaining:4.1f}s"
            line = f"\n{mark} {clock:>5} {escape_text(describe(d))}"
            style = "reverse" if i == self.cursor and self.has_focus else ""
            text.append(line, style=style)
        for r in self.recent[:max(0, 5 - min(5, n))]:
            text.append(f"\n  {escape_text(r.verdict):<6} ", style="green" if r.verdict in (
                "permit", "allow") else "red")
            text.append(f"{escape_text(r.decided_by)[:_BY_WIDTH]:<{_BY_WIDTH}} "
                        f"{_latency(r.latency_ns):>8}  {escape_text(describe(r))}", style="dim")
        return text

    def action_move(self, delta: int) -> None:
        """Highlight another item (the hold moves with it)."""
        if self.items:
            self.cursor = (self.cursor + delta) % len(self.items)
            self._sync_hold()
            self.refresh()

    def action_decide(self, verdict: str) -> None:
        """Answer the highlighted item."""
        d = self._selected()
        if d is None:
            return
        if self._held == d.id:
            self._held = None
        ok = self.source.decide(d.id, verdict)
        self.post_message(self.Decided(d, verdict, ok))
        self.poll()


def _latency(ns: int) -> str:
    """``850 us``, ``12.3 ms``, ``4.0 s``."""
    if ns < 1_000_000:
        return f"{ns // 1000} us"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.1f} s"
