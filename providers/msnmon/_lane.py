"""The express lane: the monitor's most common packets handled in C, with Python's effects.

Most packets of a capture are the next in-order segment (or a bare ACK) of a flow
already known to be MSNP. For those, the C type ``providers.msnmon._cexpress.Express``
does what the Python path would (decode, the pipeline's flow counters and LRU order,
the reassembler's in-order step, the parser's common case, the monitor's counters, and
the commands whose handling only counts, traces and tracks transactions) by updating
the very same Python objects; the chunk's other items go through the monitor's own
methods (``_command``, ``_parse_error``, ``_stream_failed``). Everything else (other
flows, SYN/FIN/RST, gaps, out-of-order data, legacy tracing, a parser in any other
state) goes to the Python path unchanged, which stays the reference:
``WFPTRACE_PURE=1`` turns the lane off, and the tests compare whole traces with and
without it.

It reads internal state of the pipeline (``_ended``), its flow table (``_last``,
``_flows``), the reassembler's streams, the parser (``_pending``, ``_http``, ``_rest``,
``_skip_line``, ``_base``), the transaction tracker (``_open``) and the role tracker
(``_seen``).

A flow enters the lane once it is MSNP (:meth:`ExpressLane.register`, keyed by the
raw address and port bytes as they sit in the frame) and leaves it when it ends.
The C code re-checks the live state before each packet, so a registered flow whose
state changed simply takes the Python path.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from providers._accel import load_accelerator
from providers.msnp import Command, ParseError, Role
from providers.msnp._accel import CPARSER
from providers.packets import MAX_FRAME, CaptureFormatError, FlowState, classic_pcap_header

from ._context import DIRECTIONS, RECEIVED, SENT, StreamState
from ._events import COMMAND, LEGACY_ANY, MESSAGE, TRANSACTION
from ._monitor import LEGACY_CLASSES, PLAIN_VERBS, QUIET_VERBS

if TYPE_CHECKING:
    from providers.packets import Flow, Pipeline

    from ._context import FlowContext
    from ._monitor import MsnMonitor

__all__ = ["CEXPRESS", "REASON", "ExpressLane"]

_VERSION = 2
_PORTS = struct.Struct("!HH").pack


def _load() -> tuple[Any, str]:
    module, reason = load_accelerator("providers.msnmon._cexpress", _VERSION)
    if module is not None and CPARSER is None:
        return None, "it needs providers.msnp._cparser, which is off"
    return module, reason


#: The C module in use (or None: every packet takes the Python path), and why not.
CEXPRESS, REASON = _load()

#: A frame the lane did not take: (linktype, ts_ns, data, wire_len).
SlowPath = Callable[[int, int, bytes, int], None]


class ExpressLane:
    """The express lane of one monitor in one pipeline (see the module docstring)."""

    def __init__(self, monitor: MsnMonitor, pipeline: Pipeline) -> None:
        self.monitor = monitor
        self.pipeline = pipeline
        #: frame key (source, destination address, source, destination port) ->
        #: (flow, side, stream state, context, direction)
        self.entries: dict[bytes, tuple] = {}
        self._c = CEXPRESS.Express(monitor, self.entries, CPARSER.scan_lines,
                                   FlowState.ESTABLISHED, StreamState.MSNP,
                                   StreamState.SNIFFING, LEGACY_ANY, COMMAND, MESSAGE, Command,
                                   ParseError, QUIET_VERBS, Role.NOTIFICATION, LEGACY_CLASSES,
                                   DIRECTIONS, PLAIN_VERBS, TRANSACTION, pipeline)

    @property
    def packets(self) -> int:
        """Packets the lane handled (the others took the Python path)."""
        return self._c.packets

    def run(self, frames: Iterable[tuple[int, int, bytes, int, int]], slow: SlowPath) -> None:
        """Feed every frame: the lane's own, or ``slow`` for the rest, in order."""
        self._c.run(frames, slow)

    def run_file(self, path: str | Path, slow: SlowPath,
                 progress: Callable[[float], None] | None = None) -> bool:
        """Like :meth:`run` over a classic pcap file, read in C from a memory map (no
        Python object per frame the lane takes; the pages read are let go every 16 MB,
        so memory stays flat whatever the file's size); False, having done nothing, for
        any other format. Corrupt records raise what the Python reader raises.
        ``progress`` hears the fraction read every 16 MB."""
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            header = classic_pcap_header(f.read(24))
            if header is None:
                return False
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as image:
                image.madvise(mmap.MADV_SEQUENTIAL)

                def done(offset: int) -> None:  # what was read leaves the resident set
                    image.madvise(mmap.MADV_DONTNEED, 0, offset - offset % mmap.PAGESIZE)
                    if progress is not None:
                        progress(offset / size)

                self._c.run_pcap(image, *header, MAX_FRAME, slow, CaptureFormatError, done)
                return True

    def register(self, flow: Flow, ctx: FlowContext) -> None:
        """Let both directions of an MSNP flow take the lane (once its streams exist)."""
        reassembler = self.pipeline.reassembler
        streams = reassembler.streams(flow) if reassembler is not None else None
        if streams is None or flow.proto != 6:
            return
        keys = (_key(flow, 0), _key(flow, 1))
        # side 1 first: a flow from a port to itself has one key, and it is side 0's
        for side in (1, 0):
            direction = SENT if side == ctx.local_side else RECEIVED
            self.entries[keys[side]] = (flow, side, streams[side], ctx, direction)
        ctx.lane_keys = keys

    def unregister(self, flow: Flow, ctx: FlowContext) -> None:
        """The flow ended: its frames take the Python path again."""
        for key in ctx.lane_keys or ():
            entry = self.entries.get(key)
            if entry is not None and entry[0] is flow:
                del self.entries[key]
        ctx.lane_keys = None


def _key(flow: Flow, side: int) -> bytes:
    """The bytes a frame sent by ``side`` carries from its IP source address on."""
    (a0, a1), (p0, p1) = flow.addrs, flow.ports
    if side == 0:
        return a0 + a1 + _PORTS(p0, p1)
    return a1 + a0 + _PORTS(p1, p0)
