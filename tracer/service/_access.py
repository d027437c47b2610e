"""Who may do what: peer credentials (SO_PEERCRED) checked against the hub's group.

Only root, the hub's own user, or members of the configured group may control
sessions, register providers or read events. Anyone who can reach the socket may
say hello and read session statistics and manifests (the socket's mode 0660 and
group already keep everyone else out; this is the second line of defence).
"""

from __future__ import annotations

import errno
import grp
import os
import socket
import struct
from dataclasses import dataclass

__all__ = ["Peer", "Policy", "peer_of"]

_UCRED = struct.Struct("3i")
_SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)


@dataclass(frozen=True)
class Peer:
    """A connected process as the kernel vouches for it."""

    pid: int
    uid: int
    gid: int
    groups: frozenset[int]


def peer_of(sock: socket.socket) -> Peer:
    """The peer's credentials from SO_PEERCRED, plus its supplementary groups."""
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                  _UCRED.size))
    groups = _peer_groups(sock)
    if groups is None:
        groups = _proc_groups(pid)
    return Peer(pid, uid, gid, frozenset({gid, *groups}))


def _peer_groups(sock: socket.socket) -> list[int] | None:
    """Supplementary groups as the kernel recorded them at connect (SO_PEERGROUPS)."""
    for size in (4 * 256, 4 * 65536):
        try:
            raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERGROUPS, size)
        except OSError as exc:
            if exc.errno == errno.ERANGE:
                continue
            return None
        return list(struct.unpack(f"{len(raw) // 4}I", raw[:len(raw) // 4 * 4]))
    return None


def _proc_groups(pid: int) -> list[int]:
    """Fallback for kernels before 4.13: the groups the peer's pid has now."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Groups:"):
                    return [int(g) for g in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


class Policy:
    """The hub's access rule: root, its owner, or members of ``group`` are privileged."""

    def __init__(self, group: str | int | None = None, owner_uid: int | None = None) -> None:
        self.gid = _gid(group)
        self.group_name = _group_name(self.gid)
        self.owner_uid = os.geteuid() if owner_uid is None else owner_uid

    def privileged(self, peer: Peer) -> bool:
        """True if the peer may control sessions, register providers and read events."""
        if peer.uid in (0, self.owner_uid):
            return True
        return self.gid is not None and self.gid in peer.groups

    def refusal(self, peer: Peer, operation: str) -> str:
        """The clear message a refused peer gets."""
        who = (f"root or members of group {self.group_name}" if self.gid is not None
               else f"root or uid {self.owner_uid}")
        return f"permission denied: {operation} needs {who} (you are uid {peer.uid})"


def _gid(group: str | int | None) -> int | None:
    if group is None or isinstance(group, int):
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        from .._errors import ConfigError
        raise ConfigError(f"no group named {group!r} (create it with groupadd)") from None


def _group_name(gid: int | None) -> str | None:
    if gid is None:
        return None
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
