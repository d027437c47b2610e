"""HTTP-gateway mode: MSNP commands inside Content-Length framed HTTP bodies."""

from __future__ import annotations

from providers.msnp import Command, HttpEnvelope, MsnpStreamParser, ParseError


def http_request(body: bytes, target: bytes = b"/gateway/gateway.dll?SessionID=42.7") -> bytes:
    return (
        b"POST http://gateway.messenger.hotmail.com" + target + b" HTTP/1.1\r\n"
        b"Content-Type: application/x-msn-messenger\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


def http_response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\n"
        b"X-MSN-Messenger: SessionID=42.7; GW-IP=10.1.2.3\r\n"
        b"Content-Type: application/x-msn-messenger\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


def test_request_bodies_give_their_commands_with_the_envelope():
    """A POST body's commands are parsed, each carrying the HTTP envelope it came in."""
    parser = MsnpStreamParser()
    stream = http_request(b"VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt\r\n")
    items = parser.feed(stream)
    assert parser.http_mode
    envelope, ver, cvr = items
    assert isinstance(envelope, HttpEnvelope)
    assert (envelope.method, envelope.session_id, envelope.body_len) == ("POST", "42.7", 38)
    assert [(c.verb, c.trid) for c in (ver, cvr)] == [("VER", 1), ("CVR", 2)]
    assert ver.envelope == envelope
    assert stream[ver.offset : ver.offset + ver.size] == b"VER 1 MSNP8 CVR0\r\n"
    assert stream[cvr.offset : cvr.offset + cvr.size] == b"CVR 2 0x0409 winnt\r\n"


def test_response_with_messenger_header_and_payload_command():
    """A gateway response gives its session and gateway IP, and a payload command inside."""
    body = b"MSG Hotmail Hotmail 5\r\nhelloUSR 3 OK a@b.c A\r\n"
    items = MsnpStreamParser().feed(http_response(body))
    envelope = items[0]
    assert (envelope.status, envelope.session_id, envelope.gateway_ip) == (200, "42.7", "10.1.2.3")
    assert [(c.verb, c.payload) for c in items[1:]] == [("MSG", b"hello"), ("USR", b"")]


def test_several_messages_split_anywhere():
    """A keep-alive stream of requests, split at every byte, gives the same items."""
    stream = (
        http_request(b"USR 3 TWN I a@b.c\r\n")
        + http_request(b"", b"/gateway/gateway.dll?Action=poll&SessionID=42.7")
        + http_request(b"PNG\r\n")
    )
    whole = MsnpStreamParser().feed(stream)
    assert [type(i).__name__ for i in whole] == [
        "HttpEnvelope",
        "Command",
        "HttpEnvelope",
        "HttpEnvelope",
        "Command",
    ]
    for cut in range(1, len(stream)):
        parser = MsnpStreamParser()
        assert parser.feed(stream[:cut]) + parser.feed(stream[cut:]) == whole


def test_get_request_is_recognised():
    """A GET request also switches to gateway mode."""
    items = MsnpStreamParser().feed(b"GET /gateway/gateway.dll?Action=poll HTTP/1.0\r\n\r\n")
    assert isinstance(items[0], HttpEnvelope) and items[0].method == "GET"


def test_huge_content_length_drops_the_stream_with_a_reason():
    """A Content-Length over the bound is an http_error and the stream is given up."""
    parser = MsnpStreamParser()
    items = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\nVER 1\r\n")
    errors = [i for i in items if isinstance(i, ParseError)]
    assert errors[0].kind == "http_error" and "Content-Length" in errors[0].detail
    assert parser.failed and parser.stats.http_errors == 1
    assert not [i for i in items if isinstance(i, Command)]


def test_endless_header_block_is_bounded():
    """Headers that never end are an error once they pass the line bound."""
    parser = MsnpStreamParser(max_line=1024)
    parser.feed(b"POST /gateway/gateway.dll HTTP/1.1\r\n")
    for _ in range(10):
        parser.feed(b"X-Junk: " + b"a" * 200 + b"\r\n")
    assert parser.failed and parser.stats.http_errors == 1


def test_chunked_encoding_is_refused():
    """Chunked bodies are not part of the gateway protocol and are refused with a reason."""
    parser = MsnpStreamParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    assert "chunked" in (parser.failed or "")
