"""The hub's own provider: session lifecycle, provider registration, access refusals.

Its fields follow the shared vocabulary (``process.pid``: the provider's or the
refused client's process)."""

from __future__ import annotations

from ._levels import Level
from ._provider import Provider

__all__ = ["HUB_PROVIDER"]

HUB_PROVIDER = Provider("wfptrace-hub", keywords=["session", "provider", "security"],
                        description="The trace hub: sessions, providers and access control")
SESSION_STARTED = HUB_PROVIDER.event(
    1, "SessionStarted", Level.INFO, "session", {"session": str, "providers": list, "file": str},
    "Session {session} started: providers {providers}, file {file}")
SESSION_STOPPED = HUB_PROVIDER.event(
    2, "SessionStopped", Level.INFO, "session",
    {"session": str, "written": (int, "{event}"), "lost": (int, "{event}")},
    "Session {session} stopped: {written} events written, {lost} lost")
SESSION_UPDATED = HUB_PROVIDER.event(
    3, "SessionUpdated", Level.INFO, "session", {"session": str, "providers": list},
    "Session {session} updated: providers {providers}")
PROVIDER_REGISTERED = HUB_PROVIDER.event(
    4, "ProviderRegistered", Level.INFO, "provider", {"provider": str, "process.pid": int},
    "Provider {provider} registered (pid {process.pid})")
PROVIDER_GONE = HUB_PROVIDER.event(
    5, "ProviderGone", Level.WARNING, "provider", {"provider": str, "process.pid": int,
                                         "reason": str},
    "Provider {provider} (pid {process.pid}) gone: {reason}")
ACCESS_DENIED = HUB_PROVIDER.event(
    6, "AccessDenied", Level.WARNING, "security",
    {"uid": int, "process.pid": int, "operation": str, "reason": str},
    "Refused {operation} for uid {uid} (pid {process.pid}): {reason}")
