"""The external decider's client over a real control socket, as TraceView would use it."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from providers.inspect import DecisionClient, ExternalDecider, NotRunningError
from providers.inspect._connections import ConnectionTable
from providers.inspect._control import ControlServer
from providers.inspect._headers import parse_headers


def _decider_server(tmp_path: Path) -> tuple[ExternalDecider, ControlServer, list]:
    done: list = []
    decider = ExternalDecider(30.0, lambda *a: done.append(a))

    def handle(req: dict, owner: object = None) -> dict:
        return decider.request(req, owner)

    return decider, ControlServer(tmp_path / "c.sock", handle), done


def _pend(decider: ExternalDecider) -> int:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes([10, 0, 0, 1]),
                     bytes([10, 0, 0, 2]))
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 0, 0, 0x50, 0x02, 0, 0, 0)
    h = parse_headers(ip + tcp)
    assert h is not None
    conn = ConnectionTable().create(("k",), h, True)
    conn.process_path, conn.process_pid = "/usr/bin/curl", 4242
    decider.submit(conn)
    return conn.id


def test_client_is_a_traceview_decision_source(tmp_path: Path) -> None:
    """TraceView's DecisionSource protocol accepts the client; pending items render."""
    from viewer._decisions import DecisionSource

    decider, server, _ = _decider_server(tmp_path)
    try:
        _pend(decider)
        with DecisionClient(server.path) as client:
            assert isinstance(client, DecisionSource)
            (item,) = client.pending()
            assert (item.process, item.pid) == ("/usr/bin/curl", 4242)
            assert item.five_tuple == "tcp 10.0.0.1:40000 -> 10.0.0.2:443"
            assert 29 < item.remaining <= 30
    finally:
        server.close()


def test_client_decides_holds_and_sees_refusals(tmp_path: Path) -> None:
    """allow completes once; a second answer is False; bad requests raise with the reason."""
    decider, server, done = _decider_server(tmp_path)
    try:
        conn_id = _pend(decider)
        with DecisionClient(server.path) as client:
            client.hold(conn_id, True)
            assert client.pending()[0].held
            assert client.decide(conn_id, "allow") is True
            assert client.decide(conn_id, "block") is False
            with pytest.raises(Exception, match="permit or block"):
                client.decide(conn_id, "perhaps")
        assert done == [(conn_id, "permit", "decision-program")]
    finally:
        server.close()
    assert not server.path.exists()


def test_client_without_inspector_reports_not_running(tmp_path: Path) -> None:
    """Connecting to a socket nobody serves raises NotRunningError."""
    with pytest.raises(NotRunningError):
        DecisionClient(tmp_path / "none.sock").pending()
