"""Reading logs back with only the header's manifests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tracer import Hub, LogFormatError, LogReader, ProviderEnable, SessionConfig, read_log

from .conftest import Demo


def test_reader_decodes_without_provider_code(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """A separate process with no provider code reads typed fields and messages."""
    log = tmp_path / "r.jsonl"
    hub.start_session(SessionConfig("r", [ProviderEnable("test-demo")], file=log))
    demo.write.write("/etc/x", 3, b"abc")
    hub.stop_session("r")
    code = ("import sys; from tracer import read_log\n"
            "e = next(iter(read_log(sys.argv[1])))\n"
            "print(repr(e.fields['data']), e.message, e.level_name)")
    out = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "b'abc' Wrote 3 bytes to /etc/x VERBOSE"


def test_not_a_log_is_a_clear_error(tmp_path: Path) -> None:
    """A file without a wfptrace header raises LogFormatError."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"hello": 1}\n')
    with pytest.raises(LogFormatError, match="not a wfptrace log"):
        LogReader(bad)
    with pytest.raises(LogFormatError, match="no such file"):
        LogReader(tmp_path / "missing.jsonl")


def test_malformed_lines_are_skipped_and_counted(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """Garbage lines in a log are counted, the rest still decodes."""
    log = tmp_path / "g.jsonl"
    hub.start_session(SessionConfig("g", [ProviderEnable("test-demo")], file=log))
    demo.connect.write("a", 1)
    hub.stop_session("g")
    with open(log, "ab") as f:
        f.write(b"{not json\n\xff\xfe\n{\"type\":\"event\"}\n")
    reader = LogReader(log)
    assert [e.fields["host"] for e in reader] == ["a"]
    assert reader.bad_lines == 3


def test_envelopes_consumers_cannot_hold_are_bad_lines(tmp_path: Path) -> None:
    """Out-of-range numbers and wrongly typed names or fields are counted, not yielded."""
    good = {"type": "event", "time": "2026-11-22T02:20:00.1Z", "seq": 1, "provider": "p",
            "event": "E", "level": 4, "pid": 1, "tid": 1, "fields": {"a": 1}}
    bad = [{"seq": 1 << 64}, {"level": 300}, {"level": -1}, {"pid": -(1 << 70)},
           {"time": "9999-01-01T00:00:00Z"}, {"provider": 5}, {"event": None},
           {"fields": [1, 2]}, {"fields": "x"}]
    log = tmp_path / "h.jsonl"
    lines = [b'{"type":"header","format":"wfptrace-jsonl","version":1,"providers":[]}']
    lines += [json.dumps({**good, **change}).encode() for change in bad]
    lines.append(json.dumps(good).encode())
    log.write_bytes(b"\n".join(lines) + b"\n")
    reader = LogReader(log)
    assert [e.fields for e in reader] == [{"a": 1}]
    assert reader.bad_lines == len(bad)


def test_follow_sees_events_written_later(hub: Hub, demo: Demo, tmp_path: Path) -> None:
    """A following reader yields events appended after it started."""
    log = tmp_path / "f.jsonl"
    session = hub.start_session(SessionConfig("f", [ProviderEnable("test-demo")], file=log))
    got: list[int] = []
    reader = LogReader(log, follow=True, poll_interval=0.01, should_stop=lambda: len(got) >= 3)
    it = iter(reader)
    for i in range(3):
        demo.connect.write("h", i)
        session.flush()
        got.append(next(it).fields["port"])
    assert got == [0, 1, 2]
    assert [e.seq for e in read_log(log)] == [1, 2, 3]


def test_unfinished_last_line_is_left_out_and_reported(hub: Hub, demo: Demo,
                                                       tmp_path: Path) -> None:
    """A file cut inside its last line (a writer killed mid-write) yields the whole lines;
    the reader and ``wfptrace fmt`` report the unfinished one instead of decoding it."""
    log = tmp_path / "cut.jsonl"
    hub.start_session(SessionConfig("cut", [ProviderEnable("test-demo")], file=log))
    demo.connect.write("a", 1)
    demo.connect.write("b", 2)
    hub.stop_session("cut")
    whole = log.read_bytes()
    log.write_bytes(whole[:-30])  # the second event line loses its end
    reader = LogReader(log)
    assert [e.fields["host"] for e in reader] == ["a"]
    assert reader.partial_tail == len(whole.splitlines()[-1]) - 29 and reader.bad_lines == 0
    out = subprocess.run([sys.executable, "-m", "tracer._cli", "fmt", str(log)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.count("\n") == 1 and "last line is unfinished" in out.stderr
