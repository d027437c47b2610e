"""The filter's scanner: C (viewer/_cscan.c) against its Python twin (viewer/_scan.py), and
the decided fast path against decoding every candidate, on hostile log lines."""

from __future__ import annotations

import json
from array import array
from pathlib import Path
from types import ModuleType

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer import DisplayFilter, Hub, Level, Provider, ProviderEnable, SessionConfig
from viewer import _cscan, _scan
from viewer._filter import EventFilter
from viewer._logindex import LogIndex
from viewer._logrows import LogRows, _FilterWorker

from .test_hostile_content import HOSTILE

# two providers name the same fields with other types (port: int here, text there)
P1 = Provider("scan-one", keywords=["net"])
E1 = P1.event(1, "Conn", Level.INFO, "net", {"addr": str, "port": int, "note": str})
P2 = Provider("scan-two", keywords=["net"])
E2 = P2.event(1, "Conn", Level.WARNING, "net", {"addr": str, "port": str, "extra": dict})
FILTERS = ["addr == 10.0.0.7", 'addr == "10.0.0.7"', "port == 1863", 'port == "1863"',
           "port == 0x747", "addr == é", "note == 12"]


def _record(fields: object, level: object = 4, kind: str = "event", **top: object) -> dict:
    rec = {"type": kind, "time": "2026-12-02T11:51:07.636095135Z", "seq": 9,
           "provider": "scan-one", "event": "Conn", "id": 1, "level": level,
           "keywords": ["net"], "pid": 1, "tid": 1, "fields": fields}
    rec.update(top)
    return rec


def _line(rec: dict) -> bytes:
    return orjson.dumps(rec)


LIT = '"addr":"10.0.0.7"'
HOSTILE_LINES = [
    _line(_record({"addr": "10.0.0.7"})),
    _line(_record({"addr": "10.0.0.7", "port": 1863})),
    _line(_record({"addr": "10.0.0.70", "note": LIT})),  # the literal inside a string
    _line(_record({"note": f'{{{LIT}}}', "port": "1863"})),
    _line(_record({"extra": {"addr": "10.0.0.7"}})),  # nested: not the field
    _line(_record({"port": 1863}, addr="10.0.0.7")),  # a top-level key: not the field
    _line(_record({"addr": ["10.0.0.7"], "port": [1863]})),
    _line(_record({"addr": True, "port": False, "x": LIT})),
    _line(_record({"addr": None, "port": None, "x": LIT})),
    _line(_record({"addr": 1863, "port": 1863.0, "x": LIT})),
    _line(_record({"port": 18630, "note": "1863", "x": LIT})),
    _line(_record({"port": 9223372036854775808, "x": LIT})),
    _line(_record({"addr": "10.0.0.7", "note": "é中🙂" + "".join(HOSTILE)})),
    _line(_record({"addr": "10.0.0.7"}, level=5)),
    _line(_record({"addr": "10.0.0.7"}, level="3")),
    _line(_record({"addr": "10.0.0.7"}, level=4.0)),
    _line(_record({"addr": "10.0.0.7"}, level=None)),
    _line(_record({"addr": "10.0.0.7"}, kind="lost")),
    _line(_record({"addr": "10.0.0.7"}, kind="other")),
    _line(_record([LIT])),
    _line(_record(None, x={"addr": "10.0.0.7"})),
    _line({"type": "event", "level": 4, "x": LIT}),  # no fields at all
    _line(_record({"addr": "10.0.0.7", "deep": [[[[[[{"a": [1, 2.5e-3, -0]}]]]]]]})),
    json.dumps(_record({"addr": "10.0.0.7"})).encode(),  # spaces between tokens
    _line(_record({"addr": "x", "port": 1})).replace(b'"addr":"x"', LIT.encode() + b',"addr":"x"'),
    _line(_record({"addr": "x"})).replace(b'"addr":"x"', b'"addr":"x",' + LIT.encode()),
    _line(_record({"addr": "10.0.0.7"})).replace(b'"fields":', b'"fields":{"addr":"y"},"fields":'),
    _line(_record({"addr": "10.0.0.7"})).replace(b'"fields":{', b'"fields":{"add\\u0072":"z",'),
    _line(_record({"addr": "10.0.0.\\u0037", "x": LIT})).replace(b"\\\\u", b"\\u"),
    _line(_record({"addr": "10.0.0.7", "addr_": "z"})).replace(b'"addr_"', b'"add\\u0072"'),
    _line(_record({"addr": "10.0.0.7"})).replace(
        b'"fields":', b'"fields":{"addr":"10.0.0.7"},"fi\\u0065lds":'),
    _line(_record({"addr": "10.0.0.7", "q": 'say \\"hi\\"'})),
    _line(_record({"addr": "10.0.0.7", "u": "\\ud800"})).replace(b"\\\\u", b"\\u"),
    _line(_record({"addr": "10.0.0.7", "s": "\\ud83d\\ude00"})).replace(b"\\\\u", b"\\u"),
    _line(_record({"addr": "10.0.0.7"}))[:-3],  # truncated
    _line(_record({"addr": "10.0.0.7", "b": "\xff"})).replace("\xff".encode(), b"\xff"),
    _line(_record({"addr": "10.0.0.7", "c": "\x01"})).replace(b"\\u0001", b"\x01"),
    _line(_record({"addr": "10.0.0.7", "n": "01"})).replace(b'"01"', b"01"),
    _line(_record({"addr": "10.0.0.7", "n": 1e300})).replace(b"1e+300", b"1e400"),
    _line(_record({"addr": "10.0.0.7"})) + b"x",
    _line(_record({"addr": "10.0.0.7"}, level=True)),
    _line(_record({"addr": "10.0.0.7"}, type="lost")),
    _line(_record({"addr": "é", "note": "12"})),
    _line(_record({"addr": "10.0.0.7", "note": 12, "port": "0x747"})),
    _line(_record({"addr": "10.0.0.7", "port": 1863}, provider="scan-two")),
    _line(_record({"addr": "10.0.0.7"})).replace(b'{"type"', b'[{"type"', 1) + b"]",
    b'{"type":"event","fields":{"addr":"10.0.0.7"}}',
    b'{"type":"event","level":-1,"fields":{"addr":"10.0.0.7"}}',
    b"",
    b"   ",
    LIT.encode(),
]


