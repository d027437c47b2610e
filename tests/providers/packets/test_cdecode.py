"""The optional C decoder gives exactly the Packets and counters of the Python reference."""

from __future__ import annotations

import gc
import os
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from providers.packets import CaptureFormatError, _accel, _packet, _pcap, open_capture
from providers.packets._decode import Decoder, PyDecoder

if _accel.CDECODE is None:
    print(f"providers.packets._cdecode is off: {_accel.REASON}")
    pytest.skip(f"providers.packets._cdecode is off ({_accel.REASON}): the decoder runs in "
                "pure Python", allow_module_level=True)

CDECODE = _accel.CDECODE
RARE = ("icmp_type", "icmp_code", "icmp_id", "iface")
Frame = tuple[int, bytes, int, int]  # linktype, data, wire_len, ts_ns


def fields(pkt: object) -> object:
    """Everything a Packet holds (slots, rare fields, the quoted ``inner`` one), by name."""
    if pkt is None:
        return None
    out = {name: getattr(pkt, name) for name in _packet.Packet.__struct_fields__}
    out.update({name: getattr(pkt, name) for name in RARE})
    out["inner"] = fields(pkt.inner)
    out["type"] = type(pkt)
    return out


def run(decoder: object, frames: list[Frame]) -> tuple[list, dict]:
    """Per frame (fields, last_was_error), then the stats, of one decoder over ``frames``."""
    seen = []
    for lt, data, wire, ts in frames:
        seen.append((fields(decoder.decode(lt, data, wire, ts)), decoder.last_was_error))
    st_ = decoder.stats
    return seen, {name: getattr(st_, name) for name in st_.__slots__}


def assert_same(frames: list[Frame]) -> None:
    fast, slow = run(Decoder(), frames), run(PyDecoder(), frames)
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]


# -- frames: valid headers with random fields, then cut and damaged --------------------

u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)


def odd(draw) -> bool:
    """One in eight: this field breaks the rules (so about a third of frames are valid)."""
    return draw(st.integers(0, 7)) == 3  # not 0 or 7: Hypothesis favours the bounds


def pick(draw, usual: object, unusual: list) -> object:
    return draw(st.sampled_from(unusual)) if odd(draw) else usual


@st.composite
def transport(draw, proto: int) -> bytes:
    payload = draw(st.binary(max_size=40))
    if proto == 6:
        doff = pick(draw, draw(st.sampled_from([5, 5, 6, 8, 15])), [0, 4, 3, 1])
        opts = draw(st.binary(min_size=max(doff * 4 - 20, 0), max_size=max(doff * 4 - 20, 0)))
        return struct.pack("!HHIIBBHHH", draw(u16), draw(u16), draw(u32), draw(u32),
                           doff << 4 | draw(st.integers(0, 15)), draw(u8), draw(u16), 0,
                           0) + opts + payload
    if proto == 17:
        ulen = max(0, 8 + len(payload) + pick(draw, 0, [-1, 1, -8, -9, 30]))
        return struct.pack("!HHHH", draw(u16), draw(u16), ulen, 0) + payload
    return draw(st.binary(max_size=48))


@st.composite
def ip_packet(draw) -> tuple[int, bytes]:
    """(ethertype, IPv4 or IPv6 packet): each header field sometimes wrong."""
    proto = pick(draw, draw(st.sampled_from([6, 17])), [1, 58, 4, 41, 44, 0, 255])
    l4 = draw(transport(proto))
    delta = pick(draw, 0, [-1, 1, -20, -len(l4), 100, None])
    if draw(st.booleans()):
        ihl = pick(draw, 5, [6, 15, 4, 0])
        opts = bytes(max(ihl * 4 - 20, 0))
        tot = 0 if delta is None else max(0, min(0xFFFF, 20 + len(opts) + len(l4) + delta))
        frag = pick(draw, draw(st.sampled_from([0, 0x4000, 0x8000])),
                    [0x2000, 0x0001, 0x1FFF, 0x6000, 0x4001])
        vihl = pick(draw, 0x40, [0x60, 0x50, 0x00]) | ihl
        head = struct.pack("!BBHHHBBH4s4s", vihl, 0, tot, 7, frag, 64, proto, 0,
                           draw(st.binary(min_size=4, max_size=4)),
                           draw(st.binary(min_size=4, max_size=4)))
        return pick(draw, 0x0800, [0x86DD, 0x0806]), head + opts + l4
    plen = 0 if delta is None else max(0, min(0xFFFF, len(l4) + delta))
    vcf = pick(draw, 6, [4, 0, 7]) << 28 | draw(st.integers(0, 0xFFFFFFF))
    head = struct.pack("!IHBB16s16s", vcf, plen, proto, 64,
                       draw(st.binary(min_size=16, max_size=16)),
                       draw(st.binary(min_size=16, max_size=16)))
    return pick(draw, 0x86DD, [0x0800, 0x8100]), head + l4


