"""Control requests: each operation of the hub API, the role it needs and its handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _hubprovider as hp
from .._config import SessionConfig
from .._errors import ConfigError, LogWriteError
from .._hub import Hub
from .._realtime import Subscription
from ._access import CONTROLLER, PROVIDER, READER, Peer, Policy
from ._codec import config_from_wire, enable_from_wire, enable_to_wire, stats_to_wire
from ._errors import AccessDeniedError
from ._open import opener_for

__all__ = ["Controller"]

Handler = Callable[[Hub, dict[str, Any]], Any]


@dataclass(frozen=True)
class _Op:
    role: str
    run: Handler


def _name(args: dict[str, Any]) -> str:
    name = args.get("name")
    if not isinstance(name, str):
        raise ConfigError("request needs a session name")
    return name


def _update(hub: Hub, a: dict[str, Any]) -> None:
    providers = a.get("providers")
    if not isinstance(providers, list):
        raise ConfigError("update needs a provider list")
    hub.update_session(_name(a), [enable_from_wire(p) for p in providers])


def _add_manifest(hub: Hub, a: dict[str, Any]) -> None:
    manifest = a.get("manifest")
    if not isinstance(manifest, dict):
        raise ConfigError("add_manifest needs a manifest map")
    try:
        hub.add_manifest(manifest)
    except AttributeError as exc:  # a hostile manifest of the wrong shape
        raise ConfigError(f"damaged provider manifest: {exc}") from None


def _capture(hub: Hub, a: dict[str, Any]) -> None:
    provider = a.get("provider")
    hub.capture_state(_name(a), provider if isinstance(provider, str) else None)


def _provider_control(hub: Hub, a: dict[str, Any]) -> Any:
    provider, request = a.get("provider"), a.get("request")
    if not isinstance(provider, str) or not isinstance(request, dict):
        raise ConfigError("control needs a provider name and a request map")
    return hub.control(provider, request)


_OPS: dict[str, _Op] = {
    "stop_session": _Op(CONTROLLER, lambda h, a: stats_to_wire(h.stop_session(_name(a)))),
    "flush_session": _Op(CONTROLLER, lambda h, a: stats_to_wire(h.flush_session(_name(a)))),
    "update_session": _Op(CONTROLLER, _update),
    "capture_state": _Op(CONTROLLER, _capture),
    "control": _Op(CONTROLLER, _provider_control),
    "add_manifest": _Op(CONTROLLER, _add_manifest),
    "query_session": _Op(READER, lambda h, a: stats_to_wire(h.query_session(_name(a)))),
    "list_sessions": _Op(READER, lambda h, a: [stats_to_wire(s) for s in h.list_sessions()]),
    "session_config": _Op(READER, lambda h, a: [enable_to_wire(p)
                                                 for p in h.session_config(_name(a))]),
    "manifests": _Op(READER, lambda h, a: [m.to_json() for m in h.manifests().values()]),
}
#: Sink kinds a client other than root may ask the hub for: file sinks open through
#: the client's opener, the others open no path.
MEMBER_SINKS = frozenset({"file", "realtime", "null", "otlp"})
#: Operations handled by the server itself (they change the connection), with their role.
SPECIAL = {"start_session": CONTROLLER, "subscribe": READER, "register_provider": PROVIDER}


def role_for(operation: str) -> str | None:
    """The role an operation needs, or None for an unknown operation."""
    op = _OPS.get(operation)
    return op.role if op is not None else SPECIAL.get(operation)


class Controller:
    """Checks a peer's right to an operation and runs it on the hub."""

    def __init__(self, hub: Hub, policy: Policy) -> None:
        self.hub = hub
        self.policy = policy

    def check(self, peer: Peer, operation: str) -> None:
        """Raise AccessDeniedError (and trace the refusal) unless the peer holds the role."""
        role = role_for(operation)
        if role is None:
            raise ConfigError(f"unknown operation {operation!r}")
        if not self.policy.has(peer, role):
            self.deny(peer, operation, self.policy.refusal(peer, operation, role))

    def check_name(self, peer: Peer, operation: str, name: str) -> None:
        """Refuse (and trace) a reserved provider name to anyone but root and the owner."""
        if self.policy.is_reserved(name) and not self.policy.is_root(peer):
            self.deny(peer, operation, self.policy.reserved_refusal(peer, operation, name))

    def deny(self, peer: Peer, operation: str, reason: str) -> None:
        """Trace a refusal on the hub's provider and raise it to the client."""
        if hp.ACCESS_DENIED.enabled:
            hp.ACCESS_DENIED.write(peer.uid, peer.pid, operation, reason)
        raise AccessDeniedError(reason)

    def run(self, peer: Peer, operation: str, args: dict[str, Any]) -> Any:
        """Run one plain operation (not start_session / subscribe) for a peer."""
        self.check(peer, operation)
        op = _OPS.get(operation)
        if op is None:
            raise ConfigError(f"{operation} is not a plain request")
        manifest = args.get("manifest")
        if operation == "add_manifest" and isinstance(manifest, dict):
            name = manifest.get("name")
            if isinstance(name, str):
                self.check_name(peer, operation, name)
        return op.run(self.hub, args)

    def subscribe(self, peer: Peer, args: dict[str, Any]) -> tuple[Subscription,
                                                                    frozenset[str] | None]:
        """Subscribe to a session's events, and the providers the peer may read (None: all).

        A reader limited to some providers may subscribe only to a session enabling none
        but those; the forwarder also drops other providers' events added later.
        """
        self.check(peer, "subscribe")
        name, maxsize = args.get("name"), args.get("maxsize", 100_000)
        if not isinstance(name, str) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigError("subscribe needs a session name and a positive maxsize")
        allowed = self.policy.readable(peer)
        if allowed is not None:
            others = {p.provider for p in self.hub.session_config(name)} - allowed
            if others:
                self.deny(peer, "subscribe",
                          f"permission denied: session {name} enables "
                          f"{', '.join(sorted(others))}; uid {peer.uid} may read the events of "
                          f"{', '.join(sorted(allowed)) or 'no provider'} only")
        return self.hub.subscribe(name, maxsize), allowed

    def start_session(self, peer: Peer, args: dict[str, Any]) -> dict[str, Any]:
        """Start a session; its log files are opened with the peer's own credentials."""
        self.check(peer, "start_session")
        config = config_from_wire(args.get("config"))
        if config.blocking:  # a hub session is fed by live providers: a wait would stall them
            raise ConfigError("a blocking session cannot run in the hub service: its providers "
                              "are live and must never wait (blocking is for file-fed runs)")
        opener = opener_for(peer)
        if opener is not None:
            self._check_sinks(peer, config)
        try:
            session = self.hub.start_session(config, file_opener=opener)
        except LogWriteError as exc:
            if opener is not None and opener.refused:
                self.deny(peer, "start_session", f"permission denied for uid {peer.uid}: {exc}")
            raise
        return stats_to_wire(session.stats())

    def _check_sinks(self, peer: Peer, config: SessionConfig) -> None:
        """Sinks for a peer that is not root: only kinds known to open files through the
        peer's opener (a third-party sink could open its target with the hub's rights)."""
        for spec in config.sink_specs():
            if spec.kind not in MEMBER_SINKS:
                self.deny(peer, "start_session",
                          f"permission denied: sink {spec.kind} is not available through the "
                          f"hub to uid {peer.uid} (only {', '.join(sorted(MEMBER_SINKS))})")
