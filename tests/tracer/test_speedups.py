"""The optional C accelerator behaves exactly like the Python code it replaces."""

from __future__ import annotations

import datetime as dt
import enum
import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracer._render as render_mod
from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig
from tracer._buffers import SessionBuffer
from tracer._render import Renderer

from .conftest import Demo

if render_mod.SPEEDUPS is None:
    pytest.skip("tracer._speedups is not built here (no C compiler or Python headers at "
                "install, or WFPTRACE_PURE is set): everything runs in pure Python",
                allow_module_level=True)

SPEEDUPS = render_mod.SPEEDUPS
P = Provider("speedups-test", keywords=["a"])
MIXED = P.event(1, "Mixed", Level.INFO, "a", {"s": str, "i": int, "f": float, "b": bytes,
                                               "x": list})
EMPTY = P.event(2, "Empty", Level.INFO, "a", {})


class Color(enum.Enum):
    RED = "red"


def _both(records: list[tuple], first_seq: int = 1) -> tuple[bytes, bytes]:
    """(C lines, Python lines) of the same batch, each from a fresh renderer."""
    fast = bytes(Renderer("s").render(records, first_seq, True, False)[0])
    saved, render_mod.SPEEDUPS = render_mod.SPEEDUPS, None
    try:
        slow = bytes(Renderer("s").render(records, first_seq, True, False)[0])
    finally:
        render_mod.SPEEDUPS = saved
    return fast, slow


values = st.one_of(
    st.none(), st.booleans(), st.text(), st.integers(min_value=-2**63, max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.binary(max_size=40),
    st.lists(st.integers(), max_size=4), st.dictionaries(st.text(max_size=5), st.integers(),
                                                          max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=253_402_300_799_999_999_999),
                          st.lists(values, max_size=7)), min_size=1, max_size=20))
def test_lines_equal_the_python_renderer(batch: list[tuple[int, list]]) -> None:
    """Any values, field counts (fewer, more) and times give the same bytes as Python."""
    records = [(ts, MIXED.index, 7, *args) for ts, args in batch]
    fast, slow = _both(records, first_seq=42)
    assert fast == slow


def test_every_ascii_character_is_escaped_as_msgspec_does() -> None:
    """Control characters, quotes and backslashes are escaped exactly like msgspec."""
    text = "".join(map(chr, range(128))) + "é\u2028\U0001f600"
    fast, slow = _both([(1, MIXED.index, 1, text)])
    assert fast == slow


def test_odd_types_are_encoded_by_msgspec() -> None:
    """Datetimes, UUIDs, enums and bytes take msgspec's encoding, as in Python."""
    when = dt.datetime(2026, 11, 22, 7, 0, tzinfo=dt.UTC)
    rec = (5, MIXED.index, 1, "s", 1, 0.5, b"\x00\xff", [when, uuid.UUID(int=7), Color.RED])
    fast, slow = _both([rec])
    assert fast == slow


def test_second_and_day_boundaries_in_one_batch() -> None:
    """Times across seconds, days, leap days and years all match Python's ISO format."""
    stamps = [0, 999_999_999, 1_000_000_000, 951_782_399_999_999_999, 951_782_400_000_000_000,
              4_102_444_800_000_000_000, 1_795_000_000_123_456_789, 253_402_300_799_999_999_999]
    fast, slow = _both([(ts, EMPTY.index, 1) for ts in stamps])
    assert fast == slow


def test_refused_values_fall_back_to_python(demo: Demo) -> None:
    """An int beyond 64 bits or a lone surrogate makes the C path give up; the line survives."""
    for bad in (2**80, "\ud800"):
        with pytest.raises((OverflowError, UnicodeEncodeError)):
            SPEEDUPS.render_lines([(1, demo.connect.index, 1, bad, 1)], 1,
                                  {demo.connect.index: (b'""', (b'"host":', b'"port":'), True,
                                                        False)},
                                  {}, render_mod._encoder.encode)
        blob, _ = Renderer("s").render([(1, demo.connect.index, 1, bad, 1)], 1, True, False)
        assert blob.count(b"\n") == 1 and orjson.loads(blob)["seq"] == 1


def test_times_before_1970_fall_back_to_python(demo: Demo) -> None:
    """A negative timestamp is refused by C and rendered by Python like before."""
    blob, _ = Renderer("s").render([(-1, demo.connect.index, 1, "h", 1)], 1, True, False)
    assert b'"time":"1969-12-31T23:59:59.999999999Z"' in blob


def test_thread_ids_are_mapped_for_local_providers(demo: Demo) -> None:
    """A local provider's thread ident becomes the OS thread id, as in Python."""
    import threading

    ident = threading.get_ident()
    fast, slow = _both([(1, demo.connect.index, ident, "h", 1)])
    assert fast == slow and f'"tid":{threading.get_native_id()}'.encode() in fast


