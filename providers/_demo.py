"""``wfptrace demo``: the bundled MSN Messenger session through the providers, as text.

The main job on an embedded default: no root, no daemon, no network. A capture
made by the project's MSNP simulator is replayed through the packet path and the
MSN monitor into a session whose standard-output sink prints every event the
tracefmt way as it comes (or the JSON-lines log format with ``--json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracer import (
    Hub,
    Level,
    ProviderEnable,
    SessionConfig,
    SinkSpec,
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
    p.set_defaults(func=demo_main)


def demo_main(args: argparse.Namespace) -> int:
    """Replay the capture into a blocking session that prints its events as they come."""
    from tracer import parse_level

    from .packets import make_consumer, open_capture
    from .packets._replay import Pipeline

    level = parse_level(args.level)
    consumers = [make_consumer(n) for n in (args.provider or ["msnmon"])]
    sinks = [SinkSpec("stdout", "json" if args.json else "text")]
    with Hub(load_installed=False) as hub:
        for c in consumers:
            hub.register(c.provider)
        enables = [ProviderEnable(c.provider.name, Level(level)) for c in consumers]
        hub.start_session(SessionConfig("demo", enables, sinks=sinks, flush_interval=0.05,
                                        blocking=True))
        pipeline = Pipeline(consumers, speed="max", progress=None)

        def replay() -> None:
            with open_capture(args.capture) as src:
                pipeline.run(src, str(args.capture))
            pipeline.finish()

        ran = run_to_end(hub, "demo", replay)
    if ran is None:  # the output was closed (| head)
        return 0
    stats = ran[1]
    summary, complete = run_summary(stats)
    print(f"{args.capture}: {summary}", file=sys.stderr)
    return 0 if complete else 1
