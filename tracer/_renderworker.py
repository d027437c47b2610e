"""A forked child process that renders a session's records and writes its log file.

Rendering a record as a JSON line costs more than emitting it, and under the GIL
a flush thread that renders competes with the threads that emit. With
``SessionConfig(render_worker=True)`` the flush thread only packs each batch of
records with msgpack (about a tenth of the cost of rendering in Python) and pipes
it to a child forked when the session starts; the child renders the lines exactly
as the in-process renderer would and writes them through the session's
:class:`LogFile`, which it inherited. On two or more cores emitting and rendering
then run in parallel. (With the C accelerator, rendering costs about as much as
msgpack in and out, and rendering in process is faster: measured in
``bench/tracing.py``.)

Accounting stays exact: a batch counts as pending until the child acknowledges
how many of its lines the file kept. If the child dies, everything it had not
acknowledged, and everything after, is counted lost and the reason is reported.
When the child falls behind (more than two batches unacknowledged), the flush
thread renders the next batch itself and sends the finished lines, so both cores
render while there is a backlog; the child still writes every line, in order.
Back-pressure is the pipe: when the child falls behind, the flush thread blocks
on it, the session's buffers fill and new events are dropped and counted, as
when a disk is slow.

The fork happens in the thread that starts the session, before the session's
flush thread exists. The child closes every inherited descriptor except its
pipes and the log file, ignores SIGINT/SIGTERM (it ends when the pipe closes, so
a Ctrl-C or a killed parent still leaves a complete file), and never returns
into the parent's code.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, BinaryIO

import msgspec

from ._errors import LogWriteError
from ._fields import TIME_FIELD, encode_default
from ._logfile import LogFile
from ._provider import EVENT_TABLE, EventType
from ._render import Renderer

__all__ = ["RenderWorker"]

_LEN = 4  # bytes of the little-endian length before every frame
_PIPE_SIZE = 1 << 20
_BATCH, _RAW, _FLUSH = 0, 1, 2  # frame kinds, parent -> child
_CLOSE_TIMEOUT = 60.0
_IGNORED = {signal.SIGINT, signal.SIGTERM}  # the child ends when its pipe closes

#: Called with (events, kept lines, extra lines) when the child acknowledges a batch.
AckHandler = Callable[[int, int, int], None]


def _type_descriptor(ev: EventType) -> tuple:
    """What the child needs to render an event type registered after the fork."""
    p = ev.provider
    return (ev.index, p.name, p.pid, p.local_threads, ev.name, ev.id, ev.level,
            list(ev.keyword_names), list(ev.fields), ev.template)


def _type_stub(desc: Sequence[Any]) -> SimpleNamespace:
    """A stand-in EventType (just the attributes the renderer reads)."""
    _, pname, pid, local, name, id_, level, keywords, fields, template = desc
    provider = SimpleNamespace(name=pname, pid=pid, local_threads=local)
    return SimpleNamespace(provider=provider, name=name, id=id_, level=level,
                           keyword_names=tuple(keywords), fields=tuple(fields),
                           template=template, timed=bool(fields) and fields[0] == TIME_FIELD)


def _thread_ids() -> dict[int, int]:
    """``threading.get_ident()`` -> OS thread id, for the threads alive now."""
    active = threading._active  # type: ignore[attr-defined]
    return {ident: t.native_id for ident, t in list(active.items()) if t.native_id}


def _write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(len(payload).to_bytes(_LEN, "little") + payload)
    while data:
        data = data[os.write(fd, data):]


def _read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame's payload from a buffered stream; None at the end."""
    head = stream.read(_LEN)
    if len(head) < _LEN:
        return None
    return stream.read(int.from_bytes(head, "little"))


