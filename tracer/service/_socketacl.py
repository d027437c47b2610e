"""Letting several role groups reach the hub's socket: a POSIX ACL with one entry per group.

A socket file has one owning group; members of the other role groups need an ACL
entry to connect (connect() needs write permission on the socket file). The ACL is
written as the kernel's ``system.posix_acl_access`` attribute, so no tool is needed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable

__all__ = ["grant_groups"]

_VERSION = 2
_USER_OBJ, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x04, 0x08, 0x10, 0x20
_UNDEFINED = 0xFFFFFFFF
_ENTRY = struct.Struct("<HHI")
XATTR = "system.posix_acl_access"


def grant_groups(path: str | os.PathLike[str], gids: Iterable[int]) -> None:
    """Give each group in ``gids`` the socket's group permissions (raises OSError if the
    file system has no ACLs)."""
    mode = os.stat(path).st_mode
    owner, group, other = (mode >> 6) & 7, (mode >> 3) & 7, mode & 7
    entries = [(_USER_OBJ, owner, _UNDEFINED), (_GROUP_OBJ, group, _UNDEFINED)]
    entries += [(_GROUP, group, gid) for gid in sorted(set(gids))]
    entries += [(_MASK, group, _UNDEFINED), (_OTHER, other, _UNDEFINED)]
    blob = struct.pack("<I", _VERSION) + b"".join(_ENTRY.pack(*e) for e in entries)
    os.setxattr(path, XATTR, blob)


def acl_groups(path: str | os.PathLike[str]) -> dict[int, int]:
    """The named-group entries of a file's ACL: gid -> permission bits (for checks)."""
    try:
        blob = os.getxattr(path, XATTR)
    except OSError:
        return {}
    out = {}
    for off in range(4, len(blob), _ENTRY.size):
        tag, perm, ident = _ENTRY.unpack_from(blob, off)
        if tag == _GROUP:
            out[ident] = perm
    return out
