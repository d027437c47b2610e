"""Deciders: the static switch, and an external decision-maker with a timeout."""

from __future__ import annotations

import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from providers.inspect import DecisionClient, ExternalDecider, InspectError
from providers.inspect._connections import ConnectionTable
from providers.inspect._headers import parse_headers

from .conftest import Lab, tcp_exchange, until


def _syn(sport: int = 50000) -> bytes:
    """An IPv4 TCP SYN 10.0.0.1:sport -> 10.0.0.2:80."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return ip + struct.pack("!HHIIBBHHH", sport, 80, 0, 0, 0x50, 0x02, 64240, 0, 0)


def _conn(table: ConnectionTable):
    h = parse_headers(_syn(50000 + len(table)))
    assert h is not None
    return table.create(("k", len(table)), h, True)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_external_decision_completes_a_connection_exactly_once() -> None:
    """A second answer for the same connection is refused and nothing is completed twice."""
    done: list[tuple[int, str, str]] = []
    decider = ExternalDecider(5.0, lambda *a: done.append(a))
    conn = _conn(ConnectionTable())
    assert decider.submit(conn) is None
    assert [p.id for p in decider.pending()] == [conn.id]
    assert decider.decide(conn.id, "allow") is True
    assert decider.decide(conn.id, "block") is False
    assert done == [(conn.id, "permit", "decision-program")]
    assert decider.pending() == []


def test_external_decider_expires_items_and_holding_pauses_the_countdown() -> None:
    """Deadlines expire unless held; a held item keeps its remaining time."""
    clock = _Clock()
    decider = ExternalDecider(2.0, clock=clock)
    table = ConnectionTable()
    first, second = _conn(table), _conn(table)
    decider.submit(first)
    decider.submit(second)
    clock.now += 1.0
    assert decider.hold(second.id, True)
    clock.now += 1.5
    assert decider.expired(clock.now) == [first.id]
    (left,) = decider.pending()
    assert left.held and left.remaining == pytest.approx(1.0)
    decider.hold(second.id, False)
    clock.now += 1.1
    assert decider.expired(clock.now) == [second.id]


def test_external_decider_refuses_unknown_verdict_words() -> None:
    """Only permit/allow/block (and synonyms) are verdicts."""
    decider = ExternalDecider(1.0)
    with pytest.raises(ValueError, match="permit or block"):
        decider.decide(1, "maybe")


def _wait_pending(client: DecisionClient, count: int) -> list:
    got = until(lambda: (p := client.pending()) and len(p) >= count and p, timeout=5)
    assert got, "connections did not become pending"
    return got  # type: ignore[return-value]


def test_external_decider_permits_one_connection_and_blocks_another(lab: Lab) -> None:
    """Through the control socket one pending connection is permitted and the other blocked."""
    insp = lab.inspector.start("--remote", lab.b.ip4, "--decider", "external",
                               "--decider-timeout", "20")
    (state,) = insp.run_dir.glob("inspect-*.json")
    client = DecisionClient(state.with_suffix(".sock"))
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(tcp_exchange, lab.a, lab.b.ip4, 10.0)
        pending = _wait_pending(client, 1)
        second = pool.submit(tcp_exchange, lab.a, lab.b.ip4, 2.0)
        pending = _wait_pending(client, 2)
        a_id, b_id = pending[0].id, pending[1].id
        assert pending[0].process and pending[0].remote == lab.b.ip4
        assert pending[0].protocol == "tcp" and pending[0].remaining > 10
        assert client.decide(a_id, "permit") and client.decide(b_id, "block")
        assert first.result() is True
        assert second.result() is False
    assert client.decide(a_id, "block") is False, "a decided connection cannot be re-decided"
    verdicts = {e.fields["conn_id"]: (e.fields["verdict"], e.fields["decided_by"])
                for e in insp.wait_event("ConnectionVerdict", 2)}
    assert verdicts == {a_id: ("permit", "decision-program"), b_id: ("block", "decision-program")}
    assert len(insp.events("ConnectionVerdict")) == 2
    client.close()


def test_decider_timeout_applies_the_default_action_counted_and_traced(lab: Lab) -> None:
    """Without an answer the connection gets block_traffic's verdict after the timeout."""
    insp = lab.inspector.start("--remote", lab.b.ip4, "--decider", "external",
                               "--decider-timeout", "0.5")
    started = time.monotonic()
    assert tcp_exchange(lab.a, lab.b.ip4, 5.0)
    assert time.monotonic() - started >= 0.45
    (timeout,) = insp.wait_event("DecisionTimeout")
    assert timeout.fields["verdict"] == "permit"
    (verdict,) = insp.events("ConnectionVerdict")
    assert verdict.fields["decided_by"] == "timeout-default"
    assert verdict.fields["latency_ns"] >= 450_000_000
    status = insp.cli("status")
    assert '"timeouts": 1' in status.stdout


