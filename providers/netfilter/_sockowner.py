"""Owner verdicts in the kernel: a socket of a known process is marked at creation.

A BPF_PROG_TYPE_CGROUP_SOCK program on the cgroup2 root (BPF_CGROUP_INET_SOCK_CREATE,
through a link) looks the creating process's tgid up in an LRU hash map and ORs the
value (mark bits) into the new socket's ``sk_mark``, for TCP sockets of one network
namespace only (``bpf_get_netns_cookie``). Locally generated packets take their
mark from the socket, so the SYN of such a socket already carries the verdict
and the firewall rules need not hold it. A process absent from the map gets no
mark: its SYN is held and decided in user space, which then calls
:meth:`OwnerCache.remember` so the process's next sockets are decided here.
A BPF_PROG_TYPE_SOCK_OPS program (same root, same namespace test) clears those
bits again when the connection is established, actively or passively (an accepted
socket inherits its listener's mark): only the SYN needed them, and every packet
whose mark the firewall rules clear is routed again, which a bulk transfer would
pay per packet.

A verdict describes an executable, so it must not outlive one: two raw
tracepoint programs delete the tgid's entry at ``sched_process_exec`` (the
process became another program) and ``sched_process_exit`` (of any of its
threads: conservative, the next connection is held once more), in the kernel,
before the new image runs or the pid can be reused. :meth:`remember` writes and
then checks the process still runs the executable that was judged, so an exec
or exit racing with the write cannot leave a stale entry. (The map is keyed by
tgid alone, not (tgid, comm): comm is truncated to 15 bytes, is the same for two
binaries of one name, and threads rename themselves, so it is not what decides.)

Everything is file descriptors of this process: closing them, or the process
dying (``kill -9``), detaches the programs. Needs root (CAP_BPF, CAP_NET_ADMIN,
CAP_SYS_ADMIN for the cgroup2 mount), a kernel with link-based cgroup attach
and SO_NETNS_COOKIE (5.14+) and the initial pid namespace (tgids are global);
:meth:`OwnerCache.open` raises :class:`BpfError`/:class:`OSError` otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import struct

from ._bpf import (
    Asm,
    BpfError,
    attached_prog_ids,
    create_map,
    link_create,
    load_prog,
    map_delete,
    map_lookup,
    map_update,
    prog_id_of,
    prog_info,
    raw_tracepoint_open,
)
from ._procinfo import ProcessInfo, _exe, _start_time

__all__ = ["PROG_NAME", "BpfError", "OwnerCache", "cgroup2_root", "sock_create_prog_ids"]

PROG_NAME = "wfpt_sockowner"
PROG_CGROUP_SOCK, PROG_RAW_TRACEPOINT = 9, 17
MAP_ARRAY, MAP_LRU_HASH = 2, 9
INET_SOCK_CREATE = 2
SO_NETNS_COOKIE = 71
_LOOKUP, _DELETE, _PID_TGID, _NETNS_COOKIE = 1, 3, 14, 122
_SETSOCKOPT, _GETSOCKOPT, _SO_MARK = 49, 57, 36
PROG_SOCK_OPS, SOCK_OPS = 13, 3
_ACTIVE_ESTABLISHED, _PASSIVE_ESTABLISHED = 4, 5
_SK_PROTOCOL, _SK_MARK = 12, 16  # struct bpf_sock
_TGID = struct.Struct("=I")
_MARK = struct.Struct("=I")
_COUNT = struct.Struct("=Q")
_MAX_PROCS = 16384
_R7 = 7


def _sock_create(verdicts: int, counter: int, netns_cookie: int, allowed: int) -> bytes:
    """OR the creator's verdict into a new TCP socket's mark (its namespace only)."""
    a = Asm()
    a.mov(a.R6, a.R1).ldx_w(a.R2, a.R6, _SK_PROTOCOL).jne_imm(a.R2, socket.IPPROTO_TCP, "out")
    a.mov(a.R1, a.R6).call(_NETNS_COOKIE).ld_imm64(a.R1, netns_cookie)
    a.jne_reg(a.R0, a.R1, "out")
    a.call(_PID_TGID).alu64_imm("rsh", a.R0, 32).stx_w(a.R10, -4, a.R0)
    a.ld_map(a.R1, verdicts).mov(a.R2, a.R10).alu64_imm("add", a.R2, -4).call(_LOOKUP)
    a.jeq_imm(a.R0, 0, "out")
    a.ldx_w(_R7, a.R0, 0).alu64_imm("and", _R7, allowed)
    a.ldx_w(a.R2, a.R6, _SK_MARK).or_reg(a.R2, _R7).stx_w(a.R6, _SK_MARK, a.R2)
    a.stx_w_imm(a.R10, -8, 0).ld_map(a.R1, counter).mov(a.R2, a.R10)
    a.alu64_imm("add", a.R2, -8).call(_LOOKUP).jeq_imm(a.R0, 0, "out")
    a.mov_imm(a.R1, 1).atomic_add_dw(a.R0, 0, a.R1)
    return a.label("out").mov_imm(a.R0, 1).exit().code()


def _unmark_established(bits: int, netns_cookie: int) -> bytes:
    """Clear ``bits`` from a TCP socket's mark once it is established (either side; its
    namespace only): only its SYN needed them, and a packet whose mark the firewall
    rules change is routed again (a cost per packet of a bulk transfer)."""
    a = Asm()
    a.mov(a.R6, a.R1).ldx_w(a.R2, a.R6, 0)  # bpf_sock_ops.op
    a.jeq_imm(a.R2, _ACTIVE_ESTABLISHED, "ns").jne_imm(a.R2, _PASSIVE_ESTABLISHED, "out")
    a.label("ns").mov(a.R1, a.R6).call(_NETNS_COOKIE).ld_imm64(a.R1, netns_cookie)
    a.jne_reg(a.R0, a.R1, "out")
    _sockopt(a, _GETSOCKOPT).jne_imm(a.R0, 0, "out")
    a.ldx_w(a.R1, a.R10, -4).mov(a.R2, a.R1).alu64_imm("and", a.R2, bits)
    a.jeq_imm(a.R2, 0, "out").alu64_imm("and", a.R1, ~bits).stx_w(a.R10, -4, a.R1)
    _sockopt(a, _SETSOCKOPT)
    return a.label("out").mov_imm(a.R0, 1).exit().code()


def _sockopt(a: Asm, helper: int) -> Asm:
    """bpf_{get,set}sockopt(ctx, SOL_SOCKET, SO_MARK, fp - 4, 4)."""
    a.mov(a.R1, a.R6).mov_imm(a.R2, socket.SOL_SOCKET).mov_imm(a.R3, _SO_MARK)
    return a.mov(4, a.R10).alu64_imm("add", 4, -4).mov_imm(5, 4).call(helper)


def _forget_current(verdicts: int) -> bytes:
    """Delete the current process's verdict (at exec and exit)."""
    a = Asm()
    a.call(_PID_TGID).alu64_imm("rsh", a.R0, 32).stx_w(a.R10, -4, a.R0)
    a.ld_map(a.R1, verdicts).mov(a.R2, a.R10).alu64_imm("add", a.R2, -4).call(_DELETE)
    return a.mov_imm(a.R0, 0).exit().code()


