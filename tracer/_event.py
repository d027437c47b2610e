"""Decoded events: what real-time consumers, log readers and viewers receive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ._levels import Level
from ._manifest import format_message

__all__ = ["LOST_EVENT_NAME", "Event"]

#: Event name of the in-band record that reports dropped events.
LOST_EVENT_NAME = "EventsLost"


class Event:
    """One event as a consumer sees it: envelope, typed fields and formatted message.

    ``kind`` is ``"event"`` for provider events and ``"lost"`` for the in-band record
    "N events lost between t1 and t2" (its fields: count, first_ns, last_ns).

    The arguments may be given by position, in the order below: the session's decoder
    does so, as a positional call costs a third of a keyword call.
    ``time_ns`` is when the event happened (the packet's time, the capture's in a
    replay); ``created_ns`` when it was recorded, if that differs (else 0).
    """

    __slots__ = ("_message", "created_ns", "fields", "id", "keywords", "kind", "level", "name",
                 "pid", "provider", "seq", "session", "template", "tid", "time_ns")

    def __init__(self, time_ns: int, seq: int, provider: str, name: str, id: int, level: int,
                 keywords: tuple[str, ...], pid: int, tid: int, fields: dict[str, Any],
                 template: str = "", kind: str = "event", session: str = "",
                 created_ns: int = 0) -> None:
        self.time_ns = time_ns
        self.created_ns = created_ns
        self.seq = seq
        self.provider = provider
        self.name = name
        self.id = id
        self.level = level
        self.keywords = keywords
        self.pid = pid
        self.tid = tid
        self.fields = fields
        self.template = template
        self.kind = kind
        self.session = session
        self._message: str | None = None

    @property
    def message(self) -> str:
        """The message formatted from the manifest's template (cached)."""
        if self._message is None:
            if self.kind == "lost":
                self._message = lost_message(self.fields)
            else:
                self._message = format_message(self.template, self.fields)
        return self._message

    @property
    def time(self) -> datetime:
        """The event time as an aware UTC datetime (microsecond precision)."""
        return datetime.fromtimestamp(self.time_ns / 1e9, UTC)

    @property
    def level_name(self) -> str:
        """The level's name, e.g. ``INFO``."""
        try:
            return Level(self.level).name
        except ValueError:
            return str(self.level)

    def to_dict(self) -> dict[str, Any]:
        """The event as the JSON-lines record (without the time string)."""
        created = {"created_ns": self.created_ns} if self.created_ns else {}
        return {"type": self.kind, "seq": self.seq, "time_ns": self.time_ns, **created,
                "provider": self.provider, "event": self.name, "id": self.id,
                "level": self.level, "keywords": list(self.keywords), "pid": self.pid,
                "tid": self.tid, "fields": self.fields}

    def __repr__(self) -> str:
        return f"<Event #{self.seq} {self.provider}/{self.name} {self.message!r}>"


def lost_message(fields: dict[str, Any]) -> str:
    """Text of the in-band loss record."""
    text = (f"{fields.get('count', '?')} events lost between "
            f"{iso_time(fields.get('first_ns', 0))} and {iso_time(fields.get('last_ns', 0))}")
    reasons = fields.get("reasons")
    if isinstance(reasons, dict) and reasons:
        text += " (" + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) + ")"
    return text


def iso_time(ns: int) -> str:
    """UTC ISO-8601 with nanoseconds, e.g. ``2026-11-22T02:20:00.123456789Z``."""
    sec, frac = divmod(int(ns), 1_000_000_000)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{frac:09d}Z"
