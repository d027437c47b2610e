"""Errors of the hub service, all :class:`~tracer.TracerError` so the CLI prints them cleanly."""

from __future__ import annotations

from .._errors import TracerError

__all__ = ["AccessDeniedError", "HubUnavailableError", "ProtocolError"]


class AccessDeniedError(TracerError, PermissionError):
    """The hub refused an operation: the caller lacks the role it needs (or the name is root's)."""


class HubUnavailableError(TracerError, ConnectionError):
    """No hub listens on the socket, or the connection to it was lost."""


class ProtocolError(TracerError):
    """A peer sent a malformed, oversized or out-of-order frame, or speaks another version."""
