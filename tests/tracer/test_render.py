"""JSON-line rendering through the structlog processor chain."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig, read_log
from tracer import _render as render_mod
from tracer._event import iso_time
from tracer._render import Renderer

from .conftest import Demo


def _records(demo: Demo) -> list[tuple]:
    return [(1_795_000_000_123_456_789, demo.connect.index, 7, "h\u00e9\"x", 1),
            (1_795_000_001_000_000_001, demo.write.index, 8, "/p", 2, b"\x01"),
            (1_795_000_002_000_000_000, demo.connect.index, 9, "short")]


def test_fast_path_equals_structlog_chain(demo: Demo) -> None:
    """The precompiled renderer produces the same bytes as structlog's JSONRenderer chain."""
    fast = Renderer("s")
    chain = Renderer("s", processors=[lambda _l, _m, ed: ed])
    assert fast.fast and not chain.fast
    a, _ = fast.render(_records(demo), 1, True, False)
    b, _ = chain.render(_records(demo), 1, True, False)
    assert a == b and a.count(b"\n") == 3
    second = datetime.fromtimestamp(1_795_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    first, wrote_bytes, short = (orjson.loads(line) for line in a.splitlines())
    assert first["time"] == second + ".123456789Z"
    assert wrote_bytes["fields"]["data"] == "AQ=="  # bytes as base64
    assert short["fields"] == {"host": "short"}


def test_user_processors_extend_the_chain(demo: Demo, hub: Hub, tmp_path: Path) -> None:
    """A user processor added to the session can enrich every line of the file."""
    log = tmp_path / "p.jsonl"

    def add_env(_logger, _method, event_dict):
        event_dict["env"] = "lab"
        return event_dict

    hub.start_session(SessionConfig("p", [ProviderEnable("test-demo")], file=log),
                      processors=[add_env])
    demo.connect.write("h", 1)
    hub.stop_session("p")
    lines = log.read_bytes().splitlines()[1:]
    assert orjson.loads(lines[0])["env"] == "lab"
    assert [e.fields for e in read_log(log)] == [{"host": "h", "port": 1}]


def test_odd_values_never_break_rendering(demo: Demo) -> None:
    """Values of undeclared types are rendered as strings, never raising."""
    r = Renderer("s")
    blob, events = r.render([(1, demo.connect.index, 1, object(), {1, 2})], 1, True, True)
    assert orjson.loads(blob)["fields"]["port"] == [1, 2]
    assert events[0].message.startswith("Connecting to <object")


def test_unserialisable_fields_still_give_a_line(demo: Demo) -> None:
    """Non-string keys and integers beyond 64 bits are rendered, not raised."""
    r = Renderer("s")
    rec = (1, demo.connect.index, 1, {1: "a", (2, 3): "b"}, 2**80)
    blob, _ = r.render([rec], 1, True, False)
    fields = orjson.loads(blob)["fields"]
    assert fields["host"]["1"] == "a" and fields["port"] == 2**80


def test_session_survives_a_provider_passing_odd_values(demo: Demo, hub: Hub,
                                                        tmp_path: Path) -> None:
    """A session keeps writing after an event whose fields orjson cannot encode."""
    log = tmp_path / "odd.jsonl"
    hub.start_session(SessionConfig("odd", [ProviderEnable("test-demo")], file=log))
    demo.connect.write({(1, 2): "tuple key"}, 1)
    demo.connect.write("fine", 2)
    stats = hub.stop_session("odd")
    assert stats.events_written == 2 and stats.last_error is None
    assert [e.fields["port"] for e in read_log(log)] == [1, 2]


def test_event_time_is_the_packet_time_and_created_the_write_time() -> None:
    """An event with @timestamp gets it as ``time`` and the write time as ``created``,
    identically from the C, Python and structlog-chain renderers and back from the log."""
    p = Provider("test-timed")
    ev = p.event(1, "Seen", Level.INFO, (), {"@timestamp": (int, "ns"), "source.ip": str},
                 "{source.ip}")
    records = [(1_795_000_000_000_000_005, ev.index, 1, 1_600_000_000_000_000_007, "a"),
               (1_795_000_000_000_000_009, ev.index, 1, None, "b")]
    fast, events = Renderer("s").render(records, 1, True, True)
    chain, _ = Renderer("s", processors=[lambda _l, _m, ed: ed]).render(records, 1, True, False)
    saved, render_mod.SPEEDUPS = render_mod.SPEEDUPS, None
    try:
        python, _ = Renderer("s").render(records, 1, True, False)
    finally:
        render_mod.SPEEDUPS = saved
    assert fast == chain == python
    seen, untimed = (orjson.loads(line) for line in fast.splitlines())
    assert seen["time"] == iso_time(1_600_000_000_000_000_007)
    assert seen["created"] == iso_time(1_795_000_000_000_000_005)
    assert seen["fields"] == {"source.ip": "a"}
    assert untimed["time"] == iso_time(1_795_000_000_000_000_009) and "created" not in untimed
    assert (events[0].time_ns, events[0].created_ns) == (1_600_000_000_000_000_007,
                                                         1_795_000_000_000_000_005)
    assert events[0].message == "a"
