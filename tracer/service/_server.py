"""The hub service: the embedded Hub behind a Unix socket, one thread per connection.

Each connection says hello (magic, version, role), then is either a *client*
(control requests; a ``subscribe`` request turns it into an event stream) or a
*provider* (one registration, then event batches and pings). Replies and pushes go
out through the connection's :class:`Outbox`, so a stalled peer stalls nobody else.
Any malformed, oversized or out-of-order frame closes that connection only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

from .._errors import TracerError
from .._hub import Hub
from .._manifest import Manifest
from .._realtime import Subscription
from .._stats import SessionStats
from . import _wire
from ._access import Peer, Policy, peer_of
from ._codec import error_to_wire
from ._control import Controller
from ._errors import AccessDeniedError, ProtocolError
from ._forward import Forwarder
from ._mirror import RemoteProvider
from ._outbox import Outbox
from ._paths import default_socket_path, prepare_socket_dir
from ._socketacl import grant_groups

__all__ = ["HubServer"]

_log = logging.getLogger(__name__)
HELLO_TIMEOUT = 5.0


class HubServer:
    """Serves a :class:`~tracer.Hub` on a Unix socket (mode 0660, owned by ``group``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, hub: Hub | None = None,
                 group: str | int | None = None, mode: int = 0o660,
                 max_frame: int = _wire.MAX_FRAME, policy: Policy | None = None) -> None:
        self.path = Path(path) if path is not None else default_socket_path()
        self.hub = hub if hub is not None else Hub()
        self.policy = policy if policy is not None else Policy(group)
        self.mode = mode
        self.max_frame = max_frame
        self.controller = Controller(self.hub, self.policy)
        self._listener: socket.socket | None = None
        self._conns: set[_Connection] = set()
        self._lock = threading.Lock()
        #: Serialises "is the name free?" with taking it (one live registration per name).
        self.registering = threading.Lock()
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> HubServer:
        """Bind the socket (refusing if another hub answers there) and start accepting."""
        gid = self.policy.socket_gid()
        if prepare_socket_dir(self.path, gid):
            self._grant_role_groups(self.path.parent, gid)
        _clear_stale(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        if gid is not None:
            os.chown(self.path, -1, gid)
        os.chmod(self.path, self.mode)
        self._grant_role_groups(self.path, gid)
        sock.listen(128)
        self._listener = sock
        threading.Thread(target=self._accept, name="wfptrace-accept", daemon=True).start()
        return self

    def _grant_role_groups(self, path: Path, gid: int | None) -> None:
        """Role groups other than the socket's own reach it (and the directory the hub made
        for it) through ACL entries."""
        others = self.policy.all_gids() - {gid}
        if not others:
            return
        try:
            grant_groups(path, others)
        except OSError as exc:
            _log.warning("cannot add ACL entries for groups %s to %s (%s): only group %s "
                         "can reach it", sorted(others), path, exc, gid)

    def close(self) -> list[SessionStats]:
        """Stop accepting, flush and stop every session, close every connection."""
        if self._closed:
            return []
        self._closed = True
        if self._listener is not None:
            self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        stats = self.hub.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            if conn.forwarder is not None:
                conn.forwarder.join(2.0)
            conn.close(drain=1.0)
        return stats

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._conns)

    # -- connections ----------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            conn = _Connection(self, sock)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="wfptrace-conn",
                             daemon=True).start()

    def _serve(self, conn: _Connection) -> None:
        try:
            conn.run()
        finally:
            with self._lock:
                self._conns.discard(conn)


