"""The ``wfptrace-inspect`` provider and its typed events.

Keywords: ``connect`` (connection layer: pended, verdict, closed, rundown),
``packet`` (one event per packet: off unless asked for), ``worker`` (start,
stop, queue statistics, stall-open) and ``config`` (loaded, changed, rules
swept). Shared fields use the vocabulary's names (``tracer.VOCABULARY``: ECS): a
connection's source is the side that opened it. Connection and packet events
carry ``@timestamp``: the packet's capture time in a replay, the time the worker
handled the packet or decision when live.

Every verdict event says why (``decided_by``, one of :data:`DECIDED_BY`) and how
long the verdict took (``latency_ns``: for a connection, from its first packet
reaching the worker to its verdict; for a packet, from reaching the worker to
its verdict, the time it was held included):

- ``configuration``: the static ``block_traffic`` decided;
- ``decision-program``: an external decider answered;
- ``timeout-default``: no answer in time (or its hold ended): ``block_traffic``;
- ``fail-open``: the inspector failed deciding (a decider or worker error): the
  crash policy (permit, or block when ``fail_closed``);
- ``stall-open``: the inspector was stuck and its watchdog applied the crash
  policy to what the queues held (see :data:`STALL_OPENED`);
- ``stop``: the inspector stopped while the connection was pending (blocked);
- ``bypass``: a packet of a flow without a connection decision (it began before
  the inspector, or its record was closed): ``block_traffic`` applies.
"""

from __future__ import annotations

from tracer import Level, Provider

__all__ = [
    "BYPASS",
    "CONFIGURATION",
    "CONFIG_CHANGED",
    "CONFIG_LOADED",
    "CONFIG_REFUSED",
    "CONNECTION_CLOSED",
    "CONNECTION_PENDED",
    "CONNECTION_VERDICT",
    "DECIDED_BY",
    "DECISION_PROGRAM",
    "DECISION_TIMEOUT",
    "FAIL_OPEN",
    "OVERLOAD",
    "PACKET_VERDICT",
    "PROVIDER",
    "QUEUE_STATS",
    "RULES_SWEPT",
    "RUNDOWN_CONNECTION",
    "STALL_OPEN",
    "STALL_OPENED",
    "STARTED",
    "STOP",
    "STOPPED",
    "TIMEOUT_DEFAULT",
]

CONFIGURATION = "configuration"
DECISION_PROGRAM = "decision-program"
TIMEOUT_DEFAULT = "timeout-default"
FAIL_OPEN = "fail-open"
STALL_OPEN = "stall-open"
STOP = "stop"
BYPASS = "bypass"
#: Every value of ``decided_by``.
DECIDED_BY = (CONFIGURATION, DECISION_PROGRAM, TIMEOUT_DEFAULT, FAIL_OPEN, STALL_OPEN, STOP,
              BYPASS)

PROVIDER = Provider("wfptrace-inspect", keywords=["connect", "packet", "worker", "config"],
                    description="Traffic inspection (the WFP inspect sample): pend, decide, "
                                "permit or block connections to one remote peer")

_TIME = {"@timestamp": (int, "ns")}
#: What Connection.endpoint_fields() returns, in this order.
_FLOW = {"network.community_id": str, "network.transport": str, "source.ip": str,
         "source.port": int, "destination.ip": str, "destination.port": int,
         "network.direction": str}
_FLOW_TEXT = ("{network.transport} {source.ip}:{source.port} -> "
              "{destination.ip}:{destination.port} ({network.direction})")
_PROCESS = {"process.executable": str, "process.pid": int}

STARTED = PROVIDER.event(
    1, "Started", Level.INFO, "worker",
    {"remote": str, "decider": str, "fail_closed": bool, "backend": str, "queue": int},
    "Inspector started for {remote} (decider {decider}, queue {queue}, {backend})")
STOPPED = PROVIDER.event(
    2, "Stopped", Level.INFO, "worker",
    {"reason": str, "pending_blocked": (int, "{connection}"),
     "queued_dropped": (int, "{packet}"), "connections": (int, "{connection}")},
    "Inspector stopped ({reason}): {pending_blocked} pending connections blocked, "
    "{queued_dropped} queued packets dropped")
CONFIG_LOADED = PROVIDER.event(
    3, "ConfigLoaded", Level.INFO, "config",
    {"path": str, "remote": str, "block_traffic": bool, "decider": str},
    "Configuration loaded from {path}: remote {remote}, block_traffic={block_traffic}")
