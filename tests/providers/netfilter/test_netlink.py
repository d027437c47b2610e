"""Netlink framing helpers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from providers.netfilter._netlink import align, attr, iter_attrs, iter_messages, message


def test_attributes_round_trip_with_padding() -> None:
    """Encoded attributes are 4-byte aligned and decode to their type and value."""
    data = attr(1, b"abc") + attr(2, b"") + attr(3, b"12345")
    assert len(data) % 4 == 0
    spans = [(k, data[s:e]) for k, s, e in iter_attrs(data, 0, len(data))]
    assert spans == [(1, b"abc"), (2, b""), (3, b"12345")]


def test_messages_round_trip() -> None:
    """Several messages in one buffer are split by their headers."""
    buf = message(10, 1, 5, b"abcd") + message(11, 0, 6, b"xy" + b"\0\0")
    got = [(k, s, bytes(buf[b:e])) for k, _f, s, b, e in iter_messages(buf, len(buf))]
    assert got == [(10, 5, b"abcd"), (11, 6, b"xy\0\0")]
    assert align(5) == 8 and align(8) == 8


@given(st.binary(max_size=100))
def test_garbage_stops_iteration_without_raising(data: bytes) -> None:
    """Corrupt lengths end iteration instead of raising or looping."""
    assert len(list(iter_messages(data, len(data)))) <= len(data) // 16
    assert len(list(iter_attrs(data, 0, len(data)))) <= len(data) // 4
