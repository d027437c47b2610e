"""Where the hub's socket lives by default, and preparing its directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_socket_path", "prepare_socket_dir"]

SOCKET_NAME = "hub.sock"


def default_socket_path() -> Path:
    """``/run/wfptrace/hub.sock`` for root, ``$XDG_RUNTIME_DIR/wfptrace/hub.sock`` otherwise."""
    if os.geteuid() == 0:
        return Path("/run/wfptrace") / SOCKET_NAME
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/wfptrace-{os.geteuid()}"
    return Path(runtime) / "wfptrace" / SOCKET_NAME


def prepare_socket_dir(path: Path, gid: int | None) -> bool:
    """Create the socket's directory if needed, reachable by the group when there is one;
    True if it was created here."""
    parent = path.parent
    if parent.exists():
        return False
    parent.mkdir(parents=True, mode=0o750 if gid is not None else 0o700)
    if gid is not None:
        os.chown(parent, -1, gid)
        os.chmod(parent, 0o750)
    return True
