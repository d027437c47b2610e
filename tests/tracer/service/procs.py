"""Programs the service tests run in real processes: hub, provider, consumer, clients.

Run as ``python -m tests.tracer.service.procs ROLE ...`` (from the repository root);
each role prints one JSON line with what it did when it is done.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from tracer import (
    ControlError,
    Level,
    Provider,
    ProviderEnable,
    SessionConfig,
    TracerError,
    parse_sink_spec,
)
from tracer._hubprovider import HUB_PROVIDER
from tracer.service import ProviderLink, attach_provider, connect

DEMO = Provider("svc-demo", keywords=["net", "disk"], description="service test provider")
TICK = DEMO.event(1, "Tick", Level.INFO, "net", {"n": int, "text": str}, "tick {n} {text}")
DISK = DEMO.event(2, "Disk", Level.VERBOSE, "disk", {"n": int}, "disk {n}")
#: A forger's stand-in for the inspector: same name, a ConnectionVerdict saying "permit".
FORGED = Provider("wfptrace-inspect", keywords=["connect"])
FORGED_VERDICT = FORGED.event(6, "ConnectionVerdict", Level.INFO, "connect",
                              {"conn_id": int, "verdict": str}, "{conn_id}: {verdict}")


def _say(**data: object) -> None:
    sys.stdout.write(orjson.dumps(data).decode() + "\n")
    sys.stdout.flush()


def provider(args: argparse.Namespace) -> None:
    """Wait until enabled, write events (a count, or for some seconds), flush, report."""
    try:
        link = attach_provider(DEMO, args.socket, wait=5.0)
    except TracerError as exc:
        _say(role="provider", pid=os.getpid(), refused=[type(exc).__name__, str(exc)])
        return
    _say(role="provider", pid=os.getpid(), connected=link.connected)
    deadline = time.monotonic() + args.wait
    while not TICK.enabled and time.monotonic() < deadline:
        time.sleep(0.001)
    emitted = 0
    end = time.monotonic() + args.seconds if args.seconds else None
    n = 0
    while (end is None and n < args.count) or (end is not None and time.monotonic() < end):
        if TICK.enabled:
            TICK.write(n, "hello")
            emitted += 1
        n += 1
        if args.pause and n % 100 == 0:
            time.sleep(args.pause)
    flushed = link.flush(10.0)
    st = link.stats()
    _say(role="provider", done=True, emitted=emitted, flushed=flushed, sent=st.sent,
         dropped=st.dropped, connects=st.connects)
    if args.linger:
        time.sleep(args.linger)
    link.close()


def stalled(args: argparse.Namespace) -> None:
    """Once enabled say ready; on "go" write for ``seconds``, report; on "flush" flush, report."""
    link = attach_provider(DEMO, args.socket, wait=5.0, capacity=args.capacity)
    deadline = time.monotonic() + args.wait
    while not TICK.enabled and time.monotonic() < deadline:
        time.sleep(0.001)
    _say(role="stalled", ready=TICK.enabled, pid=os.getpid())
    sys.stdin.readline()
    emitted = n = 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        if TICK.enabled:
            TICK.write(n, "stalled")
            emitted += 1
        n += 1
        if n % 50 == 0:
            time.sleep(0.0005)
    _say(role="stalled", emitted=emitted, dropped=link.stats().dropped)
    sys.stdin.readline()
    flushed = link.flush(20.0)
    st = link.stats()
    _say(role="stalled", flushed=flushed, sent=st.sent, dropped=st.dropped)
    link.close()


def watcher(args: argparse.Namespace) -> None:
    """Print every enable state the provider receives, with the time it arrived."""
    def show(state: object) -> None:
        _say(t=time.time(), enabled=TICK.enabled, disk=DISK.enabled,
             level=getattr(state, "level", 0))
    DEMO.add_enable_callback(show)
    link = attach_provider(DEMO, args.socket, wait=5.0)
    _say(role="watcher", connected=link.connected)
    sys.stdin.readline()
    link.close()


def controlled(args: argparse.Namespace) -> None:
    """Answer control requests: ``echo`` returns the request, anything else is refused."""
    def handle(request: dict[str, Any]) -> dict[str, Any]:
        if request.get("op") != "echo":
            raise ControlError(f"invalid parameter {request.get('op')!r}")
        return {"echo": request, "pid": os.getpid()}

    DEMO.on_control(handle)
    link = attach_provider(DEMO, args.socket, wait=5.0)
    _say(role="controlled", connected=link.connected, pid=os.getpid())
    sys.stdin.readline()
    link.close()


def consumer(args: argparse.Namespace) -> None:
    """Subscribe to a session and print each event's fields until ``count`` or the end."""
    hub = connect(args.socket)
    sub = hub.subscribe(args.session)
    _say(role="consumer", subscribed=True)
    got = 0
    for event in sub:
        _say(kind=event.kind, provider=event.provider, name=event.name, pid=event.pid,
             fields=event.fields, message=event.message)
        got += 1
        if got >= args.count:
            break
    sub.close()
    _say(role="consumer", done=True, received=got)


