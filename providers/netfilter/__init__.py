"""Live interception on Linux: NFQUEUE, firewall rules and process attribution.

Public surface:

- :class:`NfQueue`, :class:`QueueConfig`, :class:`Packet`, :class:`Verdict`:
  a pure-Python NFQUEUE client (batch verdicts, rewrite, fail-open, GSO).
- :class:`QueueStats`, :class:`KernelQueueCounters`: consumer and kernel counters.
"""

from ._errors import (
    BackendUnavailableError,
    NetfilterError,
    NetlinkError,
    QueueBindError,
    RuleError,
)
from ._nfqueue import Handler, NfQueue, QueueConfig
from ._packet import CtInfo, Hook, Packet, Verdict
from ._stats import KernelQueueCounters, QueueStats

__all__ = [
    "BackendUnavailableError",
    "CtInfo",
    "Handler",
    "Hook",
    "KernelQueueCounters",
    "NetfilterError",
    "NetlinkError",
    "NfQueue",
    "Packet",
    "QueueBindError",
    "QueueConfig",
    "QueueStats",
    "RuleError",
    "Verdict",
]
