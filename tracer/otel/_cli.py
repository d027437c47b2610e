"""Command-line options for OTLP export, for every command that starts tracing."""

from __future__ import annotations

import argparse
import os
import re

from tracer import ConfigError

from ._options import PROTOCOLS, OtlpOptions

__all__ = ["add_cli_options", "options_from_args"]


def add_cli_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--otlp [ENDPOINT]`` and its ``--otlp-*`` companions to a parser."""
    g = parser.add_argument_group("OpenTelemetry export (defaults from OTEL_EXPORTER_OTLP_*)")
    g.add_argument("--otlp", nargs="?", const="", default=None, metavar="ENDPOINT",
                   type=_endpoint,
                   help="export flows and transactions as spans over OTLP "
                        "(endpoint e.g. http://localhost:4317; default from the environment)")
    g.add_argument("--otlp-protocol", choices=PROTOCOLS, default=None,
                   help="OTLP protocol (default: OTEL_EXPORTER_OTLP_PROTOCOL or http/protobuf)")
    g.add_argument("--otlp-header", action="append", default=[], metavar="KEY=VALUE",
                   help="extra request header (repeatable)")
    g.add_argument("--otlp-timeout", type=float, default=None, metavar="SECONDS",
                   help="export request timeout")
    g.add_argument("--otlp-service-name", default=None, metavar="NAME",
                   help="service.name for every provider (default: the provider's name)")
    g.add_argument("--otlp-insecure", action="store_true", default=None,
                   help="plain-text gRPC for an endpoint without a scheme")
    g.add_argument("--otlp-no-logs", action="store_true",
                   help="do not export other events as OTLP log records")
    g.add_argument("--time-shift", default=None, metavar="now|SECONDS", type=_shift,
                   help="move exported span and log times: 'now' puts the first event at the "
                        "present (a replay then shows under Jaeger's 'last hour'), a number "
                        "shifts by that many seconds")


_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$")


def _endpoint(text: str) -> str:
    """An OTLP endpoint (``scheme://...`` or ``host:port``), never a file taken by mistake."""
    if not text or "://" in text or _HOST_PORT.match(text):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not an OTLP endpoint (http://HOST:PORT or HOST:PORT): to export to the "
        "default endpoint, put --otlp after the files or write --otlp= with nothing after it")


def _shift(text: str) -> str | float:
    """``now`` or a number of seconds."""
    if text == "now":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use 'now' or a number of seconds") from None


def options_from_args(args: argparse.Namespace) -> OtlpOptions | None:
    """The options the parsed flags ask for, or None without ``--otlp``."""
    if getattr(args, "otlp", None) is None:
        return None
    headers = {}
    for item in args.otlp_header:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad --otlp-header {item!r}: use KEY=VALUE")
        headers[key.strip()] = value.strip()
    environment = {k: v for k, v in os.environ.items() if k.startswith("OTEL_")}
    return OtlpOptions(environment=environment, endpoint=args.otlp or None,
                       protocol=args.otlp_protocol,
                       headers=headers or None, timeout=args.otlp_timeout,
                       service_name=args.otlp_service_name, insecure=args.otlp_insecure,
                       logs=not args.otlp_no_logs, time_shift=args.time_shift)