def _clear_stale(path: Path) -> None:
    """Remove a socket left by a dead hub; refuse if a live hub or another file is there."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise TracerError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise TracerError(f"a hub is already listening on {path}")


class _Connection:
    """One peer: handshake, then the client or provider protocol."""

    def __init__(self, server: HubServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.peer: Peer = peer_of(sock)
        self.outbox = Outbox(sock, str(self.peer.pid), on_error=self._abort)
        self.frames = iter(_wire.FrameReader(sock, server.max_frame))
        self.provider: RemoteProvider | None = None
        self.forwarder: Forwarder | None = None

    def run(self) -> None:
        """Serve until the peer leaves or misbehaves; always clean up."""
        reason = "disconnected"
        try:
            hello = self._hello()
            if hello.role == "provider":
                self._provider()
            else:
                self._client()
        except (ProtocolError, AccessDeniedError) as exc:
            reason = str(exc)
            self.outbox.send(_wire.encode(_wire.Error(type(exc).__name__, str(exc))))
        except (OSError, StopIteration):
            reason = "connection lost"
        except Exception as exc:  # never let one client take the hub down
            _log.exception("hub connection from pid %s failed", self.peer.pid)
            reason = f"internal error: {exc}"
            self.outbox.send(_wire.encode(_wire.Error("TracerError", reason)))
        finally:
            self._cleanup(reason)

    def _next(self) -> Any:
        return _wire.decode(_wire.hub_decoder, next(self.frames))

    def _hello(self) -> _wire.Hello:
        self.sock.settimeout(HELLO_TIMEOUT)
        try:
            msg = self._next()
        except TimeoutError:
            raise ProtocolError("no hello within 5 seconds") from None
        self.sock.settimeout(None)
        if not isinstance(msg, _wire.Hello) or msg.magic != _wire.MAGIC:
            raise ProtocolError("the first frame must be a wfptrace hello")
        if msg.version != _wire.VERSION:
            raise ProtocolError(f"protocol version {msg.version} is not supported "
                                f"(the hub speaks version {_wire.VERSION})")
        if msg.role not in ("client", "provider"):
            raise ProtocolError(f"unknown role {msg.role!r}")
        self.outbox.send(_wire.encode(_wire.Welcome(
            _wire.VERSION, os.getpid(), self.server.policy.privileged(self.peer))))
        return msg

    # -- providers ------------------------------------------------------------------------
    def _provider(self) -> None:
        msg = self._next()
        if not isinstance(msg, _wire.Register):
            raise ProtocolError("a provider must register before anything else")
        ctl = self.server.controller
        ctl.check(self.peer, "register_provider")
        try:
            manifest = Manifest.from_json(msg.manifest)
        except (TracerError, AttributeError) as exc:  # a hostile manifest of the wrong shape
            raise ProtocolError(f"registration refused: damaged manifest ({exc})") from None
        ctl.check_name(self.peer, "register_provider", manifest.name)
        with self.server.registering:
            self._refuse_taken(manifest.name)
            try:
                self.provider = RemoteProvider(self.server.hub, manifest, self.peer.pid,
                                               self.outbox.send)
            except TracerError as exc:
                raise ProtocolError(f"registration refused: {exc}") from None
        self.outbox.send(_wire.encode(_wire.Reply(0, True, {"provider": manifest.name})))
        for payload in self.frames:
            msg = _wire.decode(_wire.hub_decoder, payload)
            if isinstance(msg, _wire.Events):
                self.provider.handle(msg)
            elif isinstance(msg, _wire.Ping):
                self.outbox.send(_wire.encode(_wire.Pong(msg.token)))
            elif isinstance(msg, _wire.ControlResult):
                self.provider.result(msg)
            else:
                raise ProtocolError(f"unexpected {type(msg).__name__} from a provider")

    def _refuse_taken(self, name: str) -> None:
        """One live registration per name: a second is refused, naming the first."""
        holder = self.server.hub.providers.get(name)
        if holder is not None:
            self.server.controller.deny(
                self.peer, "register_provider",
                f"provider {name} is already registered by pid {holder.pid}; a second "
                f"registration is refused until that one disconnects")

    # -- clients --------------------------------------------------------------------------
    def _client(self) -> None:
        for payload in self.frames:
            msg = _wire.decode(_wire.hub_decoder, payload)
            if self.forwarder is not None:
                raise ProtocolError("a subscribed connection accepts no more requests")
            if not isinstance(msg, _wire.Request):
                raise ProtocolError(f"unexpected {type(msg).__name__} from a client")
            self._request(msg)

    def _request(self, req: _wire.Request) -> None:
        ctl = self.server.controller
        sub: Subscription | None = None
        allowed: frozenset[str] | None = None
        value: Any
        try:
            if req.op == "start_session":
                value = ctl.start_session(self.peer, req.args)
            elif req.op == "subscribe":
                sub, allowed = ctl.subscribe(self.peer, req.args)
                value = {"session": sub.session}
            else:
                value = ctl.run(self.peer, req.op, req.args)
        except TracerError as exc:
            self.outbox.send(_wire.encode(_wire.Reply(req.id, False, error_to_wire(exc))))
            return
        self.outbox.send(_wire.encode(_wire.Reply(req.id, True, value)))
        if sub is not None:
            self.forwarder = Forwarder(sub, self.outbox, allowed)

    # -- teardown -------------------------------------------------------------------------
    def _abort(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self, drain: float = 0.0) -> None:
        """Close from the server side (shutdown): send what is queued, then hang up."""
        self.outbox.close(drain)
        self._abort()

    def _cleanup(self, reason: str) -> None:
        if self.forwarder is not None:
            self.forwarder.stop()
        if self.provider is not None:
            self.provider.gone(reason)
        self.outbox.close(drain=1.0)
        self._abort()
        self.sock.close()
