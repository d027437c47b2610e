"""Stall-open: the watchdog process releases what a stuck queue consumer holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from providers.netfilter import NfQueue, StallReport, Verdict, Watchdog
from providers.netfilter import _stallwatch as sw
from providers.netfilter._verdicts import batch_message

from .conftest import QUEUE, UdpPath, open_queue, take

ROOT = Path(__file__).resolve().parents[3]

#: A consumer process: accepts everything with a watchdog, prints each stall report.
_CONSUMER = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from providers.netfilter import NfQueue, QueueConfig, Verdict, Watchdog
q = NfQueue(QueueConfig(queue_num={QUEUE}))
policy = Verdict.DROP if sys.argv[1] == "drop" else Verdict.ACCEPT
with Watchdog([q], policy=policy) as dog:
    print("ready", dog.proc.pid, flush=True)
    q.run(lambda p: Verdict.ACCEPT, watchdog=dog,
          on_stall=lambda r: print("stall", r.stalls, r.total, flush=True))
"""


def _arrival_ms(path: UdpPath, data: bytes, timeout: float = 2.0) -> float | None:
    """Send one datagram; milliseconds until b received it (None: never)."""
    start = time.monotonic()
    path.send(data)
    path.rx.settimeout(timeout)
    try:
        while path.rx.recv(65536) != data:
            pass
    except TimeoutError:
        return None
    return (time.monotonic() - start) * 1000


def test_batch_message_of_the_watchdog_is_the_librarys() -> None:
    """The watchdog's own (stdlib-only) batch verdict is byte for byte the library's."""
    for num, top, verdict in ((0, 1, Verdict.ACCEPT), (7, 123456, Verdict.DROP),
                              (65535, 0xFFFFFFFF, Verdict.ACCEPT)):
        assert sw.batch_verdict(num, top, verdict) == batch_message(num, top, verdict)
    for num, top, mark in ((3, 9, 0x20000000), (65535, 0xFFFFFFFF, 0xFFFFFFFF)):
        assert (sw.batch_verdict(num, top, Verdict.REPEAT, mark)
                == batch_message(num, top, Verdict.REPEAT, mark))


def test_a_repeat_release_without_a_mark_is_refused() -> None:
    """REPEAT without a mark would queue the released packets again: a clear error."""
    with pytest.raises(ValueError, match="mark"):
        Watchdog([object()], Verdict.REPEAT)  # type: ignore[list-item]


def test_packets_held_by_a_stuck_loop_are_released_within_250_ms(udp_path: UdpPath) -> None:
    """A loop that stops beating has its queued datagrams accepted within 250 ms, counted."""
    with open_queue(udp_path) as q, Watchdog([q]) as dog:
        dog.beat()
        time.sleep(0.15)  # the watchdog is up and has seen the beat
        arrived = _arrival_ms(udp_path, b"stuck")
        assert arrived is not None and arrived < 250, arrived
        time.sleep(0.02)
        assert dog.poll() is None, "no report while the stall lasts"
        (pkt,) = take(q, 1)
        assert q.is_settled(pkt.id)
        q.verdict(pkt, Verdict.DROP)  # not sent: the watchdog decided it
        dog.beat()
        report = _report(dog)
        assert report is not None and report.total == 1 and report.stalls == 1
        assert report.stall_ms >= 100
        assert q.stats().verdict_errors == 0 and q.stats().dropped == 0


def test_a_beating_loop_keeps_its_held_packets(udp_path: UdpPath) -> None:
    """While the loop beats, a packet it holds (a pending decision) stays held."""
    with open_queue(udp_path) as q, Watchdog([q]) as dog:
        stop = threading.Event()

        def beat() -> None:
            while not stop.is_set():
                dog.beat()
                time.sleep(0.02)

        beater = threading.Thread(target=beat)
        beater.start()
        try:
            udp_path.send(b"held")
            (pkt,) = take(q, 1)
            q.hold(pkt)
            assert udp_path.received(timeout=0.6) == []
            assert dog.poll() is None
            q.verdict(pkt, Verdict.ACCEPT)
            assert udp_path.received() == [b"held"]
        finally:
            stop.set()
            beater.join()


def test_drop_policy_drops_what_a_stuck_loop_holds(udp_path: UdpPath) -> None:
    """With the fail-closed policy the stalled datagrams are dropped, and counted."""
    with open_queue(udp_path) as q, Watchdog([q], policy=Verdict.DROP) as dog:
        dog.beat()
        time.sleep(0.15)
        udp_path.send(b"closed")
        time.sleep(0.3)
        dog.beat()
        report = _report(dog)
        assert report is not None and report.total == 1 and report.policy == Verdict.DROP
        assert udp_path.received(timeout=0.3) == []
        assert q.stats().kernel is not None and q.stats().kernel.queue_total == 0


def _report(dog: Watchdog, timeout: float = 0.2) -> StallReport | None:
    """The watchdog's next report (it writes its counts just after its verdict)."""
    deadline = time.monotonic() + timeout
    while (report := dog.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return report


def _consumer(path: UdpPath, policy: str = "accept") -> tuple[subprocess.Popen[str], int]:
    proc = path.topo.a.spawn([sys.executable, "-c", _CONSUMER, policy],
                             stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()  # type: ignore[union-attr]
    assert line[:1] == ["ready"], line
    return proc, int(line[1])


def test_sigstop_of_the_consumer_process_stalls_open_and_reports_on_sigcont(
        udp_path: UdpPath) -> None:
    """A SIGSTOPped consumer's datagrams still arrive (< 250 ms: a suspension is noticed
    within two ticks); on SIGCONT it reports them."""
    proc, _dog = _consumer(udp_path)
    try:
        assert _arrival_ms(udp_path, b"before") is not None
        os.kill(proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 2
        while not _stopped(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        delays = [_arrival_ms(udp_path, f"stopped{i}".encode()) for i in range(3)]
        assert all(d is not None and d < 250 for d in delays), delays
        os.kill(proc.pid, signal.SIGCONT)
        assert proc.stdout.readline().split() == ["stall", "1", "3"]  # type: ignore[union-attr]
        arrived = _arrival_ms(udp_path, b"after")
        assert arrived is not None and arrived < 50, "the consumer serves again"
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait(10)


def test_the_watchdog_exits_when_its_consumer_is_killed(udp_path: UdpPath) -> None:
    """kill -9 of the consumer: its watchdog releases, exits, and the bypass rule lets
    traffic pass (the queue is no longer bound by the watchdog's copy of the socket)."""
    proc, dog = _consumer(udp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 2
    while os.path.exists(f"/proc/{dog}") and time.monotonic() < deadline:
        with open(f"/proc/{dog}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.01)
    assert not _alive(dog), "the watchdog outlived its consumer"
    assert _arrival_ms(udp_path, b"bypassed") is not None


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] in "Tt"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_watchdog_needs_queues_and_a_kernel_policy() -> None:
    """No queue, or a policy other than accept/drop, is refused before anything starts."""
    import pytest

    with pytest.raises(ValueError):
        Watchdog([])
    with pytest.raises(ValueError):
        Watchdog([NfQueue.__new__(NfQueue)], policy=Verdict.REPEAT)
