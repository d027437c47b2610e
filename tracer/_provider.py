"""Providers and their typed event types, with ETW enable semantics.

The hot path is ``if EVENT.enabled: EVENT.write(...)``: ``enabled`` is a plain
attribute recomputed only when a session changes the provider's enable state, and
``write`` appends one tuple to each matching session's buffer.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from time import time_ns
from typing import Any

from ._accel import SPEEDUPS
from ._errors import ConfigError, ControlError, TooManySessionsError, UnknownKeywordError
from ._fields import TIME_FIELD, field_spec, is_wire_name, param_name
from ._levels import Level

__all__ = [
    "EVENT_TABLE",
    "MAX_SESSIONS",
    "ControlCode",
    "EnableState",
    "EventType",
    "Provider",
    "provider_guid",
]

#: ETW allows at most 8 sessions to enable one provider.
MAX_SESSIONS = 8
ALL_KEYWORDS = (1 << 64) - 1
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEMPLATE_RE = re.compile(r"{(@?[A-Za-z_][A-Za-z0-9_.]*)[^}]*}")
# The EventSource / TraceLogging name-hash namespace.
_ETW_NAMESPACE = bytes.fromhex("482C2DB2C39047C887F81A15BFC130FB")

Sink = Callable[[tuple], None]

#: Every EventType ever declared, by its ``index``. Records carry the index, not the
#: object, so buffered records hold no reference to a GC-tracked object and the
#: garbage collector untracks them (measured: ~2x cheaper writes with full buffers).
EVENT_TABLE: list[EventType] = []
_TABLE_LOCK = threading.Lock()


def provider_guid(name: str) -> uuid.UUID:
    """Derive a provider's GUID from its name exactly as EventSource/TraceLogging do."""
    digest = bytearray(hashlib.sha1(_ETW_NAMESPACE + name.upper().encode("utf-16-be")).digest())
    digest[7] = (digest[7] & 0x0F) | 0x50
    return uuid.UUID(bytes_le=bytes(digest[:16]))


class ControlCode(Enum):
    """What an enable callback is told: enable (or change), disable, or capture state."""

    ENABLE = 1
    DISABLE = 0
    CAPTURE_STATE = 2


@dataclass(frozen=True)
class EnableState:
    """The combined enable state over every session, as an ETW enable callback sees it."""

    control: ControlCode
    level: int
    match_any: int
    match_all: int
    sessions: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        """True while at least one session enables the provider."""
        return bool(self.sessions)


@dataclass(frozen=True)
class _SessionEnable:
    level: int
    match_any: int
    match_all: int
    sink: Sink


def _matches(level: int, keywords: int, s: _SessionEnable) -> bool:
    """ETW's rule: level <= session level; keyword 0 always passes, else any/all masks."""
    if level > s.level:
        return False
    if keywords == 0:
        return True
    return bool(keywords & s.match_any) and (keywords & s.match_all) == s.match_all


