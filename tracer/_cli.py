"""The ``wfptrace`` command line: sessions, providers, fmt, and plugin subcommands.

Subcommands of other packages (``replay``, ``inspect``, ``monitor``, ``view``...)
plug in through the ``wfptrace.commands`` entry-point group: each entry point is a
``register(subparsers)`` function that adds a parser and sets ``func``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, entry_points
from importlib.metadata import version as package_version
from typing import Any

import orjson

from . import _lnav as lnav
from . import otel
from ._accel import SPEEDUPS
from ._command import run_command
from ._config import SessionConfig, parse_provider_spec
from ._dfilter import DisplayFilter
from ._errors import LogFormatError
from ._escape import escape_text
from ._event import Event
from ._fmt import format_event
from ._hub import Hub
from ._logformat import event_line
from ._reader import LogReader
from ._redact import redaction_note
from ._runcli import add_sink_options, lost_reasons_text, sinks_from_args
from ._stats import SessionStats
from .service import _cli as service_cli

__all__ = ["main"]

COMMANDS_GROUP = "wfptrace.commands"
_log = logging.getLogger(__name__)


# -- session ------------------------------------------------------------------------------
def _add_session(sub: Any) -> None:
    p = sub.add_parser("session", help="start, stop, flush, update, query and list sessions")
    ss = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = ss.add_parser("start", help="start a session (embedded: runs until Ctrl-C)")
    start.add_argument("name")
    _add_provider_args(start, required=True)
    start.add_argument("--file", help="JSON-lines log file")
    start.add_argument("--mode", default="sequential", choices=["sequential", "circular", "rotate"])
    start.add_argument("--max-size", type=float, metavar="MB", help="max log size in MB")
    start.add_argument("--realtime", action="store_true", help="deliver events in real time")
    start.add_argument("--buffer-size", type=int, default=4096, metavar="EVENTS")
    start.add_argument("--buffers", type=int, default=64, metavar="COUNT")
    start.add_argument("--flush-interval", type=float, default=0.2, metavar="SECONDS")
    start.add_argument("--render-worker", action="store_true",
                       help="render the log file in a child process (high event rates)")
    start.add_argument("--duration", type=float, metavar="SECONDS",
                       help="stop after this many seconds (embedded hub)")
    add_sink_options(start)
    otel.add_cli_options(start)
    start.set_defaults(func=_session_start)
    update = ss.add_parser("update", help="change a running session's providers")
    update.add_argument("name")
    _add_provider_args(update, required=True)
    update.set_defaults(func=_session_simple)
    for action, text in (("stop", "stop a session"), ("flush", "flush a session's buffers"),
                         ("query", "show a session's statistics")):
        q = ss.add_parser(action, help=text)
        q.add_argument("name")
        q.add_argument("--json", action="store_true")
        q.set_defaults(func=_session_simple)
    ls = ss.add_parser("list", help="list running sessions")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_session_list)


def _add_provider_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--provider", "-p", action="append", required=required, default=[],
                   metavar="P[:LEVEL[:KEYWORDS]]",
                   help="provider to enable, e.g. wfptrace-inspect:info:connect,packet")


def _config_from_args(args: argparse.Namespace) -> SessionConfig:
    return SessionConfig(
        name=args.name, providers=[parse_provider_spec(s) for s in args.provider],
        realtime=args.realtime, file=args.file, mode=args.mode,
        max_size=int(args.max_size * 1024 * 1024) if args.max_size else None,
        buffer_size=args.buffer_size, buffer_count=args.buffers,
        flush_interval=args.flush_interval, otlp=otel.options_from_args(args),
        render_worker=args.render_worker, sinks=sinks_from_args(args))


def _session_start(args: argparse.Namespace) -> int:
    config = _config_from_args(args)
    hub = service_cli.open_hub(args)
    where = ", ".join(str(spec) for spec in config.sink_specs())
    if isinstance(hub, Hub):
        session = hub.start_session(config)
        sub = session.subscribe() if config.realtime else None
        print(f"embedded hub: session {config.name} started ({where}); Ctrl-C to stop",
              file=sys.stderr)
    else:
        hub.start_session(config)
        if not config.realtime and not args.duration:
            print(f"hub: session {config.name} started ({where}); it runs in the hub until "
                  f"'wfptrace session stop {config.name}'", file=sys.stderr)
            hub.close()
            return 0
        sub = hub.subscribe(config.name) if config.realtime else None
        print(f"hub: session {config.name} started ({where}); Ctrl-C to stop",
              file=sys.stderr)
    stop = threading.Event()
    _on_signals(stop)
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            if sub is None:
                stop.wait(0.2)
                continue
            event = sub.get(timeout=0.2)
            if event is not None:
                print(format_event(event), flush=True)
    finally:
        stats = hub.stop_session(config.name)
        for event in sub or ():
            print(format_event(event))
        hub.close()
    print(_stats_text(stats), file=sys.stderr)
    return 0


def _on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: object) -> None:
        stop.set()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def _session_simple(args: argparse.Namespace) -> int:
    hub = service_cli.open_hub(args)
    if args.action == "update":
        hub.update_session(args.name, [parse_provider_spec(s) for s in args.provider])
        return 0
    op = {"stop": hub.stop_session, "flush": hub.flush_session, "query": hub.query_session}
    stats = op[args.action](args.name)
    _print_stats([stats], args.json)
    return 0


def _session_list(args: argparse.Namespace) -> int:
    hub = service_cli.open_hub(args)
    _print_stats(hub.list_sessions(), args.json)
    if not args.json and isinstance(hub, Hub):
        print("(embedded hub: sessions live in the process that started them)", file=sys.stderr)
    return 0


def _print_stats(stats: Sequence[SessionStats], as_json: bool) -> None:
    if as_json:
        for s in stats:
            print(orjson.dumps(s.to_dict()).decode())
        return
    for s in stats:
        print(_stats_text(s))


def _stats_text(s: SessionStats) -> str:
    return (f"session {s.name}: {s.state}, events written {s.events_written}, "
            f"lost {s.events_lost}, real-time lost {s.realtime_lost}, "
            f"buffers written {s.buffers_written}, peak buffers {s.peak_buffers}/{s.buffer_count}"
            + (f", file {s.log_file} ({s.bytes_written} bytes)" if s.log_file else "")
            + (f", error: {s.last_error}" if s.last_error else "")
            + "".join(f"\n  sink {k['name']}: handed {k['handed']}, written {k['written']}, "
                      f"lost {k['lost']}" + (f" ({lost_reasons_text(k)})" if k['lost'] else "")
                      + (f", pending {k['pending']}" if k.get('pending') else "")
                      + (f"; {k['downstream']}" if k.get("downstream") else "")
                      for k in s.sinks))


# -- providers and fmt --------------------------------------------------------------------
def _add_providers(sub: Any) -> None:
    p = sub.add_parser("providers", help="list known providers, their keywords and events")
    p.add_argument("--json", action="store_true", help="print the manifests as JSON")
    p.set_defaults(func=_providers)


def _providers(args: argparse.Namespace) -> int:
    """The providers the hub knows (a running hub's, else the installed ones)."""
    hub = service_cli.open_hub(args)
    try:
        known = hub.manifests()
    finally:
        hub.close()
    manifests = [known[n].to_json() for n in sorted(known)]
    if args.json:
        print(orjson.dumps(manifests, option=orjson.OPT_INDENT_2).decode())
        return 0
    for m in manifests:
        print(f"{m['name']}  {{{m['guid']}}}")
        if m["description"]:
            print(f"  {m['description']}")
        print("  keywords: " + ", ".join(f"{k}={v}" for k, v in m["keywords"].items()))
        for e in m["events"]:
            kw = ",".join(e["keywords"]) or "-"
            print(f"  {e['id']:>4} {e['name']:<24} level {e['level']} keywords {kw}")
    return 0


def _add_fmt(sub: Any) -> None:
    p = sub.add_parser("fmt", help="format a log file as text (tracefmt)")
    p.add_argument("file", help="a log file, or - for standard input (a pipe)")
    p.add_argument("--follow", "-f", action="store_true", help="keep reading as the file grows")
    p.add_argument("--json", action="store_true",
                   help="write the log format (header, then one record per event)")
    p.add_argument("--filter", metavar="EXPR", default="",
                   help='only events a display filter keeps, e.g. \'verb == "MSG" && '
                   "remote_port in {1863 6891..6900}' (TraceView's filter language)")
    p.set_defaults(func=_fmt)


def _fmt_reader(path: str, follow: bool) -> LogReader:
    """A reader of a file, or of a stream from its first byte (``-``, a pipe, a FIFO)."""
    if path == "-":
        return LogReader("<stdin>", stream=sys.stdin.buffer)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):  # /dev/stdin of a pipe: read it once
        try:
            # non-blocking open: a FIFO without a writer reads as empty at once, no hang
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            return LogReader(path, stream=open(fd, "rb"))
        except OSError as exc:
            raise LogFormatError(f"cannot read {escape_text(path)}: {exc.strerror}") from None
    return LogReader(path, follow=follow)


