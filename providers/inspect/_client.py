"""An external decider's side of the control channel; a TraceView DecisionSource.

``pending()`` lists the connections waiting for a verdict (process, 5-tuple, time
left) and ``decide(id, "permit"|"block")`` answers one. Two transports, one
interface: :class:`DecisionClient` talks JSON lines to the inspector's own Unix
socket; :class:`HubDecisionClient` sends the same requests as control requests (the
IOCTL analog) through a hub, embedded or the hub service, to ``wfptrace-inspect``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

from tracer import TracerError

from ._deciders import DecidedConnection, PendingConnection
from ._errors import InspectError, NotRunningError

__all__ = ["DecisionClient", "HubDecisionClient"]


class _Decisions:
    """The decision-source operations, over whatever ``call`` sends requests with."""

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        raise NotImplementedError

    def pending(self) -> list[PendingConnection]:
        """Connections waiting for a verdict, oldest first, with their time left."""
        return [PendingConnection(**item) for item in self.call("pending")["pending"]]

    def decide(self, id: int, verdict: str) -> bool:
        """Answer one connection (``permit``/``allow`` or ``block``); False if too late."""
        return bool(self.call("decide", id=id, verdict=verdict)["decided"])

    def recent(self) -> list[DecidedConnection]:
        """The last connection verdicts, newest first: who decided, how long it took."""
        return [DecidedConnection(**item) for item in self.call("recent")["recent"]]

    def hold(self, id: int, held: bool) -> None:
        """Pause or resume a connection's countdown."""
        self.call("hold", id=id, held=held)

    def status(self) -> dict[str, Any]:
        """The inspector's configuration and counters."""
        return self.call("status")


class HubDecisionClient(_Decisions):
    """The external decider reached through a hub (``Hub`` or ``tracer.service`` client)."""

    def __init__(self, hub: Any, provider: str = "wfptrace-inspect") -> None:
        self.hub = hub
        self.provider = provider

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one control request; raise InspectError when it is refused."""
        try:
            return self.hub.control(self.provider, {"op": op, **args})
        except TracerError as exc:
            raise InspectError(str(exc)) from None

    def close(self) -> None:
        """Nothing to release: the hub connection belongs to the caller."""


class DecisionClient(_Decisions):
    """A persistent connection to one inspector's control socket."""

    def __init__(self, path: str | os.PathLike[str], timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._file: Any = None

    def _connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(str(self.path))
        except PermissionError:
            s.close()
            raise InspectError(f"permission denied on {self.path}: the running inspector "
                               "belongs to another user (root)") from None
        except OSError as exc:
            s.close()
            raise NotRunningError(f"no inspector answers on {self.path}: {exc}") from None
        self._sock, self._file = s, s.makefile("rb")

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one request; raise InspectError when the inspector refuses it."""
        with self._lock:
            if self._sock is None:
                self._connect()
            assert self._sock is not None
            try:
                self._sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
                line = self._file.readline()
            except OSError as exc:
                self.close()
                raise NotRunningError(f"control channel lost: {exc}") from None
        if not line:
            self.close()
            raise NotRunningError("the inspector closed the control channel")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise InspectError(reply.get("error", "request refused"))
        return reply

    def close(self) -> None:
        """Close the connection (the next call reconnects)."""
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None

    def __enter__(self) -> DecisionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
