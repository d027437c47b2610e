"""The worker on real traffic: TCP, UDP and ping, both directions, permit and block, v4 and v6."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import OTHER4, OTHER6, Lab, ping, tcp_exchange, udp_exchange, until


def _matrix(lab: Lab, peer: str, local: str, timeout: float) -> dict[str, bool]:
    """Every exchange between ``a`` and ``peer``, run in parallel (blocked ones wait)."""
    cases = {
        "tcp-out": lambda: tcp_exchange(lab.a, peer, timeout),
        "udp-out": lambda: udp_exchange(lab.a, peer, timeout),
        "ping-out": lambda: ping(lab.a, peer, timeout) is not None,
        "tcp-in": lambda: tcp_exchange(lab.b, local, timeout, src=peer),
        "udp-in": lambda: udp_exchange(lab.b, local, timeout, src=peer),
        "ping-in": lambda: ping(lab.b, local, timeout, src=peer) is not None,
    }
    with ThreadPoolExecutor(len(cases)) as pool:
        futures = {name: pool.submit(fn) for name, fn in cases.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_permit_mode_passes_all_traffic_with_the_peer_and_traces_it(lab: Lab, v6: bool) -> None:
    """In permit mode every exchange with the peer works; each new flow is pended, permitted."""
    peer, local = (lab.b.ip6, lab.a.ip6) if v6 else (lab.b.ip4, lab.a.ip4)
    lab.inspector.start("--remote", peer)
    results = _matrix(lab, peer, local, 2.0)
    assert all(results.values()), results
    pended = lab.inspector.wait_event("ConnectionPended", 6)
    kinds = {(e.fields["network.transport"], e.fields["network.direction"]) for e in pended}
    icmp = "icmpv6" if v6 else "icmp"
    assert kinds == {(p, d) for p in ("tcp", "udp", icmp) for d in ("egress", "ingress")}
    layers = {e.fields["network.direction"]: e.fields["layer"] for e in pended}
    assert layers == {"egress": "connect", "ingress": "recv-accept"}
    verdicts = lab.inspector.events("ConnectionVerdict")
    assert {e.fields["verdict"] for e in verdicts} == {"permit"}
    assert all(e.fields["network.community_id"].startswith("1:") for e in verdicts)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_block_mode_drops_all_traffic_with_the_peer_but_not_a_second_peer(lab: Lab,
                                                                          v6: bool) -> None:
    """In block mode every exchange with the peer fails while another address of b still works."""
    peer, local = (lab.b.ip6, lab.a.ip6) if v6 else (lab.b.ip4, lab.a.ip4)
    other = OTHER6 if v6 else OTHER4
    lab.inspector.start("--remote", peer, "--block")
    results = _matrix(lab, peer, local, 0.7)
    assert not any(results.values()), results
    assert tcp_exchange(lab.a, other) and udp_exchange(lab.a, other)
    assert ping(lab.a, other) is not None
    verdicts = lab.inspector.wait_event("ConnectionVerdict", 6)
    assert {e.fields["verdict"] for e in verdicts} == {"block"}
    assert not [e for e in lab.inspector.events("ConnectionPended")
                if other in (e.fields["source.ip"], e.fields["destination.ip"])]


def test_outbound_connect_is_attributed_and_its_close_traced(lab: Lab) -> None:
    """The pended TCP connection names this process's pid and executable; FINs close it."""
    import os

    lab.inspector.start("--remote", lab.b.ip4)
    assert tcp_exchange(lab.a, lab.b.ip4)
    (pended,) = lab.inspector.wait_event("ConnectionPended")
    assert pended.fields["process.pid"] == os.getpid()
    assert pended.fields["process.executable"] == os.path.realpath(
        f"/proc/{os.getpid()}/exe")
    (closed,) = lab.inspector.wait_event("ConnectionClosed")
    assert closed.fields["reason"] == "fin" and closed.fields["verdict"] == "permit"
    cid = "network.community_id"
    assert closed.fields[cid] == pended.fields[cid] and closed.fields["packets"] >= 6


def test_icmp_port_unreachable_error_is_not_inspected(lab: Lab) -> None:
    """The ICMP error for a closed UDP port reaches the sender and is in no inspect event."""
    lab.inspector.start("--remote", lab.b.ip4, "--trace-packets")
    with lab.a.enter():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with s:
        s.settimeout(2)
        s.connect((lab.b.ip4, 9))  # nothing listens on b's port 9
        s.send(b"x")
        with pytest.raises(ConnectionRefusedError):
            s.recv(10)
    packets = lab.inspector.wait_event("PacketVerdict")
    assert [e.fields["network.direction"] for e in packets] == ["egress"]
    pended = lab.inspector.events("ConnectionPended")
    assert [e.fields["network.transport"] for e in pended] == ["udp"]