CONFIG_CHANGED = PROVIDER.event(
    4, "ConfigChanged", Level.INFO, "config",
    {"path": str, "block_traffic": bool, "previous": bool, "source": str},
    "block_traffic changed from {previous} to {block_traffic} ({source})")
CONNECTION_PENDED = PROVIDER.event(
    5, "ConnectionPended", Level.INFO, "connect",
    {**_TIME, "conn_id": int, **_FLOW, "layer": str, **_PROCESS},
    "Pended {layer} " + _FLOW_TEXT + " {process.executable}")
CONNECTION_VERDICT = PROVIDER.event(
    6, "ConnectionVerdict", Level.INFO, "connect",
    {**_TIME, "conn_id": int, "network.community_id": str, "network.direction": str,
     "verdict": str, "decided_by": str, "latency_ns": (int, "ns")},
    "Connection {conn_id}: {verdict} by {decided_by} after {latency_ns} ns")
PACKET_VERDICT = PROVIDER.event(
    7, "PacketVerdict", Level.VERBOSE, "packet",
    {**_TIME, "network.community_id": str, "network.direction": str, "size": (int, "By"),
     "verdict": str, "decided_by": str, "latency_ns": (int, "ns")},
    "Packet {network.direction} {size} bytes: {verdict} by {decided_by} after {latency_ns} ns")
QUEUE_STATS = PROVIDER.event(
    8, "QueueStats", Level.VERBOSE, "worker",
    {"connect_depth": (int, "{packet}"), "packet_depth": (int, "{packet}"),
     "pending": (int, "{connection}"), "active": (int, "{connection}"),
     "packets": (int, "{packet}"), "latency_p50_us": (int, "us"),
     "latency_max_us": (int, "us"), "kernel_dropped": (int, "{packet}")},
    "Queues: {pending} pending, {active} active, {packets} packets, "
    "p50 {latency_p50_us} us")
CONNECTION_CLOSED = PROVIDER.event(
    9, "ConnectionClosed", Level.INFO, "connect",
    {**_TIME, "conn_id": int, "network.community_id": str, "verdict": str, "reason": str,
     "packets": (int, "{packet}"), "bytes": (int, "By")},
    "Connection {conn_id} closed ({reason}) after {packets} packets")
DECISION_TIMEOUT = PROVIDER.event(
    10, "DecisionTimeout", Level.WARNING, "connect",
    {**_TIME, "conn_id": int, "network.community_id": str, "verdict": str,
     "timeout_s": (float, "s"), "reason": str},
    "No decision for connection {conn_id} within {timeout_s} s ({reason}): "
    "default {verdict} applied")
RUNDOWN_CONNECTION = PROVIDER.event(
    11, "RundownConnection", Level.INFO, "connect",
    {**_TIME, "conn_id": int, **_FLOW, "state": str, **_PROCESS, "age_ms": (int, "ms")},
    "{state} " + _FLOW_TEXT)
RULES_SWEPT = PROVIDER.event(
    12, "RulesSwept", Level.WARNING, "config",
    {"count": (int, "{rule}")}, "Removed {count} stale rules left by a dead inspector")
OVERLOAD = PROVIDER.event(
    13, "Overload", Level.WARNING, "worker",
    {"policy": str, "accepted": (int, "{packet}"), "dropped": (int, "{packet}"),
     "total_accepted": (int, "{packet}"), "total_dropped": (int, "{packet}"),
     "queue_dropped": (int, "{packet}"), "user_dropped": (int, "{packet}")},
    "Queue full ({policy}): {accepted} packets let through unseen, {dropped} dropped "
    "(totals {total_accepted} / {total_dropped})")
CONFIG_REFUSED = PROVIDER.event(
    14, "ConfigRefused", Level.WARNING, "config",
    {"path": str, "source": str, "reason": str},
    "Configuration change refused ({source}): {reason}")
STALL_OPENED = PROVIDER.event(
    15, "StallOpen", Level.WARNING, "worker",
    {"policy": str, "episodes": (int, "1"), "stall_ms": (float, "ms"),
     "packets": (int, "{packet}"), "connections": (int, "{connection}"),
     "total_packets": (int, "{packet}"), "total_connections": (int, "{connection}")},
    "The inspector was stuck {stall_ms} ms: its watchdog released {packets} held packets "
    "({policy}); {connections} connections decided stall-open")
