"""The mapping table: rules by provider and event, attribute names by field."""

from __future__ import annotations

from tracer.otel import DEFAULT_MAPPING, Action, EventRule


def test_unnamed_events_get_the_default_action() -> None:
    """An event no rule names is mapped to a log record."""
    assert DEFAULT_MAPPING.rule("x", "Y").actions == (Action.LOG,)


def test_msnmon_commands_are_span_events_and_transactions() -> None:
    """Command events both annotate the flow and join into transactions."""
    assert DEFAULT_MAPPING.rule("wfptrace-msnmon", "Command").actions \
        == (Action.FLOW_EVENT, Action.TRANSACTION)


def test_vocabulary_fields_are_attributes_of_the_same_name() -> None:
    """5-tuple, Community ID and process fields keep their ECS names as OTLP attributes."""
    rule = DEFAULT_MAPPING.rule("wfptrace-inspect", "ConnectionPended")
    names = ("network.transport", "destination.ip", "destination.port", "source.ip",
             "source.port", "process.executable", "process.pid", "network.community_id",
             "network.direction")
    assert {f: DEFAULT_MAPPING.attr_name(rule, f) for f in names} == {f: f for f in names}


def test_other_fields_use_the_provider_prefix_and_rule_overrides_win() -> None:
    """Unlisted fields go under the provider's prefix; a rule's own names come first."""
    rule = DEFAULT_MAPPING.rule("wfptrace-msnmon", "Command")
    assert DEFAULT_MAPPING.attr_name(rule, "verb") == "msnp.verb"
    custom = EventRule("wfptrace-msnmon", "Command", (Action.LOG,), attrs={"verb": "rpc.method"})
    assert DEFAULT_MAPPING.attr_name(custom, "verb") == "rpc.method"
    assert DEFAULT_MAPPING.attr_name(EventRule("my-app", "E", ()), "n") == "my.app.n"