def test_block_traffic_edited_in_the_file_applies_without_restart(lab: Lab, tmp_path) -> None:
    """Setting block_traffic in the file blocks the next connection; clearing it permits again."""
    conf = tmp_path / "inspect.toml"
    conf.write_text(f'remote_address = "{lab.b.ip4}"\nblock_traffic = false\n')
    lab.inspector.start("--config", str(conf))
    assert tcp_exchange(lab.a, lab.b.ip4)
    conf.write_text(f'remote_address = "{lab.b.ip4}"\nblock_traffic = true\n')
    assert not tcp_exchange(lab.a, lab.b.ip4, 0.7)
    assert not udp_exchange(lab.a, lab.b.ip4, 0.5)
    conf.write_text(f'remote_address = "{lab.b.ip4}"\nblock_traffic = false\n')
    assert until(lambda: tcp_exchange(lab.a, lab.b.ip4))
    changes = [e.fields["block_traffic"] for e in lab.inspector.wait_event("ConfigChanged", 2)]
    assert changes == [True, False]


def test_reject_extension_answers_blocked_connections_at_once(lab: Lab, tmp_path) -> None:
    """With reject, a blocked TCP connect is refused by a RST and a UDP send by ICMP unreachable."""
    conf = tmp_path / "inspect.toml"
    conf.write_text(f'remote_address = "{lab.b.ip4}"\nblock_traffic = true\nreject = true\n')
    lab.inspector.start("--config", str(conf))
    with lab.a.enter():
        tcp = socket.socket()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with tcp, udp:
        tcp.settimeout(2)
        with pytest.raises(ConnectionRefusedError):
            tcp.connect((lab.b.ip4, 7000))
        udp.settimeout(2)
        udp.connect((lab.b.ip4, 7000))
        udp.send(b"x")
        with pytest.raises(ConnectionRefusedError):
            udp.recv(10)


def test_prefix_and_port_extensions_inspect_only_what_they_name(lab: Lab, tmp_path) -> None:
    """An extra prefix is inspected too; with a port condition other ports and ping pass."""
    conf = tmp_path / "inspect.toml"
    conf.write_text(f'remote_address = "{lab.b.ip4}"\naddresses = ["{OTHER4}/32"]\n'
                    'block_traffic = true\nports = [7000]\n')
    lab.inspector.start("--config", str(conf))
    assert not tcp_exchange(lab.a, OTHER4, 0.7)
    assert not udp_exchange(lab.a, lab.b.ip4, 0.5)
    assert ping(lab.a, OTHER4) is not None, "ICMP is not inspected with a port condition"
    with lab.a.enter():
        s = socket.socket()
    with s:
        s.settimeout(2)
        with pytest.raises(ConnectionRefusedError):  # port 7001: not inspected, b answers RST
            s.connect((lab.b.ip4, 7001))


@pytest.mark.parametrize("fail_closed", [False, True], ids=["fail-open", "fail-closed"])
def test_a_decider_that_fails_gives_the_crash_policy_counted_once(lab: Lab,
                                                                  fail_closed: bool) -> None:
    """A decider error on a new connection applies the crash policy (permit, or block when
    fail_closed): decided ``fail-open``, counted in failed_open and nowhere else."""
    from providers.inspect._config import load_config
    from providers.inspect._inspector import Inspector

    config = load_config(env={}, remote_address=lab.b.ip4, queue=61, fail_closed=fail_closed)
    with lab.a.enter():
        insp = Inspector(config, attribute=False)
        insp.start()
    try:
        def broken(conn: object) -> str:
            raise RuntimeError("decider bug")

        insp.decider.submit = broken  # type: ignore[method-assign]
        assert tcp_exchange(lab.a, lab.b.ip4, 0.7) is not fail_closed  # before a SYN resend
        assert until(lambda: insp.stats.failed_open == 1)
        (last, *_) = insp.worker.recent()  # type: ignore[union-attr]
        assert (last["decided_by"], last["verdict"]) == (
            "fail-open", "block" if fail_closed else "permit")
    finally:
        with lab.a.enter():
            insp.stop()
    s = insp.stats
    assert s.connections >= 1 and s.unaccounted() == 0 and s.worker_errors >= 1


def test_a_worker_stuck_in_its_decider_has_the_held_traffic_released(lab: Lab) -> None:
    """The worker blocked for a second (a decider that hangs): the process runs on, but the
    watchdog sees no heartbeat and lets the held connection through within 250 ms; the
    stall is counted once the worker is back."""
    import time

    from providers.inspect._config import load_config
    from providers.inspect._inspector import Inspector

    config = load_config(env={}, remote_address=lab.b.ip4, queue=63)
    with lab.a.enter():
        insp = Inspector(config, attribute=False)
        insp.start()
    try:
        def hangs(conn: object) -> str:
            time.sleep(1.0)
            return "permit"

        insp.decider.submit = hangs  # type: ignore[method-assign]
        start = time.monotonic()
        assert tcp_exchange(lab.a, lab.b.ip4, 2.0)
        assert time.monotonic() - start < 0.5, "the exchange waited for the stuck worker"
        assert until(lambda: insp.stats.stalls == 1, 3.0)
        assert insp.stats.stall_packets >= 1
    finally:
        with lab.a.enter():
            insp.stop()
