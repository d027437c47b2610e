"""Live capture from an interface with an AF_PACKET socket, optionally in a network
namespace and behind a classic BPF filter attached in the kernel (SO_ATTACH_FILTER).

The namespace is entered only around socket creation (``setns`` on this thread, then
back), so the rest of the process stays where it was. Needs CAP_NET_RAW (root).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from ._bpf import Insn, compile_filter

__all__ = ["LiveSource", "in_netns"]

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def in_netns(name: str | None):
    """Run the body with this thread in network namespace ``name`` (/var/run/netns/NAME)."""
    if not name:
        yield
        return
    target = os.open(Path("/var/run/netns") / name, os.O_RDONLY)
    home = os.open(f"/proc/self/task/{_gettid()}/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def _gettid() -> int:
    return _libc.syscall(186)  # SYS_gettid on x86-64


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _attach(sock: socket.socket, insns: list[Insn]) -> None:
    blob = b"".join(struct.pack("HBBI", *i) for i in insns)
    buf = ctypes.create_string_buffer(blob)
    prog = struct.pack("HL", len(insns), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)


class LiveSource:
    """Frames captured on ``iface`` (Ethernet framing), until :meth:`close` or ``limit``."""

    def __init__(self, iface: str, *, netns: str | None = None, bpf: str | None = None,
                 insns: list[Insn] | None = None, snaplen: int = 65535,
                 limit: int | None = None, timeout_s: float | None = None) -> None:
        self.name = f"{netns + ':' if netns else ''}{iface}"
        if bpf is not None:
            insns = compile_filter(bpf, 1, snaplen)
        with in_netns(netns):
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            if insns:
                _attach(self._sock, insns)
            self._sock.bind((iface, 0))
        except OSError:
            self._sock.close()
            raise
        self._sock.settimeout(0.1)
        self._snaplen = snaplen
        self._limit = limit
        self._deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self._closed = False

    def __iter__(self) -> Iterator[tuple[int, int, bytes, int, int]]:
        buf = bytearray(self._snaplen)
        count = 0
        while not self._closed and (self._limit is None or count < self._limit):
            if self._deadline is not None and time.monotonic() > self._deadline:
                return
            try:
                n = self._sock.recv_into(buf, self._snaplen, socket.MSG_TRUNC)
            except TimeoutError:
                continue
            except OSError:
                if self._closed:
                    return
                raise
            cap = min(n, self._snaplen)
            count += 1
            yield 1, time.time_ns(), bytes(buf[:cap]), n, 0

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
