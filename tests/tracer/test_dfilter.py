"""Display filters: syntax, round trips, error positions, types and semantics on real events."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.inspect._events import CONNECTION_PENDED
from providers.msnmon._events import COMMAND, MESSAGE
from tracer import DisplayFilter, Event, EventType, FilterSyntaxError, Manifest
from tracer._dfilter_parse import (
    And,
    Compare,
    Exists,
    FieldRef,
    In,
    Literal,
    Not,
    Or,
    Range,
    parse_expression,
    quote,
    unparse,
)
from viewer._demo import demo_providers

MANIFESTS = {p.name: Manifest.from_json(p.manifest()) for p in demo_providers()}

# -- round trips ------------------------------------------------------------------------
_names = st.from_regex(r"@?[A-Za-z_][A-Za-z0-9_]{0,6}(\.[A-Za-z_][A-Za-z0-9_]{0,4}){0,2}",
                       fullmatch=True).filter(
    lambda s: s.lower() not in {"and", "or", "not", "in", "eq", "ne", "gt", "ge", "lt",
                                "le", "contains", "matches"})
_fields = _names.map(FieldRef)
_bare = st.from_regex(r"[A-Za-z0-9_:@/+-]([A-Za-z0-9_:@/+=-]|\.(?=[A-Za-z0-9]))*",
                      fullmatch=True).filter(lambda s: quote(s) == s)
_literals = st.one_of(st.text(max_size=12).map(lambda s: Literal(s, True)),
                      _bare.map(lambda s: Literal(s, False)))
_ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "contains", "matches"])
_leaves = st.one_of(
    _fields.map(Exists),
    st.builds(Compare, _fields, _ops, _literals),
    st.builds(In, _fields, st.lists(st.one_of(_literals, st.builds(Range, _literals,
                                                                  _literals)),
                                    min_size=1, max_size=3).map(tuple)))
_nodes = st.recursive(_leaves, lambda inner: st.one_of(
    inner.map(Not),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs)))), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_nodes)
def test_unparse_parses_back_to_the_same_tree(node):
    """Any filter tree written back as text parses to the same tree."""
    assert parse_expression(unparse(node)) == node


@given(st.text(max_size=40))
def test_any_text_parses_or_fails_with_a_position(text):
    """Arbitrary input either parses or raises FilterSyntaxError pointing inside the text."""
    try:
        parse_expression(text)
    except FilterSyntaxError as exc:
        assert 0 <= exc.pos <= len(text)
        assert exc.caret(text).split("\n")[1].lstrip(" ").startswith("^")


# -- syntax -----------------------------------------------------------------------------
def test_precedence_and_word_operators():
    """`and` binds tighter than `or`, `not` tighter than both; words and symbols are alike."""
    assert parse_expression("a or b and not c") == parse_expression("a || (b && !c)")
    assert parse_expression("x eq 1") == parse_expression("x == 1")
    assert parse_expression("x ~ 'y'") == parse_expression('x matches "y"')


def test_ranges_and_sets():
    """`port in {1863 6891..6900}` holds one value and one range."""
    node = parse_expression("destination.port in {1863 6891..6900}")
    assert node == In(FieldRef("destination.port"),
                      (Literal("1863"), Range(Literal("6891"), Literal("6900"))))


@pytest.mark.parametrize(("text", "column", "words"), [
    ("verb = MSG", 6, "use =="),
    ("a & b", 3, "&&"),
    ("(a == 1", 8, r"expected \)"),
    ('x == "open', 6, "closing quote"),
    ("a b", 3, "operator"),
    ("a == 1)", 7, "&& or ||"),
    ("port in {}", 10, "empty set"),
])
def test_syntax_errors_point_at_the_culprit(text, column, words):
    """A syntax error says what is wrong and at which column."""
    with pytest.raises(FilterSyntaxError, match=words) as info:
        parse_expression(text)
    assert info.value.pos + 1 == column


# -- types ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "culprit", "words"), [
    ('destination.port == "1863"', '"1863"', "destination.port is a number"),
    ("destination.port == MSG", "MSG", "is a word"),
    ("trid contains 5", "contains 5", "contains needs text"),
    ("destination.iq == 10.0.0.2", "destination.iq", "did you mean destination.ip"),
    ("verb matches \"(?=U)\"", '"(?=U)"', "bad pattern"),
    ("verb in {A..B}", "A..B", "numeric field"),
    ("level <= loud", "loud", "level"),
])
def test_type_errors_point_at_the_culprit(text, culprit, words):
    """A value the field cannot hold, or an unknown field, is refused before anything runs."""
    with pytest.raises(FilterSyntaxError, match=words) as info:
        DisplayFilter.compile(text, MANIFESTS)
    err = info.value
    assert text[err.pos:err.end] == culprit


def test_without_manifests_any_field_is_allowed():
    """With no manifest known (a live view before any provider), names are not checked."""
    assert DisplayFilter.compile("whatever == 3").matches(_ev(COMMAND, trid=3)) is False


# -- semantics on real event types ------------------------------------------------------
def _ev(etype: EventType, fields: dict[str, object] | None = None, **named: object) -> Event:
    fields = {**(fields or {}), **named}
    full = {name: fields.get(name, _DEFAULTS.get(name, "")) for name in etype.fields}
    return Event(time_ns=1_700_000_000_000_000_000, seq=7, provider=etype.provider.name,
                 name=etype.name, id=etype.id, level=etype.level,
                 keywords=etype.keyword_names, pid=1, tid=2, fields=full,
                 template=etype.template)


_DEFAULTS: dict[str, object] = {"trid": 1, "args": [], "payload_len": 0, "offset": 0,
                                "@timestamp": 0, "conn_id": 1, "source.port": 1,
                                "destination.port": 1, "process.pid": 1, "body": b"", "body_len": 0}


def _match(text: str, ev: Event) -> bool:
    return DisplayFilter.compile(text, MANIFESTS).matches(ev)


def test_comparisons_on_the_declared_types():
    """Numbers compare as numbers, text as text, and lists match on any item."""
    cmd = _ev(COMMAND, verb="MSG", trid=12, args=["alice@sim.test", "128"])
    assert _match('verb == "MSG" && trid > 9', cmd)
    assert not _match("trid < 10", cmd)
    assert _match("args contains alice", cmd)
    assert _match("args == 128", cmd)  # a list item, as text
    assert _match("trid in {1 10..15}", cmd) and not _match("trid in {1..11}", cmd)
    assert _match("verb ~ '^ms'", cmd) and not _match("verb ~ '(?-i)^ms'", cmd)


def test_missing_fields_never_match_a_comparison():
    """`!=` means "has the field and it differs"; `!(x == y)` is true without the field."""
    pended = _ev(CONNECTION_PENDED, {"destination.ip": "10.0.0.2"})
    assert not _match("verb != MSG", pended)
    assert _match("!(verb == MSG)", pended)
    assert _match("destination.ip && !verb", pended)


def test_event_attributes_and_levels():
    """provider, event, level (by name) and trace.* read the event itself."""
    cmd = _ev(COMMAND, verb="USR")
    assert _match("provider == wfptrace-msnmon && event == Command", cmd)
    assert _match("level <= info && level > warning", cmd)
    assert _match("trace.seq == 7 && trace.message contains USR", cmd)
    assert _match("@timestamp >= 2023-11-14T22:13:20 && trace.time < 2023-11-15", cmd)


def test_bytes_fields_compare_with_text():
    """A bytes field (base64 in the log) is searched with text."""
    msg = _ev(MESSAGE, body="aGVsbG8gYm9i")  # "hello bob" as the log holds it
    assert _match('body contains "bob"', msg)
    assert _match('body matches "^HELLO"', msg)


def test_catastrophic_pattern_runs_in_linear_time():
    """A pattern that backtracks exponentially in Python's re finishes at once on RE2."""
    flt = DisplayFilter.compile('verb matches "(a+)+$"', MANIFESTS)
    ev = _ev(COMMAND, verb="a" * 100_000 + "!")
    t0 = time.perf_counter()
    assert not flt.matches(ev)
    assert time.perf_counter() - t0 < 0.5


