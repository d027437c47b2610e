"""Shared test harness: network namespaces joined by veth pairs.

Register the fixtures with ``pytest_plugins = ["tests.harness.netns"]`` in the
root conftest.py; library-style helpers are importable from here.
"""

from pathlib import Path

from .netns import (
    Namespace,
    NetnsUnavailableError,
    Topology,
    build_topology,
    current_netns_inode,
    netns_unavailable_reason,
    sweep_stale_namespaces,
)

#: Stand-alone traffic tools (stdlib only, runnable by renamed Python copies):
#: ``python UDPFLOOD DST PORT [--rate PPS] [--seconds S]`` and
#: ``python TCPCONN serve PORT`` / ``python TCPCONN connect DST PORT FIRST COUNT``.
UDPFLOOD = str(Path(__file__).with_name("udpflood.py"))
TCPCONN = str(Path(__file__).with_name("tcpconn.py"))

__all__ = [
    "TCPCONN",
    "UDPFLOOD",
    "Namespace",
    "NetnsUnavailableError",
    "Topology",
    "build_topology",
    "current_netns_inode",
    "netns_unavailable_reason",
    "sweep_stale_namespaces",
]
