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


@pytest.mark.parametrize("value", ["capture.pcap", "/tmp/x.pcapng", "trace"])
def test_a_file_name_after_otlp_is_refused_not_taken_as_the_endpoint(value: str, capsys) -> None:
    """`--otlp capture.pcap` says it is not an endpoint instead of exporting to it."""
    with pytest.raises(SystemExit):
        parse("--otlp", value)
    assert "is not an OTLP endpoint" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["http://c:4317", "https://x.example/otlp", "collector:4317",
                                   "[::1]:4317", "localhost:4318"])
def test_endpoints_are_accepted(value: str) -> None:
    """URLs and HOST:PORT are endpoints."""
    opts = options_from_args(parse("--otlp", value))
    assert opts is not None and opts.endpoint == value


def test_a_replay_whose_export_fails_exits_1_and_says_so(tmp_path) -> None:
    """With the endpoint down, the replay's summary counts what was lost and exits 1."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    capture = Path(__file__).resolve().parents[3] / "samples" / "captures" / "msn_session.pcap"
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
    proc = subprocess.run([sys.executable, "-m", "tracer._cli", "replay", str(capture),
                           "--provider", "msnmon", "--otlp"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1
    summary = proc.stderr.strip().splitlines()[-1]
    assert "0 spans and 0 logs exported, LOST" in summary


@pytest.mark.parametrize(("value", "expected"), [("now", "now"), ("-3600", -3600.0)])
def test_time_shift_is_an_option_of_the_export(value: str, expected: object) -> None:
    """--time-shift now|SECONDS lands in OtlpOptions.time_shift."""
    opts = options_from_args(parse("--otlp", "--time-shift", value))
    assert opts is not None and opts.time_shift == expected


def test_a_bad_time_shift_is_refused(capsys) -> None:
    """--time-shift takes 'now' or seconds, nothing else."""
    with pytest.raises(SystemExit):
        parse("--otlp", "--time-shift", "yesterday")
    assert "use 'now' or a number of seconds" in capsys.readouterr().err


def test_a_replay_shifted_to_now_says_which_time_range_it_exported() -> None:
    """replay --time-shift now: spans land at the present and the summary gives the range."""
    import datetime as dt
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.tracer.otel.receiver import Receiver

    capture = Path(__file__).resolve().parents[3] / "samples" / "captures" / "msn_session.pcap"
    receiver = Receiver()
    try:
        url = receiver.start_http()
        before = time.time_ns()
        proc = subprocess.run([sys.executable, "-m", "tracer._cli", "replay", str(capture),
                               "--provider", "msnmon", "--otlp", url, "--time-shift", "now"],
                              capture_output=True, text=True, timeout=120)
    finally:
        receiver.stop()
    assert proc.returncode == 0, proc.stderr
    summary = proc.stderr.strip().splitlines()[-1]
    assert f"{len(receiver.spans)} spans and" in summary
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    assert f", times {today}" in summary
    starts = [s.item.start_time_unix_nano for s in receiver.spans]
    assert min(starts) >= before - 1_000_000_000
    assert len({s.item.trace_id for s in receiver.spans if not s.item.parent_span_id}) == 9


def test_demo_exports_over_otlp_next_to_its_text_output() -> None:
    """wfptrace demo --otlp URL prints the trace and exports its flows to the receiver."""
    import subprocess
    import sys

    from tests.tracer.otel.receiver import Receiver

    receiver = Receiver()
    try:
        url = receiver.start_http()
        proc = subprocess.run([sys.executable, "-m", "tracer._cli", "demo", "--otlp", url],
                              capture_output=True, text=True, timeout=120)
    finally:
        receiver.stop()
    assert proc.returncode == 0, proc.stderr
    assert "MSNP" in proc.stdout or "USR" in proc.stdout
    roots = {s.item.trace_id for s in receiver.spans if not s.item.parent_span_id}
    assert len(roots) == 9 and receiver.named("MSN login")
    assert f"{len(receiver.spans)} spans and" in proc.stderr.strip().splitlines()[-1]


def test_a_bad_time_shift_from_the_wire_is_a_config_error() -> None:
    """A sink spec with time_shift neither 'now' nor seconds is refused clearly."""
    from tracer import SinkSpec
    from tracer.otel import options_from_spec

    assert options_from_spec(SinkSpec("otlp", None, {"time_shift": "now"})).time_shift == "now"
    with pytest.raises(ConfigError, match="time_shift"):
        options_from_spec(SinkSpec("otlp", None, {"time_shift": "soon"}))
