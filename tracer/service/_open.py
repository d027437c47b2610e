"""Opening a client's log file with the client's own authority, never following a link.

The hub runs as root; a session's log file path comes from a group member. Checking
the path and then opening it as root is a race and a symlink trap (a member's link
to ``/etc/shadow`` got truncated), so the hub never opens such a path itself. Every
open a session's log needs (the first file, each rotation ``trace.N.jsonl``) goes
through a :class:`PeerOpener`, which forks a short-lived child that

1. drops to the peer's uid, gid and supplementary groups (setgroups/setresgid/setresuid),
   so the kernel applies the peer's own permissions to every directory and file;
2. walks the path one component at a time from ``/`` with ``O_PATH | O_DIRECTORY |
   O_NOFOLLOW`` and opens the last one with ``O_NOFOLLOW``: a symbolic link anywhere in
   the path (planted before or swapped in during the request) makes the open fail;
3. checks the opened descriptor (a regular file with exactly one link: no hard link to
   someone else's file, no FIFO or device) and only then truncates it;
4. passes the descriptor back over a socketpair (SCM_RIGHTS) and exits.

Why a per-open child rather than the client passing a descriptor: rotation opens new
files long after the request, while the client may be gone; a child per open also
works from the render worker process, and a filesystem that stalls the open (FUSE,
a hung NFS mount) costs the child's timeout, not the hub. A new file therefore
belongs to the peer (its uid and gid), which may read its own log.

Peers with the hub's own uid or root get no opener: the hub has no authority they
lack, and the log is opened as an embedded session would open it. A hub that does not
run as root cannot become another user, so it refuses log files for other members.
"""

from __future__ import annotations

import array
import contextlib
import errno
import os
import signal
import socket
import stat
import warnings
from pathlib import PurePosixPath

from ._access import Peer

__all__ = ["PeerOpener", "opener_for"]

#: How long an open may take before the child is killed and the open refused.
OPEN_TIMEOUT = 5.0
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Failures that are the peer being refused (traced as such), not a missing directory.
_REFUSALS = frozenset({errno.EACCES, errno.EPERM, errno.ELOOP, errno.ENXIO, errno.EMLINK})


def opener_for(peer: Peer) -> PeerOpener | None:
    """The opener for a peer's log files; None if the peer has at least the hub's authority
    (its own uid, or root), for which the hub opens the file as an embedded session would."""
    return None if peer.uid in (0, os.geteuid()) else PeerOpener(peer)


class PeerOpener:
    """``opener(path, flags) -> fd`` with the peer's credentials and no link following.

    Raises OSError with a message a user can act on; ``refused`` says whether an open
    was refused (permission, link, file type), which the hub traces as an access refusal.
    """

    def __init__(self, peer: Peer, timeout: float = OPEN_TIMEOUT) -> None:
        self.peer = peer
        self.timeout = timeout
        self.refused = False

    def __call__(self, path: str | os.PathLike[str], flags: int) -> int:
        path = os.fspath(path)
        self.refused = False
        if not os.path.isabs(path):
            raise OSError(errno.EINVAL, f"the hub needs an absolute log file path, not {path!r}")
        try:
            return self._in_child(path, flags)
        except OSError as exc:
            if exc.errno in _REFUSALS:
                self.refused = True
            raise

    def _in_child(self, path: str, flags: int) -> int:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = _fork()
            if pid == 0:
                ours.close()
                _child(theirs, self.peer, path, flags)  # never returns
            theirs.close()
            return _receive(ours, pid, path, self.timeout)
        finally:
            ours.close()
            theirs.close()


