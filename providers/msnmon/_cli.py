"""``wfptrace monitor``: the control program of the MSN monitor (the original Monitor.exe).

    wfptrace monitor addcallouts [--queue N]   register the callouts persistently
    wfptrace monitor delcallouts               remove the registration (running sessions
                                               stop; a dead session's filters are swept)
    wfptrace monitor monitor APP [--file F]    monitor APP's TCP flows until a key press
    wfptrace monitor replay CAPTURE [...]      offline: a capture file through the monitor

Plugs into ``wfptrace`` through the ``wfptrace.commands`` entry point
(:func:`register`); ``python -m providers.msnmon`` runs it stand-alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import sys
import termios
import threading
import tty
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from providers.netfilter import NetfilterError, QueueBindError, sweep_stale
from providers.packets import ProgressBar
from tracer import (
    Event,
    Hub,
    Level,
    ProviderEnable,
    SessionConfig,
    SinkSpec,
    add_redaction_options,
    add_sink_options,
    format_event,
    otel,
    redaction_header,
    redactor_from_args,
    run_command,
    run_summary,
    run_to_end,
    sinks_from_args,
)

from ._callouts import DEFAULT_QUEUE, CalloutRegistry
from ._control import FLAG_CAPTURE_BODIES, FLAG_CAPTURE_SECRETS, enable_request
from ._driver import MonitorDriver
from ._events import PROVIDER, PROVIDER_NAME
from ._filters import OWNER
from ._live import LiveSession
from ._monitor import MsnMonitor
from ._replay import replay_capture
from ._sessions import describe, live_sessions, wait_gone

__all__ = ["main", "register"]

LEGACY_KEYWORDS = ("all_traffic", "client_server", "peer_to_peer", "unknown")
#: How long delcallouts waits for running sessions to stop.
_STOP_WAIT = 10.0


def register(subparsers: Any) -> None:
    """Add ``monitor`` and its actions to the ``wfptrace`` command line."""
    p = subparsers.add_parser("monitor", help="MSN Messenger monitor (callouts, monitoring)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="monitor_action", required=True, metavar="ACTION")
    add = sub.add_parser("addcallouts", help="register the monitor's callouts persistently")
    add.add_argument("--queue", type=_queue_num, default=DEFAULT_QUEUE, metavar="N",
                     help=f"NFQUEUE number the filters feed (default {DEFAULT_QUEUE})")
    add.set_defaults(func=_addcallouts)
    sub.add_parser("delcallouts", help="remove the registration").set_defaults(func=_delcallouts)
    mon = sub.add_parser("monitor", help="monitor the TCP flows of APP until a key press")
    mon.add_argument("app", metavar="APP", help="the application: an executable path or name")
    mon.add_argument("--file", default="msnmon.jsonl", help="JSON-lines log file "
                     "(default msnmon.jsonl)")
    mon.add_argument("--realtime", action="store_true", help="also print events as they come")
    mon.add_argument("--hub-socket", metavar="PATH", help="send the events to the hub service "
                     "at PATH (its sessions enabling wfptrace-msnmon) instead of a log file")
    mon.add_argument("--capture-bodies", action="store_true", help="keep message bodies")
    add_redaction_options(mon)
    add_sink_options(mon)
    otel.add_cli_options(mon)
    mon.set_defaults(func=_monitor, parser=mon)
    rep = sub.add_parser("replay", help="run a pcap/pcapng file through the monitor")
    rep.add_argument("capture", type=Path)
    rep.add_argument("--app-hint", metavar="APP", help="application the capture belongs to")
    rep.add_argument("--legacy-format", action="store_true",
                     help="print the original driver's trace strings only")
    rep.add_argument("--capture-bodies", action="store_true", help="keep message bodies")
    add_redaction_options(rep)
    rep.add_argument("--verbose", "-v", action="store_true",
                     help="also transactions and the original's trace strings")
    rep.add_argument("--output", "-o", help="write a JSON-lines log file instead of printing")
    add_sink_options(rep)
    rep.set_defaults(func=_replay, parser=rep)


def _queue_num(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"queue number out of range: {value}")
    return value


# -- callouts ---------------------------------------------------------------------------
def _addcallouts(args: argparse.Namespace) -> int:
    registry = CalloutRegistry()
    reg, new = registry.add(args.queue)
    state = "registered" if new else "already registered"
    print(f"callouts {', '.join(reg.callouts)} {state} (queue {reg.queue_num}) "
          f"in {registry.path}")
    return 0


def _delcallouts(args: argparse.Namespace) -> int:
    """Remove the registration; running sessions here stop (their filters go), a suspended
    one makes it refuse, and filters of dead sessions are swept."""
    registry = CalloutRegistry()
    root = os.geteuid() == 0
    try:
        running = live_sessions() if root else []
    except NetfilterError:  # no firewall tool here: no session can run either
        running, root = [], False
    suspended = [s for s in running if s.suspended]
    if suspended:
        names = ", ".join(describe(s) for s in suspended)
        print(f"wfptrace monitor: error: the monitoring session {names} is suspended and "
              f"cannot stop; resume it (kill -CONT {suspended[0].pid}) or end it first. "
              f"The callouts stay registered.", file=sys.stderr)
        return 1
    if registry.delete():
        print(f"callouts removed ({registry.path})")
    else:
        print(f"no callouts were registered ({registry.path})")
    left = wait_gone(running, _STOP_WAIT)
    for session in running:
        if session not in left:
            print(f"monitoring session {describe(session)} stopped: its filters are removed")
    if root:
        swept = sweep_stale(OWNER)
        if swept:
            print(f"removed {swept} filters left by monitoring sessions that died")
    if left:
        print(f"wfptrace monitor: error: monitoring session {describe(left[0])} did not stop "
              f"within {_STOP_WAIT:.0f} s; its filters stay until it ends", file=sys.stderr)
        return 1
    return 0


# -- monitoring session -----------------------------------------------------------------
def _monitor(args: argparse.Namespace) -> int:
    if os.sep in args.app and not os.path.exists(args.app):
        args.parser.error(f"no such application: {args.app}")
    if os.geteuid() != 0:
        print("wfptrace monitor: error: monitoring needs root (CAP_NET_ADMIN): it installs "
              "queue filters and looks up the sockets of other processes; run it with sudo",
              file=sys.stderr)
        return 1
    try:
        running = live_sessions()
        if running:
            print(f"wfptrace monitor: error: a monitoring session is already running in this "
                  f"network namespace: {describe(running[0])}; stop it first (a key in its "
                  f"terminal, kill {running[0].pid}, or wfptrace monitor delcallouts)",
                  file=sys.stderr)
            return 1
        return _run_monitor(args)
    except QueueBindError as exc:
        print(f"wfptrace monitor: error: {exc}: the queue or copy group is bound by another "
              f"process in this network namespace (another monitor or an inspector on the "
              f"same number?); choose another with 'wfptrace monitor addcallouts --queue N'",
              file=sys.stderr)
        return 1
    except NetfilterError as exc:
        print(f"wfptrace monitor: error: {exc}", file=sys.stderr)
        return 1


def _run_monitor(args: argparse.Namespace) -> int:
    redactor = redactor_from_args(args)
    secrets = bool(args.capture_secrets)
    with Hub(load_installed=False) as hub:
        hub.register(PROVIDER)
        if args.hub_socket:
            where = _attach(args.hub_socket)
            printer: contextlib.AbstractContextManager = where
            text = (f"are sent to the hub at {args.hub_socket} (sessions there that enable "
                    f"{PROVIDER_NAME} receive them)")
        else:
            name = f"msnmon-{os.getpid()}"
            header = redaction_header(redactor, capture_secrets=secrets,
                                      capture_bodies=args.capture_bodies)
            config = SessionConfig(name, [ProviderEnable(PROVIDER_NAME)], file=args.file,
                                   realtime=args.realtime, sinks=sinks_from_args(args),
                                   otlp=otel.options_from_args(args), header=header)
            hub.start_session(config)
            printer = _print_events(hub, name) if args.realtime else contextlib.nullcontext()
            extra = [str(spec) for spec in config.sink_specs()[1:]]
            text = (f"are traced to {', '.join([args.file, *extra])} "
                    f"(view them with: wfptrace fmt {args.file})")
        # the stop signals are caught before any filter exists: a SIGTERM during set-up or
        # right after the prompt still removes this session's filters on the way out
        with _stop_signals() as stop, printer, MonitorDriver(redactor=redactor) as driver, \
                LiveSession(driver, args.app) as live:
            flags = (FLAG_CAPTURE_BODIES if args.capture_bodies else 0) | \
                (FLAG_CAPTURE_SECRETS if secrets else 0)
            hub.control(PROVIDER_NAME, enable_request(flags))
            print(f"Monitoring TCP traffic of {args.app}: events of provider {PROVIDER_NAME} "
                  f"{text}", flush=True)
            print(f"Owner cache {live.owner_cache_status}.", flush=True)
            print("Press any key (or Ctrl-C) to stop monitoring.", flush=True)
            if not _wait_for_key(driver.registry.path, stop):
                print(f"The callouts were removed ({driver.registry.path} is gone: wfptrace "
                      f"monitor delcallouts): stopping.", flush=True)
            stats = driver.monitor.stats
        lost = live.stats.copies_lost + live.stats.copies_truncated
        print(f"Stopped: {stats.flows_monitored} flows monitored, {stats.commands} commands"
              f"{f', {lost} packet copies lost' if lost else ''}; the filters of this session "
              f"(queue {live.queue_num}) are removed.", flush=True)
    return 0


@contextlib.contextmanager
def _attach(path: str) -> Iterator[None]:
    """Link the provider to the hub service for the session's lifetime (flushed on exit)."""
    from tracer.service import attach_provider

    link = attach_provider(PROVIDER, path, wait=2.0)
    try:
        yield
    finally:
        link.flush(5.0)
        link.close()