def _log(tmp_path: Path, lines: list[bytes], name: str = "hostile.jsonl") -> Path:
    """A log a real session wrote (header, a few events), then ``lines`` appended."""
    path = tmp_path / name
    with Hub(load_installed=False) as hub:
        hub.register(P1)
        hub.register(P2)
        hub.start_session(SessionConfig("scan", [ProviderEnable(P1.name), ProviderEnable(P2.name)],
                                        file=path, blocking=True))
        E1.write("10.0.0.7", 1863, "12")
        E2.write("10.0.0.7", "1863", {"addr": "10.0.0.7"})
        E1.write("10.0.0.8", 1864, "x")
        hub.stop_session("scan")
    with path.open("ab") as f:
        f.write(b"".join(line + b"\n" for line in lines))
    return path


def _kept(ix: LogIndex, flt: EventFilter, scan: ModuleType, decide: bool) -> list[int]:
    """The rows a filter worker keeps, run to the end on this thread."""
    rows = LogRows(ix)
    worker = _FilterWorker(rows, flt, scan=scan, decide=decide)
    worker._run()
    return list(rows._matches)


def _compare(path: Path, texts: list[str], max_level: int = 5) -> None:
    ix = LogIndex(path, follow=False)
    try:
        assert ix.wait_indexed(30)
        for text in texts:
            flt = EventFilter(max_level=max_level,
                              expr=DisplayFilter.compile(text, ix.manifests))
            reference = _kept(ix, flt, _scan, decide=False)
            assert _kept(ix, flt, _cscan, decide=True) == reference, text
            assert _kept(ix, flt, _scan, decide=True) == reference, text
    finally:
        ix.close()


@pytest.mark.parametrize("max_level", [5, 4, 3])
def test_decided_filter_keeps_what_decoding_keeps_on_hostile_lines(tmp_path, max_level):
    """On hostile lines (the literal inside strings, escapes, numbers as text, missing fields,
    duplicate keys, two providers typing a field differently) the C and Python fast paths keep
    exactly the rows that decoding each candidate keeps."""
    path = _log(tmp_path, HOSTILE_LINES)
    _compare(path, FILTERS, max_level)


def test_decided_filter_keeps_the_real_matches(tmp_path):
    """The fast path keeps the hostile lines whose field really equals the value, and the
    session's own events, and nothing else."""
    path = _log(tmp_path, HOSTILE_LINES)
    ix = LogIndex(path, follow=False)
    try:
        assert ix.wait_indexed(30)
        flt = EventFilter(expr=DisplayFilter.compile("addr == 10.0.0.7", ix.manifests))
        kept = _kept(ix, flt, _cscan, decide=True)
        lines = [ix.line(r) for r in kept]
        assert len([ln for ln in lines if b'"seq":1,' in ln or b'"seq":2,' in ln]) == 2
        kept_lines = {i for i, line in enumerate(HOSTILE_LINES) if line in lines}
        # plain matches (other fields hostile, nested, escaped), levels 5, "3", 4.0, True and
        # -1, loss records, the last of duplicate keys and of two "fields" objects
        assert kept_lines == {0, 1, 12, 13, 14, 15, 17, 22, 25, 26, 27, 30, 31, 33, 40, 41,
                              43, 44, 46, 47}, kept_lines
    finally:
        ix.close()


values = st.one_of(st.sampled_from(["10.0.0.7", "10.0.0.70", "1863", LIT, "\\u0037", "é"]),
                   st.integers(-5, 20000), st.floats(allow_nan=False, allow_infinity=False),
                   st.booleans(), st.none(), st.lists(st.sampled_from(["10.0.0.7", 1863]),
                                                      max_size=2),
                   st.lists(st.sampled_from(HOSTILE), max_size=3).map("".join))
