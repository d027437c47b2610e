"""Stall-open: a watchdog process that releases what a stuck interceptor holds.

An interceptor that is alive but stuck (suspended with SIGSTOP or Ctrl-Z,
deadlocked, a worker that stopped taking packets) keeps its queues bound, so the
kernel's ``--queue-bypass`` never applies and every queued flow stalls.
:class:`Watchdog` starts a small process of its own (see :mod:`._stallwatch`)
that shares the queues' netlink sockets and a heartbeat page. The interceptor's
packet loop calls :meth:`Watchdog.beat` every round (at least every
:data:`BEAT_S`); when the beat stops for ``stale_ms`` (or for two ticks while the
process is suspended: SIGSTOP, Ctrl-Z) with packets queued, the watchdog applies
the crash policy (accept, or drop when fail-closed) to all of them, and keeps
doing so every ``tick_ms`` while the stall lasts. An interceptor whose own
verdict is REPEAT with a mark (the monitor: its rules in ``mangle``, re-entered
past the queue rule) gives ``policy=REPEAT, mark=...``: the released packets then
walk every later rule as the interceptor's verdict would make them (note: the
kernel's batch verdict sets the whole packet mark, not some bits).

Once the loop runs again, :meth:`Watchdog.poll` returns a :class:`StallReport`
(what was released, how long) and tells each queue which ids were decided
already (:meth:`NfQueue.settled_upto`): their verdicts are not sent again, and
the kernel's ENOENT for a verdict that raced the watchdog is ignored.

Typical use (the inspector's worker, or :meth:`NfQueue.run`)::

    with Watchdog([q], policy=Verdict.ACCEPT) as dog:
        while serving:
            dog.beat()
            report = dog.poll()          # None unless the watchdog acted
            for pkt in q.receive():
                if q.is_settled(pkt.id):   # released during the stall
                    continue
                ...
"""

from __future__ import annotations

import contextlib
import mmap
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import _stallwatch as sw
from ._nfqueue import NfQueue
from ._packet import Verdict

__all__ = ["BEAT_S", "StallReport", "Watchdog"]

#: Longest a watched loop may wait between two beats when idle.
BEAT_S = 0.02
_SCRIPT = Path(sw.__file__).resolve()


@dataclass(frozen=True, slots=True)
class StallReport:
    """What the watchdog did since the last report.

    ``stalls``: stall episodes that began; ``packets``: packets released, per
    queue (in the order the queues were given); ``stall_ms``: time the loop
    was stuck in episodes that ended; ``policy``: the verdict applied.
    """

    stalls: int
    packets: tuple[int, ...]
    stall_ms: float
    policy: Verdict

    @property
    def total(self) -> int:
        """Packets released, all queues."""
        return sum(self.packets)


class Watchdog:
    """The stall watchdog of ``queues``; :meth:`start` (or ``with``) spawns its process."""

    def __init__(self, queues: Sequence[NfQueue], policy: Verdict = Verdict.ACCEPT,
                 stale_ms: float = 150.0, tick_ms: float = 10.0,
                 mark: int | None = None) -> None:
        if not 0 < len(queues) <= sw.MAX_QUEUES:
            raise ValueError(f"a watchdog watches 1..{sw.MAX_QUEUES} queues")
        if policy not in (Verdict.ACCEPT, Verdict.DROP, Verdict.REPEAT):
            raise ValueError("the stall policy is ACCEPT, DROP or REPEAT")
        if policy is Verdict.REPEAT and mark is None:
            raise ValueError("a REPEAT release needs the mark that stops a second queueing")
        self.queues = list(queues)
        self.policy = policy
        #: The packet mark given with the release (None: the packet keeps its own).
        self.mark = mark
        self.stale_ms, self.tick_ms = stale_ms, tick_ms
        self._fd = os.memfd_create("wfptrace-stallwatch", os.MFD_CLOEXEC)
        os.ftruncate(self._fd, sw.SIZE)
        self._mm = mmap.mmap(self._fd, sw.SIZE)
        sw.HEADER.pack_into(self._mm, 0, sw.MAGIC, 0, 0, len(self.queues), 0, 0, 0, 0, 0, 0)
        self._beats = 0
        self._epoch = 0
        self._seen = [0] * len(self.queues)
        self._stalls = 0
        self._stall_ns = 0
        #: Bumped whenever :meth:`poll` told a queue of newly settled ids.
        self.settled = 0
        self._tops: list[int | None] = [None] * len(self.queues)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Spawn the watchdog process (its own session: Ctrl-Z does not reach it)."""
        fds = [q.fileno() for q in self.queues]
        proc_fd = self.queues[0].counters_fd()
        if proc_fd < 0:
            raise OSError("the kernel's queue counters (nfnetlink_queue) are unreadable")
        argv = [sys.executable, "-I", "-S", str(_SCRIPT), str(self._fd), str(proc_fd),
                str(os.getpid()),
                self._policy_arg(), str(self.stale_ms), str(self.tick_ms),
                *(f"{fd}:{q.config.queue_num}" for fd, q in zip(fds, self.queues, strict=True))]
        self.proc = subprocess.Popen(argv, pass_fds=(self._fd, proc_fd, *fds),
                                     start_new_session=True, stdin=subprocess.DEVNULL)

    def _policy_arg(self) -> str:
        policy = str(int(self.policy))
        return policy if self.mark is None else f"{policy}/{self.mark}"

    @property
    def alive(self) -> bool:
        """True while the watchdog process runs."""
        return self.proc is not None and self.proc.poll() is None

    def beat(self) -> None:
        """The loop is alive: call every round, and at least every :data:`BEAT_S`."""
        self._beats = (self._beats + 1) & 0xFFFFFFFF or 1
        sw.WORD.pack_into(self._mm, sw.BEAT_OFF, self._beats)

    def poll(self) -> StallReport | None:
        """The stall episodes closed since the last call (None: none); settles the queues.

        Call from the thread that gives the queues' verdicts, before it receives.
        An episode is reported once the watchdog has seen the loop beat again,
        so the report holds every packet it released.
        """
        epoch = sw.WORD.unpack_from(self._mm, sw.EPOCH_OFF)[0]
        if epoch == self._epoch:
            return None
        records = [sw.QUEUE.unpack_from(self._mm, sw.queue_offset(i))
                   for i in range(len(self.queues))]
        for i, (q, (_num, top, covered, _total)) in enumerate(zip(self.queues, records,
                                                                   strict=True)):
            if covered and top != self._tops[i]:
                self._tops[i] = top
                q.settled_upto(top)
                self.settled += 1
        if sw.WORD.unpack_from(self._mm, sw.ACTIVE_OFF)[0]:
            return None  # still open: ask again next round
        self._epoch = epoch
        fields = sw.HEADER.unpack_from(self._mm, 0)
        stalls, stall_ns = fields[5], fields[6]
        packets = []
        for i, (_num, _top, _covered, total) in enumerate(records):
            packets.append(total - self._seen[i])
            self._seen[i] = total
        report = StallReport(stalls - self._stalls, tuple(packets),
                             (stall_ns - self._stall_ns) / 1e6, self.policy)
        self._stalls, self._stall_ns = stalls, stall_ns
        return report

    def close(self) -> None:
        """Stop the watchdog process (before the queues close); idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            sw.WORD.pack_into(self._mm, sw.STOP_OFF, 1)
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._fd >= 0:
            self._mm.close()
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Watchdog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
