"""NFQUEUE client against the real kernel queue inside a network namespace."""

from __future__ import annotations

import os
import socket
import struct
import threading

import pytest

from providers.netfilter import (
    Hook,
    NfQueue,
    Packet,
    QueueBindError,
    QueueConfig,
    QueueStats,
    Verdict,
)
from tests.harness import Topology

from .conftest import QUEUE, UdpPath, open_queue, take


def _udp_payload(ip_packet: bytes) -> bytes:
    ihl = (ip_packet[0] & 0x0F) * 4
    return ip_packet[ihl + 8:]


def test_accepted_packet_is_delivered_with_metadata(udp_path: UdpPath) -> None:
    """An accepted datagram reaches the receiver, and the queue reports its hook and device."""
    with open_queue(udp_path) as q:
        udp_path.send(b"hello")
        (pkt,) = take(q, 1)
        assert pkt.hook == Hook.LOCAL_OUT
        assert pkt.hw_protocol == 0x0800
        assert _udp_payload(pkt.payload) == b"hello"
        with udp_path.topo.a.enter():
            assert pkt.outdev == socket.if_nametoindex("veth0")
        q.verdicts([(pkt, Verdict.ACCEPT)])
        assert udp_path.received() == [b"hello"]
        assert q.stats().accepted == 1


def test_ipv6_packets_are_queued_too(udp_path: UdpPath) -> None:
    """IPv6 datagrams go through the same queue and are delivered when accepted."""
    with open_queue(udp_path) as q:
        udp_path.send(b"six", v6=True)
        (pkt,) = take(q, 1)
        assert pkt.hw_protocol == 0x86DD and pkt.payload[0] >> 4 == 6
        q.accept_all([pkt])
        assert udp_path.received(v6=True) == [b"six"]


def test_dropped_packet_never_arrives(udp_path: UdpPath) -> None:
    """A DROP verdict discards the datagram and is counted."""
    with open_queue(udp_path) as q:
        udp_path.send(b"bad")
        (pkt,) = take(q, 1)
        q.verdict(pkt, Verdict.DROP)
        assert udp_path.received(timeout=0.5) == []
        assert q.stats().dropped == 1


def test_rewritten_payload_is_what_arrives(udp_path: UdpPath) -> None:
    """A verdict carrying a new payload replaces the packet's bytes on the wire."""
    with open_queue(udp_path) as q:
        udp_path.send(b"hello")
        (pkt,) = take(q, 1)
        raw = bytearray(pkt.payload)
        ihl = (raw[0] & 0x0F) * 4
        raw[ihl + 8:] = b"HELLO"
        struct.pack_into(">H", raw, ihl + 6, 0)  # IPv4 UDP: checksum 0 means none
        q.verdict(pkt, Verdict.ACCEPT, payload=bytes(raw))
        assert udp_path.received() == [b"HELLO"]
        assert q.stats().rewritten == 1


def test_oversized_rewrite_is_refused_and_packet_stays_queued(udp_path: UdpPath) -> None:
    """A payload too big for one netlink attribute raises ValueError; no verdict is sent."""
    with open_queue(udp_path) as q:
        udp_path.send(b"big")
        (pkt,) = take(q, 1)
        with pytest.raises(ValueError):
            q.verdict(pkt, Verdict.ACCEPT, payload=b"x" * 70000)
        assert udp_path.received(timeout=0.3) == []
        q.verdict(pkt, Verdict.ACCEPT)
        assert udp_path.received() == [b"big"]


def test_repeat_sends_packet_through_the_chain_again(udp_path: UdpPath) -> None:
    """REPEAT re-injects the packet at the hook, so it is queued a second time."""
    with open_queue(udp_path) as q:
        udp_path.send(b"again")
        (first,) = take(q, 1)
        q.verdict(first, Verdict.REPEAT)
        (second,) = take(q, 1)
        assert second.id != first.id and second.payload == first.payload
        q.verdict(second, Verdict.ACCEPT)
        assert udp_path.received() == [b"again"]
        assert q.stats().repeated == 1


