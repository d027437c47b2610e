"""The ``wfptrace-inspect`` provider and its typed events.

Keywords: ``connect`` (connection layer: pended, verdict, closed, rundown),
``packet`` (one event per packet: off unless asked for), ``worker`` (start,
stop, queue statistics) and ``config`` (loaded, changed, rules swept). Field
names follow the OpenTelemetry mapping (``flow_id`` is the Community ID).
"""

from __future__ import annotations

from tracer import Level, Provider

__all__ = [
    "CONFIG_CHANGED",
    "CONFIG_LOADED",
    "CONFIG_REFUSED",
    "CONNECTION_CLOSED",
    "CONNECTION_PENDED",
    "CONNECTION_VERDICT",
    "DECISION_TIMEOUT",
    "OVERLOAD",
    "PACKET_VERDICT",
    "PROVIDER",
    "QUEUE_STATS",
    "RULES_SWEPT",
    "RUNDOWN_CONNECTION",
    "STARTED",
    "STOPPED",
]

PROVIDER = Provider("wfptrace-inspect", keywords=["connect", "packet", "worker", "config"],
                    description="Traffic inspection (the WFP inspect sample): pend, decide, "
                                "permit or block connections to one remote peer")

_FLOW = {"flow_id": str, "protocol": str, "local_addr": str, "local_port": int,
         "remote_addr": str, "remote_port": int, "direction": str}

STARTED = PROVIDER.event(
    1, "Started", Level.INFO, "worker",
    {"remote": str, "decider": str, "fail_closed": bool, "backend": str, "queue": int},
    "Inspector started for {remote} (decider {decider}, queue {queue}, {backend})")
STOPPED = PROVIDER.event(
    2, "Stopped", Level.INFO, "worker",
    {"reason": str, "pending_blocked": int, "queued_dropped": int, "connections": int},
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
    {"conn_id": int, **_FLOW, "layer": str, "process_path": str, "process_pid": int},
    "Pended {layer} {protocol} {local_addr}:{local_port} {direction} "
    "{remote_addr}:{remote_port} ({process_path})")
CONNECTION_VERDICT = PROVIDER.event(
    6, "ConnectionVerdict", Level.INFO, "connect",
    {"conn_id": int, "flow_id": str, "direction": str, "verdict": str, "decided_by": str,
     "latency_us": int},
    "Connection {conn_id}: {verdict} by {decided_by} after {latency_us} us")
PACKET_VERDICT = PROVIDER.event(
    7, "PacketVerdict", Level.VERBOSE, "packet",
    {"flow_id": str, "direction": str, "size": int, "verdict": str},
    "Packet {direction} {size} bytes: {verdict}")
QUEUE_STATS = PROVIDER.event(
    8, "QueueStats", Level.VERBOSE, "worker",
    {"connect_depth": int, "packet_depth": int, "pending": int, "active": int,
     "packets": int, "latency_p50_us": int, "latency_max_us": int, "kernel_dropped": int},
    "Queues: {pending} pending, {active} active, {packets} packets, "
    "p50 {latency_p50_us} us")
CONNECTION_CLOSED = PROVIDER.event(
    9, "ConnectionClosed", Level.INFO, "connect",
    {"conn_id": int, "flow_id": str, "verdict": str, "reason": str, "packets": int,
     "bytes": int},
    "Connection {conn_id} closed ({reason}) after {packets} packets")
DECISION_TIMEOUT = PROVIDER.event(
    10, "DecisionTimeout", Level.WARNING, "connect",
    {"conn_id": int, "flow_id": str, "verdict": str, "timeout_s": float, "reason": str},
    "No decision for connection {conn_id} within {timeout_s} s ({reason}): "
    "default {verdict} applied")
RUNDOWN_CONNECTION = PROVIDER.event(
    11, "RundownConnection", Level.INFO, "connect",
    {"conn_id": int, **_FLOW, "state": str, "process_path": str, "process_pid": int,
     "age_ms": int},
    "{state} {protocol} {local_addr}:{local_port} {direction} {remote_addr}:{remote_port}")
RULES_SWEPT = PROVIDER.event(
    12, "RulesSwept", Level.WARNING, "config",
    {"count": int}, "Removed {count} stale rules left by a dead inspector")
OVERLOAD = PROVIDER.event(
    13, "Overload", Level.WARNING, "worker",
    {"policy": str, "accepted": int, "dropped": int, "total_accepted": int,
     "total_dropped": int, "queue_dropped": int, "user_dropped": int},
    "Queue full ({policy}): {accepted} packets let through unseen, {dropped} dropped "
    "(totals {total_accepted} / {total_dropped})")
CONFIG_REFUSED = PROVIDER.event(
    14, "ConfigRefused", Level.WARNING, "config",
    {"path": str, "source": str, "reason": str},
    "Configuration change refused ({source}): {reason}")
