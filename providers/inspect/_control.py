"""The inspector's control channel: JSON lines over a Unix socket.

One request per line, one reply per line: ``{"op": "pending"}``,
``{"op": "decide", "id": 3, "verdict": "permit"}``, ``{"op": "hold", "id": 3,
"held": true}``, ``{"op": "status"}``, ``{"op": "rundown"}``. Replies carry
``"ok": true`` or ``"ok": false, "error": "..."``. The same handler serves
control requests through the embedded hub (``Hub.control``). The socket is
owner-only (0600): deciding is as privileged as installing the rules.

Each connection is a caller: the handler gets a token for it, and ``on_close``
hears when it closes (a decision program that exits or dies ends its holds).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ControlServer", "Handler"]

Handler = Callable[[dict[str, Any], object], dict[str, Any]]


class _Conn(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        owner = object()
        try:
            self._serve(owner)
        except OSError:
            pass  # the caller vanished mid-reply: same as a close
        finally:
            if self.server.on_close is not None:
                self.server.on_close(owner)

    def _serve(self, owner: object) -> None:
        for line in self.rfile:
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
                reply = {"ok": True, **self.server.handler(request, owner)}
            except Exception as exc:  # every failure is an answer, never a dropped line
                reply = {"ok": False, "error": str(exc)}
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, handler: Handler,
                 on_close: Callable[[object], None] | None) -> None:
        super().__init__(path, _Conn)
        self.handler = handler
        self.on_close = on_close


class ControlServer:
    """Serve ``handler`` on ``path`` in a background thread until :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str], handler: Handler,
                 on_close: Callable[[object], None] | None = None) -> None:
        self.path = Path(path)
        with contextlib.suppress(FileNotFoundError):
            if self.path.is_socket():
                self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = _Server(str(self.path), handler, on_close)
        finally:
            os.umask(old)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2}, daemon=True,
                                        name="inspect-control")
        self._thread.start()

    def close(self) -> None:
        """Stop serving and remove the socket file."""
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def request(path: str | os.PathLike[str], message: dict[str, Any],
            timeout: float = 5.0) -> dict[str, Any]:
    """One request on a fresh connection (used by the CLI)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(json.dumps(message).encode() + b"\n")
        with s.makefile("rb") as f:
            line = f.readline()
    if not line:
        raise ConnectionError("the inspector closed the control channel")
    return json.loads(line)
