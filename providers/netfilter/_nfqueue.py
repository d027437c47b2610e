"""NFQUEUE client over raw netlink (``NETLINK_NETFILTER``), pure Python.

Binds one queue in packet-copy mode, receives packets in batches (non-blocking
drain after the first one), and answers a whole batch with one send: a single
``NFQNL_MSG_VERDICT_BATCH`` for the accepted run plus one ``NFQNL_MSG_VERDICT``
per packet that is dropped, repeated, re-marked or rewritten.

A stall watchdog (:mod:`._watchdog`) may give verdicts on the same socket while
this process is stuck; :meth:`NfQueue.settled_upto` then records which ids it
decided, so their verdicts are not sent twice, and the kernel's ENOENT for a
verdict that raced it is counted as ``stale_verdicts``, not as an error.

The queue lives in the network namespace of the thread that opens it.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from . import _netlink as nl
from ._config import (
    MAX_COPY_RANGE,
    NFQA_CFG_F_CONNTRACK,
    NFQA_CFG_F_FAIL_OPEN,
    NFQA_CFG_F_GSO,
    NFQA_CFG_F_UID_GID,
    QueueConfig,
)
from ._errors import NetlinkError, QueueBindError
from ._malloc import keep_heap
from ._packet import Packet, Verdict, parse_packet
from ._recvmmsg import MMsgReceiver, open_receiver
from ._stats import PROC_PATH, QueueStats, read_kernel_counters
from ._verdicts import accept_plan, batch_message, nfgen, verdict_message

__all__ = ["Handler", "NfQueue"]

if TYPE_CHECKING:
    from ._watchdog import StallReport, Watchdog

NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_CONFIG = 2

NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5

NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_COPY_PACKET = 2

_MSG_PACKET = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
# nlmsg len, type; first attribute's len, type; packet id (big-endian: ntohl it)
_FAST_HDR = struct.Struct("=IH14xHHI")

#: A packet handler returns a verdict now, or None to hold the packet and
#: give its verdict later with :meth:`NfQueue.verdict`.
Handler = Callable[[Packet], "Verdict | None"]


class NfQueue:
    """A bound NFQUEUE: receive packets, send verdicts. Use as a context manager.

    Typical use::

        with NfQueue(QueueConfig(queue_num=3)) as q:
            q.run(lambda pkt: Verdict.ACCEPT, stop=event)
    """

    def __init__(self, config: QueueConfig | None = None) -> None:
        self.config = config or QueueConfig()
        self._stats = QueueStats()
        self._seq = 0
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._last_id = 0
        #: Highest id a stall watchdog decided (None: none, or all of them are behind us).
        self._settled: int | None = None
        self._buf = bytearray(MAX_COPY_RANGE + 4096)
        self._view = memoryview(self._buf)
        self._proc_fd = -1
        self._mm: MMsgReceiver | None = None
        self._flags = 0
        #: False when conntrack info was asked for but the kernel cannot attach
        #: it (no CONFIG_NETFILTER_NETLINK_GLUE_CT); match ``--ctstate NEW`` in
        #: the rule instead to see only new flows.
        self.conntrack = self.config.conntrack
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nl.NETLINK_NETFILTER)
        try:
            self._open()
        except BaseException:
            self._sock.close()
            raise

    # -- setup -------------------------------------------------------------
    def _open(self) -> None:
        cfg = self.config
        if not 0 <= cfg.queue_num <= 0xFFFF:
            raise ValueError(f"queue_num out of range: {cfg.queue_num}")
        if not 0 < cfg.copy_range <= MAX_COPY_RANGE:
            raise ValueError(f"copy_range must be 1..{MAX_COPY_RANGE}: {cfg.copy_range}")
        self._sock.bind((0, 0))
        self._set_rcvbuf(cfg.rcvbuf)
        self._config(nl.attr(NFQA_CFG_CMD, struct.pack(">BxH", NFQNL_CFG_CMD_BIND, 0)), "bind")
        self._config(nl.attr(NFQA_CFG_PARAMS, struct.pack(">IB", cfg.copy_range,
                                                          NFQNL_COPY_PACKET)), "params")
        self._config(nl.attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack(">I", cfg.max_len)), "maxlen")
        self._set_flags(cfg.flags)
        self._sock.setblocking(False)
        if cfg.keep_heap:
            keep_heap()
        if cfg.recvmmsg:
            self._mm = open_receiver(self._sock.fileno(), cfg.copy_range + 4096, 64)
        try:
            self._proc_fd = os.open(PROC_PATH, os.O_RDONLY)
        except OSError:
            self._proc_fd = -1

    def _set_flags(self, flags: int) -> None:
        """Apply queue flags; without kernel ct glue, drop the conntrack flag."""
        mask = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO | NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_UID_GID
        try:
            self._config(nl.attr(NFQA_CFG_FLAGS, struct.pack(">I", flags))
                         + nl.attr(NFQA_CFG_MASK, struct.pack(">I", mask)), "flags")
            self._flags = flags
        except QueueBindError as exc:
            if exc.errno != errno.EOPNOTSUPP or not flags & NFQA_CFG_F_CONNTRACK:
                raise
            self._set_flags(flags & ~NFQA_CFG_F_CONNTRACK)
            self.conntrack = False

    def set_fail_open(self, on: bool) -> None:
        """Change what a full queue does (accept or drop) while packets flow.

        Sent without an ack request: the queue's packets share the socket, so an
        ack would be read among them; an error reply is counted in
        ``verdict_errors`` by the receive path.
        """
        if on == bool(self._flags & NFQA_CFG_F_FAIL_OPEN):
            return
        self._flags = self._flags | NFQA_CFG_F_FAIL_OPEN if on else \
            self._flags & ~NFQA_CFG_F_FAIL_OPEN
        self._seq += 1
        body = (nfgen(self.config.queue_num)
                + nl.attr(NFQA_CFG_FLAGS, struct.pack(">I", self._flags))
                + nl.attr(NFQA_CFG_MASK, struct.pack(">I", NFQA_CFG_F_FAIL_OPEN)))
        kind = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG
        self._send(nl.message(kind, nl.NLM_F_REQUEST, self._seq, body), 0)

    @property
    def fail_open(self) -> bool:
        """True while a full queue accepts instead of dropping."""
        return bool(self._flags & NFQA_CFG_F_FAIL_OPEN)

    def _set_rcvbuf(self, size: int) -> None:
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, 33, size)  # SO_RCVBUFFORCE
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)

    def _config(self, attrs: bytes, what: str) -> None:
        self._seq += 1
        kind = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG
        body = nfgen(self.config.queue_num) + attrs
        nl.request(self._sock, kind, 0, self._seq, body,
                   f"nfqueue {self.config.queue_num} {what}", QueueBindError)

    # -- receive -----------------------------------------------------------
    def fileno(self) -> int:
        """The netlink socket's fd (readable when packets wait), for event loops."""
        return self._sock.fileno()

    def counters_fd(self) -> int:
        """The open ``nfnetlink_queue`` file of this queue's namespace (-1: unavailable)."""
        return self._proc_fd

    def wait(self, timeout: float | None) -> bool:
        """Block until a packet is readable or ``timeout`` seconds pass."""
        ready, _, _ = select.select([self._sock], [], [], timeout)
        return bool(ready)

    def receive(self, limit: int | None = None) -> list[Packet]:
        """Drain up to ``limit`` waiting packets without blocking (maybe none)."""
        limit = limit or self.config.batch_size
        out = self._receive_mmsg(limit) if self._mm else self._receive_each(limit)
        if out:
            self._stats.batches += 1
            self._stats.packets += len(out)
            self._track_ids(out)
            if self._settled is not None:
                self._count_settled(out)
        return out

    # -- ids a stall watchdog decided ----------------------------------------------
    def settled_upto(self, top: int) -> list[int]:
        """Every queued id up to ``top`` got its verdict elsewhere (the stall watchdog).

        Held ids up to ``top`` are no longer held; they are returned. Later
        verdicts for such ids are not sent.
        """
        self._settled = top
        with self._lock:
            gone = [i for i in self._held if _not_after(i, top)]
            self._held.difference_update(gone)
        return sorted(gone)

    def is_settled(self, pkt_id: int) -> bool:
        """True if the stall watchdog already gave this packet its verdict."""
        top = self._settled
        return top is not None and _not_after(pkt_id, top)

    def _count_settled(self, batch: list[Packet]) -> None:
        top = self._settled
        assert top is not None
        if not _not_after(batch[0].id, top):
            self._settled = None  # ids only grow: no older one comes from the kernel again
            return
        self._stats.stall_settled += sum(1 for p in batch if _not_after(p.id, top))

    def _receive_mmsg(self, limit: int) -> list[Packet]:
        mm = self._mm
        assert mm is not None
        buf, view, slot = mm.buf, memoryview(mm.buf), mm.slot
        unpack_hdr, ntohl = _FAST_HDR.unpack_from, socket.ntohl
        out: list[Packet] = []
        append = out.append
        while len(out) < limit:
            try:
                k = mm.recv(limit - len(out))
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self._stats.enobufs += 1
                continue
            if not k:
                break
            off = 0
            for n in mm.lengths(k):
                length, kind, alen, atype, pid = unpack_hdr(buf, off)
                if length == n and kind == _MSG_PACKET and atype == 1 and alen >= 11:
                    append(Packet(ntohl(pid), buf[off + 20:off + n]))
                else:
                    self._parse(view[off:off + n], n, out)
                off += slot
        return out

    def _receive_each(self, limit: int) -> list[Packet]:
        recv_into = self._sock.recv_into
        buf, view, stats = self._buf, self._view, self._stats
        unpack_hdr, ntohl = _FAST_HDR.unpack_from, socket.ntohl
        out: list[Packet] = []
        append = out.append
        while len(out) < limit:
            try:
                n = recv_into(buf)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    stats.enobufs += 1
                    continue
                raise
            # Fast path: one packet per datagram, NFQA_PACKET_HDR first, as the
            # kernel sends them; anything else takes the careful path.
            if n >= 31:
                length, kind, alen, atype, pid = unpack_hdr(buf, 0)
                if length == n and kind == _MSG_PACKET and atype == 1 and alen >= 11:
                    append(Packet(ntohl(pid), buf[20:n]))
                    continue
            self._parse(view, n, out)
        return out

    def _track_ids(self, batch: list[Packet]) -> None:
        """Count ids the kernel assigned but never delivered (gaps in the sequence)."""
        first, last = batch[0].id, batch[-1].id
        if self._last_id and first > self._last_id + 1:
            self._stats.id_gaps += first - self._last_id - 1
        inner = last - first + 1 - len(batch)
        if inner > 0:
            self._stats.id_gaps += inner
        self._last_id = last

    def _parse(self, view: memoryview, n: int, out: list[Packet]) -> None:
        """Careful path: any number of messages, each checked; bad ones counted."""
        used = 0
        for kind, _flags, _seq, body, end in nl.iter_messages(view, n):
            used = end
            if kind == _MSG_PACKET:
                pkt = parse_packet(view, body + 4, end)
                if pkt is None:
                    self._stats.malformed += 1
                    continue
                out.append(pkt)
            elif kind == nl.NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", view, body)
                if err == -errno.ENOENT:  # a verdict for an id decided already
                    self._stats.stale_verdicts += 1
                elif err:
                    self._stats.verdict_errors += 1
            else:
                self._stats.malformed += 1
        if nl.align(used) < n:  # truncated or garbage tail
            self._stats.malformed += 1

    # -- verdicts ----------------------------------------------------------
    def verdicts(self, decided: Iterable[tuple[Packet, Verdict]],
                 mark: dict[int, int] | None = None,
                 payload: dict[int, bytes] | None = None) -> None:
        """Send verdicts for many packets in one netlink send.

        Accepted packets without a new mark or payload go into one batch
        message, as long as no held packet has a lower id (a batch verdict
        covers every queued id up to its own, so packets received earlier and
        neither answered nor held are accepted too). ``mark``/``payload`` map
        packet ids to a new mark or a rewritten payload (the caller fixes
        checksums).
        """
        mark = mark or {}
        payload = payload or {}
        if self._settled is not None:
            decided = [(p, v) for p, v in decided if not self.is_settled(p.id)]
        parts: list[bytes] = []
        accepted: list[int] = []
        stats = self._stats
        for pkt, verdict in decided:
            pid = pkt.id
            if verdict == Verdict.ACCEPT and pid not in mark and pid not in payload:
                accepted.append(pid)
                stats.accepted += 1
                continue
            parts.append(self._verdict_msg(pid, verdict, mark.get(pid), payload.get(pid)))
        if accepted:
            parts.extend(self._accept_msgs(accepted))
        if parts:
            self._send(b"".join(parts), len(parts))

    def verdict(self, pkt: Packet | int, verdict: Verdict, *, mark: int | None = None,
                payload: bytes | None = None) -> None:
        """Give one packet (held or just received) its verdict right away."""
        pid = pkt if isinstance(pkt, int) else pkt.id
        if self.is_settled(pid):
            with self._lock:
                self._held.discard(pid)
            return
        msg = self._verdict_msg(pid, verdict, mark, payload)  # may raise: still held
        with self._lock:
            self._held.discard(pid)
        self._send(msg, 1)

    def hold(self, pkt: Packet) -> None:
        """Mark a packet as held: later batch verdicts will not cover it."""
        with self._lock:
            self._held.add(pkt.id)
        self._stats.held += 1

    def _accept_msgs(self, ids: list[int]) -> list[bytes]:
        with self._lock:
            floor = min(self._held) if self._held else None
        top, singles = accept_plan(ids, floor)
        q = self.config.queue_num
        msgs = [batch_message(q, top, Verdict.ACCEPT)] if top is not None else []
        return msgs + [verdict_message(q, i, Verdict.ACCEPT) for i in singles]

    def _verdict_msg(self, pid: int, verdict: Verdict, mark: int | None,
                     payload: bytes | None) -> bytes:
        msg = verdict_message(self.config.queue_num, pid, verdict, mark, payload)
        self._count(verdict, payload)
        return msg

    def _count(self, verdict: Verdict, payload: bytes | None) -> None:
        stats = self._stats
        if payload is not None:
            stats.rewritten += 1
        if verdict == Verdict.ACCEPT:
            stats.accepted += 1
        elif verdict == Verdict.DROP:
            stats.dropped += 1
        elif verdict == Verdict.REPEAT:
            stats.repeated += 1

    def _send(self, data: bytes, messages: int) -> None:
        while True:
            try:
                self._sock.send(data)
                break
            except BlockingIOError:
                select.select([], [self._sock], [], 0.1)
        self._stats.verdict_messages += messages

    # -- loop --------------------------------------------------------------
    def run(self, handler: Handler, stop: threading.Event | None = None,
            default: Verdict = Verdict.ACCEPT, poll: float = 0.1,
            duration: float | None = None, watchdog: Watchdog | None = None,
            on_stall: Callable[[StallReport], None] | None = None) -> None:
        """Call ``handler`` on every packet and answer each batch in one send.

        Returns when ``stop`` is set or after ``duration`` seconds. A handler
        that raises costs the packet the ``default`` verdict (counted in
        ``handler_errors``); returning None holds the packet. With a started
        ``watchdog`` the loop beats every round (waiting at most its
        ``BEAT_S``), packets it released while the loop was stuck are skipped,
        and ``on_stall`` gets each :class:`StallReport`.
        """
        deadline = None if duration is None else time.monotonic() + duration
        if watchdog is not None:
            from ._watchdog import BEAT_S

            poll = min(poll, BEAT_S)
        while not (stop is not None and stop.is_set()):
            if deadline is not None and time.monotonic() >= deadline:
                return
            if watchdog is not None:
                watchdog.beat()
                report = watchdog.poll()
                if report is not None and on_stall is not None:
                    on_stall(report)
            batch = self.receive()
            if self._settled is not None:
                batch = [p for p in batch if not self.is_settled(p.id)]
            if not batch:
                self.wait(poll)
                continue
            self.verdicts(self._decide(batch, handler, default))

    def _decide(self, batch: list[Packet], handler: Handler,
                default: Verdict) -> list[tuple[Packet, Verdict]]:
        decided = []
        for pkt in batch:
            try:
                verdict = handler(pkt)
            except Exception:
                self._stats.handler_errors += 1
                verdict = default
            if verdict is None:
                self.hold(pkt)
            else:
                decided.append((pkt, verdict))
        return decided

    def accept_all(self, batch: list[Packet]) -> None:
        """Accept a received batch with a single batch verdict (the fast path).

        Ids grow in delivery order, so the batch's last id covers it whole; it
        also covers earlier packets still queued unless they are held.
        """
        if self._settled is not None and self.is_settled(batch[0].id):
            batch = [p for p in batch if not self.is_settled(p.id)]
        if not batch:
            return
        self._stats.accepted += len(batch)
        if self._held:
            msgs = self._accept_msgs([p.id for p in batch])
        else:
            msgs = [batch_message(self.config.queue_num, batch[-1].id, Verdict.ACCEPT)]
        self._send(b"".join(msgs), len(msgs))

    # -- stats and teardown -----------------------------------------------
    def stats(self) -> QueueStats:
        """A snapshot of our counters plus the kernel's counters for this queue."""
        kernel = None
        if self._proc_fd >= 0:
            kernel = read_kernel_counters(self._proc_fd, self.config.queue_num)
        return dataclasses.replace(self._stats, kernel=kernel)

    @property
    def held(self) -> frozenset[int]:
        """Ids of packets held for a later verdict."""
        with self._lock:
            return frozenset(self._held)

    def close(self, pending: Verdict = Verdict.ACCEPT) -> None:
        """Give held packets ``pending`` as verdict, unbind, close the socket."""
        if self._sock.fileno() < 0:
            return
        try:
            for pid in sorted(self.held):
                if not self.is_settled(pid):
                    self.verdict(pid, pending)
            self._sock.setblocking(True)
            self._sock.settimeout(1.0)
            self._config(nl.attr(NFQA_CFG_CMD, struct.pack(">BxH", NFQNL_CFG_CMD_UNBIND, 0)),
                         "unbind")
        except (OSError, NetlinkError):
            pass
        finally:
            self._sock.close()
            if self._proc_fd >= 0:
                os.close(self._proc_fd)
                self._proc_fd = -1

    def __enter__(self) -> NfQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _not_after(pkt_id: int, top: int) -> bool:
    """``pkt_id <= top`` in the kernel's 32-bit id sequence (which wraps)."""
    return ((top - pkt_id) & 0xFFFFFFFF) < 0x80000000
