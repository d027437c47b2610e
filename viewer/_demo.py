"""The demo: the real providers replaying the bundled captures, round after round.

``traceview --demo`` feeds the packet pipeline's provider (``wfptrace-packets``),
the MSN monitor (``wfptrace-msnmon``) and the inspect provider
(``wfptrace-inspect``) with ``samples/captures``, paced at ``rate`` packets per
second (or at the recorded speed), so events keep arriving as from live traffic.
The inspect provider's replay consumer uses its external decider: each connection
to :data:`DEMO_REMOTE` waits for a verdict from the decisions panel (a
:class:`providers.inspect.HubDecisionClient`, the hub's control requests, as with
a live inspector) or for its timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tracer import Hub, Level, Provider, ProviderEnable

from ._decisions import DecisionSource
from ._replay import bundled_captures

__all__ = ["DEMO_CONSUMERS", "DEMO_REMOTE", "DemoReplay", "demo_enables", "demo_providers"]

#: The bundled captures were recorded on loopback: every MSNP connection is inspected.
DEMO_REMOTE = "127.0.0.1"
#: The packet providers the demo replays through (``make_consumer`` names).
DEMO_CONSUMERS = ("packets", "msnmon", "inspect")
_TICK = 0.05  # longest sleep without looking at stop and decision timeouts


def demo_enables(level: Level = Level.INFO) -> list[ProviderEnable]:
    """The demo session's providers (INFO: flows, commands, connections and verdicts)."""
    return [ProviderEnable(p.name, level) for p in demo_providers()]


def demo_providers() -> list[Provider]:
    """The real providers the demo replays through (to register with a hub)."""
    from providers.inspect import PROVIDER as INSPECT
    from providers.msnmon import PROVIDER as MSNMON
    from providers.packets._packetsprovider import PACKETS_PROVIDER

    return [PACKETS_PROVIDER, MSNMON, INSPECT]


def _consumers(remote: str, timeout: float) -> list[Any]:
    """The demo's consumers; ValueError when inspect refuses the address."""
    import providers.packets._packetsprovider  # noqa: F401 - registers "packets"
    from providers.inspect import InspectError
    from providers.packets import make_consumer

    options = {"remote": remote, "decider": "external", "decider_timeout": timeout}
    try:
        return [make_consumer(name, options) for name in DEMO_CONSUMERS]
    except InspectError as exc:
        raise ValueError(str(exc)) from None


class DemoReplay:
    """Replays captures through the demo providers on a thread, once a session exists.

    ``rate`` is packets per second; 0 replays at the recorded speed. Between rounds
    the replay waits ``pause`` seconds; every capture starts with fresh flows.
    ValueError for a negative rate or an address inspect refuses.
    """

    def __init__(self, hub: Hub, captures: Sequence[Path] | None = None, *,
                 rate: float = 50.0, remote: str = DEMO_REMOTE, timeout: float = 15.0,
                 pause: float = 1.0) -> None:
        if rate < 0:
            raise ValueError(f"rate must be >= 0 packets per second, not {rate}")
        self.hub = hub
        self.captures = list(bundled_captures() if captures is None else captures)
        self.rate = rate
        self.pause = pause
        self.consumers = _consumers(remote, timeout)
        self.inspect = self.consumers[DEMO_CONSUMERS.index("inspect")]
        for provider in self.providers:
            hub.register(provider)
        self.rounds = 0
        self.packets = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceview-demo", daemon=True)

    @property
    def providers(self) -> list[Provider]:
        """The real providers whose events the demo produces."""
        return [c.provider for c in self.consumers]

    @property
    def title(self) -> str:
        """What the demo shows, for the window's subtitle."""
        pace = f"{self.rate:g} packets/s" if self.rate else "recorded speed"
        return (f"demo: {', '.join(c.name for c in self.captures)} replayed through "
                f"{', '.join(p.name for p in self.providers)} ({pace})")

    def decisions(self) -> DecisionSource:
        """The inspect provider's decision source, reached through the hub."""
        from providers.inspect import HubDecisionClient

        return HubDecisionClient(self.hub)

    def start(self) -> DemoReplay:
        """Start replaying (it waits for a session)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop replaying; pending connections get blocked as by a stopping inspector."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._wait(lambda: bool(self.hub.list_sessions())):
                for path in self.captures:
                    self._replay(path)
                    if self._stop.is_set():
                        return
                self.rounds += 1
                self._sleep(self.pause)
        finally:
            for consumer in self.consumers:
                consumer.close()

    def _wait(self, ready: Any) -> bool:
        """Wait until ``ready()``; True if stopped first."""
        while not ready():
            if self._sleep(0.2):
                return True
        return self._stop.is_set()

    def _replay(self, path: Path) -> None:
        """One capture through a fresh pipeline (decoder, flows, reassembly), the same
        consumers: nothing of the previous round stays but the providers' own state."""
        from providers.packets import Pipeline, open_capture

        pipeline = Pipeline(self.consumers)
        try:
            with open_capture(path) as src:
                pipeline.run(self._paced(src), str(path))
        except Exception as exc:  # a bad capture must not kill the viewer
            self.error = f"{path}: {exc}"
            self._sleep(self.pause)
        pipeline.end_flows()  # its flows end here: the next round starts them again

    def _paced(self, frames: Iterable[Any]) -> Iterator[Any]:
        start = time.monotonic()
        first_ts: int | None = None
        for n, frame in enumerate(frames):
            if first_ts is None:
                first_ts = frame[1]
            due = start + (n / self.rate if self.rate else (frame[1] - first_ts) / 1e9)
            if self._sleep(due - time.monotonic()):
                return
            self.packets += 1
            yield frame

    def _sleep(self, seconds: float) -> bool:
        """Sleep in short steps, applying decision timeouts; True if stopped."""
        end = time.monotonic() + seconds
        while True:
            self.inspect.poll()
            left = end - time.monotonic()
            if left <= 0 or self._stop.is_set():
                return self._stop.is_set()
            self._stop.wait(min(left, _TICK))
