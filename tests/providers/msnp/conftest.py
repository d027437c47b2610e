"""Fixtures for the MSNP parser tests: TCP payloads of the real capture, per direction."""

from __future__ import annotations

from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "captures"
SUSPECT_CHAT = CAPTURES / "ppa_suspectemployeechat_msnms.pcap"


@pytest.fixture(scope="session")
def suspect_chat_segments() -> list[tuple[int, int, bytes]]:
    """(source port, destination port, TCP payload) of every data segment, in capture order."""
    if not SUSPECT_CHAT.exists():
        print(f"skipping: {SUSPECT_CHAT} is absent")
        pytest.skip(f"real capture {SUSPECT_CHAT.name} is absent")
    from scapy.layers.inet import TCP
    from scapy.packet import Raw
    from scapy.utils import rdpcap

    segments = []
    for packet in rdpcap(str(SUSPECT_CHAT)):
        if TCP in packet and Raw in packet:  # Ethernet padding is not Raw
            segments.append((packet[TCP].sport, packet[TCP].dport, bytes(packet[Raw].load)))
    return segments
