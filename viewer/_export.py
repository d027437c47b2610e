"""Saving the filtered view as a wfptrace JSON-lines log (readable by ``traceview FILE``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer import Manifest, event_line, header_line

from ._ring import EventRing

if TYPE_CHECKING:
    from ._logindex import LogIndex

__all__ = ["save_jsonl"]


def _manifests(ring: EventRing | LogIndex, known: dict[str, Manifest]) -> list[dict[str, Any]]:
    """Known manifests of the providers in the ring, or ones rebuilt from its schemas."""
    out: dict[str, dict[str, Any]] = {}
    for s in ring.schemas:
        if not s.provider or s.kind != "event":
            continue
        if s.provider in known:
            out[s.provider] = known[s.provider].to_json()
            continue
        m = out.setdefault(s.provider, {"name": s.provider, "guid": "", "description": "",
                                        "keywords": {}, "events": []})
        for i, kw in enumerate(s.keywords):
            m["keywords"].setdefault(kw, f"0x{1 << i:x}")
        if all(e["name"] != s.name for e in m["events"]):
            m["events"].append({"id": s.id or len(m["events"]) + 1, "name": s.name, "level": 4,
                                "keywords": list(s.keywords), "fields": [],
                                "template": s.template})
    return list(out.values())


def save_jsonl(path: str | os.PathLike[str], ring: EventRing | LogIndex, indices: Iterable[int],
               manifests: dict[str, Manifest] | None = None) -> int:
    """Write a header and the events at ``indices``; return how many events were written."""
    path = Path(path)
    header = header_line("traceview-export", time.time_ns(), _manifests(ring, manifests or {}),
                         mode="sequential")
    n = 0
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(header + b"\n")
        for index in indices:
            if not ring.holds(index):
                continue
            f.write(event_line(ring.event(index)) + b"\n")
            n += 1
    tmp.replace(path)
    return n
