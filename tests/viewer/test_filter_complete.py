"""Completion of the display-filter input: what the last word can become."""

from __future__ import annotations

from tracer import Manifest
from tracer._dfilter import FieldTable
from viewer._demo import demo_providers
from viewer._filter_complete import candidates, completion, values_seen

from .conftest import fixed_events, lost_marker

TABLE = FieldTable({p.name: Manifest.from_json(p.manifest()) for p in demo_providers()})
VALUES = values_seen([*fixed_events(9), lost_marker(10, 2)])


def test_field_names_at_the_start_and_after_joiners():
    """A field name is completed at the start, after && || ! ( and after `and`."""
    assert "destination.ip" in candidates("destination.i", TABLE, VALUES)
    for text in ("verb == MSG && destination.", "(destination.", "!destination.",
                 "x == 1 and destination."):
        assert "destination.port" in candidates(text, TABLE, VALUES), text


def test_operators_after_a_field_and_joiners_after_a_comparison():
    """After a field come operators; after a whole comparison, && and ||."""
    assert candidates("trid ", TABLE, VALUES)[:2] == ["==", "!="]
    assert candidates("trid == 3 ", TABLE, VALUES) == ["&&", "||"]


def test_values_seen_level_names_and_flags():
    """After an operator: values seen in the log (quoted as written), level names, flags."""
    assert candidates("destination.ip == ", TABLE, VALUES) == ["10.0.0.2"]
    assert candidates("provider == wfptrace-m", TABLE, VALUES) == ["wfptrace-msnmon"]
    assert candidates("keyword == ", TABLE, VALUES) == ["connect", "session"]
    assert candidates("level <= w", TABLE, VALUES) == ["warning"]
    assert candidates("mid_session == ", TABLE, VALUES) == ["true", "false"]


def test_completion_replaces_only_the_last_word():
    """The suggestion keeps what was typed and completes the word being typed."""
    assert completion('verb == "MSG" && destination.po', TABLE, VALUES) == \
        'verb == "MSG" && destination.port'
    assert completion("trid == 3 ", TABLE, VALUES) is None
