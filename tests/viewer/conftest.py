"""Fixtures for TraceView tests: a real embedded hub with the demo providers, fixed events."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from tracer import Event, Hub
from viewer._demo import demo_providers, emit_batch

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC


@pytest.fixture
def hub() -> Iterator[Hub]:
    """An embedded hub with the demo providers registered (installed manifests skipped)."""
    with Hub(load_installed=False) as h:
        for p in demo_providers():
            h.register(p)
        yield h


def emit(n: int, seed: int = 1) -> None:
    """Emit ``n`` demo events from this thread."""
    emit_batch(random.Random(seed), n)


def fixed_events(n: int, start_seq: int = 1) -> list[Event]:
    """Deterministic inspect/msnmon-like events one millisecond apart."""
    out = []
    remotes = ["10.0.0.2", "10.0.0.7", "192.168.1.20"]
    for i in range(n):
        seq = start_seq + i
        if i % 3 == 0:
            out.append(Event(time_ns=T0 + i * 1_000_000, seq=seq, provider="demo.inspect",
                             name="ConnectPended", id=1, level=4, keywords=("connect",), pid=10,
                             tid=11, fields={"process": "curl", "pid": 4120, "protocol": "tcp",
                                             "local": "10.0.0.1", "local_port": 50000 + i,
                                             "remote": remotes[i % 3], "port": 443},
                             template="{process}[{pid}] {protocol} {local}:{local_port} -> "
                                      "{remote}:{port} pended"))
        elif i % 3 == 1:
            out.append(Event(time_ns=T0 + i * 1_000_000, seq=seq, provider="demo.msnmon",
                             name="Command", id=2, level=5, keywords=("command",), pid=10,
                             tid=12, fields={"direction": ">>>", "verb": "USR", "trid": i,
                                             "args": "TWN I alice@hotmail.com",
                                             "remote": remotes[i % 3]},
                             template="{direction} {verb} {trid} {args}"))
        else:
            out.append(Event(time_ns=T0 + i * 1_000_000, seq=seq, provider="demo.inspect",
                             name="DeciderTimeout", id=4, level=3, keywords=("decider",), pid=10,
                             tid=11, fields={"remote": remotes[i % 3], "port": 443,
                                             "waited_ms": 1500},
                             template="decider did not answer for {remote}:{port} in "
                                      "{waited_ms} ms, default verdict applied"))
    return out


def lost_marker(seq: int, count: int) -> Event:
    """An in-band loss record like the session writes."""
    return Event(time_ns=T0 + seq * 1_000_000, seq=seq, provider="", name="EventsLost", id=0,
                 level=3, keywords=(), pid=10, tid=0,
                 fields={"count": count, "first_ns": T0, "last_ns": T0 + 5_000_000}, kind="lost")


async def wait_for(pilot, predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``predicate()`` is true (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def screen_lines(view) -> list[str]:  # type: ignore[no-untyped-def]
    """The text of the events view's visible lines."""
    return [view.render_line(y).text for y in range(view.size.height)]
