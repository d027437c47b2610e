"""Decoder counters against tshark on the real captures (tshark is the oracle)."""

from __future__ import annotations

import pytest

from providers.packets import Decoder, open_capture

from .tshark_oracle import CAPTURES, TSHARK, tshark_counts

_FILES = sorted(p.name for p in CAPTURES.glob("*.pcap*")) if CAPTURES.exists() else []


def decode_file(path) -> dict[str, int]:
    d = Decoder()
    with open_capture(path) as src:
        for linktype, ts, data, wire, _iface in src:
            d.decode(linktype, data, wire, ts)
    return d.stats.as_dict()


@pytest.mark.parametrize("name", _FILES or ["<no captures>"])
def test_counters_equal_tshark_on_real_capture(name: str) -> None:
    """Every decoder counter equals tshark's count on each real third-party capture."""
    if not _FILES:
        print(f"skipping: {CAPTURES} is absent")
        pytest.skip("real captures absent")
    if TSHARK is None:
        print("skipping: tshark is not installed")
        pytest.skip("tshark absent")
    path = CAPTURES / name
    assert decode_file(path) == tshark_counts(path)


def test_traceroute_rfc4884_frames_are_the_three_decode_errors() -> None:
    """The three traceroute replies whose RFC 4884 length points past the message are errors."""
    path = CAPTURES / "cs_icmp_traceroute.pcapng"
    if not path.exists():
        print(f"skipping: {path} is absent")
        pytest.skip("capture absent")
    counts = decode_file(path)
    assert counts["decode_errors"] == 3
    assert counts["icmp"] == counts["packets"] == 54
