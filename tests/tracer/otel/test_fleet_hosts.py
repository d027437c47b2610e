"""Four hub processes, as four hosts would run, export the same flows at once, each to its
own agent (an OTLP receiver on loopback, standing in for the Collector agent of
``samples/otel``): every span of a flow carries the flow's one trace id whichever hub saw
it, so a gateway tier routing by trace id gathers each flow in one place; and the account
over all hubs is exact, also when agents are killed and restarted mid-run."""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.tracer.otel.receiver import Receiver
from tests.tracer.otel.test_fleet import export_once

HOSTS = 4
FLOWS = 40
PACE = 0.04  # seconds between flows: the run lasts ~1.6 s, long enough to kill an agent
SPANS_PER_FLOW = 2  # the flow's span and its CHG transaction
PROTOCOLS = ("http/protobuf", "grpc", "http/protobuf", "grpc")
FAST: dict[str, Any] = {"schedule_delay": 0.05, "retry_initial": 0.02, "retry_max": 0.1,
                        "retry_budget": 0.3, "logs": False, "open_span_interval": 0.0,
                        "close_timeout": 5.0}


def host(sock: Path, endpoint: str, protocol: str) -> dict[str, Any]:
    """One host: a hub process exporting the paced flows of one provider process; the
    stopped session's OTLP sink account."""
    return export_once(sock, endpoint, protocol, flows=FLOWS, pace=PACE, options=FAST)


def start(receiver: Receiver, protocol: str, port: int = 0) -> str:
    return receiver.start_grpc(port) if protocol == "grpc" else receiver.start_http(port)


def run_fleet(tmp_path: Path, agents: list[Receiver], kill: tuple[int, ...]
              ) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """All hosts at once; the agents in ``kill`` are killed once they have taken spans and
    restarted on the same port 1 s later. Sinks, and each killed agent's span count at its
    restart."""
    urls = [start(a, p) for a, p in zip(agents, PROTOCOLS, strict=True)]
    with ThreadPoolExecutor(HOSTS) as pool:
        futures = [pool.submit(host, tmp_path / f"h{i}.sock", urls[i], PROTOCOLS[i])
                   for i in range(HOSTS)]
        at_restart: dict[int, int] = {}
        for i in kill:
            assert agents[i].wait(lambda r: len(r.spans) >= 10, timeout=60)
            agents[i].kill()
        if kill:
            time.sleep(1.0)  # longer than the retry budget: what is sent now is dropped
        for i in kill:
            at_restart[i] = len(agents[i].spans)
            start(agents[i], PROTOCOLS[i], int(urls[i].rsplit(":", 1)[1]))
        sinks = [f.result(timeout=120) for f in futures]
    return sinks, at_restart


def traces_by_flow(agents: list[Receiver]) -> tuple[dict[str, set[bytes]], dict[bytes, set[str]]]:
    """Over all agents: the trace ids each flow's spans carry, and the flows of each id."""
    spans = [s for a in agents for s in a.spans]
    flow_of = {s.item.span_id: s.attrs["network.community_id"] for s in spans
               if "network.community_id" in s.attrs}
    traces: dict[str, set[bytes]] = defaultdict(set)
    flows: dict[bytes, set[str]] = defaultdict(set)
    for s in spans:  # a transaction span belongs to the flow of its parent
        fid = flow_of.get(s.item.span_id) or flow_of[s.item.parent_span_id]
        traces[fid].add(s.item.trace_id)
        flows[s.item.trace_id].add(fid)
    return traces, flows


@pytest.fixture
def agents() -> Any:
    rs = [Receiver() for _ in range(HOSTS)]
    yield rs
    for r in rs:
        r.stop()


def balanced(sinks: list[dict[str, Any]]) -> None:
    """Per hub and over all: exported + dropped == made, every drop for its reason."""
    for sink in sinks:
        assert sink["spans_pending"] == 0
        assert sink["spans_handed"] == SPANS_PER_FLOW * FLOWS
        assert sink["spans_handed"] == sink["spans_exported"] + sink["spans_dropped"]
        assert sum(sink["drop_reasons"]["spans"].values()) == sink["spans_dropped"]
    made = sum(s["spans_handed"] for s in sinks)
    assert made == HOSTS * SPANS_PER_FLOW * FLOWS
    assert sum(s["spans_exported"] + s["spans_dropped"] for s in sinks) == made


def one_trace_per_flow(agents: list[Receiver]) -> None:
    traces, flows = traces_by_flow(agents)
    assert len(traces) == FLOWS
    assert all(len(ids) == 1 for ids in traces.values())
    assert all(len(fids) == 1 for fids in flows.values())


def test_four_hosts_at_once_give_each_flow_one_trace_id(tmp_path: Path,
                                                        agents: list[Receiver]) -> None:
    """Four hub processes export the same flows at once to four agents: every span of a
    flow has the flow's one trace id on every agent, and nothing is lost."""
    sinks, _ = run_fleet(tmp_path, agents, kill=())
    balanced(sinks)
    for sink, agent in zip(sinks, agents, strict=True):
        assert sink["spans_dropped"] == 0
        assert len(agent.spans) == sink["spans_exported"] == SPANS_PER_FLOW * FLOWS
    one_trace_per_flow(agents)


def test_agents_killed_and_restarted_mid_run_are_accounted_as_endpoint_down(
        tmp_path: Path, agents: list[Receiver]) -> None:
    """Two agents (HTTP and gRPC) die mid-run and come back: their hubs count what was lost
    as endpoint_down and export again after the restart; over all four hubs exported +
    dropped == made, and each flow keeps one trace id."""
    sinks, at_restart = run_fleet(tmp_path, agents, kill=(0, 1))
    balanced(sinks)
    for i, sink in enumerate(sinks):
        if i in at_restart:
            assert sink["spans_dropped"] > 0
            assert set(sink["drop_reasons"]["spans"]) == {"endpoint_down"}
            assert len(agents[i].spans) > at_restart[i], "nothing exported after the restart"
            # a request cut mid-answer may arrive and still count as dropped
            assert sink["spans_exported"] <= len({s.item.span_id for s in agents[i].spans})
        else:
            assert sink["spans_dropped"] == 0
            assert len(agents[i].spans) == sink["spans_exported"] == SPANS_PER_FLOW * FLOWS
    one_trace_per_flow(agents)