def _fork() -> int:
    """Fork with every signal blocked in the child, so none of the hub's handlers (SIGTERM:
    close the sessions) can run there; the timeout's SIGKILL still ends it."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    pid = -1
    try:
        with warnings.catch_warnings():  # 3.12+ warns about fork in threaded processes
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    finally:
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return pid


def _receive(sock: socket.socket, pid: int, path: str, timeout: float) -> int:
    """The descriptor the child sent, or its error as OSError; the child is always reaped."""
    sock.settimeout(timeout)
    try:
        msg, fds = _recv_fds(sock)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise OSError(errno.ETIMEDOUT, f"opening {path} took longer than {timeout:g} s") from None
    finally:
        os.waitpid(pid, 0)
    if fds and msg == b"ok":
        return fds[0]
    for fd in fds:
        os.close(fd)
    code, _, text = msg.decode(errors="replace").partition(" ")
    if not code.isdigit():
        raise OSError(errno.EIO, f"the opener for {path} failed without a reason")
    raise OSError(int(code), text)


def _recv_fds(sock: socket.socket) -> tuple[bytes, list[int]]:
    """One message and its descriptors, received close-on-exec (socket.recv_fds of
    Python 3.11 drops its flags argument)."""
    fds = array.array("i")
    msg, ancdata, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize),
                                      socket.MSG_CMSG_CLOEXEC)
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return msg, list(fds)


def _child(sock: socket.socket, peer: Peer, path: str, flags: int) -> None:
    """In the forked child: become the peer, open, check, send; exit without cleanup."""
    try:
        try:
            _become(peer)
            fd = _open_no_links(path, flags)
        except OSError as exc:
            sock.send(f"{exc.errno or errno.EIO} {exc.strerror or exc}".encode())
        else:
            socket.send_fds(sock, [b"ok"], [fd])
    finally:
        os._exit(0)


def _become(peer: Peer) -> None:
    try:
        os.setgroups(sorted(peer.groups))
        os.setresgid(peer.gid, peer.gid, peer.gid)
        os.setresuid(peer.uid, peer.uid, peer.uid)
    except OSError:
        raise OSError(errno.EPERM, f"the hub cannot open files as uid {peer.uid} "
                                   f"(it does not run as root)") from None


def _open_no_links(path: str, flags: int) -> int:
    """Open ``path`` (absolute) refusing any symlink in it; check the file; then truncate."""
    parts = PurePosixPath(path).parts[1:]
    if not parts:
        raise OSError(errno.EISDIR, f"{path} is a directory")
    dirfd = os.open("/", _DIR_FLAGS)
    try:
        walked = ""
        for part in parts[:-1]:
            walked += "/" + part
            nfd = _step(dirfd, part, walked)
            os.close(dirfd)
            dirfd = nfd
        fd = _open_last(dirfd, parts[-1], path, flags)
    finally:
        os.close(dirfd)
    try:
        _check(fd, path)
        if flags & os.O_TRUNC:
            os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
    except OSError:
        os.close(fd)
        raise
    return fd


def _step(dirfd: int, part: str, walked: str) -> int:
    try:
        return os.open(part, _DIR_FLAGS, dir_fd=dirfd)
    except OSError as exc:
        raise _explain(exc, dirfd, part, walked, "directory") from None


def _open_last(dirfd: int, name: str, path: str, flags: int) -> int:
    flags = (flags & ~os.O_TRUNC) | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        return os.open(name, flags, 0o640, dir_fd=dirfd)
    except OSError as exc:
        raise _explain(exc, dirfd, name, path, "file") from None


def _explain(exc: OSError, dirfd: int, name: str, shown: str, what: str) -> OSError:
    """A clear message: links are named as links, other errors keep the kernel's words."""
    if exc.errno == errno.ELOOP or _is_link(dirfd, name):  # O_NOFOLLOW met a link: ELOOP
        return OSError(errno.ELOOP, f"{shown} is a symbolic link (the hub follows no "
                                    f"links in log file paths)")
    if exc.errno == errno.ENXIO:
        return OSError(errno.ENXIO, f"{shown} is not a regular file")
    if exc.errno == errno.ENOTDIR and what == "directory":
        return OSError(errno.ENOTDIR, f"{shown} is not a directory")
    return OSError(exc.errno, f"{shown}: {exc.strerror}")


def _is_link(dirfd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _check(fd: int, path: str) -> None:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.ENXIO, f"{path} is not a regular file (the hub writes only "
                                   f"regular files)")
    if st.st_nlink == 0:
        raise OSError(errno.ENOENT, f"{path} was removed while the hub opened it")
    if st.st_nlink != 1:
        raise OSError(errno.EMLINK, f"{path} has {st.st_nlink} hard links (the hub writes "
                                    f"only files with one link)")
