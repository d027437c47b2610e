"""legacy_format: the original driver's trace strings, byte for byte."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.msnp import legacy_format, legacy_trace

from . import notify_c


def test_client_server_sent():
    """An outbound USR chunk gives the all-traffic line and the Client-Server Sent line
    (whose format string ends with CRLF)."""
    chunk = b"USR 93 tesla_brian@hotmail.com 1835953129.20013021.2623242\r\n"
    assert legacy_format(chunk, inbound=False, local_port=3331, remote_port=1863) == [
        "Message Received. Local Port: 3331 Remote Port: 1863. Message: " + chunk.decode(),
        "Client-Server Message Sent. Local Port: 3331 Remote Port: 1863. Message: "
        + chunk.decode() + "\r\n",
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


def gateway(start: bytes, body: bytes) -> bytes:
    """An HTTP message whose blank line falls where the original looks (offset 4k)."""
    head = start + b"\r\nX-Pad: "
    return head + b"p" * (-len(head) % 4) + b"\r\n\r\n" + body


def test_http_gateway_chunk_prints_its_body_after_the_headers():
    """Outbound POST / inbound HTTP chunks are classified and printed from their body on."""
    post = gateway(b"POST /gateway/gateway.dll?SessionID=7 HTTP/1.1", b"OUT\r\n")
    reply = gateway(b"HTTP/1.1 200 OK", b"MSG a b 0\r\n")
    sent = legacy_trace(post, inbound=False, local_port=1, remote_port=80)
    assert (sent.legacy_class, sent.classified) == (
        "client_server",
        "Client-Server Message Sent. Local Port: 1 Remote Port: 80. Message: OUT\r\n\r\n")
    got = legacy_trace(reply, inbound=True, local_port=1, remote_port=80)
    assert (got.legacy_class, got.message) == ("peer_to_peer", "MSG a b 0\r\n")
    # an inbound chunk starting with POST is not gateway mode: classified by "POS", whole
    whole = legacy_trace(post, inbound=True, local_port=1, remote_port=80)
    assert (whole.legacy_class, whole.message) == ("unknown", post.decode())


def test_sent_lines_end_with_the_originals_crlf_and_received_lines_do_not():
    """The original's "... Sent." formats end with CRLF after the message; "Received" not."""
    sent = legacy_format(b"OUT", inbound=False, local_port=1, remote_port=2)
    got = legacy_format(b"OUT", inbound=True, local_port=1, remote_port=2)
    assert sent[1].endswith("Message: OUT\r\n") and got[1].endswith("Message: OUT")
    assert sent[0] == got[0] == "Message Received. Local Port: 1 Remote Port: 2. Message: OUT"


def test_headers_only_gateway_chunk_gets_no_classified_line():
    """A gateway chunk with nothing after its headers is traced as all traffic only."""
    head = gateway(b"HTTP/1.1 200 OK", b"")
    assert legacy_format(head, inbound=True, local_port=1, remote_port=2) == [
        "Message Received. Local Port: 1 Remote Port: 2. Message: " + head.decode()]


def test_gateway_prefix_is_case_insensitive():
    """"post", "Get" and "http" start gateway mode too, as the original's _strnicmp does."""
    for start, inbound in ((b"post / HTTP/1.1", False), (b"Get / HTTP/1.1", False),
                           (b"http/1.1 200 OK", True)):
        chunk = gateway(start, b"OUT")
        assert legacy_trace(chunk, inbound=inbound, local_port=1, remote_port=2).message == "OUT"


def test_headers_end_is_found_only_where_the_original_looks():
    """The original seeks the blank line at offsets 0, 4, 8...: elsewhere no line follows."""
    chunk = b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nOUT\r\n"  # blank line at offset 23
    assert chunk.index(b"\r\n\r\n") % 4 != 0
    assert len(legacy_format(chunk, inbound=True, local_port=1, remote_port=2)) == 1


# -- chunk by chunk against a re-implementation of notify.c --------------------------------
_PRINTABLE = st.sampled_from([b"\r", b"\n", b"\r\n", b"\r\n\r\n", b" ", b"MSG", b"USR", b"OUT",
                              b"POST", b"post", b"GET", b"gEt", b"HTTP", b"Http", b"x", b"1",
                              b"HTTP/1.1 200 OK", b"Content-Length: 4", b"ab", b"ACK 5"])
_BYTES = st.one_of(_PRINTABLE, st.binary(min_size=1, max_size=3))


@given(st.lists(_PRINTABLE, max_size=12).map(b"".join) | st.lists(_BYTES, max_size=8).map(b"".join),
       st.booleans())
@settings(max_examples=400, deadline=None)
def test_every_chunk_is_traced_as_the_original_traces_it(chunk, inbound):
    """Any chunk, either direction: the same messages as the re-implemented notify.c."""
    assert legacy_format(chunk, inbound=inbound, local_port=3331, remote_port=1863) == \
        notify_c.trace(chunk, inbound=inbound, local_port=3331, remote_port=1863)


def test_real_capture_chunks_are_traced_as_the_original_traces_them(suspect_chat_segments):
    """Every data segment of the real capture gives exactly the original's messages."""
    for sport, dport, payload in suspect_chat_segments:
        inbound = sport == 1863
        lport, rport = (dport, sport) if inbound else (sport, dport)
        assert legacy_format(payload, inbound=inbound, local_port=lport, remote_port=rport) == \
            notify_c.trace(payload, inbound=inbound, local_port=lport, remote_port=rport)
