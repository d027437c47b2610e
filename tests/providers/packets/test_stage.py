"""Every implementation of the packet stage gives the same events, counters and flows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samples.msnsim import write_synthetic_capture

from .corpus import (
    FRAMES,
    interleaved,
    mutated,
    sample_captures,
    shared_captures,
    write_frames,
)
from .stage_trace import STAGES, stage_trace

if len(STAGES) < 2:
    print(f"skipping: only the {', '.join(STAGES)} packet stage is built")
    pytest.skip("only one packet stage is built: nothing to compare",
                allow_module_level=True)


def _assert_no_stream_event_after_the_end(trace: dict) -> None:
    """A flow's stream events all come before its end."""
    ended: set[int] = set()
    for event in trace["events"]:
        if event[0] == "flow_end":
            ended.add(event[1])
        elif event[0] in ("data", "gap", "end"):
            assert event[1] not in ended, event[:3]


def _assert_agree(path: Path, **kw) -> dict:
    """Each stage's trace equals the Python reference's; that trace."""
    reference = stage_trace(path, "python", **kw)
    _assert_no_stream_event_after_the_end(reference)
    assert reference["streams_left"] == 0
    for name in STAGES:
        if name == "python":
            continue
        other = stage_trace(path, name, **kw)
        assert {k: v for k, v in other.items() if k != "events"} \
            == {k: v for k, v in reference.items() if k != "events"}, name
        for i, (a, b) in enumerate(zip(other["events"], reference["events"], strict=False)):
            assert a == b, f"{name}: event {i} differs"
        assert len(other["events"]) == len(reference["events"]), name
    return reference


def _kinds(trace: dict) -> set[str]:
    return {e[0] for e in trace["events"]}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stage") / "synthetic.pcap"
    write_synthetic_capture(path, 600_000, seed=11)
    return path


@pytest.mark.parametrize("path", shared_captures() + sample_captures(), ids=lambda p: p.name)
def test_each_capture_gives_the_same_trace(path):
    """Third-party and bundled captures: the same flows, stream bytes, ends and counters."""
    trace = _assert_agree(path)
    assert "flow" in _kinds(trace)


def test_simulated_capture_gives_the_same_trace(synthetic):
    """A clean simulated capture: every stream byte in order, the same flow states."""
    trace = _assert_agree(synthetic)
    assert _kinds(trace) >= {"flow", "data", "end", "flow_end"}
    assert trace["reassembly"]["delivered_bytes"] > 400_000


@pytest.mark.parametrize("seed", range(4))
def test_damaged_capture_gives_the_same_trace(synthetic, tmp_path, seed):
    """Lost, duplicated, reordered, cut and corrupted frames: the same gaps and ends too."""
    damaged = tmp_path / "damaged.pcap"
    mutated(synthetic, damaged, seed)
    trace = _assert_agree(damaged)
    assert trace["reassembly"]["out_of_order"] > 0


def test_small_bounds_give_the_same_trace(synthetic, tmp_path):
    """Bounds on parked bytes (per stream and in total) hit all the time: the same."""
    damaged = tmp_path / "damaged.pcap"
    mutated(synthetic, damaged, 99)
    trace = _assert_agree(damaged, max_stream_buffer=2000, max_total_buffer=5000)
    assert trace["reassembly"]["gaps"] > 0


@pytest.mark.parametrize("max_flows", [3, 100_000])
def test_interleaved_flows_give_the_same_trace(tmp_path, max_flows):
    """Many flows at once, with a table small enough to evict (LRU order matters)."""
    sources = []
    for seed in range(3):
        sources.append(tmp_path / f"s{seed}.pcap")
        write_synthetic_capture(sources[-1], 150_000, seed=seed)
    merged = tmp_path / "merged.pcap"
    interleaved(sources, merged, 5)
    trace = _assert_agree(merged, max_flows=max_flows)
    assert (trace["flows"]["evicted"] > 0) == (max_flows == 3)


def test_selective_following_gives_the_same_trace(synthetic, tmp_path):
    """A consumer that follows some flows and lets go of others mid-stream: the same."""
    damaged = tmp_path / "damaged.pcap"
    mutated(synthetic, damaged, 3)
    trace = _assert_agree(damaged, follow=lambda n, flow: n % 2 == 0, unfollow_after=3000)
    followed = {e[1] for e in trace["events"] if e[0] == "data"}
    assert followed and all(n % 2 == 0 for n in followed)


def test_the_harness_sees_a_difference(synthetic, tmp_path):
    """Changing a bound changes the trace: the comparison is not vacuous."""
    damaged = tmp_path / "damaged.pcap"
    mutated(synthetic, damaged, 1)
    assert stage_trace(damaged, "python") != stage_trace(damaged, "python",
                                                         max_stream_buffer=500)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=FRAMES, cut=st.integers(0, 3), bound=st.sampled_from([20, 1 << 20]))
def test_arbitrary_frames_give_the_same_trace(tmp_path_factory, frames, cut, bound):
    """Hostile frames (random bytes; plausible headers with random flags, sequence numbers
    and payloads; cut short), with tiny or default bounds: no crash, the same trace."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.pcap"
    write_frames(path, frames, cut)
    _assert_agree(path, max_stream_buffer=bound, max_total_buffer=2 * bound)
