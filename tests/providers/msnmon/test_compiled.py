"""The compiled packet stage changes nothing but speed: the MSN monitor as its consumer
gives the same trace, counters and flows as through the Python pipeline (and as through
the Python pipeline with the compiled flow table and reassembler)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.msnmon import replay_capture
from providers.msnmon._events import LEGACY_ANY
from providers.msnmon._monitor import MsnMonitor
from providers.msnmon._replay import STAGE
from providers.packets import LINKTYPE_RAW, CaptureFormatError, FlowTable, PcapWriter, Pipeline
from providers.packets._accel import CSTAGE
from providers.packets._cflows import CompiledFlowTable
from providers.packets._reassembly import CompiledReassembler
from providers.packets._stage import CompiledPipeline
from samples.msnsim import write_synthetic_capture
from tracer import Redactor

from ..packets.corpus import (
    FRAMES,
    interleaved,
    mutated,
    sample_captures,
    shared_captures,
    write_frames,
)
from .conftest import REPO
from .streams import Conversation

if STAGE:
    print(f"skipping: the compiled packet stage is off ({STAGE})")
    pytest.skip(f"the compiled packet stage is off ({STAGE}): replays run in Python",
                allow_module_level=True)

#: One redaction key for every pipeline, so their traces carry the same tokens.
REDACTOR = Redactor(b"stage and python path share this key")


#: What a session enables: everything; the summaries without Command and Message; only
#: the flows.
KEYWORD_SETS = (None, ("session", "flow", "unknown"), ("flow",))
#: The pipelines compared: the Python reference, the compiled stage, and the Python
#: pipeline with the compiled flow table and reassembler.
KINDS = ("python", "stage", "compiled_streams")


def _open_flows(flows) -> list:
    return [(f.key, f.packets, f.bytes, f.last_ns, f.state, f.follow) for f in flows]


class _Pipeline(Pipeline):
    """A Python pipeline that notes the flows still open at the end of the capture."""

    def end_flows(self) -> None:
        self.open_at_end = _open_flows(self.flows)
        super().end_flows()


class _Stage(CompiledPipeline):
    """The compiled stage, noting the flows still open at the end of the capture."""

    def end_flows(self) -> None:
        self.open_at_end = _open_flows(self.flows)
        super().end_flows()


def _monitor(kind: str = "python", max_flows: int = 100_000,
             max_stream_buffer: int = 1 << 20, **kw) -> tuple[MsnMonitor, Any]:
    """A monitor and its pipeline of one kind, with the limits of both."""
    monitor = MsnMonitor(**{"redactor": REDACTOR, **kw})
    if kind == "stage":
        return monitor, _Stage(monitor, max_flows=max_flows,
                               max_stream_buffer=max_stream_buffer)
    table = CompiledFlowTable(max_flows) if kind == "compiled_streams" else FlowTable(max_flows)
    pipeline = _Pipeline([monitor], flows=table,  # type: ignore[arg-type]
                         max_stream_buffer=max_stream_buffer)
    if kind == "compiled_streams":
        python = pipeline.reassembler
        assert python is not None
        pipeline.reassembler = CompiledReassembler(
            python.consumer, max_stream_buffer=python.max_stream_buffer,
            max_total_buffer=python.max_total_buffer)
    return monitor, pipeline


def _replay(path: Path, record, *, kind: str, legacy: bool = False,
            keywords: tuple[str, ...] | None = None, **kw) -> tuple[list, dict]:
    """The VERBOSE trace of some keywords, every counter, and each flow's final state
    (the monitor's context, its parsers' counters and its open transactions included).

    The original's trace strings are left out unless ``legacy``: while any is
    enabled, the monitor lends no parser state (what one test checks).
    """
    rec = record(keywords)
    LEGACY_ANY.on = legacy  # (the session's enable callback set it; reset when it stops)
    monitor, pipeline = _monitor(kind, **kw)
    ended = []
    close = monitor.ledger.close

    def closing(ctx, ts_ns):
        tx = ctx.transactions
        ended.append((ctx.flow_id, ctx.commands, ctx.messages, ctx.errors, list(ctx.bytes),
                      ctx.fixed_role, ctx.role, ctx.dropped, tx.stats,
                      [(trid, cmd, t) for trid, (cmd, t) in tx._open.items()],
                      [p.stats.as_dict() for p in ctx.parsers]))
        close(ctx, ts_ns)

    monitor.ledger.close = closing
    replay_capture(path, monitor=monitor, pipeline=pipeline)
    assert pipeline.reassembler is not None
    trace = [(e.name, e.fields) for e in rec.events()]  # (time_ns: when it was written)
    counters = {"monitor": monitor.stats.as_dict(), "budget": monitor.budget.as_dict(),
                "reassembly": pipeline.reassembler.stats.as_dict(),
                "flows": pipeline.flows.stats.as_dict(),
                "decode": pipeline.stats.as_dict(),
                "open": pipeline.open_at_end,
                "ledger": repr(monitor.ledger._announced), "ended": ended}
    return trace, counters


def _assert_same(path: Path, record, legacy: bool = False, **kw) -> list:
    """Replays through every kind of pipeline agree, whatever the session enables; the
    trace with every event enabled."""
    traces = []
    for keywords in KEYWORD_SETS:
        reference = _replay(path, record, kind="python", legacy=legacy, keywords=keywords,
                            **kw)
        for kind in KINDS[1:]:
            other = _replay(path, record, kind=kind, legacy=legacy, keywords=keywords, **kw)
            assert other[1] == reference[1], kind
            for i, (a, b) in enumerate(zip(other[0], reference[0], strict=False)):
                assert a == b, f"{kind}: event {i} differs"
            assert len(other[0]) == len(reference[0]), kind
        traces.append(reference[0])
    return traces[0]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stage") / "synthetic.pcap"
    write_synthetic_capture(path, 1_500_000, seed=7)
    return path


def test_the_stage_frames_most_commands_of_a_clean_capture(synthetic, monkeypatch):
    """On a clean capture the stage frames nearly every command itself (it is in use)."""
    framed = [0]
    real = MsnMonitor.on_framed

    def on_framed(self, batch):
        framed[0] += sum(len(items) for *_, items in batch)
        real(self, batch)

    monkeypatch.setattr(MsnMonitor, "on_framed", on_framed)
    stats = replay_capture(synthetic)
    assert framed[0] > 0.9 * stats.commands


def test_the_stage_frames_every_first_chunk_of_a_clean_capture(synthetic, monkeypatch):
    """On a clean capture no chunk of an MSNP flow, its first included, goes to on_data:
    the stage frames them all."""
    framed, raw = [0], [0]
    real_framed, real_data = MsnMonitor.on_framed, MsnMonitor.on_data

    def on_framed(self, batch):
        framed[0] += sum(len(items) for *_, items in batch)
        real_framed(self, batch)

    def on_data(self, flow, side, data):
        raw[0] += 1
        return real_data(self, flow, side, data)

    monkeypatch.setattr(MsnMonitor, "on_framed", on_framed)
    monkeypatch.setattr(MsnMonitor, "on_data", on_data)
    stats = replay_capture(synthetic)
    assert stats.commands > 0 and framed[0] == stats.commands
    assert raw[0] == 0


@pytest.mark.parametrize("cut", [10, 100, 1000])
def test_cut_pcap_file_raises_the_readers_error_after_the_same_trace(synthetic, record,
                                                                     tmp_path, cut):
    """A file cut inside a record: the same events, then the Python reader's error."""
    data = synthetic.read_bytes()
    broken = tmp_path / "cut.pcap"
    broken.write_bytes(data[: len(data) // 2 + cut])
    outcomes = []
    for compiled in (True, False):
        rec = record()
        LEGACY_ANY.on = False
        with pytest.raises(CaptureFormatError) as info:
            replay_capture(broken, compiled=compiled, redactor=REDACTOR)
        outcomes.append(([(e.name, e.fields) for e in rec.events()], str(info.value)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1].startswith("file ends inside a record")


def test_corrupt_record_length_raises_the_readers_error(synthetic, tmp_path):
    """An absurd captured length: the reader's error, compiled or not."""
    data = bytearray(synthetic.read_bytes()[:5000])
    data[24 + 8: 24 + 12] = (1 << 30).to_bytes(4, "little")
    broken = tmp_path / "corrupt.pcap"
    broken.write_bytes(bytes(data))
    messages = []
    for compiled in (True, False):
        with pytest.raises(CaptureFormatError) as info:
            replay_capture(broken, compiled=compiled)
        messages.append(str(info.value))
    assert messages[0] == messages[1] == f"corrupt pcap record: captured length {1 << 30}"


def test_clean_synthetic_capture_gives_the_same_trace(synthetic, record):
    """A clean capture: the same events, fields and times, and the same counters."""
    trace = _assert_same(synthetic, record)
    assert sum(1 for name, _ in trace if name == "Transaction") > 500


def test_bodies_and_hint_give_the_same_trace(synthetic, record):
    """With message bodies captured and an application hint, nothing differs either."""
    _assert_same(synthetic, record, capture_bodies=True, app_hint="/usr/bin/msnmsgr")


@pytest.mark.parametrize("seed", range(6))
def test_damaged_capture_gives_the_same_trace(synthetic, record, tmp_path, seed):
    """Reordered, lost, duplicated, cut and corrupted frames: still the same trace."""
    damaged = tmp_path / f"damaged{seed}.pcap"
    mutated(synthetic, damaged, seed)
    _assert_same(damaged, record)


def test_small_limits_give_the_same_trace(synthetic, record, tmp_path):
    """Limits hit all the time (lines, payloads, errors, flows) change nothing either."""
    damaged = tmp_path / "damaged.pcap"
    mutated(synthetic, damaged, 99)
    _assert_same(damaged, record, max_line=40, max_payload=100, max_errors=3, max_flows=5,
                 max_stream_buffer=2000, max_contexts=3)


def _interleaved_captures(tmp_path: Path, count: int, size: int, seed: int) -> Path:
    """``count`` synthetic captures of ``size`` bytes, their packets interleaved into one."""
    sources = []
    for i in range(count):
        sources.append(tmp_path / f"s{i}.pcap")
        write_synthetic_capture(sources[-1], size, seed=i)
    merged = tmp_path / "merged.pcap"
    interleaved(sources, merged, seed)
    return merged


@pytest.mark.parametrize("max_flows", [3, 100_000])
def test_interleaved_flows_give_the_same_trace(record, tmp_path, max_flows):
    """Many flows at once, with a flow table small enough to evict (LRU order matters)."""
    merged = _interleaved_captures(tmp_path, 4, 200_000, 5)
    _assert_same(merged, record, max_flows=max_flows)


def test_odd_messages_give_the_same_trace(record, tmp_path):
    """MSG replies with TrIDs (matched, unmatched, zero), unacknowledged and reused TrIDs,
    invitations, quiet verbs, on a switchboard flow: the same trace and per-flow state."""
    conv = Conversation(("10.0.0.1", 40000), ("10.0.0.2", 1863))
    body = b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi"
    invite = b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite\r\n\r\nIP: 1.2.3.4"
    steps = [(True, b"ANS 1 bob@example.com 1234.5678 99\r\n"),
             (False, b"IRO 1 1 1 alice@example.com Alice\r\n"), (False, b"ANS 1 OK\r\n")]
    for trid, kind, reply in [(5, b"N", b"MSG 5 N %d\r\n%s"), (6, b"A", b"ACK 6\r\n"),
                              (7, b"U", None), (8, b"N", b"MSG 80 N %d\r\n%s"),
                              (9, b"N", b"MSG 0 N %d\r\n%s"), (9, b"N", b"NAK 9\r\n")]:
        steps.append((True, b"MSG %d %s %d\r\n%s" % (trid, kind, len(body), body)))
        if reply is not None:
            steps.append((False, reply % (len(body), body) if b"%" in reply else reply))
    steps += [(True, b"MSG 10 N %d\r\n%s" % (len(invite), invite)),
              (False, b"MSG alice@example.com Alice %d\r\n%s" % (len(body), body)),
              (False, b"MSG alice@example.com Alice %d\r\n%s" % (len(invite), invite)),
              (True, b"BLP 12 U\r\n"), (False, b"BLP 12 U\r\n"),  # U: only MSG's is unacked
              (False, b"NLN 13 NLN carol@example.com Carol 0\r\n"), (True, b"CHG 14 NLN 0\r\n")]
    packets = conv.handshake()
    for from_client, data in steps:
        packets += conv.send(data, from_client)
    packets += conv.close()
    path = tmp_path / "odd.pcap"
    _write(path, packets)
    trace = _assert_same(path, record)
    assert sum(1 for name, _ in trace if name == "Transaction") >= 3


def _write(path: Path, packets) -> None:
    with path.open("wb") as f:
        writer = PcapWriter(f, nano=True)
        for pkt in packets:
            writer.write(b"\x02" * 12 + b"\x08\x00" + pkt.data, pkt.ts_ns)


@pytest.mark.parametrize("seed", range(3))
def test_commands_cut_anywhere_give_the_same_trace(record, tmp_path, seed):
    """Lines and payloads cut at every place (and by the flow's end), an over-long line,
    an unknown and an invalid line, a payload too large: what the stage frames, what it
    holds across segments and what it gives back to the parser add up to the same
    trace."""
    import random

    rng = random.Random(seed)
    body = b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 300
    client = [b"VER 1 MSNP8 CVR0\r\n", b"USR 2 TWN I bob@example.com\r\n",
              *(b"MSG %d N %d\r\n%s" % (i, len(body), body) for i in range(3, 40)),
              b"ZZZ 41 what\r\n", b"lower case line\r\n", b"A" * 200 + b"\r\n",
              b"MSG 42 N 99999999\r\n", b"PNG\r\n",
              *(b"CHG %d NLN 0\r\n" % i for i in range(43, 60)), b"CHG 60 NL"]  # (cut)
    server = [b"VER 1 MSNP8\r\n", b"USR 2 OK bob@example.com Bob 1 0\r\n",
              *(b"ACK %d\r\n" % i for i in range(3, 40)), b"QNG 50\r\n",
              *(b"MSG bob@example.com Bob %d\r\n%s" % (len(body), body) for _ in range(9)),
              b"MSG bob@example.com Bob 50\r\npartial"]  # (cut by the end)
    conv = Conversation(("10.0.0.1", 40000), ("10.0.0.2", 1863))
    packets = conv.handshake()
    streams = {True: client, False: server}
    sent = {True: 0, False: 0}
    ends = {side: [sum(map(len, parts[:i + 1])) for i in range(len(parts))]
            for side, parts in streams.items()}
    sizes = {side: ends[side][-1] for side in streams}
    while sent[True] < sizes[True] or sent[False] < sizes[False]:
        side = rng.random() < 0.6 if all(sent[s] < sizes[s] for s in streams) \
            else sent[True] < sizes[True]
        n = rng.choice([1, 2, 3, 7, 19, 64, 333, 1000])
        if rng.random() < 0.4:  # up to a command's end: the parser holds nothing, lends
            n = next(e for e in ends[side] if e > sent[side]) - sent[side]
        data = b"".join(streams[side])
        packets += conv.send(data[sent[side]:sent[side] + n], side)
        sent[side] += n
    packets += conv.close()
    path = tmp_path / "cut.pcap"
    _write(path, packets)
    trace = _assert_same(path, record, max_line=120, max_payload=5000)
    kinds = {fields.get("kind") for name, fields in trace if name == "UnknownCommand"}
    assert {"line_too_long", "payload_too_large", "invalid_line", "unknown_verb"} <= kinds


@pytest.mark.parametrize("max_buffered", [150, 700, 2500])
def test_a_small_buffer_budget_gives_the_same_trace(record, tmp_path, max_buffered):
    """A shared buffer budget small enough to overdraw (lines and payloads cut across
    segments in both directions of interleaved flows): the same drops, peak and trace."""
    merged = _interleaved_captures(tmp_path, 3, 150_000, 7)
    trace = _assert_same(merged, record, max_buffered=max_buffered)
    drops = [f for name, f in trace if name == "UnknownCommand" and f["kind"] == "over_budget"]
    assert drops  # (the budget was overdrawn)


@pytest.mark.parametrize("path", shared_captures() + sample_captures(), ids=lambda p: p.name)
def test_each_capture_gives_the_same_trace(record, path):
    """Every third-party capture (MSNP, HTTP, retransmissions, fragments, ICMP...) and
    every capture of the simulator gives the same trace."""
    _assert_same(path, record)


@pytest.mark.parametrize("path", shared_captures() + sample_captures(), ids=lambda p: p.name)
def test_each_capture_with_an_app_hint_gives_the_same_trace(record, path):
    """With an application hint every TCP flow is monitored and sniffed: the same."""
    _assert_same(path, record, app_hint="/usr/bin/msnmsgr", capture_bodies=True)


def test_legacy_tracing_takes_the_python_path(synthetic, record):
    """With the original's trace strings enabled, nothing is lent; the trace is equal."""
    trace = _assert_same(synthetic, record, legacy=True)
    assert any(name.startswith("Legacy") for name, _ in trace)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=FRAMES, cut=st.integers(0, 3))
def test_arbitrary_frames_give_the_same_counters(tmp_path_factory, frames, cut):
    """Hostile frames (random bytes, plausible headers with random flags, sequence numbers
    and payloads, cut short): no crash, and the same counters through every pipeline."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.pcap"
    write_frames(path, frames, cut)
    results = []
    for kind in KINDS if CSTAGE is not None else KINDS[:2]:
        monitor, pipeline = _monitor(kind)
        replay_capture(path, monitor=monitor, pipeline=pipeline)
        assert pipeline.reassembler is not None
        results.append((monitor.stats.as_dict(), pipeline.reassembler.stats.as_dict(),
                        pipeline.flows.stats.as_dict(), pipeline.stats.as_dict(),
                        pipeline.open_at_end))
    assert all(r == results[0] for r in results)


def test_memory_stays_flat_on_a_large_capture(tmp_path):
    """The memory map's pages are let go as the stage reads on: the resident set grows by
    much less than the file's size."""
    path = tmp_path / "large.pcap"
    write_synthetic_capture(path, 48_000_000, seed=3)
    code = (
        "import resource, sys\n"
        "from providers.msnmon import replay_capture\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) // 1024\n"
        "before = rss()\n"
        "replay_capture(sys.argv[1])\n"
        "print(rss() - before)\n")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) < 36, f"resident set grew by {run.stdout.strip()} MB for 48 MB"


def test_an_uninitialised_stage_refuses_to_run():
    """The C type made without its arguments raises instead of crashing."""
    bare = CSTAGE.Stage.__new__(CSTAGE.Stage)
    with pytest.raises(RuntimeError, match="not initialised"):
        bare.run([], print)
    with pytest.raises(TypeError):
        CSTAGE.Stage(1, 2)


def _held_after_each_step(kind: str, steps: list[list]) -> list[tuple[int, int]]:
    """(budget used, budget peak) after each step of packets, and after the flows end."""
    monitor, pipeline = _monitor(kind)
    seen = []
    for packets in steps:
        pipeline.run([(LINKTYPE_RAW, p.ts_ns, p.data, len(p.data), 0) for p in packets])
        seen.append((monitor.budget.used, monitor.budget.peak))
    pipeline.end_flows()
    seen.append((monitor.budget.used, monitor.budget.peak))
    return seen


def test_bytes_the_stage_holds_between_chunks_are_charged_to_the_budget():
    """A line cut by a segment's end and a payload still arriving count against the shared
    budget while the compiled stage holds them, as while the parser does, and no longer
    once they are framed or the flow ends."""
    conv = Conversation(("10.0.0.2", 40000), ("10.0.0.9", 1863))
    steps = [conv.handshake() + conv.send(b"VER 1 MSNP8 CVR0\r\n"),
             conv.send(b"CHG 2 NL"),  # (a cut line: held)
             conv.send(b"N 0\r\nMSG 3 N 100\r\n" + b"x" * 40),  # (a payload to come: held)
             conv.send(b"y" * 60 + b"PNG\r\n"),  # (everything framed)
             conv.send(b"MSG 4 N 30\r\n" + b"z" * 7)]  # (held when the flow ends)
    stage = _held_after_each_step("stage", steps)
    assert stage == _held_after_each_step("python", steps)
    assert [used for used, _ in stage] == [0, 8, 40, 0, 7, 0]