class EventType:
    """One typed event of a provider: id, name, level, keywords, fields, template."""

    __slots__ = ("_field_types", "_sinks", "_units", "_writer", "enabled", "fields", "id",
                 "index", "keyword_names", "keywords", "level", "name", "params", "provider",
                 "template", "timed", "write")

    #: Emit the event to every session that enables it, fields in declared order
    #: (see :meth:`_write`; a C ``Writer`` with the same semantics when built).
    write: Callable[..., None]

    def __init__(self, provider: Provider, id: int, name: str, level: Level, keywords: int,
                 fields: dict[str, str], template: str, units: dict[str, str] | None = None
                 ) -> None:
        self.provider = provider
        self.id = id
        self.name = name
        self.level = int(level)
        self.keywords = keywords
        self.keyword_names = provider.keyword_names(keywords)
        #: Wire names in declared order, and the Python names ``write_fields`` takes.
        self.fields = tuple(fields)
        self.params = tuple(param_name(n) for n in fields)
        self._field_types = fields
        self._units = units or {}
        #: The first field is ``@timestamp``, the event's own time (see tracer._fields).
        self.timed = bool(self.fields) and self.fields[0] == TIME_FIELD
        self.template = template
        self.enabled = False
        self._sinks: tuple[Sink, ...] = ()
        with _TABLE_LOCK:
            self.index = len(EVENT_TABLE)
            EVENT_TABLE.append(self)
        self._writer = SPEEDUPS.Writer(self.index) if SPEEDUPS is not None else None
        self.write = self._writer or self._write

    def _set_sinks(self, sinks: tuple[Sink, ...]) -> None:
        """Route the event to these sessions' sinks (empty: disabled)."""
        self._sinks = sinks
        if self._writer is not None:
            self._writer.sinks = sinks
        self.enabled = bool(sinks)

    def _write(self, *args: Any, _time_ns: Any = time_ns, _ident: Any = threading.get_ident
               ) -> None:
        """Emit the event to every session that enables it; fields in declared order.

        Each session receives the flat record ``(time_ns, event index, thread ident,
        *args)``; ``EVENT_TABLE[index]`` is this EventType. Flat, so that the garbage
        collector untracks it at its first pass (a nested args tuple kept it tracked
        for a second one: measured ~0.3 us more per buffered event).
        """
        sinks = self._sinks
        if sinks:
            rec = (_time_ns(), self.index, _ident()) + args  # noqa: RUF005 (faster than *args)
            for put in sinks:
                put(rec)

    def write_fields(self, **fields: Any) -> None:
        """Emit the event with fields given by Python name (``source_ip``; missing: None)."""
        if self._sinks:
            self.write(*self._bind((), fields))

    def _bind(self, args: tuple, kwargs: dict[str, Any]) -> tuple:
        values = list(args) + [None] * (len(self.fields) - len(args))
        for key, value in kwargs.items():
            try:
                values[self.params.index(key)] = value
            except ValueError:
                raise TypeError(f"{self.name} has no field {key!r}") from None
        return tuple(values)

    def manifest(self) -> dict[str, Any]:
        """This event's manifest entry."""
        return {"id": self.id, "name": self.name, "level": self.level,
                "keywords": list(self.keyword_names),
                "fields": [{"name": n, "type": t, "unit": self._units.get(n, "")}
                           for n, t in self._field_types.items()],
                "template": self.template}

    def __repr__(self) -> str:
        return f"<EventType {self.provider.name}/{self.name} id={self.id}>"


