"""Flow table: orientation, direction, state machine, counters, timeouts and eviction."""

from __future__ import annotations

from providers.packets import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Decoder, Packet, open_capture
from providers.packets._flows import Direction, FlowState, FlowTable

from .tshark_oracle import CAPTURES

C, S = bytes([192, 168, 1, 10]), bytes([93, 184, 216, 34])
SEC = 1_000_000_000


def tcp(src, dst, sport, dport, flags, ts=0, size=60) -> Packet:
    return Packet(ts, b"", size, 4, src, dst, 6, False, sport, dport, 0, 0, flags)


def handshake(t: FlowTable):
    out = [t.update(tcp(C, S, 40000, 80, TCP_SYN))]
    out.append(t.update(tcp(S, C, 80, 40000, TCP_SYN | TCP_ACK)))
    out.append(t.update(tcp(C, S, 40000, 80, TCP_ACK)))
    return out


def test_handshake_establishes_one_bidirectional_flow() -> None:
    """SYN, SYN/ACK, ACK make one flow, NEW then ESTABLISHED, with directions out/in/out."""
    t = FlowTable()
    steps = handshake(t)
    flow = steps[0][0]
    assert all(f is flow for f, _ in steps)
    assert [d for _, d in steps] == [Direction.OUT, Direction.IN, Direction.OUT]
    assert flow.state is FlowState.ESTABLISHED
    assert flow.packets == [2, 1] and flow.bytes == [120, 60]
    assert flow.local == ("192.168.1.10", 40000) and flow.remote == ("93.184.216.34", 80)


def test_local_nets_orient_inbound_connections() -> None:
    """With local_nets, a connection from outside has the local side as responder."""
    t = FlowTable(local_nets=["192.168.0.0/16"])
    flow, d = t.update(tcp(S, C, 5555, 22, TCP_SYN))
    assert d is Direction.IN
    assert flow.local == ("192.168.1.10", 22)


def test_fin_both_ways_closes_and_reports() -> None:
    """FIN from one side is CLOSING; FIN from both sides is CLOSED and reported once."""
    ended = []
    t = FlowTable(on_end=lambda f, why: ended.append(why))
    flow = handshake(t)[0][0]
    t.update(tcp(C, S, 40000, 80, TCP_FIN | TCP_ACK))
    assert flow.state is FlowState.CLOSING
    t.update(tcp(S, C, 80, 40000, TCP_FIN | TCP_ACK))
    t.update(tcp(C, S, 40000, 80, TCP_ACK))
    assert flow.state is FlowState.CLOSED
    assert ended == ["closed"]


def test_rst_closes() -> None:
    """A RST closes the flow at once."""
    t = FlowTable()
    flow, _ = t.update(tcp(C, S, 1, 2, TCP_SYN))
    t.update(tcp(S, C, 2, 1, TCP_RST | TCP_ACK))
    assert flow.state is FlowState.CLOSED


def test_idle_timeouts_per_protocol() -> None:
    """UDP flows expire after the UDP timeout while an established TCP flow stays."""
    ended = []
    t = FlowTable(timeouts_s={"udp": 10, "tcp": 100}, on_end=lambda f, why: ended.append(why))
    handshake(t)
    u = Packet(0, b"", 80, 4, C, S, 17, False, 5000, 53)
    t.update(u)
    assert t.expire(11 * SEC) == 1
    assert ended == ["expired"] and len(t) == 1
    assert t.stats.expired == 1


def test_bounded_size_evicts_least_recent() -> None:
    """Beyond max_flows the least recently seen flow is evicted and counted."""
    ended = []
    t = FlowTable(max_flows=100, on_end=lambda f, why: ended.append((f.ports[0], why)))
    for port in range(150):
        t.update(tcp(C, S, 10000 + port, 80, TCP_SYN))
    assert len(t) == 100
    assert t.stats.evicted == 50
    assert ended[0] == (10000, "evicted")


def test_icmp_echo_pairs_by_identifier() -> None:
    """Echo request and reply with the same identifier are one flow; another id is another."""
    t = FlowTable()
    def echo(src, dst, itype, ident):
        p = Packet(0, b"", 98, 4, src, dst, 1, False, itype, 0)
        p.icmp_type, p.icmp_id = itype, ident
        return p
    f1, _ = t.update(echo(C, S, 8, 7))
    f2, d = t.update(echo(S, C, 0, 7))
    f3, _ = t.update(echo(C, S, 8, 8))
    assert f1 is f2 and d is Direction.IN and f3 is not f1
    assert f1.state is FlowState.ESTABLISHED


def test_real_capture_flow_and_id() -> None:
    """The MSN capture is one TCP flow, initiated by the client, with a Community ID."""
    path = CAPTURES / "ppa_suspectemployeechat_msnms.pcap"
    if not path.exists():
        print(f"skipping: {path} is absent")
        import pytest
        pytest.skip("capture absent")
    d, t = Decoder(), FlowTable()
    with open_capture(path) as src:
        for lt, ts, data, wire, _ in src:
            pkt = d.decode(lt, data, wire, ts)
            if pkt is not None:
                t.update(pkt)
    flows = list(t)
    assert len(flows) == 1
    flow = flows[0]
    assert flow.remote[1] == 1863 and sum(flow.packets) == 50
    assert flow.id.startswith("1:") and len(flow.id) == 30


def test_expiry_looks_past_older_flows_with_longer_timeouts() -> None:
    """An older established TCP flow does not hide a younger UDP flow that has expired."""
    t = FlowTable(timeouts_s={"udp": 10, "tcp": 100})
    handshake(t)                                          # TCP, seen at 0
    t.update(Packet(2 * SEC, b"", 80, 4, C, S, 17, False, 5000, 53))   # UDP, seen at 2 s
    t.update(Packet(19 * SEC, b"", 80, 4, C, S, 17, False, 5001, 53))  # UDP, seen at 19 s
    assert t.expire(20 * SEC) == 1
    assert sorted(f.proto for f in t) == [6, 17]
