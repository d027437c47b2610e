"""Hostile input on the hub's socket closes that client only; the hub and others carry on."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import msgspec
import pytest

from tests.tracer.service.conftest import HubProcess, wait_for
from tests.tracer.service.procs import DEMO
from tracer import ProviderEnable, SessionConfig
from tracer.service import MAX_FRAME, VERSION, RemoteHub, connect
from tracer.service import _wire as wire


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One hub process for every hostile client of this module."""
    hub = HubProcess(tmp_path_factory.mktemp("hostile") / "hub.sock")
    yield hub
    hub.stop()


@pytest.fixture
def bystander(shared_hub: HubProcess) -> Iterator[RemoteHub]:
    """A well-behaved client connected before the hostile one."""
    with connect(shared_hub.path) as hub:
        yield hub


def _raw(path: os.PathLike[str]) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    s.settimeout(5)
    return s


def _hello(role: str = "client", version: int = VERSION) -> bytes:
    return wire.encode(wire.Hello(wire.MAGIC, version, role, os.getpid()))


def _answers(s: socket.socket) -> list[object]:
    """Every message the hub sends until it closes the connection."""
    out = []
    for payload in wire.FrameReader(s):
        out.append(wire.decode(wire.client_decoder, payload))
    return out


def _frame(obj: object) -> bytes:
    return wire.frame(msgspec.msgpack.encode(obj))


HOSTILE = {
    "garbage": b"\x00\x00\x00\x08GARBAGE!",
    "text": b"GET / HTTP/1.1\r\n\r\n",
    "oversized_length": (MAX_FRAME + 1).to_bytes(4, "big"),
    "zero_length": b"\x00\x00\x00\x00",
    "not_a_message": _frame({"hello": "world"}),
    "request_before_hello": wire.encode(wire.Request(1, "list_sessions", {})),
    "second_hello": _hello() + _hello(),
    "events_from_a_client": _hello() + _frame([7, [], {}, None]),
    "events_before_register": _hello("provider") + _frame([7, [], {}, None]),
    "bad_manifest": _hello("provider") + wire.encode(wire.Register({"name": 5})),
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_frame_closes_only_that_client(shared_hub, bystander, data):
    """The hub answers a bad frame with an error and hangs up; other clients are unaffected."""
    s = _raw(shared_hub.path)
    s.sendall(data)
    t0 = time.monotonic()
    answers = _answers(s)
    s.close()
    assert time.monotonic() - t0 < 3
    assert isinstance(answers[-1], wire.Error)
    assert answers[-1].kind == "ProtocolError"
    assert bystander.list_sessions() is not None
    assert bystander.privileged


def test_wrong_protocol_version_is_told_clearly(shared_hub):
    """A client speaking another version is told which version the hub speaks."""
    s = _raw(shared_hub.path)
    s.sendall(_hello(version=VERSION + 1))
    (error,) = _answers(s)
    assert isinstance(error, wire.Error)
    assert f"version {VERSION + 1} is not supported" in error.message
    assert f"speaks version {VERSION}" in error.message


def test_truncated_frame_then_hangup_leaves_the_hub_serving(shared_hub, bystander):
    """A client that dies in the middle of a frame costs nothing but its connection."""
    s = _raw(shared_hub.path)
    s.sendall(_hello() + b"\x00\x00\x10\x00partial")
    s.close()
    assert bystander.list_sessions() is not None


def test_malformed_batch_from_a_provider_marks_it_gone_and_sessions_keep_running(shared_hub):
    """A provider sending an unknown event id or unrenderable fields is cut off; sessions live."""
    with connect(shared_hub.path) as hub:
        hub.add_manifest(DEMO.manifest())
        hub.start_session(SessionConfig("victim", [ProviderEnable("svc-demo")], realtime=True))
        bad_batches = [
            [7, [[1, 99, [1, "x"], 1]], {}, None],      # event id the manifest lacks
            [7, [[1, 1, [{1: 2}, "x"], 1]], {}, None],  # dict with a non-string key
            [7, [[-5, 1, [1, "x"], 1]], {}, None],      # negative time
        ]
        for batch in bad_batches:
            s = _raw(shared_hub.path)
            s.sendall(_hello("provider") + wire.encode(wire.Register(DEMO.manifest())))
            wait_for(lambda: hub.query_session("victim").providers["svc-demo"]["status"]
                     == "registered")
            s.sendall(_frame(batch))
            answers = _answers(s)
            s.close()
            assert isinstance(answers[-1], wire.Error), batch
            wait_for(lambda: hub.query_session("victim").providers["svc-demo"]["status"]
                     == "gone")
        stats = hub.stop_session("victim")
    assert stats.state == "stopped" and stats.last_error is None