def forger(args: argparse.Namespace) -> None:
    """Try to register under the hub's own provider name; report the outcome."""
    try:
        attach_provider(HUB_PROVIDER, args.socket, wait=5.0).close()
    except TracerError as exc:
        _say(role="forger", refused=[type(exc).__name__, str(exc)])
        return
    _say(role="forger", connected=True)


def _attempts(args: argparse.Namespace, hub: Any) -> dict[str, Callable[[], Any]]:
    own = Provider(args.provider_name or f"svc-own-{os.getuid()}")
    return {
        "list_sessions": lambda: [s.name for s in hub.list_sessions()],
        "manifests": lambda: len(hub.manifests()),
        "subscribe": lambda: hub.subscribe(args.session).close(),
        "start_session": lambda: hub.start_session(SessionConfig(
            f"by-{os.getuid()}", [ProviderEnable("svc-demo")], realtime=True)).name,
        "flush_session": lambda: hub.flush_session(f"by-{os.getuid()}").name,
        "stop_session": lambda: hub.stop_session(f"by-{os.getuid()}").name,
        "stop_theirs": lambda: hub.stop_session(args.session).name,
        "control": lambda: hub.control("svc-demo", {"op": "echo"})["pid"],
        "add_manifest": lambda: hub.add_manifest(FORGED.manifest()),
        "register_provider": lambda: ProviderLink(own, args.socket).start(wait=5.0).close(),
        "register_inspect": lambda: ProviderLink(FORGED, args.socket).start(wait=5.0).close(),
    }


def attempt(args: argparse.Namespace) -> None:
    """Try each operation named in ``--ops`` in order; report "ok" or the error for each."""
    out: dict[str, Any] = {"uid": os.getuid()}
    with connect(args.socket) as hub:
        out["privileged"] = hub.privileged
        attempts = _attempts(args, hub)
        for name in args.ops.split(","):
            try:
                attempts[name]()
                out[name] = "ok"
            except TracerError as exc:
                out[name] = [type(exc).__name__, str(exc)]
    _say(**out)


def inspector(args: argparse.Namespace) -> None:
    """The real inspector's provider (as root): on each stdin line write ``count`` verdicts."""
    from providers.inspect import PROVIDER
    from providers.inspect._events import CONNECTION_VERDICT

    link = attach_provider(PROVIDER, args.socket, wait=5.0)
    _say(role="inspector", connected=link.connected, pid=os.getpid())
    n = 0
    while sys.stdin.readline():
        for _ in range(args.count):
            CONNECTION_VERDICT.write_fields(conn_id=n, network_community_id="real",
                                            network_direction="egress", verdict="block",
                                            decided_by="configuration", latency_ns=1)
            n += 1
        _say(role="inspector", written=n, flushed=link.flush(10.0))
    link.close()


def _member_config(args: argparse.Namespace) -> SessionConfig:
    return SessionConfig(args.session, [ProviderEnable("svc-demo")], file=args.file,
                         mode=args.mode, max_size=args.max_size, flush_interval=0.02,
                         render_worker=args.render_worker,
                         sinks=[parse_sink_spec(s) for s in args.sink])


