"""The TraceView application: events view, rates, detail, decisions, and its screens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast, overload

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.markup import escape as escape_markup
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input

from tracer import escape_text, redaction_note

from ._columns import ColumnLayout
from ._detail import DetailPane
from ._events_view import EventsView
from ._feed import Feed
from ._filter import EventFilter, FilterError
from ._logindex import LogIndex
from ._logrows import LogRows
from ._rates import EventsStrip, RatesBar, RateTracker
from ._ring import DEFAULT_CAPACITY, EventRing
from ._rows import ViewRows
from ._spill import SpillRing
from ._status import ColumnHeader, StatusBar
from ._timeline import LogTimeline

if TYPE_CHECKING:
    from tracer import Event, Manifest, ProviderEnable, SessionConfig

    from ._connection import HubConnection
    from ._control import SessionControl
    from ._decisions import DecisionSource
    from ._decisions_panel import DecisionsPanel
    from ._search import SearchWorker

# Modules that only a hub, a decider, a filter, a search or a dialog needs are imported
# where they are used: ``traceview FILE`` paints its first rows after every import.

__all__ = ["TraceViewApp"]

_TICK = 0.05
_BUSY_REFRESH = 0.25  # s between repaints while only a background scan advances
_W = TypeVar("_W", bound=Widget)


def _open_index(paths: list[Path], follow: bool, start: bool = True) -> LogIndex:
    """One log indexed lazily, or several merged by time (LogIndex's read interface).

    ``start`` False: one log's background scan waits for ``start_scan()``.
    """
    if len(paths) == 1:
        return LogIndex(paths[0], follow=follow, start=start)
    from ._merge import MergedIndex
    return cast(LogIndex, MergedIndex(paths, follow=follow))  # duck-typed: same interface


def _bar(share: float, width: int = 10) -> str:
    """A text progress bar, e.g. ``▕████▁▁▁▁▁▁▏``."""
    full = int(max(0.0, min(1.0, share)) * width)
    return "▕" + "█" * full + "▁" * (width - full) + "▏"


class TraceViewApp(App[None]):
    """Live events of the sessions it watches (and of opened logs), and session control."""

    TITLE = "TraceView"
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help"),
        Binding("c", "create_session", "New session"),
        Binding("s", "sessions", "Sessions"),
        Binding("space,p", "toggle_pause", "Pause/resume"),
        Binding("slash", "search", "Search"),
        Binding("n", "search_next(1)", "Next match", show=False),
        Binding("N", "search_next(-1)", "Previous match", show=False),
        Binding("f", "filter", "Filter"),
        Binding("F", "follow_flow", "Follow flow", show=False),
        Binding("t", "goto_time", "Go to time", show=False),
        Binding("x", "clear_filter", "Clear filter", show=False),
        Binding("1", "set_level(1)", "Show levels up to 1 (critical)", show=False),
        Binding("2", "set_level(2)", "Show levels up to 2 (error)", show=False),
        Binding("3", "set_level(3)", "Show levels up to 3 (warning)", show=False),
        Binding("4", "set_level(4)", "Show levels up to 4 (info)", show=False),
        Binding("5", "set_level(5)", "Show levels up to 5 (verbose: all)", show=False),
        Binding("enter", "toggle_detail", "Detail"),
        Binding("d", "decisions", "Decisions", show=False),
        Binding("r", "toggle_rates", "Rates", show=False),
        Binding("w", "save", "Save view", show=False),
        Binding("o", "open_log", "Open log"),
        Binding("C", "columns", "Columns", show=False),
        Binding("q", "quit", "Quit"),
    ]
    CSS = """
    #search { dock: bottom; display: none; }
    #search.-shown { display: block; }
    RatesBar.-hidden { display: none; }
    """

    def __init__(self, hub: HubConnection | None = None, *, capacity: int = DEFAULT_CAPACITY,
                 decisions: DecisionSource | None = None, logs: list[Path] | None = None,
                 follow_logs: bool = True, title: str = "TraceView",
                 ring: EventRing | None = None) -> None:
        super().__init__()
        self.hub = hub
        self.index: LogIndex | None = None
        if ring is None and hub is None and logs:
            # saved logs and nothing live: index them lazily, never load them whole
            self.index = _open_index(logs, follow_logs, start=False)  # scan: after 1st paint
            logs = []
        live = ring if ring is not None else SpillRing(capacity)
        self.ring: EventRing | LogIndex = self.index if self.index is not None else live
        self.rows: ViewRows | LogRows = (LogRows(self.index) if self.index is not None
                                         else ViewRows(live))
        self._shown_state: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._shown_at = 0.0
        self.feed = Feed(live)
        self.control: SessionControl | None = None
        if hub is not None:
            from ._control import SessionControl
            self.control = SessionControl(hub, self.feed)
        self.decisions = decisions
        self.rates = RateTracker()
        self.columns = ColumnLayout()
        self._columns_learned: tuple[int, int] = (-1, -1)
        self.search_text = ""
        self._search: SearchWorker | None = None
        self.sub_title = title
        #: what the opened log's header says of its secrets (shown in the status bar)
        self.secrets_note = (redaction_note(self.index.reader.header)
                             if self.index is not None else None)
        self._logs = list(logs or [])
        self._follow_logs = follow_logs
        self._session_counter = 0
        self._widgets: dict[tuple[object, object], Widget] = {}

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield EventsStrip(self.rates, id="strip")
        yield RatesBar(self.rates, id="rates")
        yield ColumnHeader(self.columns, id="header")
        view = EventsView(self.rows, id="events", column_layout=self.columns)
        view.empty_hint = self._empty_hint()
        yield view
        yield DetailPane(id="detail")
        if self.decisions is not None:
            from ._decisions_panel import DecisionsPanel
            yield DecisionsPanel(self.decisions, id="decisions")
        yield Input(placeholder="search (Enter: find next, Esc: close)", id="search")
        yield StatusBar(id="status")
        yield Footer()

    def _empty_hint(self) -> str:
        if self.hub is None:
            return "No events yet. Waiting for the log file to grow… (? for help)"
        return "No events yet. Press c to create a log session, s for sessions, ? for help."

    def on_mount(self) -> None:
        for path in self._logs:
            self.feed.open_log(path, follow=self._follow_logs)
        view = self._main(EventsView)
        view.focus()
        self._show_index()
        self.call_after_refresh(view.rows_changed)
        self.call_after_refresh(self._start_scan)
        self.set_interval(_TICK, self.tick)
        self.set_interval(1.0, self._sample_rates)
        if self.decisions is not None:
            self.set_interval(0.25, self._poll_decisions)
        self.update_status()

    def _start_scan(self) -> None:
        """Start indexing the opened log now that its first rows are on the screen."""
        start = getattr(self.index, "start_scan", None)  # merged logs: started already
        if start is not None:
            start()

    def _show_index(self) -> None:
        """Columns, strip and position for the log(s) just opened."""
        self._learn_columns()
        if self.index is None:
            return
        labels = getattr(self.index, "labels", None) or [self.index.path.name]
        self.columns.set_sources(labels)
        self._main(EventsStrip).show_log(LogTimeline(self.index))
        self._main(EventsView).action_jump_start()  # a saved log opens at its first screen
        self._main(ColumnHeader).refresh()

    def _learn_columns(self) -> None:
        """Fit the columns to the manifests (and names) known now, and the time span."""
        ring = self.ring
        key = (len(ring.providers), len(ring.schemas) if isinstance(ring, EventRing) else 0)
        changed = False
        if key != self._columns_learned:  # a new provider or event type: learn once
            self._columns_learned = key
            changed = self.columns.learn(self._manifests())
            if isinstance(ring, EventRing):
                changed |= self.columns.learn_names((s.provider, s.name) for s in ring.schemas
                                                    if s.kind == "event")
        before = self.columns.version
        self.columns.set_show_date(self._spans_days())
        if changed or self.columns.version != before:
            self._main(EventsView).columns_changed()

    def _spans_days(self) -> bool:
        """True if the rows held span more than one (UTC) day."""
        ring = self.ring
        first, last = (0, ring.total - 1) if self.index is not None else \
            (ring.start, ring.total - 1)
        if last <= first or not ring.holds(first) or not ring.holds(last):
            return False
        day = 86_400 * 1_000_000_000
        return ring.time_ns(first) // day != ring.time_ns(last) // day

    def on_column_header_clicked(self) -> None:
        if self._alive():
            self._main(EventsView).columns_changed()

    def on_events_view_columns_changed(self) -> None:
        if self._alive():
            self._main(ColumnHeader).refresh()

    def _poll_decisions(self) -> None:
        from ._decisions_panel import DecisionsPanel
        if self._alive():
            self._main(DecisionsPanel).poll()

    def on_unmount(self) -> None:
        if self._search is not None:
            self._search.cancel()
        self.feed.close()
        self._close_index()
        if isinstance(self.ring, SpillRing):
            self.ring.close()

    @overload
    def _main(self, selector: type[_W]) -> _W: ...
    @overload
    def _main(self, selector: str, expect: type[_W]) -> _W: ...

    def _main(self, selector: str | type[Widget], expect: type[Widget] | None = None) -> Widget:
        """A widget of the main screen (cached), whichever screen is on top."""
        key = (selector, expect)
        widget = self._widgets.get(key)
        if widget is None:
            screen = self.screen_stack[0]
            if isinstance(selector, str):
                widget = screen.query_one(selector, expect or Widget)
            else:
                widget = screen.query_one(selector)
            self._widgets[key] = widget
        return widget

    def _alive(self) -> bool:
        """False while the app shuts down (timers may still fire once)."""
        return self.is_running and bool(self.screen_stack) and \
            self._main(EventsView).is_attached

    # -- the ingest loop -----------------------------------------------------------------
    def tick(self) -> None:
        """Move new events into the ring and refresh the view once for the whole batch."""
        if not self._alive():
            return
        moved = self.feed.pump()
        if self._search is not None:
            self._poll_search()
            self.update_status()
        pending = self.rows.pending if not isinstance(self.rows, LogRows) else 0
        if pending:
            self.rows.update(5_000 if moved else 50_000)
        if moved or pending or self._log_changed():
            self._main(EventsView).rows_changed()
            self.update_status()
        self._main(EventsStrip).poll()

    def _log_changed(self) -> bool:
        """True if the lazily opened log grew, its index or the filter advanced."""
        if self.index is not None:
            state = (self.index.total, len(self.rows), int(self.index.progress * 1000),
                     int(getattr(self.rows, "progress", 1.0) * 1000))
        elif isinstance(self.ring, SpillRing) and self.ring.spill is not None:
            state = (len(self.ring), len(self.rows), self.ring.dropped, 0)  # file caught up
        else:
            return False
        if state == self._shown_state:
            return False
        now = time.monotonic()
        if now - self._shown_at < _BUSY_REFRESH and self._shown_state[1] >= 100:
            return False  # a full screen shown, a scan advances: repaint a few times a second
        self._shown_at = now
        self._shown_state = state
        return True

    def _progress_text(self) -> str:
        """Indexing, filtering and search progress ("" when idle)."""
        index, rows = self.index, self.rows
        search = self._search
        searching = f"searching {_bar(search.progress)} {search.progress:.0%} (Esc stops)" \
            if search is not None else ""
        if index is None or not isinstance(rows, LogRows):
            return searching
        parts = [searching] if searching else []
        if index.error:
            parts.append(index.error)
        elif not index.done:
            parts.append(f"indexing {_bar(index.progress)} {index.progress:.0%} "
                         f"{index.indexed:,} lines")
        if rows.filtering and (rows.pending or not index.done):
            parts.append(f"filtering {_bar(rows.progress)} {rows.progress:.0%} "
                         f"{rows.scanned:,} checked")
        if index.bad_lines:
            parts.append(f"{index.bad_lines:,} unreadable lines")
        return "  ".join(parts)

    def _sample_rates(self) -> None:
        if not self._alive():
            return
        known = len(self.rates.rates)
        providers = self.ring.providers
        self.rates.sample(providers, time.monotonic(), lost=self.feed.lost + providers.get("", 0))
        self._main(RatesBar).refresh(layout=len(self.rates.rates) != known)
        self._main(EventsStrip).refresh()
        self._learn_columns()
        self.update_status()

    def update_status(self) -> None:
        """Redraw the status bar."""
        view = self._main(EventsView)
        self._main(StatusBar).show(
            follow=view.follow, row=view.cursor_row, shown=len(self.rows), held=len(self.ring),
            filter_text=self.rows.filter.describe(), pending=self.rows.pending,
            ring_dropped=self.ring.dropped, lost=self.feed.lost,
            sessions=len(self.feed.subscriptions) + len(self.feed.logs) + (self.index is not None),
            progress=self._progress_text(), secrets=self.secrets_note,
            overload=self.feed.overload)

    # -- events view ----------------------------------------------------------------------
    def on_events_view_selected(self, message: EventsView.Selected) -> None:
        if not self._alive():
            return
        detail = self._main(DetailPane)
        if detail.has_class("-shown") and message.index is not None and \
                self.ring.holds(message.index):
            detail.show(self.ring.event(message.index))
        self.update_status()

    def action_toggle_pause(self) -> None:
        """Pause (stop following) or resume following new events."""
        view = self._main(EventsView)
        view.follow = not view.follow
        self.update_status()

    def action_toggle_detail(self) -> None:
        """Show or hide all fields of the selected event."""
        detail = self._main(DetailPane)
        detail.toggle_class("-shown")
        index = self._main(EventsView).cursor_index
        if detail.has_class("-shown"):
            detail.show(self.ring.event(index) if index is not None and self.ring.holds(index)
                        else None)

    def action_toggle_rates(self) -> None:
        """Show or hide the per-provider rate sparklines."""
        self._main(RatesBar).toggle_class("-hidden")

    def action_decisions(self) -> None:
        """Focus the decisions panel (its countdown pauses), or go back to the events."""
        from ._decisions_panel import DecisionsPanel
        if self.decisions is None:
            self.notify("No decider is connected.", severity="warning")
            return
        panel = self._main(DecisionsPanel)
        if panel.has_focus:
            self._main(EventsView).focus()
        else:
            panel.add_class("-shown")
            panel.focus()
        panel.poll()

    def on_decisions_panel_decided(self, message: DecisionsPanel.Decided) -> None:
        from ._decisions import describe
        what = describe(message.decision)
        if message.ok:
            self.notify(escape_text(f"{message.verdict}: {what}"), timeout=2, markup=False)
        else:
            self.notify(escape_text(f"too late: {what} was already decided"), severity="warning",
                        markup=False)

    # -- filters and search ----------------------------------------------------------------
    def set_filter(self, flt: EventFilter) -> None:
        """Apply a view filter; every buffered event stays in the ring."""
        self.rows.set_filter(flt)
        self.rows.update()
        self._main(EventsView).rows_changed(reset=True)
        self.update_status()

    def action_filter(self) -> None:
        """Open the filter dialog."""
        from tracer._dfilter import FieldTable

        from ._filter_complete import values_seen
        from ._filter_screen import FilterScreen

        def done(flt: EventFilter | None) -> None:
            if flt is not None:
                self.set_filter(flt)
        self.push_screen(FilterScreen(self.rows.filter, FieldTable(self._manifests()),
                                      values_seen(self._sample_events())), done)

    def _sample_events(self, n: int = 1000) -> Iterator[Event]:
        """Events of the first and last shown rows (values to complete the filter with)."""
        rows = len(self.rows)
        for row in (*range(min(n, rows)), *range(max(n, rows - n), rows)):
            index = self.rows[row]
            if self.ring.holds(index):
                yield self.ring.event(index)

    def action_follow_flow(self) -> None:
        """Show the selected event's flow (its Community ID) across every provider."""
        from tracer import DisplayFilter, FilterSyntaxError
        from tracer._dfilter import FieldTable

        from ._follow import community_id_of, flow_filter
        ev = self._selected_event()
        cid = community_id_of(ev) if ev is not None else None
        if ev is None or cid is None:
            self.notify("The selected event names no flow (no Community ID).",
                        severity="warning")
            return
        table = FieldTable(self._manifests())
        try:
            expr = DisplayFilter.compile(flow_filter(cid, table, ev), table)
        except FilterSyntaxError as exc:
            self.notify(escape_text(str(exc)), severity="error", markup=False)
            return
        self.set_filter(EventFilter(max_level=self.rows.filter.max_level, expr=expr))

    def _selected_event(self) -> Event | None:
        index = self._main(EventsView).cursor_index
        return self.ring.event(index) if index is not None and self.ring.holds(index) else None

    def action_goto_time(self) -> None:
        """Ask for a time (12:03:04, an ISO date-time, +5s, -1m) and select the first event
        at or after it."""
        from ._prompt import PromptScreen
        self.push_screen(PromptScreen("Go to time (12:03:04, 2026-12-02T12:03:04, +5s, -1m; "
                                      "UTC):", ""), self.goto_time)

    def goto_time(self, text: str | None) -> None:
        """Select the first shown event at or after the time ``text`` names."""
        from ._goto import first_row_at, parse_target
        if not text:
            return
        ev = self._selected_event()
        rows = self.rows
        if ev is None and not len(rows):
            return
        ref = ev.time_ns if ev is not None else self.ring.time_ns(rows[0])
        try:
            target = parse_target(text, ref)
        except ValueError as exc:
            self.notify(escape_text(str(exc)), severity="error", markup=False)
            return
        row = first_row_at(len(rows), lambda r: self.ring.time_ns(rows[r]), target)
        if row >= len(rows):
            self.notify("No event at or after that time.", severity="warning", timeout=2)
            row = len(rows) - 1
        self._main(EventsView).select_index(rows[row])
        self.update_status()

    def action_clear_filter(self) -> None:
        """Show every buffered event again."""
        self.set_filter(EventFilter())

    def action_set_level(self, level: int) -> None:
        """Show only events at this level or more severe."""
        self.set_filter(self.rows.filter.with_level(level))

    def action_search(self) -> None:
        """Open the search line."""
        box = self._main("#search", Input)
        box.add_class("-shown")
        box.value = self.search_text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        self.search_text = event.value
        event.input.remove_class("-shown")
        self._main(EventsView).focus()
        self.action_search_next(1)

    def on_key(self, event: events.Key) -> None:
        box = self._main("#search", Input)
        if event.key == "escape" and self._search is not None:
            self._search.cancel()
            self._search = None
            self.notify("search stopped", timeout=1)
            event.stop()
            return
        if event.key == "escape" and box.has_focus:
            box.remove_class("-shown")
            self._main(EventsView).focus()
            event.stop()

    def action_search_next(self, direction: int) -> None:
        """Select the next (1) or previous (-1) event matching the search text (searched
        on a worker thread; the status bar shows its progress)."""
        if not self.search_text:
            self.action_search()
            return
        from ._search import SearchWorker
        if self._search is not None:
            self._search.cancel()
        try:
            self._search = SearchWorker(self.ring, self.rows, self.search_text,
                                        self._main(EventsView).cursor_row, direction).start()
        except FilterError as exc:
            self._search = None
            self.notify(escape_text(str(exc)), severity="error", markup=False)

    def _poll_search(self) -> None:
        """Select the hit of a finished search (or say there was none)."""
        search = self._search
        if search is None or not search.done:
            return
        self._search = None
        if search.found is not None and self.ring.holds(search.found):
            self._main(EventsView).select_index(search.found)
            self.update_status()
            return
        self.notify(escape_text(f"not found: {search.text}"), severity="warning", timeout=2,
                    markup=False)

    # -- saving ---------------------------------------------------------------------------
    def action_save(self) -> None:
        """Save the filtered view to a JSON-lines file."""
        from ._prompt import PromptScreen
        def done(path: str | None) -> None:
            if path:
                self.save_view(Path(path).expanduser())
        self.push_screen(PromptScreen("Save the filtered view to (JSON lines):",
                                      "traceview-view.jsonl"), done)

    def save_view(self, path: Path) -> int:
        """Write the rows shown now to ``path``; return how many."""
        from ._export import save_jsonl
        rows = self.rows
        try:
            n = save_jsonl(path, self.ring, (rows[i] for i in range(len(rows))),
                           self._manifests())
        except OSError as exc:
            self.notify(escape_text(f"cannot save {path}: {exc.strerror or exc}"),
                        severity="error", markup=False)
            return 0
        self.notify(escape_text(f"saved {n:,} events to {path}"), timeout=3, markup=False)
        return n

    def _manifests(self) -> dict[str, Manifest]:
        out: dict[str, Manifest] = {}
        for log in self.feed.logs:
            out.update(log.reader.manifests)
        if self.index is not None:
            out.update(self.index.manifests)
        if self.hub is not None:
            out.update(self.hub.manifests())
        return out

    # -- opening logs, columns, the command palette ------------------------------------------
    def _close_index(self) -> None:
        if isinstance(self.rows, LogRows):
            self.rows.close()
        if self.index is not None:
            self.index.close()

    def open_logs(self, paths: list[Path]) -> None:
        """Show these logs (merged by time if several) instead of the current one.

        With a hub, a log's events join the live view instead (as on the command line).
        Raises ``TracerError``/``OSError`` for a file that is not a readable log.
        """
        if self.hub is not None or isinstance(self.ring, EventRing):
            for path in paths:
                self.feed.open_log(path, follow=self._follow_logs)
            self.update_status()
            return
        index = _open_index(paths, self._follow_logs)
        self._close_index()
        self.index = index
        self.ring = index
        self.rows = LogRows(index)
        self._shown_state = (0, 0, 0, 0)
        self._columns_learned = (-1, -1)
        view = self._main(EventsView)
        view.rows = self.rows
        view.cursor_index = None
        self.sub_title = ", ".join(str(p) for p in paths)
        self._show_index()
        view.rows_changed(reset=True)
        self.update_status()

    def action_open_log(self) -> None:
        """Open a saved log (or several, merged by time) from a dialog."""
        from ._open_screen import OpenLogScreen
        start = self.index.path.parent if self.index is not None else Path.cwd()
        self.push_screen(OpenLogScreen(start, self.open_logs))

    def action_columns(self) -> None:
        """Choose the columns shown (every field the manifests declare)."""
        from ._columns_screen import ColumnsScreen

        def done(keys: list[str] | None) -> None:
            if keys is None:
                return
            for col in self.columns.columns:
                self.columns.set_visible(col.key, col.key in keys)
            self._main(EventsView).columns_changed()
        self.push_screen(ColumnsScreen(self.columns), done)

    def get_system_commands(self, screen: Screen) -> Iterator[SystemCommand]:
        """The command palette (ctrl+p): Textual's commands and TraceView's."""
        yield from super().get_system_commands(screen)
        if screen is not self.screen_stack[0]:
            return
        yield SystemCommand("Open log", "Open a saved log, or several merged by time (o)",
                            self.action_open_log)
        yield SystemCommand("Filter", "Show only events matching a filter (f)",
                            self.action_filter)
        yield SystemCommand("Clear filter", "Show every event again (x)",
                            self.action_clear_filter)
        yield SystemCommand("Search", "Find text in the events (/)", self.action_search)
        yield SystemCommand("Follow / pause", "Follow new events, or stop (space)",
                            self.action_toggle_pause)
        yield SystemCommand("Columns", "Show or hide columns: every declared field (C)",
                            self.action_columns)
        yield SystemCommand("Sessions", "List, start and stop log sessions (s)",
                            self.action_sessions)
        yield SystemCommand("New session", "Create a log session (c)",
                            self.action_create_session)
        yield SystemCommand("Detail", "Show every field of the selected event (enter)",
                            self.action_toggle_detail)
        yield SystemCommand("Rates", "Show or hide the per-provider rates (r)",
                            self.action_toggle_rates)
        yield SystemCommand("Save view", "Save the shown events as a log (w)", self.action_save)
        merged = len(getattr(self.index, "labels", ())) > 1
        for col in self.columns.columns:
            if col.key != "message" and (col.key != "source" or merged or col.visible):
                verb = "Hide" if col.visible else "Show"
                label = escape_markup(escape_text(col.label))  # names are data; titles markup
                yield SystemCommand(f"{verb} column {label}", f"{verb} the {label} column",
                                    lambda key=col.key: self.toggle_column(key))
        for action, title in self._extra_commands():
            yield SystemCommand(title, f"{title} ({action})",
                                lambda a=action: self.run_action(a))

    def toggle_column(self, key: str) -> None:
        """Show a hidden column, hide a shown one (the command palette's column commands)."""
        self.columns.toggle(key)
        self._main(EventsView).columns_changed()

    def _extra_commands(self) -> list[tuple[str, str]]:
        """The other keys' actions (levels, decisions, and whatever else is bound)."""
        named = {"help", "create_session", "sessions", "toggle_pause", "search", "filter",
                 "clear_filter", "toggle_detail", "toggle_rates", "save", "open_log",
                 "columns", "quit"}  # quit: Textual lists it already
        out: dict[str, str] = {}
        for b in self.BINDINGS:
            if isinstance(b, Binding) and b.action not in named and b.description:
                out.setdefault(b.action, b.description)
        return list(out.items())

    # -- sessions -------------------------------------------------------------------------
    def _need_hub(self) -> SessionControl | None:
        if self.control is None:
            self.notify("No hub: this view shows a log file. Start traceview with --demo, "
                        "--replay or --hub to control sessions.", severity="warning")
        return self.control

    def action_sessions(self) -> None:
        """Open the sessions list."""
        from ._sessions_screen import SessionsScreen
        control = self._need_hub()
        if control is not None:
            self.push_screen(SessionsScreen(control, on_create=self.action_create_session,
                                            on_edit=self.edit_session))

    def action_create_session(self) -> None:
        """Open the Create New Log Session wizard."""
        from ._wizard import SessionWizard
        control = self._need_hub()
        if control is None:
            return
        names = {r.name for r in control.rows()}
        self._session_counter += 1
        while f"traceview-{self._session_counter}" in names:
            self._session_counter += 1
        self.push_screen(SessionWizard(control.manifests(), control.running(),
                                       on_start=self.start_session,
                                       default_name=f"traceview-{self._session_counter}"))

    def start_session(self, config: SessionConfig) -> None:
        """Start (and watch) a session; raises TracerError for the wizard to show."""
        assert self.control is not None
        self.control.start(config)
        self.notify(escape_text(f"session {config.name} started"), timeout=2, markup=False)
        self.update_status()

    def edit_session(self, name: str) -> None:
        """Open the wizard on a running session's providers, levels and keywords."""
        from ._wizard import SessionWizard
        control = self._need_hub()
        if control is None:
            return

        def apply(specs: list[ProviderEnable]) -> None:
            control.update(name, specs)
            self.notify(escape_text(f"session {name} updated"), timeout=2, markup=False)
        self.push_screen(SessionWizard(control.manifests(), control.running(), on_apply=apply,
                                       edit=(name, control.config(name))))

    # -- help -------------------------------------------------------------------------------
    def action_help(self) -> None:
        """Show every key."""
        from ._columns_screen import ColumnsScreen
        from ._decisions_panel import DecisionsPanel
        from ._filter_screen import FilterScreen
        from ._help import HelpScreen
        from ._open_screen import OpenLogScreen
        from ._sessions_screen import SessionsScreen
        from ._wizard import SessionWizard
        self.push_screen(HelpScreen([
            ("Events view", [*self.BINDINGS, Binding("ctrl+p", "command_palette",
                                                     "Command palette: every command"),
                             *EventsView.BINDINGS]),
            ("Decisions panel (d)", list(DecisionsPanel.BINDINGS)),
            ("Sessions list (s)", list(SessionsScreen.BINDINGS)),
            ("New session wizard (c)", list(SessionWizard.BINDINGS)),
            ("Filter dialog (f)", list(FilterScreen.BINDINGS)),
            ("Columns dialog (C)", list(ColumnsScreen.BINDINGS)),
            ("Open-log dialog (o)", list(OpenLogScreen.BINDINGS)),
        ]))
