"""Opening a connection to the hub: connect, hello, welcome, with clear errors."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import _wire
from ._codec import error_from_wire
from ._errors import AccessDeniedError, HubUnavailableError, ProtocolError

__all__ = ["Connection", "open_connection"]


class Connection:
    """A handshaken socket to the hub with its frame iterator."""

    #: The hub's answer to our hello (set by :func:`connect` before it hands this out).
    welcome: _wire.Welcome

    def __init__(self, sock: socket.socket, path: Path, frames: Iterator[bytes]) -> None:
        self.sock = sock
        self.path = path
        self.frames = frames

    def send(self, msg: Any) -> None:
        """Send one message (blocking)."""
        self.sock.sendall(_wire.encode(msg))

    def receive(self) -> Any:
        """The next message; an Error frame raises, the end of the stream too."""
        try:
            payload = next(self.frames)
        except StopIteration:
            raise HubUnavailableError(f"the hub at {self.path} closed the connection") from None
        except OSError as exc:
            raise HubUnavailableError(f"connection to the hub at {self.path} lost: {exc}") from None
        msg = _wire.decode(_wire.client_decoder, payload)
        if isinstance(msg, _wire.Error):
            raise error_from_wire([msg.kind, msg.message])
        return msg

    def close(self) -> None:
        """Hang up (idempotent)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def open_connection(path: str | os.PathLike[str], role: str,
                    timeout: float | None = 10.0) -> Connection:
    """Connect to the hub at ``path`` as ``client`` or ``provider`` and say hello."""
    path = Path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        raise HubUnavailableError(f"no hub is listening on {path}") from None
    except PermissionError:
        sock.close()
        raise AccessDeniedError(f"permission denied connecting to the hub at {path}: only root "
                                "and members of the hub's group may use it") from None
    except OSError as exc:
        sock.close()
        raise HubUnavailableError(f"cannot connect to the hub at {path}: {exc}") from None
    conn = Connection(sock, path, iter(_wire.FrameReader(sock)))
    try:
        conn.send(_wire.Hello(_wire.MAGIC, _wire.VERSION, role, os.getpid()))
        welcome = conn.receive()
    except BaseException:
        conn.close()
        raise
    if not isinstance(welcome, _wire.Welcome):
        conn.close()
        raise ProtocolError(f"expected a welcome from the hub, got {type(welcome).__name__}")
    sock.settimeout(None)
    conn.welcome = welcome
    return conn