@st.composite
def frame(draw) -> Frame:
    etype, ip = draw(ip_packet())
    vlans = pick(draw, 0, [1, 2])
    data = bytearray(draw(st.binary(min_size=12, max_size=12)) + b"".join(
        struct.pack("!HH", 0x8100, 5) for _ in range(vlans)) + struct.pack("!H", etype) + ip)
    if odd(draw):
        for pos, byte in draw(st.lists(st.tuples(st.integers(0, 120), u8), max_size=3)):
            if pos < len(data):
                data[pos] = byte
    if odd(draw):  # cut short, as by a snap length or a broken frame
        del data[draw(st.integers(0, len(data))):]
    data += pick(draw, b"", [bytes(7), b"\xff"])
    n = len(data)
    wire = pick(draw, draw(st.sampled_from([0, n])),
                [n + 1, n + 100, n - 1, 1 << 40, -5, (1 << 64) + 3, 65535])
    linktype = pick(draw, 1, [0, 101, 113, 276, 228, 229, 108, 99])
    ts = draw(st.sampled_from([0, 1_150_000_000_000_000_000, 1 << 70, -1]))
    return linktype, bytes(data), wire, ts


@settings(max_examples=600, deadline=None)
@given(st.lists(frame(), min_size=1, max_size=8))
@example([(1, bytes(12) + b"\x08\x00\x45\x00\x00\x64" + bytes(4) + b"\x40\x06" + bytes(10)
           + bytes(12) + b"\xf0\x18" + bytes(6), 2000, 5)])  # TCP header past the capture
def test_frames_decode_the_same(frames: list[Frame]) -> None:
    """Random valid, cut and damaged frames: the same Packets, error flags and stats."""
    assert_same(frames)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 1, 1, 0, 101]), st.binary(max_size=90),
                          st.integers(-2, 200), st.integers(0, 1 << 64)), max_size=6))
def test_random_bytes_decode_the_same(frames: list[Frame]) -> None:
    """Arbitrary bytes (hostile input): no crash, the same results."""
    assert_same(frames)


def tcp4(payload: bytes = b"hi", sport: int = 1863) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, 40000, 7, 9, 0x50, 0x18, 512, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                     b"\x0a\0\0\1", b"\x0a\0\0\2")
    return bytes(12) + b"\x08\x00" + ip + tcp


def boundary_frames(version: int, proto: int, doff: int) -> list[Frame]:
    """One frame, with its IP payload length, TCP data offset / UDP length, capture length
    and wire length each swept across the limits the fast path checks."""
    payload = b"0123456789" * 2
    if proto == 6:
        head = struct.pack("!HHIIBBHHH", 1, 2, 3, 4, doff << 4, 0x18, 0, 0, 0)
        l4s = [head + bytes(max(doff * 4 - 20, 0) + extra) + payload for extra in range(4)]
    else:
        l4s = [struct.pack("!HHHH", 1, 2, ulen, 0) + payload for ulen in range(31)]
    out = []
    for l4 in l4s:
        for ip_len in range(len(l4) + 3):
            if version == 4:
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ip_len, 0, 0, 64, proto, 0,
                                 b"\1\2\3\4", b"\5\6\7\x08") + l4
            else:
                ip = struct.pack("!IHBB16s16s", 6 << 28, ip_len, proto, 64, bytes(range(16)),
                                 bytes(range(16, 32))) + l4
            data = bytes(12) + (b"\x08\x00" if version == 4 else b"\x86\xdd") + ip
            for cut in (len(data), len(data) - 1, 54, 53, 60, 73, 74):
                for wire in (0, cut + 1, cut + 40):
                    out.append((1, data[:cut], wire, 9))
    return out


@pytest.mark.parametrize(("version", "proto", "doff"),
                         [(4, 6, 5), (4, 6, 6), (4, 6, 15), (4, 6, 4), (4, 6, 0), (4, 17, 0),
                          (6, 6, 5), (6, 6, 7), (6, 6, 4), (6, 17, 0)])
