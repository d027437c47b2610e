"""Who owns a socket inode: pid from ``/proc/*/fd``, then exe path and cmdline.

The scan is the slow part, so it is ordered to end early: processes that owned
sockets recently first, then the rest newest pid first (short-lived clients
are new). Every socket inode seen on the way is cached, and a cached answer
is checked with one ``readlink`` before it is trusted.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["OwnerStats", "ProcessInfo", "SocketOwners", "process_info"]


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A process as /proc shows it; ``exe`` is None when it cannot be read."""

    pid: int
    exe: str | None
    cmdline: tuple[str, ...]
    comm: str
    uid: int
    start: int

    @property
    def name(self) -> str:
        """Executable base name, or comm when the exe link is unreadable."""
        return os.path.basename(self.exe) if self.exe else self.comm


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _start_time(pid: int) -> int | None:
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    try:
        return int(stat.rsplit(b")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return None


def process_info(pid: int) -> ProcessInfo | None:
    """Read exe, cmdline, comm and uid of ``pid``; None if it is gone."""
    start = _start_time(pid)
    if start is None:
        return None
    exe = _exe(pid)
    raw = _read(f"/proc/{pid}/cmdline") or b""
    cmdline = tuple(a.decode("utf-8", "replace") for a in raw.split(b"\0") if a)
    comm = (_read(f"/proc/{pid}/comm") or b"").decode("utf-8", "replace").strip()
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    return ProcessInfo(pid, exe, cmdline, comm, uid, start)


@dataclass(slots=True)
class OwnerStats:
    """Counters of inode->pid resolution."""

    lookups: int = 0
    cache_hits: int = 0
    scans: int = 0
    fds_read: int = 0
    not_found: int = 0


class SocketOwners:
    """Maps socket inodes to owning pids with a bounded, validated cache."""

    def __init__(self, cache_size: int = 65536, recent: int = 64) -> None:
        self._cache: OrderedDict[int, tuple[int, int]] = OrderedDict()  # inode -> (pid, fd)
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._cache_size = cache_size
        self._recent_size = recent
        self._procs: OrderedDict[tuple[int, int], ProcessInfo] = OrderedDict()
        #: pid -> the fd number its last socket found had (a process opening connection
        #: after connection gets the same lowest free fd again: one readlink finds it).
        self._last_fd: dict[int, int] = {}
        self.stats = OwnerStats()

    def pid_of(self, inode: int, uid: int | None = None) -> int | None:
        """The pid holding socket ``inode`` (searching only ``uid``'s processes)."""
        self.stats.lookups += 1
        hit = self._cache.get(inode)
        if hit and self._still_owns(hit, inode):
            self.stats.cache_hits += 1
            return hit[0]
        self.stats.scans += 1
        pid = self._scan(f"socket:[{inode}]", uid)
        if pid is None:
            self.stats.not_found += 1
        return pid

    def process(self, pid: int) -> ProcessInfo | None:
        """ProcessInfo of ``pid``, cached per (pid, start time) and re-read when its
        executable changed (an exec keeps both)."""
        start = _start_time(pid)
        if start is None:
            return None
        info = self._procs.get((pid, start))
        if info is not None and info.exe != _exe(pid):
            info = None
        if info is None:
            info = process_info(pid)
            if info is None:
                return None
            self._procs[(pid, start)] = info
            if len(self._procs) > 4096:
                self._procs.popitem(last=False)
        return info

    def _still_owns(self, hit: tuple[int, int], inode: int) -> bool:
        try:
            return os.readlink(f"/proc/{hit[0]}/fd/{hit[1]}") == f"socket:[{inode}]"
        except OSError:
            return False

    def _candidates(self) -> Iterator[int]:
        """Recent owners first; /proc is listed only if none of them holds the socket
        (listing it costs more than the usual whole lookup)."""
        recent = list(reversed(self._recent))
        yield from recent
        seen = set(recent)
        others = sorted((int(e) for e in os.listdir("/proc") if e.isdigit()), reverse=True)
        yield from (p for p in others if p not in seen)

    def _hinted(self, target: str) -> int | None:
        """A recent owner holding ``target`` at the fd number of its last socket found."""
        for pid in list(reversed(self._recent))[:4]:
            fd = self._last_fd.get(pid)
            if fd is None:
                continue
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            self.stats.fds_read += 1
            if link == target:
                self._cache[int(target[8:-1])] = (pid, fd)
                return pid
        return None

    def _scan(self, target: str, uid: int | None) -> int | None:
        pid = self._hinted(target)
        if pid is not None:
            return pid
        for pid in self._candidates():
            if uid is not None and _uid_of(pid) not in (uid, None):
                continue
            if self._scan_pid(pid, target):
                self._remember(pid)
                return pid
        return None

    def _scan_pid(self, pid: int, target: str) -> bool:
        base = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(base)
        except OSError:
            self._recent.pop(pid, None)  # gone: stop trying it first
            self._last_fd.pop(pid, None)
            return False
        found = False
        for fd in fds:
            try:
                link = os.readlink(f"{base}/{fd}")
            except OSError:
                continue
            self.stats.fds_read += 1
            if link.startswith("socket:["):
                self._cache[int(link[8:-1])] = (pid, int(fd))
                if link == target:
                    found = True
                    self._last_fd[pid] = int(fd)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return found

    def _remember(self, pid: int) -> None:
        self._recent.pop(pid, None)
        self._recent[pid] = None
        while len(self._recent) > self._recent_size:
            gone, _ = self._recent.popitem(last=False)
            self._last_fd.pop(gone, None)


def _uid_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
