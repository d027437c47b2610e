"""ProviderLink: a provider in this process, registered with the hub service.

The link registers the provider's manifest, and whenever the hub pushes an enable
state it installs its :class:`LinkBuffer` as the events' sink (or removes it). A
background thread sends buffered records in batched frames. Writers never wait:
with a full socket or a stalled hub the buffer fills and further events are dropped
and counted; the counts travel with the next batch and land in the session
statistics. If the hub goes away, the provider is disabled and the link keeps
trying to reconnect; when it does, the hub pushes the current enable state again.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import msgspec

from .._errors import TracerError
from .._fields import encode_default
from .._provider import EVENT_TABLE, ControlCode, EventType, Provider
from .._render import native_tid
from . import _wire
from ._client import Connection, open_connection
from ._codec import error_to_wire
from ._errors import AccessDeniedError, ProtocolError
from ._linkbuffer import LinkBuffer
from ._paths import default_socket_path

__all__ = ["LinkStats", "ProviderLink", "attach_provider"]

_log = logging.getLogger(__name__)
#: The pseudo-session under which the hub's combined enable state is installed locally.
HUB_SESSION = "@hub"


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, EventType):
        return obj.id
    return encode_default(obj)


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)


@dataclass(frozen=True)
class LinkStats:
    """What the link did: records sent, dropped at the provider, pending, connection."""

    sent: int
    dropped: int
    pending: int
    connected: bool
    connects: int
    last_error: str | None


class ProviderLink:
    """Streams one provider's events to the hub service; see the module docstring."""

    def __init__(self, provider: Provider, path: str | os.PathLike[str] | None = None, *,
                 capacity: int = 65536, batch: int = 4096, interval: float = 0.05,
                 retry: float = 0.5) -> None:
        self.provider = provider
        self.path = path if path is not None else default_socket_path()
        self.buffer = LinkBuffer(capacity, batch)
        self.batch = batch
        self.interval = interval
        self.retry = retry
        self.sent = 0
        self.connects = 0
        self.last_error: str | None = None
        self._conn: Connection | None = None
        self._registered = threading.Event()
        self._attempted = threading.Event()
        self._refused = False
        self._denied = False
        self._closing = False
        self._pings: list[int] = []
        self._results: list[_wire.ControlResult] = []
        self._pongs: dict[int, threading.Event] = {}
        self._tokens = itertools.count(1)
        self._tids: dict[int, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"wfptrace-link-{provider.name}")

    # -- public -----------------------------------------------------------------------------
    def start(self, wait: float = 1.0) -> ProviderLink:
        """Start linking; wait up to ``wait`` s for the registration (refusals raise)."""
        self._thread.start()
        if wait and self._attempted.wait(wait) and self._refused:
            raise (AccessDeniedError if self._denied else ProtocolError)(
                self.last_error or "the hub refused the provider")
        return self

    @property
    def connected(self) -> bool:
        """True while registered with a hub."""
        return self._registered.is_set()

    def stats(self) -> LinkStats:
        """The link's counters now."""
        return LinkStats(self.sent, self.buffer.dropped, self.buffer.pending, self.connected,
                         self.connects, self.last_error)

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything buffered and wait until the hub has handled it."""
        if not self.connected:
            return False
        token = next(self._tokens)
        done = self._pongs[token] = threading.Event()
        self._pings.append(token)
        self.buffer.wake.set()
        ok = done.wait(timeout)
        self._pongs.pop(token, None)
        return ok

    def close(self, timeout: float = 5.0) -> None:
        """Flush, unregister and stop; the provider is left disabled."""
        if self.connected:
            self.flush(timeout)
        self._closing = True
        self.buffer.wake.set()
        self._thread.join(timeout)
        self._disconnect("closed")

    def __enter__(self) -> ProviderLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection -------------------------------------------------------------------------
    def _run(self) -> None:
        wake = self.buffer.wake
        while not self._closing:
            if self._conn is None and not self._connect():
                self._attempted.set()
                if self._refused:
                    return
                wake.wait(self.retry)
                wake.clear()
                continue
            self._attempted.set()
            wake.wait(self.interval)
            wake.clear()
            self._send_pending()

    def _connect(self) -> bool:
        conn: Connection | None = None
        try:
            conn = open_connection(self.path, "provider")
            conn.send(_wire.Register(self.provider.manifest()))
            while not isinstance(reply := conn.receive(), _wire.Reply):
                self._apply(reply)
        except (TracerError, OSError) as exc:
            if conn is not None:
                conn.close()
            self.provider.disable(HUB_SESSION)
            self.last_error = str(exc)
            self._refused = isinstance(exc, AccessDeniedError | ProtocolError)
            self._denied = isinstance(exc, AccessDeniedError)
            return False
        self._conn = conn
        self.connects += 1
        self.last_error = None
        self._registered.set()
        threading.Thread(target=self._receive, args=(conn,), daemon=True,
                         name=f"wfptrace-link-rx-{self.provider.name}").start()
        return True

    def _receive(self, conn: Connection) -> None:
        try:
            while True:
                self._apply(conn.receive())
        except (TracerError, OSError) as exc:
            self.last_error = str(exc)
        if self._conn is conn:
            self._disconnect(self.last_error or "hub closed the connection")

    def _apply(self, msg: Any) -> None:
        if isinstance(msg, _wire.Enable):
            if msg.control == ControlCode.CAPTURE_STATE.value:
                self.provider.capture_state()
            elif msg.sessions:
                self.provider.enable(HUB_SESSION, msg.level, msg.match_any, msg.match_all,
                                     self.buffer.put)
            else:
                self.provider.disable(HUB_SESSION)
        elif isinstance(msg, _wire.Pong):
            done = self._pongs.get(msg.token)
            if done is not None:
                done.set()
        elif isinstance(msg, _wire.ControlCall):
            self._results.append(self._answer(msg))
            self.buffer.wake.set()  # the sender thread writes it: one writer per socket

    def _answer(self, call: _wire.ControlCall) -> _wire.ControlResult:
        """Run the provider's control handler; its refusal travels back as an error."""
        try:
            return _wire.ControlResult(call.id, True, self.provider.control(call.request))
        except TracerError as exc:
            return _wire.ControlResult(call.id, False, error_to_wire(exc))
        except Exception as exc:  # a handler bug must not kill the link
            return _wire.ControlResult(call.id, False,
                                       ["ControlError", f"{type(exc).__name__}: {exc}"])

    def _disconnect(self, reason: str) -> None:
        conn, self._conn = self._conn, None
        self._registered.clear()
        self.provider.disable(HUB_SESSION)
        self.buffer.clear()
        if conn is not None:
            conn.close()
            _log.info("provider %s lost the hub: %s", self.provider.name, reason)

    # -- sending ----------------------------------------------------------------------------
    def _send_pending(self) -> None:
        conn = self._conn
        if conn is None:
            return
        records = self.buffer.take()
        losses = self.buffer.take_losses()
        try:
            for i in range(0, len(records), self.batch):
                self._send_chunk(conn, records[i:i + self.batch])
            if losses is not None:
                conn.sock.sendall(_wire.frame(_encoder.encode([7, [], {}, losses])))
            while self._pings:
                conn.send(_wire.Ping(self._pings.pop(0)))
            while self._results:
                conn.send(self._results.pop(0))
        except OSError as exc:
            self._disconnect(f"send failed: {exc}")

    def _send_chunk(self, conn: Connection, records: list[tuple]) -> None:
        table = EVENT_TABLE
        wire = [(rec[0], table[rec[1]].id, rec[3:], rec[2]) for rec in records]
        payload = _encoder.encode([7, wire, self._thread_ids(records), None])
        if len(payload) <= _wire.MAX_FRAME:
            conn.sock.sendall(_wire.frame(payload))
            self.sent += len(records)
        elif len(records) > 1:
            half = len(records) // 2
            self._send_chunk(conn, records[:half])
            self._send_chunk(conn, records[half:])
        else:
            self.buffer.drop(records[0])

    def _thread_ids(self, records: list[tuple]) -> dict[int, int]:
        cache = self._tids
        if len(cache) > 4096:
            cache.clear()
        out = {}
        for ident in {r[2] for r in records}:
            tid = cache.get(ident)
            if tid is None:
                tid = cache[ident] = native_tid(ident)
            out[ident] = tid
        return out


def attach_provider(provider: Provider, path: str | os.PathLike[str] | None = None, *,
                    wait: float = 1.0, **options: Any) -> ProviderLink:
    """Link ``provider`` to the hub service at ``path`` and start streaming its events.

    Returns at once if no hub is running: the link keeps retrying in the background,
    and the provider stays disabled (costing one attribute check per event) meanwhile.
    """
    return ProviderLink(provider, path, **options).start(wait)


