"""The ``wfptrace-msnmon`` provider: its keywords and typed events.

Keywords mirror the original driver's notify flags (``client_server``,
``peer_to_peer``, ``unknown``, ``all_traffic``) plus ``flow``, ``session`` and
``message``. Every flow event carries ``@timestamp``, the packet time (capture time
when replaying): the record's time in every sink. Shared fields use the vocabulary's
names (``tracer.VOCABULARY``: ECS); ``network.direction`` is ``egress`` for what the
monitored host sent, ``ingress`` for what it received.

No event carries a secret unless asked: ``Command`` arguments holding tickets, cookies
or passwords are ``<redacted:hmac:...>`` tokens without ``capture_secrets``; a
``Message`` has ``text``, ``body`` and ``body_sha256`` only with ``capture_bodies``, and
always ``body_hmac``, the body's token (equal bodies, equal tokens within a key).

The four ``Legacy*`` events reproduce the original trace strings byte for byte
through their templates, so ``wfptrace fmt`` prints what tracefmt printed.
"""

from __future__ import annotations

from tracer import Level, Provider

__all__ = [
    "ALL_TRAFFIC",
    "COMMAND",
    "FLOW_CLOSED",
    "FLOW_ESTABLISHED",
    "FLOW_OVER_LIMIT",
    "LEGACY_ANY",
    "LEGACY_BY_CLASS",
    "LOGIN",
    "MESSAGE",
    "MONITOR_STATE",
    "PROVIDER",
    "PROVIDER_NAME",
    "SWITCHBOARD",
    "TRANSACTION",
    "UNKNOWN_COMMAND",
]

PROVIDER_NAME = "wfptrace-msnmon"
KEYWORDS = ("client_server", "peer_to_peer", "unknown", "all_traffic", "flow", "session",
            "message")

PROVIDER = Provider(
    PROVIDER_NAME,
    keywords=KEYWORDS,
    description="MSN Messenger monitor: application flows, TCP streams and MSNP commands",
)

_FLOW = {"@timestamp": (int, "ns"), "network.community_id": str}
#: The original's "Local Port" and "Remote Port" (the monitored host's and its peer's).
_PORTS = {"legacy.local_port": int, "legacy.remote_port": int}

FLOW_ESTABLISHED = PROVIDER.event(
    1, "FlowEstablished", Level.INFO, "flow",
    {**_FLOW, "network.transport": str, "source.ip": str, "source.port": int,
     "destination.ip": str, "destination.port": int, "network.direction": str,
     "process.executable": str, "process.pid": int, "mid_session": bool},
    "Creating flow for traffic: {source.ip}:{source.port} -> "
    "{destination.ip}:{destination.port} ({process.executable}, pid {process.pid})")

COMMAND = PROVIDER.event(
    2, "Command", Level.INFO, ("client_server", "peer_to_peer"),
    {**_FLOW, "network.direction": str, "verb": str, "trid": int, "args": list,
     "payload_len": (int, "By"), "role": str, "legacy_class": str, "offset": (int, "By"),
     "raw_line": bytes},
    "{network.direction} {verb} {trid} {args} ({role}, {payload_len} payload bytes)")

MESSAGE = PROVIDER.event(
    3, "Message", Level.INFO, "message",
    {**_FLOW, "network.direction": str, "trid": int, "content_type": str, "kind": str,
     "sender": str, "sender_name": str, "typing_user": str, "text": str,
     "body_len": (int, "By"), "body_sha256": str, "body": bytes, "body_hmac": str},
    "MSG {network.direction} {kind} {content_type} from {sender} ({body_len} bytes)")

TRANSACTION = PROVIDER.event(
    4, "Transaction", Level.VERBOSE, "session",
    {**_FLOW, "trid": int, "request_verb": str, "reply_verb": str,
     "latency_us": (int, "us"), "error": int, "role": str},
    "{request_verb} {trid} -> {reply_verb} in {latency_us} us")

UNKNOWN_COMMAND = PROVIDER.event(
    5, "UnknownCommand", Level.WARNING, "unknown",
    {**_FLOW, "network.direction": str, "verb": str, "kind": str, "detail": str,
     "action": str, "offset": (int, "By")},
    "Unknown or invalid command {network.direction}: {kind} {verb} {detail} ({action})")

