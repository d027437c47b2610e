"""pcap/pcapng reading: byte orders, timestamp resolutions, interfaces, corrupt files."""

from __future__ import annotations

import io
import struct

import pytest

from providers.packets import CaptureFormatError, PcapngWriter, PcapWriter, open_capture

FRAME = bytes(range(60))
TS = 1_700_000_000_123_456_789


def _write(tmp_path, name, fill) -> list:
    path = tmp_path / name
    with open(path, "wb") as f:
        fill(f)
    with open_capture(path) as src:
        return list(src)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path, big, nano) -> None:
    """pcap in either byte order keeps frames, lengths and us/ns timestamps."""
    def fill(f):
        w = PcapWriter(f, 113, nano=nano, big_endian=big)
        w.write(FRAME, TS, 1500)
        w.write(FRAME[:20], TS + 5)
    frames = _write(tmp_path, "a.pcap", fill)
    want_ts = TS if nano else TS // 1000 * 1000
    assert frames[0] == (113, want_ts, FRAME, 1500, 0)
    assert frames[1][2] == FRAME[:20] and frames[1][3] == 20


@pytest.mark.parametrize("big", [False, True])
def test_pcapng_interfaces_with_own_linktype_and_resolution(tmp_path, big) -> None:
    """pcapng frames carry their interface's link type and its if_tsresol is applied."""
    def fill(f):
        w = PcapngWriter(f, big_endian=big)
        eth = w.add_interface(1, tsresol=6)
        raw = w.add_interface(101, tsresol=9)
        bin_ = w.add_interface(113, tsresol=0x80 | 20)
        w.write(eth, FRAME, TS)
        w.write(raw, FRAME[:33], TS)
        w.write(bin_, FRAME, TS)
    frames = _write(tmp_path, "a.pcapng", fill)
    assert [f[0] for f in frames] == [1, 101, 113]
    assert [f[4] for f in frames] == [0, 1, 2]
    assert frames[0][1] == TS // 1000 * 1000
    assert frames[1][1] == TS and frames[1][2] == FRAME[:33]
    assert abs(frames[2][1] - TS) < 1000  # 2^-20 s units


def test_real_pcapng_timestamps_match_tshark_epoch() -> None:
    """The first frame of a real pcapng has the epoch time tshark shows."""
    from .tshark_oracle import CAPTURES
    path = CAPTURES / "cs_tcp_handshake.pcapng"
    if not path.exists():
        print(f"skipping: {path} is absent")
        pytest.skip("capture absent")
    with open_capture(path) as src:
        first = next(iter(src))
    assert first[0] == 1 and first[1] // 1000 > 1_000_000_000_000_000 // 1000


def test_not_a_capture(tmp_path) -> None:
    """A file with neither magic is rejected with a clear error."""
    p = tmp_path / "x.pcap"
    p.write_bytes(b"GIF89a....")
    with pytest.raises(CaptureFormatError):
        open_capture(p)


def test_truncated_file_raises_format_error(tmp_path) -> None:
    """A pcap cut inside a record yields the good frames, then a format error."""
    buf = io.BytesIO()
    w = PcapWriter(buf)
    w.write(FRAME, TS)
    w.write(FRAME, TS)
    p = tmp_path / "cut.pcap"
    p.write_bytes(buf.getvalue()[:-10])
    got = []
    with pytest.raises(CaptureFormatError), open_capture(p) as src:
        got.extend(src)
    assert len(got) == 1


def test_hostile_record_length_is_rejected_without_allocating(tmp_path) -> None:
    """A record claiming a 4 GiB frame is a format error, not a huge allocation."""
    buf = io.BytesIO()
    PcapWriter(buf)
    buf.write(struct.pack("<IIII", 0, 0, 0xFFFFFFF0, 0xFFFFFFF0))
    p = tmp_path / "hostile.pcap"
    p.write_bytes(buf.getvalue())
    with pytest.raises(CaptureFormatError), open_capture(p) as src:
        list(src)


def test_hostile_pcapng_block_length(tmp_path) -> None:
    """A pcapng block with an absurd length is a format error."""
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    w.add_interface(1)
    buf.write(struct.pack("<II", 6, 0x7FFFFFF0))
    p = tmp_path / "hostile.pcapng"
    p.write_bytes(buf.getvalue())
    with pytest.raises(CaptureFormatError), open_capture(p) as src:
        list(src)
