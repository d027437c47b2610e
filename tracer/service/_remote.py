"""RemoteHub: the embedded hub's API, served by a hub process over its socket."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from .._config import ProviderEnable, SessionConfig
from .._errors import TracerError
from .._event import LOST_EVENT_NAME, Event
from .._levels import Level
from .._manifest import Manifest
from .._realtime import Subscription
from .._stats import SessionStats
from . import _wire
from ._client import Connection, open_connection
from ._codec import (
    EventUnpacker,
    config_to_wire,
    enable_from_wire,
    enable_to_wire,
    error_from_wire,
    stats_from_wire,
)
from ._errors import HubUnavailableError, ProtocolError
from ._paths import default_socket_path

__all__ = ["RemoteHub", "connect"]


class RemoteHub:
    """A connection to a hub service with the same methods as :class:`~tracer.Hub`.

    Differences: ``start_session`` returns the new session's statistics (the session
    lives in the hub process), and no processors or backends can be passed.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 timeout: float | None = 30.0) -> None:
        self.path = path if path is not None else default_socket_path()
        self.timeout = timeout
        self._conn = open_connection(self.path, "client", timeout)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def privileged(self) -> bool:
        """True if this process holds the hub's controller role (sessions, control requests)."""
        return self._conn.welcome.privileged

    @property
    def hub_pid(self) -> int:
        """The hub process's pid."""
        return self._conn.welcome.pid

    def _call(self, op: str, **args: Any) -> Any:
        with self._lock:
            req = _wire.Request(next(self._ids), op, args)
            try:
                self._conn.send(req)
            except OSError as exc:
                raise HubUnavailableError(f"connection to the hub lost: {exc}") from None
            reply = self._conn.receive()
        if not isinstance(reply, _wire.Reply) or reply.id != req.id:
            raise ProtocolError(f"unexpected answer to {op}: {type(reply).__name__}")
        if not reply.ok:
            raise error_from_wire(reply.value)
        return reply.value

    # -- sessions -------------------------------------------------------------------------
    def start_session(self, config: SessionConfig) -> SessionStats:
        """Start a session in the hub (a relative log path is taken from this process's cwd)."""
        config.validate()
        return stats_from_wire(self._call("start_session", config=config_to_wire(config)))

    def update_session(self, name: str, providers: Iterable[ProviderEnable]) -> None:
        """Replace a running session's providers, levels and keywords."""
        self._call("update_session", name=name,
                   providers=[enable_to_wire(p) for p in providers])

    def stop_session(self, name: str) -> SessionStats:
        """Stop a session (flushing it) and return its final statistics."""
        return stats_from_wire(self._call("stop_session", name=name))

    def flush_session(self, name: str) -> SessionStats:
        """Write everything the session has buffered; return its statistics."""
        return stats_from_wire(self._call("flush_session", name=name))

    def query_session(self, name: str) -> SessionStats:
        """The session's statistics now."""
        return stats_from_wire(self._call("query_session", name=name))

    def list_sessions(self) -> list[SessionStats]:
        """Statistics of every session in the hub."""
        return [stats_from_wire(s) for s in self._call("list_sessions")]

    def session_config(self, name: str) -> list[ProviderEnable]:
        """The providers a session enables, as configured."""
        return [enable_from_wire(p) for p in self._call("session_config", name=name)]

    def capture_state(self, name: str, provider: str | None = None) -> None:
        """Ask the session's providers (or one of them) to emit their rundown."""
        self._call("capture_state", name=name, provider=provider)

    # -- providers ------------------------------------------------------------------------
    def control(self, provider: str, request: dict[str, Any]) -> dict[str, Any]:
        """Send a control request (the IOCTL analog) to a provider, wherever it runs."""
        return self._call("control", provider=provider, request=request)

    def manifests(self) -> dict[str, Manifest]:
        """Every provider the hub knows, registered or not."""
        return {m["name"]: Manifest.from_json(m) for m in self._call("manifests")}

    def add_manifest(self, manifest: dict[str, Any]) -> None:
        """Make a provider known, so sessions can name it before its process starts."""
        self._call("add_manifest", manifest=manifest)

    # -- consumers ------------------------------------------------------------------------
    def subscribe(self, name: str, maxsize: int = 100_000) -> Subscription:
        """Subscribe to a real-time session's events (on a connection of its own)."""
        conn = open_connection(self.path, "client", self.timeout)
        try:
            conn.send(_wire.Request(0, "subscribe", {"name": name, "maxsize": maxsize}))
            reply = conn.receive()
            if not isinstance(reply, _wire.Reply):
                raise ProtocolError(f"unexpected answer to subscribe: {type(reply).__name__}")
            if not reply.ok:
                raise error_from_wire(reply.value)
        except BaseException:
            conn.close()
            raise
        sub = Subscription(name, maxsize, on_close=lambda s: conn.close())
        threading.Thread(target=_receive_events, args=(conn, sub), daemon=True,
                         name=f"wfptrace-sub-{name}").start()
        return sub

    def close(self) -> None:
        """Close the control connection."""
        self._conn.close()

    def __enter__(self) -> RemoteHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _receive_events(conn: Connection, sub: Subscription) -> None:
    """Feed a subscription from its connection, waiting (not dropping) when it is full."""
    unpacker = EventUnpacker(sub.session)
    try:
        while not sub.closed:
            msg = conn.receive()
            if isinstance(msg, _wire.SubEnd):
                break
            if not isinstance(msg, _wire.SubEvents):
                raise ProtocolError(f"unexpected {type(msg).__name__} on a subscription")
            events = unpacker.unpack(msg.types, msg.events)
            _wait_room(sub, len(events))
            sub._push(events, _lost_marker(sub.session))
    except (TracerError, OSError):
        pass
    finally:
        sub._finish()
        conn.close()


def _wait_room(sub: Subscription, n: int) -> None:
    while sub._queue and len(sub._queue) + n > sub.maxsize and not sub.closed:
        time.sleep(0.002)


def _lost_marker(session: str) -> Any:
    def make(count: int) -> Event:
        now = time.time_ns()
        return Event(time_ns=now, seq=0, provider="", name=LOST_EVENT_NAME, id=0,
                     level=int(Level.WARNING),
                     keywords=(), pid=os.getpid(), tid=0,
                     fields={"count": count, "first_ns": now, "last_ns": now}, kind="lost",
                     session=session)
    return make


def connect(path: str | os.PathLike[str] | None = None,
            timeout: float | None = 30.0) -> RemoteHub:
    """Connect to the hub service at ``path`` (default: the standard socket path)."""
    return RemoteHub(path, timeout)