def _fmt(args: argparse.Namespace) -> int:
    reader = _fmt_reader(args.file, args.follow)
    note = redaction_note(reader.header)
    if note is not None:  # (on stderr: the standard output stays the events)
        print(f"{escape_text(args.file)}: {escape_text(note)}", file=sys.stderr)
    # a bad filter is a FilterSyntaxError (a TracerError): one line with its column
    keep = DisplayFilter.compile(args.filter, reader.manifests).predicate if args.filter \
        else None
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(reader.header) + b"\n")

        def render(event: Event) -> str:
            return event_line(event).decode()
    else:
        render = format_event
    try:
        for event in reader:
            if keep is None or event.kind == "lost" or keep(event):  # gaps stay shown
                print(render(event), flush=args.follow)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    if reader.bad_lines:
        print(f"{reader.bad_lines} malformed lines skipped", file=sys.stderr)
    if reader.partial_tail:
        print(f"the last line is unfinished ({reader.partial_tail} bytes, left out): "
              "the writer stopped in the middle of a write", file=sys.stderr)
    return 0


# -- entry point --------------------------------------------------------------------------
def _version() -> str:
    """The version, and whether the C accelerator is in use (users comparing speed ask)."""
    try:
        number = package_version("wfptrace")
    except PackageNotFoundError:
        number = "unknown"
    accel = "on" if SPEEDUPS is not None else "off (pure Python)"
    return f"wfptrace {number}, C accelerator {accel}"


def build_parser() -> argparse.ArgumentParser:
    """The full ``wfptrace`` parser, with plugin subcommands."""
    parser = argparse.ArgumentParser(
        prog="wfptrace", description="ETW-style structured tracing for Linux, with the WFP "
        "traffic inspection and MSN Messenger monitor samples.")
    parser.add_argument("--version", action="version", version=_version())
    service_cli.add_hub_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_session(sub)
    _add_providers(sub)
    _add_fmt(sub)
    lnav.register(sub)
    service_cli.add_hub_command(sub)
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            ep.load()(sub)
        except Exception as exc:  # a broken plugin must not break the other commands
            _log.warning("cannot load command %s: %s", ep.name, exc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wfptrace``; user mistakes print a message and exit non-zero."""
    parser = build_parser()
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
