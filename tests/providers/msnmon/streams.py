"""Hand-built TCP conversations for the engine tests: raw IPv4 packets, decoded for real."""

from __future__ import annotations

import socket
import struct

from providers.packets import LINKTYPE_RAW, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, Decoder, Packet

_MAX_SEGMENT = 60_000


class Conversation:
    """One TCP connection between a client and a server, as packets in capture order."""

    def __init__(self, client: tuple[str, int], server: tuple[str, int], *,
                 start_ns: int = 1_700_000_000_000_000_000) -> None:
        self.client, self.server = client, server
        self.seq = {True: 1000, False: 5000}  # by from_client
        self.ts = start_ns
        self.decoder = Decoder()

    def _packet(self, from_client: bool, flags: int, data: bytes = b"") -> Packet:
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        seq, ack = self.seq[from_client], self.seq[not from_client]
        tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0)
        total = 20 + len(tcp) + len(data)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0,
                         socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
        self.ts += 1_000_000
        pkt = self.decoder.decode(LINKTYPE_RAW, ip + tcp + data, 0, self.ts)
        assert pkt is not None
        self.seq[from_client] = (seq + len(data) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)) \
            % (1 << 32)
        return pkt

    def handshake(self) -> list[Packet]:
        """SYN, SYN-ACK, ACK."""
        return [self._packet(True, TCP_SYN), self._packet(False, TCP_SYN | TCP_ACK),
                self._packet(True, TCP_ACK)]

    def send(self, data: bytes, from_client: bool = True) -> list[Packet]:
        """Data segments (at most 60 000 bytes each)."""
        return [self._packet(from_client, TCP_PSH | TCP_ACK, data[i:i + _MAX_SEGMENT])
                for i in range(0, len(data), _MAX_SEGMENT)]

    def close(self) -> list[Packet]:
        """FIN from both sides."""
        return [self._packet(True, TCP_FIN | TCP_ACK), self._packet(False, TCP_FIN | TCP_ACK)]
