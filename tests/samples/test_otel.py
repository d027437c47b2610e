"""The Collector deployment in ``samples/otel`` (agents routing by trace ID to gateways,
then Jaeger) is well-formed, checked against the Collector's documented configuration.

There is no Collector binary here (no prebuilt binaries may be downloaded), so these
tests check the structure the Collector documents and validates when it loads:

- opentelemetry.io/docs/collector/configuration and .../architecture: the top-level
  sections ``receivers``, ``processors``, ``exporters``, ``connectors``, ``extensions``
  and ``service`` (``extensions``, ``pipelines``, ``telemetry``); component ids are
  ``type[/name]``; a pipeline id is ``traces|metrics|logs[/name]`` with at least one
  receiver and one exporter, every component it names defined in its section; a
  component configured but named by no pipeline is not enabled; ``${env:NAME:-default}``
  expands environment variables.
- the memory_limiter and batch processor READMEs (opentelemetry-collector): the
  memory_limiter first in a pipeline's processors (``check_interval`` and a limit), the
  batch processor after it, last here.
- the loadbalancingexporter README (opentelemetry-collector-contrib): supported in
  ``traces`` and ``logs`` pipelines; ``routing_key`` (``traceID`` routes every span of
  a trace to the same backend); ``protocol`` has ``otlp`` only (any OTLP exporter
  option); ``resolver`` has exactly one of ``static`` (``hostnames``), ``dns``
  (``hostname``), ``k8s``, ``aws_cloud_map``. Newer releases name it ``load_balancing``
  and keep ``loadbalancing`` as an alias.
- the otlp receiver and exporter READMEs: receiver ``protocols`` ``grpc``/``http`` with
  ``endpoint`` ``host:port``; exporter ``endpoint`` ``host:port`` or a URL, ``tls.insecure``.
"""

from __future__ import annotations

import configparser
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is in the test extra: pip install -e .[test]")

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "otel"
CONFIGS = ("agent.yaml", "gateway.yaml")
SECTIONS = ("receivers", "processors", "exporters", "connectors", "extensions")
SIGNALS = ("traces", "metrics", "logs")
ID = re.compile(r"^[a-z][a-z0-9_]*(/[^/\s]+)?$")
ENV = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
LB = ("loadbalancing", "load_balancing")
RESOLVERS = ("static", "dns", "k8s", "aws_cloud_map")


def expand(value: Any, env: dict[str, str]) -> Any:
    """The Collector's ``${env:NAME:-default}`` expansion, recursively."""
    if isinstance(value, dict):
        return {k: expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env) for v in value]
    if isinstance(value, str):
        return ENV.sub(lambda m: env.get(m[1], m[2] or ""), value)
    return value


