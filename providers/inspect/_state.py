"""Where a running inspector is recorded: one state file per network namespace.

``$WFPTRACE_RUN_DIR``, else ``/run/wfptrace-inspect`` for root (its own
directory: the hub unit's ``RuntimeDirectory=wfptrace`` is removed when the hub
stops), else ``$XDG_RUNTIME_DIR/wfptrace-inspect``. The file names the
namespace's inode, so ``inspect stop`` run in a namespace finds the inspector
of that namespace; an ordinary user's ``status`` also finds root's inspector
(and is told it belongs to root).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ROOT_RUN_DIR", "StateFile", "has_net_admin", "owner_name", "run_dir"]

ROOT_RUN_DIR = Path("/run/wfptrace-inspect")
_CAP_NET_ADMIN = 12


def run_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding state files and control sockets."""
    if override:
        return Path(override)
    if os.environ.get("WFPTRACE_RUN_DIR"):
        return Path(os.environ["WFPTRACE_RUN_DIR"])
    if os.geteuid() == 0:
        return ROOT_RUN_DIR
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/wfptrace-{os.getuid()}"
    return Path(base) / "wfptrace-inspect"


def has_net_admin() -> bool:
    """True if this process may bind queues and change rules (CAP_NET_ADMIN)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        pass
    return os.geteuid() == 0


def owner_name(path: Path) -> str:
    """The user owning ``path`` (``root``, a name, or a uid)."""
    import pwd

    try:
        uid = path.stat().st_uid
    except OSError:
        return "another user"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    try:
        return None if fields[0] in (b"Z", b"X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class StateFile:
    """The state file and control socket paths of this namespace's inspector."""

    directory: Path

    @classmethod
    def here(cls, override: str | os.PathLike[str] | None = None) -> StateFile:
        """The paths for the calling thread's namespace."""
        return cls(run_dir(override))

    @classmethod
    def find(cls, override: str | os.PathLike[str] | None = None) -> StateFile:
        """Where this namespace's inspector is recorded: :meth:`here`, or for an
        ordinary user without a directory given, root's when it has one."""
        mine = cls.here(override)
        if override or os.environ.get("WFPTRACE_RUN_DIR") or os.geteuid() == 0:
            return mine
        root = cls(ROOT_RUN_DIR)
        return root if not mine.path.exists() and root.path.exists() else mine

    @property
    def path(self) -> Path:
        """The JSON state file."""
        return self.directory / f"inspect-{_netns_inode()}.json"

    @property
    def control(self) -> Path:
        """The control socket."""
        return self.directory / f"inspect-{_netns_inode()}.sock"

    def write(self, info: dict[str, Any]) -> None:
        """Record this process as the running inspector (atomic replace)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        me = os.getpid()
        data = {"pid": me, "start": _start_time(me), "control": str(self.control), **info}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)

    def read(self) -> dict[str, Any] | None:
        """The recorded state, or None (also when the file is damaged: no object, no pid)."""
        try:
            info = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None

    def alive(self, info: dict[str, Any] | None = None) -> bool:
        """True if the recorded process (same pid and start time) still runs."""
        if info is None:
            info = self.read()
        if info is None:
            return False
        pid = info.get("pid")
        start = _start_time(pid) if isinstance(pid, int) and pid > 0 else None
        return start is not None and start == info.get("start")

    def remove(self) -> None:
        """Delete the state file (and a leftover socket)."""
        for p in (self.path, self.control):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
