"""Stall-open: a suspended or killed inspector never stalls the traffic it holds for long.

A second application in namespace ``a`` keeps one TCP transfer going and opens
short connections to the inspected peer while the inspector is stopped with
SIGSTOP (then SIGCONT) or killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path

from .conftest import PORT, Lab, tcp_exchange, until

#: What the issue asks: held traffic moves again within 250 ms of a stall.
STALL_BOUND_S = 0.25
_CHUNK = 16384


class Traffic:
    """A second application: a bulk echo transfer and a stream of short connections."""

    def __init__(self, lab: Lab, peer: str) -> None:
        self.lab, self.peer = lab, peer
        self.progress: list[float] = []
        self.shorts: list[tuple[float, bool, float]] = []  # start, ok, seconds
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._bulk, daemon=True),
                         threading.Thread(target=self._short, daemon=True)]

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        assert until(lambda: len(self.progress) > 5), "the transfer never started"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def _bulk(self) -> None:
        with self.lab.a.enter():
            s = socket.socket()
        with s, contextlib.suppress(OSError):
            s.settimeout(10)
            s.connect((self.peer, PORT))
            chunk = b"x" * _CHUNK
            while not self._stop.is_set():
                s.sendall(chunk)
                got = 0
                while got < _CHUNK:
                    got += len(s.recv(_CHUNK - got) or b"!" * _CHUNK)
                self.progress.append(time.monotonic())

    def _short(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            ok = tcp_exchange(self.lab.a, self.peer, 2.0)
            self.shorts.append((start, ok, time.monotonic() - start))
            time.sleep(0.03)

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without transfer progress within [start, end]."""
        marks = [start, *(t for t in self.progress if start < t < end), end]
        return max(b - a for a, b in itertools.pairwise(marks))

    def shorts_between(self, start: float, end: float) -> list[tuple[float, bool, float]]:
        """Short connections begun within [start, end]."""
        return [s for s in self.shorts if start <= s[0] <= end]


