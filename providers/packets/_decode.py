"""Hand-written frame decoder: link layer -> IPv4/IPv6 -> TCP/UDP/ICMP/ICMPv6.

This is the hot path, so it reads headers with precompiled ``struct`` unpackers and keeps
per-frame bookkeeping to one bitmask; counters are a histogram of masks, summed on demand.

Counting follows tshark's per-packet view (``tshark -o ip.defragment:FALSE -o
ipv6.defragment:FALSE``, Wireshark 4.0), which the tests use as the oracle:

* A counter counts a frame once if the header appears anywhere in it, including inside
  an ICMP error quote and inside IP-in-IP / IPv6-in-IPv4 tunnels.
* ``fragments``: an IPv4 header with MF set or a non-zero offset, or an IPv6 Fragment
  header (also atomic ones). No reassembly: a first fragment's transport header is
  decoded and counted, later fragments carry none.
* ``not_ip``: frames with no IPv4/IPv6 header (ARP, LLC/SNAP, MPLS, unknown link types).
* ``decode_errors``: frames tshark marks malformed at the link/IP/transport layers or
  with a "bogus" header expert error: headers cut short by the frame (but not by the
  capture's snap length: those count as ``truncated``), IPv4 IHL < 5, total length
  below the header or beyond the frame, TCP data offset < 5 or beyond the segment,
  UDP length < 8 or beyond the IP payload, ICMP shorter than 8 bytes, an IPv4/IPv6
  version that does not match the link's ethertype, and an RFC 4884 length whose
  extension offset lies beyond the ICMP message (the 3 malformed traceroute frames).
  Inside an ICMP quote or a first fragment a header cut short is normal, not an error.
  Errors in application protocols (tshark's DNS etc.) are out of scope.
* ``tcp_payload_bytes``: the sum of tshark's ``tcp.len``: IP payload minus TCP header for
  unfragmented, unquoted segments (from the IP length fields, so snap-length cuts do not
  shrink it; IPv4 total length 0 means TSO: up to the frame end).

The optional C extension ``_cdecode`` (see ``_accel``) takes over ``decode`` for what
``_fast`` handles, with identical results; ``PyDecoder`` is the pure-Python decoder and
the reference, and ``Decoder`` is whichever of the two is in use.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ._accel import CDECODE
from ._linktypes import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    RAW_LINKTYPES,
)
from ._packet import Packet
from ._stats import DecodeStats

__all__ = ["Decoder", "PyDecoder"]

M_IPV4 = 1
M_IPV6 = 2
M_TCP = 4
M_UDP = 8
M_ICMP = 16
M_ICMPV6 = 32
M_FRAG = 64
M_ERR = 128
M_TRUNC = 256
M_IP = M_IPV4 | M_IPV6
_M_IP4_TCP = M_IPV4 | M_TCP

_U16 = struct.Struct("!H").unpack_from
_U32_LE = struct.Struct("<I").unpack_from
_U32_BE = struct.Struct("!I").unpack_from
# version/IHL, total length, flags/offset, protocol, source, destination
_IP4 = struct.Struct("!BxHxxHxBxx4s4s").unpack_from
# version/class/flow, payload length, next header, source, destination
_IP6 = struct.Struct("!IHBx16s16s").unpack_from
_TCP = struct.Struct("!HHIIBB").unpack_from
_UDP = struct.Struct("!HHH").unpack_from
_ICMP = struct.Struct("!BBxxH").unpack_from
_EXT = struct.Struct("!BB").unpack_from
# the ethertype, then what _IP4 and _TCP read for option-less IPv4 (48 of 54 bytes)
_ETH_IP4_TCP = struct.Struct("!12xHBxHxxHxBxx4s4sHHIIBB").unpack_from

_VLAN_TYPES = frozenset({0x8100, 0x88A8, 0x9100})
_V6_EXT = frozenset({0, 43, 60, 135, 139, 140})  # (len + 1) * 8 bytes each
_NULL_V4 = frozenset({2})
_NULL_V6 = frozenset({10, 24, 28, 30})
_ICMP4_ERRORS = frozenset({3, 4, 5, 11, 12})
_ICMP4_IDS = frozenset({0, 8, 13, 14, 15, 16, 17, 18})
_MAX_DEPTH = 4


class _Malformed(Exception):
    """A header is inconsistent with the bytes around it."""


def _summary(masks: dict[int, int], tcp_bytes: int) -> DecodeStats:
    """The counters of a histogram of frame masks and a sum of tcp.len."""
    st = DecodeStats()
    for m, n in masks.items():
        st.packets += n
        if m & M_IPV4:
            st.ipv4 += n
        if m & M_IPV6:
            st.ipv6 += n
        if not m & M_IP:
            st.not_ip += n
        if m & M_TCP:
            st.tcp += n
        if m & M_UDP:
            st.udp += n
        if m & M_ICMP:
            st.icmp += n
        if m & M_ICMPV6:
            st.icmpv6 += n
        if m & M_FRAG:
            st.fragments += n
        if m & M_ERR:
            st.decode_errors += n
        if m & M_TRUNC:
            st.truncated += n
    st.tcp_payload_bytes = tcp_bytes
    return st


class _DecoderLogic:
    """Decodes captured frames into :class:`Packet` objects and counts what it saw.

    One decoder per capture stream; ``stats`` sums the per-frame header masks. The
    state (``_m``, ``_masks``, ``_tcp_bytes``) lives in the subclass: slots in
    :class:`PyDecoder`, C fields when the C extension is in use.
    """

    if not TYPE_CHECKING:  # (for mypy the subclass's slots are the mixin's attributes)
        __slots__ = ()
    _m: int
    _masks: dict[int, int]
    _tcp_bytes: int

    def _counts(self) -> tuple[dict[int, int], int]:
        """({mask: frames}, sum of tcp.len) so far."""
        return self._masks, self._tcp_bytes

    @property
    def last_was_error(self) -> bool:
        """True if the frame most recently decoded counted as a decode error."""
        return bool(self._m & M_ERR)

    @property
    def stats(self) -> DecodeStats:
        """The counters so far (a fresh snapshot each call)."""
        return self.stats_with({}, 0)

    def stats_with(self, masks: dict[int, int], tcp_bytes: int) -> DecodeStats:
        """The counters so far plus those of frames decoded elsewhere (by the compiled
        packet stage): ``masks`` {mask: frames} and their sum of tcp.len."""
        own, own_tcp = self._counts()
        merged = dict(own)
        for m, n in masks.items():
            merged[m] = merged.get(m, 0) + n
        return _summary(merged, own_tcp + tcp_bytes)

    def decode(
        self, linktype: int, data: bytes, wire_len: int = 0, ts_ns: int = 0
    ) -> Packet | None:
        """Decode one frame; returns the outermost IP packet or None (not IP or malformed).

        ``wire_len`` is the original length on the wire (0: same as captured). Never
        raises on bad input: problems are counted in ``stats``.
        """
        n = len(data)
        if wire_len < n:
            wire_len = n
        if linktype == 1 and n >= 54:
            pkt = self._fast(data, n, wire_len, ts_ns)
            if pkt is not None:
                return pkt
        return self._general(linktype, data, wire_len, ts_ns)

    _py_decode = decode  # the C decode hands calls it does not take (keywords, odd types) here

    def _general(self, linktype: int, data: bytes, wire_len: int, ts_ns: int) -> Packet | None:
        """Any frame, through the layers below (``wire_len`` already at least ``len(data)``)."""
        self._m = 0
        pkt = None
        try:
            if linktype == LINKTYPE_ETHERNET:
                pkt = self._ethertype(_U16(data, 12)[0], data, 14, wire_len, ts_ns)
            else:
                pkt = self._other_link(linktype, data, wire_len, ts_ns)
        except _Malformed:
            self._m |= M_ERR
        except (struct.error, IndexError):
            self._m |= M_TRUNC if len(data) < wire_len else M_ERR
        except RecursionError:  # pragma: no cover - depth is bounded, belt and braces
            self._m |= M_ERR
        m = self._m
        masks = self._masks
        masks[m] = masks.get(m, 0) + 1
        return pkt

    def _fast(self, data: bytes, n: int, wire: int, ts: int) -> Packet | None:
        """Ethernet + option-less IPv4 or plain IPv6 + TCP/UDP, all consistent; else None
        (the general path then decodes the frame from the start)."""
        (etype, vihl, tot, frag, proto, src, dst, sport, dport, seq, ack, doff,
         flags) = _ETH_IP4_TCP(data)
        if etype == 0x0800 and vihl == 0x45 and proto == 6:
            # The most common frame, from that one unpack: the checks below, for it.
            hl = (doff >> 4) << 2
            if frag & 0x3FFF or not 40 <= tot <= wire - 14 or hl < 20 or 20 + hl > tot:
                return None  # (40: 20 < tot and the 20-byte TCP header within tot)
            off = 34 + hl
            seglen = tot - 20 - hl
            cap = n - off
            self._tcp_bytes += seglen
            self._m = _M_IP4_TCP
            masks = self._masks
            masks[_M_IP4_TCP] = masks.get(_M_IP4_TCP, 0) + 1
            return Packet(ts, data, wire, 4, src, dst, 6, False, sport, dport, seq, ack, flags,
                          off, seglen if seglen <= cap else max(cap, 0), seglen)
        if etype == 0x0800:
            vihl, tot, frag, proto, src, dst = _IP4(data, 14)
            if vihl != 0x45 or frag & 0x3FFF or not 20 < tot <= wire - 14:
                return None
            off, end, mask = 34, 14 + tot, M_IPV4
            version = 4
        elif etype == 0x86DD:
            vcf, plen, proto, src, dst = _IP6(data, 14)
            if vcf >> 28 != 6 or not 0 < plen <= wire - 54:
                return None
            off, end, mask = 54, 54 + plen, M_IPV6
            version = 6
        else:
            return None
        masks = self._masks
        if proto == 6:
            if off + 20 > end or off + 20 > n:
                return None
            sport, dport, seq, ack, doff, flags = _TCP(data, off)
            hl = (doff >> 4) << 2
            if hl < 20 or off + hl > end:
                return None
            seglen = end - off - hl
            off += hl
            cap = n - off
            self._tcp_bytes += seglen
            mask |= M_TCP
            self._m = mask
            masks[mask] = masks.get(mask, 0) + 1
            return Packet(ts, data, wire, version, src, dst, 6, False, sport, dport, seq, ack,
                          flags, off, seglen if seglen <= cap else max(cap, 0), seglen)
        if proto == 17:
            if off + 8 > end or off + 8 > n:
                return None
            sport, dport, ulen = _UDP(data, off)
            if ulen < 8 or ulen > end - off:
                return None
            mask |= M_UDP
            self._m = mask
            masks[mask] = masks.get(mask, 0) + 1
            seglen = ulen - 8
            off += 8
            cap = n - off
            return Packet(ts, data, wire, version, src, dst, 17, False, sport, dport, 0, 0, 0,
                          off, seglen if seglen <= cap else max(cap, 0), seglen)
        return None

    # -- link layers -------------------------------------------------------------------

    def _ethertype(self, etype: int, data: bytes, off: int, wire: int, ts: int) -> Packet | None:
        """Dispatch on an ethertype whose payload starts at ``off``; follows VLAN/QinQ tags."""
        while etype in _VLAN_TYPES:
            etype = _U16(data, off + 2)[0]
            off += 4
        if etype == 0x0800:
            return self._ip(data, off, wire, ts, 0, False)
        if etype == 0x86DD:
            if data[off] >> 4 != 6:  # tshark: "Bogus IPv6 version", not counted as IPv6
                raise _Malformed
            return self._ip6(data, off, wire, ts, 0, False)
        return None

    def _other_link(self, linktype: int, data: bytes, wire: int, ts: int) -> Packet | None:
        if linktype in RAW_LINKTYPES:
            version = data[0] >> 4
            if version == 4:
                return self._ip4(data, 0, wire, ts, 0, False)
            if version == 6:
                return self._ip6(data, 0, wire, ts, 0, False)
            return None
        if linktype == LINKTYPE_LINUX_SLL:
            return self._ethertype(_U16(data, 14)[0], data, 16, wire, ts)
        if linktype == LINKTYPE_LINUX_SLL2:
            etype = _U16(data, 0)[0]
            if len(data) < 20:
                raise _Malformed
            return self._ethertype(etype, data, 20, wire, ts)
        if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
            return self._null(linktype, data, wire, ts)
        return None

    def _null(self, linktype: int, data: bytes, wire: int, ts: int) -> Packet | None:
        """BSD loopback: a 4-byte address family (host order for NULL, big-endian for LOOP)."""
        if linktype == LINKTYPE_LOOP:
            family = _U32_BE(data, 0)[0]
        else:
            family = _U32_LE(data, 0)[0]
            if family > 0xFFFF:  # written on a big-endian host
                family = _U32_BE(data, 0)[0]
        if family in _NULL_V4:
            return self._ip(data, 4, wire, ts, 0, False)
        if family in _NULL_V6:
            return self._ip6(data, 4, wire, ts, 0, False)
        return None

    # -- network layer -----------------------------------------------------------------

    def _ip(self, data: bytes, off: int, wire: int, ts: int, depth: int, quoted: bool):
        """IPv4 ethertype: tshark hands version-6 headers to IPv6 (with a version error)."""
        version = data[off] >> 4
        if version == 4:
            return self._ip4(data, off, wire, ts, depth, quoted)
        self._m |= M_IPV4 | M_ERR
        if version == 6:
            return self._ip6(data, off, wire, ts, depth, quoted)
        return None

    def _ip4(self, data, off, wire, ts, depth, quoted) -> Packet | None:
        self._m |= M_IPV4
        vihl, tot, frag, proto, src, dst = _IP4(data, off)
        hl = (vihl & 0x0F) << 2
        if hl < 20:
            raise _Malformed
        avail = wire - off
        if tot == 0 and not quoted:  # TCP segmentation offload: length not filled in
            tot = avail
        elif tot < hl:
            raise _Malformed
        elif tot > avail:
            if not quoted:
                self._m |= M_ERR  # tshark: "IPv4 total length exceeds packet length"
            tot = avail
        fragoff = frag & 0x1FFF
        is_frag = (frag & 0x2000) != 0 or fragoff != 0
        if is_frag:
            self._m |= M_FRAG
        pkt = Packet(ts, data, wire, 4, src, dst, proto, is_frag)
        if fragoff == 0 and tot > hl:
            self._transport(pkt, proto, data, off + hl, off + tot, depth, quoted or is_frag)
        return pkt

    def _ip6(self, data, off, wire, ts, depth, quoted) -> Packet | None:
        self._m |= M_IPV6
        _vcf, plen, nxt, src, dst = _IP6(data, off)
        end = off + 40 + plen
        if end > wire:
            end = wire
        pos = off + 40
        is_frag = False
        later_fragment = False
        while True:
            if nxt in _V6_EXT:
                hlen = (data[pos + 1] + 1) << 3
                nxt = data[pos]
                pos += hlen
            elif nxt == 51:  # AH: length in 4-byte units, minus 2
                hlen = (data[pos + 1] + 2) << 2
                nxt = data[pos]
                pos += hlen
            elif nxt == 44:  # Fragment
                self._m |= M_FRAG
                is_frag = True
                nxt = data[pos]
                if _U16(data, pos + 2)[0] & 0xFFF8:
                    later_fragment = True
                pos += 8
            else:
                break
            if pos > end:
                raise IndexError if pos > len(data) else _Malformed
        pkt = Packet(ts, data, wire, 6, src, dst, nxt, is_frag)
        if not later_fragment:
            self._transport(pkt, nxt, data, pos, end, depth, quoted or is_frag)
        return pkt

    # -- transport layer ---------------------------------------------------------------

    def _transport(self, pkt: Packet, proto: int, data, off: int, end: int, depth: int,
                   lenient: bool) -> None:
        """Decode the transport header; ``lenient``: a cut-short header is not an error."""
        try:
            if proto == 6:
                self._tcp(pkt, data, off, end, lenient)
            elif proto == 17:
                self._udp(pkt, data, off, end, lenient)
            elif proto == 1:
                self._icmp(pkt, data, off, end, depth, lenient)
            elif proto == 58:
                self._icmp6(pkt, data, off, end, depth, lenient)
            elif proto == 4 or proto == 41:
                self._tunnel(pkt, proto, data, off, end, depth, lenient)
        except (_Malformed, struct.error, IndexError):
            if not lenient:
                raise

    def _tcp(self, pkt: Packet, data, off: int, end: int, lenient: bool) -> None:
        self._m |= M_TCP
        if off + 14 > end:
            if lenient and off + 4 <= len(data):  # an ICMP quote keeps at least the ports
                pkt.sport, pkt.dport = _U16(data, off)[0], _U16(data, off + 2)[0]
            raise _Malformed
        sport, dport, seq, ack, doff, flags = _TCP(data, off)
        hl = (doff >> 4) << 2
        pkt.sport = sport
        pkt.dport = dport
        pkt.seq = seq
        pkt.ack = ack
        pkt.flags = flags
        if hl < 20:
            if not lenient:
                self._tcp_bytes += max(0, end - off - hl)
            self._m |= M_ERR
            return
        if off + hl > end:
            raise _Malformed
        seglen = end - off - hl
        pkt.l4_len = seglen
        pkt.payload_off = off + hl
        cap = len(data) - off - hl
        pkt.payload_len = seglen if seglen <= cap else max(cap, 0)
        if not lenient:
            self._tcp_bytes += seglen

    def _udp(self, pkt: Packet, data, off: int, end: int, lenient: bool) -> None:
        self._m |= M_UDP
        if off + 8 > end and not lenient:
            raise _Malformed
        sport, dport, ulen = _UDP(data, off)
        pkt.sport = sport
        pkt.dport = dport
        if ulen < 8 or (ulen > end - off and not lenient):
            self._m |= M_ERR
            return
        pkt.l4_len = ulen - 8 if not lenient else end - off - 8
        pkt.payload_off = off + 8
        pkt.payload_len = max(0, min(pkt.l4_len, len(data) - off - 8))

    def _icmp(self, pkt: Packet, data, off: int, end: int, depth: int, lenient: bool) -> None:
        self._m |= M_ICMP
        length = end - off
        if length < 8 and not lenient:
            raise _Malformed
        itype, code, ident = _ICMP(data, off)
        pkt.icmp_type = itype
        pkt.icmp_code = code
        pkt.sport = itype
        pkt.dport = code
        pkt.payload_off = off + 8
        pkt.payload_len = max(0, min(length, len(data) - off) - 8)
        pkt.l4_len = length - 8
        if itype in _ICMP4_IDS:
            pkt.icmp_id = ident
        elif itype in _ICMP4_ERRORS:
            self._quoted(pkt, data, off + 8, end, depth, 4)
            if not lenient and length > 136 and _U16(data, off + 10)[0] <= 128:
                words = data[off + 5]
                if (words * 4 if words else 128) + 8 > length:  # RFC 4884 extension past end
                    self._m |= M_ERR

    def _icmp6(self, pkt: Packet, data, off: int, end: int, depth: int, lenient: bool) -> None:
        self._m |= M_ICMPV6
        length = end - off
        if length < 8 and not lenient:
            raise _Malformed
        itype, code, ident = _ICMP(data, off)
        pkt.icmp_type = itype
        pkt.icmp_code = code
        pkt.sport = itype
        pkt.dport = code
        pkt.payload_off = off + 8
        pkt.payload_len = max(0, min(length, len(data) - off) - 8)
        pkt.l4_len = length - 8
        if itype in (128, 129):
            pkt.icmp_id = ident
        elif itype < 128:
            self._quoted(pkt, data, off + 8, end, depth, 6)
            words = data[off + 4] if itype in (1, 3) else 0
            if words and not lenient and 8 + words * 8 > length:  # RFC 4884 past end
                self._m |= M_ERR

    def _quoted(self, pkt: Packet, data, off: int, end: int, depth: int, version: int) -> None:
        """Decode the header an ICMP error quotes; cut-short quotes are normal."""
        if depth >= _MAX_DEPTH or off >= end:
            return
        quote = data[:end]  # the quote ends where the ICMP message ends
        try:
            if version == 4:
                pkt.inner = self._ip(quote, off, end, pkt.ts_ns, depth + 1, True)
            else:
                pkt.inner = self._ip6(quote, off, end, pkt.ts_ns, depth + 1, True)
        except (struct.error, IndexError):
            pass

    def _tunnel(self, pkt: Packet, proto: int, data, off: int, end: int, depth: int,
                lenient: bool) -> None:
        """IP-in-IP (4) and IPv6-in-IPv4 (41): decode the inner packet too."""
        if depth >= _MAX_DEPTH:
            return
        inner = data[:end]
        if proto == 4:
            pkt.inner = self._ip(inner, off, end, pkt.ts_ns, depth + 1, lenient)
        else:
            pkt.inner = self._ip6(inner, off, end, pkt.ts_ns, depth + 1, lenient)


class PyDecoder(_DecoderLogic):
    """The pure-Python decoder (the reference; :data:`Decoder` when the C one is off)."""

    __slots__ = ("_m", "_masks", "_tcp_bytes")

    def __init__(self) -> None:
        self._masks = {}
        self._m = 0
        self._tcp_bytes = 0


if CDECODE is None:
    Decoder = PyDecoder
else:

    class Decoder(CDECODE.DecoderBase, _DecoderLogic):  # type: ignore[no-redef]
        """The decoder with the C fast path (same results as :class:`PyDecoder`)."""

        __slots__ = ()