def _mountinfo_cgroup2() -> str | None:
    """The mount point of the cgroup2 hierarchy's root in this mount namespace."""
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if right.split()[:1] == ["cgroup2"] and len(fields) > 4 and fields[3] == "/":
                return fields[4].replace("\\040", " ")
    return None


def _detached_cgroup2() -> int:
    """A directory fd on a cgroup2 mount attached nowhere (``ip netns exec`` remounts
    /sys without the cgroup mounts): fsopen, fsmount, open its root."""
    libc = ctypes.CDLL(None, use_errno=True)
    fs = libc.syscall(430, b"cgroup2", 1)  # fsopen(FSOPEN_CLOEXEC)
    if fs < 0:
        raise OSError(ctypes.get_errno(), "fsopen cgroup2")
    try:
        if libc.syscall(431, fs, 6, None, None, 0) < 0:  # FSCONFIG_CMD_CREATE
            raise OSError(ctypes.get_errno(), "fsconfig cgroup2")
        mnt = libc.syscall(432, fs, 1, 0)  # fsmount(FSMOUNT_CLOEXEC)
        if mnt < 0:
            raise OSError(ctypes.get_errno(), "fsmount cgroup2")
    finally:
        os.close(fs)
    try:
        return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=mnt)
    finally:
        os.close(mnt)


