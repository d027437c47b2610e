"""The stall watchdog process: releases what a stuck interceptor holds in its queues.

Runs as a separate, small process (``python -I -S _stallwatch.py ...``, stdlib
only, its own session) because a thread would stop with the interceptor: SIGSTOP
and Ctrl-Z stop every thread of a process. It shares with the interceptor:

- the NFQUEUE netlink sockets (inherited descriptors: the *same* sockets, so the
  same netlink portid, and the kernel accepts their verdicts);
- one page of shared memory (a memfd) laid out by :data:`HEADER` and
  :data:`QUEUE`: the interceptor bumps ``beat`` every round; the watchdog writes
  what it released.

Every ``tick`` it reads ``beat``. The interceptor is stuck when the beat has not
moved (after the first beat) for ``stale``, or for two ticks while the
interceptor is stopped (SIGSTOP, Ctrl-Z, a debugger: state ``T``/``t`` in
``/proc/PID/stat``; so a suspension is handled at once, and a mere scheduling
delay under load needs the whole ``stale`` to count). Then, for each queue that
holds packets (``queue_total`` of ``/proc/net/netfilter/nfnetlink_queue``), it
sends one ``NFQNL_MSG_VERDICT_BATCH``
with the crash policy (accept, or drop) up to that queue's ``id_sequence``: the
kernel applies it to every queued id up to there, in id order. It repeats while
the stall lasts and records per queue the highest id it covered (``top``) and
the packets released, then bumps ``epoch``; ``active`` is 1 while a stall
episode is open (the interceptor reports an episode once it is closed).

When its parent dies it exits too (its copy of the sockets would otherwise keep
the queues bound), without losing a packet: it first sets each queue's length
to 0, so every new packet meets a "full" queue, which the fail-open flag
(policy accept) lets through and otherwise drops, then releases what is queued,
then closes (unbinding a queue drops what it still holds). When ``stop`` is
set it exits at once.
"""

from __future__ import annotations

import os
import select
import struct
import sys
import time

__all__ = ["HEADER", "MAGIC", "QUEUE", "SIZE", "WORD", "batch_verdict", "close_queue", "main",
           "queue_offset"]

MAGIC = 0x57465053  # "WFPS"
#: magic, beat, stop, nqueues, epoch, stalls, stall_ns, sweeps, send_errors, active
HEADER = struct.Struct("=IIIIIIQQII")
BEAT_OFF, STOP_OFF, EPOCH_OFF, ACTIVE_OFF = 4, 8, 16, 44
#: One 32-bit word of the header (beat, stop, epoch).
WORD = struct.Struct("=I")
#: queue_num, top id covered, covered (0/1), packets released
QUEUE = struct.Struct("=IIIQ")
_QUEUES_AT = 64
MAX_QUEUES = 64
SIZE = 4096

_NLMSG = struct.Struct("=IHHII")
_VERDICT_BATCH = (3 << 8) | 3  # NFNL_SUBSYS_QUEUE, NFQNL_MSG_VERDICT_BATCH
_CONFIG = (3 << 8) | 2  # NFQNL_MSG_CONFIG
_CFG_QUEUE_MAXLEN, _CFG_MASK, _CFG_FLAGS, _F_FAIL_OPEN = 3, 4, 5, 0x1
_NFQA_MARK = 3
#: Verdicts that let the packet go on (the policy "accept"): ACCEPT, REPEAT.
_PASSING = (1, 4)


def queue_offset(index: int) -> int:
    """Where queue ``index``'s record starts in the shared page."""
    return _QUEUES_AT + index * QUEUE.size


def batch_verdict(queue_num: int, top_id: int, verdict: int, mark: int | None = None) -> bytes:
    """NFQNL_MSG_VERDICT_BATCH: ``verdict`` for every queued id up to ``top_id``.

    With ``mark`` (NFQA_MARK) every released packet gets that packet mark: a
    REPEAT then walks the chain again as the interceptor's own verdict would.
    """
    body = (struct.pack("=BB", 0, 0) + struct.pack(">H", queue_num)
            + struct.pack("=HH", 12, 2) + struct.pack(">II", verdict, top_id & 0xFFFFFFFF))
    if mark is not None:
        body += struct.pack("=HH", 8, _NFQA_MARK) + struct.pack(">I", mark & 0xFFFFFFFF)
    return _NLMSG.pack(16 + len(body), _VERDICT_BATCH, 1, 0, 0) + body


def close_queue(queue_num: int, verdict: int) -> bytes:
    """NFQNL_MSG_CONFIG: queue length 0 and fail-open iff ``verdict`` accepts (no ack)."""
    flags = _F_FAIL_OPEN if verdict in _PASSING else 0
    body = (struct.pack("=BB", 0, 0) + struct.pack(">H", queue_num)
            + struct.pack("=HH", 8, _CFG_QUEUE_MAXLEN) + struct.pack(">I", 0)
            + struct.pack("=HH", 8, _CFG_FLAGS) + struct.pack(">I", flags)
            + struct.pack("=HH", 8, _CFG_MASK) + struct.pack(">I", _F_FAIL_OPEN))
    return _NLMSG.pack(16 + len(body), _CONFIG, 1, 0, 0) + body


def _queue_lines(proc_fd: int) -> dict[int, tuple[int, int]]:
    """queue_num -> (queue_total, id_sequence) for every bound queue."""
    out = {}
    for line in os.pread(proc_fd, 1 << 16, 0).split(b"\n"):
        parts = line.split()
        if len(parts) >= 8:
            out[int(parts[0])] = (int(parts[2]), int(parts[7]))
    return out


