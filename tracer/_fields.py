"""Typed event fields: wire names, the type and unit names used in manifests, and how
values decode.

A field's wire name is what logs, TraceView, ``fmt`` and OTLP attributes show: an
identifier or a dotted path of identifiers (the Elastic Common Schema's ``source.ip``),
or ``@timestamp``, the event's own time. Python code binds a field by its parameter
name, the wire name with dots as underscores (``source_ip``).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from ._errors import ConfigError

__all__ = ["FIELD_TYPES", "TIME_FIELD", "UNITS", "decode_value", "encode_default",
           "field_spec", "is_wire_name", "param_name", "type_name"]

#: The field that holds the event's time (ns since the epoch: the packet's time, the
#: capture's in a replay). An event declares it first or not at all; it becomes the
#: record's ``time``, and the time the record was written its ``created``.
TIME_FIELD = "@timestamp"

#: Units a manifest may declare (UCUM, as OpenTelemetry uses them); "" for none (text,
#: identifiers such as ports and pids, flags).
UNITS = frozenset({"", "ns", "us", "ms", "s", "By", "1", "{packet}", "{event}",
                   "{connection}", "{command}", "{message}", "{rule}", "{flow}",
                   "{error}"})

_WIRE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

#: Manifest type name for each Python type an event field may declare.
FIELD_TYPES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    bytes: "bytes",
    list: "list",
    dict: "dict",
}


def type_name(tp: type | str) -> str:
    """Return the manifest name of a field type, accepting a Python type or a name."""
    if isinstance(tp, str):
        if tp in FIELD_TYPES.values():
            return tp
        raise ConfigError(f"unknown field type {tp!r}")
    try:
        return FIELD_TYPES[tp]
    except KeyError:
        allowed = ", ".join(t.__name__ for t in FIELD_TYPES)
        raise ConfigError(f"unsupported field type {tp!r}: use one of {allowed}") from None


def is_wire_name(name: str) -> bool:
    """True for a valid field name: ``@timestamp``, ``port`` or ``source.port``."""
    return name == TIME_FIELD or bool(_WIRE_RE.match(name))


def param_name(name: str) -> str:
    """The Python parameter name of a field (``source.ip`` -> ``source_ip``)."""
    return name.lstrip("@").replace(".", "_")


def field_spec(spec: Any) -> tuple[str, str]:
    """``(type name, unit)`` from a declaration: a type, a type name, or (type, unit)."""
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], str):
            raise ConfigError(f"a field declaration is a type or (type, unit), not {spec!r}")
        tp, unit = spec
    else:
        tp, unit = spec, ""
    if unit not in UNITS:
        raise ConfigError(f"unknown unit {unit!r}: use one of {sorted(UNITS)}")
    return type_name(tp), unit


def encode_default(value: Any) -> Any:
    """JSON fallback for odd values: bytes become base64 (as msgspec encodes them),
    sets and tuples lists, anything else its ``str()``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def decode_value(type_: str, value: Any) -> Any:
    """Turn a JSON value back into the declared type; keep it as is if it does not fit."""
    if type_ == "bytes" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return value
    if type_ == "float" and isinstance(value, int):
        return float(value)
    return value
