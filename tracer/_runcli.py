"""What every command that runs a session shares: ``--sink`` options, ending the run
when its output closes, and the summary line that says whether anything was lost."""

from __future__ import annotations

import _thread
import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ._hub import Hub
from ._session import Session
from ._sink import OUTPUT_CLOSED, SinkSpec, parse_sink_spec, sink_kinds
from ._stats import SessionStats

__all__ = ["add_sink_options", "end_on_closed_output", "lost_reasons_text", "run_summary",
           "run_to_end", "sinks_from_args"]

T = TypeVar("T")

def add_sink_options(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--sink KIND[:TARGET]`` option."""
    parser.add_argument(
        "--sink", action="append", default=[], metavar="KIND[:TARGET]", type=parse_sink_spec,
        help="where events go, repeatable: file:PATH, stdout (JSON lines), stdout:text, "
             f"realtime, otlp[:ENDPOINT] (known kinds: {', '.join(sink_kinds())})")


def sinks_from_args(args: argparse.Namespace) -> list[SinkSpec]:
    """The sinks ``--sink`` asked for (none if the command has no such option)."""
    return list(getattr(args, "sink", None) or [])


def run_to_end(hub: Hub, name: str, work: Callable[[], T]) -> tuple[T, SessionStats] | None:
    """Run ``work`` feeding session ``name``, then stop the session.

    Returns the work's result and the final statistics, or None when a sink ended the
    run first (its output pipe closed): then the session is stopped and the caller
    ends quietly, as ``yes | head`` does.
    """
    with end_on_closed_output(hub.session(name)) as closed:
        try:
            result = work()
        except KeyboardInterrupt:
            if not closed:
                raise
            hub.stop_session(name)
            return None
    return result, hub.stop_session(name)


@contextmanager
def end_on_closed_output(session: Session) -> Iterator[list[str]]:
    """Stop the run (as Ctrl-C would) when a sink ends it, e.g. ``| head`` closed stdout.

    Yields a list that holds the reason once that happened; the caller catches the
    ``KeyboardInterrupt`` and, if the list is not empty, ends quietly.
    """
    reasons: list[str] = []

    def ended(reason: str) -> None:
        if not reasons:
            reasons.append(reason)
            _thread.interrupt_main()

    session.on_end(ended)
    yield reasons


def _only_closed_output(stats: SessionStats) -> bool:
    return all(set(s.get("lost_reasons", {})) <= {OUTPUT_CLOSED} for s in stats.sinks) \
        and not stats.events_dropped


def lost_reasons_text(sink: dict[str, Any]) -> str:
    """A sink's losses by reason, e.g. ``3 output closed, 5 write failed``."""
    return ", ".join(f"{n} {r}" for r, n in sorted(sink.get("lost_reasons", {}).items()))


def run_summary(stats: SessionStats) -> tuple[str, bool]:
    """One line on what the session delivered to each sink, and False if it lost any.

    Events that a closed output refused (``| head``) do not count as a failure; what a
    sink lost past its own hop (``downstream_lost``, e.g. spans at export) does.
    """
    parts, downstream = [], 0
    for s in stats.sinks:
        text = f"{s['name']} {s['written']}"
        if s.get("lost"):
            text += f" (LOST {s['lost']}: {lost_reasons_text(s)})"
        if s.get("downstream"):
            text += f" -> {s['downstream']}"
        downstream += int(s.get("downstream_lost", 0))
        parts.append(text)
    line = f"session {stats.name}: events written: " + ("; ".join(parts) or "no sink")
    if stats.events_dropped:
        line += f"; LOST {stats.events_dropped} in full buffers"
    ok = (not stats.lost_anywhere or _only_closed_output(stats)) and not downstream
    return line, ok
