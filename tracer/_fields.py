"""Typed event fields: the type names used in manifests and how values decode."""

from __future__ import annotations

import base64
from typing import Any

from ._errors import ConfigError

__all__ = ["FIELD_TYPES", "decode_value", "encode_default", "type_name"]

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
