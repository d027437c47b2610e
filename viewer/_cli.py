"""Command line: ``traceview [FILE.jsonl] [--demo | --replay FILE | --hub PATH]``.

Also ``wfptrace view`` through :func:`register`. Building the hub connection
(embedded, remote, replay or demo) happens here, never in the app.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer import LogReader, TracerError

from ._ring import DEFAULT_CAPACITY

if TYPE_CHECKING:
    from tracer.service import RemoteHub

    from ._app import TraceViewApp
    from ._connection import HubConnection
    from ._decisions import DecisionSource
    from ._prepaint import Prepainted
    from ._replay import CaptureReplay

# Only what opening a log needs is imported at start (the first paint waits for every
# import); the hub, the providers and the replay machinery are imported by the modes
# that use them.

__all__ = ["add_arguments", "main", "register", "run"]


class UsageError(Exception):
    """The requested mode is not possible (shown to the user, exit status 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``traceview`` and ``wfptrace view``."""
    parser.add_argument("log", nargs="*", type=Path,
                        help="saved wfptrace logs (JSON lines) to open, several merged by "
                             "time; followed while they grow")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--hub", metavar="PATH", help="connect to a running hub's socket")
    mode.add_argument("--replay", metavar="FILE", type=Path,
                      help="replay a capture through the providers (embedded hub)")
    mode.add_argument("--demo", action="store_true",
                      help="embedded hub, the bundled captures replayed in a loop through the "
                           "real providers, a session watching them (c: a new session)")
    parser.add_argument("--rate", type=float, default=50.0,
                        help="demo packets replayed per second (default 50; 0: recorded speed)")
    parser.add_argument("--ring", type=int, default=DEFAULT_CAPACITY,
                        help=f"events kept in the view (default {DEFAULT_CAPACITY:,})")
    parser.add_argument("--no-follow", action="store_true",
                        help="read the log file once, do not wait for it to grow")
    parser.add_argument("-p", "--provider", action="append", default=[], metavar="SPEC",
                        help="start a real-time session with NAME[:LEVEL[:KEYWORDS]] at once")
    parser.add_argument("--decisions", metavar="SOCKET",
                        help="an inspector's control socket for the decisions panel "
                             "(default: this namespace's running inspector, if any)")
    parser.add_argument("--remote", metavar="ADDR",
                        help="replay: the remote address the inspect provider inspects")
    parser.add_argument("--session", default="traceview",
                        help="name of the session started by --provider")


def register(subparsers: Any) -> None:
    """Add ``wfptrace view`` (entry-point group ``wfptrace.commands``)."""
    parser = subparsers.add_parser("view", help="TraceView: live events and log sessions",
                                   description=__doc__)
    add_arguments(parser)
    parser.set_defaults(func=run)


def _remote_hub(path: str | None) -> RemoteHub:
    """A connection to the hub service at ``path`` (None: the default socket)."""
    try:
        from tracer.service import connect
    except ImportError:
        raise UsageError("--hub is not available: this tracer has no hub client "
                         "(tracer.service.connect); use --demo, --replay FILE or a log "
                         "file") from None
    try:
        return connect(path)
    except (OSError, TracerError) as exc:
        raise UsageError(f"cannot connect to the hub at {path or 'the default socket'}: "
                         f"{exc}") from None


def _default_hub_running() -> bool:
    """True if a hub service socket exists at the default path."""
    try:
        from tracer.service import default_socket_path
    except ImportError:
        return False
    return Path(default_socket_path()).exists()


def _inspector_decisions(path: str | None,
                         hub: HubConnection | None = None) -> DecisionSource | None:
    """A running inspector's external decider as a decision source (or None).

    ``--decisions SOCKET`` names its control socket; else this namespace's inspector;
    else, through the hub, a ``wfptrace-inspect`` provider that answers control requests.
    """
    try:
        from providers.inspect import DecisionClient, HubDecisionClient, InspectError
        from providers.inspect._state import StateFile
    except ImportError:
        return None
    control = Path(path) if path else StateFile.here().control
    if control.exists():
        return DecisionClient(control)
    if path:
        raise UsageError(f"--decisions: no inspector control socket at {path}")
    if hub is None or not hasattr(hub, "control"):
        return None
    client = HubDecisionClient(hub)
    try:
        client.pending()
    except InspectError:
        return None  # no inspector registered, or one with the static decider
    return client


@contextlib.contextmanager
def _connection(args: argparse.Namespace
                ) -> Iterator[tuple[HubConnection | None, DecisionSource | None, str]]:
    """(hub or None, decision source, title) for the chosen mode; cleans up after."""
    if args.hub or (not args.log and not args.replay and not args.demo
                    and _default_hub_running()):
        remote = _remote_hub(args.hub)
        try:
            yield (remote, _inspector_decisions(args.decisions, remote),
                   f"hub {args.hub or 'default socket'} (pid {remote.hub_pid})")
        finally:
            remote.close()
        return
    if args.log and not args.replay and not args.demo:  # saved logs only: no hub
        yield None, None, " + ".join(str(p) for p in args.log)
        return
    from tracer import Hub

    from ._replay import CaptureReplay, bundled_captures, replay_available
    if args.replay:
        if not replay_available():
            raise UsageError("--replay is not available: providers.packets has no replay "
                             "pipeline; use --demo for demo traffic")
        if not args.replay.exists():
            raise UsageError(f"{args.replay}: no such file")
        with Hub() as hub:
            replay = CaptureReplay(hub, [args.replay], options={"remote": args.remote})
            _warn_skipped(replay)
            replay.start()
            try:
                yield hub, None, f"replay {args.replay.name}"
            finally:
                replay.stop()
        return
    if args.demo:
        from ._demo import DEMO_REMOTE, DemoReplay
        if not replay_available() or not bundled_captures():
            raise UsageError("--demo needs providers.packets and the bundled captures")
        with Hub() as hub:
            try:
                demo = DemoReplay(hub, rate=args.rate, remote=args.remote or DEMO_REMOTE)
            except ValueError as exc:
                raise UsageError(f"--demo: {exc}") from None
            demo.start()
            try:
                yield hub, demo.decisions(), demo.title
            finally:
                demo.stop()
        return
    with Hub() as hub:
        yield hub, _inspector_decisions(args.decisions), "embedded hub"


def _warn_skipped(replay: CaptureReplay) -> None:
    for reason in replay.skipped:
        print(f"traceview: provider skipped: {reason}")


def _start_session(app: TraceViewApp, args: argparse.Namespace) -> None:
    """The real-time session ``--provider`` asks for (or the demo's), watched by ``app``."""
    from tracer import SessionConfig, parse_provider_spec

    from ._demo import demo_enables
    if app.control is None:  # no hub
        raise UsageError("--provider needs a hub (--demo, --replay or --hub)")
    specs = [parse_provider_spec(s) for s in args.provider] if args.provider \
        else demo_enables()
    app.control.start(SessionConfig(args.session, specs, realtime=True))


def run(args: argparse.Namespace) -> int:
    """Run TraceView for parsed arguments; return the exit status."""
    for log in args.log:
        try:
            LogReader(log)  # the header: a bad file is one line here, not a traceback
        except TracerError as exc:
            print(f"traceview: {exc}", file=sys.stderr)
            return 2
    if args.ring < 1:
        print("traceview: --ring must be at least 1", file=sys.stderr)
        return 2
    first = _first_screen(args)  # the log's first rows while Textual loads
    try:
        return _run_app(args, first)
    finally:
        if first is not None:
            first.abandon()  # only if Textual never took the screen over


def _first_screen(args: argparse.Namespace) -> Prepainted | None:
    """Paint a log's first rows now, if TraceView only opens that log."""
    if not args.log or args.replay or args.demo or args.hub or args.provider:
        return None
    from ._prepaint import prepaint
    return prepaint(list(args.log))


def _run_app(args: argparse.Namespace, first: Prepainted | None) -> int:
    """Build the app for the chosen mode and run it; the exit status."""
    from ._app import TraceViewApp

    try:
        with _connection(args) as (hub, decisions, title):
            app = TraceViewApp(hub, capacity=args.ring, decisions=decisions,
                               logs=list(args.log),
                               follow_logs=not args.no_follow, title=title)
            if args.provider or (args.demo and app.control is not None):
                _start_session(app, args)
            if first is not None:
                first.handover()
            app.run()
    except UsageError as exc:
        if first is not None:
            first.abandon()  # the message goes to the normal screen
        print(f"traceview: {exc}", file=sys.stderr)
        return 2
    except TracerError as exc:
        if first is not None:
            first.abandon()
        print(f"traceview: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``traceview`` console script."""
    parser = argparse.ArgumentParser(prog="traceview", description=__doc__)
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args(argv)))