def load(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return expand(yaml.safe_load((SAMPLES / name).read_text()), env or {})


def host_port(endpoint: str) -> tuple[str, int]:
    """``host:port`` or ``scheme://host:port``; raises on anything else."""
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    assert parts.hostname and parts.port and 0 < parts.port < 65536, endpoint
    assert parts.scheme in ("", "http", "https", "dns"), endpoint
    return parts.hostname, parts.port


def endpoints(node: Any) -> list[str]:
    """Every ``endpoint`` value below a node."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == "endpoint"]
        return found + [e for v in node.values() for e in endpoints(v)]
    if isinstance(node, list):
        return [e for v in node for e in endpoints(v)]
    return []


def type_of(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def check_schema(cfg: dict[str, Any]) -> None:
    """The structure the Collector validates at load time, plus the processor order."""
    assert set(cfg) <= {*SECTIONS, "service"}, set(cfg)
    for section in SECTIONS:
        assert all(ID.match(c) for c in cfg.get(section) or {}), section
    service = cfg["service"]
    assert set(service) <= {"extensions", "pipelines", "telemetry"}
    assert set(service.get("extensions", [])) <= set(cfg.get("extensions") or {})
    used: dict[str, set[str]] = {s: set() for s in SECTIONS}
    assert service["pipelines"]
    for pid, pipe in service["pipelines"].items():
        assert ID.match(pid) and type_of(pid) in SIGNALS, pid
        assert set(pipe) <= {"receivers", "processors", "exporters"}
        assert pipe["receivers"] and pipe["exporters"], pid
        for kind in ("receivers", "processors", "exporters"):
            for comp in pipe.get(kind, []):
                assert comp in (cfg.get(kind) or {}), f"{pid}: {kind[:-1]} {comp} not defined"
                used[kind].add(comp)
        procs = [type_of(p) for p in pipe.get("processors", [])]
        assert procs[:1] == ["memory_limiter"] and procs[-1:] == ["batch"], (pid, procs)
        if any(type_of(e) in LB for e in pipe["exporters"]):
            assert type_of(pid) in ("traces", "logs"), pid
    for kind in ("receivers", "processors", "exporters"):
        assert used[kind] == set(cfg.get(kind) or {}), f"{kind} defined but not in a pipeline"
    for name, proc in cfg["processors"].items():
        if type_of(name) == "memory_limiter":
            assert proc["check_interval"] and ("limit_mib" in proc or "limit_percentage" in proc)
            spike = proc.get("spike_limit_percentage", proc.get("spike_limit_mib", 0))
            assert spike < proc.get("limit_percentage", proc.get("limit_mib"))
    for name, rec in cfg["receivers"].items():
        if type_of(name) == "otlp":
            assert rec["protocols"] and set(rec["protocols"]) <= {"grpc", "http"}
    for name, exp in cfg["exporters"].items():
        if type_of(name) in ("otlp", "otlphttp"):
            host_port(exp["endpoint"])
    for e in endpoints(cfg):
        host_port(e)


@pytest.mark.parametrize("name", CONFIGS)
def test_collector_configuration_follows_the_documented_schema(name: str) -> None:
    """Each configuration has only documented sections, defined and used components, and
    the memory_limiter first and batch last in every pipeline."""
    check_schema(load(name))


def test_a_misconfigured_pipeline_is_caught_by_the_check() -> None:
    """The check refuses an undefined exporter, batch before memory_limiter, and a bad
    endpoint (so it is not vacuous)."""
    broken: list[dict[str, Any]] = [load("agent.yaml") for _ in range(3)]
    broken[0]["service"]["pipelines"]["traces"]["exporters"] = ["otlp/nowhere"]
    broken[1]["service"]["pipelines"]["logs"]["processors"] = ["batch", "memory_limiter"]
    broken[2]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = "127.0.0.1"
    for cfg in broken:
        with pytest.raises(AssertionError):
            check_schema(cfg)


def balancer(cfg: dict[str, Any]) -> dict[str, Any]:
    (lb,) = [e for n, e in cfg["exporters"].items() if type_of(n) in LB]
    return lb


def test_agent_routes_every_span_of_a_trace_to_one_gateway() -> None:
    """The agent sends traces and logs only through the loadbalancing exporter, by trace
    ID, over OTLP, to a static list of gateways."""
    cfg = load("agent.yaml")
    lb = balancer(cfg)
    assert lb["routing_key"] == "traceID"
    assert set(lb["protocol"]) == {"otlp"} and "endpoint" not in lb["protocol"]["otlp"]
    (resolver,) = lb["resolver"]
    assert resolver in RESOLVERS
    hosts = lb["resolver"]["static"]["hostnames"]
    assert len(hosts) >= 2 and len({host_port(h) for h in hosts}) == len(hosts)
    for pipe in cfg["service"]["pipelines"].values():
        assert [type_of(e) for e in pipe["exporters"]] == ["loadbalancing"]


def test_agent_listens_on_loopback_where_the_docs_point_the_hub() -> None:
    """Without OTELCOL_LISTEN the agent's OTLP receivers listen on 127.0.0.1:4317 (gRPC)
    and :4318 (HTTP), the endpoints docs/jaeger.md gives the hub."""
    protocols = load("agent.yaml")["receivers"]["otlp"]["protocols"]
    assert host_port(protocols["grpc"]["endpoint"]) == ("127.0.0.1", 4317)
    assert host_port(protocols["http"]["endpoint"]) == ("127.0.0.1", 4318)
    doc = (SAMPLES.parents[1] / "docs" / "jaeger.md").read_text()
    assert "--otlp http://127.0.0.1:4317 --otlp-protocol grpc" in doc


def test_gateway_exports_traces_to_the_backend_over_otlp() -> None:
    """A gateway receives OTLP/gRPC on 4317 and exports its traces to Jaeger's OTLP port."""
    cfg = load("gateway.yaml")
    (exporter,) = cfg["service"]["pipelines"]["traces"]["exporters"]
    assert type_of(exporter) == "otlp"
    assert host_port(cfg["exporters"][exporter]["endpoint"]) == ("jaeger", 4317)
    assert host_port(cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])[1] == 4317


def test_compose_wires_agents_to_gateways_to_jaeger() -> None:
    """In the compose file every agent's gateways are compose services listening where the
    agent sends, each collector mounts a shipped config, and host ports are loopback."""
    compose = yaml.safe_load((SAMPLES / "compose.yaml").read_text())
    services = compose["services"]
    agents = [n for n in services if n.startswith("agent")]
    gateways = [n for n in services if n.startswith("gateway")]
    assert len(agents) >= 2 and len(gateways) >= 2 and "jaeger" in services
    for name in agents + gateways:
        svc = services[name]
        (config,) = [a.split("=", 1)[1] for a in svc["command"] if a.startswith("--config=")]
        (mount,) = [v for v in svc["volumes"] if v.endswith(f"{config}:ro")]
        local = SAMPLES / mount.split(":", 1)[0]
        assert local.is_file()
        cfg = load(local.name, {k: str(v) for k, v in svc.get("environment", {}).items()})
        check_schema(cfg)
        if name in agents:
            hosts = balancer(cfg)["resolver"]["static"]["hostnames"]
            assert {host_port(h) for h in hosts} == {(g, 4317) for g in gateways}
        else:
            assert host_port(cfg["exporters"]["otlp/backend"]["endpoint"]) == ("jaeger", 4317)
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SAMPLES / name).read_text())
    return parser


def test_agent_unit_runs_the_agent_config_with_what_it_expands() -> None:
    """The systemd unit starts otelcol-contrib on agent.yaml, sets the variables the config
    expands to valid gateways, and may use TCP; the hub drop-in lets the hub use TCP too."""
    svc = unit("wfptrace-otel-agent.service")["Service"]
    assert svc["ExecStart"].endswith("--config=/etc/otelcol-contrib/agent.yaml")
    text = (SAMPLES / "wfptrace-otel-agent.service").read_text()
    env = {m[1]: m[2] for m in re.finditer(r"^Environment=(\w+)=(\S+)$", text, re.M)}
    assert set(env) == {m[0] for m in ENV.findall((SAMPLES / "agent.yaml").read_text())}
    cfg = load("agent.yaml", env)
    check_schema(cfg)
    assert "AF_INET" in svc["RestrictAddressFamilies"].split()
    dropin = unit("wfptrace-hub-otlp.conf")["Service"]
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(dropin["RestrictAddressFamilies"].split())
    assert os.path.basename(svc["ExecStart"].split()[0]) == "otelcol-contrib"
