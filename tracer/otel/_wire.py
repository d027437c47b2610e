"""Protocol-buffers wire encoding of OTLP attribute values, by hand.

Building ``opentelemetry-proto`` message objects costs a few microseconds per
attribute; encoding straight to bytes with precomputed keys is several times
cheaper, and the bytes decode with the official messages (the tests check that).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

__all__ = ["VARINT", "any_value", "attribute", "field_bytes", "field_fixed64", "key_prefix",
           "varint"]

_MASK64 = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
VARINT = tuple(bytes([n]) if n < 0x80 else bytes([(n & 0x7F) | 0x80, n >> 7])
                for n in range(1 << 14))
_pack_d = struct.Struct("<d").pack
_pack_q = struct.Struct("<Q").pack
MAX_VALUE_LEN = 4096


def varint(n: int) -> bytes:
    """The unsigned varint encoding of ``n`` (negative numbers as 64-bit two's complement)."""
    if 0 <= n < 16384:
        return VARINT[n]
    n &= _MASK64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field_bytes(tag: int, payload: bytes) -> bytes:
    """A length-delimited field: ``tag`` is the precomputed key byte (number << 3 | 2)."""
    n = len(payload)
    return bytes((tag,)) + (VARINT[n] if n < 16384 else varint(n)) + payload


def field_fixed64(tag: int, value: int) -> bytes:
    """A fixed64 field (times in nanoseconds)."""
    return bytes((tag,)) + _pack_q(value & _MASK64)


def key_prefix(key: str) -> bytes:
    """The encoded ``KeyValue.key`` field, to be computed once per attribute name."""
    return field_bytes(0x0A, key.encode())


def _str(v: str) -> bytes:
    if len(v) > MAX_VALUE_LEN:
        v = v[:MAX_VALUE_LEN]
    e = v.encode("utf-8", "surrogatepass")
    n = len(e)
    return b"\x0a" + (VARINT[n] if n < 16384 else varint(n)) + e


def _int(v: int) -> bytes:
    if _INT64_MIN <= v <= _INT64_MAX:
        return b"\x18" + (VARINT[v] if 0 <= v < 16384 else varint(v))
    return _str(str(v))


def _bool(v: bool) -> bytes:
    return b"\x10\x01" if v else b"\x10\x00"


def _float(v: float) -> bytes:
    return b"\x21" + _pack_d(v)


def _bytes(v: bytes) -> bytes:
    return field_bytes(0x3A, bytes(v[:MAX_VALUE_LEN]))


def _array(v: Any) -> bytes:
    return field_bytes(0x2A, b"".join(field_bytes(0x0A, any_value(x)) for x in v))


def _kvlist(v: dict) -> bytes:
    return field_bytes(0x32, b"".join(field_bytes(0x0A, attribute(key_prefix(str(k)), x))
                                      for k, x in v.items() if x is not None))


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    str: _str, int: _int, bool: _bool, float: _float, bytes: _bytes, bytearray: _bytes,
    list: _array, tuple: _array, dict: _kvlist,
}


def any_value(v: Any) -> bytes:
    """The encoded body of an ``AnyValue`` for a Python value (unknown types as text)."""
    enc = _ENCODERS.get(v.__class__)
    if enc is None:
        return _str(str(v)) if v is not None else b""
    return enc(v)


def attribute(prefix: bytes, v: Any) -> bytes:
    """The body of one ``KeyValue``: a precomputed :func:`key_prefix` and a value."""
    val = any_value(v)
    n = len(val)
    return prefix + b"\x12" + (VARINT[n] if n < 16384 else varint(n)) + val
