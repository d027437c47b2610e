"""Export settings come from OTEL_EXPORTER_OTLP_* variables, overridden by options."""

from __future__ import annotations

import pytest

from tracer import ConfigError
from tracer.otel import OtlpOptions, signal_settings
from tracer.otel._env import parse_headers, resource_attributes


def test_defaults_follow_the_specification() -> None:
    """With nothing set: http/protobuf to localhost:4318/v1/traces, 10 s timeout."""
    s = signal_settings(OtlpOptions(), "traces", {})
    assert (s.protocol, s.endpoint, s.timeout) == ("http/protobuf",
                                                   "http://localhost:4318/v1/traces", 10.0)


def test_grpc_default_endpoint_is_4317() -> None:
    """The grpc protocol defaults to port 4317 and no path."""
    s = signal_settings(OtlpOptions(), "logs", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert s.endpoint == "http://localhost:4317"


def test_generic_endpoint_gets_the_signal_path_and_specific_is_used_as_is() -> None:
    """The base endpoint gets /v1/<signal>; a signal-specific endpoint is taken verbatim."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
           "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:9999/custom"}
    assert signal_settings(OtlpOptions(), "traces", env).endpoint \
        == "http://collector:4318/v1/traces"
    assert signal_settings(OtlpOptions(), "logs", env).endpoint == "http://logs:9999/custom"


def test_signal_specific_variables_win_and_options_win_over_both() -> None:
    """TRACES_* beats the generic variable; an explicit option beats both."""
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
           "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
           "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a,x-tenant=t1",
           "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-tenant=t2"}
    s = signal_settings(OtlpOptions(), "traces", env)
    assert (s.protocol, s.timeout) == ("grpc", 2.5)
    assert s.headers == {"api-key": "a", "x-tenant": "t2"}
    o = signal_settings(OtlpOptions(protocol="http/protobuf", timeout=1,
                                    headers={"X-Tenant": "t3"}), "traces", env)
    assert (o.protocol, o.timeout, o.headers["x-tenant"]) == ("http/protobuf", 1.0, "t3")


def test_headers_are_url_decoded_and_malformed_pairs_skipped() -> None:
    """Header values are percent-decoded; pairs without '=' are ignored."""
    assert parse_headers("Authorization=Basic%20abc,junk,=x") == {"authorization": "Basic abc"}


@pytest.mark.parametrize("env", [{"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"},
                                 {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
                                 {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}])
def test_invalid_settings_are_config_errors(env: dict[str, str]) -> None:
    """An unknown protocol, a non-numeric timeout or compression is a clear ConfigError."""
    with pytest.raises(ConfigError):
        signal_settings(OtlpOptions(), "traces", env)


def test_resource_has_service_per_provider_host_and_session() -> None:
    """service.name is the provider unless overridden; OTEL_RESOURCE_ATTRIBUTES is kept."""
    env = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=lab"}
    r = resource_attributes(OtlpOptions(), "wfptrace-msnmon", "s1", env)
    assert r["service.name"] == "wfptrace-msnmon" and r["wfptrace.session"] == "s1"
    assert r["deployment.environment"] == "lab" and r["host.name"]
    env["OTEL_SERVICE_NAME"] = "edge"
    assert resource_attributes(OtlpOptions(), "p", "s", env)["service.name"] == "edge"
    opts = OtlpOptions(service_name="all", service_names={"p": "mine"})
    assert resource_attributes(opts, "p", "s", env)["service.name"] == "mine"
    assert resource_attributes(opts, "q", "s", env)["service.name"] == "all"