@contextlib.contextmanager
def _print_events(hub: Hub, name: str) -> Iterator[None]:
    sub = hub.subscribe(name)
    done = threading.Event()

    def pump() -> None:
        while not done.is_set():
            event = sub.get(timeout=0.1)
            if event is not None:
                print(format_event(event), flush=True)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(2)


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """Ctrl-C, SIGTERM and SIGHUP set the event yielded (the previous handlers come back)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_for_key(registration: Path, stop: threading.Event) -> bool:
    """Return on a key press (a line, without a terminal) or once ``stop`` is set (a stop
    signal): True; or when the ``registration`` file is removed (delcallouts): False."""
    fd = sys.stdin.fileno() if sys.stdin else -1
    saved = None
    try:
        if fd >= 0 and os.isatty(fd):
            saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        while not stop.is_set():
            if not registration.exists():
                return False
            if fd < 0:
                stop.wait(0.2)
                continue
            with contextlib.suppress(InterruptedError):
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready:
                    if os.read(fd, 1):
                        return True
                    fd = -1  # end of input (no terminal): wait for a signal instead
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    return True


# -- offline ----------------------------------------------------------------------------
def _replay(args: argparse.Namespace) -> int:
    """Replay a capture into a blocking session: every event reaches the output, which
    streams (printed, ``-o FILE``, ``--sink ...``); exit 1 if any event was lost."""
    if not args.capture.exists():
        args.parser.error(f"no such capture file: {args.capture}")
    keywords = LEGACY_KEYWORDS if args.legacy_format else None
    level = Level.VERBOSE if args.verbose or args.legacy_format else Level.INFO
    spec = ProviderEnable(PROVIDER_NAME, level=level, keywords=keywords)
    sinks = sinks_from_args(args)
    if args.output:
        sinks.insert(0, SinkSpec("file", str(args.output)))
    if not sinks:
        render = _legacy_text if args.legacy_format else format_event
        sinks.append(SinkSpec("stdout", "text", {"render": render}))
    monitor = MsnMonitor(app_hint=args.app_hint, capture_bodies=args.capture_bodies,
                         capture_secrets=bool(args.capture_secrets),
                         redactor=redactor_from_args(args))
    with Hub(load_installed=False) as hub:
        hub.register(PROVIDER)
        hub.start_session(SessionConfig("msnmon-replay", [spec], sinks=sinks, blocking=True,
                                        header=monitor.log_header()))
        bar = ProgressBar(sys.stderr)
        ran = run_to_end(hub, "msnmon-replay", lambda: replay_capture(
            args.capture, monitor=monitor, progress=lambda fraction: bar.show(
                args.capture.name, fraction, monitor.stats.packets, force=fraction >= 1.0)))
    if ran is None:  # the output was closed (| head)
        return 0
    stats, sstats = ran
    summary, complete = run_summary(sstats)
    print(f"{stats.commands} commands on {stats.flows_monitored} flows, "
          f"{stats.parse_errors} errors; {summary}", file=sys.stderr)
    return 0 if complete else 1


def _legacy_text(event: Event) -> str | None:
    """The original driver's trace string of a legacy event; nothing for the others."""
    if event.provider != PROVIDER_NAME or not event.name.startswith("Legacy"):
        return None
    return event.message


# -- stand-alone ------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m providers.msnmon ACTION ...`` (the ``wfptrace monitor`` command)."""
    parser = argparse.ArgumentParser(prog="wfptrace")
    register(parser.add_subparsers(dest="command", required=True))
    return run_command(parser.parse_args(["monitor", *(sys.argv[1:] if argv is None else argv)]))
