"""Exception hierarchy of the netfilter provider.

Everything raised on purpose derives from :class:`NetfilterError`, so callers can
catch one type. Bad input on the packet path is never raised: it is counted.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "NetfilterError",
    "NetlinkError",
    "QueueBindError",
    "RuleError",
]


class NetfilterError(Exception):
    """Base class of every error this package raises."""


class NetlinkError(NetfilterError):
    """The kernel answered a netlink request with an error (``errno`` set)."""

    def __init__(self, errno: int, what: str) -> None:
        import os

        super().__init__(f"{what}: {os.strerror(errno)} (errno {errno})")
        self.errno = errno


class QueueBindError(NetlinkError):
    """Binding or configuring an NFQUEUE failed (queue in use, no permission...)."""


class RuleError(NetfilterError):
    """A firewall rule could not be installed, listed or removed."""


class BackendUnavailableError(RuleError):
    """No rule backend (nftables queue, iptables-nft, iptables-legacy) works here."""
