"""The compiled flow table (``_cstage.FlowTable``) behaves exactly as FlowTable."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.packets import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, FlowState, FlowTable
from providers.packets._accel import CSTAGE, STAGE_REASON
from providers.packets._cflows import CompiledFlowTable

if CSTAGE is None:
    print(f"skipping: providers.packets._cstage is off ({STAGE_REASON})")
    pytest.skip(f"the compiled packet stage is off ({STAGE_REASON})", allow_module_level=True)

_V4 = [bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes([192, 168, 1, 9])]
_V6 = [b"\xfe\x80" + b"\x00" * 13 + b"\x01", b"\x20\x01" + b"\x00" * 13 + b"\x02"]


def _state(flow) -> tuple:
    return (flow.key, flow.proto, flow.version, flow.addrs, flow.ports, flow.local_side,
            flow.state, tuple(flow.packets), tuple(flow.bytes), flow.first_ns, flow.last_ns,
            tuple(flow.fin_seen), flow.follow, flow.id, flow.local, flow.remote,
            flow.proto_name, repr(flow))


@st.composite
def _packet(draw, ts: int) -> SimpleNamespace:
    v6 = draw(st.booleans())
    pool = _V6 if v6 else _V4
    proto = draw(st.sampled_from([6, 6, 6, 17, 1 if not v6 else 58, 47]))
    icmp = proto in (1, 58) and draw(st.booleans())
    return SimpleNamespace(
        proto=proto, version=6 if v6 else 4, src=draw(st.sampled_from(pool)),
        dst=draw(st.sampled_from(pool)), sport=draw(st.sampled_from([1863, 40000, 40001])),
        dport=draw(st.sampled_from([1863, 40000])), icmp_id=draw(st.integers(0, 2)) if icmp
        else -1, flags=draw(st.sampled_from([TCP_ACK, TCP_SYN, TCP_SYN | TCP_ACK, TCP_ACK,
                                             TCP_FIN | TCP_ACK, TCP_RST, 0])),
        wire_len=draw(st.integers(40, 1500)), ts_ns=ts)


@st.composite
def _script(draw) -> list:
    """Packets at rising times, with expiry sweeps between some of them."""
    steps, ts = [], 10**18
    for _ in range(draw(st.integers(0, 60))):
        ts += draw(st.sampled_from([0, 10**6, 10**9, 11 * 10**9, 61 * 10**9, 4000 * 10**9]))
        if draw(st.integers(0, 9)) == 0:
            steps.append(("expire", ts))
        else:
            steps.append(("packet", draw(_packet(ts))))
    return steps


def _run(cls, script, max_flows, nets, follow) -> tuple:
    ends: list = []
    table = cls(max_flows, local_nets=nets, timeouts_s={"udp": 60.0})
    table.on_end = lambda flow, reason: ends.append((reason, _state(flow)))
    table.follow = follow
    seen = []
    for kind, arg in script:
        if kind == "expire":
            seen.append(("expired", table.expire(arg)))
        else:
            flow, side = table.account(arg)
            seen.append((side, _state(flow), len(table)))
    order = [_state(f) for f in table]
    table.flush()
    return seen, ends, order, table.stats.as_dict(), len(table)


@settings(max_examples=500, deadline=None)
@given(script=_script(), max_flows=st.sampled_from([1, 2, 3, 100]),
       nets=st.sampled_from([(), ("10.0.0.0/30",), ("192.168.0.0/16", "fe80::/10"),
                             ("10.0.0.2/32",)]),
       follow=st.booleans())
def test_any_packets_give_the_same_flows_ends_and_counters(script, max_flows, nets, follow):
    """Any mix of TCP, UDP, ICMP (echo ids) and other packets, over v4 and v6, with sweeps,
    evictions and local networks: the same flows, sides, states, ends, order, counters."""
    assert _run(CompiledFlowTable, script, max_flows, nets, follow) \
        == _run(FlowTable, script, max_flows, nets, follow)


def test_flow_fields_only_the_table_changes():
    """Consumers may set follow, local_side, user and _id; the counters are read-only."""
    table = CompiledFlowTable()
    pkt = SimpleNamespace(proto=6, version=4, src=_V4[0], dst=_V4[1], sport=40000, dport=1863,
                          icmp_id=-1, flags=TCP_SYN, wire_len=60, ts_ns=5)
    flow, side = table.account(pkt)
    assert side == 0 and flow.state is FlowState.NEW and flow.packets == [1, 0]
    flow.follow, flow.local_side, flow.user["k"] = False, 1, "v"
    assert (flow.follow, flow.local_side, flow.user) == (False, 1, {"k": "v"})
    for name in ("packets", "state", "proto", "key", "last_ns"):
        with pytest.raises(AttributeError):
            setattr(flow, name, 0)
    with pytest.raises(ValueError):
        flow.local_side = 2


def test_misuse_raises():
    """Uninitialised, bad arguments: an exception, not a crash."""
    bare = CSTAGE.FlowTable.__new__(CSTAGE.FlowTable)
    with pytest.raises(RuntimeError, match="not initialised"):
        bare.flush()
    with pytest.raises(TypeError):
        CSTAGE.FlowTable(object, (), 1, (), [])
    table = CompiledFlowTable()
    with pytest.raises(TypeError):
        table._account(6, "10.0.0.1", 1, b"", 2, -1, 0, 60, 0, 4)
    with pytest.raises(TypeError):
        CSTAGE.FlowBase()
