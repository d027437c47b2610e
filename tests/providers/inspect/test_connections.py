"""The connection table: creation from either side, closes on FIN/RST, idle expiry."""

from __future__ import annotations

import struct

from providers.inspect._connections import ConnectionTable
from providers.inspect._headers import TCP, UDP, flow_key, parse_headers

ME, PEER = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def _tcp(src: bytes, dst: bytes, sport: int, dport: int, flags: int):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, TCP, 0, src, dst)
    h = parse_headers(ip + struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 0x50, flags, 0, 0, 0))
    assert h is not None
    return h


def _open(table: ConnectionTable, outbound: bool = True):
    h = _tcp(ME, PEER, 40000, 80, 0x02) if outbound else _tcp(PEER, ME, 80, 40000, 0x02)
    conn = table.create(flow_key(h, outbound), h, outbound)
    conn.state = "permitted"
    return conn


def test_inbound_connection_has_local_and_remote_sides_right() -> None:
    """A SYN from the peer makes an inbound recv-accept connection with our port as local."""
    conn = _open(ConnectionTable(), outbound=False)
    assert (conn.direction, conn.layer) == ("inbound", "recv-accept")
    assert (conn.local_addr, conn.local_port, conn.remote_addr, conn.remote_port) == (
        "10.0.0.1", 40000, "10.0.0.2", 80)
    assert conn.flow_id.startswith("1:")


def test_fin_from_both_sides_closes_and_counts() -> None:
    """One FIN keeps the connection; the peer's FIN closes it with reason fin."""
    table = ConnectionTable()
    conn = _open(table)
    table.seen(conn, _tcp(ME, PEER, 40000, 80, 0x11), 1.0)
    assert table.get(conn.key) is conn
    table.seen(conn, _tcp(PEER, ME, 80, 40000, 0x11), 1.0)
    assert table.get(conn.key) is None and table.closed == 1 and conn.packets == 2


def test_rst_closes_at_once_but_never_a_pending_connection() -> None:
    """RST closes a decided connection; a pending one stays (its packets need a verdict)."""
    table = ConnectionTable()
    pending = _open(table)
    pending.state = "pending"
    table.seen(pending, _tcp(PEER, ME, 80, 40000, 0x04), 1.0)
    assert table.get(pending.key) is pending
    pending.state = "permitted"
    table.seen(pending, _tcp(PEER, ME, 80, 40000, 0x04), 1.0)
    assert table.get(pending.key) is None


def test_idle_connections_expire_blocked_ones_sooner() -> None:
    """A blocked flow expires after 10 s idle, a permitted TCP one only after 300 s."""
    table = ConnectionTable()
    permitted = _open(table)
    blocked = table.create((UDP, ME, PEER, 1, 2), _tcp(ME, PEER, 1, 2, 0x02), True)
    blocked.state = "blocked"
    permitted.last_seen = blocked.last_seen = 0.0
    assert table.expire(11.0) == 1 and table.get(blocked.key) is None
    assert table.expire(299.0) == 0 and table.expire(301.0) == 1


def test_a_full_table_evicts_the_oldest_decided_connection() -> None:
    """At the size limit the oldest decided flow is closed (evicted), pending ones stay."""
    table = ConnectionTable(max_connections=2)
    pending = table.create((UDP, ME, PEER, 1, 1), _tcp(ME, PEER, 1, 1, 0x02), True)
    oldest = _open(table)
    newest = table.create((UDP, ME, PEER, 3, 3), _tcp(ME, PEER, 3, 3, 0x02), True)
    assert table.get(oldest.key) is None and table.closed == 1
    assert table.get(pending.key) is pending and table.get(newest.key) is newest
