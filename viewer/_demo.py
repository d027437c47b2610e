"""Demo providers: inspect-like and msnmon-like events at a chosen rate.

Used by ``traceview --demo`` when no replay is available, by the tests and by the
benchmark. The events look like the real providers' (connections pended and
judged, MSNP commands on a flow), and a share of connections goes to a
:class:`LocalDecisionSource` so the decisions panel has work.
"""

from __future__ import annotations

import random
import threading
import time

from tracer import Level, Provider

from ._decisions import LocalDecisionSource

__all__ = ["INSPECT", "MSNMON", "DemoTraffic", "demo_providers", "emit_batch"]

INSPECT = Provider("demo.inspect", keywords=["connect", "verdict", "packet", "decider"],
                   description="Demo of the inspect provider: connections pended and judged")
PENDED = INSPECT.event(
    1, "ConnectPended", Level.INFO, "connect",
    {"process": str, "pid": int, "protocol": str, "local": str, "local_port": int,
     "remote": str, "port": int},
    "{process}[{pid}] {protocol} {local}:{local_port} -> {remote}:{port} pended")
VERDICT = INSPECT.event(
    2, "Verdict", Level.INFO, "verdict",
    {"verdict": str, "remote": str, "port": int, "process": str, "by": str},
    "{verdict} {process} -> {remote}:{port} (by {by})")
PACKET = INSPECT.event(
    3, "PacketInspected", Level.VERBOSE, "packet",
    {"remote": str, "port": int, "length": int, "direction": str},
    "{direction} {length} bytes {remote}:{port}")
DECIDER_SLOW = INSPECT.event(
    4, "DeciderTimeout", Level.WARNING, "decider", {"remote": str, "port": int, "waited_ms": int},
    "decider did not answer for {remote}:{port} in {waited_ms} ms, default verdict applied")
DECIDER_GONE = INSPECT.event(
    5, "DeciderError", Level.ERROR, "decider", {"error": str}, "decider failed: {error}")

MSNMON = Provider("demo.msnmon", keywords=["flow", "command", "message", "presence"],
                  description="Demo of the MSN monitor: MSNP commands on tracked flows")
FLOW = MSNMON.event(
    1, "FlowEstablished", Level.INFO, "flow",
    {"client": str, "server": str, "port": int, "app": str},
    "{app} {client} -> {server}:{port} established")
COMMAND = MSNMON.event(
    2, "Command", Level.VERBOSE, "command",
    {"direction": str, "verb": str, "trid": int, "args": str, "remote": str},
    "{direction} {verb} {trid} {args}")
PRESENCE = MSNMON.event(
    3, "Presence", Level.INFO, "presence", {"user": str, "status": str},
    "{user} is now {status}")
CHAT = MSNMON.event(
    4, "Message", Level.INFO, "message", {"sender": str, "recipient": str, "length": int},
    "message {sender} -> {recipient} ({length} bytes)")
PARSE_ERROR = MSNMON.event(
    5, "ProtocolError", Level.ERROR, "command", {"remote": str, "detail": str},
    "cannot parse MSNP from {remote}: {detail}")

_PROCS = [("firefox", 2211), ("msnmsgr", 3100), ("curl", 4120), ("sshd", 812), ("apt", 5012)]
_REMOTES = ["10.0.0.2", "10.0.0.7", "192.168.1.20", "65.54.239.80", "207.46.110.31"]
_VERBS = [("VER", "MSNP8 CVR0"), ("CVR", "0x0409 winnt 5.1 i386 MSNMSGR 6.2"),
          ("USR", "TWN I alice@hotmail.com"), ("SYN", "0"), ("CHG", "NLN 0"),
          ("PNG", ""), ("MSG", "U 128"), ("XFR", "SB 207.46.108.37:1863 CKI")]
_USERS = ["alice@hotmail.com", "bob@msn.com", "carol@passport.com"]
_STATUS = ["NLN", "BSY", "AWY", "IDL", "FLN"]


def demo_providers() -> list[Provider]:
    """The demo providers, to register with a hub."""
    return [INSPECT, MSNMON]


def emit_batch(rng: random.Random, n: int, decisions: LocalDecisionSource | None = None) -> None:
    """Emit ``n`` realistic events (only the enabled ones cost anything)."""
    for _ in range(n):
        r = rng.random()
        remote = rng.choice(_REMOTES)
        if r < 0.30:
            if PACKET.enabled:
                PACKET.write(remote, 1863, rng.randint(40, 1500), rng.choice(("in", "out")))
        elif r < 0.55:
            if COMMAND.enabled:
                verb, args = rng.choice(_VERBS)
                COMMAND.write(rng.choice((">>>", "<<<")), verb, rng.randint(1, 999), args, remote)
        elif r < 0.70:
            _connection(rng, remote, decisions if rng.random() < 0.02 else None)
        elif r < 0.80:
            if PRESENCE.enabled:
                PRESENCE.write(rng.choice(_USERS), rng.choice(_STATUS))
        elif r < 0.90:
            if CHAT.enabled:
                CHAT.write(rng.choice(_USERS), rng.choice(_USERS), rng.randint(10, 400))
        elif r < 0.96:
            if FLOW.enabled:
                FLOW.write(f"10.0.0.1:{rng.randint(40000, 60000)}", remote, 1863, "msnmsgr")
        elif r < 0.99:
            if DECIDER_SLOW.enabled:
                DECIDER_SLOW.write(remote, 443, rng.randint(1000, 5000))
        elif r < 0.997:
            if PARSE_ERROR.enabled:
                PARSE_ERROR.write(remote, "line too long")
        elif DECIDER_GONE.enabled:
            DECIDER_GONE.write("broken pipe")


def _connection(rng: random.Random, remote: str, decisions: LocalDecisionSource | None) -> None:
    proc, pid = rng.choice(_PROCS)
    port = rng.choice((80, 443, 1863, 22))
    local_port = rng.randint(40000, 60000)
    if PENDED.enabled:
        PENDED.write(proc, pid, "tcp", "10.0.0.1", local_port, remote, port)
    if decisions is not None:
        def done(verdict: str, by_timeout: bool) -> None:
            if VERDICT.enabled:
                VERDICT.write(verdict, remote, port, proc, "timeout" if by_timeout else "user")
        decisions.submit(process=proc, pid=pid, protocol="tcp", local="10.0.0.1",
                         local_port=local_port, remote=remote, remote_port=port, on_verdict=done)
    elif VERDICT.enabled:
        VERDICT.write(rng.choice(("allow", "allow", "allow", "block")), remote, port, proc, "rule")


class DemoTraffic:
    """A background thread emitting demo events at ``rate`` events per second."""

    def __init__(self, rate: float = 50.0, decisions: LocalDecisionSource | None = None,
                 seed: int = 7) -> None:
        self.rate = rate
        self.decisions = decisions
        self.emitted = 0
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceview-demo", daemon=True)

    def start(self) -> DemoTraffic:
        """Start emitting."""
        self._thread.start()
        return self

    def _run(self) -> None:
        tick = 0.02
        due = 0.0
        next_t = time.monotonic()
        while not self._stop.is_set():
            due += self.rate * tick
            n = int(due)
            due -= n
            if n:
                emit_batch(self._rng, n, self.decisions)
                self.emitted += n
            if self.decisions is not None:
                self.decisions.pending()  # apply timeouts even when nobody looks
            next_t += tick
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def stop(self) -> None:
        """Stop emitting and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