def test_static_inspector_refuses_decisions(lab: Lab) -> None:
    """Asking a static inspector for pending connections is a clear error."""
    insp = lab.inspector.start("--remote", lab.b.ip4)
    (state,) = insp.run_dir.glob("inspect-*.json")
    with DecisionClient(state.with_suffix(".sock")) as client, \
            pytest.raises(InspectError, match="external decider"):
        client.pending()
    res = insp.cli("pending")
    assert res.returncode == 1 and "external decider" in res.stderr


def test_a_hold_ends_when_its_connection_closes_and_without_one_after_the_lease() -> None:
    """Holds end: the owner's release expires them at once; an ownerless hold's lease runs out."""
    from providers.inspect._deciders import HOLD_LEASE_S

    clock = _Clock()
    decider = ExternalDecider(2.0, clock=clock)
    table = ConnectionTable()
    owned, ownerless = _conn(table), _conn(table)
    decider.submit(owned)
    decider.submit(ownerless)
    me = object()
    assert decider.hold(owned.id, True, me) and decider.hold(ownerless.id, True)
    clock.now += 10
    assert decider.ended(clock.now) == []
    assert decider.release(object()) == 0, "another caller's close ends nothing"
    assert decider.release(me) == 1
    assert decider.ended(clock.now) == [(owned.id, "decider-gone")]
    clock.now += HOLD_LEASE_S
    assert decider.next_deadline() == pytest.approx(clock.now - 10)
    assert decider.ended(clock.now) == [(ownerless.id, "hold-expired")]


def test_hold_refuses_anything_but_a_boolean() -> None:
    """``"held": "no"`` is an error, never read as true."""
    decider = ExternalDecider(2.0)
    conn = _conn(ConnectionTable())
    decider.submit(conn)
    for bad in ("no", 1, None):
        with pytest.raises(ValueError, match="held must be true or false"):
            decider.hold(conn.id, bad)  # type: ignore[arg-type]
    assert not decider.pending()[0].held


def test_control_requests_with_mistyped_fields_are_refused(lab: Lab) -> None:
    """Over the socket, a non-boolean held, a string id or a missing verdict get clear errors."""
    insp = lab.inspector.start("--remote", lab.b.ip4, "--decider", "external",
                               "--decider-timeout", "20")
    (state,) = insp.run_dir.glob("inspect-*.json")
    with DecisionClient(state.with_suffix(".sock")) as client:
        for args, message in (({"id": 1, "held": "no"}, "held must be true or false"),
                              ({"id": "1", "held": True}, "id must be an integer"),
                              ({"id": True, "held": True}, "id must be an integer")):
            with pytest.raises(InspectError, match=message):
                client.call("hold", **args)
        with pytest.raises(InspectError, match="needs 'verdict'"):
            client.call("decide", id=1)
        with pytest.raises(InspectError, match="timeout must be a number"):
            client.call("wait_pending", timeout="soon")


_DECIDER = """
import sys, time
from providers.inspect import DecisionClient
c = DecisionClient(sys.argv[1])
p = c.pending()
print("ready", flush=True)
while not p:
    p = c.pending()
    time.sleep(0.05)
c.hold(p[0].id, True)
print("held", p[0].id, flush=True)
time.sleep(60)
"""


def test_decider_death_during_a_hold_applies_the_default_at_once(lab: Lab) -> None:
    """A decision program killed while holding a connection: the default verdict applies, traced."""
    import signal
    import subprocess
    import sys

    from .conftest import ROOT

    insp = lab.inspector.start("--remote", lab.b.ip4, "--decider", "external",
                               "--decider-timeout", "1", "--block", "--reject")
    (state,) = insp.run_dir.glob("inspect-*.json")
    decider = subprocess.Popen([sys.executable, "-c", _DECIDER, str(state.with_suffix(".sock"))],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        # the connection opens once the program is up: its 1 s would not wait for a slow start
        assert decider.stdout.readline() == "ready\n"  # type: ignore[union-attr]
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(tcp_exchange, lab.a, lab.b.ip4, 30.0)
            line = decider.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("held"), line
            time.sleep(2.0)  # past the 1 s timeout: the hold keeps it pending
            with DecisionClient(state.with_suffix(".sock")) as client:
                (pending,) = client.pending()
                assert pending.held
            killed = time.monotonic()
            decider.send_signal(signal.SIGKILL)
            decider.wait(5)
            assert result.result(timeout=10) is False  # refused by the RST, not timed out
            assert time.monotonic() - killed < 2.0, "the hold outlived its decision program"
    finally:
        if decider.poll() is None:
            decider.kill()
            decider.wait(5)
    (timeout,) = insp.wait_event("DecisionTimeout")
    assert timeout.fields["reason"] == "decider-gone" and timeout.fields["verdict"] == "block"
    (verdict,) = insp.events("ConnectionVerdict")
    assert (verdict.fields["decided_by"], verdict.fields["verdict"]) == ("timeout-default",
                                                                         "block")
