"""The embedded hub: registered providers, known manifests and running sessions.

This is the in-process ETW: providers register here, sessions enable them with a
level and keyword masks, consumers subscribe. The hub service (a separate process)
offers the same API over a Unix socket.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import _hubprovider as hp
from ._catalog import installed_providers
from ._config import ProviderEnable, SessionConfig, validate_session_name
from ._errors import (
    ConfigError,
    ControlError,
    NoSuchSessionError,
    SessionExistsError,
    UnknownKeywordError,
    UnknownProviderError,
)
from ._manifest import Manifest
from ._provider import ALL_KEYWORDS, Provider
from ._realtime import Subscription
from ._render import Processor
from ._session import Backend, Session
from ._stats import SessionStats

__all__ = ["Hub"]


class Hub:
    """Providers, manifests and sessions of one process (or of the hub service)."""

    def __init__(self, *, load_installed: bool = True) -> None:
        self._lock = threading.RLock()
        self.providers: dict[str, Provider] = {}
        self._manifests: dict[str, Manifest] = {}
        self._sessions: dict[str, Session] = {}
        self._wanted: dict[str, dict[str, ProviderEnable]] = {}
        self.register(hp.HUB_PROVIDER)
        if load_installed:
            for provider in installed_providers().values():
                self.add_manifest(provider.manifest())

    # -- providers ----------------------------------------------------------------------
    def register(self, provider: Provider) -> None:
        """Register a provider; sessions waiting for it enable it now."""
        with self._lock:
            old = self.providers.get(provider.name)
            if old is not None and old is not provider:
                self._disable_everywhere(old)
            self.providers[provider.name] = provider
            known = provider.name in self._manifests
            self._manifests[provider.name] = Manifest.from_json(provider.manifest())
            for session in self._sessions.values():
                spec = self._wanted[session.name].get(provider.name)
                if spec is None:
                    continue
                if not known or old is not None:
                    session.add_manifest(provider.manifest())
                self._enable(session, provider, spec)
                session.set_provider_state(provider.name, status="registered", pid=provider.pid)
        if hp.PROVIDER_REGISTERED.enabled:
            hp.PROVIDER_REGISTERED.write(provider.name, provider.pid)

    def unregister(self, provider: Provider, reason: str = "unregistered") -> None:
        """Remove a provider (its process exited); its sessions keep running."""
        with self._lock:
            if self.providers.get(provider.name) is not provider:
                return
            del self.providers[provider.name]
            self._disable_everywhere(provider)
            for session in self._sessions.values():
                if provider.name in self._wanted[session.name]:
                    session.set_provider_state(provider.name, status="gone", reason=reason)
        if hp.PROVIDER_GONE.enabled:
            hp.PROVIDER_GONE.write(provider.name, provider.pid, reason)

    def add_manifest(self, manifest: dict[str, Any]) -> None:
        """Make a provider known by its manifest, so sessions can name it before it runs."""
        parsed = Manifest.from_json(manifest)
        with self._lock:
            self._manifests.setdefault(parsed.name, parsed)

    def manifest(self, name: str) -> Manifest:
        """The manifest of a registered or known provider."""
        try:
            return self._manifests[name]
        except KeyError:
            known = ", ".join(sorted(self._manifests)) or "none"
            raise UnknownProviderError(f"unknown provider {name!r} (known: {known})") from None

    def manifests(self) -> dict[str, Manifest]:
        """Every provider known to the hub, registered or not."""
        with self._lock:
            return dict(self._manifests)

    # -- sessions -----------------------------------------------------------------------
    def start_session(self, config: SessionConfig, *, processors: Sequence[Processor] = (),
                      backends: Sequence[Backend] = (),
                      file_opener: Callable[[str, int], int] | None = None) -> Session:
        """Validate, create and start a session, enabling its providers.

        ``file_opener(path, flags) -> fd`` opens the file sinks' files (the hub
        service passes one that acts with its client's rights).
        """
        config.validate()
        with self._lock:
            if config.name in self._sessions:
                raise SessionExistsError(f"session {config.name!r} is already running")
            wanted = self._resolve(config.providers)
            session = Session(config,
                              lambda: [m.to_json() for m in self._header_manifests(wanted)],
                              processors, backends, file_opener=file_opener)
            self._sessions[config.name] = session
            self._wanted[config.name] = wanted
            try:
                self._apply(session, wanted)
            except Exception:
                self._drop_session(config.name)
                raise
        if hp.SESSION_STARTED.enabled:
            hp.SESSION_STARTED.write(config.name, sorted(wanted), str(config.file or ""))
        return session

    def update_session(self, name: str, providers: Iterable[ProviderEnable]) -> None:
        """Replace a running session's providers, levels and keywords."""
        with self._lock:
            session = self.session(name)
            wanted = self._resolve(list(providers))
            for pname in set(self._wanted[name]) - set(wanted):
                provider = self.providers.get(pname)
                if provider is not None:
                    provider.disable(name)
            for pname in set(wanted) - set(self._wanted[name]):
                session.add_manifest(self._manifests[pname].to_json())
            self._wanted[name] = wanted
            self._apply(session, wanted)
        if hp.SESSION_UPDATED.enabled:
            hp.SESSION_UPDATED.write(name, sorted(wanted))

    def stop_session(self, name: str) -> SessionStats:
        """Disable the session's providers, flush, close and forget it."""
        with self._lock:
            session = self.session(name)
            self._drop_session(name)
        stats = session.stop()
        if hp.SESSION_STOPPED.enabled:
            hp.SESSION_STOPPED.write(name, stats.events_written, stats.events_lost)
        return stats

    def flush_session(self, name: str) -> SessionStats:
        """Write everything the session has buffered; return its statistics."""
        session = self.session(name)
        session.flush()
        return session.stats()

    def query_session(self, name: str) -> SessionStats:
        """The session's statistics now."""
        return self.session(name).stats()

    def list_sessions(self) -> list[SessionStats]:
        """Statistics of every running session."""
        with self._lock:
            sessions = list(self._sessions.values())
        return [s.stats() for s in sessions]

    def session(self, name: str) -> Session:
        """The running session with this name."""
        validate_session_name(name)
        try:
            return self._sessions[name]
        except KeyError:
            raise NoSuchSessionError(f"no session named {name!r}") from None

    def session_config(self, name: str) -> list[ProviderEnable]:
        """The providers a session enables, as configured."""
        with self._lock:
            self.session(name)
            return list(self._wanted[name].values())

    def subscribe(self, name: str, maxsize: int = 100_000) -> Subscription:
        """Subscribe to a real-time session's events."""
        session = self.session(name)
        if not any(spec.kind == "realtime" for spec in session.config.sink_specs()):
            raise ConfigError(f"session {name!r} has no real-time delivery")
        return session.subscribe(maxsize)

    def capture_state(self, name: str, provider: str | None = None) -> None:
        """Ask the session's providers (or one of them) to emit their rundown."""
        with self._lock:
            targets = [provider] if provider else list(self._wanted[self.session(name).name])
            objs = [self.providers[p] for p in targets if p in self.providers]
        for obj in objs:
            obj.capture_state()

    def control(self, provider: str, request: dict[str, Any]) -> dict[str, Any]:
        """Send a control request (the IOCTL analog) to a registered provider."""
        with self._lock:
            obj = self.providers.get(provider)
        if obj is None:
            self.manifest(provider)  # unknown name: UnknownProviderError
            raise ControlError(f"provider {provider} is not running")
        return obj.control(request)

    def close(self) -> list[SessionStats]:
        """Stop every session (flushing each) and return their final statistics."""
        with self._lock:
            names = list(self._sessions)
        return [self.stop_session(n) for n in names]

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------
    def _resolve(self, specs: Sequence[ProviderEnable]) -> dict[str, ProviderEnable]:
        out: dict[str, ProviderEnable] = {}
        for spec in specs:
            manifest = self.manifest(spec.provider)
            for kw in (*(spec.keywords or ()), *spec.match_all):
                if kw not in manifest.keywords:
                    known = ", ".join(manifest.keywords) or "none"
                    raise UnknownKeywordError(
                        f"provider {spec.provider} has no keyword {kw!r} (known: {known})")
            if spec.provider in out:
                raise ConfigError(f"provider {spec.provider} is listed twice")
            out[spec.provider] = spec
        return out

    def _masks(self, spec: ProviderEnable) -> tuple[int, int]:
        manifest = self._manifests[spec.provider]
        if spec.match_any_mask is not None:
            any_mask = spec.match_any_mask or ALL_KEYWORDS  # ETW: MatchAnyKeyword 0 = all
        elif spec.keywords is None:
            any_mask = ALL_KEYWORDS
        else:
            any_mask = manifest.keyword_mask(spec.keywords)
        all_mask = (spec.match_all_mask if spec.match_all_mask is not None
                    else manifest.keyword_mask(spec.match_all))
        return any_mask, all_mask

    def _enable(self, session: Session, provider: Provider, spec: ProviderEnable) -> None:
        any_mask, all_mask = self._masks(spec)
        provider.enable(session.name, int(spec.level), any_mask, all_mask, session.buffer.put)

    def _apply(self, session: Session, wanted: dict[str, ProviderEnable]) -> None:
        for pname, spec in wanted.items():
            provider = self.providers.get(pname)
            if provider is None:
                if session.provider_state(pname).get("status") != "gone":
                    session.set_provider_state(pname, status="waiting")
                continue
            self._enable(session, provider, spec)
            session.set_provider_state(pname, status="registered", pid=provider.pid,
                                       level=int(spec.level))

    def _header_manifests(self, wanted: dict[str, ProviderEnable]) -> list[Manifest]:
        return [self._manifests[p] for p in wanted if p in self._manifests]

    def _disable_everywhere(self, provider: Provider) -> None:
        for name in list(self._sessions):
            provider.disable(name)

    def _drop_session(self, name: str) -> None:
        for pname in self._wanted.pop(name, {}):
            provider = self.providers.get(pname)
            if provider is not None:
                provider.disable(name)
        self._sessions.pop(name, None)

