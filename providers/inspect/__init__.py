"""The inspect provider: the WFP traffic inspection sample on Linux.

Traffic to and from one configured peer (TCP, UDP, non-error ICMP/ICMPv6) is
queued by tagged NFQUEUE rules: the kernel's queue is the classify step (it
holds the packet, never decides). One worker thread pends each new connection,
asks a decider (the static ``block_traffic`` or an external process) and
completes every held packet: permit = accepted unchanged, block = dropped.
A watchdog process releases what the queues hold (the crash policy: accept, or
drop with ``fail_closed``) while the inspector is stuck (stall-open); every
verdict event says who decided it (``decided_by``) and how long it took.

Public surface:

- :data:`PROVIDER` (``wfptrace-inspect``), its events in :mod:`._events`.
- :func:`load_config` / :class:`InspectConfig`; :class:`Inspector` (start/stop).
- :class:`StaticDecider`, :class:`ExternalDecider`, :class:`DecisionClient`
  (an external decider's client; a TraceView ``DecisionSource``).
- :func:`register` (``wfptrace inspect`` subcommand), :func:`make_replay_consumer`
  (``wfptrace replay --provider inspect``).
- Errors: :class:`InspectError` > :class:`InspectConfigError`,
  :class:`AlreadyRunningError`, :class:`NotRunningError`.
"""

from ._cli import register
from ._client import DecisionClient, HubDecisionClient
from ._config import InspectConfig, load_config
from ._deciders import Decider, ExternalDecider, PendingConnection, StaticDecider
from ._errors import AlreadyRunningError, InspectConfigError, InspectError, NotRunningError
from ._events import PROVIDER
from ._inspector import Inspector
from ._replay import InspectReplay, make_replay_consumer
from ._stats import InspectStats

__all__ = [
    "PROVIDER",
    "AlreadyRunningError",
    "Decider",
    "DecisionClient",
    "ExternalDecider",
    "HubDecisionClient",
    "InspectConfig",
    "InspectConfigError",
    "InspectError",
    "InspectReplay",
    "InspectStats",
    "Inspector",
    "NotRunningError",
    "PendingConnection",
    "StaticDecider",
    "load_config",
    "make_replay_consumer",
    "register",
]
