"""The MSN Messenger monitor: the ``wfptrace-msnmon`` provider and its control program.

- :data:`PROVIDER` (entry point ``msnmon = "providers.msnmon:PROVIDER"``) and its
  events: ``FlowEstablished``, ``Command``, ``Message``, ``Transaction``,
  ``UnknownCommand``, ``Login``, ``Switchboard``, ``FlowClosed``, ``MonitorState``
  and the original driver's trace strings (``LegacyAllTraffic``,
  ``LegacyClientServer``, ``LegacyClientClient``, ``LegacyUnknown``).
- :class:`MsnMonitor`: the engine for the flows of one application, a consumer of the
  shared packet pipeline (``providers.packets.Pipeline``: packets and reassembled
  streams in, events out); :func:`replay_capture` runs a capture file through both,
  :func:`replay_demo` yields the formatted trace of a capture, and
  :func:`replay_consumer` plugs it into ``wfptrace replay --provider msnmon``
  (entry-point group ``wfptrace.packet_consumers``).
- ``wfptrace monitor`` (:mod:`._cli`, also ``python -m providers.msnmon``):
  ``addcallouts`` / ``delcallouts`` (persistent registration; delcallouts stops running
  sessions), ``monitor APP`` (a live session: only new connections' SYNs held for
  attribution, the application's connections marked and copied by NFLOG, until a key
  press) and
  ``replay CAPTURE [--legacy-format]``.

Quick look at a capture::

    for line in replay_demo("samples/captures/msn_session.pcap"):
        print(line)
"""

from ._events import PROVIDER, PROVIDER_NAME
from ._identity import UNKNOWN_APP, AppIdentity, AppMatcher
from ._monitor import PENDING, MsnMonitor, Resolver
from ._replay import replay_capture, replay_consumer, replay_demo
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
    "Resolver",
    "replay_capture",
    "replay_consumer",
    "replay_demo",
]