records = st.fixed_dictionaries({
    "fields": st.dictionaries(st.sampled_from(["addr", "port", "note", "extra", "x"]),
                              values | st.dictionaries(st.just("addr"), values, max_size=1),
                              max_size=4),
    "level": st.sampled_from([1, 3, 4, 5, "4", None]),
    "kind": st.sampled_from(["event", "event", "event", "lost"]),
    "spaced": st.booleans(),
})


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(records, min_size=1, max_size=30))
def test_decided_filter_matches_decoding_on_generated_records(tmp_path, recs):
    """Generated records, written compactly or with spaces, with the field, a look-alike or
    a nested copy: both fast paths keep what decoding keeps."""
    lines = []
    for r in recs:
        rec = _record(r["fields"], level=r["level"], kind=r["kind"])
        lines.append(json.dumps(rec).encode() if r["spaced"] else _line(rec))
    _compare(_log(tmp_path, lines, f"gen{len(recs)}.jsonl"), FILTERS[:3])


chunks = st.lists(st.sampled_from([b"\n", b"x", b'{"type":"event"', b'{"type":"lost"',
                                   b'"addr":"10.0.0.7"', b'"addr":', b"10.0.0.7", b" "]),
                  max_size=40).map(b"".join)


@given(chunks, st.sampled_from([b'"addr":"10.0.0.7"', b"\n", b"x", b'"addr":']))
def test_find_lines_c_and_python_agree(buf, literal):
    """C and Python find the same lines holding a literal, each once."""
    assert _cscan.find_lines(buf, literal) == _scan.find_lines(buf, literal)


@given(chunks, st.integers(0, 5), st.integers(0, 1 << 41))
def test_event_starts_c_and_python_agree(buf, cut, base):
    """C and Python list the same event line starts, or both decline (None)."""
    first = min(cut, len(buf))
    last = buf.rfind(b"\n") + 1
    if last <= first:
        last = first
    assert _cscan.event_starts(buf, first, last, base) == _scan.event_starts(buf, first, last,
                                                                             base)


@given(st.lists(st.integers(0, 1 << 50), max_size=50, unique=True),
       st.lists(st.integers(0, 1 << 20), max_size=20), st.integers(0, 1 << 30),
       st.integers(0, 60), st.integers(0, 60))
def test_rows_at_c_and_python_agree(offsets, starts, base, lo, hi):
    """C and Python map line starts to the same rows."""
    offs = array("Q", sorted(offsets))
    packed = array("Q", sorted(starts)).tobytes()
    with_rows = array("Q", sorted({o - base for o in offs if o >= base})[:5]).tobytes()
    for s in (packed, with_rows):
        assert _cscan.rows_at(offs, s, base, lo, hi) == _scan.rows_at(offs, s, base, lo, hi)


@settings(max_examples=200)
@given(st.lists(st.one_of(st.sampled_from(HOSTILE_LINES), records.map(
    lambda r: _line(_record(r["fields"], level=r["level"], kind=r["kind"])))), max_size=12),
    st.sampled_from([(b"10.0.0.7", None), (b"1863", 1863), (b"1863", None), (b"x", 1.5)]),
    st.integers(1, 5))
def test_field_equals_c_decides_only_what_python_decides(lines, value, max_level):
    """Every line C decides, the Python twin (decoding with orjson) decides the same way."""
    buf = b"\n".join(lines)
    text, number = value
    literal = b'"addr":'
    for key in (b"addr", b"port"):
        c_match, c_unsure = (set(array("Q", b)) for b in _cscan.field_equals(
            buf, literal, key, text, number, max_level))
        p_match, p_unsure = (set(array("Q", b)) for b in _scan.field_equals(
            buf, literal, key, text, number, max_level))
        found = set(array("Q", _scan.find_lines(buf, literal)))
        assert c_match <= p_match | p_unsure
        assert p_match - c_match <= c_unsure
        assert not (found - c_match - c_unsure) & p_match  # decided "no" by C: no for Python


def test_field_equals_decides_the_tracers_own_lines_in_c():
    """Lines as the tracer writes them are decided by C alone (nothing left to decode)."""
    lines = [HOSTILE_LINES[0], HOSTILE_LINES[1], HOSTILE_LINES[2], HOSTILE_LINES[12]]
    buf = b"\n".join(lines)
    match, unsure = _cscan.field_equals(buf, b'"addr":', b"addr", b"10.0.0.7", None, 5)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    assert list(array("Q", match)) == [starts[0], starts[1], starts[3]]
    assert unsure == b""


def test_the_built_c_scanner_is_the_one_in_use(monkeypatch):
    """The C scanner is picked when built (its VERSION matches), and WFPTRACE_PURE picks
    the Python twin."""
    monkeypatch.delenv("WFPTRACE_PURE", raising=False)
    assert _scan._load() is _cscan
    monkeypatch.setenv("WFPTRACE_PURE", "1")
    assert _scan._load() is _scan
