"""``serve``: run the hub service in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from .._stats import SessionStats
from ._access import ROLES, Policy
from ._server import HubServer

__all__ = ["serve"]


def serve(path: str | os.PathLike[str] | None = None, *, group: str | int | None = None,
          mode: int = 0o660, ready: Callable[[HubServer], None] | None = None,
          stop: threading.Event | None = None, readers: Sequence[str | int] = (),
          controllers: Sequence[str | int] = (),
          providers: Sequence[str | int] = ()) -> list[SessionStats]:
    """Serve the hub until a signal (or ``stop``); flush and close every session on the way out.

    ``group`` gives its members every role; ``readers``, ``controllers`` and
    ``providers`` give one role each (see :mod:`tracer.service._access`). Says on
    stderr where it listens and who holds which role. Returns the final statistics of
    every session.
    """
    policy = Policy(group, readers=readers, controllers=controllers, providers=providers)
    _tune_gc()
    stop = stop or threading.Event()
    # Handlers first: a client may connect (and signal us) as soon as the socket exists.
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server = HubServer(path, policy=policy, mode=mode).start()
    except BaseException:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        raise
    group = policy.socket_group_name()
    group_text = f", group {group}" if group is not None else ""
    print(f"wfptrace hub: listening on {server.path} (mode {mode:04o}{group_text}, "
          f"pid {os.getpid()})", file=sys.stderr, flush=True)
    roles = "; ".join(f"{role}: {policy.holders(role)}" for role in ROLES)
    print(f"wfptrace hub: roles: {roles}", file=sys.stderr, flush=True)
    if ready is not None:
        ready(server)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        stats = server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for s in stats:
        print(f"wfptrace hub: session {s.name} closed: {s.events_written} events written, "
              f"{s.events_lost} lost", file=sys.stderr)
    print("wfptrace hub: stopped", file=sys.stderr, flush=True)
    return stats


def _tune_gc() -> None:
    """The hub allocates millions of short-lived record tuples: collect young objects less often."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
