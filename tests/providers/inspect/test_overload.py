"""Overload: a full queue drops or lets through as configured, and every packet is counted."""

from __future__ import annotations

import json
import socket
import sys
import threading

from tests.harness import UDPFLOOD

from .conftest import Lab, until

BURST = 60_000
SINK_PORT = 7100


class Sink:
    """Counts datagrams that reach a local UDP socket in namespace ``a``."""

    def __init__(self, lab: Lab) -> None:
        with lab.a.enter():
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
        self.sock.bind((lab.a.ip4, SINK_PORT))
        self.sock.settimeout(0.2)
        self.count = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                self.sock.recv(2048)
                self.count += 1
            except TimeoutError:
                continue

    def close(self) -> int:
        """Stop after reading everything that already arrived; the total."""
        self._stop = True
        self._thread.join(2)
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(2048)
                self.count += 1
        except BlockingIOError:
            pass
        self.sock.close()
        return self.count


def _burst(lab: Lab) -> int:
    """Send BURST datagrams from ``b`` to the sink as fast as possible; return how many left."""
    res = lab.b.run([sys.executable, UDPFLOOD, lab.a.ip4, str(SINK_PORT), "--count",
                     str(BURST), "--seconds", "20"], timeout=60)
    return int(json.loads(res.stdout)["sent"])


def _status(lab: Lab) -> dict:
    res = lab.inspector.cli("status")
    assert res.returncode == 0, res
    return json.loads(res.stdout)


def _settled(lab: Lab, held: bool = False) -> dict:
    """Status once every datagram of the burst was decided, held (``held``) or counted."""
    last: list[tuple[int, ...]] = []

    def done() -> dict | None:
        st = _status(lab)
        s = st["stats"]
        queued = sum(k["queue_total"] for k in st["kernel"].values())
        now = (s["packets"], s["overload_accepted"], s["overload_dropped"], queued)
        stable = bool(last) and last[-1] == now and (held or queued == 0)
        last.append(now)
        return st if stable else None

    st = until(done, 10.0)
    assert st, "the queues never settled"
    return st  # type: ignore[return-value]


def _run_burst(lab: Lab, *args: str) -> tuple[int, int, dict]:
    # A short queue makes every burst overflow it, however fast the worker is today.
    lab.inspector.start("--remote", lab.b.ip4, "--block", "--queue-length", "256", *args)
    sink = Sink(lab)
    try:
        sent = _burst(lab)
        st = _settled(lab)
    finally:
        arrived = sink.close()
    snmp = lab.a.run(["cat", "/proc/net/snmp"]).stdout
    udp = [line for line in snmp.splitlines() if line.startswith("Udp:")]
    print(f"sent {sent} arrived {arrived} stats {st['stats']} kernel {st['kernel']} {udp}")
    return sent, arrived, st


def test_permit_mode_overflow_is_let_through_and_counted(lab: Lab) -> None:
    """Permitting (overload auto), every datagram arrives: decided, or counted as let through."""
    lab.inspector.start("--remote", lab.b.ip4, "--no-block", "--queue-length", "256")
    sink = Sink(lab)
    try:
        sent = _burst(lab)
        st = _settled(lab)
    finally:
        arrived = sink.close()
    s = st["stats"]
    print(f"permit: sent {sent} arrived {arrived} stats {s}")
    assert st["overload"] == "accept"
    assert s["packets_permitted"] + s["overload_accepted"] == sent == arrived


def test_block_mode_burst_never_leaks_and_counts_the_overflow(lab: Lab) -> None:
    """Blocking, a burst that overflows the queue delivers nothing; every datagram is counted."""
    sent, arrived, st = _run_burst(lab)
    s = st["stats"]
    assert st["overload"] == "drop"
    assert s["overload_dropped"] > 0, "the burst did not overflow the queue"
    assert arrived == 0
    assert s["overload_accepted"] == 0
    assert s["packets_permitted"] == 0
    assert s["packets_dropped"] + s["overload_dropped"] == sent
    kernel = sum(k["queue_dropped"] + k["user_dropped"] for k in st["kernel"].values())
    assert s["overload_dropped"] == kernel
    lab.inspector.stop()
    events = lab.inspector.events("Overload")
    assert events and {e.fields["policy"] for e in events} == {"drop"}
    assert sum(e.fields["dropped"] for e in events) == s["overload_dropped"]


def test_block_mode_with_overload_accept_counts_what_it_let_through(lab: Lab) -> None:
    """Blocking with overload = accept, what a full queue let through is exactly what arrived."""
    sent, arrived, st = _run_burst(lab, "--overload", "accept")
    s = st["stats"]
    assert st["overload"] == "accept"
    assert arrived > 0, "the burst did not overflow the queue"
    assert s["packets_permitted"] == 0
    assert s["overload_accepted"] == arrived
    assert s["packets_dropped"] + s["overload_accepted"] + s["overload_dropped"] == sent
    lab.inspector.stop()
    events = lab.inspector.events("Overload")
    assert sum(e.fields["accepted"] for e in events) == arrived


def test_a_pending_external_decision_lets_nothing_through_under_a_burst(lab: Lab) -> None:
    """An unanswered connection's burst: held up to the queue length, the rest dropped, counted."""
    lab.inspector.start("--remote", lab.b.ip4, "--decider", "external", "--decider-timeout",
                        "60", "--queue-length", "256")
    sink = Sink(lab)
    try:
        sent = _burst(lab)
        st = _settled(lab, held=True)
    finally:
        arrived = sink.close()
    s, kernel = st["stats"], st["kernel"]
    held = sum(k["queue_total"] for k in kernel.values())
    print(f"external pending: sent {sent} arrived {arrived} held {held} stats {s}")
    assert st["overload"] == "drop" and st["pending"] == 1
    assert arrived == 0 and s["overload_accepted"] == 0
    assert held + s["overload_dropped"] == sent
