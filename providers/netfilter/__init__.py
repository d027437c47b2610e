"""Live interception on Linux: NFQUEUE, firewall rules and process attribution.

Public surface:

- :class:`NfQueue`, :class:`QueueConfig`, :class:`Packet`, :class:`Verdict`:
  a pure-Python NFQUEUE client (batch verdicts, rewrite, fail-open, GSO).
- :class:`QueueStats`, :class:`KernelQueueCounters`: consumer and kernel counters.
- :class:`QueueRules`, :class:`QueueRule`, :func:`detect_backend`,
  :func:`sweep_stale`: owned, tagged firewall rules that feed a queue.
- :class:`Attributor`, :class:`Attribution`: flow -> socket -> process
  (sock_diag + /proc), with :class:`Flow`, :class:`SockDiag`,
  :class:`SocketOwners` and :class:`ProcessInfo` as building blocks.
"""

from ._attribution import Attribution, AttributionStats, Attributor, Mode, Outcome
from ._errors import (
    BackendUnavailableError,
    NetfilterError,
    NetlinkError,
    QueueBindError,
    RuleError,
)
from ._flow import Flow, parse_flow
from ._nfqueue import Handler, NfQueue, QueueConfig
from ._packet import CtInfo, Hook, Packet, Verdict
from ._procinfo import OwnerStats, ProcessInfo, SocketOwners, process_info
from ._rules import Backend, QueueRule, QueueRules, Tag, detect_backend, list_tagged, sweep_stale
from ._sockdiag import SockDiag, SocketInfo
from ._stats import KernelQueueCounters, QueueStats

__all__ = [
    "Attribution",
    "AttributionStats",
    "Attributor",
    "Backend",
    "BackendUnavailableError",
    "CtInfo",
    "Flow",
    "Handler",
    "Hook",
    "KernelQueueCounters",
    "Mode",
    "NetfilterError",
    "NetlinkError",
    "NfQueue",
    "Outcome",
    "OwnerStats",
    "Packet",
    "ProcessInfo",
    "QueueBindError",
    "QueueConfig",
    "QueueRule",
    "QueueRules",
    "QueueStats",
    "RuleError",
    "SockDiag",
    "SocketInfo",
    "SocketOwners",
    "Tag",
    "Verdict",
    "detect_backend",
    "list_tagged",
    "parse_flow",
    "process_info",
    "sweep_stale",
]
