"""Who may do what: peer credentials (SO_PEERCRED) checked against the hub's roles.

Each role is held by members of the groups given for it (``wfptrace hub --readers G
--controllers G --providers G``; ``--group G`` gives G all three):

* *reader*: list sessions and providers, query statistics, subscribe to events
  (``--readers G:P1,P2`` limits G's members to the events of providers P1 and P2);
* *controller*: everything a reader may, plus start/stop/update/flush sessions, add
  manifests and send control requests to providers (permit, block, decide...);
* *provider*: register a provider under a name that is not reserved.

Root and the hub's own uid hold every role, and only they may register (or add a
manifest for) a reserved name: the built-in providers', any installed provider's and
every name starting with ``wfptrace-``. Anyone who reaches the socket may say hello;
the socket's mode and group (plus an ACL entry per other role group) keep everyone
else out, and these checks are the second line of defence.
"""

from __future__ import annotations

import errno
import grp
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .._catalog import installed_providers

__all__ = ["BUILTIN_PROVIDERS", "CONTROLLER", "PROVIDER", "READER", "ROLES", "Peer", "Policy",
           "peer_of", "reserved_names"]

READER, CONTROLLER, PROVIDER = "reader", "controller", "provider"
ROLES = (READER, CONTROLLER, PROVIDER)
#: Names only root may register: the installed providers and the hub's own.
BUILTIN_PROVIDERS = frozenset({"wfptrace-hub", "wfptrace-inspect", "wfptrace-msnmon",
                               "wfptrace-packets"})
RESERVED_PREFIX = "wfptrace-"

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


def reserved_names() -> frozenset[str]:
    """The built-in providers' names and every installed provider's name."""
    return BUILTIN_PROVIDERS | frozenset(installed_providers())


Groups = Iterable[str | int]


class Policy:
    """The hub's roles: which groups hold which role; root and the owner hold all."""

    def __init__(self, group: str | int | None = None, owner_uid: int | None = None, *,
                 readers: Groups = (), controllers: Groups = (), providers: Groups = (),
                 reserved: Iterable[str] | None = None) -> None:
        self.gid = _gid(group)
        self.group_name = _group_name(self.gid)
        shorthand = [self.gid] if self.gid is not None else []
        limited = dict(_read_limit(r) for r in readers)
        #: Reader groups limited to some providers' events: gid -> provider names.
        self.read_limits = {gid: names for gid, names in limited.items() if names is not None}
        self.members: dict[str, frozenset[int]] = {
            READER: frozenset([*shorthand, *limited]),
            CONTROLLER: frozenset([*shorthand, *_gids(controllers)]),
            PROVIDER: frozenset([*shorthand, *_gids(providers)]),
        }
        self.owner_uid = os.geteuid() if owner_uid is None else owner_uid
        self.reserved = reserved_names() if reserved is None else frozenset(reserved)

    # -- decisions ---------------------------------------------------------------------
    def is_root(self, peer: Peer) -> bool:
        """Root or the hub's own uid: every role, and the reserved names."""
        return peer.uid in (0, self.owner_uid)

    def has(self, peer: Peer, role: str) -> bool:
        """True if the peer holds ``role`` (a controller is also a reader)."""
        if self.is_root(peer):
            return True
        if role == READER and peer.groups & self.members[CONTROLLER]:
            return True
        return bool(peer.groups & self.members[role])

    def privileged(self, peer: Peer) -> bool:
        """True if the peer may control sessions (what the hello's ``privileged`` says)."""
        return self.has(peer, CONTROLLER)

    def roles_of(self, peer: Peer) -> list[str]:
        """The roles the peer holds, for messages."""
        return [role for role in ROLES if self.has(peer, role)]

    def readable(self, peer: Peer) -> frozenset[str] | None:
        """The providers whose events the peer may read; None for all of them."""
        if self.is_root(peer) or peer.groups & self.members[CONTROLLER]:
            return None
        mine = peer.groups & self.members[READER]
        if not mine or any(gid not in self.read_limits for gid in mine):
            return None if mine else frozenset()
        return frozenset().union(*(self.read_limits[gid] for gid in mine))

    def is_reserved(self, name: str) -> bool:
        """True for names only root may register: built-in, installed, ``wfptrace-*``."""
        return name in self.reserved or name.startswith(RESERVED_PREFIX)

    # -- messages ----------------------------------------------------------------------
    def holders(self, role: str) -> str:
        """Who holds ``role``, in words."""
        gids = set(self.members[role])
        if role == READER:
            gids |= self.members[CONTROLLER]
        owner = "root" if self.owner_uid == 0 else f"root, uid {self.owner_uid}"
        if not gids:
            return owner
        names = ", ".join(sorted(self._group_text(g, role) for g in gids))
        return f"{owner} or members of group {names}"

    def _group_text(self, gid: int, role: str) -> str:
        limit = self.read_limits.get(gid) if role == READER else None
        if limit is None or gid in self.members[CONTROLLER]:
            return str(_group_name(gid))
        return f"{_group_name(gid)} (events of {', '.join(sorted(limit))} only)"

    def refusal(self, peer: Peer, operation: str, role: str = CONTROLLER) -> str:
        """The clear message a peer refused ``operation`` gets, naming the role needed."""
        held = ", ".join(self.roles_of(peer)) or "none"
        return (f"permission denied: {operation} needs the {role} role ({self.holders(role)}); "
                f"you are uid {peer.uid} with roles: {held}")

    def reserved_refusal(self, peer: Peer, operation: str, name: str) -> str:
        """The message for a non-root peer using a reserved provider name."""
        return (f"permission denied: {operation} of {name} needs root: {name} is a reserved "
                f"provider name (built-in, installed or wfptrace-*); you are uid {peer.uid}")

    # -- the socket ----------------------------------------------------------------------
    def socket_gid(self) -> int | None:
        """The group owning the socket: ``--group``'s, else the first role group."""
        if self.gid is not None:
            return self.gid
        every = sorted(self.all_gids())
        return every[0] if every else None

    def socket_group_name(self) -> str | None:
        """The socket group's name, for messages."""
        return _group_name(self.socket_gid())

    def all_gids(self) -> frozenset[int]:
        """Every group holding some role."""
        return frozenset().union(*self.members.values())


def _read_limit(spec: str | int) -> tuple[int, frozenset[str] | None]:
    """``GROUP`` (every provider) or ``GROUP:P1,P2`` (those providers' events only)."""
    if isinstance(spec, int) or ":" not in spec:
        return _gids([spec])[0], None
    group, _, names = spec.partition(":")
    providers = frozenset(n.strip() for n in names.split(",") if n.strip())
    if not providers:
        from .._errors import ConfigError
        raise ConfigError(f"--readers {spec}: name at least one provider after the colon")
    return _gids([group])[0], providers


def _gids(groups: Groups) -> list[int]:
    return [gid for gid in map(_gid, groups) if gid is not None]


def _gid(group: str | int | None) -> int | None:
    if group is None or isinstance(group, int):
        return group
    if group.isdigit():
        return int(group)
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
