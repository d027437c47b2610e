"""The hub side of a remote provider: a mirror Provider built from its manifest.

The mirror is registered in the hub like a local provider, so sessions enable it
with the usual per-session level and keywords. Its combined enable state is pushed
to the provider process, which filters with it (a superset of every session's
filter); the mirror's per-event sinks then route each record to exactly the
sessions that want it. Losses reported by the provider are booked per event type
to the sessions that enable that event.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from .._hub import Hub
from .._manifest import Manifest
from .._provider import EnableState, EventType, Provider
from . import _wire
from ._errors import ProtocolError

__all__ = ["RemoteProvider", "mirror_provider"]

_SCALARS = frozenset({int, float, str, bytes, bool, type(None)})


def mirror_provider(manifest: Manifest, pid: int) -> Provider:
    """A Provider with the manifest's keywords and events, owned by process ``pid``."""
    provider = Provider(manifest.name, manifest.keywords, description=manifest.description,
                        pid=pid)
    for e in sorted(manifest.events.values(), key=lambda e: e.id):
        provider.event(e.id, e.name, e.level, e.keywords, dict(e.fields), e.template)
    return provider


class RemoteProvider:
    """One registered provider connection: enable pushes out, event batches in."""

    def __init__(self, hub: Hub, manifest: Manifest, pid: int,
                 send: Callable[[bytes], bool]) -> None:
        self.hub = hub
        self.mirror = mirror_provider(manifest, pid)
        self._send = send
        self._by_id: dict[int, EventType] = {e.id: e for e in self.mirror.events.values()}
        self.mirror.add_enable_callback(self._push)
        hub.register(self.mirror)

    def _push(self, state: EnableState) -> None:
        self._send(_wire.encode(_wire.Enable(state.control.value, state.level, state.match_any,
                                             state.match_all, list(state.sessions))))

    def handle(self, batch: _wire.Events) -> None:
        """Route a batch of records to the sessions that enable each event."""
        by_id = self._by_id
        tids = batch.tids
        for r in batch.records:
            ev = by_id.get(r.eid)
            if ev is None:
                raise ProtocolError(f"provider {self.mirror.name} has no event id {r.eid}")
            sinks = ev._sinks
            if not sinks:
                continue
            args = r.args
            for a in args:
                if type(a) not in _SCALARS:
                    _check_value(a)
            rec = (r.ts, ev.index, args, tids.get(r.tid, r.tid))
            for put in sinks:
                put(rec)
        if batch.losses is not None:
            self._book_losses(batch.losses)

    def _book_losses(self, losses: _wire.Losses) -> None:
        for eid, count in losses.by_event.items():
            ev = self._by_id.get(eid)
            if ev is None:
                raise ProtocolError(f"provider {self.mirror.name} has no event id {eid}")
            for put in ev._sinks:
                put.__self__.add_losses(count, losses.first_ns, losses.last_ns)  # type: ignore[attr-defined]

    def gone(self, reason: str) -> None:
        """The provider process disconnected or died: its sessions show it as gone."""
        self._send = _closed
        self.hub.unregister(self.mirror, reason)


def _closed(frame: bytes) -> bool:
    return False


def _check_value(value: object) -> None:
    """Refuse a field value the session could not render (non-string keys, deep nesting)."""
    try:
        orjson.dumps(value, default=str)
    except TypeError as exc:
        raise ProtocolError(f"unrenderable field value: {exc}") from None