def _watchdog_pid(pid: int) -> int:
    """The inspector's child process (its stall watchdog)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += (task / "children").read_text().split()
    assert len(kids) == 1, kids
    return int(kids[0])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _suspend(pid: int) -> None:
    """SIGSTOP ``pid`` and wait until every thread of it has stopped."""
    os.kill(pid, signal.SIGSTOP)

    def stopped() -> bool:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return all((t / "stat").read_text().rsplit(")", 1)[1].split()[0] in "Tt"
                   for t in tasks)

    assert until(stopped, 2.0), "the inspector did not stop"


def _status(lab: Lab) -> dict:
    import json

    res = lab.inspector.cli("status")
    assert res.returncode == 0, res
    return json.loads(res.stdout)


def _check_accounting(lab: Lab) -> dict[str, int]:
    """pended == permitted + blocked + failed_open + stalled_open + dropped_at_stop, in the
    counters and in the trace (one verdict per pended connection); the outcomes."""
    stats = _status(lab)
    lab.inspector.stop()
    pended = {e.fields["conn_id"] for e in lab.inspector.events("ConnectionPended")}
    verdicts = Counter(e.fields["conn_id"] for e in lab.inspector.events("ConnectionVerdict"))
    assert set(verdicts) == pended and set(verdicts.values()) == {1}
    by = Counter(e.fields["decided_by"] for e in lab.inspector.events("ConnectionVerdict"))
    s = stats["stats"]
    assert s["connections"] == (s["permitted"] + s["blocked"] + s["failed_open"]
                                + s["stalled_open"] + s["dropped_at_stop"] + stats["pending"])
    assert by["stall-open"] == s["stalled_open"] and by["fail-open"] == s["failed_open"]
    return s


def test_sigstop_releases_held_traffic_within_250_ms_and_sigcont_reports_it(lab: Lab) -> None:
    """While the inspector is suspended the transfer and new connections go on (no gap over
    250 ms); once resumed it traces a StallOpen event; every connection is accounted for."""
    insp = lab.inspector.start("--remote", lab.b.ip4)
    assert _alive(_watchdog_pid(insp.proc.pid))
    with Traffic(lab, lab.b.ip4) as traffic:
        time.sleep(0.3)
        stopped = time.monotonic()
        _suspend(insp.proc.pid)
        try:
            time.sleep(1.0)
        finally:
            os.kill(insp.proc.pid, signal.SIGCONT)
        resumed = time.monotonic()
        time.sleep(0.4)
    assert traffic.longest_gap(stopped, resumed) < STALL_BOUND_S
    during = traffic.shorts_between(stopped + 0.15, resumed - 0.3)
    assert during and all(ok and took < 1.0 for _s, ok, took in during), during
    # a loaded machine may add a short stall of its own (a worker late by 150 ms): the
    # suspension is the one StallOpen of about a second, and the counts add up over all
    stalls = [e.fields for e in insp.wait_event("StallOpen")]
    (f,) = [s for s in stalls if s["stall_ms"] >= 900]
    assert f["policy"] == "permit" and f["packets"] > 0 and f["stall_ms"] < 2000
    outcomes = _check_accounting(lab)
    assert outcomes["stalled_open"] >= len(during)
    assert outcomes["stalls"] == sum(s["episodes"] for s in stalls)
    assert outcomes["stall_packets"] == sum(s["packets"] for s in stalls)


def test_sigkill_lets_traffic_go_on_and_the_watchdog_exits(lab: Lab) -> None:
    """kill -9 of the inspector: the transfer and new connections go on; its watchdog ends."""
    insp = lab.inspector.start("--remote", lab.b.ip4)
    dog = _watchdog_pid(insp.proc.pid)
    with Traffic(lab, lab.b.ip4) as traffic:
        time.sleep(0.3)
        killed = time.monotonic()
        insp.kill()
        assert until(lambda: not _alive(dog), 2.0), "the watchdog outlived the inspector"
        time.sleep(0.6)
        end = time.monotonic()
    assert traffic.longest_gap(killed, end) < STALL_BOUND_S
    after = traffic.shorts_between(killed + 0.1, end)
    assert after and all(ok for _s, ok, _t in after), after


def test_fail_closed_drops_what_a_suspended_inspector_holds(lab: Lab) -> None:
    """With fail_closed the stall policy is drop: no new connection while suspended, then
    traffic works again after SIGCONT and the StallOpen event says block."""
    insp = lab.inspector.start("--remote", lab.b.ip4, "--fail-closed")
    assert tcp_exchange(lab.a, lab.b.ip4)
    _suspend(insp.proc.pid)
    try:
        assert not tcp_exchange(lab.a, lab.b.ip4, 1.0)
    finally:
        os.kill(insp.proc.pid, signal.SIGCONT)
    (stall,) = insp.wait_event("StallOpen")
    assert stall.fields["policy"] == "block" and stall.fields["packets"] >= 1
    assert until(lambda: tcp_exchange(lab.a, lab.b.ip4))
    outcomes = _check_accounting(lab)
    assert outcomes["stalled_open"] == 1
    verdicts = [e.fields for e in insp.events("ConnectionVerdict")
                if e.fields["decided_by"] == "stall-open"]
    assert [v["verdict"] for v in verdicts] == ["block"]


def test_a_pending_decision_is_released_stall_open_when_the_inspector_is_suspended(
        lab: Lab) -> None:
    """A connection waiting for a decision program goes on stall-open while the inspector is
    suspended; after SIGCONT it is traced so, and a late decision for it is refused."""
    from providers.inspect import DecisionClient

    insp = lab.inspector.start("--remote", lab.b.ip4, "--decider", "external",
                               "--decider-timeout", "30")
    (state,) = insp.run_dir.glob("inspect-*.json")
    result: list[bool] = []
    opener = threading.Thread(target=lambda: result.append(tcp_exchange(lab.a, lab.b.ip4, 5)))
    with DecisionClient(state.with_suffix(".sock")) as client:
        opener.start()
        (pending,) = until(client.pending)  # type: ignore[misc]
        _suspend(insp.proc.pid)
        try:
            opener.join(3)
        finally:
            os.kill(insp.proc.pid, signal.SIGCONT)
        assert result == [True], "the held connection was not released"
        (verdict,) = insp.wait_event("ConnectionVerdict")
        assert (verdict.fields["decided_by"], verdict.fields["verdict"]) == ("stall-open",
                                                                             "permit")
        assert verdict.fields["latency_ns"] > 20_000_000  # pending, then two ticks stopped
        assert not client.decide(pending.id, "block")
        (last,) = client.recent()  # TraceView's decided-by column
        assert (last.id, last.decided_by, last.verdict) == (pending.id, "stall-open", "permit")
    outcomes = _check_accounting(lab)
    assert outcomes["stalled_open"] == 1 and outcomes["permitted"] == 0