def test_boundaries_decode_the_same(version: int, proto: int, doff: int) -> None:
    """Every length just inside and just outside what the fast path accepts."""
    frames = boundary_frames(version, proto, doff)
    for i in range(0, len(frames), 200):
        assert_same(frames[i : i + 200])


def test_odd_arguments_take_the_python_path() -> None:
    """Keywords, bytearray/memoryview data, bool or huge ints behave as in Python."""
    data = tcp4()
    calls = [((1, data), {"wire_len": 80}), ((1,), {"data": data}), ((True, data, 70), {}),
             ((1, bytearray(data)), {}), ((1, memoryview(data), 0, 5), {}),
             ((1, data, 1 << 80, 3), {}), ((1, data, 60.0), {}), ((1 << 70, data), {})]
    for args, kw in calls:
        fast, slow = Decoder(), PyDecoder()
        assert fields(fast.decode(*args, **kw)) == fields(slow.decode(*args, **kw))
        assert fast.stats.as_dict() == slow.stats.as_dict()


def outcome(decoder: object, args: tuple) -> object:
    try:
        return fields(decoder.decode(*args))
    except Exception as e:  # the exception type is the outcome
        return type(e)


def test_bad_calls_behave_the_same() -> None:
    """Wrong argument counts or types: the Python decoder's result or exception."""
    for args in [(), (1,), (1, tcp4(), 0, 0, 0), (1, None), ("x", tcp4()), (1, tcp4(), "x"),
                 (None, tcp4(), None, None)]:
        assert outcome(Decoder(), args) == outcome(PyDecoder(), args), args


def test_counters_merge_both_paths() -> None:
    """stats adds the C counters to the general path's, whatever the order of frames."""
    vlan = bytes(12) + b"\x81\x00\x00\x05" + tcp4()[12:]  # a VLAN tag: the general path
    frames = [(1, f, 0, 0) for f in (tcp4(), vlan, tcp4(b"x" * 300), vlan, b"junk")]
    assert_same(frames)
    d = Decoder()
    for f in frames:
        d.decode(*f)
    assert d.stats.packets == 5 and d.stats.tcp == 4 and d.stats.tcp_payload_bytes == 306


def test_configure_takes_only_a_class() -> None:
    """configure() takes the class it builds; anything else is refused, the old kept."""
    for bad in (3, "Packet", None):
        with pytest.raises(TypeError):
            CDECODE.configure(bad)
    assert Decoder().decode(1, tcp4()).payload == b"hi"


def test_the_packet_comes_from_its_constructor() -> None:
    """The C path builds a Packet through the class's constructor: a subclass configured
    in its place gets its own __init__ run (nothing is written behind its back)."""
    made = []

    class Traced(_packet.Packet):
        def __post_init__(self) -> None:
            made.append(self.sport)

    CDECODE.configure(Traced)
    try:
        pkt = Decoder().decode(1, tcp4())
    finally:
        CDECODE.configure(_packet.Packet)
    assert type(pkt) is Traced and made == [pkt.sport]


# -- classic pcap records --------------------------------------------------------------

