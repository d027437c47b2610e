"""``wfptrace replay``: captures through packet providers in an embedded tracing session.

Plugs into the ``wfptrace`` CLI through the ``wfptrace.commands`` entry-point group.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from tracer import (
    Hub,
    ProviderEnable,
    SessionConfig,
    SessionStats,
    SinkSpec,
    add_redaction_options,
    add_sink_options,
    otel,
    run_summary,
    run_to_end,
    sinks_from_args,
)

from . import _packetsprovider  # noqa: F401 - registers the built-in "packets" provider
from ._consumers import consumer_names, make_consumer
from ._pcap import open_capture
from ._replay import Pipeline
from ._source import CaptureFormatError
from ._stats import DecodeStats

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
                   help="print the decoder counters and the session's statistics (per sink) "
                        "as one JSON object, the last line of stdout")
    p.add_argument("--speed", choices=("max", "recorded"), default="max")
    g = p.add_argument_group("provider options (each provider takes those it knows)")
    g.add_argument("--remote", metavar="ADDR", help="inspect: the remote address to inspect")
    g.add_argument("--block", action="store_true", default=None,
                   help="inspect: block instead of permit")
    g.add_argument("--config", metavar="FILE", help="inspect: configuration file (TOML)")
    g.add_argument("--app-hint", metavar="APP", help="msnmon: the application of the capture")
    g.add_argument("--capture-bodies", action="store_true", default=None,
                   help="msnmon: trace message bodies (off: length and hash only)")
    add_redaction_options(g, "msnmon: ")
    add_sink_options(p)
    otel.add_cli_options(p)
    p.set_defaults(func=replay_main)


def _options(args: argparse.Namespace) -> dict[str, object]:
    return {"remote": args.remote, "block": args.block, "config": args.config,
            "app_hint": args.app_hint, "capture_bodies": args.capture_bodies,
            "capture_secrets": args.capture_secrets, "redaction_key": args.redaction_key}


def replay_main(args: argparse.Namespace) -> int:
    """Run a replay; returns the exit status (1 if a file failed or any event was lost)."""
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
    status, stats, sstats = _run(args, consumers, _sinks(args))
    if sstats is None:  # the output was closed (| head): end quietly
        return 0
    summary, complete = run_summary(sstats)
    print(summary, file=sys.stderr)
    if args.stats_json:
        sys.stdout.write(orjson.dumps({**stats.as_dict(), "session": sstats.to_dict()}).decode()
                         + "\n")
        sys.stdout.flush()
    return status or (0 if complete else 1)


def _sinks(args: argparse.Namespace) -> list[SinkSpec]:
    """``-o FILE`` / ``-o -`` and ``--sink``; counting only (``null``) if none is given."""
    sinks = sinks_from_args(args)
    if args.output == "-":
        sinks.insert(0, SinkSpec("stdout"))
    elif args.output is not None:
        sinks.insert(0, SinkSpec("file", str(args.output)))
    if not sinks and otel.options_from_args(args) is None:
        sinks.append(SinkSpec("null"))
    return sinks


def _log_header(consumers: list) -> dict[str, object]:
    """Header fields the consumers add to the log (e.g. what msnmon redacts)."""
    header: dict[str, object] = {}
    for c in consumers:
        log_header = getattr(c, "log_header", None)
        if log_header is not None:
            header.update(log_header())
    return header


def _run(args: argparse.Namespace, consumers: list, sinks: list[SinkSpec]
         ) -> tuple[int, DecodeStats, SessionStats | None]:
    """Replay every file into a blocking session (nothing dropped whatever the load)."""
    status = 0
    with Hub(load_installed=False) as hub:
        for c in consumers:
            hub.register(c.provider)
        enables = [ProviderEnable(c.provider.name) for c in consumers]
        hub.start_session(SessionConfig(
            "replay", enables, sinks=sinks, otlp=otel.options_from_args(args), blocking=True,
            header=_log_header(consumers)))
        pipeline = Pipeline(consumers, speed=args.speed, progress=sys.stderr)

        def replay() -> DecodeStats:
            nonlocal status
            for path in args.files:
                try:
                    with open_capture(path) as src:
                        pipeline.run(src, str(path))
                except (OSError, CaptureFormatError) as exc:
                    print(f"wfptrace replay: {path}: {exc}", file=sys.stderr)
                    status = 1
            return pipeline.finish()

        ran = run_to_end(hub, "replay", replay)
    if ran is None:  # the output was closed (| head)
        return 0, pipeline.stats, None
    stats, sstats = ran
    return status, stats, sstats