def test_verdict_mark_is_visible_to_later_rules(udp_path: UdpPath) -> None:
    """A mark set with the verdict is matched by rules after the queue."""
    udp_path.topo.a.run(["iptables", "-t", "mangle", "-A", "POSTROUTING", "-m", "mark",
                         "--mark", "0x42", "-j", "DROP"])
    with open_queue(udp_path) as q:
        udp_path.send(b"marked")
        udp_path.send(b"plain")
        marked, plain = take(q, 2)
        q.verdict(marked, Verdict.ACCEPT, mark=0x42)
        q.verdict(plain, Verdict.ACCEPT)
        assert udp_path.received() == [b"plain"]


def test_batch_verdict_does_not_release_held_packets(udp_path: UdpPath) -> None:
    """Accepting a batch leaves a held packet queued until its own verdict."""
    with open_queue(udp_path) as q:
        for i in range(5):
            udp_path.send(b"p%d" % i)
        batch = take(q, 5)
        held = batch[1]
        q.hold(held)
        q.verdicts([(p, Verdict.ACCEPT) for p in batch if p is not held])
        assert sorted(udp_path.received()) == [b"p0", b"p2", b"p3", b"p4"]
        assert q.held == {held.id}
        q.verdict(held, Verdict.ACCEPT)
        assert udp_path.received() == [b"p1"]


def test_run_loop_answers_every_packet_and_holds_on_none(udp_path: UdpPath) -> None:
    """run() applies the handler; None holds the packet, an exception gets the default."""
    with open_queue(udp_path) as q:
        stop = threading.Event()

        def handler(pkt: Packet) -> Verdict | None:
            body = _udp_payload(pkt.payload)
            if body == b"hold":
                return None
            if body == b"boom":
                raise ValueError("handler bug")
            return Verdict.DROP if body == b"drop" else Verdict.ACCEPT

        loop = threading.Thread(target=q.run, args=(handler, stop))
        loop.start()
        try:
            for body in (b"ok", b"drop", b"hold", b"boom"):
                udp_path.send(body)
            assert sorted(udp_path.received()) == [b"boom", b"ok"]
        finally:
            stop.set()
            loop.join()
        stats = q.stats()
        assert (stats.dropped, stats.held, stats.handler_errors) == (1, 1, 1)
        assert len(q.held) == 1


def test_close_releases_held_packets(udp_path: UdpPath) -> None:
    """Closing the queue accepts packets still held, instead of losing them."""
    q = open_queue(udp_path)
    udp_path.send(b"late")
    (pkt,) = take(q, 1)
    q.hold(pkt)
    q.close()
    assert udp_path.received() == [b"late"]


def test_full_queue_drops_are_reported_by_the_kernel(udp_path: UdpPath) -> None:
    """Beyond max_len the kernel drops packets and its queue_dropped counter says how many."""
    with open_queue(udp_path, max_len=4) as q:
        for i in range(10):
            udp_path.send(b"x%d" % i)
        kernel = q.stats().kernel
        assert kernel is not None
        assert (kernel.queue_num, kernel.queue_total, kernel.queue_dropped) == (QUEUE, 4, 6)
        q.accept_all(take(q, 4))
        assert len(udp_path.received()) == 4


def test_fail_open_lets_overflow_through(udp_path: UdpPath) -> None:
    """With fail_open, packets that do not fit in the queue are accepted, not dropped."""
    with open_queue(udp_path, max_len=2, fail_open=True) as q:
        for i in range(10):
            udp_path.send(b"y%d" % i)
        assert len(udp_path.received()) == 8
        q.accept_all(take(q, 2))
        assert len(udp_path.received()) == 2
        assert q.stats().kernel.queue_dropped == 0  # type: ignore[union-attr]


def test_receive_buffer_overrun_is_counted(udp_path: UdpPath) -> None:
    """When the netlink buffer overflows, ENOBUFS and the kernel's user_dropped are counted."""
    with open_queue(udp_path, rcvbuf=4096, max_len=10000) as q:
        for i in range(200):
            udp_path.send(b"z%d" % i)
        got = q.receive(1000)
        stats = q.stats()
        assert stats.enobufs >= 1
        assert stats.kernel is not None and stats.kernel.user_dropped > 0
        assert len(got) + stats.kernel.user_dropped == 200
        q.accept_all(got)


