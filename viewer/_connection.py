"""The small hub interface the viewer uses, so the embedded hub and a remote client fit.

:class:`tracer.Hub` satisfies it as is; the hub service's client is meant to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tracer import Manifest, ProviderEnable, SessionConfig, SessionStats, Subscription

__all__ = ["HubConnection", "registered_providers"]


@runtime_checkable
class HubConnection(Protocol):
    """What TraceView asks of a hub: manifests, session control and subscriptions."""

    def manifests(self) -> dict[str, Manifest]:
        """Every provider known to the hub (registered or by manifest only)."""

    def start_session(self, config: SessionConfig) -> Any:
        """Start a session."""

    def stop_session(self, name: str) -> SessionStats:
        """Stop a session and return its final statistics."""

    def flush_session(self, name: str) -> SessionStats:
        """Flush a session's buffers."""

    def update_session(self, name: str, providers: Iterable[ProviderEnable]) -> None:
        """Change a running session's providers, levels and keywords."""

    def query_session(self, name: str) -> SessionStats:
        """One session's statistics."""

    def list_sessions(self) -> list[SessionStats]:
        """Statistics of every running session."""

    def session_config(self, name: str) -> list[ProviderEnable]:
        """The providers a running session enables, as configured."""

    def subscribe(self, name: str) -> Subscription:
        """Real-time events of a session."""


def registered_providers(hub: HubConnection) -> set[str]:
    """Names of providers that are running now (not just known by manifest)."""
    providers = getattr(hub, "providers", None)
    if isinstance(providers, dict):
        return set(providers)
    names = getattr(hub, "registered_providers", None)
    return set(names()) if callable(names) else set()