def cgroup2_root() -> int:
    """A directory fd on the root of the cgroup2 hierarchy (found at run time)."""
    path = _mountinfo_cgroup2()
    if path is not None:
        with contextlib.suppress(OSError):
            return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return _detached_cgroup2()


def sock_create_prog_ids(name: str = PROG_NAME) -> list[int]:
    """Ids of the programs named ``name`` attached at socket creation on the cgroup2 root."""
    root = cgroup2_root()
    try:
        ids = attached_prog_ids(root, INET_SOCK_CREATE)
    finally:
        os.close(root)
    return [i for i in ids if (info := prog_info(i)) is not None and info[1] == name]


def _netns_cookie() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        (cookie,) = struct.unpack("=Q", s.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8))
    return int(cookie)


def _check_pid_namespace() -> None:
    with open("/proc/self/status") as f:
        nspid = next((line.split()[1:] for line in f if line.startswith("NSpid:")), [])
    if len(nspid) > 1:
        raise OSError(errno.EPERM, "not in the initial pid namespace (tgids differ)")


class OwnerCache:
    """The map, the programs and their links; verdicts are mark bits within ``allowed``."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self._fds: list[int] = []
        self.verdicts = self.counter = -1
        self.prog_id = 0

    def _keep(self, fd: int) -> int:
        self._fds.append(fd)
        return fd

    @classmethod
    def open(cls, allowed: int) -> OwnerCache:
        """Load and attach everything in the calling thread's network namespace."""
        _check_pid_namespace()
        cookie = _netns_cookie()
        cache = cls(allowed)
        try:
            cache._attach(cookie)
        except BaseException:
            cache.close()
            raise
        return cache

    def _attach(self, cookie: int) -> None:
        self.verdicts = self._keep(create_map(MAP_LRU_HASH, 4, 4, _MAX_PROCS, b"wfpt_owners"))
        self.counter = self._keep(create_map(MAP_ARRAY, 4, 8, 1, b"wfpt_premarked"))
        forget = _forget_current(self.verdicts)
        for point in (b"sched_process_exec", b"sched_process_exit"):
            prog = self._keep(load_prog(PROG_RAW_TRACEPOINT, forget, b"wfpt_forget"))
            self._keep(raw_tracepoint_open(prog, point))
        code = _sock_create(self.verdicts, self.counter, cookie, self.allowed)
        prog = self._keep(load_prog(PROG_CGROUP_SOCK, code, PROG_NAME.encode(),
                                    INET_SOCK_CREATE))
        ops = self._keep(load_prog(PROG_SOCK_OPS, _unmark_established(self.allowed, cookie),
                                   b"wfpt_unmark", SOCK_OPS))
        root = cgroup2_root()
        try:
            self._keep(link_create(ops, root, SOCK_OPS))
            self._keep(link_create(prog, root, INET_SOCK_CREATE))
        finally:
            os.close(root)
        self.prog_id = prog_id_of(prog)

    def remember(self, proc: ProcessInfo, mark: int) -> bool:
        """Decide ``proc``'s later sockets in the kernel; False if it changed meanwhile
        (exec'd or exited: the entry is removed again, its next SYN is held)."""
        key = _TGID.pack(proc.pid)
        map_update(self.verdicts, key, _MARK.pack(mark & self.allowed))
        if _start_time(proc.pid) != proc.start or _exe(proc.pid) != proc.exe:
            map_delete(self.verdicts, key)
            return False
        return True

    def verdict(self, tgid: int) -> int | None:
        """The mark bits cached for ``tgid``, None when it has none."""
        raw = map_lookup(self.verdicts, _TGID.pack(tgid), 4)
        return None if raw is None else int(_MARK.unpack(raw)[0])

    @property
    def premarked(self) -> int:
        """Sockets the kernel marked so far (their SYNs were not held)."""
        raw = map_lookup(self.counter, b"\0\0\0\0", 8)
        return 0 if raw is None else int(_COUNT.unpack(raw)[0])

    def describe(self) -> str:
        """One line for the monitor's state event."""
        return (f"in the kernel (cgroup program {self.prog_id}): a process's sockets after its "
                "first held SYN are decided at creation")

    def close(self) -> None:
        """Detach and free everything (links first)."""
        for fd in reversed(self._fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []

    def __enter__(self) -> OwnerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

