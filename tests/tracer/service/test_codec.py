"""API types on the wire: configs, statistics, errors and real-time events round-trip."""

from __future__ import annotations

import pytest

from tracer import (
    ConfigError,
    Event,
    NoSuchSessionError,
    ProviderEnable,
    SessionConfig,
    TracerError,
)
from tracer.service import AccessDeniedError
from tracer.service import _codec as codec


def test_session_config_round_trips_with_an_absolute_log_path(tmp_path, monkeypatch):
    """A config survives the wire; a relative log path is resolved in the caller's cwd."""
    monkeypatch.chdir(tmp_path)
    config = SessionConfig("s", [ProviderEnable("p", keywords=("a",), match_all=("b",)),
                                 ProviderEnable("q", match_any_mask=0x3)],
                           realtime=True, file="rel.jsonl", buffer_size=16, buffer_count=4,
                           render_worker=True)
    back = codec.config_from_wire(codec.config_to_wire(config))
    assert back.providers == config.providers
    assert back.file == str(tmp_path / "rel.jsonl")
    assert (back.realtime, back.buffer_size, back.buffer_count) == (True, 16, 4)
    assert back.render_worker


@pytest.mark.parametrize("data", [None, {"name": "s"}, {"name": "s", "providers": "x"},
                                  {"name": "s", "providers": [], "buffer_size": "big"}])
def test_bad_session_configs_are_config_errors(data):
    """A malformed config from the wire is a ConfigError, never a crash."""
    with pytest.raises(ConfigError):
        codec.config_from_wire(data)


def test_errors_keep_their_class_and_message():
    """A hub-side error reaches the client as the same tracer error class."""
    for exc in (NoSuchSessionError("no session named 'x'"), AccessDeniedError("nope")):
        back = codec.error_from_wire(codec.error_to_wire(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
    assert type(codec.error_from_wire(["Weird", "m"])) is TracerError


def test_events_round_trip_and_send_each_type_once():
    """Real-time events come back equal; the event-type table is sent only for new types."""
    events = [Event(time_ns=i, seq=i, provider="p", name="E", id=1, level=4, keywords=("a",),
                    pid=9, tid=10, fields={"n": i}, template="n={n}") for i in range(3)]
    packer, unpacker = codec.EventPacker(), codec.EventUnpacker("s")
    types, rows = packer.pack(events)
    assert len(types) == 1
    back = unpacker.unpack(types, rows)
    assert [(e.seq, e.message, e.keywords, e.session) for e in back] == [
        (i, f"n={i}", ("a",), "s") for i in range(3)]
    assert packer.pack(events[:1])[0] == {}


def test_events_keep_their_write_time_across_the_hub():
    """An event with its own (packet) time keeps when it was recorded on the other side."""
    event = Event(5, 1, "p", "E", 1, 4, ("a",), 9, 10, {"n": 1}, "n={n}", created_ns=8)
    types, rows = codec.EventPacker().pack([event])
    (back,) = codec.EventUnpacker("s").unpack(types, rows)
    assert (back.time_ns, back.created_ns) == (5, 8)
