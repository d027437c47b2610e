"""The stdout sink: streams the log format or text, and ends quietly on a closed pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from tests.tracer.sinks.conftest import TICK, emit
from tracer import Hub, ProviderEnable, SessionConfig, SinkContext, SinkSpec, read_log
from tracer._render import Renderer
from tracer.sinks import StdoutSink

_PROGRAM = """
import sys, time
from tests.tracer.sinks.conftest import SINKTEST, TICK
from tracer import Hub, ProviderEnable, SessionConfig, SinkSpec
with Hub(load_installed=False) as hub:
    hub.register(SINKTEST)
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")],
                                    sinks=[SinkSpec("stdout", sys.argv[1])], flush_interval=0.01))
    for i in range(3):
        TICK.write(i, "live")
    time.sleep(0.5)
    print("MARK", file=sys.stderr, flush=True)
    time.sleep(30)
"""


def _context() -> tuple[SinkContext, list[str]]:
    ended: list[str] = []
    return SinkContext("s", lambda: b'{"type":"header"}', Renderer("s"),
                       on_end=ended.append), ended


def test_stdout_streams_while_the_session_runs(tmp_path) -> None:
    """Events reach standard output within the flush interval, not when the session stops."""
    for fmt, want in (("json", b'"event":"Tick"'), ("text", b"tick 2 live")):
        proc = subprocess.Popen([sys.executable, "-c", _PROGRAM, fmt], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=os.getcwd())
        try:
            assert proc.stderr is not None and proc.stdout is not None
            assert proc.stderr.readline().strip() == b"MARK"
            os.set_blocking(proc.stdout.fileno(), False)
            got = proc.stdout.read() or b""
        finally:
            proc.kill()
            proc.wait()
        assert want in got


def test_json_output_is_the_log_format(hub: Hub, tmp_path, monkeypatch) -> None:
    """What the JSON stdout sink prints opens as a log: header first, then every event."""
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")],
                                    sinks=[SinkSpec("stdout")]))
    emit(100)
    stats = hub.stop_session("s")
    path = tmp_path / "out.jsonl"
    path.write_bytes(out.getvalue())
    assert [e.fields["n"] for e in read_log(path)] == list(range(100))
    assert stats.sinks[0]["handed"] == stats.sinks[0]["written"] == 100


def test_a_closed_pipe_ends_the_sink_and_counts_the_rest() -> None:
    """After the reader closes the pipe, events are lost as "output closed" and on_end fires."""
    r, w = os.pipe()
    os.close(r)
    stream = os.fdopen(w, "wb")
    context, ended = _context()
    sink = StdoutSink(SinkSpec("stdout"), context, stream=stream)
    from tracer import SinkBatch

    rec = (0, TICK.index, 0, 1, "x")
    sink.write(SinkBatch([rec], 1, lines=b'{"n":1}\n'))
    sink.write(SinkBatch([rec, rec], 2, lines=b'{"n":2}\n{"n":3}\n'))
    stats = sink.stats()
    assert ended == ["standard output closed"] and sink.closed
    assert stats.handed == 3 and stats.written == 0 and stats.lost_reasons == {"output closed": 3}
    stream.close()


def test_text_render_leaves_out_what_it_returns_none_for(hub: Hub, monkeypatch) -> None:
    """A command's own render function decides each event's text, or leaves it out."""
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    render = {"render": lambda e: f"n={e.fields['n']}" if e.fields["n"] % 2 else None}
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")],
                                    sinks=[SinkSpec("stdout", "text", render)]))
    emit(6)
    hub.stop_session("s")
    assert out.getvalue().decode().splitlines() == ["n=1", "n=3", "n=5"]