def test_second_consumer_on_a_bound_queue_is_refused(udp_path: UdpPath) -> None:
    """Binding a queue number that another socket holds raises QueueBindError."""
    with open_queue(udp_path), pytest.raises(QueueBindError):
        open_queue(udp_path)


def test_queue_numbers_are_per_namespace(netns: Topology) -> None:
    """The same queue number can be bound once in each namespace."""
    with netns.a.enter():
        qa = NfQueue(QueueConfig(queue_num=3))
    with netns.b.enter():
        qb = NfQueue(QueueConfig(queue_num=3))
    with qa, qb:
        assert qa.stats().kernel is not None and qb.stats().kernel is not None


def test_gso_flag_hands_over_unsegmented_tcp(netns: Topology) -> None:
    """With GSO on, bulk TCP arrives as super-packets larger than the MTU, and data is intact."""
    from providers.netfilter import QueueRule, QueueRules

    with netns.b.enter():
        lsock = socket.create_server((netns.b.ip4, 5001))
    with netns.a.enter():
        rules = QueueRules("test", [QueueRule(QUEUE, protocol="tcp", dport=5001,
                                              family="ipv4")])
        rules.install()
        q = NfQueue(QueueConfig(queue_num=QUEUE, gso=True))
        client = socket.socket()
    stop = threading.Event()
    sizes: list[int] = []

    def handler(pkt: Packet) -> Verdict | None:
        sizes.append(len(pkt.payload))
        return Verdict.ACCEPT

    loop = threading.Thread(target=q.run, args=(handler, stop))
    loop.start()
    try:
        client.connect((netns.b.ip4, 5001))
        conn, _ = lsock.accept()
        data = bytes(range(256)) * 4096  # 1 MiB
        sender = threading.Thread(target=client.sendall, args=(data,))
        sender.start()
        got = bytearray()
        while len(got) < len(data):
            chunk = conn.recv(1 << 20)
            assert chunk
            got += chunk
        sender.join()
        assert bytes(got) == data
        assert max(sizes) > 1500
    finally:
        stop.set()
        loop.join()
        q.close()
        rules.close()
        for s in (client, lsock):
            s.close()


def test_invalid_config_is_rejected_before_binding() -> None:
    """Out-of-range queue numbers and copy ranges raise ValueError, not a kernel error."""
    for cfg in (QueueConfig(queue_num=70000), QueueConfig(copy_range=0)):
        with pytest.raises(ValueError):
            NfQueue(cfg)


def test_conntrack_request_degrades_when_kernel_lacks_it(udp_path: UdpPath) -> None:
    """Asking for conntrack info never fails the bind; ``conntrack`` says if it is on."""
    with open_queue(udp_path, conntrack=True) as q:
        udp_path.send(b"ct")
        (pkt,) = take(q, 1)
        if q.conntrack:
            assert pkt.ct_info is not None
        else:
            assert pkt.ct_info is None
        q.accept_all([pkt])


def test_uid_gid_flag_reports_the_sending_socket_owner(udp_path: UdpPath) -> None:
    """With uid_gid on, each packet carries the uid and gid of its socket's owner."""
    with open_queue(udp_path, uid_gid=True) as q:
        udp_path.send(b"who")
        (pkt,) = take(q, 1)
        assert (pkt.uid, pkt.gid) == (os.getuid(), os.getgid())
        q.accept_all([pkt])


def test_malformed_datagrams_are_counted_not_raised() -> None:
    """Garbage, truncated and unknown messages each bump ``malformed``; packets still parse."""
    from providers.netfilter._netlink import attr, message
    from providers.netfilter._nfqueue import _MSG_PACKET

    q = NfQueue.__new__(NfQueue)  # parsing only: no socket needed
    q._stats = QueueStats()
    good_body = b"\0\0\0\0" + attr(1, struct.pack(">IHB", 9, 0x800, 3)) + attr(10, b"E")
    good = message(_MSG_PACKET, 0, 0, good_body)
    out: list[Packet] = []
    for data in (b"\xff" * 7, good[:-3], message(0x999, 0, 0, b"x" * 4),
                 message(_MSG_PACKET, 0, 0, b"\0\0\0\0" + attr(10, b"E")), good):
        q._parse(memoryview(data), len(data), out)
    assert [p.id for p in out] == [9]
    assert q._stats.malformed == 4
