"""Verdict messages for NFQUEUE: one packet, a batch, and how to mix them.

A batch verdict (``NFQNL_MSG_VERDICT_BATCH``) applies to every queued packet
whose id is at most its own, so it must stop below the lowest held packet;
accepted packets above that get single verdicts.
"""

from __future__ import annotations

import socket
import struct

from . import _netlink as nl
from ._packet import NFQA_MARK, NFQA_PAYLOAD, NFQA_VERDICT_HDR, Verdict

__all__ = ["MAX_PAYLOAD", "accept_plan", "batch_message", "nfgen", "verdict_message"]

NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_VERDICT_BATCH = 3
MAX_PAYLOAD = 0xFFFF - 4  # one netlink attribute
_VERDICT_HDR = struct.Struct(">II")
_MARK = struct.Struct(">I")


def nfgen(queue_num: int, family: int = socket.AF_UNSPEC) -> bytes:
    """The nfgenmsg header addressing ``queue_num``."""
    return struct.pack("=BBH", family, 0, socket.htons(queue_num))


def verdict_message(queue_num: int, pkt_id: int, verdict: Verdict, mark: int | None = None,
                    payload: bytes | None = None) -> bytes:
    """NFQNL_MSG_VERDICT for one packet, optionally with a new mark and payload."""
    if payload is not None and len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    attrs = nl.attr(NFQA_VERDICT_HDR, _VERDICT_HDR.pack(verdict, pkt_id))
    if mark is not None:
        attrs += nl.attr(NFQA_MARK, _MARK.pack(mark & 0xFFFFFFFF))
    if payload is not None:
        attrs += nl.attr(NFQA_PAYLOAD, payload)
    kind = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT
    return nl.message(kind, nl.NLM_F_REQUEST, 0, nfgen(queue_num) + attrs)


def batch_message(queue_num: int, top_id: int, verdict: Verdict,
                  mark: int | None = None) -> bytes:
    """NFQNL_MSG_VERDICT_BATCH: ``verdict`` for every queued id <= ``top_id``, optionally
    with one new mark for all of them."""
    kind = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH
    body = nfgen(queue_num) + nl.attr(NFQA_VERDICT_HDR, _VERDICT_HDR.pack(verdict, top_id))
    if mark is not None:
        body += nl.attr(NFQA_MARK, _MARK.pack(mark & 0xFFFFFFFF))
    return nl.message(kind, nl.NLM_F_REQUEST, 0, body)


def accept_plan(ids: list[int], held_floor: int | None) -> tuple[int | None, list[int]]:
    """Split accepted ids into a batch top (or None) and ids needing single verdicts.

    ``held_floor`` is the lowest held id: the batch must not reach it.
    """
    if not ids:
        return None, []
    if held_floor is None or held_floor > max(ids):
        return max(ids), []
    below = [i for i in ids if i < held_floor]
    return (max(below) if below else None), [i for i in ids if i > held_floor]