def member(args: argparse.Namespace) -> None:
    """Start a session with a log file (it keeps running in the hub); report the outcome."""
    with connect(args.socket) as hub:
        try:
            stats = hub.start_session(_member_config(args))
        except TracerError as exc:
            _say(role="member", ok=False, error=[type(exc).__name__, str(exc)])
            return
    _say(role="member", ok=True, log_file=stats.log_file)


def racer(args: argparse.Namespace) -> None:
    """Swap ``file`` between a regular file and a symlink to ``target`` in a thread while
    starting and stopping sessions on it for ``seconds``; report what the hub answered."""
    stop = threading.Event()
    swaps = 0

    def swap() -> None:
        nonlocal swaps
        link, plain = args.file + ".link", args.file + ".plain"
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
            os.symlink(args.target, link)
            os.rename(link, args.file)
            with open(plain, "w"):
                pass
            os.rename(plain, args.file)
            swaps += 1

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    ok = refused = 0
    errors: set[str] = set()
    end = time.monotonic() + args.seconds
    with connect(args.socket) as hub:
        while time.monotonic() < end:
            try:
                hub.start_session(_member_config(args))
            except TracerError as exc:
                refused += 1
                errors.add(f"{type(exc).__name__}: {exc}")
                continue
            ok += 1
            hub.stop_session(args.session)
    stop.set()
    thread.join()
    _say(role="racer", ok=ok, refused=refused, swaps=swaps, errors=sorted(errors)[:10])


def main(argv: list[str] | None = None) -> None:
    """Dispatch to one role."""
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["provider", "consumer", "stalled", "watcher", "controlled",
                                    "member", "racer", "forger", "attempt", "inspector"])
    p.add_argument("--socket", required=True)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--seconds", type=float, default=0.0)
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--wait", type=float, default=10.0)
    p.add_argument("--linger", type=float, default=0.0)
    p.add_argument("--session", default="s1")
    p.add_argument("--capacity", type=int, default=65536)
    p.add_argument("--file")
    p.add_argument("--target")
    p.add_argument("--mode", default="sequential")
    p.add_argument("--max-size", type=int)
    p.add_argument("--render-worker", action="store_true")
    p.add_argument("--sink", action="append", default=[])
    p.add_argument("--ops", default="")
    p.add_argument("--provider-name")
    p.add_argument("--as-user", help="uid:gid:group,... to drop to first (the interpreter "
                                     "may live where that user cannot read)")
    args = p.parse_args(argv)
    if args.as_user:
        uid, gid, groups = args.as_user.split(":")
        os.setgroups([int(g) for g in groups.split(",") if g])
        os.setresgid(int(gid), int(gid), int(gid))
        os.setresuid(int(uid), int(uid), int(uid))
    roles = {"provider": provider, "consumer": consumer, "stalled": stalled, "watcher": watcher,
             "controlled": controlled, "member": member, "racer": racer,
             "forger": forger, "attempt": attempt, "inspector": inspector}
    roles[args.role](args)


if __name__ == "__main__":
    main()


def as_user(path: str, uid: int, groups: list[int], results: Any) -> None:
    """In a child process: drop to ``uid`` with ``groups``, try each operation, report errors."""
    os.setgroups(groups)
    os.setgid(uid)
    os.setuid(uid)
    out: dict[str, Any] = {"uid": os.getuid()}
    config = SessionConfig("by-user", [ProviderEnable("svc-demo")], realtime=True)
    try:
        hub = connect(path)
    except Exception as exc:
        results.put({**out, "connect": [type(exc).__name__, str(exc)]})
        return
    attempts = {
        "start_session": lambda: hub.start_session(config),
        "subscribe": lambda: hub.subscribe("sec").close(),
        "stop_session": lambda: hub.stop_session("by-user"),
        "list_sessions": lambda: len(hub.list_sessions()),
        "register_provider": lambda: ProviderLink(DEMO, path).start(wait=5.0).close(),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            out[name] = "ok"
        except Exception as exc:
            out[name] = [type(exc).__name__, str(exc)]
    results.put(out)
