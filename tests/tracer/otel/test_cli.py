"""The --otlp command-line flags produce OtlpOptions."""

from __future__ import annotations

import argparse

import pytest

from tracer import ConfigError
from tracer.otel import add_cli_options, options_from_args


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_cli_options(parser)
    return parser.parse_args(argv)


def test_without_otlp_there_are_no_options() -> None:
    """No --otlp flag: no OTLP export."""
    assert options_from_args(parse()) is None


def test_bare_otlp_takes_everything_from_the_environment() -> None:
    """--otlp alone enables export with every setting left to OTEL_* variables."""
    opts = options_from_args(parse("--otlp"))
    assert opts is not None and opts.endpoint is None and opts.protocol is None


def test_flags_set_endpoint_protocol_headers_timeout_and_service() -> None:
    """Each --otlp-* flag lands in the matching option."""
    opts = options_from_args(parse("--otlp", "http://c:4317", "--otlp-protocol", "grpc",
                                   "--otlp-header", "api-key=s3cret", "--otlp-timeout", "2",
                                   "--otlp-service-name", "lab", "--otlp-no-logs"))
    assert opts is not None
    assert (opts.endpoint, opts.protocol, opts.timeout) == ("http://c:4317", "grpc", 2.0)
    assert opts.headers == {"api-key": "s3cret"}
    assert opts.service_name == "lab" and opts.logs is False


def test_a_header_without_equals_is_rejected() -> None:
    """--otlp-header needs KEY=VALUE."""
    with pytest.raises(ConfigError):
        options_from_args(parse("--otlp", "--otlp-header", "novalue"))
