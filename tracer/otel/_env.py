"""Resolving export settings from options and the standard ``OTEL_*`` variables.

Signal-specific variables (``OTEL_EXPORTER_OTLP_TRACES_*``, ``..._LOGS_*``) win
over the generic ones; explicit options win over both. Timeouts in variables are
milliseconds, as the OpenTelemetry specification says.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tracer import ConfigError

from ._options import PROTOCOLS, OtlpOptions

__all__ = ["SignalSettings", "parse_headers", "resource_attributes", "signal_settings"]

_DEFAULT_ENDPOINTS = {"grpc": "http://localhost:4317", "http/protobuf": "http://localhost:4318"}
_PATHS = {"traces": "/v1/traces", "logs": "/v1/logs"}


@dataclass(frozen=True)
class SignalSettings:
    """Where and how one signal (``traces`` or ``logs``) is sent."""

    signal: str
    protocol: str
    endpoint: str
    headers: dict[str, str]
    timeout: float
    compression: str | None
    insecure: bool


def parse_headers(text: str, lower: bool = True) -> dict[str, str]:
    """``k1=v1,k2=v2`` (URL-encoded values) as a dict; malformed pairs are skipped."""
    out: dict[str, str] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            key = unquote(key.strip())
            out[key.lower() if lower else key] = unquote(value.strip())
    return out


def _get(env: MappingABC[str, str], signal: str, name: str) -> str | None:
    value = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{name}")
    if value is None or value == "":
        value = env.get(f"OTEL_EXPORTER_OTLP_{name}")
    return value or None


def _endpoint(opts: OtlpOptions, env: MappingABC[str, str], signal: str, protocol: str) -> str:
    if opts.endpoint:
        base = opts.endpoint
    else:
        specific = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
        if specific:
            return specific
        base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _DEFAULT_ENDPOINTS[protocol]
    if protocol == "grpc":
        return base
    if "://" not in base:
        base = "http://" + base
    return base.rstrip("/") + _PATHS[signal]


def _timeout(opts: OtlpOptions, env: MappingABC[str, str], signal: str) -> float:
    if opts.timeout is not None:
        return float(opts.timeout)
    text = _get(env, signal, "TIMEOUT")
    try:
        return float(text) / 1000.0 if text else 10.0
    except ValueError:
        raise ConfigError(f"bad OTLP timeout {text!r} (milliseconds)") from None


def _environment(opts: OtlpOptions) -> MappingABC[str, str]:
    return os.environ if opts.environment is None else opts.environment


def signal_settings(opts: OtlpOptions, signal: str,
                    env: MappingABC[str, str] | None = None) -> SignalSettings:
    """The settings of one signal from ``opts`` over ``env`` (default: the variables the
    options carry, else ``os.environ``)."""
    env = _environment(opts) if env is None else env
    protocol = opts.protocol or _get(env, signal, "PROTOCOL") or "http/protobuf"
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown OTLP protocol {protocol!r}: use grpc or http/protobuf")
    headers = parse_headers(env.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
    headers.update(parse_headers(env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS", "")))
    headers.update({k.lower(): v for k, v in (opts.headers or {}).items()})
    compression = opts.compression or _get(env, signal, "COMPRESSION")
    if compression not in (None, "gzip", "none"):
        raise ConfigError(f"unknown OTLP compression {compression!r}: use gzip or none")
    insecure = opts.insecure
    if insecure is None:
        insecure = (_get(env, signal, "INSECURE") or "").lower() == "true"
    return SignalSettings(signal, protocol, _endpoint(opts, env, signal, protocol), headers,
                          _timeout(opts, env, signal),
                          None if compression in (None, "none") else compression, insecure)


def resource_attributes(opts: OtlpOptions, provider: str, session: str,
                        env: MappingABC[str, str] | None = None) -> dict[str, Any]:
    """The resource of one provider's spans and logs."""
    env = _environment(opts) if env is None else env
    attrs: dict[str, Any] = parse_headers(env.get("OTEL_RESOURCE_ATTRIBUTES", ""), lower=False)
    attrs.update(opts.resource_attributes)
    name = (opts.service_names.get(provider) or opts.service_name
            or env.get("OTEL_SERVICE_NAME") or provider or "wfptrace")
    attrs.update({"service.name": name, "service.namespace": "wfptrace",
                  "host.name": socket.gethostname(), "wfptrace.session": session,
                  "wfptrace.provider": provider or "wfptrace",
                  "telemetry.sdk.name": "wfptrace", "telemetry.sdk.language": "python"})
    return attrs
