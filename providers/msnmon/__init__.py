"""The MSN Messenger monitor: the ``wfptrace-msnmon`` provider and its control program.

- :data:`PROVIDER` (entry point ``msnmon = "providers.msnmon:PROVIDER"``) and its
  events: flow established, command, message, transaction, unknown command,
  login and switchboard summaries, flow closed, and the original's trace
  strings (``Legacy*``).
- :class:`MsnMonitor`: the engine (packets in, events out) for flows of one
  application; :func:`replay_capture` runs a capture file through it and
  :func:`replay_demo` yields the formatted trace of a capture;
  :func:`replay_consumer` plugs the monitor into ``wfptrace replay --provider
  msnmon`` (entry-point group ``wfptrace.packet_consumers``).
"""

from ._consumer import MsnmonConsumer, replay_consumer
from ._events import PROVIDER, PROVIDER_NAME
from ._identity import UNKNOWN_APP, AppIdentity, AppMatcher
from ._monitor import PENDING, MsnMonitor, Resolver
from ._replay import replay_capture, replay_demo
from ._stats import MonitorStats

__all__ = [
    "PENDING",
    "PROVIDER",
    "PROVIDER_NAME",
    "UNKNOWN_APP",
    "AppIdentity",
    "AppMatcher",
    "MonitorStats",
    "MsnMonitor",
    "MsnmonConsumer",
    "Resolver",
    "replay_capture",
    "replay_consumer",
    "replay_demo",
]
