"""Converting the hub's API types to and from wire values.

Session configs, provider enables, statistics and errors travel as plain maps;
real-time events travel as compact rows that refer to a per-connection table of
event types (provider, name, id, level, keywords, template, kind), sent once each.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson

from .. import _errors
from .._config import ProviderEnable, SessionConfig
from .._errors import ConfigError, TracerError
from .._event import Event
from .._levels import Level
from .._sink import SinkSpec
from .._stats import SessionStats
from . import _errors as service_errors

__all__ = [
    "EventPacker",
    "EventUnpacker",
    "config_from_wire",
    "config_to_wire",
    "enable_from_wire",
    "enable_to_wire",
    "error_from_wire",
    "error_to_wire",
    "stats_from_wire",
    "stats_to_wire",
]


# -- configs and statistics ----------------------------------------------------------------
def enable_to_wire(spec: ProviderEnable) -> dict[str, Any]:
    """A provider enable as a map."""
    out = dataclasses.asdict(spec)
    out["level"] = int(spec.level)
    return out


def enable_from_wire(data: Any) -> ProviderEnable:
    """The inverse of :func:`enable_to_wire`, validating types."""
    try:
        kw = data.get("keywords")
        return ProviderEnable(
            str(data["provider"]), Level(int(data.get("level", Level.VERBOSE))),
            tuple(str(k) for k in kw) if kw is not None else None,
            tuple(str(k) for k in data.get("match_all", ())),
            _opt_int(data.get("match_any_mask")), _opt_int(data.get("match_all_mask")))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"bad provider enable: {exc}") from None


def config_to_wire(config: SessionConfig) -> dict[str, Any]:
    """A session config as a map; a relative log path is made absolute here (the caller's cwd)."""
    out = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
           if f.name not in ("otlp", "sinks")}
    out["providers"] = [enable_to_wire(p) for p in config.providers]
    out["sinks"] = [sink_to_wire(s) for s in config.sinks]
    if config.otlp is not None:
        from tracer.otel import options_to_wire  # lazy: only sessions that export need it

        out["sinks"].append({"kind": "otlp", "target": None,
                             "options": options_to_wire(config.otlp)})
    out["file"] = str(Path(config.file).absolute()) if config.file is not None else None
    out["mode"] = str(getattr(config.mode, "value", config.mode))
    return out


def config_from_wire(data: Any) -> SessionConfig:
    """The inverse of :func:`config_to_wire`; the result is validated."""
    try:
        config = SessionConfig(
            name=str(data["name"]), providers=[enable_from_wire(p) for p in data["providers"]],
            realtime=bool(data.get("realtime", False)),
            file=str(data["file"]) if data.get("file") is not None else None,
            mode=str(data.get("mode", "sequential")), max_size=_opt_int(data.get("max_size")),
            buffer_size=int(data.get("buffer_size", 4096)),
            buffer_count=int(data.get("buffer_count", 64)),
            flush_interval=float(data.get("flush_interval", 0.2)),
            render_worker=bool(data.get("render_worker", False)),
            blocking=bool(data.get("blocking", False)),
            sinks=[sink_from_wire(s) for s in data.get("sinks", ())])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"bad session config: {exc}") from None
    config.validate()
    return config


#: Sinks that write where the hub process is, not where its client is.
_LOCAL_ONLY = {"stdout": "standard output is the hub's, not yours: use --realtime and print "
                         "the events here, or a file sink"}


def sink_to_wire(spec: SinkSpec) -> dict[str, Any]:
    """A sink spec as a map; sinks that only make sense in this process are refused."""
    if spec.kind in _LOCAL_ONLY:
        raise ConfigError(f"sink {spec} cannot run in the hub service: {_LOCAL_ONLY[spec.kind]}")
    target = spec.target
    if spec.kind == "file" and target is not None:
        target = str(Path(target).absolute())
    try:
        orjson.dumps(spec.options)
    except TypeError:
        raise ConfigError(f"sink {spec}'s options cannot cross the hub's wire") from None
    return {"kind": spec.kind, "target": target, "options": dict(spec.options)}


def sink_from_wire(data: Any) -> SinkSpec:
    """The inverse of :func:`sink_to_wire`, validating types."""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise ConfigError("bad sink: a map with a kind")
    target, options = data.get("target"), data.get("options") or {}
    if (target is not None and not isinstance(target, str)) or not isinstance(options, dict):
        raise ConfigError("bad sink: target must be a string and options a map")
    if data["kind"] in _LOCAL_ONLY:
        raise ConfigError(f"sink {data['kind']} cannot run in the hub service")
    return SinkSpec(data["kind"], target, {str(k): v for k, v in options.items()})


def stats_to_wire(stats: SessionStats) -> dict[str, Any]:
    """Session statistics as a map."""
    return stats.to_dict()


def stats_from_wire(data: dict[str, Any]) -> SessionStats:
    """The inverse of :func:`stats_to_wire`."""
    names = {f.name for f in dataclasses.fields(SessionStats)}
    return SessionStats(**{k: v for k, v in data.items() if k in names})


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


# -- errors --------------------------------------------------------------------------------
_ERRORS: dict[str, type[TracerError]] = {
    **{name: getattr(_errors, name) for name in _errors.__all__},
    **{name: getattr(service_errors, name) for name in service_errors.__all__},
}


def error_to_wire(exc: BaseException) -> list[str]:
    """``[class name, message]`` of an error, for a failed reply."""
    return [type(exc).__name__, str(exc)]


def error_from_wire(value: Any) -> TracerError:
    """The tracer error a failed reply describes (TracerError if the class is unknown)."""
    try:
        name, message = str(value[0]), str(value[1])
    except (IndexError, KeyError, TypeError):
        return service_errors.ProtocolError(f"malformed error reply {value!r}")
    return _ERRORS.get(name, TracerError)(message)


# -- real-time events ----------------------------------------------------------------------
TypeRow = tuple[str, str, int, int, list[str], str, str]


class EventPacker:
    """Hub side: events to rows, assigning each event type a small number once."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str, int, str, str], int] = {}

    def pack(self, events: list[Event]) -> tuple[dict[int, TypeRow], list[tuple]]:
        """New type entries and the rows for a batch of events."""
        new: dict[int, TypeRow] = {}
        rows = []
        keys = self._keys
        for e in events:
            k = (e.provider, e.name, e.level, e.template, e.kind)
            key = keys.get(k)
            if key is None:
                key = keys[k] = len(keys)
                new[key] = (e.provider, e.name, e.id, e.level, list(e.keywords), e.template,
                            e.kind)
            rows.append((e.time_ns, e.seq, key, e.pid, e.tid, e.fields, e.created_ns))
        return new, rows


class EventUnpacker:
    """Client side: rows back to :class:`~tracer.Event` objects."""

    def __init__(self, session: str) -> None:
        self.session = session
        self._types: dict[int, tuple] = {}

    def unpack(self, types: dict[int, TypeRow], rows: list[tuple]) -> list[Event]:
        """Events of one frame, after learning its new type entries."""
        for key, (provider, name, id_, level, keywords, template, kind) in types.items():
            self._types[key] = (provider, name, id_, level, tuple(keywords), template, kind)
        out = []
        session = self.session
        for ts, seq, key, pid, tid, fields, created in rows:
            provider, name, id_, level, keywords, template, kind = self._types[key]
            out.append(Event(ts, seq, provider, name, id_, level, keywords, pid, tid, fields,
                             template, kind, session, created))
        return out
