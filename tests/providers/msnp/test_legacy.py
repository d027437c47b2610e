"""legacy_format: the original driver's trace strings, byte for byte."""

from __future__ import annotations

from providers.msnp import legacy_format, legacy_trace


def test_client_server_sent():
    """An outbound USR chunk gives the all-traffic line and the Client-Server Sent line."""
    chunk = b"USR 93 tesla_brian@hotmail.com 1835953129.20013021.2623242\r\n"
    assert legacy_format(chunk, inbound=False, local_port=3331, remote_port=1863) == [
        "Message Received. Local Port: 3331 Remote Port: 1863. Message: " + chunk.decode(),
        "Client-Server Message Sent. Local Port: 3331 Remote Port: 1863. Message: "
        + chunk.decode(),
    ]


def test_client_client_received():
    """An inbound MSG chunk is a Client-Client Message Received."""
    lines = legacy_format(b"MSG a@b.c A 2\r\nhi", inbound=True, local_port=1, remote_port=2)
    assert (
        lines[1] == "Client-Client Message Received. Local Port: 1 Remote Port: 2. Message: "
        "MSG a@b.c A 2\r\nhi"
    )


def test_unknown_verb_and_short_chunk():
    """Verbs outside the table, and chunks under three bytes, are Unknown or Invalid."""
    for chunk in (b"UBX a@b.c 0\r\n", b"OK"):
        line = legacy_format(chunk, inbound=True, local_port=1, remote_port=2)[1]
        assert line.startswith("Unknown or Invalid Command Message Received. Local Port: 1 ")


def test_chunk_classified_by_its_first_command_only():
    """A chunk with several commands is classified by the first three bytes."""
    trace = legacy_trace(b"MSG 1 U 0\r\nUSR 2 x\r\n", inbound=False, local_port=1, remote_port=2)
    assert trace.legacy_class == "peer_to_peer"


def test_non_printable_chunks_are_ignored():
    """Any byte outside CR, LF and 0x20-0x7E makes the original ignore the whole chunk."""
    for chunk in (b"MSG 1 N 2\r\n\xc3\xa9", b"USR 1\tx\r\n", b"VER\x00", b""):
        assert legacy_format(chunk, inbound=True, local_port=1, remote_port=2) == []


def test_http_gateway_chunk_is_classified_after_its_headers():
    """Outbound POST / inbound HTTP chunks are classified by the command after the headers."""
    post = b"POST /gateway/gateway.dll HTTP/1.1\r\nContent-Length: 7\r\n\r\nOUT\r\n"
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nMSG a b 0\r\n"
    assert legacy_trace(post, inbound=False, local_port=1, remote_port=80).legacy_class == (
        "client_server"
    )
    assert legacy_trace(reply, inbound=True, local_port=1, remote_port=80).legacy_class == (
        "peer_to_peer"
    )
    # an inbound chunk starting with POST is not gateway mode: classified by "POS"
    assert legacy_trace(post, inbound=True, local_port=1, remote_port=80).legacy_class == (
        "unknown"
    )