class _Watch:
    """The watchdog's state: the shared page, the sockets, the stall episode."""

    def __init__(self, mm: memoryview, proc_fd: int, socks: list[tuple[int, int]],
                 verdict: int, mark: int | None = None) -> None:
        self.mm, self.proc_fd, self.socks, self.verdict = mm, proc_fd, socks, verdict
        self.mark = mark
        self.stall_start: int | None = None

    def release(self) -> int:
        """Give every queued packet the policy verdict; record it; packets released."""
        lines = _queue_lines(self.proc_fd)
        released = 0
        mm = self.mm
        for i, (fd, num) in enumerate(self.socks):
            total, top = lines.get(num, (0, 0))
            if total <= 0:
                continue
            try:
                os.write(fd, batch_verdict(num, top, self.verdict, self.mark))
            except OSError:
                _add(mm, 40, "=I", 1)  # send_errors
                continue
            off = queue_offset(i)
            _, _, _, packets = QUEUE.unpack_from(mm, off)
            QUEUE.pack_into(mm, off, num, top, 1, packets + total)
            released += total
        if released:
            _add(mm, 32, "=Q", 1)  # sweeps
            _add(mm, EPOCH_OFF, "=I", 1)
        return released

    def orphaned(self) -> None:
        """The parent died: no packet may wait or be dropped by the unbind; then close."""
        for fd, num in self.socks:
            try:
                os.write(fd, close_queue(num, self.verdict))
            except OSError:
                _add(self.mm, 40, "=I", 1)
        self.release()
        for fd, _num in self.socks:
            os.close(fd)

    def stalled(self, now: int, since: int) -> None:
        """One tick of a stall (no beat since ``since``): release, count the episode."""
        if self.stall_start is None:
            WORD.pack_into(self.mm, ACTIVE_OFF, 1)  # before the release: no early report
        if self.release() and self.stall_start is None:
            self.stall_start = since
            _add(self.mm, 20, "=I", 1)  # stalls
            _add(self.mm, EPOCH_OFF, "=I", 1)
        elif self.stall_start is None:
            WORD.pack_into(self.mm, ACTIVE_OFF, 0)  # nothing was held

    def resumed(self, now: int) -> None:
        """The beat moved again: close the episode (its duration counted)."""
        if self.stall_start is not None:
            _add(self.mm, 24, "=Q", now - self.stall_start)
            self.stall_start = None
            WORD.pack_into(self.mm, ACTIVE_OFF, 0)
            _add(self.mm, EPOCH_OFF, "=I", 1)


def _add(mm: memoryview, off: int, fmt: str, n: int) -> None:
    (v,) = struct.unpack_from(fmt, mm, off)
    mask = (1 << (struct.calcsize(fmt) * 8)) - 1
    struct.pack_into(fmt, mm, off, (v + n) & mask)


def _suspended(stat_fd: int) -> bool:
    """True while the process is stopped (SIGSTOP, Ctrl-Z) or stopped by a tracer."""
    try:
        stat = os.pread(stat_fd, 512, 0)
    except OSError:
        return False
    return stat.rsplit(b")", 1)[-1].split()[:1] in ([b"T"], [b"t"])


def run(mm: memoryview, proc_fd: int, parent: int, socks: list[tuple[int, int]],
        verdict: int, stale_ns: int, tick: float, mark: int | None = None) -> int:
    """Watch until the parent dies (release, exit 0) or asks to stop (exit 0)."""
    watch = _Watch(mm, proc_fd, socks, verdict, mark)
    pidfd = os.pidfd_open(parent)
    stat_fd = os.open(f"/proc/{parent}/stat", os.O_RDONLY)
    beat_at = WORD
    last = beat_at.unpack_from(mm, BEAT_OFF)[0]
    changed = time.monotonic_ns()
    quick_ns = int(2 * tick * 1e9)
    while True:
        gone = select.select([pidfd], [], [], tick)[0]
        if beat_at.unpack_from(mm, STOP_OFF)[0]:
            return 0
        if gone:
            watch.orphaned()
            return 0
        now = time.monotonic_ns()
        beat = beat_at.unpack_from(mm, BEAT_OFF)[0]
        if beat != last:
            last, changed = beat, now
            watch.resumed(now)
        elif beat and (now - changed > stale_ns  # armed by the first beat
                       or (now - changed > quick_ns and _suspended(stat_fd))):
            watch.stalled(now, changed)


def main(argv: list[str]) -> int:
    """``_stallwatch.py SHM_FD PROC_FD PARENT_PID VERDICT[/MARK] STALE_MS TICK_MS FD:QUEUE...``.

    ``PROC_FD``: ``nfnetlink_queue`` opened in the queues' network namespace;
    ``MARK``: the packet mark given with the verdict (none: the mark is kept).
    """
    import mmap

    policy, _, mark_arg = argv[3].partition("/")
    mark = int(mark_arg) if mark_arg else None
    shm_fd, proc_fd, parent, verdict = (int(a) for a in (*argv[:3], policy))
    stale_ns, tick = int(float(argv[4]) * 1e6), float(argv[5]) / 1000
    socks = [(int(fd), int(num)) for fd, num in (a.split(":") for a in argv[6:])]
    mm = mmap.mmap(shm_fd, SIZE)
    try:
        if HEADER.unpack_from(mm, 0)[0] != MAGIC:
            print("stallwatch: bad shared page", file=sys.stderr)
            return 2
        return run(memoryview(mm), proc_fd, parent, socks, verdict, stale_ns, tick, mark)
    except ProcessLookupError:  # the parent died before we started: nothing to watch
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
