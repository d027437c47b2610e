"""A replay exported over OTLP reaches a third-party backend, Arize Phoenix, on loopback
(HTTP and gRPC), and Phoenix's API returns every span, one trace per flow.

Phoenix is the ``phoenix`` extra (``pip install -e .[phoenix]``; ``.ci/run`` installs it):
without it these tests skip with that reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.tracer.otel.receiver import free_port

if importlib.util.find_spec("phoenix") is None:  # found without importing it (seconds)
    pytest.skip("Arize Phoenix is not installed: pip install -e .[phoenix] (.ci/run installs it)",
                allow_module_level=True)

ROOT = Path(__file__).resolve().parents[3]
CAPTURE = ROOT / "samples" / "captures" / "msn_session.pcap"
WFPTRACE = str(Path(sys.executable).with_name("wfptrace"))
DAY_NS = 86_400 * 10**9


class Phoenix:
    """``phoenix serve`` on loopback ports with its database in a private directory."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.grpc_port = free_port(), free_port()
        env = {**os.environ, "PHOENIX_WORKING_DIR": str(workdir), "PHOENIX_HOST": "127.0.0.1",
               "PHOENIX_PORT": str(self.port), "PHOENIX_GRPC_PORT": str(self.grpc_port),
               "PHOENIX_TELEMETRY_ENABLED": "false"}
        self.log = (workdir / "phoenix.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "phoenix.server.main", "serve"],
                                     cwd=workdir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"phoenix exited; see {self.log.name}"
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self.stop()
        pytest.fail(f"phoenix did not answer within 180 s; see {self.log.name}")

    def spans(self) -> list[dict[str, Any]]:
        """Every span Phoenix stored (its REST API, all pages)."""
        out: list[dict[str, Any]] = []
        cursor = ""
        while True:
            query = f"?limit=1000{'&cursor=' + cursor if cursor else ''}"
            url = f"{self.url}/v1/projects/default/spans{query}"
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    page = json.load(r)
            except urllib.error.HTTPError as e:
                if e.code == 404:  # no span stored yet: no project either
                    return out
                raise
            out += page["data"]
            cursor = page.get("next_cursor") or ""
            if not cursor:
                return out

    def wait_spans(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        """The stored spans once there are ``count`` (Phoenix ingests asynchronously)."""
        deadline = time.monotonic() + timeout
        spans = self.spans()
        while len(spans) < count and time.monotonic() < deadline:
            time.sleep(0.5)
            spans = self.spans()
        return spans

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    p = Phoenix(tmp_path_factory.mktemp("phoenix"))
    yield p
    p.stop()


def replay(endpoint: str, protocol: str, *extra: str) -> int:
    """Replay the bundled capture to ``endpoint``; the spans its summary says it exported."""
    proc = subprocess.run([WFPTRACE, "replay", str(CAPTURE), "--provider", "msnmon",
                           "--otlp", endpoint, "--otlp-protocol", protocol, "--otlp-no-logs",
                           "-o", os.devnull, *extra],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"-> (\d+) spans and 0 logs exported", proc.stderr)
    assert found and "LOST" not in proc.stderr, proc.stderr
    return int(found[1])


def start_ns(span: dict[str, Any]) -> int:
    """A span's start (ISO time from the API) in ns, to the second."""
    return int(datetime.fromisoformat(span["start_time"]).timestamp()) * 10**9


def flows_and_traces(spans: list[dict[str, Any]]) -> tuple[dict[str, set[str]],
                                                           dict[str, set[str]]]:
    """The trace ids of each flow (children by their trace's flow span), and each trace's
    flows."""
    flow_of_trace: dict[str, set[str]] = defaultdict(set)
    for s in spans:
        if "network.community_id" in s["attributes"]:
            flow_of_trace[s["context"]["trace_id"]].add(s["attributes"]["network.community_id"])
    traces: dict[str, set[str]] = defaultdict(set)
    for trace, fids in flow_of_trace.items():
        for fid in fids:
            traces[fid].add(trace)
    return traces, flow_of_trace


def test_phoenix_stores_every_span_over_http_and_grpc_one_trace_per_flow(
        phoenix: Phoenix) -> None:
    """The capture replayed to Phoenix over HTTP, then over gRPC a day later (--time-shift):
    Phoenix returns as many spans as each run exported, each flow's spans in one trace per
    run, every child span in a trace of its flow, and no trace shared by two flows."""
    http = replay(phoenix.url, "http/protobuf")
    first = phoenix.wait_spans(http)
    assert len(first) == http
    grpc = replay(f"http://127.0.0.1:{phoenix.grpc_port}", "grpc", "--time-shift", "86400")
    spans = phoenix.wait_spans(http + grpc)
    assert len(spans) == http + grpc
    traces, flows = flows_and_traces(spans)
    assert len(traces) >= 9  # the capture's nine connections
    assert all(len(ids) == 2 for ids in traces.values())  # one per run
    assert all(len(fids) == 1 for fids in flows.values())
    assert {s["context"]["trace_id"] for s in spans} == set(flows)
    first_ns = min(start_ns(s) for s in spans)
    later = sum(start_ns(s) >= first_ns + DAY_NS // 2 for s in spans)
    assert (len(spans) - later, later) == (http, grpc)
    by_id = {(s["context"]["trace_id"], s["context"]["span_id"]) for s in spans}
    assert all((s["context"]["trace_id"], s["parent_id"]) in by_id
               for s in spans if s["parent_id"])  # every child's parent, in its trace