class RenderWorker:
    """The parent's handle on the render child of one session."""

    def __init__(self, log: LogFile, renderer: Renderer, on_ack: AckHandler) -> None:
        self.renderer = renderer
        self.on_ack = on_ack
        self.error: str | None = None
        self.bytes_written = log.bytes_written
        self._encoder = msgspec.msgpack.Encoder(enc_hook=encode_default)
        self._lock = threading.Condition()
        self._write_lock = threading.Lock()
        self._batches: deque[tuple[int, int]] = deque()  # (events, extra lines) unacked
        self._pending = 0
        #: Events the parent rendered itself (the child was behind, or a value needed it).
        self.rendered_here = 0
        self._flushes_sent = 0
        self._flushes_done = 0
        self._known_types = len(EVENT_TABLE)
        self._dead = False
        self._reaped = False
        data_r, self._data_w = os.pipe()
        ack_r, ack_w = os.pipe()
        with contextlib.suppress(OSError):  # a bigger pipe: fewer wake-ups (Linux only)
            import fcntl
            fcntl.fcntl(self._data_w, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        # Ctrl-C and SIGTERM stay blocked across the fork, so the child can ignore them
        # before it could be hit; the parent gets its pending signals after.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _IGNORED)
        try:
            with warnings.catch_warnings():  # 3.12+ warns about fork in threaded processes:
                warnings.simplefilter("ignore", DeprecationWarning)  # the child is built for it
                try:
                    self.pid = os.fork()
                except OSError:  # e.g. EAGAIN: no process left under the limits
                    for fd in (data_r, self._data_w, ack_r, ack_w):
                        os.close(fd)
                    raise
            if self.pid == 0:  # the child: never returns
                _child_main(data_r, ack_w, log, renderer)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(data_r)
        os.close(ack_w)
        self._acks = os.fdopen(ack_r, "rb")
        self._reader = threading.Thread(target=self._read_acks, daemon=True,
                                        name="wfptrace-render-acks")
        self._reader.start()

    # -- statistics ---------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Events handed to the child and not yet acknowledged."""
        return self._pending

    @property
    def alive(self) -> bool:
        """False once the child has exited or died."""
        return not self._dead

    # -- parent -> child ----------------------------------------------------------------
    def submit(self, records: list[tuple], first_seq: int, prefix: bytes, suffix: bytes,
               extra: int) -> None:
        """Hand one batch (in-band ``prefix``/``suffix`` lines around it) to the child.

        ``extra`` is the number of in-band lines in ``prefix``; the ack handler gets
        it back to tell events from in-band lines.
        """
        types = [_type_descriptor(EVENT_TABLE[i])
                 for i in range(self._known_types, len(EVENT_TABLE))]
        self._known_types = len(EVENT_TABLE)
        lines = extra + len(records) + suffix.count(b"\n")  # one line per record
        payload = None
        if self._pending < 2 * len(records):
            # A value msgpack cannot carry (e.g. an int beyond 64 bits) is rendered here.
            with contextlib.suppress(TypeError, ValueError, OverflowError, msgspec.EncodeError):
                payload = self._encoder.encode(
                    (_BATCH, first_seq, prefix, records, suffix, types, _thread_ids(), lines))
        if payload is None:  # the child is behind, or cannot take the records: render here
            blob, _ = self.renderer.render(records, first_seq, True, False)
            payload = self._encoder.encode((_RAW, prefix + bytes(blob) + suffix, types, lines))
            self.rendered_here += len(records)
        self._send(payload, len(records), extra)

    def _send(self, payload: bytes, events: int, extra: int) -> None:
        with self._lock:
            if self._dead:
                self.on_ack(events, 0, extra)  # nothing was written: all lost
                return
            self._batches.append((events, extra))
            self._pending += events
        try:
            self._write(payload)
        except OSError:  # the child is gone; the ack reader accounts for the batch
            self._mark_dead("the render worker exited")

    def _write(self, payload: bytes) -> None:
        """One whole frame: the flush thread and flush() callers must not interleave."""
        with self._write_lock:
            _write_frame(self._data_w, payload)

    def flush(self, timeout: float = _CLOSE_TIMEOUT) -> None:
        """Wait until the child has written everything sent so far and synced the file."""
        with self._lock:
            if self._dead:
                return
            self._flushes_sent += 1
            target = self._flushes_sent
        try:
            self._write(self._encoder.encode((_FLUSH,)))
        except OSError:
            self._mark_dead("the render worker exited")
            return
        with self._lock:
            self._lock.wait_for(lambda: self._dead or self._flushes_done >= target, timeout)

    def close(self) -> None:
        """Let the child finish the file and exit; wait for it (idempotent)."""
        with self._write_lock:
            if self._data_w >= 0:
                os.close(self._data_w)
                self._data_w = -1
        self._reader.join(_CLOSE_TIMEOUT)
        if self._reader.is_alive():  # hung: stop it; its unacknowledged batches are lost
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reader.join()
        self._reap()

    def _reap(self) -> str:
        """Wait for the child; say how it ended."""
        if self._reaped:
            return "exited"
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "exited"
        finally:
            self._reaped = True
        code = os.waitstatus_to_exitcode(status)
        return f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"

    # -- child -> parent ----------------------------------------------------------------
    def _read_acks(self) -> None:
        decoder = msgspec.msgpack.Decoder()
        while (body := _read_frame(self._acks)) is not None:
            kind, kept, written, error = decoder.decode(body)
            self._on_frame(kind, kept, written, error)
        self._acks.close()
        if self._data_w >= 0:  # not asked to close: it died
            self._mark_dead(f"the render worker {self._reap()}")
        else:
            self._mark_dead(None)

    def _on_frame(self, kind: int, kept: int, written: int, error: str | None) -> None:
        with self._lock:
            self.bytes_written = written
            if error:
                self.error = error
            if kind == _FLUSH:
                self._flushes_done += 1
            else:
                events, extra = self._batches.popleft()
                self._pending -= events
                self.on_ack(events, kept, extra)
            self._lock.notify_all()

    def _mark_dead(self, reason: str | None) -> None:
        """Count every unacknowledged batch lost; later batches are lost at once."""
        with self._lock:
            if self._dead:
                return
            self._dead = True
            if reason:
                self.error = (f"{reason}; events from then on are lost"
                              + (f" ({self._pending} were not written)" if self._pending else ""))
            while self._batches:
                events, extra = self._batches.popleft()
                self.on_ack(events, 0, extra)
            self._pending = 0
            self._lock.notify_all()


# -- the child ----------------------------------------------------------------------------
def _child_main(data_r: int, ack_w: int, log: LogFile, renderer: Renderer) -> None:
    """Run the child and exit; never return into the parent's stack."""
    code = 0
    try:
        _reset_signals()
        _close_other_fds({data_r, ack_w, log.fileno(), 0, 1, 2})
        gc.disable()  # records are acyclic; collections would only touch inherited pages
        _ChildLoop(data_r, ack_w, log, renderer).run()
    except BaseException:  # whatever happens, never return into the parent
        code = 70
    finally:
        os._exit(code)


def _reset_signals() -> None:
    """The parent's Python handlers must not run here; Ctrl-C and SIGTERM are ignored."""
    signal.set_wakeup_fd(-1)
    for sig in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError, TypeError):
            if callable(signal.getsignal(sig)):
                signal.signal(sig, signal.SIG_DFL)
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _IGNORED)