def test_line_literals_are_what_a_matching_line_holds():
    """The literals asked of a log line are the ones a matching record writes."""
    flt = DisplayFilter.compile('event == Command && verb == "MSG" && trid == 0x10',
                                MANIFESTS)
    assert flt.line_literals() == [[b'"event":"Command"'], [b'"verb":"MSG"'],
                                   [b'"trid":16']]
    either = DisplayFilter.compile("verb == MSG || trid == 3", MANIFESTS)
    assert either.line_literals() == [[b'"trid":3', b'"verb":"MSG"']]
    assert DisplayFilter.compile("verb == MSG || !trid", MANIFESTS).line_literals() == []


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text() |
                     st.binary(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) |
                     st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
_FILTERS = [DisplayFilter.compile(t, MANIFESTS) for t in [
    'verb == "MSG" && trid > 3', "args contains alice || args matches '^a.*z$'",
    "trid in {1 5..9} || !verb", "body contains x && body_len >= 0", "destination.port != 1863",
    "mid_session == true", "latency_us < 2.5 or timeout_s == 15"]]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["verb", "trid", "args", "body", "body_len",
                                        "destination.port", "mid_session", "latency_us",
                                        "timeout_s"]), _json))
def test_hostile_values_never_make_a_filter_raise(fields):
    """Whatever a log holds in a field (any JSON type, not the declared one), every filter
    answers True or False."""
    ev = Event(time_ns=0, seq=1, provider="wfptrace-msnmon", name="Command", id=2, level=4,
               keywords=(), pid=1, tid=1, fields=fields)
    for flt in _FILTERS:
        assert flt.matches(ev) in (True, False)
