"""The one field vocabulary every provider and sink shares: Elastic Common Schema names.

Fields that mean the same thing in two providers have one name, the Elastic Common
Schema's (ECS, now merged into OpenTelemetry's semantic conventions): the log, TraceView,
``fmt``, the lnav format and OTLP attributes all show that name. Provider-specific
fields keep short names (``verb``), which OTLP prefixes with the provider's namespace
(``msnp.verb``). :func:`check_fields` is what the vocabulary test applies to every event
of every provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._fields import TIME_FIELD

__all__ = ["DIRECTIONS", "LEGACY_NAMES", "VOCABULARY", "Term", "check_fields"]


@dataclass(frozen=True)
class Term:
    """One shared field: its wire name, manifest type and unit, and what it means."""

    name: str
    type: str
    unit: str
    doc: str


#: ``network.direction`` values, from the monitored host's point of view (ECS for
#: host-based monitoring): traffic leaving the host, entering it, or not known.
DIRECTIONS = ("egress", "ingress", "unknown")

VOCABULARY: dict[str, Term] = {t.name: t for t in (
    Term(TIME_FIELD, "int", "ns", "when it happened: the packet's time (the capture's in a "
         "replay); the record's ``created`` is when it was written"),
    Term("event.start", "int", "ns", "when what the event summarises began"),
    Term("event.duration", "int", "ns", "how long it lasted"),
    Term("source.ip", "str", "", "address of the side that opened the connection"),
    Term("source.port", "int", "", "port of the side that opened the connection"),
    Term("destination.ip", "str", "", "address of the side that accepted the connection"),
    Term("destination.port", "int", "", "port of the side that accepted the connection"),
    Term("source.packets", "int", "{packet}", "packets the source sent"),
    Term("source.bytes", "int", "By", "bytes the source sent (IP packets, headers included)"),
    Term("destination.packets", "int", "{packet}", "packets the destination sent"),
    Term("destination.bytes", "int", "By", "bytes the destination sent"),
    Term("network.transport", "str", "", "tcp, udp, icmp, ... (lower case)"),
    Term("network.direction", "str", "", "egress or ingress: of the connection on flow "
         "events, of the data on packet and message events (host's point of view)"),
    Term("network.community_id", "str", "", "the flow's Community ID (1:base64), as Zeek "
         "and Suricata write it"),
    Term("process.pid", "int", "", "the process that owns the socket"),
    Term("process.executable", "str", "", "absolute path of that process's executable"),
)}

#: Names the providers used before the vocabulary, and what replaced them: none of them
#: may come back as a field name.
LEGACY_NAMES: dict[str, str] = {
    "flow_id": "network.community_id", "ts_ns": TIME_FIELD, "capture_ns": TIME_FIELD,
    "local_addr": "source.ip or destination.ip", "remote_addr": "source.ip or destination.ip",
    "local": "source.ip or destination.ip", "remote_ip": "destination.ip",
    "local_port": "source.port or destination.port", "lport": "source.port",
    "remote_port": "source.port or destination.port", "rport": "destination.port",
    "proto": "network.transport", "protocol": "network.transport",
    "direction": "network.direction", "pid": "process.pid", "process_pid": "process.pid",
    "app_path": "process.executable", "process_path": "process.executable",
    "start_ns": "event.start", "duration_ns": "event.duration",
}

#: Name suffixes that say a unit, and the unit a field so named must declare.
_SUFFIX_UNITS = (("_ns", "ns"), ("_us", "us"), ("_ms", "ms"), ("_s", "s"), ("bytes", "By"),
                 ("_len", "By"))
#: Namespaces that belong to the vocabulary: a field in one must be a term.
_NAMESPACES = ("@", "source.", "destination.", "network.", "process.", "event.")


def check_fields(fields: Iterable[tuple[str, str, str]]) -> list[str]:
    """What is wrong with an event's ``(name, type, unit)`` fields (empty when nothing)."""
    problems = []
    for i, (name, type_, unit) in enumerate(fields):
        term = VOCABULARY.get(name)
        if term is not None:
            if (type_, unit) != (term.type, term.unit):
                problems.append(f"{name} is {type_}/{unit!r}, the vocabulary says "
                                f"{term.type}/{term.unit!r}")
            if name == TIME_FIELD and i:
                problems.append(f"{TIME_FIELD} is not the first field")
        elif name.startswith(_NAMESPACES):
            problems.append(f"{name} is in a vocabulary namespace but not a term")
        elif name in LEGACY_NAMES:
            problems.append(f"{name} is an old name: use {LEGACY_NAMES[name]}")
        for suffix, want in _SUFFIX_UNITS:
            if name.endswith(suffix) and type_ in ("int", "float") and unit != want:
                problems.append(f"{name} should declare unit {want!r}, not {unit!r}")
    return problems
