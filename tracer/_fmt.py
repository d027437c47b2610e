"""tracefmt: human text for events, with a WPP-style prefix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ._escape import escape_text
from ._event import Event
from ._render import dumps, safe_json

__all__ = ["format_event", "format_json"]


def format_event(event: Event) -> str:
    """``[pid.tid]::2026-11-22 02:20:00.123456789 [provider] LEVEL Event: message``.

    Text from the event's data is escaped (:func:`escape_text`): the line is safe to
    print to a terminal and is always one line.
    """
    sec, frac = divmod(event.time_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%d %H:%M:%S")
    provider = event.provider or "session"
    return (f"[{event.pid}.{event.tid}]::{stamp}.{frac:09d} [{escape_text(provider)}] "
            f"{event.level_name} {escape_text(event.name)}: "
            f"{escape_text(event.message)}")


def format_json(event: Event) -> str:
    """One JSON object per event, with the formatted message added (JSON escapes controls)."""
    data: dict[str, Any] = event.to_dict()
    data["message"] = event.message
    try:
        return dumps(data).decode()
    except Exception:  # values the encoder refuses: same fallback as the log files
        return safe_json(data).decode()