def _close_other_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


class _ChildLoop:
    """Read frames, render and write, acknowledge; end at EOF."""

    def __init__(self, data_r: int, ack_w: int, log: LogFile, renderer: Renderer) -> None:
        self.data = os.fdopen(data_r, "rb", buffering=_PIPE_SIZE)
        self.ack_w = ack_w
        self.log = log
        self.renderer = renderer
        self.tids: dict[int, int] = {}
        renderer.native_tid = lambda ident: self.tids.get(ident, ident)
        self.decoder = msgspec.msgpack.Decoder()
        self.encoder = msgspec.msgpack.Encoder()

    def run(self) -> None:
        while (body := _read_frame(self.data)) is not None:
            frame = self.decoder.decode(body)
            if frame[0] == _FLUSH:
                self.log.flush()
                self._ack(_FLUSH, 0, None)
            else:
                self._batch(frame)
        self.log.flush()
        self.log.close()

    def _batch(self, frame: list) -> None:
        if frame[0] == _RAW:
            _, blob, types, lines = frame
        else:
            _, first_seq, prefix, records, suffix, types, tids, lines = frame
        for desc in types:
            while len(EVENT_TABLE) <= desc[0]:
                EVENT_TABLE.append(_type_stub(desc))  # type: ignore[arg-type]
        if frame[0] == _BATCH:
            self.tids = tids
            rendered, _ = self.renderer.render(records, first_seq, True, False)
            blob = prefix + rendered + suffix
        error = None
        try:
            kept = self.log.write_blob(blob, lines)
        except LogWriteError as exc:
            kept, error = 0, str(exc)
        self._ack(_BATCH, kept, error)

    def _ack(self, kind: int, kept: int, error: str | None) -> None:
        _write_frame(self.ack_w, self.encoder.encode((kind, kept, self.log.bytes_written,
                                                      error)))
