"""The hub side of a remote provider: a mirror Provider built from its manifest.

The mirror is registered in the hub like a local provider, so sessions enable it
with the usual per-session level and keywords. Its combined enable state is pushed
to the provider process, which filters with it (a superset of every session's
filter); the mirror's per-event sinks then route each record to exactly the
sessions that want it. Losses reported by the provider are booked per event type
to the sessions that enable that event.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import orjson

from .._errors import ControlError
from .._hub import Hub
from .._manifest import Manifest
from .._provider import EnableState, EventType, Provider
from . import _wire
from ._codec import error_from_wire
from ._errors import ProtocolError

__all__ = ["RemoteProvider", "mirror_provider"]

_SCALARS = frozenset({int, float, str, bytes, bool, type(None)})
#: How long a control request waits for the provider process to answer.
CONTROL_TIMEOUT = 5.0


def mirror_provider(manifest: Manifest, pid: int) -> Provider:
    """A Provider with the manifest's keywords and events, owned by process ``pid``."""
    provider = Provider(manifest.name, manifest.keywords, description=manifest.description,
                        pid=pid)
    for e in sorted(manifest.events.values(), key=lambda e: e.id):
        provider.event(e.id, e.name, e.level, e.keywords, e.declarations(), e.template)
    return provider


class RemoteProvider:
    """One registered provider connection: enable pushes out, event batches in."""

    def __init__(self, hub: Hub, manifest: Manifest, pid: int,
                 send: Callable[[bytes], bool]) -> None:
        self.hub = hub
        self.mirror = mirror_provider(manifest, pid)
        self._send = send
        self._by_id: dict[int, EventType] = {e.id: e for e in self.mirror.events.values()}
        self._calls: dict[int, tuple[threading.Event, list[tuple[bool, Any]]]] = {}
        self._call_ids = itertools.count(1)
        self.mirror.add_enable_callback(self._push)
        self.mirror.on_control(self._control)
        hub.register(self.mirror)

    def _control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Forward a control request to the provider process and wait for its answer."""
        cid = next(self._call_ids)
        done: threading.Event = threading.Event()
        slot: list[tuple[bool, Any]] = []
        self._calls[cid] = (done, slot)
        try:
            if not self._send(_wire.encode(_wire.ControlCall(cid, request))):
                raise ControlError(f"provider {self.mirror.name} is gone")
            if not done.wait(CONTROL_TIMEOUT):
                raise ControlError(f"provider {self.mirror.name} did not answer the control "
                                   f"request within {CONTROL_TIMEOUT:g} s")
        finally:
            self._calls.pop(cid, None)
        ok, value = slot[0]
        if not ok:
            raise error_from_wire(value)
        return value if isinstance(value, dict) else {"result": value}

    def result(self, msg: _wire.ControlResult) -> None:
        """The provider answered a control request."""
        entry = self._calls.get(msg.id)
        if entry is not None:
            entry[1].append((msg.ok, msg.value))
            entry[0].set()

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
            rec = (r.ts, ev.index, tids.get(r.tid, r.tid), *args)
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
        for done, slot in list(self._calls.values()):
            slot.append((False, ["ControlError", f"provider {self.mirror.name} is gone"]))
            done.set()
        self.hub.unregister(self.mirror, reason)


def _closed(frame: bytes) -> bool:
    return False


def _check_value(value: object) -> None:
    """Refuse a field value the session could not render (non-string keys, deep nesting)."""
    try:
        orjson.dumps(value, default=str)
    except TypeError as exc:
        raise ProtocolError(f"unrenderable field value: {exc}") from None
