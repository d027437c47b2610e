"""``wfptrace replay``: captures through packet providers in an embedded tracing session.

Plugs into the ``wfptrace`` CLI through the ``wfptrace.commands`` entry-point group.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import orjson

from tracer import Hub, ProviderEnable, SessionConfig, otel

from . import _packetsprovider  # noqa: F401 - registers the built-in "packets" provider
from ._consumers import consumer_names, make_consumer
from ._pcap import open_capture
from ._replay import Pipeline
from ._source import CaptureFormatError

__all__ = ["register", "replay_main"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` subcommand."""
    p = subparsers.add_parser("replay", help="replay pcap/pcapng files through packet providers")
    p.add_argument("files", nargs="+", metavar="FILE", help="pcap or pcapng capture")
    p.add_argument("--provider", action="append", default=[], metavar="NAME",
                   help="packet provider to run (repeatable; default: packets)")
    p.add_argument("-o", "--output", default=None, metavar="OUT.jsonl|-",
                   help="write events as JSON lines to a file or '-' for stdout")
    p.add_argument("--stats-json", action="store_true",
                   help="print the decoder counters as one JSON object, the last line of stdout")
    p.add_argument("--speed", choices=("max", "recorded"), default="max")
    g = p.add_argument_group("provider options (each provider takes those it knows)")
    g.add_argument("--remote", metavar="ADDR", help="inspect: the remote address to inspect")
    g.add_argument("--block", action="store_true", default=None,
                   help="inspect: block instead of permit")
    g.add_argument("--config", metavar="FILE", help="inspect: configuration file (TOML)")
    g.add_argument("--app-hint", metavar="APP", help="msnmon: the application of the capture")
    g.add_argument("--capture-bodies", action="store_true", default=None,
                   help="msnmon: trace message bodies (off: length and hash only)")
    otel.add_cli_options(p)
    p.set_defaults(func=replay_main)


def _options(args: argparse.Namespace) -> dict[str, object]:
    return {"remote": args.remote, "block": args.block, "config": args.config,
            "app_hint": args.app_hint, "capture_bodies": args.capture_bodies}


def replay_main(args: argparse.Namespace) -> int:
    """Run a replay; returns the exit status."""
    names = args.provider or ["packets"]
    try:
        consumers = [make_consumer(n, _options(args)) for n in names]
    except KeyError as exc:
        print(f"wfptrace replay: {exc.args[0]} ", file=sys.stderr)
        print(f"known providers: {', '.join(consumer_names())}", file=sys.stderr)
        return 2
    except Exception as exc:  # a provider refusing its options (e.g. no --remote)
        print(f"wfptrace replay: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="wfptrace-replay-") as tmp:
        to_stdout = args.output == "-"
        out = Path(tmp) / "replay.jsonl" if to_stdout or args.output is None else args.output
        status, stats = _run(args, consumers, out)
        if to_stdout and Path(out).exists():
            sys.stdout.flush()
            with open(out, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    if args.stats_json:
        sys.stdout.write(orjson.dumps(stats.as_dict()).decode() + "\n")
        sys.stdout.flush()
    return status


def _run(args: argparse.Namespace, consumers: list, out: str | Path):
    status = 0
    with Hub(load_installed=False) as hub:
        for c in consumers:
            hub.register(c.provider)
        enables = [ProviderEnable(c.provider.name) for c in consumers]
        hub.start_session(SessionConfig("replay", enables, file=str(out),
                                        otlp=otel.options_from_args(args)))
        pipeline = Pipeline(consumers, speed=args.speed, progress=sys.stderr)
        for path in args.files:
            try:
                with open_capture(path) as src:
                    pipeline.run(src, str(path))
            except (OSError, CaptureFormatError) as exc:
                print(f"wfptrace replay: {path}: {exc}", file=sys.stderr)
                status = 1
        stats = pipeline.finish()
        hub.stop_session("replay")
    return status, stats