class Provider:
    """A named source of typed events, enabled by up to 8 sessions at once."""

    def __init__(self, name: str, keywords: Iterable[str] | Mapping[str, int] = (),
                 *, description: str = "", on_enable: Callable[[EnableState], None] | None = None,
                 pid: int | None = None) -> None:
        if not _NAME_RE.match(name):
            raise ConfigError(f"invalid provider name {name!r}")
        self.name = name
        self.guid = provider_guid(name)
        self.description = description
        self.keywords = _keyword_map(keywords)
        self.events: dict[str, EventType] = {}
        self.pid = os.getpid() if pid is None else pid
        #: False for mirrors of remote providers, whose records carry OS thread ids already.
        self.local_threads = pid is None
        self._callbacks: list[Callable[[EnableState], None]] = [on_enable] if on_enable else []
        self._control: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self._sessions: dict[str, _SessionEnable] = {}
        self._lock = threading.RLock()
        self.state = EnableState(ControlCode.DISABLE, 0, 0, 0, ())

    # -- definition -------------------------------------------------------------------
    def event(self, id: int, name: str, level: Level | int = Level.INFO,
              keywords: Iterable[str] | str = (), fields: Mapping[str, Any] | None = None,
              template: str = "") -> EventType:
        """Declare a typed event; the template may name any of its fields.

        ``fields`` maps wire names (``source.port``, see tracer._fields) to a type or
        ``(type, unit)``; ``@timestamp``, if declared, comes first.
        """
        if not _FIELD_RE.match(name) or name in self.events:
            raise ConfigError(f"invalid or duplicate event name {name!r} in {self.name}")
        if any(e.id == id for e in self.events.values()) or not 0 < id < 65536:
            raise ConfigError(f"invalid or duplicate event id {id} in {self.name}")
        typed, units = {}, {}
        for fname, spec in (fields or {}).items():
            if not is_wire_name(fname):
                raise ConfigError(f"invalid field name {fname!r} in {self.name}/{name}")
            typed[fname], units[fname] = field_spec(spec)
        _check_fields(f"{self.name}/{name}", typed)
        for ref in _TEMPLATE_RE.findall(template):
            if ref not in typed:
                raise ConfigError(f"template of {self.name}/{name} names unknown field {ref!r}")
        ev = EventType(self, id, name, Level(level), self.keyword_mask(keywords), typed,
                       template, units)
        self.events[name] = ev
        with self._lock:
            self._recompute_event(ev)
        return ev

    def keyword_mask(self, names: Iterable[str] | str) -> int:
        """The 64-bit mask of keyword names (a comma list or an iterable)."""
        if isinstance(names, str):
            names = [n for n in names.split(",") if n.strip()]
        mask = 0
        for n in names:
            n = n.strip()
            if n not in self.keywords:
                known = ", ".join(self.keywords) or "none"
                raise UnknownKeywordError(f"provider {self.name} has no keyword {n!r} "
                                          f"(known: {known})")
            mask |= self.keywords[n]
        return mask

    def keyword_names(self, mask: int) -> tuple[str, ...]:
        """The keyword names whose bits are set in ``mask``."""
        return tuple(n for n, bit in self.keywords.items() if mask & bit)

    def add_enable_callback(self, callback: Callable[[EnableState], None]) -> None:
        """Call ``callback`` with the combined state on every enable change and rundown."""
        self._callbacks.append(callback)

    def on_control(self, handler: Callable[[dict[str, Any]], dict[str, Any]] | None) -> None:
        """Set the handler of control requests (the IOCTL analog); None removes it."""
        self._control = handler

    def control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Hand a control request to the provider; its handler raises ControlError to refuse."""
        handler = self._control
        if handler is None:
            raise ControlError(f"provider {self.name} takes no control requests")
        if not isinstance(request, dict):
            raise ControlError("a control request is a JSON object")
        reply = handler(request)
        return reply if isinstance(reply, dict) else {"result": reply}

    def manifest(self) -> dict[str, Any]:
        """The provider's manifest, generated from its typed definitions."""
        return {"name": self.name, "guid": str(self.guid), "description": self.description,
                "keywords": {n: f"0x{m:x}" for n, m in self.keywords.items()},
                "events": [e.manifest() for e in sorted(self.events.values(), key=lambda e: e.id)]}

    # -- enable state (driven by sessions) --------------------------------------------
    def enable(self, session: str, level: int, match_any: int, match_all: int, sink: Sink) -> None:
        """Enable (or re-enable with new settings) the provider for one session."""
        with self._lock:
            if session not in self._sessions and len(self._sessions) >= MAX_SESSIONS:
                raise TooManySessionsError(
                    f"provider {self.name} is already enabled by {MAX_SESSIONS} sessions")
            self._sessions[session] = _SessionEnable(int(level), match_any, match_all, sink)
            self._recompute(ControlCode.ENABLE)

    def disable(self, session: str) -> None:
        """Remove one session's enable; the provider is disabled when none is left."""
        with self._lock:
            if self._sessions.pop(session, None) is None:
                return
            self._recompute(ControlCode.ENABLE if self._sessions else ControlCode.DISABLE)

    def capture_state(self) -> None:
        """Ask the provider to emit its rundown (ETW's EVENT_CONTROL_CODE_CAPTURE_STATE)."""
        state = self.state
        self._notify(EnableState(ControlCode.CAPTURE_STATE, state.level, state.match_any,
                                 state.match_all, state.sessions))

    def _recompute(self, control: ControlCode) -> None:
        for ev in self.events.values():
            self._recompute_event(ev)
        sessions = self._sessions.values()
        all_mask = ALL_KEYWORDS
        for s in sessions:
            all_mask &= s.match_all
        self.state = EnableState(
            control,
            max((s.level for s in sessions), default=0),
            _or_all(s.match_any for s in sessions),
            all_mask if self._sessions else 0,
            tuple(self._sessions))
        self._notify(self.state)

    def _recompute_event(self, ev: EventType) -> None:
        ev._set_sinks(tuple(s.sink for s in self._sessions.values()
                            if _matches(ev.level, ev.keywords, s)))

    def _notify(self, state: EnableState) -> None:
        for cb in list(self._callbacks):
            cb(state)

    def __repr__(self) -> str:
        return f"<Provider {self.name} {self.guid}>"


def _check_fields(where: str, typed: dict[str, str]) -> None:
    """Refuse a misplaced or mistyped ``@timestamp`` and two names for one parameter."""
    names = list(typed)
    if TIME_FIELD in typed and (names[0] != TIME_FIELD or typed[TIME_FIELD] != "int"):
        raise ConfigError(f"{where}: {TIME_FIELD} must be the first field, an int (ns)")
    params = [param_name(n) for n in names]
    if len(set(params)) != len(params):
        raise ConfigError(f"{where}: two fields share a Python name ({', '.join(names)})")


def _or_all(masks: Iterable[int]) -> int:
    out = 0
    for m in masks:
        out |= m
    return out


def _keyword_map(keywords: Iterable[str] | Mapping[str, int]) -> dict[str, int]:
    if isinstance(keywords, Mapping):
        items = list(keywords.items())
    else:
        items = [(name, 1 << i) for i, name in enumerate(keywords)]
    out: dict[str, int] = {}
    for name, mask in items:
        if not _FIELD_RE.match(name) or not 0 < mask <= ALL_KEYWORDS:
            raise ConfigError(f"invalid keyword {name!r}={mask!r}")
        out[name] = mask
    return out
