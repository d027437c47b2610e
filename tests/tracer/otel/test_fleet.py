"""Several hub processes (as several hosts would run) give each flow one trace id, also
across a hub restart, and each hub's account across the hop is exact."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.tracer.otel import flowproc
from tests.tracer.otel.receiver import Receiver
from tests.tracer.service.conftest import Child, HubProcess
from tracer import ProviderEnable, SessionConfig
from tracer.otel import OtlpOptions
from tracer.service import connect

FLOWS = 20


def export_once(sock: Path, endpoint: str, protocol: str, *, flows: int = FLOWS,
                pace: float | None = None, options: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """A hub process exporting the fixed flows of one provider process (``pace`` seconds
    apart, if given); the stopped session's OTLP sink account."""
    opts = options if options is not None else {"schedule_delay": 0.05, "logs": False}
    argv = [sys.executable, "-m", "tests.tracer.otel.flowproc", str(sock), str(flows)]
    hub_proc = HubProcess(sock)
    try:
        with connect(sock) as hub:
            hub.add_manifest(flowproc.PROVIDER.manifest())
            hub.start_session(SessionConfig(
                "fleet", [ProviderEnable("wfptrace-msnmon")], flush_interval=0.02,
                otlp=OtlpOptions(endpoint=endpoint, protocol=protocol, **opts)))
            child = Child(argv + ([str(pace)] if pace is not None else []))
            try:
                assert child.line()["connected"]
                done = child.line(timeout=60)
                assert done["written"] == 4 * flows and done["flushed"]
            finally:
                child.stop()
            stats = hub.stop_session("fleet")
    finally:
        hub_proc.stop()
    (sink,) = stats.sinks
    return sink


@pytest.fixture
def receivers() -> Any:
    rs = [Receiver(), Receiver()]
    yield rs
    for r in rs:
        r.stop()


def test_each_flow_has_one_trace_id_whichever_hub_process_saw_it(tmp_path: Path,
                                                                 receivers: list[Receiver]
                                                                 ) -> None:
    """Two hub processes and a restarted one export the same flows to two receivers: every
    span of a flow carries one trace id, and exported + dropped == handed for each hub."""
    urls = [receivers[0].start_http(), receivers[1].start_grpc()]
    sinks = [export_once(tmp_path / "a.sock", urls[0], "http/protobuf"),
             export_once(tmp_path / "b.sock", urls[1], "grpc"),
             export_once(tmp_path / "a.sock", urls[1], "grpc")]  # hub "a" again, restarted
    for sink in sinks:
        assert sink["spans_handed"] == sink["spans_exported"] + sink["spans_dropped"]
        assert sink["spans_exported"] == 2 * FLOWS and sink["spans_pending"] == 0
    traces: dict[str, set[bytes]] = defaultdict(set)
    by_trace: dict[bytes, set[str]] = defaultdict(set)
    flows_of_span: dict[bytes, str] = {}
    spans = receivers[0].spans + receivers[1].spans
    for s in spans:
        if "network.community_id" in s.attrs:
            flows_of_span[s.item.span_id] = s.attrs["network.community_id"]
    for s in spans:  # a child span belongs to the flow of its parent
        fid = flows_of_span.get(s.item.span_id) or flows_of_span[s.item.parent_span_id]
        traces[fid].add(s.item.trace_id)
        by_trace[s.item.trace_id].add(fid)
    assert len(spans) == 3 * 2 * FLOWS
    assert len(traces) == FLOWS and all(len(t) == 1 for t in traces.values())
    assert all(len(f) == 1 for f in by_trace.values())
