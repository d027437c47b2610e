"""``wfptrace inspect start|stop|status|set|reload|pending|decide``: ``net start inspect``.

``start`` runs in the foreground until SIGTERM/SIGINT (``stop`` sends SIGTERM
to the inspector of the current network namespace); SIGHUP reads the
``--config`` file again (like ``inspect reload``). ``set block|permit`` switches
the running inspector. A bad configuration prints
one clear line and exits 2 before anything is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from providers.netfilter import NetfilterError
from tracer import add_sink_options, otel, sinks_from_args

from ._client import DecisionClient
from ._config import DECIDERS, OVERLOAD, load_config
from ._errors import AlreadyRunningError, InspectConfigError, InspectError, NotRunningError
from ._rules import sweep
from ._state import StateFile, has_net_admin, owner_name

__all__ = ["main", "register"]


def register(subparsers: Any) -> None:
    """Add ``inspect`` to a ``wfptrace`` subparsers object (the entry-point hook)."""
    p = subparsers.add_parser("inspect", help="inspect traffic to one peer (WFP inspect)")
    _fill(p)


def _fill(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-dir", help="state directory (default /run/wfptrace-inspect)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="start inspecting (foreground until stopped)")
    start.add_argument("--config", help="TOML configuration file")
    start.add_argument("--remote", help="the address to inspect (remote_address)")
    start.add_argument("--block", action=argparse.BooleanOptionalAction, default=None,
                       help="block (or --no-block: permit) traffic; fixes block_traffic")
    start.add_argument("--decider", choices=DECIDERS)
    start.add_argument("--decider-timeout", type=float, metavar="S")
    start.add_argument("--fail-closed", action="store_true", default=None,
                       help="keep the peer blocked while the inspector is down")
    start.add_argument("--reject", action="store_true", default=None,
                       help="answer blocked traffic with TCP RST / ICMP unreachable")
    start.add_argument("--overload", choices=OVERLOAD,
                       help="what a full queue does: drop, accept, or auto (accept only "
                            "while permitting; the default)")
    start.add_argument("--queue-length", type=int, metavar="N",
                       help="packets each queue holds before it is full (default 8192)")
    start.add_argument("--queue", type=int, help="first of the two NFQUEUE numbers")
    start.add_argument("--trace", metavar="FILE", help="write the provider's events here")
    start.add_argument("--trace-packets", action="store_true",
                       help="also trace one event per packet (keyword packet)")
    start.add_argument("--hub-socket", metavar="PATH",
                       help="send the provider's events to the hub service at PATH")
    add_sink_options(start)
    otel.add_cli_options(start)
    start.set_defaults(func=_guard(_start))
    for name, func, text in (("stop", _stop, "stop the inspector of this namespace"),
                             ("status", _status, "show the inspector's state and counters"),
                             ("pending", _pending, "list connections waiting for a verdict")):
        actions.add_parser(name, help=text).set_defaults(func=_guard(func))
    setp = actions.add_parser("set", help="switch the running inspector to block or permit")
    setp.add_argument("mode", choices=["block", "permit"])
    setp.set_defaults(func=_guard(_set))
    actions.add_parser("reload", help="read the --config file again (same as SIGHUP)") \
        .set_defaults(func=_guard(_reload))
    decide = actions.add_parser("decide", help="answer a pending connection")
    decide.add_argument("id", type=int)
    decide.add_argument("verdict", choices=["permit", "allow", "block"])
    decide.set_defaults(func=_guard(_decide))


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn our errors into one ``error:`` line and exit status 1 (also under ``wfptrace``)."""
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (InspectError, NetfilterError) as exc:
            print(f"wfptrace inspect: error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:  # e.g. a run directory this user may not write
            where = f": {exc.filename}" if exc.filename else ""
            print(f"wfptrace inspect: error: {exc.strerror or exc}{where}", file=sys.stderr)
            return 1
    return run


def _start(args: argparse.Namespace) -> int:
    from ._inspector import Inspector

    try:
        config = load_config(args.config, remote_address=args.remote, block_traffic=args.block,
                             decider=args.decider, decider_timeout=args.decider_timeout,
                             fail_closed=args.fail_closed, reject=args.reject,
                             queue=args.queue, overload=args.overload,
                             queue_length=args.queue_length)
    except InspectConfigError as exc:
        print(f"wfptrace inspect: configuration error: {exc}; nothing was installed",
              file=sys.stderr)
        return 2
    if not has_net_admin():
        raise InspectError("starting the inspector needs root (CAP_NET_ADMIN: it binds "
                           "netfilter queues and installs firewall rules)")
    state = StateFile.here(args.run_dir)
    running = state.read()
    if running is not None and state.alive(running):
        raise AlreadyRunningError(f"an inspector already runs here (pid {running['pid']})")
    hub, link = _tracing(args)
    wake, want = threading.Event(), {"stop": False, "hup": False}

    def on_signal(sig: int, _frame: object) -> None:
        want["hup" if sig == signal.SIGHUP else "stop"] = True
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    state.directory.mkdir(parents=True, exist_ok=True)
    inspector = Inspector(config, control_path=state.control)
    try:
        inspector.start()
        gc.collect()
        gc.freeze()  # start-up objects leave the collector: no multi-ms pauses on the path
        state.write({"config": config.summary()})
        print(f"inspect: started for {config.remote} ({config.decider} decider, "
              f"block_traffic={inspector.switch.value})", flush=True)
        while inspector.running and not want["stop"]:
            wake.wait(0.5)
            wake.clear()
            if want["hup"]:
                want["hup"] = False
                _say(_reload_now(inspector))
    finally:
        inspector.stop("stop" if inspector.running else "worker-died")
        state.remove()
        if link is not None:
            link.flush(5.0)
            link.close()
        if hub is not None:
            hub.close()
    _say("inspect: stopped", sys.stdout)
    return 0


def _reload_now(inspector: Any) -> str:
    try:
        return f"inspect: {inspector.reload('sighup')}"
    except InspectConfigError as exc:
        return f"wfptrace inspect: reload refused: {exc}"


def _say(line: str, out: Any = None) -> None:
    """Print a line (stderr by default); a closed terminal (a hangup) is not an error."""
    with contextlib.suppress(OSError):
        print(line, file=out or sys.stderr, flush=True)


def _tracing(args: argparse.Namespace) -> tuple[Any, Any]:
    from tracer import Hub, ProviderEnable, SessionConfig

    from ._events import PROVIDER

    hub = link = None
    sinks, otlp = sinks_from_args(args), otel.options_from_args(args)
    if args.trace or sinks or otlp is not None:
        keywords = ("connect", "worker", "config") + (("packet",) if args.trace_packets else ())
        hub = Hub(load_installed=False)
        hub.register(PROVIDER)
        hub.start_session(SessionConfig("inspect", [ProviderEnable(PROVIDER.name,
                                                                   keywords=keywords)],
                                        file=args.trace, flush_interval=0.05, sinks=sinks,
                                        otlp=otlp))
    if args.hub_socket:
        from tracer.service import attach_provider

        link = attach_provider(PROVIDER, args.hub_socket, wait=2.0)
    return hub, link


def _stop(args: argparse.Namespace) -> int:
    state = StateFile.find(args.run_dir)
    info = state.read()
    if info is None or not state.alive(info):
        if not has_net_admin():
            raise NotRunningError("no inspector of yours runs in this network namespace "
                                  "(sweeping stale rules needs root)")
        swept = sweep()
        state.remove()
        if info is None and not swept:
            raise NotRunningError("no inspector runs in this network namespace")
        print(f"inspect: was not running; removed {swept} stale rules")
        return 0
    try:
        os.kill(int(info["pid"]), signal.SIGTERM)
    except PermissionError:
        raise InspectError(_not_yours(state, info, "stop")) from None
    deadline = time.monotonic() + 15
    while state.alive(info) and time.monotonic() < deadline:
        time.sleep(0.05)
    if state.alive(info):
        raise InspectError(f"inspector pid {info['pid']} did not stop within 15 s")
    print("inspect: stopped")
    return 0


def _not_yours(state: StateFile, info: dict[str, Any], what: str) -> str:
    owner = owner_name(state.path)
    return (f"the running inspector (pid {info['pid']}) belongs to {owner}: "
            f"run {what} as {owner}")


def _client(args: argparse.Namespace, what: str = "this") -> DecisionClient:
    state = StateFile.find(args.run_dir)
    info = state.read()
    if info is None or not state.alive(info):
        raise NotRunningError("no inspector runs in this network namespace")
    control = Path(info["control"])
    if not os.access(control, os.R_OK | os.W_OK):
        raise InspectError(_not_yours(state, info, what))
    return DecisionClient(control)


def _status(args: argparse.Namespace) -> int:
    state = StateFile.find(args.run_dir)
    info = state.read()
    if info is None or not state.alive(info):
        print("inspect: stopped" + (" (crashed: run stop to sweep its rules)" if info else ""))
        return 3
    with _client(args, "status") as client:
        status = client.status()
    status.pop("ok", None)
    print(json.dumps({"state": "running", "pid": info["pid"], **status}, indent=1))
    return 0


def _pending(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for p in client.pending():
            print(f"{p.id}\t{p.protocol} {p.local}:{p.local_port} {p.direction} "
                  f"{p.remote}:{p.remote_port}\t{p.process or '?'}[{p.pid}]\t"
                  f"{p.remaining:.1f}s left")
    return 0


def _set(args: argparse.Namespace) -> int:
    with _client(args) as client:
        reply = client.call("set", block_traffic=args.mode == "block")
    was = "block" if reply["previous"] else "permit"
    print(f"inspect: {args.mode} (was {was})")
    return 0


def _reload(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print(f"inspect: {client.call('reload')['message']}")
    return 0


def _decide(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if not client.decide(args.id, args.verdict):
            print(f"inspect: connection {args.id} is not pending", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m providers.inspect ...`` (same as ``wfptrace inspect ...``)."""
    parser = argparse.ArgumentParser(prog="wfptrace inspect")
    _fill(parser)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
