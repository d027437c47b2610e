"""The mapping table: which provider events become spans, span events or log records.

The backend knows providers only as data: each :class:`EventRule` names a provider
and an event and says what to do with it. Flows are keyed by one field that every
flow-related event carries (``network.community_id``, the Community ID string). The
shared vocabulary's fields (``tracer.VOCABULARY``: ECS names such as ``source.ip``)
become attributes under the same names, so a log, TraceView and a trace backend show
one name; other fields go under the provider's prefix (``msnp.verb``), unless
:attr:`Mapping.field_attrs` names them. Events no rule names become log records. The
table is documented in ``docs/jaeger.md``.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from enum import StrEnum

from .._fields import TIME_FIELD
from .._vocabulary import VOCABULARY

__all__ = ["DEFAULT_FIELD_ATTRS", "DEFAULT_MAPPING", "DEFAULT_PREFIXES", "Action", "EventRule",
           "Mapping"]


class Action(StrEnum):
    """What a rule does with an event."""

    FLOW_START = "flow_start"      # open the flow's span (or add attributes to it)
    FLOW_EVENT = "flow_event"      # a span event on the flow's span
    FLOW_END = "flow_end"          # end the flow's span
    TRANSACTION = "transaction"    # join request and reply by a key: a child span between them
    SUMMARY_SPAN = "summary_span"  # a span from a start-time field to the event, child of its flow
    LOG = "log"                    # an OpenTelemetry log record, linked to its flow's span
    IGNORE = "ignore"              # nothing


@dataclass(frozen=True)
class EventRule:
    """How one provider event maps to OpenTelemetry.

    ``name`` is a template over the event's fields (``"MSNP {verb}"``) for the span
    or span event; ``set_attrs`` names fields of a flow event also copied onto the
    flow's span (a verdict); ``rename`` (a one-field template) renames the flow's
    span from the latest value of that field, except values in ``rename_ignore``.
    Transactions pair two events with the same ``key_field`` value and different
    ``direction_field`` values; the reply's ``verb_field`` matching ``error_pattern``
    marks the span as an error. Summary spans start at ``start_field`` (ns) and link
    the flows listed in ``links_field``.
    """

    provider: str
    event: str
    actions: tuple[Action, ...]
    name: str = ""
    set_attrs: tuple[str, ...] = ()
    rename: str = ""
    rename_ignore: tuple[str, ...] = ("unknown",)
    attrs: MappingABC[str, str] = field(default_factory=dict)
    key_field: str = "trid"
    direction_field: str = "network.direction"
    verb_field: str = "verb"
    error_pattern: str = r"^\d+$"
    start_field: str = "event.start"
    links_field: str = "community_ids"


#: Field name -> OpenTelemetry attribute name, shared by every provider: each
#: vocabulary term under its own name (``@timestamp`` is the event's time, no attribute).
DEFAULT_FIELD_ATTRS: dict[str, str] = {
    **{name: name for name in VOCABULARY if name != TIME_FIELD},
    "verdict": "wfptrace.verdict",
}

#: Provider -> prefix of the attributes made from its other fields.
DEFAULT_PREFIXES: dict[str, str] = {
    "wfptrace-msnmon": "msnp.",
    "wfptrace-inspect": "wfptrace.inspect.",
    "wfptrace-packets": "wfptrace.flow.",
}

_MSN = "wfptrace-msnmon"
_INSPECT = "wfptrace-inspect"
_PACKETS = "wfptrace-packets"
A = Action

_RULES = (
    EventRule(_PACKETS, "FlowNew", (A.FLOW_START,), name="{network.transport} flow"),
    EventRule(_PACKETS, "FlowEnd", (A.FLOW_END,)),
    EventRule(_INSPECT, "ConnectionPended", (A.FLOW_START,), name="connect {network.direction}"),
    EventRule(_INSPECT, "ConnectionVerdict", (A.FLOW_EVENT,), name="verdict {verdict}",
              set_attrs=("verdict", "decided_by")),
    EventRule(_INSPECT, "PacketVerdict", (A.FLOW_EVENT,), name="packet {verdict}"),
    EventRule(_INSPECT, "DecisionTimeout", (A.FLOW_EVENT,), name="decision timeout",
              set_attrs=("verdict",)),
    EventRule(_INSPECT, "ConnectionClosed", (A.FLOW_END,)),
    EventRule(_INSPECT, "RundownConnection", (A.FLOW_START,), name="connect {network.direction}"),
    EventRule(_MSN, "FlowEstablished", (A.FLOW_START,), name="MSN flow"),
    EventRule(_MSN, "Command", (A.FLOW_EVENT, A.TRANSACTION), name="MSNP {verb}",
              rename="MSN {role}"),
    EventRule(_MSN, "Message", (A.FLOW_EVENT,), name="MSG {content_type}"),
    EventRule(_MSN, "Transaction", (A.IGNORE,)),  # joined from Command events instead
    # the original trace strings repeat each Command: not exported twice
    EventRule(_MSN, "LegacyAllTraffic", (A.IGNORE,)),
    EventRule(_MSN, "LegacyClientServer", (A.IGNORE,)),
    EventRule(_MSN, "LegacyClientClient", (A.IGNORE,)),
    EventRule(_MSN, "LegacyUnknown", (A.IGNORE,)),
    EventRule(_MSN, "Login", (A.SUMMARY_SPAN,), name="MSN login"),
    EventRule(_MSN, "Switchboard", (A.SUMMARY_SPAN,), name="MSN switchboard session"),
    EventRule(_MSN, "FlowClosed", (A.FLOW_END,)),
)


@dataclass(frozen=True)
class Mapping:
    """The whole table: rules, shared attribute names, prefixes, the flow and time fields.

    ``time_fields`` name optional integer fields (ns since the epoch, the first one an
    event has wins) that replace the event's time; none by default, since an event's
    time already is its packet's (``@timestamp``), so a replay keeps the capture's
    timeline.
    """

    rules: tuple[EventRule, ...] = _RULES
    field_attrs: MappingABC[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_ATTRS))
    prefixes: MappingABC[str, str] = field(default_factory=lambda: dict(DEFAULT_PREFIXES))
    flow_field: str = "network.community_id"
    time_fields: tuple[str, ...] = ()
    default_action: Action = Action.LOG

    def rule(self, provider: str, event: str) -> EventRule:
        """The rule for one event (the default action when none names it)."""
        for r in self.rules:
            if r.provider == provider and r.event == event:
                return r
        return EventRule(provider, event, (self.default_action,))

    def attr_name(self, rule: EventRule, field_name: str) -> str:
        """The attribute name of one field of a rule's event."""
        name = rule.attrs.get(field_name) or self.field_attrs.get(field_name)
        if name:
            return name
        if field_name in VOCABULARY:
            return field_name
        prefix = self.prefixes.get(rule.provider)
        if prefix is None:
            prefix = rule.provider.replace("-", ".") + "."
        return prefix + field_name


DEFAULT_MAPPING = Mapping()
