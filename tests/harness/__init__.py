"""Shared test harness: network namespaces joined by veth pairs.

Register the fixtures with ``pytest_plugins = ["tests.harness.netns"]`` in the
root conftest.py; library-style helpers are importable from here.
"""

from .netns import (
    Namespace,
    NetnsUnavailableError,
    Topology,
    build_topology,
    current_netns_inode,
    netns_unavailable_reason,
)

__all__ = [
    "Namespace",
    "NetnsUnavailableError",
    "Topology",
    "build_topology",
    "current_netns_inode",
    "netns_unavailable_reason",
]
