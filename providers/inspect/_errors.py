"""Exception hierarchy of the inspect provider.

Everything raised on purpose derives from :class:`InspectError`; the CLI prints
its message and exits non-zero. Packet-path problems are counted, never raised.
"""

from __future__ import annotations

__all__ = [
    "AlreadyRunningError",
    "InspectConfigError",
    "InspectError",
    "NotRunningError",
]


class InspectError(Exception):
    """Base class of every error this package raises."""


class InspectConfigError(InspectError):
    """The configuration is missing or invalid; nothing was installed."""


class AlreadyRunningError(InspectError):
    """An inspector already runs in this network namespace."""


class NotRunningError(InspectError):
    """No inspector runs in this network namespace (for stop, status, decide)."""
