"""The wire format: length-prefixed msgpack frames, one typed message per frame.

A frame is a 4-byte big-endian payload length and a msgpack array whose first element
is the message tag. Messages are msgspec structs, so decoding validates every field at
C speed: a malformed, oversized or unexpected frame raises :class:`ProtocolError` and
the reader closes that connection only. Event batches carry many records per frame.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec

from .._fields import encode_default
from ._errors import ProtocolError

__all__ = [
    "MAGIC",
    "MAX_FRAME",
    "VERSION",
    "Enable",
    "Error",
    "Events",
    "FrameReader",
    "Hello",
    "Losses",
    "Ping",
    "Pong",
    "Record",
    "Register",
    "Reply",
    "Request",
    "SubEnd",
    "SubEvents",
    "Welcome",
    "client_decoder",
    "encode",
    "hub_decoder",
]

MAGIC = "wfptrace"
#: 2: real-time event rows carry ``created_ns``.
VERSION = 2
#: Largest payload either side accepts; a longer length prefix closes the connection.
MAX_FRAME = 4 << 20
_HEADER = 4
_READ_CHUNK = 256 << 10

Nanos = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]
U64 = Annotated[int, msgspec.Meta(ge=0)]


class _Msg(msgspec.Struct, array_like=True, frozen=True, tag_field="t"):
    """Base of every message: encoded as ``[tag, field, ...]``.

    msgspec passes ``frozen`` on to subclasses; each one says it again because type
    checkers read the dataclass options of every class on its own.
    """


# -- client -> hub --------------------------------------------------------------------------
class Hello(_Msg, tag=1, frozen=True):
    """First frame of every connection: magic, protocol version and role."""

    magic: str
    version: int
    role: str
    pid: int


class Request(_Msg, tag=4, frozen=True):
    """A control operation; the hub answers with a :class:`Reply` of the same id."""

    id: int
    op: str
    args: dict[str, Any]


class Register(_Msg, tag=6, frozen=True):
    """A provider registers its manifest (once, right after :class:`Hello`)."""

    manifest: dict[str, Any]


class Record(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One event: time, event id, field values, writer thread (ident, see ``Events.tids``)."""

    ts: Nanos
    eid: Annotated[int, msgspec.Meta(gt=0, lt=65536)]
    args: tuple[Any, ...]
    tid: U64


class Losses(msgspec.Struct, array_like=True, frozen=True):
    """Events a provider dropped (its buffer was full), overall and per event id."""

    count: Annotated[int, msgspec.Meta(gt=0)]
    first_ns: Nanos
    last_ns: Nanos
    by_event: dict[int, Annotated[int, msgspec.Meta(gt=0)]]


class Events(_Msg, tag=7, frozen=True):
    """A batch of records from a provider, with OS thread ids and loss report."""

    records: list[Record]
    tids: dict[int, int]
    losses: Losses | None = None


class Ping(_Msg, tag=9, frozen=True):
    """Asks for a :class:`Pong` once every earlier frame of this connection is handled."""

    token: int


# -- hub -> client --------------------------------------------------------------------------
class Welcome(_Msg, tag=2, frozen=True):
    """The hub accepts the connection: its version, pid and whether the peer is a controller."""

    version: int
    pid: int
    privileged: bool


class Error(_Msg, tag=3, frozen=True):
    """A fatal error; the hub closes the connection after sending it."""

    kind: str
    message: str


class Reply(_Msg, tag=5, frozen=True):
    """Answer to a :class:`Request` (or to :class:`Register`, with id 0)."""

    id: int
    ok: bool
    value: Any


class Enable(_Msg, tag=8, frozen=True):
    """A provider's combined enable state over every session (or a capture-state request)."""

    control: int
    level: int
    match_any: U64
    match_all: U64
    sessions: list[str]


class Pong(_Msg, tag=10, frozen=True):
    """Answer to :class:`Ping`."""

    token: int


class SubEvents(_Msg, tag=11, frozen=True):
    """Real-time events: new event-type entries, then ``[ts, seq, type, pid, tid, fields,
    created_ns]`` (``created_ns``: when the record was written, 0 if that is ``ts``)."""

    types: dict[int, tuple[str, str, int, int, list[str], str, str]]
    events: list[tuple[int, int, int, int, int, dict[str, Any], int]]


class SubEnd(_Msg, tag=12, frozen=True):
    """The subscription ended (the session stopped, or the hub is shutting down)."""

    reason: str


class ControlCall(_Msg, tag=13, frozen=True):
    """Hub -> provider: a control request (the IOCTL analog) for its control handler."""

    id: int
    request: dict[str, Any]


class ControlResult(_Msg, tag=14, frozen=True):
    """Provider -> hub: the answer to a :class:`ControlCall` (``value``: reply or error)."""

    id: int
    ok: bool
    value: Any


hub_decoder = msgspec.msgpack.Decoder(Hello | Request | Register | Events | Ping
                                      | ControlResult)
client_decoder = msgspec.msgpack.Decoder(Welcome | Error | Reply | Enable | Pong | SubEvents
                                         | SubEnd | ControlCall)
_encoder = msgspec.msgpack.Encoder(enc_hook=encode_default)


def frame(payload: bytes) -> bytes:
    """Prefix an encoded payload with its length."""
    return len(payload).to_bytes(_HEADER, "big") + payload


def encode(msg: Any) -> bytes:
    """One whole frame for a message."""
    return frame(_encoder.encode(msg))


def decode(decoder: msgspec.msgpack.Decoder, payload: bytes) -> Any:
    """Decode a payload, turning any malformation into :class:`ProtocolError`."""
    try:
        return decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError(f"malformed frame: {exc}") from None


class FrameReader:
    """Splits a stream socket into frame payloads; bounded by ``max_frame``."""

    def __init__(self, sock: socket.socket, max_frame: int = MAX_FRAME) -> None:
        self.sock = sock
        self.max_frame = max_frame
        self._buf = bytearray()

    def __iter__(self) -> Iterator[bytes]:
        """Yield payloads until the peer closes; raise ProtocolError on a bad length."""
        buf = self._buf
        while True:
            while len(buf) >= _HEADER:
                n = int.from_bytes(buf[:_HEADER], "big")
                if not 0 < n <= self.max_frame:
                    raise ProtocolError(f"frame length {n} outside 1..{self.max_frame}")
                if len(buf) < _HEADER + n:
                    break
                payload = bytes(buf[_HEADER:_HEADER + n])
                del buf[:_HEADER + n]
                yield payload
            chunk = self.sock.recv(_READ_CHUNK)
            if not chunk:
                if buf:
                    raise ProtocolError("connection closed in the middle of a frame")
                return
            buf += chunk
