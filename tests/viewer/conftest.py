"""Fixtures for TraceView tests: a real embedded hub with the demo's (real) providers,
and events of those providers' own event types."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from providers.inspect._events import CONNECTION_PENDED, DECISION_TIMEOUT
from providers.msnmon._events import COMMAND, TRANSACTION
from tracer import Event, EventType, Hub
from viewer._demo import demo_providers

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
_VERBS = ["VER", "CVR", "USR", "SYN", "CHG", "PNG", "MSG", "XFR"]


@pytest.fixture
def hub() -> Iterator[Hub]:
    """An embedded hub with the demo providers registered (installed manifests skipped)."""
    with Hub(load_installed=False) as h:
        for p in demo_providers():
            h.register(p)
        yield h


CID = "network.community_id"


def _pended(i: int, remote: str = "10.0.0.2") -> dict[str, Any]:
    return {"conn_id": i // 3 + 1, CID: f"1:flow{i}=", "network.transport": "tcp",
            "source.ip": "10.0.0.1", "source.port": 50000 + i, "destination.ip": remote,
            "destination.port": 1863, "network.direction": "egress", "layer": "connect",
            "process.executable": "/usr/bin/msnmsgr", "process.pid": 3100}


def _command(i: int, verb: str = "USR") -> dict[str, Any]:
    return {CID: f"1:flow{i - 1}=", "network.direction": "egress", "verb": verb,
            "trid": i, "args": ["TWN", "I", "alice@sim.test"], "payload_len": 0,
            "role": "notification", "legacy_class": "client_server", "offset": 0}


def _transaction(i: int) -> dict[str, Any]:
    return {CID: f"1:flow{i - 1}=", "trid": i, "request_verb": "USR",
            "reply_verb": "USR", "latency_us": 120, "error": 0, "role": "notification"}


def _timeout(i: int) -> dict[str, Any]:
    return {"conn_id": i // 3 + 1, CID: f"1:flow{i - 2}=", "verdict": "permit",
            "timeout_s": 15.0, "reason": "timeout"}


def emit(n: int, seed: int = 1) -> None:
    """Write ``n`` events of the real inspect and MSN monitor event types from this thread
    (their packet time: now)."""
    rng = random.Random(seed)
    for i in range(n):
        if i % 3 == 0:
            CONNECTION_PENDED.write(time.time_ns(),
                                    *_pended(i, f"10.0.0.{rng.randint(2, 9)}").values())
        elif i % 3 == 1:
            COMMAND.write(time.time_ns(), *_command(i, rng.choice(_VERBS)).values())
        else:
            DECISION_TIMEOUT.write(time.time_ns(), *_timeout(i).values())


def make_event(etype: EventType, fields: dict[str, Any], *, seq: int, time_ns: int) -> Event:
    """An event as a session delivers it, of a real event type (with that type's fields)."""
    names = etype.fields[1:] if etype.timed else etype.fields  # @timestamp is the time
    assert tuple(fields) == names, f"{etype.name} has fields {names}"
    return Event(time_ns=time_ns, seq=seq, provider=etype.provider.name, name=etype.name,
                 id=etype.id, level=etype.level, keywords=etype.keyword_names, pid=10,
                 tid=11, fields=fields, template=etype.template)


def fixed_events(n: int, start_seq: int = 1) -> list[Event]:
    """Deterministic events one millisecond apart: ConnectionPended (inspect, INFO),
    Transaction (msnmon, VERBOSE) and DecisionTimeout (inspect, WARNING), in turn."""
    out = []
    for i in range(n):
        etype, fields = ((CONNECTION_PENDED, _pended(i)), (TRANSACTION, _transaction(i)),
                         (DECISION_TIMEOUT, _timeout(i)))[i % 3]
        out.append(make_event(etype, fields, seq=start_seq + i, time_ns=T0 + i * 1_000_000))
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
