"""The open-log dialog: a path (several, merged by time), or a pick in a directory tree.

Whatever is wrong with the choice (no such file, a directory, unreadable, not a
wfptrace log, a log nothing has been written to yet) is said inline, in one line;
the dialog stays open for another try.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label, Static

from tracer import LogReader, TracerError

from ._safe import safe_text

__all__ = ["OpenLogScreen", "check_log"]


def check_log(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a wfptrace log (None: it can)."""
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path}: is a directory (pick a log file inside it)"
    try:
        LogReader(path)
    except TracerError as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


class OpenLogScreen(ModalScreen[None]):
    """Type a path (or several, space-separated) or pick a file; Enter opens, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    OpenLogScreen { align: center middle; }
    #open-box { width: 90; max-width: 100%; height: 80%; border: round $accent;
                padding: 0 1; background: $surface; }
    #open-tree { height: 1fr; }
    #open-error { color: $error; height: auto; }
    """

    def __init__(self, start: Path, opener: Callable[[list[Path]], None]) -> None:
        super().__init__()
        self.start = start if start.is_dir() else Path.cwd()
        self.opener = opener

    def compose(self) -> ComposeResult:
        with Vertical(id="open-box"):
            yield Label("Open a log (several paths: merged by time). Enter opens, Esc cancels.")
            yield Input(str(self.start) + "/", id="open-path",
                        placeholder="path/to/log.jsonl [another.jsonl ...]")
            yield DirectoryTree(self.start, id="open-tree")
            yield Static("", id="open-error")

    def on_mount(self) -> None:
        self.query_one("#open-path", Input).focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.query_one("#open-path", Input).value = str(event.path)
        self.open_paths([event.path])

    def on_directory_tree_directory_selected(
            self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        self.query_one("#open-path", Input).value = str(event.path) + "/"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            words = shlex.split(event.value)
        except ValueError as exc:
            self.show_error(f"cannot read the paths: {exc}")
            return
        if not words:
            self.show_error("type the path of a log file")
            return
        self.open_paths([Path(w).expanduser() for w in words])

    def open_paths(self, paths: list[Path]) -> None:
        """Open these logs, or say inline why not."""
        for path in paths:
            problem = check_log(path)
            if problem is not None:
                self.show_error(problem)
                return
        try:
            self.opener(paths)
        except (TracerError, OSError) as exc:
            self.show_error(str(exc))
            return
        self.dismiss(None)

    def show_error(self, message: str) -> None:
        """One line under the tree saying what is wrong (escaped: names are data)."""
        self.query_one("#open-error", Static).update(safe_text(message))

    def action_cancel(self) -> None:
        """Close without opening anything."""
        self.dismiss(None)