def test_pure_python_passes_the_core_tests() -> None:
    """With WFPTRACE_PURE=1 (no accelerator) the emit, buffer, session and render tests pass:
    the Python reference stays tested."""
    tests = ["test_provider.py", "test_session.py", "test_render.py", "test_renderworker.py",
             "test_hub.py", "service/test_mirror.py"]
    here = os.path.dirname(__file__)
    env = {**os.environ, "WFPTRACE_PURE": "1"}
    code = "import tracer._accel as a; assert a.SPEEDUPS is None"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *(os.path.join(here, t) for t in tests)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:]


def test_writer_builds_flat_records_for_every_sink() -> None:
    """write() hands each sink (C or Python) one record (time_ns, index, tid, *args)."""
    import threading
    import time

    buf = SessionBuffer(8, 2)
    got: list[tuple] = []
    ev = MIXED
    ev._set_sinks((buf.put, got.append))
    try:
        before = time.time_ns()
        ev.write("a", 1, 2.5)
        after = time.time_ns()
    finally:
        ev._set_sinks(())
    assert type(buf.put).__name__ == "Sink" and type(ev.write).__name__ == "Writer"
    rec = got[0]
    assert before <= rec[0] <= after and rec[1:] == (ev.index, threading.get_ident(), "a", 1,
                                                     2.5)
    assert buf.take() == [rec]
    ev.write("ignored")  # no sinks: nothing happens
    assert got == [rec]


def test_records_waiting_in_buffers_are_not_walked_by_the_garbage_collector() -> None:
    """A record only session buffers hold is untracked (the collector skips it even with a
    list field); one a Python sink also receives stays tracked."""
    import gc

    buf = SessionBuffer(8, 2)
    got: list[tuple] = []
    try:
        MIXED._set_sinks((buf.put,))
        MIXED.write("a", 1, 2.5, b"", [1, 2])
        MIXED._set_sinks((buf.put, got.append))
        MIXED.write("b", 1, 2.5, b"", [3])
    finally:
        MIXED._set_sinks(())
    internal, shared = buf.take()
    assert not gc.is_tracked(internal) and internal[-1] == [1, 2]
    assert gc.is_tracked(shared) and got == [shared]


def test_writer_refuses_keyword_fields_and_passes_sink_errors() -> None:
    """Keyword fields are a TypeError (write_fields takes names); a failing sink's error
    reaches the caller, as in Python."""
    def boom(rec: tuple) -> None:
        raise RuntimeError("sink failed")

    MIXED._set_sinks((boom,))
    try:
        with pytest.raises(TypeError):
            MIXED.write(s="x")
        with pytest.raises(RuntimeError, match="sink failed"):
            MIXED.write("x")
    finally:
        MIXED._set_sinks(())


def test_sink_wakes_when_a_buffer_fills_and_counts_drops() -> None:
    """The C sink wakes the flush thread at one full buffer and drops past capacity."""
    buf = SessionBuffer(2, 2)
    buf.put((1, MIXED.index, 1))
    assert not buf.wake.is_set()
    buf.put((2, MIXED.index, 1))
    assert buf.wake.is_set()
    for ts in range(3, 7):
        buf.put((ts, MIXED.index, 1))
    assert buf.dropped == 2 and len(buf.take()) == 4
    window = buf.take_losses()
    assert window is not None and (window.count, window.first_ns, window.last_ns) == (2, 5, 6)
    buf.close()
    buf.put((7, MIXED.index, 1))
    assert buf.dropped == 3 and buf.put.__self__ is buf


def test_session_counts_match_with_the_c_emit_path(tmp_path: Path) -> None:
    """A session fed by the C writer and sink writes and counts every event exactly."""
    log = tmp_path / "c.jsonl"
    with Hub(load_installed=False) as hub:
        hub.register(P)
        hub.start_session(SessionConfig("c", [ProviderEnable(P.name)], file=log,
                                        buffer_size=64, buffer_count=2, flush_interval=0.001))
        for i in range(20_000):
            MIXED.write("s", i)
        stats = hub.stop_session("c")
    assert stats.events_written + stats.events_lost == stats.events_emitted == 20_000
    lines = [line for line in log.read_bytes().splitlines() if b'"type":"event"' in line]
    assert len(lines) == stats.events_written


def test_bad_arguments_raise_not_crash() -> None:
    """Malformed records or codecs raise Python errors (the caller falls back)."""
    codecs = {MIXED.index: (b'""', (), True)}
    enc = render_mod._encoder.encode
    for records, specs in (([(1, MIXED.index)], codecs), ([(1, 99_999, 1)], codecs),
                           ([("x", MIXED.index, 1)], codecs), ([5], codecs),
                           ([(1, MIXED.index, 1)], {MIXED.index: "bad"}),
                           ([(1, MIXED.index, 1)], {MIXED.index: (1, (), True)})):
        with pytest.raises((TypeError, ValueError, KeyError)):
            SPEEDUPS.render_lines(records, 1, specs, {}, enc)
    with pytest.raises(TypeError):
        SPEEDUPS.render_lines([], 1, {}, {})
