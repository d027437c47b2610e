"""Frames on the wire: length prefix, msgpack messages, validation, bounds."""

from __future__ import annotations

import socket
import threading

import msgspec
import pytest

from tracer.service import ProtocolError
from tracer.service import _wire as wire


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def test_frames_split_across_reads_come_out_whole():
    """A reader reassembles frames however the bytes arrive, and stops at a clean end."""
    a, b = _pair()
    msgs = [wire.Hello(wire.MAGIC, wire.VERSION, "client", 1), wire.Ping(7),
            wire.Request(3, "list_sessions", {"x": [1, 2]})]
    data = b"".join(wire.encode(m) for m in msgs)

    def drip() -> None:
        for i in range(0, len(data), 3):
            a.sendall(data[i:i + 3])
        a.close()
    threading.Thread(target=drip).start()
    got = [wire.decode(wire.hub_decoder, p) for p in wire.FrameReader(b)]
    assert got == msgs


def test_oversized_length_is_refused_before_reading_the_payload():
    """A length prefix above the limit raises at once, without waiting for the payload."""
    a, b = _pair()
    a.sendall((1000).to_bytes(4, "big"))
    with pytest.raises(ProtocolError, match=r"outside 1\.\.999"):
        next(iter(wire.FrameReader(b, max_frame=999)))


def test_end_of_stream_inside_a_frame_is_an_error():
    """A peer that hangs up mid-frame is reported as a protocol error."""
    a, b = _pair()
    a.sendall((10).to_bytes(4, "big") + b"abc")
    a.close()
    with pytest.raises(ProtocolError, match="middle of a frame"):
        list(wire.FrameReader(b))


@pytest.mark.parametrize("payload", [
    b"\xc1", msgspec.msgpack.encode([99]), msgspec.msgpack.encode([1, "x"]),
    msgspec.msgpack.encode([7, [[1, 0, [], 1]], {}, None]),
    msgspec.msgpack.encode([7, [[2**63, 1, [], 1]], {}, None]),
    msgspec.msgpack.encode([7, [[1, 1, [], 1]], {}, [0, 1, 2, {}]]),
], ids=["bad-opcode", "unknown-tag", "short-hello", "event-id-0", "time-overflow", "zero-loss"])
def test_malformed_messages_raise_protocol_errors(payload):
    """Every malformed message becomes a ProtocolError naming what is wrong."""
    with pytest.raises(ProtocolError, match="malformed frame"):
        wire.decode(wire.hub_decoder, payload)


def test_event_batches_keep_field_values_and_thread_ids():
    """An event batch round-trips its records, OS thread ids and loss report."""
    batch = wire.Events([wire.Record(5, 1, ("h", 443, b"\x00"), 2**64 - 1)], {2**64 - 1: 77},
                        wire.Losses(3, 1, 2, {1: 3}))
    assert wire.decode(wire.hub_decoder, wire.encode(batch)[4:]) == batch
