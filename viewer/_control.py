"""Session control as the viewer does it: start (and watch), stop, flush, update, list."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from tracer import Manifest, ProviderEnable, SessionConfig, SessionStats

from ._connection import HubConnection, registered_providers
from ._feed import Feed

__all__ = ["SessionControl", "SessionRow"]


@dataclass(frozen=True)
class SessionRow:
    """One line of the sessions list."""

    name: str
    state: str
    providers: str
    events: int
    lost: int
    rate: float
    watched: bool
    log_file: str | None
    #: Each sink as "name written/handed" with its losses, e.g. "otlp 120/125 (5 lost)".
    sinks: str = ""


def sinks_text(sinks: list[dict]) -> str:
    """A session's sinks for one table cell: what each wrote of what it was handed."""
    parts = []
    for k in sinks:
        text = f"{k.get('name', '?')} {k.get('written', 0):,}/{k.get('handed', 0):,}"
        if k.get("lost"):
            text += f" ({k['lost']:,} lost)"
        if k.get("downstream_lost"):
            text += f" ({k['downstream_lost']:,} dropped at export)"
        parts.append(text)
    return "; ".join(parts)


class SessionControl:
    """Runs session commands on a hub and keeps the feed subscribed to watched sessions."""

    def __init__(self, hub: HubConnection, feed: Feed) -> None:
        self.hub = hub
        self.feed = feed
        self._last: dict[str, tuple[float, int]] = {}
        self._rates: dict[str, float] = {}

    def manifests(self) -> dict[str, Manifest]:
        """Providers the hub knows, by name."""
        return {n: m for n, m in self.hub.manifests().items() if n}

    def running(self) -> set[str]:
        """Providers registered (running) now."""
        return registered_providers(self.hub)

    def start(self, config: SessionConfig) -> None:
        """Start a session; watch it if it has real-time delivery."""
        self.hub.start_session(config)
        if config.realtime:
            self.watch(config.name)

    def watch(self, name: str) -> None:
        """Show the session's events in the view (and, if it writes a log file, read the
        rows a full view overwrites back from that file)."""
        self.feed.watch(name, self.hub.subscribe(name))
        attach = getattr(self.feed.ring, "attach", None)
        if attach is not None:
            path = next((s.log_file for s in self.hub.list_sessions()
                         if s.name == name and s.log_file), None)
            if path:
                attach(path)

    def unwatch(self, name: str) -> None:
        """Stop showing the session's events."""
        self.feed.unwatch(name)

    def stop(self, name: str) -> SessionStats:
        """Stop a session (the view keeps the events it has)."""
        sub = self.feed.subscriptions.get(name)
        stats = self.hub.stop_session(name)
        if sub is not None:
            self.feed.add(sub.drain())
        self.feed.unwatch(name)
        return stats

    def flush(self, name: str) -> SessionStats:
        """Flush a session's buffers."""
        return self.hub.flush_session(name)

    def update(self, name: str, providers: Iterable[ProviderEnable]) -> None:
        """Change a running session's providers, levels and keywords."""
        self.hub.update_session(name, list(providers))

    def config(self, name: str) -> list[ProviderEnable]:
        """A running session's providers as configured."""
        return self.hub.session_config(name)

    def rows(self) -> list[SessionRow]:
        """The sessions list, with rates measured since the previous call."""
        now = time.monotonic()
        out = []
        for s in self.hub.list_sessions():
            last = self._last.get(s.name)
            if last is not None and now - last[0] >= 0.5:
                self._rates[s.name] = (s.events_emitted - last[1]) / (now - last[0])
                self._last[s.name] = (now, s.events_emitted)
            elif last is None:
                self._last[s.name] = (now, s.events_emitted)
            out.append(SessionRow(s.name, s.state, ",".join(sorted(s.providers)),
                                  s.events_emitted, s.events_lost,
                                  self._rates.get(s.name, 0.0),
                                  s.name in self.feed.subscriptions, s.log_file,
                                  sinks_text(s.sinks)))
        return out
