"""Live interception on Linux: NFQUEUE, firewall rules and process attribution.

Everything here acts in the network namespace of the thread that creates the
object (queue socket, sock_diag socket, rules), so tests can run it inside
their own namespaces. Pure Python: raw netlink sockets, ``iptables``/``nft``
binaries for rules, ``/proc`` for processes; libc's ``recvmmsg`` via ctypes.

Inline use (the inspect provider's pend/complete)::

    from providers.netfilter import (Attributor, NfQueue, QueueConfig, QueueRule,
                                     QueueRules, Verdict)

    rules = [QueueRule(queue_num=3, protocol="tcp", new_only=True)]   # v4 + v6
    with QueueRules("inspect", rules), Attributor() as who, \
            NfQueue(QueueConfig(queue_num=3)) as q:
        def handler(pkt):
            ident = who.attribute_packet(pkt)   # exact: the packet is still held
            if needs_a_decision(ident):
                hand_to_worker(pkt)             # worker calls q.verdict(pkt, Verdict.DROP)
                return None                     # None = hold (pend); batch verdicts skip it
            return Verdict.ACCEPT
        q.run(handler, stop=stop_event)

Fast path: ``batch = q.receive()`` then ``q.accept_all(batch)`` (one
``NFQNL_MSG_VERDICT_BATCH``), or ``q.verdicts([(pkt, verdict), ...], mark=...,
payload=...)`` for mixed verdicts in one send. ``q.stats()`` returns
:class:`QueueStats` with the kernel's ``queue_dropped``/``user_dropped``.

Public surface:

- :class:`NfQueue`, :class:`QueueConfig`, :class:`Packet`, :class:`Verdict`,
  :class:`Hook`, :class:`CtInfo`: the NFQUEUE client.
- :class:`QueueStats`, :class:`KernelQueueCounters`: consumer and kernel counters.
- :class:`NfLog`, :class:`LoggedPacket`, :class:`NfLogStats`: an NFLOG group, the
  passive copy (no verdict: a slow reader loses copies, counted, and holds nothing).
- :class:`RuleSet`, :class:`RuleLine`: tagged rules in any table (marks, CONNMARK,
  NFLOG, REJECT), added and removed atomically per family.
- :class:`Watchdog`, :class:`StallReport`: stall-open. A process of its own
  releases (accept, or drop) what the queues hold while the loop that serves
  them is stuck (SIGSTOP, deadlock); ``q.run(handler, watchdog=dog)`` beats it.
- :class:`QueueRules`, :class:`QueueRule`, :class:`Backend`, :class:`Tag`,
  :func:`detect_backend`, :func:`list_tagged`, :func:`sweep_stale`: owned,
  tagged rules feeding a queue (bypass on by default; stale rules swept).
- :class:`Attributor`, :class:`Attribution`, :class:`Mode`, :class:`Outcome`:
  flow -> socket -> process; :class:`Flow`/:func:`parse_flow`,
  :class:`SockDiag`, :class:`SocketOwners`, :func:`process_info` underneath.
- Errors: :class:`NetfilterError` > :class:`NetlinkError` > :class:`QueueBindError`;
  :class:`NetfilterError` > :class:`RuleError` > :class:`BackendUnavailableError`.
  Bad packets are counted (``QueueStats.malformed``), never raised.
"""

from ._attribution import Attribution, AttributionStats, Attributor, Mode, Outcome
from ._backends import Backend, detect_backend
from ._config import QueueConfig
from ._errors import (
    BackendUnavailableError,
    NetfilterError,
    NetlinkError,
    QueueBindError,
    RuleError,
)
from ._flow import Flow, parse_flow
from ._nflog import MAX_COPY, LoggedPacket, NfLog, NfLogStats
from ._nfqueue import Handler, NfQueue
from ._packet import CtInfo, Hook, Packet, Verdict
from ._procinfo import OwnerStats, ProcessInfo, SocketOwners, process_info
from ._rules import QueueRule, QueueRules, list_tagged, sweep_stale
from ._ruleset import RuleLine, RuleSet
from ._sockdiag import SockDiag, SocketInfo
from ._stats import KernelQueueCounters, QueueStats
from ._tags import Tag
from ._watchdog import StallReport, Watchdog

__all__ = [
    "MAX_COPY",
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
    "LoggedPacket",
    "Mode",
    "NetfilterError",
    "NetlinkError",
    "NfLog",
    "NfLogStats",
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
    "RuleLine",
    "RuleSet",
    "SockDiag",
    "SocketInfo",
    "SocketOwners",
    "StallReport",
    "Tag",
    "Verdict",
    "Watchdog",
    "detect_backend",
    "list_tagged",
    "parse_flow",
    "process_info",
    "sweep_stale",
]
