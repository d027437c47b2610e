"""Verdict message encoding and the batch/single split around held packets."""

from __future__ import annotations

import struct

import pytest

from providers.netfilter import Verdict
from providers.netfilter._netlink import iter_attrs, iter_messages
from providers.netfilter._packet import NFQA_MARK, NFQA_PAYLOAD, NFQA_VERDICT_HDR
from providers.netfilter._verdicts import accept_plan, batch_message, verdict_message


def _attrs(msg: bytes) -> dict[int, bytes]:
    ((_kind, _f, _s, body, end),) = list(iter_messages(msg, len(msg)))
    return {k: msg[s:e] for k, s, e in iter_attrs(msg, body + 4, end)}


def test_single_verdict_carries_id_mark_and_payload() -> None:
    """A per-packet verdict encodes verdict and id, plus mark and payload when given."""
    attrs = _attrs(verdict_message(3, 77, Verdict.DROP, mark=0x1_0000_0005, payload=b"abc"))
    assert struct.unpack(">II", attrs[NFQA_VERDICT_HDR]) == (Verdict.DROP, 77)
    assert struct.unpack(">I", attrs[NFQA_MARK]) == (5,)  # masked to 32 bits
    assert attrs[NFQA_PAYLOAD] == b"abc"


def test_batch_verdict_names_its_top_id() -> None:
    """A batch verdict carries the highest id it covers and the queue number."""
    msg = batch_message(9, 1000, Verdict.ACCEPT)
    assert struct.unpack(">II", _attrs(msg)[NFQA_VERDICT_HDR]) == (Verdict.ACCEPT, 1000)
    assert struct.unpack_from(">H", msg, 18) == (9,)


def test_oversized_payload_is_refused() -> None:
    """A payload that cannot fit one netlink attribute raises ValueError."""
    with pytest.raises(ValueError):
        verdict_message(0, 1, Verdict.ACCEPT, payload=b"x" * 0x10000)


@pytest.mark.parametrize("ids, floor, plan", [
    ([1, 2, 3], None, (3, [])),
    ([1, 2, 3], 10, (3, [])),
    ([1, 2, 4, 5], 3, (2, [4, 5])),
    ([4, 5], 3, (None, [4, 5])),
    ([], None, (None, [])),
])
def test_batch_stops_below_the_lowest_held_packet(
        ids: list[int], floor: int | None, plan: tuple[int | None, list[int]]) -> None:
    """Accepted ids above a held packet get single verdicts; the batch stays below it."""
    assert accept_plan(ids, floor) == plan
