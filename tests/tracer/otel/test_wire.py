"""Hand-encoded attribute values decode with the official opentelemetry-proto messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.tracer.otel.receiver import value_of
from tracer.otel._wire import MAX_VALUE_LEN, any_value, attribute, key_prefix, varint


def decode(value: object) -> object:
    return value_of(AnyValue.FromString(any_value(value)))


@pytest.mark.parametrize("value", ["", "USR", "ünïcødé ✓", 0, 1, 16383, 16384, -1, -(1 << 63),
                                   (1 << 63) - 1, True, False, 1.5, -0.25, b"\x00\xff",
                                   ["a", 1, True], {"k": "v", "n": 2}])
def test_scalar_and_nested_values_round_trip(value: object) -> None:
    """Strings, ints (incl. negative and int64 limits), bools, floats, bytes, lists and
    dicts decode to the same value."""
    assert decode(value) == value


def test_integers_beyond_int64_become_strings() -> None:
    """An int that does not fit int64 is kept as its decimal text rather than wrapped."""
    assert decode(1 << 70) == str(1 << 70)


def test_long_strings_are_truncated_to_the_value_limit() -> None:
    """A huge string attribute is cut at MAX_VALUE_LEN characters."""
    assert decode("x" * (MAX_VALUE_LEN + 10)) == "x" * MAX_VALUE_LEN


def test_attribute_is_a_keyvalue() -> None:
    """attribute() with a key prefix is a KeyValue body."""
    kv = KeyValue.FromString(attribute(key_prefix("network.peer.port"), 1863))
    assert kv.key == "network.peer.port" and kv.value.int_value == 1863


@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_varint_matches_protobuf(n: int) -> None:
    """varint() encodes like protobuf's uint64 (checked through a decoded int_value)."""
    raw = b"\x18" + varint(n)
    got = AnyValue.FromString(raw).int_value
    assert got == (n if n < 1 << 63 else n - (1 << 64))


@given(st.text(max_size=200))
def test_any_text_round_trips(text: str) -> None:
    """Any Unicode text without lone surrogates survives encoding."""
    assert decode(text) == text
