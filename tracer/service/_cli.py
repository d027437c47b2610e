"""The hub service's part of the ``wfptrace`` command line.

``wfptrace hub`` runs the service; the session commands call :func:`open_hub` to use
a running hub (``--hub PATH``, or the default socket when a hub answers there) or an
embedded one, and say which on stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._hub import Hub
from ._errors import HubUnavailableError
from ._paths import default_socket_path
from ._remote import RemoteHub
from ._serve import serve

__all__ = ["add_hub_command", "add_hub_option", "add_role_options", "open_hub", "run_hub"]

NO_HUB = "none"


def add_hub_option(parser: argparse.ArgumentParser) -> None:
    """The global ``--hub PATH`` option (``--hub none`` forces the embedded hub)."""
    parser.add_argument("--hub", metavar="PATH",
                        help=f"hub socket to use (default: {default_socket_path()} if a hub "
                             f"answers there, else an embedded hub; '{NO_HUB}': embedded)")


def add_hub_command(sub: Any) -> None:
    """``wfptrace hub [--socket PATH] [--group NAME] [--readers|--controllers|--providers G]``."""
    p = sub.add_parser("hub", help="run the trace hub service on a Unix socket")
    p.add_argument("--socket", help=f"socket path (default: {default_socket_path()})")
    add_role_options(p)
    p.add_argument("--socket-mode", default="0660", metavar="OCTAL",
                   help="socket permissions (default 0660)")
    p.set_defaults(func=_run_hub)


def add_role_options(p: argparse.ArgumentParser) -> None:
    """The options giving groups the hub's roles (each may repeat)."""
    p.add_argument("--group", help="shorthand: this group gets every role (reader, controller, "
                                   "provider) and owns the socket (mode 0660)")
    p.add_argument("--readers", action="append", default=[], metavar="GROUP",
                   help="members may list sessions and providers and read events")
    p.add_argument("--controllers", action="append", default=[], metavar="GROUP",
                   help="members may also start/stop/update/flush sessions and send "
                        "control requests to providers (permit, block, decide...)")
    p.add_argument("--providers", action="append", default=[], metavar="GROUP",
                   help="members may register providers (not the built-in names, root only)")


def run_hub(args: argparse.Namespace) -> None:
    """Serve with the parsed hub options."""
    serve(args.socket, group=args.group, mode=int(args.socket_mode, 8), readers=args.readers,
          controllers=args.controllers, providers=args.providers)


def _run_hub(args: argparse.Namespace) -> int:
    run_hub(args)
    return 0


def open_hub(args: argparse.Namespace) -> Hub | RemoteHub:
    """The hub the session commands use, announced on stderr."""
    wanted = getattr(args, "hub", None)
    if wanted == NO_HUB:
        return _embedded("embedded hub (--hub none)")
    if wanted:
        hub = RemoteHub(wanted)
        print(f"wfptrace: using the hub at {wanted} (pid {hub.hub_pid})", file=sys.stderr)
        return hub
    path = default_socket_path()
    try:
        hub = RemoteHub(path)
    except HubUnavailableError:
        return _embedded(f"no hub at {path}: using an embedded hub")
    print(f"wfptrace: using the hub at {path} (pid {hub.hub_pid})", file=sys.stderr)
    return hub


def _embedded(text: str) -> Hub:
    print(f"wfptrace: {text}", file=sys.stderr)
    return Hub()
