"""The JSON-lines log format in one place: the header line and an event's record line.

Sessions, TraceView's export and every command that prints JSON write this format,
so ``wfptrace fmt`` and TraceView read back whatever any of them wrote.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import orjson

from ._event import Event, iso_time
from ._fields import encode_default

__all__ = ["LOG_FORMAT", "LOG_VERSION", "event_line", "header_line"]

LOG_FORMAT = "wfptrace-jsonl"
LOG_VERSION = 1


def header_line(session: str, start_ns: int, providers: list[dict[str, Any]],
                **extra: Any) -> bytes:
    """The header (no newline): format, session, start, host, pid, manifests, ``extra``."""
    return orjson.dumps({
        "type": "header", "format": LOG_FORMAT, "version": LOG_VERSION, "session": session,
        "start_time": iso_time(start_ns), "start_ns": start_ns, "host": socket.gethostname(),
        "pid": os.getpid(), **extra, "providers": providers})


def event_line(event: Event) -> bytes:
    """An event's record (no newline), as a session writes it, with its message."""
    times = {"time": iso_time(event.time_ns)}
    if event.created_ns:
        times["created"] = iso_time(event.created_ns)
    return orjson.dumps({
        "type": event.kind, **times, "seq": event.seq,
        "provider": event.provider, "event": event.name, "id": event.id, "level": event.level,
        "keywords": list(event.keywords), "pid": event.pid, "tid": event.tid,
        "fields": event.fields, "message": event.message}, default=encode_default)
