"""The C express lane and the compiled flow table and reassembler change nothing but speed:
same trace, same counters, same flows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.msnmon import replay_capture
from providers.msnmon._events import LEGACY_ANY
from providers.msnmon._lane import CEXPRESS, REASON, ExpressLane
from providers.msnmon._monitor import MsnMonitor
from providers.packets import CaptureFormatError, FlowTable, PcapWriter, Pipeline
from providers.packets._accel import CSTAGE
from providers.packets._cflows import CompiledFlowTable
from providers.packets._reassembly import CompiledReassembler
from samples.msnsim import write_synthetic_capture
from tracer import Redactor

from ..packets.corpus import FRAMES, interleaved, mutated, write_frames
from .conftest import REPO, SAMPLES
from .streams import Conversation

if CEXPRESS is None:
    print(f"skipping: the express lane is off ({REASON})")
    pytest.skip(f"the express lane is off ({REASON}): every packet takes the Python path",
                allow_module_level=True)

SHARED = REPO / ".." / "shared" / "captures"
#: One redaction key for both paths, so their traces carry the same tokens.
REDACTOR = Redactor(b"lane and python path share this key")


#: What a session enables: everything; the summaries without Command and Message; only
#: the flows (what is off decides what the lane may do in C: the commonest MSG without
#: Message events, completed transactions without Transaction events).
KEYWORD_SETS = (None, ("session", "flow", "unknown"), ("flow",))


class _Pipeline(Pipeline):
    """A pipeline that notes the flows still open at the end of the capture."""

    def end_flows(self) -> None:
        self.open_at_end = [(f.key, f.packets, f.bytes, f.last_ns) for f in self.flows]
        super().end_flows()


def _monitor(max_flows: int = 100_000, max_stream_buffer: int = 1 << 20,
             compiled_streams: bool = False, **kw) -> tuple[MsnMonitor, _Pipeline]:
    """A monitor and its pipeline, with the limits of both (``compiled_streams``: the
    pipeline's flow table and reassembler are the C twins)."""
    monitor = MsnMonitor(**{"redactor": REDACTOR, **kw})
    table = CompiledFlowTable(max_flows) if compiled_streams else FlowTable(max_flows)
    pipeline = _Pipeline([monitor], flows=table,  # type: ignore[arg-type]
                         max_stream_buffer=max_stream_buffer)
    if compiled_streams:
        python = pipeline.reassembler
        assert python is not None
        pipeline.reassembler = CompiledReassembler(
            python.consumer, max_stream_buffer=python.max_stream_buffer,
            max_total_buffer=python.max_total_buffer)
    return monitor, pipeline


def _replay(path: Path, record, *, express: bool, legacy: bool = False,
            keywords: tuple[str, ...] | None = None, **kw) -> tuple[list, dict]:
    """The VERBOSE trace of some keywords, every counter, and each flow's final state.

    The original's trace strings are left out unless ``legacy``: while any is
    enabled, every chunk takes the Python path (what one test checks).
    """
    rec = record(keywords)
    LEGACY_ANY.on = legacy  # (the session's enable callback set it; reset when it stops)
    monitor, pipeline = _monitor(**kw)
    ended = []
    close = monitor.ledger.close

    def closing(ctx, ts_ns):
        tx = ctx.transactions
        ended.append((ctx.flow_id, ctx.commands, ctx.messages, ctx.errors, list(ctx.bytes),
                      ctx.fixed_role, ctx.role, ctx.dropped, tx.stats,
                      [(trid, cmd, t) for trid, (cmd, t) in tx._open.items()]))
        close(ctx, ts_ns)

    monitor.ledger.close = closing
    replay_capture(path, monitor=monitor, pipeline=pipeline, express=express)
    assert pipeline.reassembler is not None
    trace = [(e.name, e.fields) for e in rec.events()]  # (time_ns: when it was written)
    counters = {"monitor": monitor.stats.as_dict(),
                "reassembly": pipeline.reassembler.stats.as_dict(),
                "flows": pipeline.flows.stats.as_dict(),
                "open": pipeline.open_at_end,
                "ledger": repr(monitor.ledger._announced), "ended": ended}
    return trace, counters


def _assert_same(path: Path, record, legacy: bool = False, **kw) -> list:
    """Replays with and without the lane agree, and with the compiled table and reassembler,
    whatever the session enables; the trace with every event enabled."""
    traces = []
    for keywords in KEYWORD_SETS:
        slow = _replay(path, record, express=False, legacy=legacy, keywords=keywords, **kw)
        others = [_replay(path, record, express=True, legacy=legacy, keywords=keywords, **kw)]
        if CSTAGE is not None:
            others.append(_replay(path, record, express=False, legacy=legacy,
                                  keywords=keywords, compiled_streams=True, **kw))
        for fast in others:
            assert fast[1] == slow[1]
            assert len(fast[0]) == len(slow[0])
            for a, b in zip(fast[0], slow[0], strict=True):
                assert a == b
        traces.append(slow[0])
    return traces[0]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lane") / "synthetic.pcap"
    write_synthetic_capture(path, 1_500_000, seed=7)
    return path


def test_lane_takes_most_packets_of_a_clean_capture(synthetic, monkeypatch):
    """On a clean capture the lane handles nearly every packet (it is really in use)."""
    lanes: list[ExpressLane] = []
    real_init = ExpressLane.__init__

    def init(self, monitor, pipeline):
        real_init(self, monitor, pipeline)
        lanes.append(self)

    monkeypatch.setattr(ExpressLane, "__init__", init)
    stats = replay_capture(synthetic)
    assert len(lanes) == 1 and lanes[0].packets > 0.85 * stats.packets


@pytest.mark.parametrize("cut", [10, 100, 1000])
def test_cut_pcap_file_raises_the_readers_error_after_the_same_trace(synthetic, record,
                                                                     tmp_path, cut):
    """A file cut inside a record: the same events, then the Python reader's error."""
    data = synthetic.read_bytes()
    broken = tmp_path / "cut.pcap"
    broken.write_bytes(data[: len(data) // 2 + cut])
    outcomes = []
    for express in (True, False):
        rec = record()
        LEGACY_ANY.on = False
        with pytest.raises(CaptureFormatError) as info:
            replay_capture(broken, express=express, redactor=REDACTOR)
        outcomes.append(([(e.name, e.fields) for e in rec.events()], str(info.value)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1].startswith("file ends inside a record")


def test_corrupt_record_length_raises_the_readers_error(synthetic, tmp_path):
    """An absurd captured length: the reader's error, with or without the lane."""
    data = bytearray(synthetic.read_bytes()[:5000])
    data[24 + 8: 24 + 12] = (1 << 30).to_bytes(4, "little")
    broken = tmp_path / "corrupt.pcap"
    broken.write_bytes(bytes(data))
    messages = []
    for express in (True, False):
        with pytest.raises(CaptureFormatError) as info:
            replay_capture(broken, express=express)
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


@pytest.mark.parametrize("max_flows", [3, 100_000])
def test_interleaved_flows_give_the_same_trace(record, tmp_path, max_flows):
    """Many flows at once, with a flow table small enough to evict (LRU order matters)."""
    sources = []
    for seed in range(4):
        sources.append(tmp_path / f"s{seed}.pcap")
        write_synthetic_capture(sources[-1], 200_000, seed=seed)
    merged = tmp_path / "merged.pcap"
    interleaved(sources, merged, 5)
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
    with path.open("wb") as f:
        writer = PcapWriter(f, nano=True)
        for pkt in packets:
            writer.write(b"\x02" * 12 + b"\x08\x00" + pkt.data, pkt.ts_ns)
    trace = _assert_same(path, record)
    assert sum(1 for name, _ in trace if name == "Transaction") >= 3


@pytest.mark.parametrize("name", ["ppa_suspectemployeechat_msnms.pcap", "cs_http_ip4and6.pcapng",
                                  "cs_tcp_retransmissions.pcapng", "cs_tcp_handshake.pcapng"])
def test_real_captures_give_the_same_trace(record, name):
    """Third-party captures (MSNP, HTTP, retransmissions) give the same trace."""
    path = SHARED / name
    if not path.exists():
        print(f"skipping: {path} is absent")
        pytest.skip(f"{name} is absent")
    _assert_same(path, record)


@pytest.mark.parametrize("name", ["msn_session.pcap", "msn_session_msnp15.pcap"])
def test_simulator_captures_give_the_same_trace(record, name):
    """The simulator's bundled captures give the same trace."""
    _assert_same(SAMPLES / name, record)


def test_legacy_tracing_takes_the_python_path(synthetic, record):
    """With the original's trace strings enabled, the lane steps aside; the trace is equal."""
    trace = _assert_same(synthetic, record, legacy=True)
    assert any(name.startswith("Legacy") for name, _ in trace)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=FRAMES, cut=st.integers(0, 3))
def test_arbitrary_frames_give_the_same_counters(tmp_path_factory, frames, cut):
    """Hostile frames (random bytes, plausible headers with random flags, sequence numbers
    and payloads, cut short): no crash, and the same counters with and without the lane."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.pcap"
    write_frames(path, frames, cut)
    results = []
    for express, compiled in ((True, False), (False, False), (False, CSTAGE is not None)):
        monitor, pipeline = _monitor(compiled_streams=compiled)
        replay_capture(path, monitor=monitor, pipeline=pipeline, express=express)
        assert pipeline.reassembler is not None
        results.append((monitor.stats.as_dict(), pipeline.reassembler.stats.as_dict(),
                        pipeline.flows.stats.as_dict()))
    assert results[0] == results[1] == results[2]


def test_memory_stays_flat_on_a_large_capture(tmp_path):
    """The memory map's pages are let go as the lane reads on: the resident set grows by
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


def test_an_uninitialised_lane_refuses_to_run():
    """The C type made without its arguments raises instead of crashing."""
    bare = CEXPRESS.Express.__new__(CEXPRESS.Express)
    with pytest.raises(RuntimeError, match="not initialised"):
        bare.run([], print)
    with pytest.raises(TypeError):
        CEXPRESS.Express(1, 2)