MAGICS = [b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"]


@st.composite
def pcap_file(draw) -> bytes:
    """A classic pcap file: either byte order and resolution, odd fields, a bad tail."""
    magic = draw(st.sampled_from(MAGICS))
    order = "<" if magic in (MAGICS[0], MAGICS[2]) else ">"
    out = magic + struct.pack(order + "HHiIII", 2, 4, 0, 0, 65535, draw(u32))
    for data, sec, frac, wire in draw(st.lists(st.tuples(st.binary(max_size=90), u32, u32, u32),
                                               max_size=12)):
        out += struct.pack(order + "IIII", sec, frac, len(data), wire) + data
    tail = draw(st.sampled_from([b"", b"", b"", b"\0" * 7, b"\0" * 16,
                                 struct.pack(order + "IIII", 1, 2, 50, 50) + b"short",
                                 struct.pack(order + "IIII", 1, 2, 1 << 30, 0) + b"big"]))
    return out + tail


def read_all(path: str, c_records: bool) -> tuple[list, object]:
    """(frames, the error that ended them or None) of one pass over a capture."""
    saved = _pcap._RECORDS
    _pcap._RECORDS = saved if c_records else None
    frames: list = []
    try:
        with open_capture(path) as src:
            frames.extend(src)
    except CaptureFormatError as e:
        return frames, str(e)
    finally:
        _pcap._RECORDS = saved
    return frames, None


@settings(max_examples=300, deadline=None)
@given(pcap_file(), st.sampled_from([1 << 22, 16, 37, 100]), st.sampled_from([256, 1, 3]))
def test_pcap_records_read_the_same(content: bytes, chunk: int, batch: int) -> None:
    """Frames, timestamps and errors as the Python loop, across buffer refills and batches."""
    old = _pcap._CHUNK, _pcap._BATCH
    _pcap._CHUNK, _pcap._BATCH = chunk, batch
    try:
        with tempfile.NamedTemporaryFile(suffix=".pcap") as f:
            f.write(content)
            f.flush()
            fast, slow = read_all(f.name, True), read_all(f.name, False)
    finally:
        _pcap._CHUNK, _pcap._BATCH = old
    assert fast == slow
    assert [type(x) for fr in fast[0] for x in fr] == [type(x) for fr in slow[0] for x in fr]


def test_pcap_records_rejects_bad_arguments() -> None:
    """Out-of-range arguments raise instead of reading outside the buffer."""
    rec = CDECODE.pcap_records
    for args in [(b"x" * 40, -1, 0, 1000, 1, 99, 5), (b"x" * 40, 0, 0, 10**10, 1, 99, 5),
                 (bytearray(40), 0, 0, 1000, 1, 99, 5), (b"", 0, 0, 1000, 1, -1, 5)]:
        with pytest.raises((ValueError, TypeError)):
            rec(*args)
    assert rec(b"x" * 40, 100, 0, 1000, 1, 99, 5) == ([], 100)


def test_pcap_records_stops_at_limit_and_max_frame() -> None:
    """At most ``limit`` records; a record longer than ``max_frame`` is left to Python."""
    buf = b"".join(struct.pack("<IIII", 1, 2, n, 60) + bytes(n) for n in (4, 4, 5, 4))
    assert CDECODE.pcap_records(buf, 0, False, 1000, 7, 99, 2) == (
        [(7, 1_000_002_000, bytes(4), 60, 0)] * 2, 40)
    assert CDECODE.pcap_records(buf, 0, False, 1, 7, 4, 9)[1] == 40
    assert CDECODE.pcap_records(buf, 0, False, 1, 7, 5, 9)[1] == len(buf)


def rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def assert_rss_flat(spin: Callable[[int], None]) -> None:
    """After 100k warm-up calls, 1M more of ``spin`` grow the resident set by < 2 MB."""
    spin(100_000)
    gc.collect()
    base = rss_kb()
    spin(1_000_000)
    gc.collect()
    assert rss_kb() - base < 2048


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_a_million_frames_leak_nothing() -> None:
    """RSS stays flat over 1M decodes (fast and general path), refcounts unchanged."""
    ts = 1 << 65
    udp = bytes(12) + b"\x86\xdd" + struct.pack("!IHBB16s16s", 6 << 28, 12, 17, 64, bytes(16),
                                                 bytes(16)) + struct.pack("!HHHH", 1, 2, 12, 0)
    datas = [tcp4(b"p" * 600, 50000), udp + b"abcd", tcp4()[:60], b"\x01" * 60]
    d = Decoder()
    decode = d.decode

    def spin(n: int) -> None:
        for i in range(n):
            decode(1, datas[i & 3] if i & 15 == 0 else datas[0], 2000, ts)
        d.stats  # noqa: B018 - _counts() builds objects too

    before = [sys.getrefcount(x) for x in (*datas, ts)]
    assert_rss_flat(spin)
    assert [sys.getrefcount(x) for x in (*datas, ts)] == before


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_a_million_pcap_records_leak_nothing() -> None:
    """RSS stays flat over 1M records cut out by pcap_records."""
    linktype = 1 << 40  # not a cached small int: its refcount shows a leak
    buf = b"".join(struct.pack(">IIII", i, i, 60, 1500) + bytes(60) for i in range(250))
    before = sys.getrefcount(linktype), sys.getrefcount(buf)

    def spin(n: int) -> None:
        for _ in range(n // 250):
            assert len(CDECODE.pcap_records(buf, 0, True, 1, linktype, 99, 999)[0]) == 250

    assert_rss_flat(spin)
    assert (sys.getrefcount(linktype), sys.getrefcount(buf)) == before


def test_pure_mode_passes_the_packets_suite() -> None:
    """With WFPTRACE_PURE=1 the C decoder is off and the whole packets suite passes."""
    here = os.path.dirname(__file__)
    env = {**os.environ, "WFPTRACE_PURE": "1"}
    code = ("from providers.packets import _accel, _decode\n"
            "assert _accel.CDECODE is None and _decode.Decoder is _decode.PyDecoder")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", here],
                         env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:]
