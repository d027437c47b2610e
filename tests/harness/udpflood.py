"""A fast UDP sender for tests and benchmarks: sendmmsg() through ctypes.

Run as a script (usually inside a namespace)::

    python udpflood.py DST PORT --seconds 3 [--rate PPS] [--size 64] [--count N] [--cpu C]

Prints one JSON line ``{"sent": N, "elapsed": S}`` when done. Without
``--rate`` it sends as fast as it can; with it, bursts are paced to the rate.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import socket
import sys
import time

MSG_DONTWAIT = 0x40


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_IoVec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", _MsgHdr), ("len", ctypes.c_uint)]


def _batch(size: int, burst: int) -> tuple[ctypes.Array, object]:
    payload = ctypes.create_string_buffer(b"x" * size, size)
    iov = _IoVec(ctypes.addressof(payload), size)
    msgs = (_MMsgHdr * burst)()
    for m in msgs:
        m.hdr.iov = ctypes.pointer(iov)
        m.hdr.iovlen = 1
    return msgs, (payload, iov)


def flood(dst: str, port: int, seconds: float, rate: float | None, size: int,
          count: int | None, burst: int = 32) -> tuple[int, float]:
    """Send datagrams to a connected UDP socket; return (sent, elapsed).

    Never blocks: a full send buffer is retried until the time is up."""
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    with contextlib.suppress(OSError):  # SO_SNDBUFFORCE: root may exceed wmem_max
        sock.setsockopt(socket.SOL_SOCKET, 32, 64 << 20)
    sock.connect((dst, port))
    libc = ctypes.CDLL(None, use_errno=True)
    msgs, _keep = _batch(size, burst)
    fd, sent = sock.fileno(), 0
    limit = count if count is not None else 1 << 62
    start = time.perf_counter()
    end = start + seconds
    while sent < limit:
        now = time.perf_counter()
        if now >= end:
            break
        if rate and sent > (now - start) * rate:
            time.sleep(min(0.0005, sent / rate - (now - start)))
            continue
        n = libc.sendmmsg(fd, msgs, min(burst, limit - sent), MSG_DONTWAIT)
        if n > 0:
            sent += n
    return sent, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--rate", type=float)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--count", type=int)
    p.add_argument("--cpu", type=int, help="pin the sender to this CPU")
    a = p.parse_args(argv)
    if a.cpu is not None:
        os.sched_setaffinity(0, {a.cpu})
    sent, elapsed = flood(a.dst, a.port, a.seconds, a.rate, a.size, a.count)
    print(json.dumps({"sent": sent, "elapsed": elapsed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
