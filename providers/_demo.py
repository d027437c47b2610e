"""``wfptrace demo``: the bundled MSN Messenger session through the providers, as text.

The main job on an embedded default: no root, no daemon, no network. A capture
made by the project's MSNP simulator is replayed through the packet path and the
MSN monitor into a session whose standard-output sink prints every event the
tracefmt way as it comes (or the JSON-lines log format with ``--json``); with
``--otlp`` the same events are also exported as OpenTelemetry spans.
"""

from __future__ import annotations

import argparse
import stat
import sys
from pathlib import Path

from tracer import (
    Hub,
    Level,
    ProviderEnable,
    SessionConfig,
    SinkSpec,
    escape_text,
    otel,
    run_summary,
    run_to_end,
)

__all__ = ["DEFAULT_CAPTURE", "demo_main", "register"]

#: The bundled capture: login with a dispatch redirect, presence, a 3-party chat.
DEFAULT_CAPTURE = Path(__file__).resolve().parents[1] / "samples" / "captures" / "msn_session.pcap"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser("demo", help="replay the bundled MSN session and print the trace")
    p.add_argument("capture", nargs="?", default=str(DEFAULT_CAPTURE),
                   help="capture to replay (default: the bundled MSN session)")
    p.add_argument("--provider", action="append", default=[], metavar="NAME",
                   help="packet providers (default: msnmon)")
    p.add_argument("--level", default="info", help="session level (default: info)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    otel.add_cli_options(p)
    p.set_defaults(func=demo_main)


def demo_main(args: argparse.Namespace) -> int:
    """Replay the capture into a blocking session that prints its events as they come."""
    from tracer import parse_level

    from .packets import CaptureFormatError, make_consumer, open_capture
    from .packets._replay import Pipeline

    level = parse_level(args.level)
    problem = _capture_problem(Path(args.capture))
    if problem:
        return _fail(problem)
    try:
        consumers = [make_consumer(n) for n in (args.provider or ["msnmon"])]
    except KeyError as exc:
        return _fail(str(exc.args[0]))
    sinks = [SinkSpec("stdout", "json" if args.json else "text")]
    with Hub(load_installed=False) as hub:
        for c in consumers:
            hub.register(c.provider)
        enables = [ProviderEnable(c.provider.name, Level(level)) for c in consumers]
        hub.start_session(SessionConfig("demo", enables, sinks=sinks, flush_interval=0.05,
                                        blocking=True, otlp=otel.options_from_args(args)))
        pipeline = Pipeline(consumers, speed="max", progress=None)

        def replay() -> str | None:
            try:
                with open_capture(args.capture) as src:
                    pipeline.run(src, str(args.capture))
            except (OSError, CaptureFormatError) as exc:  # the events before it are printed
                return _read_problem(args.capture, exc)
            pipeline.finish()
            return None

        ran = run_to_end(hub, "demo", replay)
    if ran is None:  # the output was closed (| head)
        return 0
    problem, stats = ran
    if problem:
        return _fail(problem)
    summary, complete = run_summary(stats)
    print(f"{args.capture}: {summary}", file=sys.stderr)
    return 0 if complete else 1


def _capture_problem(path: Path) -> str | None:
    """Why ``path`` cannot be replayed before opening it (a FIFO would block), or None."""
    name = escape_text(str(path))
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{name}: no such file"
    except OSError as exc:
        return f"{name}: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return f"{name} is a directory, not a capture file"
    return None if stat.S_ISREG(mode) else f"{name} is not a regular file"


def _read_problem(path: str, exc: OSError | ValueError) -> str:
    """One line for a capture that could not be read or is not pcap (or is cut short)."""
    name = escape_text(str(path))
    if isinstance(exc, OSError):
        return f"{name}: {escape_text(exc.strerror or str(exc))}"
    return f"{name}: " + escape_text(str(exc)).removeprefix(name + ": ")


def _fail(message: str) -> int:
    """One line on stderr, exit status 1 (as ``run_command`` does for tracer errors)."""
    print(f"wfptrace: error: {message}", file=sys.stderr)
    return 1
