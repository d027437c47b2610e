"""Fixtures for the MSN monitor tests: an embedded hub that records msnmon events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from providers.msnmon import PROVIDER, PROVIDER_NAME
from tracer import Event, Hub, Level, ProviderEnable, SessionConfig

REPO = Path(__file__).resolve().parents[3]
SUSPECT_CHAT = REPO / ".." / "shared" / "captures" / "ppa_suspectemployeechat_msnms.pcap"
SAMPLES = REPO / "samples" / "captures"


class Recorder:
    """A real-time session on ``wfptrace-msnmon``; :meth:`events` stops it and drains."""

    def __init__(self, hub: Hub, name: str, keywords: tuple[str, ...] | None,
                 level: Level) -> None:
        self._hub = hub
        self._name = name
        spec = ProviderEnable(PROVIDER_NAME, level=level, keywords=keywords)
        hub.start_session(SessionConfig(name, [spec], realtime=True, flush_interval=0.05))
        self._sub = hub.subscribe(name, maxsize=1_000_000)
        self._events: list[Event] | None = None

    def events(self, name: str | None = None) -> list[Event]:
        """Every event recorded (optionally of one event name), in order."""
        if self._events is None:
            self._hub.stop_session(self._name)
            self._events = [e for e in self._sub.drain() if e.provider == PROVIDER_NAME]
        return [e for e in self._events if name is None or e.name == name]


@pytest.fixture
def record() -> Iterator[Callable[..., Recorder]]:
    """Start recording msnmon events: ``rec = record(); ...; rec.events("Command")``."""
    hub = Hub(load_installed=False)
    hub.register(PROVIDER)
    count = iter(range(1000))

    def start(keywords: tuple[str, ...] | None = None, level: Level = Level.VERBOSE) -> Recorder:
        return Recorder(hub, f"msnmon-test-{next(count)}", keywords, level)

    yield start
    hub.close()
    hub.unregister(PROVIDER)


@pytest.fixture
def suspect_chat() -> Path:
    """The real 2006 switchboard capture (skipped, with the reason, when absent)."""
    if not SUSPECT_CHAT.exists():
        print(f"skipping: {SUSPECT_CHAT} is absent")
        pytest.skip(f"real capture {SUSPECT_CHAT.name} is absent")
    return SUSPECT_CHAT


@pytest.fixture
def topology():
    """Two network namespaces ``a`` and ``b`` (skipped, with the reason, when unavailable)."""
    from tests.harness import NetnsUnavailableError, build_topology, current_netns_inode

    home = current_netns_inode()
    try:
        topo = build_topology(2)
    except NetnsUnavailableError as exc:
        print(f"skipping: {exc}")
        pytest.skip(str(exc))
    try:
        yield topo
    finally:
        topo.close()
        assert current_netns_inode() == home


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    """A private state directory for callout registrations (WFPTRACE_STATE_DIR)."""
    path = tmp_path / "state"
    monkeypatch.setenv("WFPTRACE_STATE_DIR", str(path))
    return path