LOGIN = PROVIDER.event(
    6, "Login", Level.INFO, "session",
    {**_FLOW, "user": str, "server": str, "redirects": list, "result": str,
     "event.start": (int, "ns"), "community_ids": list, "dialect": str, "user_raw": bytes},
    "Login of {user} at {server}: {result} (redirects {redirects})")

SWITCHBOARD = PROVIDER.event(
    7, "Switchboard", Level.INFO, "session",
    {**_FLOW, "user": str, "server": str, "participants": list,
     "messages": (int, "{message}"), "event.start": (int, "ns"), "community_ids": list,
     "invited": bool, "user_raw": bytes},
    "Switchboard session of {user} at {server} with {participants}: {messages} messages")

FLOW_CLOSED = PROVIDER.event(
    8, "FlowClosed", Level.INFO, "flow",
    {**_FLOW, "reason": str, "commands": (int, "{command}"), "errors": (int, "{error}"),
     "bytes_sent": (int, "By"), "bytes_received": (int, "By"), "dropped": str, "role": str},
    "Flow closed ({reason}): {role}, {commands} commands, {errors} errors")

FLOW_OVER_LIMIT = PROVIDER.event(
    14, "FlowOverLimit", Level.WARNING, "flow",
    {**_FLOW, "network.transport": str, "source.ip": str, "source.port": int,
     "destination.ip": str, "destination.port": int, "network.direction": str,
     "limit": (int, "{flow}"), "flows_over_limit": (int, "{flow}")},
    "Flow not monitored, {limit} flow contexts in use: {source.ip}:{source.port} -> "
    "{destination.ip}:{destination.port} ({flows_over_limit} so far)")

MONITOR_STATE = PROVIDER.event(
    9, "MonitorState", Level.INFO, "flow",
    {"state": str, "detail": str},
    "Monitor {state}: {detail}")

_LEGACY = {**_FLOW, "network.direction": str, **_PORTS, "message": str}

ALL_TRAFFIC = PROVIDER.event(
    10, "LegacyAllTraffic", Level.VERBOSE, "all_traffic", _LEGACY,
    "Message Received. Local Port: {legacy.local_port} Remote Port: {legacy.remote_port}. "
    "Message: {message}")

#: The classified lines: ``message`` is what the original printed (a gateway chunk's
#: body after its headers), ``trailer`` what its format string ends with ("\r\n" for
#: the "Sent" lines, "" for the "Received" ones).
_ACTION = {**_LEGACY, "action": str, "trailer": str}

LEGACY_BY_CLASS = {
    "client_server": PROVIDER.event(
        11, "LegacyClientServer", Level.VERBOSE, "client_server", _ACTION,
        "Client-Server Message {action}. Local Port: {legacy.local_port} "
        "Remote Port: {legacy.remote_port}."
        " Message: {message}{trailer}"),
    "peer_to_peer": PROVIDER.event(
        12, "LegacyClientClient", Level.VERBOSE, "peer_to_peer", _ACTION,
        "Client-Client Message {action}. Local Port: {legacy.local_port} "
        "Remote Port: {legacy.remote_port}."
        " Message: {message}{trailer}"),
    "unknown": PROVIDER.event(
        13, "LegacyUnknown", Level.VERBOSE, "unknown", _ACTION,
        "Unknown or Invalid Command Message {action}. Local Port: {legacy.local_port} "
        "Remote Port: {legacy.remote_port}. Message: {message}{trailer}"),
}


class _AnyEnabled:
    """``on`` is True while any of some events is enabled (kept current by a callback)."""

    def __init__(self, events: tuple) -> None:
        self.events = events
        self.on = False
        PROVIDER.add_enable_callback(self._update)

    def _update(self, state: object) -> None:
        self.on = any(e.enabled for e in self.events)


#: Whether any of the original's trace strings is wanted (checked once per chunk).
LEGACY_ANY = _AnyEnabled((ALL_TRAFFIC, *LEGACY_BY_CLASS.values()))
