"""OpenTelemetry export: flows and transactions as spans, other events as logs, over OTLP.

Attach it to a session with ``SessionConfig(..., otlp=OtlpOptions())`` (a sink of
kind ``otlp``, registered in the ``wfptrace.sinks`` entry-point group). Endpoint,
protocol, headers and timeout come from the ``OTEL_EXPORTER_OTLP_*`` variables
unless the options set them. What becomes a span is a data table
(:data:`DEFAULT_MAPPING`) keyed by provider and event names; see docs/jaeger.md.
"""

from ._account import export_text
from ._backend import OtlpBackend
from ._cli import add_cli_options, options_from_args
from ._env import SignalSettings, signal_settings
from ._mapping import (
    DEFAULT_FIELD_ATTRS,
    DEFAULT_MAPPING,
    DEFAULT_PREFIXES,
    Action,
    EventRule,
    Mapping,
)
from ._options import PROTOCOLS, OtlpOptions
from ._sink import OtlpSink, options_from_spec, options_to_wire
from ._stats import OtlpStats

__all__ = [
    "DEFAULT_FIELD_ATTRS",
    "DEFAULT_MAPPING",
    "DEFAULT_PREFIXES",
    "PROTOCOLS",
    "Action",
    "EventRule",
    "Mapping",
    "OtlpBackend",
    "OtlpOptions",
    "OtlpSink",
    "OtlpStats",
    "SignalSettings",
    "add_cli_options",
    "export_text",
    "options_from_args",
    "options_from_spec",
    "options_to_wire",
    "signal_settings",
]
