"""EventFilter and field conditions."""

import pytest

from viewer._filter import EventFilter, FilterError, parse_condition
from viewer._ring import EventRing

from .conftest import fixed_events, lost_marker


def _shown(flt: EventFilter, ring: EventRing) -> list[int]:
    pred = flt.compile(ring)
    return [ring.seq(i) for i in range(ring.start, ring.total) if pred(i)]


@pytest.fixture
def ring() -> EventRing:
    r = EventRing(100)
    r.extend(fixed_events(9))
    return r


def test_condition_compares_addresses_as_text(ring):
    """`destination.ip == 10.0.0.2` keeps only events whose destination.ip field is that address."""
    assert _shown(EventFilter(conditions=(parse_condition("destination.ip == 10.0.0.2"),)),
                  ring) == [1, 4, 7]


def test_condition_compares_numbers_numerically():
    """`trid > 5` compares as numbers, not as text."""
    cond = parse_condition("trid > 5")
    assert cond.matches({"trid": 10}) and not cond.matches({"trid": 4})
    assert not cond.matches({"other": 10})


def test_condition_names_a_dotted_vocabulary_field():
    """`source.ip == 10.0.0.2` reads the field named source.ip (no attribute lookup)."""
    cond = parse_condition("source.ip == 10.0.0.2")
    assert cond.matches({"source.ip": "10.0.0.2"}) and not cond.matches({"source.ip": "1.2.3.4"})
    assert not cond.matches({"source": {"ip": "10.0.0.2"}})


def test_condition_regex_operator():
    """`verb ~ ^us` is a case-insensitive regex search."""
    assert parse_condition("verb ~ ^us").matches({"verb": "USR"})


def test_bad_condition_is_reported():
    """A condition without operator or value raises a readable FilterError."""
    with pytest.raises(FilterError, match=r"remote == 10\.0\.0\.2"):
        parse_condition("remote")


def test_bad_regex_is_reported():
    """An invalid regex raises FilterError, not re.error."""
    with pytest.raises(FilterError):
        EventFilter(text="(", regex=True)


def test_level_provider_event_and_keyword(ring):
    """Level, provider, event name and keyword filters combine with AND."""
    assert _shown(EventFilter(max_level=4), ring) == [1, 3, 4, 6, 7, 9]
    assert _shown(EventFilter(providers=frozenset({"wfptrace-msnmon"})), ring) == [2, 5, 8]
    assert _shown(EventFilter(events=frozenset({"DecisionTimeout"})), ring) == [3, 6, 9]
    assert _shown(EventFilter(keywords=frozenset({"connect"}), max_level=3), ring) == [3, 6, 9]


def test_text_matches_formatted_message(ring):
    """Text search looks in the message formatted from the template."""
    assert _shown(EventFilter(text="No decision"), ring) == [3, 6, 9]
    assert _shown(EventFilter(text=r"USR \d+ -> USR", regex=True), ring) == [2, 5, 8]


def test_lost_markers_survive_keyword_filters(ring):
    """In-band loss markers stay visible under keyword filters, so gaps are never hidden."""
    ring.append(lost_marker(10, 3))
    assert _shown(EventFilter(keywords=frozenset({"connect"})), ring)[-1] == 10


def test_describe_lists_active_parts():
    """The status text names every active part of the filter."""
    flt = EventFilter(providers=frozenset({"a"}), max_level=3, text="x",
                      conditions=(parse_condition("port>1"),))
    assert flt.describe() == "provider=a level<=3 'x' port > 1"
